"""`python -m kb_index build|search` as a shop would run it (real model, subprocesses)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kb_index.conftest import MODEL, ROOT
from tests.kb_index.helpers import md


def run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        SAATHI_ENV_FILE=str(tmp / "no-such.env"),
        SAATHI_RUN_DIR=str(tmp / "run"),
        SAATHI_EMBED_MODEL=MODEL,
    )
    return subprocess.run([sys.executable, "-m", "kb_index", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def skipped_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("skipped ")]


BROKEN = {
    "binary.md": b"\x00\x01\x02 not text",
    "empty.md": b"",
    "latin1.md": b"\xff\xfe caf\xe9",
    "no-front-matter.md": b"Just text.\n",
    "invalid.json": b"[{",
}


@pytest.fixture(scope="module")
def cli_build(tmp_path_factory: pytest.TempPathFactory):
    """One CLI build of 2 good articles + broken files (one model load)."""
    tmp = tmp_path_factory.mktemp("cli")
    src = tmp / "src"
    src.mkdir()
    (src / "delivery.md").write_text(md("delivery", "Delivery times", "Orders arrive in 2 to 5 days.\n"),
                                     encoding="utf-8")
    (src / "faq.csv").write_text("question,answer\nDo you deliver on Sundays?,Yes every day.\n"
                                 "Broken row,with,three fields\n", encoding="utf-8")
    for name, data in BROKEN.items():
        (src / name).write_bytes(data)
    index = tmp / "index"
    proc = run(["build", str(src), "--index", str(index), "--quiet"], tmp)
    return tmp, index, proc


def test_build_reports_each_broken_file_once(cli_build):
    tmp, index, proc = cli_build
    assert proc.returncode == 0, proc.stderr
    lines = skipped_lines(proc.stderr)
    assert len(lines) == len(BROKEN) + 1, proc.stderr
    src = tmp / "src"
    for name in BROKEN:
        assert sum(line.startswith(f"skipped {src / name}: ") for line in lines) == 1, (name, lines)
    assert f"skipped {src / 'faq.csv'}:3: expected 2 fields, found 3" in lines
    reasons = "\n".join(lines)
    for word in ("binary", "empty file", "not UTF-8", "no front matter", "invalid JSON"):
        assert word in reasons
    out = proc.stdout.strip()
    assert out.startswith("indexed 2 article versions, 3 passages (3 encoded, 0 unchanged)"), out
    assert f"with {MODEL}" in out and str(index) in out
    assert out.endswith(f"; {len(BROKEN) + 1} problem(s) above")
    assert (index / "CURRENT").is_file()


def test_build_with_nothing_importable_fails_and_keeps_index(cli_build):
    tmp, index, first = cli_build
    assert first.returncode == 0
    pointer = (index / "CURRENT").read_text()
    folders = sorted(p.name for p in index.iterdir())
    bad = tmp / "only-broken"
    bad.mkdir()
    (bad / "empty.md").write_bytes(b"")
    (bad / "binary.md").write_bytes(b"\x00\x00")
    proc = run(["build", str(bad), "--index", str(index), "--quiet"], tmp)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(skipped_lines(proc.stderr)) == 2
    assert "nothing could be imported" in proc.stderr and "unchanged" in proc.stderr
    assert (index / "CURRENT").read_text() == pointer
    assert sorted(p.name for p in index.iterdir()) == folders


def test_search_json(demo_index, tmp_path):
    proc = run(["search", "--index", str(demo_index), "--json", "--k", "3",
                "How", "do", "I", "cancel", "my", "order?"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert isinstance(hits, list) and 1 <= len(hits) <= 3
    assert len(hits) == 3
    for hit in hits:
        assert list(hit) == ["article_id", "title", "url", "lang", "score", "text"]
        assert hit["url"].startswith("https://example-shop.in/help/") and hit["text"]
    assert hits[0]["article_id"] == "cancellation"
    assert hits[0]["lang"] == "en"
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h["article_id"] for h in hits}) == len(hits)


def test_search_missing_index(tmp_path):
    proc = run(["search", "--index", str(tmp_path / "no-index"), "anything"], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == f"error: no help-centre index at {tmp_path / 'no-index'} (build it: make kb)"


def test_check_says_when_the_index_needs_a_build(tmp_path):
    """`make run` rebuilds the index when `check` fails: missing, or built for another model or glossary."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text(md("cod", "Cash on delivery", "COD is available up to 10,000 rupees."),
                              encoding="utf-8")
    index = tmp_path / "idx"
    assert run(["check", "--index", str(index)], tmp_path).returncode == 1  # missing
    assert run(["build", str(src), "--index", str(index), "--quiet"], tmp_path).returncode == 0
    assert run(["check", "--index", str(index)], tmp_path).returncode == 0
    glossary = tmp_path / "glossary.yml"
    glossary.write_text("cash on delivery: [cod]\n", encoding="utf-8")
    env_file = tmp_path / "no-such.env"
    env_file.write_text(f"SAATHI_KB_GLOSSARY={glossary}\n", encoding="utf-8")
    changed = run(["check", "--index", str(index)], tmp_path)  # the shop's glossary changed since
    assert changed.returncode == 1 and "index built as" in changed.stderr

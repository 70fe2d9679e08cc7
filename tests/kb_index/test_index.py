"""Building the index: incremental re-encoding, atomic versions, load errors, HNSW."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kb_index.index
from kb_index.index import NothingImported, build, current_version, read_meta, read_passages
from kb_index.lexical import LexicalIndex
from kb_index.search import HelpCentre, IndexMissing

from tests.kb_index.conftest import MODEL
from tests.kb_index.helpers import md

ARTICLES = {
    "returns.md": md("returns", "Returns policy",
                     "You can return most items within 10 days of delivery.\n\n"
                     "## How to return\nOpen My Orders, choose the item and tap Return.\n\n"
                     "## Refund\nThe refund reaches your bank in 5 to 7 working days.\n",
                     questions=("How do I send an item back?",)),
    "delivery.md": md("delivery", "Delivery times",
                      "Orders arrive in 2 to 5 days in metro cities.\n\n"
                      "## Remote areas\nRemote pin codes can take up to 9 days.\n"),
    "otp.md": md("login-otp", "Login OTP", "The OTP is valid for 10 minutes. Only the latest OTP works.\n"),
}
PASSAGES = 3 + 1 + 2 + 1  # returns: 3 sections + 1 question; delivery: 2; otp: 1


@pytest.fixture
def sources(tmp_path: Path, write) -> Path:
    for name, text in ARTICLES.items():
        write(name, text)
    return tmp_path / "src"


def versions(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v-"))


def test_first_build_writes_a_complete_version(sources, tmp_path, encoder):
    index_dir = tmp_path / "idx"
    report = build([sources], index_dir, MODEL, encoder=encoder)
    assert (report.articles, report.passages, report.encoded, report.reused) == (3, PASSAGES, PASSAGES, 0)
    assert report.problems == []
    folder = current_version(index_dir)
    assert folder == index_dir / report.version
    assert (index_dir / "CURRENT").read_text() == report.version
    meta = read_meta(folder)
    assert {k: meta[k] for k in ("format", "model", "dim", "passages", "articles", "dense")} == {
        "format": 2, "model": MODEL, "dim": 384, "passages": PASSAGES, "articles": 3, "dense": "flat"}
    rows = read_passages(folder)
    assert len(rows) == PASSAGES
    assert {r["article_id"] for r in rows} == {"returns", "delivery", "login-otp"}
    vectors = np.load(folder / "embeddings.npy")
    assert vectors.shape == (PASSAGES, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert not list(index_dir.glob(".tmp-*"))


def test_incremental_rebuild_reencodes_only_changed_passages(sources, tmp_path, encoder):
    index_dir = tmp_path / "idx"
    first = build([sources], index_dir, MODEL, encoder=encoder)
    old_rows = read_passages(current_version(index_dir))
    old_vectors = np.load(current_version(index_dir) / "embeddings.npy")

    again = build([sources], index_dir, MODEL, encoder=encoder)  # same second as `first`, too
    assert again.version != first.version
    assert (again.encoded, again.reused, again.passages) == (0, PASSAGES, PASSAGES)
    assert np.array_equal(np.load(current_version(index_dir) / "embeddings.npy"), old_vectors)

    # Change one section of one article: only that passage is encoded again.
    text = ARTICLES["delivery.md"].replace("up to 9 days", "up to 12 days")
    (sources / "delivery.md").write_text(text, encoding="utf-8")
    changed = build([sources], index_dir, MODEL, encoder=encoder)
    assert (changed.encoded, changed.reused, changed.passages) == (1, PASSAGES - 1, PASSAGES)
    new_rows = read_passages(current_version(index_dir))
    new_vectors = np.load(current_version(index_dir) / "embeddings.npy")
    differ = [r["text"] for r, o, nv, ov in zip(new_rows, old_rows, new_vectors, old_vectors)
              if r["embed_key"] != o["embed_key"] or not np.array_equal(nv, ov)]
    assert differ == ["Remote pin codes can take up to 12 days."]

    # A new article adds its passages; removing one drops them, with nothing re-encoded.
    (sources / "otp.md").unlink()
    removed = build([sources], index_dir, MODEL, encoder=encoder)
    assert (removed.articles, removed.passages, removed.encoded) == (2, PASSAGES - 1, 0)
    assert "login-otp" not in {r["article_id"] for r in read_passages(current_version(index_dir))}
    assert len(versions(index_dir)) == 2  # older versions pruned, the newest two kept


def test_model_change_reencodes_everything(sources, tmp_path, encoder, monkeypatch):
    index_dir = tmp_path / "idx"
    build([sources], index_dir, MODEL, encoder=encoder)
    monkeypatch.setattr(encoder, "name", "all-minilm-l6-v2")  # same weights, another model name
    report = build([sources], index_dir, "all-minilm-l6-v2", encoder=encoder)
    assert (report.encoded, report.reused) == (PASSAGES, 0)
    assert read_meta(current_version(index_dir))["model"] == "all-minilm-l6-v2"


@pytest.mark.parametrize("where", ["encode", "lexical", "faiss"])
def test_crash_mid_build_leaves_previous_version_serving(where, sources, tmp_path, encoder, monkeypatch):
    index_dir = tmp_path / "idx"
    good = build([sources], index_dir, MODEL, encoder=encoder)
    before = HelpCentre.load(index_dir, encoder=encoder)
    pointer = (index_dir / "CURRENT").read_text()

    def boom(*args, **kwargs):
        raise RuntimeError(f"crash in {where}")

    (sources / "new.md").write_text(md("new", "A new article", "Something new to encode.\n"), encoding="utf-8")
    if where == "encode":
        monkeypatch.setattr(encoder, "encode", boom)
    elif where == "lexical":
        monkeypatch.setattr(LexicalIndex, "build", classmethod(boom))
    else:  # after the new version folder was started
        monkeypatch.setattr(kb_index.index, "_faiss_index", boom)
    with pytest.raises(RuntimeError, match=f"crash in {where}"):
        build([sources], index_dir, MODEL, encoder=encoder)
    monkeypatch.undo()

    assert (index_dir / "CURRENT").read_text() == pointer == good.version
    after = HelpCentre.load(index_dir, encoder=encoder)
    assert after.folder == before.folder == index_dir / good.version
    assert "new" not in {p["article_id"] for p in after.passages}
    assert after.search("How long is the OTP valid?", k=1)[0].article_id == "login-otp"
    assert versions(index_dir) == [good.version]
    if where == "faiss":
        assert len(list(index_dir.glob(".tmp-*"))) == 1  # the half-written folder...

    fixed = build([sources], index_dir, MODEL, encoder=encoder)
    assert not list(index_dir.glob(".tmp-*"))  # ...is removed by the next build
    assert fixed.encoded == 1  # only the new article's passage
    assert "new" in {p["article_id"] for p in HelpCentre.load(index_dir, encoder=encoder).passages}


def test_leftover_tmp_folders_are_cleaned(sources, tmp_path, encoder):
    index_dir = tmp_path / "idx"
    stale = index_dir / ".tmp-v-20200101T000000-1"
    (stale / "sub").mkdir(parents=True)
    (stale / "passages.jsonl").write_text("half written")
    (index_dir / ".tmp-v-other").mkdir()
    build([sources], index_dir, MODEL, encoder=encoder)
    assert not list(index_dir.glob(".tmp-*"))
    assert current_version(index_dir) is not None


def test_nothing_imported_keeps_previous_index(sources, tmp_path, encoder, write):
    index_dir = tmp_path / "idx"
    good = build([sources], index_dir, MODEL, encoder=encoder)
    bad = write("empty.md", b"", base=tmp_path / "bad")
    with pytest.raises(NothingImported) as exc:
        build([bad.parent], index_dir, MODEL, encoder=encoder)
    report = exc.value.args[0]
    assert [p.reason for p in report.problems] == ["empty file"]
    assert (index_dir / "CURRENT").read_text() == good.version
    assert versions(index_dir) == [good.version]


def test_load_errors(sources, tmp_path, encoder):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IndexMissing, match="no help-centre index"):
        HelpCentre.load(empty, encoder=encoder)
    with pytest.raises(IndexMissing):
        HelpCentre.load(tmp_path / "never-created", encoder=encoder)

    index_dir = tmp_path / "idx"
    build([sources], index_dir, MODEL, encoder=encoder)
    assert HelpCentre.load(index_dir, model=MODEL, encoder=encoder).meta["model"] == MODEL
    with pytest.raises(IndexMissing, match="rebuild") as exc:
        HelpCentre.load(index_dir, model="some-other-model", encoder=encoder)
    assert MODEL in str(exc.value) and "some-other-model" in str(exc.value)

    # CURRENT naming a folder that is gone (or was never finished) is no index either.
    (index_dir / "CURRENT").write_text("v-does-not-exist")
    with pytest.raises(IndexMissing):
        HelpCentre.load(index_dir, encoder=encoder)


def test_hnsw_from_threshold(tmp_path, encoder, monkeypatch, write):
    topics = {
        "gift-cards": ("Gift cards", "Gift cards can be bought in amounts from 500 to 10000 rupees."),
        "wishlist": ("Wishlist", "Tap the heart icon to save a product to your wishlist."),
        "invoice": ("GST invoice", "Download the GST invoice from My Orders after delivery."),
        "otp": ("Login OTP", "The OTP is valid for ten minutes; only the latest one works."),
        "cod": ("Cash on delivery", "Cash on delivery is available on orders up to 10000 rupees."),
        "tracking": ("Order tracking", "Track your parcel with the AWB number from the SMS."),
    }
    for article_id, (title, text) in topics.items():
        write(f"{article_id}.md", md(article_id, title, text + "\n\n## More\nAsk Saathi for help with " + title + ".\n"))
    monkeypatch.setattr(kb_index.index, "HNSW_FROM", 10)
    index_dir = tmp_path / "idx"
    report = build([tmp_path / "src"], index_dir, MODEL, encoder=encoder)
    assert report.passages == 12 >= kb_index.index.HNSW_FROM
    assert read_meta(current_version(index_dir))["dense"] == "hnsw"
    centre = HelpCentre.load(index_dir, encoder=encoder)
    assert type(centre.dense).__name__ == "IndexHNSWFlat"
    assert centre.dense.ntotal == 12
    assert centre.search("how long is my one time password valid", k=1)[0].article_id == "otp"
    answer = centre.answer("Where can I download my GST invoice?", "en")
    assert answer is not None and answer.article_id == "invoice"

    monkeypatch.setattr(kb_index.index, "HNSW_FROM", 13)  # just above: exact search again
    build([tmp_path / "src"], index_dir, MODEL, encoder=encoder)
    assert read_meta(current_version(index_dir))["dense"] == "flat"
    assert type(HelpCentre.load(index_dir, encoder=encoder).dense).__name__ == "IndexFlatIP"


def test_passages_file_is_json_lines_with_keys(sources, tmp_path, encoder):
    index_dir = tmp_path / "idx"
    build([sources], index_dir, MODEL, encoder=encoder)
    lines = (current_version(index_dir) / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"article_id", "lang", "title", "url", "heading", "text", "kind", "embed_key"}
    assert len({json.loads(line)["embed_key"] for line in lines}) == PASSAGES

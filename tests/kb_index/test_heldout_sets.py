"""Held-out questions must not be near copies of anything search is built or tuned from."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = [ROOT / "tests" / "kb_heldout" / "questions.yml", ROOT / "tests" / "kb_heldout_grocery" / "questions.yml"]
LIMIT = 0.8  # character 4-gram Jaccard similarity above which two texts count as near copies


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def _grams(text: str) -> set[str]:
    t = f" {_norm(text)} "
    return {t[i:i + 4] for i in range(max(1, len(t) - 3))}


def _tuning_texts() -> list[str]:
    texts = [q["q"] for q in yaml.safe_load((ROOT / "kb_index" / "calibration" / "questions.yml").read_text())["questions"]]
    for path in (ROOT / "kb_index" / "demo").rglob("*.md"):
        head = path.read_text(encoding="utf-8").split("---")
        if len(head) > 2:
            texts += [str(q) for q in (yaml.safe_load(head[1]) or {}).get("questions", [])]
    return texts


@pytest.mark.parametrize("path", HELDOUT, ids=lambda p: p.parent.name)
def test_no_heldout_question_is_a_near_copy_of_tuning_data(path):
    tuning = [(t, _grams(t)) for t in _tuning_texts()]
    copies = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
        g = _grams(item["q"])
        for text, other in tuning:
            if len(g & other) / len(g | other) > LIMIT:
                copies.append((item["q"], text))
    assert copies == []

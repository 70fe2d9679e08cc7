"""Fixtures for the help-centre index tests: one real encoder and one demo index per session."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "kb_index" / "demo"
MODEL = "multilingual-e5-small"


@pytest.fixture(scope="session")
def encoder():
    from kb_index.embed import Encoder

    return Encoder(MODEL)


@pytest.fixture(scope="session")
def demo_index(encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo help centre (kb_index/demo), built once."""
    from kb_index.index import build

    index_dir = tmp_path_factory.mktemp("demo_index")
    report = build([DEMO], index_dir, MODEL, encoder=encoder)
    assert report.problems == []
    assert report.articles == 52
    return index_dir


@pytest.fixture(scope="session")
def demo_centre(demo_index: Path, encoder):
    from kb_index.search import HelpCentre

    return HelpCentre.load(demo_index, encoder=encoder)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write("name.md", text_or_bytes) -> path under tmp_path/src (folders created)."""

    def _write(name: str, content: str | bytes, base: Path | None = None) -> Path:
        path = (base or tmp_path / "src") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write

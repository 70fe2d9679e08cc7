"""Build the index offline: passages, embeddings (FAISS), BM25 and char n-grams.

Layout: DIR/CURRENT names the live version folder DIR/v-<time>. A build writes a new folder
and then replaces CURRENT atomically, so a crash mid-build leaves the previous index serving.
Embeddings of unchanged passages are copied from the previous version, not re-encoded.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from kb_index.documents import Passage, split_passages
from kb_index.importers import Problem, import_sources
from kb_index.lexical import LexicalIndex
from kb_index.text import EMPTY, Glossary, concept_tokens, load_glossary, normalize, tokens

HNSW_FROM = 20_000  # exact inner-product search below this many passages
FORMAT = 2  # 2: embedding keys name the model's fingerprint; the glossary is the shop's choice


class IndexMissing(Exception):
    """No usable index at the path (never built, or built by another model or format)."""


class NothingImported(Exception):
    pass


@dataclass
class BuildReport:
    version: str = ""
    articles: int = 0
    passages: int = 0
    reused: int = 0
    encoded: int = 0
    encoded_chars: int = 0
    encode_seconds: float = 0.0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)


def _topic(p: Passage) -> str:
    """What the passage is about: title and heading (and the question itself), not every
    word of the body, so glossary concepts stay specific to the article they name."""
    return f"{p.title} {p.heading} {p.text if p.kind == 'question' else ''}"


def embed_text(p: Passage, glossary: Glossary = EMPTY) -> str:
    base = f"{p.title}. {p.heading}. {p.text}" if p.heading else f"{p.title}. {p.text}"
    gloss = glossary.gloss(_topic(p))
    return f"{base} ({gloss})" if gloss else base


def lexical_words(p: Passage, glossary: Glossary = EMPTY) -> list[str]:
    return tokens(f"{p.title} {p.heading} {p.text}") + concept_tokens(glossary.concepts(_topic(p)))


def char_text(p: Passage) -> str:
    return normalize(f"{p.title} {p.heading} {p.text}")


def centring_means(passages: Sequence[Passage], vectors: np.ndarray, encoder) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The mean passage vector, and the mean vector of the help centre's own questions and
    titles encoded as questions. Sentence encoders such as e5 put every text in a narrow cone
    (any two cosines 0.75-0.93), where a few general passages are near every question;
    subtracting the means spreads the scores and lets the topic decide (no tuning data used)."""
    questions = sorted({p.text for p in passages if p.kind == "question"} | {p.title for p in passages})
    return {
        "passage": vectors.mean(axis=0).astype(np.float32),
        "query": encoder.encode(questions, kind="query").mean(axis=0).astype(np.float32),
    }


def centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Vectors minus the mean, L2-normalised again (rows, or one vector)."""
    shifted = vectors - mean
    norms = np.linalg.norm(shifted, axis=-1, keepdims=True)
    return np.ascontiguousarray(shifted / np.maximum(norms, 1e-12), dtype=np.float32)


def current_version(index_dir: Path) -> Optional[Path]:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    return folder if (folder / "meta.json").is_file() else None


def read_meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text(encoding="utf-8"))


def read_passages(folder: Path) -> list[dict]:
    with open(folder / "passages.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _previous_embeddings(index_dir: Path, model: str, model_fingerprint: str) -> dict[str, np.ndarray]:
    folder = current_version(index_dir)
    if folder is None:
        return {}
    meta = read_meta(folder)
    if (meta.get("model"), meta.get("model_fingerprint"), meta.get("format")) != (model, model_fingerprint, FORMAT):
        return {}
    vectors = np.load(folder / "embeddings.npy", mmap_mode="r")
    return {row["embed_key"]: np.array(vectors[i]) for i, row in enumerate(read_passages(folder))}


def _faiss_index(vectors: np.ndarray):  # type: ignore[no-untyped-def]
    import faiss

    dim = vectors.shape[1]
    if len(vectors) >= HNSW_FROM:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


def write_version(
    index_dir: Path, passages: Sequence[Passage], encoder, progress: bool = False,  # type: ignore[no-untyped-def]
    articles: int = 0, report: Optional[BuildReport] = None, glossary: Optional[str] = None,
) -> BuildReport:
    """Encode what changed, write a complete new version, then switch CURRENT to it."""
    import faiss

    report = report or BuildReport()
    started = time.monotonic()
    with _build_lock(index_dir):
        for leftover in index_dir.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        model_fingerprint = getattr(encoder, "fingerprint", "")
        previous = _previous_embeddings(index_dir, encoder.name, model_fingerprint)
        words = load_glossary(glossary)
        texts = [embed_text(p, words) for p in passages]
        keys = [hashlib.sha256(f"{encoder.name}\x00{model_fingerprint}\x00{t}".encode()).hexdigest()[:32]
                for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in previous]
        vectors = np.zeros((len(passages), encoder.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in previous:
                vectors[i] = previous[key]
        if missing:
            encode_started = time.monotonic()
            vectors[missing] = encoder.encode([texts[i] for i in missing], progress=progress)
            report.encode_seconds = time.monotonic() - encode_started
            report.encoded_chars = sum(len(texts[i]) for i in missing)
        centring = centring_means(passages, vectors, encoder)
        lexical = LexicalIndex.build([lexical_words(p, words) for p in passages], [char_text(p) for p in passages])

        version = _new_version_name(index_dir)
        tmp = index_dir / f".tmp-{version}"
        tmp.mkdir()
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as fh:
            for p, key in zip(passages, keys):
                fh.write(json.dumps(dict(p.to_json(), embed_key=key), ensure_ascii=False) + "\n")
        np.save(tmp / "embeddings.npy", vectors)
        np.savez(tmp / "centring.npz", **centring)
        faiss.write_index(_faiss_index(centred(vectors, centring["passage"])), str(tmp / "dense.faiss"))
        lexical.save(tmp)
        meta = {
            "format": FORMAT, "model": encoder.name, "model_fingerprint": model_fingerprint,
            "glossary": glossary, "dim": encoder.dim, "passages": len(passages),
            "articles": articles, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "dense": "hnsw" if len(passages) >= HNSW_FROM else "flat",
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        for path in tmp.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        os.rename(tmp, index_dir / version)
        pointer = index_dir / ".CURRENT.tmp"
        pointer.write_text(version, encoding="utf-8")
        os.replace(pointer, index_dir / "CURRENT")
        _prune(index_dir, keep={version})
    report.version = version
    report.passages = len(passages)
    report.reused = len(passages) - len(missing)
    report.encoded = len(missing)
    report.seconds = time.monotonic() - started
    return report


def _new_version_name(index_dir: Path) -> str:
    """A version folder name that sorts by build time and is not taken yet (two builds in
    the same second, in one process, used to get the same name and the second one failed)."""
    now = time.time_ns()
    stamp = time.strftime("v-%Y%m%dT%H%M%S", time.localtime(now // 10**9)) + f".{now % 10**9 // 1000:06d}"
    version, n = f"{stamp}-{os.getpid()}", 1
    while (index_dir / version).exists() or (index_dir / f".tmp-{version}").exists():
        version, n = f"{stamp}-{os.getpid()}-{n}", n + 1
    return version


def _prune(index_dir: Path, keep: set[str], keep_last: int = 2) -> None:
    """Old versions go, except the newest few (a running server may still read them)."""
    versions = sorted(p for p in index_dir.glob("v-*") if p.is_dir())
    for old in versions[:-keep_last]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def build(
    sources: Iterable[str | Path], index_dir: str | Path, model: str, progress: bool = False,
    encoder=None, glossary: Optional[str] = None,  # type: ignore[no-untyped-def]
) -> BuildReport:
    """Import the sources and write a new index version; NothingImported if nothing could be."""
    result = import_sources(sources)
    report = BuildReport(problems=result.problems, articles=len(result.articles))
    if not result.articles:
        raise NothingImported(report)
    passages = [p for article in result.articles for p in split_passages(article)]
    if encoder is None:
        from kb_index.embed import Encoder

        encoder = Encoder(model)
    return write_version(Path(index_dir), passages, encoder, progress, len(result.articles), report, glossary)

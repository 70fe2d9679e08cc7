"""Search the built index: dense (FAISS) + lexical candidates, fused, grouped by article."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import yaml

from kb_index.index import FORMAT, IndexMissing, centred, current_version, read_meta, read_passages
from kb_index.lexical import LexicalIndex
from kb_index.store import Answer, HelpCentreStore, Hit
from kb_index.text import concept_tokens, load_glossary, normalize, script_lang, tokens

__all__ = ["HelpCentre", "IndexMissing", "Hit", "Answer", "Query"]

CALIBRATION = Path(__file__).with_name("calibration.yml")
CANDIDATES = 64
# Which article version a shopper reads best, by question form.
PREFERENCE = {
    "en": ("en",), "hi": ("hi", "en"), "bn": ("bn", "en"),
    "hi-Latn": ("en", "hi"), "bn-Latn": ("en", "bn"),
}


@dataclass(frozen=True)
class Query:
    """A question prepared for search: its vector (may be None), words and char text."""

    text: str
    vector: Optional[np.ndarray]
    words: list[str]
    chars: str
    script: str
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def bm25(self, lexical: LexicalIndex) -> np.ndarray:
        if "bm25" not in self.cache:
            self.cache["bm25"] = lexical.bm25_scores(self.words)
        return self.cache["bm25"]


def form_of(query: str, language: Optional[str]) -> str:
    if language in PREFERENCE:
        return language
    return script_lang(query)


class HelpCentre(HelpCentreStore):
    def __init__(self, folder: Path, encoder, calibration: dict) -> None:  # type: ignore[no-untyped-def]
        import faiss

        self.folder = folder
        self.meta = read_meta(folder)
        self.encoder = encoder
        self.passages = read_passages(folder)
        means = np.load(folder / "centring.npz")
        self.passage_mean, self.query_mean = means["passage"], means["query"]
        self.vectors = centred(np.load(folder / "embeddings.npy"), self.passage_mean)
        self.dense = faiss.read_index(str(folder / "dense.faiss"))
        if self.meta.get("dense") == "hnsw":
            faiss.ParameterSpace().set_index_parameter(self.dense, "efSearch", 96)
        self.lexical = LexicalIndex.load(folder)
        self.glossary = load_glossary(self.meta.get("glossary"))
        self.weights = calibration["weights"]
        self.thresholds = calibration["thresholds"]
        self.article_of = np.array([p["article_id"] for p in self.passages], dtype=object)
        self.is_body = np.array([p["kind"] == "body" for p in self.passages])
        # article id -> lang -> row numbers of its body passages, in order
        self.versions: dict[str, dict[str, list[int]]] = {}
        for i, p in enumerate(self.passages):
            if p["kind"] == "body":
                self.versions.setdefault(p["article_id"], {}).setdefault(p["lang"], []).append(i)

    @classmethod
    def load(cls, index_dir: str | Path, model: Optional[str] = None, encoder=None,  # type: ignore[no-untyped-def]
             calibration: Optional[dict] = None) -> "HelpCentre":
        folder = current_version(Path(index_dir))
        if folder is None:
            raise IndexMissing(f"no help-centre index at {index_dir} (build it: make kb)")
        meta = read_meta(folder)
        if meta.get("format") != FORMAT:
            raise IndexMissing(f"index at {index_dir} has an older format: rebuild it (make kb)")
        if model and meta.get("model") != model:
            raise IndexMissing(
                f"index at {index_dir} was built with model '{meta.get('model')}', not '{model}': rebuild it"
            )
        if encoder is None:
            from kb_index.embed import Encoder

            encoder = Encoder(meta["model"])
        encoder.prepare_queries()  # now, not on a shopper's first question
        calibration = calibration or yaml.safe_load(CALIBRATION.read_text(encoding="utf-8"))
        return cls(folder, encoder, calibration)

    # -- query preparation (encoding is the slow part; benchmarks time it separately)
    def prepare(self, query: str, encode: bool = True) -> Query:
        concepts = self.glossary.concepts(query)
        gloss = " ".join(concepts)
        vector = None
        if encode:
            vector = centred(self.encoder.encode_query(f"{query} ({gloss})" if gloss else query), self.query_mean)
        return Query(query, vector, tokens(query) + concept_tokens(concepts), normalize(query), script_lang(query))

    def scores(self, q: Query) -> tuple[np.ndarray, np.ndarray]:
        """(candidate rows, fused scores) from dense and BM25 candidates."""
        bm25 = q.bm25(self.lexical)
        n = len(self.passages)
        take = min(CANDIDATES, n)
        rows = set(np.argpartition(-bm25, take - 1)[:take].tolist()) if n else set()
        if q.vector is not None and n:
            _, found = self.dense.search(q.vector[np.newaxis, :], take)
            rows.update(int(r) for r in found[0] if r >= 0)
        cand = np.fromiter(sorted(rows), dtype=np.int64)
        if not len(cand):
            return cand, np.zeros(0, dtype=np.float32)
        w = self.weights["latin" if q.script == "en" else "indic" if q.vector is not None else "lexical"]
        dense = self.vectors[cand] @ q.vector if q.vector is not None else np.zeros(len(cand), np.float32)
        chars = self.lexical.char_scores(self.lexical.char_vector(q.chars), cand)
        fused = w["dense"] * dense + w["bm25"] * bm25[cand] + w["chars"] * chars
        return cand, fused.astype(np.float32)

    def ranked(self, q: Query, exclude_langs: Sequence[str] = ()) -> list[tuple[str, float, int]]:
        """(article id, score, best row) per article, best first."""
        cand, fused = self.scores(q)
        best: dict[str, tuple[float, int]] = {}
        for row, score in zip(cand.tolist(), fused.tolist()):
            p = self.passages[row]
            if p["lang"] in exclude_langs:
                continue
            article = p["article_id"]
            if article not in best or score > best[article][0]:
                best[article] = (score, row)
        return sorted(((a, s, r) for a, (s, r) in best.items()), key=lambda t: -t[1])

    def _body_row(self, article: str, lang: str, best_row: int, q: Query) -> int:
        """The passage to quote from one version: same section as the best match if aligned."""
        rows = self.versions[article][lang]
        p = self.passages[best_row]
        if p["kind"] == "body" and p["lang"] in self.versions[article]:
            source = self.versions[article][p["lang"]]
            if best_row in source and len(source) == len(rows):
                return rows[source.index(best_row)]
        # Otherwise score this version's passages against the question.
        idx = np.asarray(rows)
        dense = self.vectors[idx] @ q.vector if q.vector is not None else 0.0
        words = q.bm25(self.lexical)[idx]
        return int(idx[int(np.argmax(dense + words))])

    def _hit(self, article: str, score: float, best_row: int, q: Query, prefer: Sequence[str],
             exclude: Sequence[str] = ()) -> tuple[Hit, str]:
        versions = {lang: rows for lang, rows in self.versions.get(article, {}).items() if lang not in exclude}
        if not versions:  # an article made only of questions: quote its best question row
            p = self.passages[best_row]
            return Hit(article, p["title"], p["url"], p["lang"], score, p["text"]), p["lang"]
        lang = next((l for l in prefer if l in versions), None)
        if lang is None:
            lang = self.passages[best_row]["lang"] if self.passages[best_row]["lang"] in versions else sorted(versions)[0]
        row = self._body_row(article, lang, best_row, q)
        p = self.passages[row]
        return Hit(article, p["title"], p["url"], p["lang"], score, p["text"]), lang

    def search(self, query: str, k: int = 5, exclude_langs: Sequence[str] = (),
               language: Optional[str] = None) -> list[Hit]:
        return self.search_prepared(self.prepare(query), k, exclude_langs, language)

    def search_prepared(self, q: Query, k: int = 5, exclude_langs: Sequence[str] = (),
                        language: Optional[str] = None) -> list[Hit]:
        prefer = PREFERENCE[form_of(q.text, language)]
        return [
            self._hit(article, score, row, q, prefer, exclude_langs)[0]
            for article, score, row in self.ranked(q, exclude_langs)[:k]
        ]

    def threshold(self, form: str) -> float:
        return float(self.thresholds.get(form, self.thresholds.get("en", 0.4)))

    def best(self, q: Query, form: str) -> Optional[tuple[str, float, int]]:
        """The top article if the bot should answer with it: some content word, score over
        the form's calibrated threshold. Chit-chat ("kya haal hai") has no content word."""
        if not q.words:
            return None
        ranked = self.ranked(q)
        if not ranked or ranked[0][1] < self.threshold(form):
            return None
        return ranked[0]

    def answer(self, query: str, language: Optional[str] = None) -> Optional[Answer]:
        if not query.strip():
            return None
        form = form_of(query, language)
        q = self.prepare(query)
        top = self.best(q, form)
        if top is None:
            return None
        article, score, row = top
        hit, lang = self._hit(article, score, row, q, PREFERENCE[form])
        base = form.split("-")[0]
        other = base not in self.versions.get(article, {}) and lang != base
        return Answer(**{**hit.__dict__, "other_language": other})


def hits_json(hits: Sequence[Hit]) -> str:
    return json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2)

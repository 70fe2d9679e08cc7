"""Lexical retrieval: BM25 over content words and char n-gram cosine for spelling variants.

BM25 scores are divided by the best score the query's words could reach, so they read as
"how much of the question the passage covers" (0..1) and can be fused with cosines.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse

K1, B = 1.2, 0.75
CHAR_FEATURES = 2 ** 20


def _char_vectorizer():  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb", ngram_range=(3, 4), n_features=CHAR_FEATURES,
        alternate_sign=False, norm=None, lowercase=True, dtype=np.float32,
    )


def _l2_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms).dot(matrix), dtype=np.float32)


@dataclass
class LexicalIndex:
    vocab: dict[str, int]
    idf: np.ndarray  # per vocabulary word
    bm25: sparse.csc_matrix  # passages x words, BM25 weights
    chars: sparse.csr_matrix  # passages x hashed char n-grams, tf-idf, rows L2-normalised
    char_idf: np.ndarray

    def __post_init__(self) -> None:
        # Weight of a question word the help centre never uses: a typical word's.
        self.fallback_idf = float(np.median(self.idf)) if len(self.idf) else 1.0

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], char_texts: Sequence[str]) -> "LexicalIndex":
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(docs), dtype=np.float32)
        for i, words in enumerate(docs):
            lengths[i] = len(words)
            for word, tf in Counter(words).items():
                rows.append(i)
                cols.append(vocab.setdefault(word, len(vocab)))
                tfs.append(tf)
        n = max(len(docs), 1)
        tf = sparse.csr_matrix((np.asarray(tfs, np.float32), (rows, cols)), shape=(len(docs), len(vocab)))
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(vocab)).astype(np.float32)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg = float(lengths.mean()) if len(docs) else 1.0
        coo = tf.tocoo()
        norm = K1 * (1 - B + B * lengths[coo.row] / max(avg, 1e-6))
        weights = idf[coo.col] * coo.data * (K1 + 1) / (coo.data + norm)
        bm25 = sparse.csc_matrix((weights.astype(np.float32), (coo.row, coo.col)), shape=tf.shape)

        counts = _char_vectorizer().transform(list(char_texts)).tocsr()
        counts.data = 1.0 + np.log(counts.data)
        char_df = np.bincount(counts.indices, minlength=CHAR_FEATURES).astype(np.float32)
        char_idf = np.log((1.0 + n) / (1.0 + char_df)).astype(np.float32) + 1.0
        chars = _l2_rows(counts.multiply(char_idf[np.newaxis, :]).tocsr())
        return cls(vocab, idf, bm25, chars, char_idf)

    def save(self, folder: Path) -> None:
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        np.save(folder / "idf.npy", self.idf)
        np.save(folder / "char_idf.npy", self.char_idf)
        sparse.save_npz(folder / "bm25.npz", self.bm25, compressed=False)
        sparse.save_npz(folder / "chars.npz", self.chars, compressed=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        return cls(
            vocab=json.loads((folder / "vocab.json").read_text(encoding="utf-8")),
            idf=np.load(folder / "idf.npy"),
            bm25=sparse.csc_matrix(sparse.load_npz(folder / "bm25.npz")),
            chars=sparse.csr_matrix(sparse.load_npz(folder / "chars.npz")),
            char_idf=np.load(folder / "char_idf.npy"),
        )

    def bm25_scores(self, words: Sequence[str]) -> np.ndarray:
        """Coverage-normalised BM25 of every passage (0..~1)."""
        unique = list(dict.fromkeys(words))
        scores = np.zeros(self.bm25.shape[0], dtype=np.float32)
        if not unique:
            return scores
        fallback = self.fallback_idf
        best = 0.0
        for word in unique:
            col = self.vocab.get(word)
            if col is None:
                best += fallback * (K1 + 1)
                continue
            best += float(self.idf[col]) * (K1 + 1)
            start, end = self.bm25.indptr[col], self.bm25.indptr[col + 1]
            scores[self.bm25.indices[start:end]] += self.bm25.data[start:end]
        return scores / best if best else scores

    def char_vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(hashed n-gram ids, L2-normalised tf-idf weights) of a question."""
        counts = _char_vectorizer().transform([text]).tocsr()
        weights = (1.0 + np.log(counts.data)) * self.char_idf[counts.indices]
        norm = float(np.sqrt(np.dot(weights, weights))) or 1.0
        return counts.indices.astype(np.int64), (weights / norm).astype(np.float32)

    def char_scores(self, query: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> np.ndarray:
        """Cosine of the question with each passage row (a sorted merge, no wide matrices)."""
        ids, weights = query
        sub = self.chars[rows]
        out = np.zeros(len(rows), dtype=np.float32)
        if not len(ids) or not sub.nnz:
            return out
        order = np.argsort(ids)
        ids, weights = ids[order], weights[order]
        pos = np.searchsorted(ids, sub.indices)
        pos[pos == len(ids)] = 0
        hit = ids[pos] == sub.indices
        products = np.where(hit, sub.data * weights[pos], 0.0).astype(np.float32)
        row_of = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
        np.add.at(out, row_of, products)
        return out

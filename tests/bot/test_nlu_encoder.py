"""The NLU's sentence-encoder featurizer and scope guard, on their own (no server)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import EncoderMismatch, SentenceEncoderFeaturizer
from bot.nlu.scope import ScopeGuard

CANCEL = ["cancel my order", "please cancel order KM-5521", "mera order cancel kar do", "ordr cancle karo pls",
          "আমার অর্ডার বাতিল করুন", "order ta cancel kore din", "मेरा ऑर्डर कैंसल करो", "I don't want this order any more"]
GREET = ["hi", "hello", "namaste", "good morning", "hey there", "assalamu alaikum"]


@pytest.fixture()
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def _featurizer(storage: LocalModelStorage) -> SentenceEncoderFeaturizer:
    config = {**SentenceEncoderFeaturizer.get_default_config()}
    return SentenceEncoderFeaturizer.create(config, storage, Resource("enc"), _context())


def _training() -> TrainingData:
    return TrainingData([Message({TEXT: t, INTENT: "cancel_order"}) for t in CANCEL]
                        + [Message({TEXT: t, INTENT: "greet"}) for t in GREET])


def test_every_message_gets_the_encoders_sentence_vector(storage):
    featurizer = _featurizer(storage)
    message = Message({TEXT: "mera order kab aayega"})
    featurizer.process([message])
    seq, sentence = message.get_dense_features(TEXT, ["e5"])
    assert seq is None and sentence.features.shape == (1, 384)
    assert np.isclose(np.linalg.norm(sentence.features[0]), 1.0, atol=1e-4)
    other = Message({TEXT: "मेरा ऑर्डर कब आएगा"})
    featurizer.process([other])
    # The same question in another script lands near it: what DIET could not learn from 20 examples.
    assert float(sentence.features[0] @ other.get_dense_features(TEXT, ["e5"])[1].features[0]) > 0.85


def test_the_encoder_is_recorded_with_the_model_and_checked_on_load(storage):
    featurizer = _featurizer(storage)
    featurizer.train(_training())
    loaded = SentenceEncoderFeaturizer.load(SentenceEncoderFeaturizer.get_default_config(), storage,
                                            Resource("enc"), _context())
    assert loaded.record == featurizer.record and loaded.record["model"] == "multilingual-e5-small"
    with storage.write_to(Resource("enc")) as directory:
        record = json.loads((directory / "encoder.json").read_text())
        (directory / "encoder.json").write_text(json.dumps({**record, "source_sha256": "0" * 64}))
    with pytest.raises(EncoderMismatch, match="retrain"):
        SentenceEncoderFeaturizer.load(SentenceEncoderFeaturizer.get_default_config(), storage,
                                       Resource("enc"), _context())


def _guard(storage: LocalModelStorage, percentile: float = 2.0) -> ScopeGuard:
    data = _featurizer(storage).process_training_data(_training())
    guard = ScopeGuard.create({**ScopeGuard.get_default_config(), "percentile": percentile}, storage,
                              Resource("scope"), _context())
    guard.train(data)
    return ScopeGuard.load({**ScopeGuard.get_default_config(), "percentile": percentile}, storage,
                           Resource("scope"), _context())


def _predicted(storage: LocalModelStorage, guard: ScopeGuard, text: str, intent: str) -> str:
    message = Message({TEXT: text})
    _featurizer(storage).process([message])
    message.set(INTENT, {"name": intent, "confidence": 0.97})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.97}])
    guard.process([message])
    return message.get(INTENT)["name"]


def test_a_message_far_from_the_intents_examples_is_out_of_scope(storage):
    guard = _guard(storage)
    assert set(guard.thresholds) == {"cancel_order"}  # greet is not guarded
    assert _predicted(storage, guard, "please cancel my order AB-10234", "cancel_order") == "cancel_order"
    assert _predicted(storage, guard, "what is the capital of france", "cancel_order") == "out_of_scope"
    assert _predicted(storage, guard, "what is the capital of france", "greet") == "greet"  # not guarded

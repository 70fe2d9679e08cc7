"""Decline what lies outside the shop: distance to the in-scope training examples, not keywords.

A classifier always picks one of its intents, so "cancel my alarm for 6am" becomes cancel_order
and "gaana band karo" stop_notifications. After DIET, this component looks at the message's
sentence vector (the encoder featurizer's) and at the training examples of the intent DIET
chose: when the nearest of them is farther than that intent's own examples usually are from each
other, the message is not about this shop's business and becomes `out_of_scope`.

Thresholds come from the training data alone (no held-out set): per guarded intent, each
example's similarity to its nearest other example of the intent (leave-one-out); the threshold
is the `percentile` of those similarities, so about that share of the intent's own examples
would have been declined. Vectors are centred on the training mean (the encoder puts all texts
in a narrow cone; centring spreads them) before cosine similarity.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import ALIAS

logger = logging.getLogger(__name__)

OUT_OF_SCOPE = "out_of_scope"
# Intents whose every prediction must be near their own examples: the ones that act (orders,
# notifications, a person) or answer from the help centre. Short social turns are not guarded.
GUARDED = ["order_status", "cancel_order", "return_exchange", "refund_status", "change_address",
           "payment_issue", "request_human", "complaint", "faq", "stop_notifications",
           "start_notifications", "bot_challenge"]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ScopeGuard(GraphComponent):
    """Turns a guarded intent into out_of_scope when the message is far from its examples."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"intents": GUARDED, "percentile": 1.0, "alias": ALIAS}

    def __init__(self, config: Dict[Text, Any], storage: ModelStorage, resource: Resource,
                 state: Optional[Dict[str, np.ndarray]] = None) -> None:
        self.config, self._storage, self._resource = config, storage, resource
        self.mean = state["mean"] if state else None
        self.vectors = state["vectors"] if state else np.zeros((0, 0), np.float32)
        self.labels = state["labels"] if state else np.zeros(0, dtype=object)
        self.thresholds = dict(zip(state["names"].tolist(), state["thresholds"].tolist())) if state else {}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "ScopeGuard":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "ScopeGuard":
        try:
            with model_storage.read_from(resource) as directory:
                data = np.load(directory / "scope.npz", allow_pickle=True)
                state = {k: data[k] for k in data.files}
        except ValueError:  # nothing was trained (no guarded intent in the data)
            state = None
        return cls(config, model_storage, resource, state)

    def _vector(self, message: Message) -> Optional[np.ndarray]:
        _, sentence = message.get_dense_features(TEXT, [self.config["alias"]])
        return None if sentence is None else np.asarray(sentence.features[0], dtype=np.float32)

    def train(self, training_data: TrainingData) -> Resource:
        guarded = set(self.config["intents"])
        rows, labels = [], []
        for m in training_data.intent_examples:
            vector = self._vector(m)
            if vector is not None:
                rows.append(vector)
                labels.append(m.get(INTENT))
        if not rows:
            return self._resource
        all_vectors = np.stack(rows)
        mean = all_vectors.mean(axis=0)
        keep = np.array([label in guarded for label in labels])
        vectors = _unit(all_vectors[keep] - mean).astype(np.float32)
        names = np.array([label for label in labels if label in guarded], dtype=object)
        thresholds = {}
        for intent in sorted(set(names.tolist())):
            own = vectors[names == intent]
            if len(own) < 5:
                continue
            sims = own @ own.T
            np.fill_diagonal(sims, -1.0)
            thresholds[intent] = float(np.percentile(sims.max(axis=1), self.config["percentile"]))
        with self._storage.write_to(self._resource) as directory:
            np.savez(directory / "scope.npz", mean=mean.astype(np.float32), vectors=vectors, labels=names,
                     names=np.array(list(thresholds), dtype=object),
                     thresholds=np.array(list(thresholds.values()), dtype=np.float32))
        logger.debug("scope thresholds: %s", thresholds)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._check(message)
        return messages

    def _check(self, message: Message) -> None:
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        threshold = self.thresholds.get(intent)
        vector = self._vector(message)
        if threshold is None or vector is None or self.mean is None:
            return
        nearest = float((self.vectors[self.labels == intent] @ _unit(vector - self.mean)).max())
        message.set("scope", {"intent": intent, "nearest": round(nearest, 4), "threshold": round(threshold, 4)},
                    add_to_output=True)
        if nearest >= threshold:
            return
        confidence = float((message.get(INTENT) or {}).get("confidence", 1.0))
        message.set(INTENT, {INTENT_NAME_KEY: OUT_OF_SCOPE, "confidence": confidence}, add_to_output=True)
        ranking = [{INTENT_NAME_KEY: OUT_OF_SCOPE, "confidence": confidence}] + [
            r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != OUT_OF_SCOPE]
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

"""Rasa NLU graph components of Saathi."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import ENTITIES, METADATA, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.config import load_settings
from bot.nlu.entity_rules import EntityRules
from bot.nlu.language_id import LanguageIdentifier
from bot.nlu.text import clean_text

LANGUAGE_KEY = "language"
ORIGINAL_TEXT_KEY = "saathi_original_text"


class _Stateless(GraphComponent):
    """Shared create/load for components that learn nothing."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config)

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.component_config = config

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self.process_message(message)
        return messages

    def process_message(self, message: Message) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SlashGuard(_Stateless):
    """Makes shopper text that starts with `/` plain text.

    Rasa's RegexMessageHandler (the last node of every prediction graph) turns text such as
    `/restart` or `/inform{"order_id": "X"}` into an intent with entities. Shoppers must not
    be able to do that, so the text the NLU sees loses its leading slashes and control
    characters. The tracker keeps what the shopper wrote.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Exact texts that may pass as commands: quick-reply payloads without entities,
        # harmless if typed by hand (e.g. rating a help-centre answer).
        return {"allowed_commands": []}

    def process_message(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str):
            return
        cleaned = clean_text(text).strip()
        if cleaned in self.component_config.get("allowed_commands", []):
            return
        if cleaned.startswith("/"):
            cleaned = cleaned.lstrip("/ ").strip()
        if cleaned != text:
            message.set(TEXT, cleaned)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class EntityPlaceholders(_Stateless):
    """Shows the intent classifier `__order_id__`, `__phone__`, `__email__` instead of the values.

    "mera order KM-10234 kahan hai, phone 98765 43210" then looks like every other "where is my
    order" sentence, and a bare e-mail address like every other bare detail, whatever the
    numbers. Runs after the tokenizer, before the featurizers; only the tokens change (the
    message text, the entities and the transcript keep the real values).
    """

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        settings = load_settings()
        self.rules = EntityRules(settings.order_id_pattern, settings.default_country)

    def process_message(self, message: Message) -> None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT])
        if not text or not tokens:
            return
        spans = [(e.start, e.end, e.entity) for e in self.rules.extract(text)]
        if not spans:
            return
        out: List[Token] = []
        last_span = None
        for token in tokens:
            span = next((sp for sp in spans if token.start < sp[1] and token.end > sp[0]), None)
            if span is None:
                out.append(token)
                last_span = None
                continue
            if span == last_span:
                out[-1].end = token.end  # "98765 43210": one placeholder for the whole number
                continue
            placeholder = f"__{span[2]}__"
            out.append(Token(placeholder, token.start, token.end, lemma=placeholder))
            last_span = span
        message.set(TOKENS_NAMES[TEXT], out)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class ShopEntityExtractor(_Stateless, EntityExtractorMixin):
    """Extracts order_id, phone and email with rules; native digits become ASCII."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        settings = load_settings()
        self.rules = EntityRules(settings.order_id_pattern, settings.default_country)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Entities in training data are not needed by any trainable component.
        return training_data

    def process_message(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text:
            return
        found = [
            {
                "entity": e.entity,
                "value": e.value,
                "start": e.start,
                "end": e.end,
                "confidence_entity": 1.0,
                "extractor": self.__class__.__name__,
            }
            for e in self.rules.extract(text)
        ]
        if found:
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class LanguageTagger(GraphComponent):
    """Adds `language` (en, hi, bn, hi-Latn, bn-Latn or None) to the parse data.

    Learns romanized Hindi / romanized Bengali / English from training examples labelled
    with `metadata: {language: ...}` at the intent level. The result is not an entity on
    purpose: LanguagePolicy copies it into the `language` slot, so entity evaluation and
    story tests are not disturbed by it.
    """

    FILE = "language_identifier.json"

    def __init__(self, model_storage: ModelStorage, resource: Resource, identifier: LanguageIdentifier):
        self._model_storage = model_storage
        self._resource = resource
        self.identifier = identifier

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageTagger":
        return cls(model_storage, resource, LanguageIdentifier())

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LanguageTagger":
        try:
            with model_storage.read_from(resource) as path:
                data = json.loads((Path(path) / cls.FILE).read_text(encoding="utf-8"))
            return cls(model_storage, resource, LanguageIdentifier.from_dict(data))
        except (ValueError, FileNotFoundError, OSError):
            return cls(model_storage, resource, LanguageIdentifier())

    def train(self, training_data: TrainingData) -> Resource:
        pairs = []
        for message in training_data.intent_examples:
            meta = (message.get(METADATA) or {}).get(METADATA_INTENT) or {}
            if isinstance(meta, dict) and meta.get("language") and message.get(TEXT):
                pairs.append((message.get(TEXT), meta["language"]))
        self.identifier.fit(pairs)
        with self._model_storage.write_to(self._resource) as path:
            (Path(path) / self.FILE).write_text(json.dumps(self.identifier.to_dict()), encoding="utf-8")
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(LANGUAGE_KEY, self.identifier.detect(message.get(TEXT)), add_to_output=True)
        return messages

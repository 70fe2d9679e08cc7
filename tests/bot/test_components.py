"""Saathi's graph components on their own (no server)."""
import tempfile
from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import SlashGuard
from bot.policies.language import LanguagePolicy

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, faq, kb_helpful]
slots:
  language: {type: categorical, values: [en, hi, bn, hi-Latn, bn-Latn], influence_conversation: false, mappings: [{type: custom}]}
  kb_article_id: {type: text, influence_conversation: false, mappings: [{type: custom}]}
responses:
  utter_greet: [{text: hi}]
"""
)


def guard(text: str, allowed=()) -> str:
    message = Message({TEXT: text})
    SlashGuard({"allowed_commands": list(allowed)}).process([message])
    return message.get(TEXT)


@pytest.mark.parametrize(
    "typed,seen",
    [
        ("/restart", "restart"),
        ('/inform{"order_id": "X-1"}', 'inform{"order_id": "X-1"}'),
        ("//greet", "greet"),
        ("  /stop", "stop"),
        ("where\x00 is it\u202e", "where is it"),
        ("plain text", "plain text"),
    ],
)
def test_slash_guard_makes_commands_plain_text(typed, seen):
    assert guard(typed) == seen


def test_slash_guard_lets_only_listed_commands_through():
    assert guard("/kb_helpful", ["/kb_helpful"]) == "/kb_helpful"
    assert guard('/kb_helpful{"x": 1}', ["/kb_helpful"]) == 'kb_helpful{"x": 1}'


def policy(**config) -> LanguagePolicy:
    context = ExecutionContext(GraphSchema({}), "test")
    return LanguagePolicy.create(
        {**LanguagePolicy.get_default_config(), **config},
        LocalModelStorage(Path(tempfile.mkdtemp())), Resource("language_policy"), context,
    )


def tracker(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("t", list(events), slots=DOMAIN.slots)


def user(text: str, language, intent: str = "greet") -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data={"language": language})


def test_language_is_set_right_after_the_shopper_speaks():
    pred = policy().predict_action_probabilities(tracker(user("mera order", "hi-Latn")), DOMAIN)
    assert SlotSet("language", "hi-Latn") in pred.events
    assert max(pred.probabilities) == 0.0  # never wins a prediction


def test_no_language_keeps_the_previous_one_and_later_predictions_do_nothing():
    t = tracker(SlotSet("language", "bn"), user("9876543210", None))
    assert policy().predict_action_probabilities(t, DOMAIN).events == []
    t = tracker(user("hello", "en"), ActionExecuted("utter_greet"))
    assert policy().predict_action_probabilities(t, DOMAIN).events == []


def test_turn_slots_are_cleared_unless_the_intent_keeps_them():
    p = policy(turn_slots={"kb_article_id": ["kb_helpful"]})
    t = tracker(SlotSet("kb_article_id", "refunds"), user("thanks", "en", "greet"))
    assert SlotSet("kb_article_id", None) in p.predict_action_probabilities(t, DOMAIN).events
    t = tracker(SlotSet("kb_article_id", "refunds"), user("/kb_helpful", None, "kb_helpful"))
    assert p.predict_action_probabilities(t, DOMAIN).events == []


def placeholder_tokens(text: str) -> list[str]:
    from rasa.nlu.constants import TOKENS_NAMES
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

    from bot.nlu.components import EntityPlaceholders

    message = Message({TEXT: text})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    EntityPlaceholders({}).process([message])
    return [t.text for t in message.get(TOKENS_NAMES[TEXT])]


@pytest.mark.parametrize(
    "text,tokens",
    [
        ("mera order KM-10234 kahan hai, phone 98765 43210",
         ["mera", "order", "__order_id__", "kahan", "hai", "phone", "__phone__"]),
        ("ananya.iyer@example.in", ["__email__"]),
        ("ফোন ০১৮১২৩৪৫৬৭৮", ["ফোন", "__phone__"]),
        ("where is my order", ["where", "is", "my", "order"]),
    ],
)
def test_entity_values_become_placeholders_for_the_classifier(text, tokens):
    assert placeholder_tokens(text) == tokens

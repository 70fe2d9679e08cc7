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

"""RatingPolicy on its own: a rating after an agent closed goes to action_rate_agent, and the
turn ends there (action_listen) whatever the trained policies would guess."""
from __future__ import annotations

import tempfile
from pathlib import Path

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.rating import RatingPolicy

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [inform, greet]
slots:
  handoff_status: {type: categorical, values: [queued, with_agent, closed, offline_ticket, unavailable], influence_conversation: false, mappings: [{type: custom}]}
actions: [action_rate_agent]
responses:
  utter_greet: [{text: hi}]
"""
)


def predict(events: list) -> tuple[str, float, list]:
    context = ExecutionContext(GraphSchema({}), "test")
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    policy = RatingPolicy.create(RatingPolicy.get_default_config(), storage, Resource("rating"), context)
    tracker = DialogueStateTracker.from_events("s", events, slots=DOMAIN.slots)
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return DOMAIN.action_names_or_texts[best], prediction.probabilities[best], prediction.events


def closed_then(text: str) -> list:
    return [ActionExecuted("action_listen"), SlotSet("handoff_status", "closed"),
            BotUttered("How would you rate the help you got? 1-5"), ActionExecuted("action_listen"),
            UserUttered(text, {"name": "inform", "confidence": 0.9})]


def test_a_rating_goes_to_action_rate_agent():
    assert predict(closed_then("४"))[:2] == ("action_rate_agent", 1.0)


def test_after_the_rating_the_turn_ends():
    events = closed_then("5") + [ActionExecuted("action_rate_agent"), BotUttered("Thanks for the rating!"),
                                 SlotSet("handoff_status", None)]
    assert predict(events)[:2] == ("action_listen", 1.0)


def test_other_messages_clear_the_status_and_leave_the_turn_to_other_policies():
    name, confidence, events = predict(closed_then("where is my order"))
    assert confidence == 0.0
    assert events == [SlotSet("handoff_status", None)]


def test_no_prediction_unless_closed():
    events = [ActionExecuted("action_listen"), SlotSet("handoff_status", "with_agent"),
              ActionExecuted("action_listen"), UserUttered("5", {"name": "inform", "confidence": 0.9})]
    assert predict(events)[1] == 0.0

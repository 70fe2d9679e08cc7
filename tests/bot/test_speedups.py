"""bot/speedups.py: the patched hot-path functions give the answers Rasa's own give."""
from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, UserUttered, deserialise_events
from rasa.shared.utils.common import all_subclasses

from bot import speedups

SAMPLES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "language", "value": "hi"}], "responses": [{"text": "नमस्ते"}]},
    {"events": [{"event": "pause"}], "responses": [{"response": "utter_handoff_queued", "position": 2}]},
    {"events": [{"no_event_key": 1}], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [], "responses": "not a list"},
    {},
]


def verdict(action: RemoteAction, result: dict) -> str:
    try:
        action._validate_action_result(result)
        return "accepted"
    except ValidationError as e:
        return "rejected: " + e.message.split(". Failed")[0]


@pytest.fixture
def original_then_patched(monkeypatch):
    """Rasa's own methods, then the patched ones (restored after the test)."""
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    return RemoteAction("action_test", None)


def test_same_verdicts_as_rasas_own_check(original_then_patched):
    action = original_then_patched
    before = [verdict(action, r) for r in SAMPLES]
    speedups.install()
    assert RemoteAction._validate_action_result is speedups._validate_action_result
    assert [verdict(action, r) for r in SAMPLES] == before
    assert before[:3] == ["accepted"] * 3 and all(v.startswith("rejected") for v in before[3:5])


def test_the_error_names_the_docs_like_rasa(original_then_patched):
    speedups.install()
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        original_then_patched._validate_action_result({"events": [{"no_event_key": 1}]})


def test_event_classes_resolve_as_in_rasa(original_then_patched):
    names = sorted({cls.type_name for cls in all_subclasses(Event)})
    before = {name: Event.resolve_by_type(name) for name in names}
    speedups.install()
    assert {name: Event.resolve_by_type(name) for name in names} == before
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no-such-event")
    # Round trip of stored events through the patched lookup.
    stored = [{"event": "user", "text": "मेरा ऑर्डर", "parse_data": {}}, {"event": "pause"}]
    assert [type(e).__name__ for e in deserialise_events(stored)] == ["UserUttered", "ConversationPaused"]

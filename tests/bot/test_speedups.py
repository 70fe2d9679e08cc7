"""bot/speedups.py: the patched hot-path functions give the answers Rasa's own give."""
from __future__ import annotations

from pathlib import Path

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


# --- Custom-action calls: one kept session, the domain sent once per action server ---------------

def _start_action_server(stack: dict, port: int) -> "subprocess.Popen":
    import os
    import subprocess

    from tests.stack import ROOT, wait_http

    log = stack["work"] / f"actions-{port}.log"
    python = str(Path(os.environ.get("SAATHI_VENV_APP", ROOT / ".venv")) / "bin" / "python")
    proc = subprocess.Popen([python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                            cwd=ROOT, env=stack["env"], stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/health", proc, log, 120)
    return proc


def test_action_calls_send_the_domain_once_and_again_to_a_restarted_server(stack, monkeypatch):
    """Against a real rasa-sdk action server: the first call carries the domain, later calls only
    its digest; after the server restarts (it no longer holds the domain, and the kept connection
    is gone) the call is answered 449, sent again with the domain, and succeeds."""
    import asyncio

    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from tests.stack import ROOT, free_port, stop

    speedups.install()
    port = free_port()
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    domain = Domain.load(str(ROOT / "domain.yml"))
    sent: list[dict] = []
    original_format = speedups._original_call_format

    def recording_format(action, tracker, dom):
        body = speedups._action_call_format(action, tracker, dom)
        sent.append({"domain": "domain" in body, "digest": body.get("domain_digest")})
        return body

    monkeypatch.setattr(RemoteAction, "_action_call_format", recording_format)
    monkeypatch.setattr(speedups, "_original_call_format", original_format)

    def tracker() -> DialogueStateTracker:
        return DialogueStateTracker.from_events(
            "speedups-" + str(port),
            [ActionExecuted("action_listen"), UserUttered("hello", intent={"name": "greet", "confidence": 1.0})],
            slots=domain.slots,
        )

    async def greet() -> list:
        action = RemoteAction("action_greet", endpoint)
        return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
                                tracker(), domain)

    async def scenario(restart) -> list[list]:
        results = [await greet(), await greet()]
        session = endpoint.session().session
        restart()
        results.append(await greet())
        assert endpoint.session().session is session and not session.closed  # one kept session
        await session.close()
        return results

    server = _start_action_server(stack, port)
    try:
        def restart() -> None:
            nonlocal server
            stop(server)
            server = _start_action_server(stack, port)

        results = asyncio.run(scenario(restart))
    finally:
        stop(server)
    for events in results:  # every call greeted the shopper
        assert any(isinstance(e, BotUttered) and e.text for e in events), events
    digest = sent[0]["digest"]
    assert digest and all(s["digest"] == digest for s in sent)
    # call 1 with the domain; call 2 without; call 3 without, refused (449), then with it
    assert [s["domain"] for s in sent] == [True, False, False, True]

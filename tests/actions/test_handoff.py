import requests

from actions.clients.bridge import BridgeClient
from tests.actions.conftest import free_port, webhook_call


def test_unreachable_bridge_is_an_outcome_not_an_exception():
    client = BridgeClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    assert client.enqueue({"conversation_id": "x"}).status == "unavailable"


def test_handoff_without_bridge_tells_the_truth(action_server):
    r = requests.post(action_server, json=webhook_call("action_handoff_to_agent"), timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["responses"][0]["response"] == "utter_handoff_unavailable"
    assert body["responses"][0]["support_contact"] == "help@test-shop.in"
    events = body["events"]
    assert {"event": "slot", "name": "handoff_status", "value": "unavailable"}.items() <= events[0].items()
    # No pretend handoff: the bot is not paused.
    assert not any(e["event"] == "pause" for e in events)


def test_faq_without_index_says_so(action_server):
    r = requests.post(action_server, json=webhook_call("action_answer_faq"), timeout=30)
    body = r.json()
    assert body["responses"][0]["response"] == "utter_faq_unavailable"
    assert any(e["event"] == "slot" and e["name"] == "kb_article_id" and e["value"] is None for e in body["events"])

import pytest
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
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["handoff_status"] == "unavailable"
    # No pretend handoff: the bot is not paused.
    assert not any(e["event"] == "pause" for e in events)


def test_faq_without_index_says_so(action_server):
    r = requests.post(action_server, json=webhook_call("action_answer_faq"), timeout=30)
    body = r.json()
    assert body["responses"][0]["response"] == "utter_faq_unavailable"
    assert any(e["event"] == "slot" and e["name"] == "kb_article_id" and e["value"] is None for e in body["events"])


def _call(action: str, slots: dict, text: str, intent: str) -> dict:
    body = webhook_call(action, slots)
    body["tracker"]["latest_message"] = {"text": text, "intent": {"name": intent}, "entities": []}
    return body


def test_second_miss_in_a_row_offers_a_person(action_server):
    first = requests.post(action_server, json=_call("action_fallback", {}, "asdf qwer", "nlu_fallback"), timeout=30).json()
    assert [r["response"] for r in first["responses"]] == ["utter_ask_rephrase"]
    misses = next(e["value"] for e in first["events"] if e.get("name") == "fallback_misses")
    second = requests.post(action_server, json=_call("action_fallback", {"fallback_misses": misses}, "zzz", "nlu_fallback"),
                           timeout=30).json()
    assert [r["response"] for r in second["responses"]] == ["utter_offer_human"]
    slots = {e["name"]: e["value"] for e in second["events"] if e["event"] == "slot"}
    assert slots["pending_question"] == "offer_human" and slots["handoff_reason"] == "low_confidence"


def test_complaint_offer_records_the_reason(action_server):
    body = requests.post(action_server, json=_call("action_offer_human", {}, "worst service ever", "complaint"),
                         timeout=30).json()
    slots = {e["name"]: e["value"] for e in body["events"] if e["event"] == "slot"}
    assert slots == {"pending_question": "offer_human", "handoff_reason": "complaint"}


@pytest.mark.parametrize("text,rating", [
    ("5", 5), ("४", 4), ("৩", 3), ("1/5", 1), ("5 stars", 5), ("⭐⭐⭐⭐", 4), (" 2. ", 2),
    ("6", None), ("0", None), ("15", None), ("5 din", None), ("", None), ("KM-10234", None),
])
def test_ratings_in_any_script(text, rating):
    from bot.nlu.rating import rating_of

    assert rating_of(text) == rating


@pytest.mark.parametrize("status,paused", [("queued", True), ("with_agent", True), ("closed", False), (None, False)])
def test_a_new_session_keeps_a_waiting_conversation_paused(action_server, status, paused):
    body = requests.post(action_server, json=_call("action_session_start", {"handoff_status": status, "language": "hi"},
                                                   "", "session_start"), timeout=30).json()
    kinds = [e["event"] for e in body["events"]]
    assert kinds[0] == "session_started" and kinds[-1] == "action"
    assert ("pause" in kinds) is paused
    assert {"event": "slot", "name": "language", "value": "hi"}.items() <= next(
        e for e in body["events"] if e.get("name") == "language").items()

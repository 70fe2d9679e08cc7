"""Rasa's event stream (leave-queue phrases, fan-out) and the outbox's retry while Rasa is down."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from handoff_bridge.db import outbox, shopper_events
from handoff_bridge.messages import is_leave_phrase
from tests.handoff_bridge.conftest import AUTH, add_agent, enqueue, wait_for


def user_event(cid: str, text: str) -> dict:
    return {"sender_id": cid, "event": "user", "text": text, "timestamp": 1736920800.0,
            "input_channel": "whatsapp", "parse_data": {"intent": {"name": "nlu_fallback"}}}


@pytest.mark.parametrize("language,phrase,reply_start", [
    ("en", "Cancel", "Okay, you've left the queue"),
    ("en", "back to bot please", "Okay, you've left the queue"),
    ("hi", "रद्द करो", "ठीक है, आप कतार से बाहर"),
    ("bn", "বট", "ঠিক আছে, আপনি সারি ছেড়ে"),
    ("hi-Latn", "bot se baat karo", "Theek hai, aap queue se bahar"),
    ("bn-Latn", "bot er sathe kotha", "Thik ache, apni queue chere"),
])
def test_leave_queue_phrases(app, client, rasa, language, phrase, reply_start):
    add_agent(app)
    enqueue(client, "stay", language="en")
    enqueue(client, "leaver", language=language)
    enqueue(client, "behind", language="en")
    resp = client.post("/api/events", json=user_event("leaver", phrase), headers=AUTH)
    assert resp.status_code == 202 and resp.get_json()["outcomes"] == ["left"]
    assert client.get("/api/handoffs/leaver", headers=AUTH).get_json()["status"] == "left"
    posts = wait_for(lambda: len(rasa.posts("leaver")) == 2 and rasa.posts("leaver"))
    assert posts[0]["body"][0] == {"event": "resume"}
    assert posts[0]["body"][-1] == {"event": "action", "name": "action_listen"}
    assert {"event": "slot", "name": "handoff_status", "value": None} in posts[0]["body"]
    assert posts[1]["body"][0]["text"].startswith(reply_start)
    # the one behind moved up and is told so
    behind = wait_for(lambda: rasa.bot_texts("behind"))
    assert len(behind) == 1 and behind[0].startswith("You are now number 2 in the queue, about ")
    assert rasa.bot_texts("stay") == []


@pytest.mark.parametrize("text", ["I want to cancel my order", "where is my bot order", "ok", "",
                                  "please tell me the status"])
def test_ordinary_messages_do_not_leave(text):
    assert not is_leave_phrase(text)


@pytest.mark.parametrize("text", ["cancel", "CANCEL!", "please cancel", "रद्द", "বাতিল", "bot se baat",
                                  "batil koro", "never mind", "बॉट से बात"])
def test_leave_phrases_recognised(text):
    assert is_leave_phrase(text)


def test_leave_phrase_does_not_end_a_conversation_with_an_agent(app, client, rasa):
    bridge = app.extensions["handoff_bridge"]
    agent = bridge.get_agent(add_agent(app))
    hid = enqueue(client, "c1").get_json()["handoff_id"]
    bridge.claim(hid, agent)
    resp = client.post("/api/events", json=user_event("c1", "cancel"), headers=AUTH)
    assert resp.get_json()["outcomes"] == ["fanned_out"]
    assert client.get("/api/handoffs/c1", headers=AUTH).get_json()["status"] == "with_agent"


def test_user_messages_are_fanned_out_and_buffered(app, client):
    bridge = app.extensions["handoff_bridge"]
    add_agent(app)
    hid = enqueue(client, "c1").get_json()["handoff_id"]
    sub = bridge.broker.subscribe()
    batch = [user_event("c1", "hello?"), {"sender_id": "c1", "event": "bot", "text": "hi"},
             user_event("stranger", "hi"), {"event": "user"}]
    resp = client.post("/api/events", json=batch, headers=AUTH)
    assert resp.status_code == 202
    assert resp.get_json()["outcomes"] == ["fanned_out", "ignored", "ignored", "ignored"]
    kind, data = sub.get(timeout=1)
    assert kind == "shopper_message" and data["handoff_id"] == hid and data["text"] == "hello?"
    with bridge.engine.connect() as conn:
        assert conn.execute(select(shopper_events.c.text)).scalars().all() == ["hello?"]
    assert client.post("/api/events", data="{", headers={**AUTH, "Content-Type": "application/json"}).status_code == 400


def test_outbox_stays_pending_while_rasa_is_down_then_delivers(app, client, rasa):
    bridge = app.extensions["handoff_bridge"]
    agent = bridge.get_agent(add_agent(app))
    hid = enqueue(client, "c1").get_json()["handoff_id"]
    rasa.down = True
    assert bridge.claim(hid, agent).ok
    result = bridge.agent_message(hid, agent, "Your refund is on its way.")
    assert result.ok and result.data["state"] == "pending"

    def state() -> tuple:
        with bridge.engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == result.data["outbox_id"])).one()
        return row.state, row.attempts

    def max_attempts() -> int:
        with bridge.engine.connect() as conn:
            return max(conn.execute(select(outbox.c.attempts)).scalars())

    wait_for(lambda: max_attempts() >= 2)  # the oldest item of the conversation is retried...
    assert state()[0] == "pending"  # ...and the agent's message waits behind it, pending
    assert rasa.posts("c1") == []
    rasa.down = False
    wait_for(lambda: state()[0] == "delivered")
    # order kept: slot, joined, agent message
    assert rasa.bot_texts("c1") == ["Asha has joined the chat.", "Your refund is on its way."]


def test_rasa_unreachable_counts_as_down(app, client, rasa):
    bridge = app.extensions["handoff_bridge"]
    bridge.rasa.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    agent = bridge.get_agent(add_agent(app))
    hid = enqueue(client, "c1").get_json()["handoff_id"]
    bridge.claim(hid, agent)
    assert bridge.deliver_pending() == 0
    with bridge.engine.connect() as conn:
        assert set(conn.execute(select(outbox.c.state)).scalars()) == {"pending"}


def test_rasa_client_outcomes(rasa):
    from handoff_bridge.rasa_client import RasaClient

    client = RasaClient(rasa.url, token="t", timeout=2)
    assert client.push_bot_message("x", "hi", buttons=[{"title": "1", "payload": "1"}]) == "delivered"
    assert rasa.posts("x")[0]["body"] == [{"event": "bot", "text": "hi",
                                           "data": {"buttons": [{"title": "1", "payload": "1"}]}}]
    assert client.tracker("x")[0] == "delivered"
    rasa.down = True
    assert client.push_bot_message("x", "hi") == "rasa_down"
    assert client.tracker("x") == ("rasa_down", None)
    rasa.down = False
    bad = RasaClient(rasa.url + "/nope", timeout=2)
    assert bad.set_slot("x", "a", 1) == "error"

"""Rasa's event stream (leave-queue phrases, fan-out) and the outbox's retry while Rasa is down."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from handoff_bridge.db import outbox, shopper_events
from handoff_bridge.messages import is_leave_phrase
from tests.handoff_bridge.conftest import (AUTH, add_agent, ask_for_person, enqueue, in_order,
                                           new_cid, wait_for)


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
    """Three shoppers ask Rasa for a person; the middle one writes a leave phrase to Rasa. Rasa
    logs it (paused: no answer), its event broker tells the bridge, the bridge resumes the bot."""
    add_agent(app)
    stay, leaver, behind = new_cid("stay"), new_cid("leaver"), new_cid("behind")
    for cid, lang in ((stay, "en"), (leaver, language), (behind, "en")):
        assert ask_for_person(client, rasa, cid, lang)["status"] == "queued"
    seen = {cid: len(rasa.events(cid)) for cid in (stay, leaver, behind)}
    assert rasa.say(leaver, phrase) == []
    wait_for(lambda: client.get(f"/api/handoffs/{leaver}", headers=AUTH).get_json()["status"] == "left",
             timeout=10, what="the leave phrase through Rasa's event broker")
    wait_for(lambda: rasa.bot_texts(leaver, seen[leaver]), timeout=10)
    story = rasa.story(leaver, seen[leaver])
    assert in_order(story, [("user", phrase), ("resume",), ("slot", "handoff_status", None),
                            ("action", "action_listen"), ("bot", rasa.bot_texts(leaver, seen[leaver])[0])]), story
    assert rasa.bot_texts(leaver, seen[leaver])[0].startswith(reply_start)
    assert not rasa.paused(leaver)
    # the one behind moved up and is told so
    moved = wait_for(lambda: rasa.bot_texts(behind, seen[behind]))
    assert len(moved) == 1 and moved[0].startswith("You are now number 2 in the queue, about ")
    assert rasa.bot_texts(stay, seen[stay]) == [] and rasa.paused(stay) and rasa.paused(behind)


def test_leave_event_outcome(app, client):
    """The event API's answer for a leave phrase (what Rasa's event broker gets back)."""
    add_agent(app)
    cid = new_cid()
    enqueue(client, cid)
    resp = client.post("/api/events", json=user_event(cid, "Cancel"), headers=AUTH)
    assert resp.status_code == 202 and resp.get_json()["outcomes"] == ["left"]


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
    cid = new_cid()
    hid = ask_for_person(client, rasa, cid)["handoff_id"]
    assert bridge.claim(hid, agent).ok
    assert rasa.say(cid, "cancel") == []

    def buffered() -> list:
        with bridge.engine.connect() as conn:
            return conn.execute(select(shopper_events.c.text).where(shopper_events.c.handoff_id == hid)).scalars().all()

    wait_for(lambda: "cancel" in buffered(), timeout=10, what="'cancel' through Rasa's event broker")
    assert client.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["status"] == "with_agent"
    assert rasa.paused(cid)  # the paused conversation stays paused
    resp = client.post("/api/events", json=user_event(cid, "cancel"), headers=AUTH)
    assert resp.get_json()["outcomes"] == ["fanned_out"]


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
    cid = new_cid()
    hid = ask_for_person(client, rasa, cid)["handoff_id"]
    seen = len(rasa.events(cid))
    bridge.rasa.base_url = rasa.unreachable_url()  # Rasa is down: nothing listens at its address
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
    assert rasa.events(cid, seen) == []
    bridge.rasa.base_url = rasa.url  # Rasa is back
    wait_for(lambda: state()[0] == "delivered")
    # order kept: slot, joined, agent message
    assert rasa.story(cid, seen) == [("slot", "handoff_status", "with_agent"), ("bot", "Asha has joined the chat."),
                                     ("bot", "Your refund is on its way.")]


def test_rasa_unreachable_counts_as_down(app, client, rasa):
    bridge = app.extensions["handoff_bridge"]
    bridge.rasa.base_url = rasa.unreachable_url()
    agent = bridge.get_agent(add_agent(app))
    hid = enqueue(client, new_cid()).get_json()["handoff_id"]
    bridge.claim(hid, agent)
    assert bridge.deliver_pending() == 0
    with bridge.engine.connect() as conn:
        assert set(conn.execute(select(outbox.c.state)).scalars()) == {"pending"}


def test_rasa_client_outcomes(rasa):
    import time

    from handoff_bridge.rasa_client import RasaClient

    cid = new_cid("x")
    client = RasaClient(rasa.url, token=rasa.token, timeout=2)
    assert client.push_bot_message(cid, "hi", buttons=[{"title": "1", "payload": "1"}]) == "delivered"
    [event] = rasa.bot_events(cid)
    assert event["text"] == "hi" and event["data"]["buttons"] == [{"title": "1", "payload": "1"}]
    assert client.set_slot(cid, "handoff_status", "queued") == "delivered"
    assert rasa.tracker(cid)["slots"]["handoff_status"] == "queued"
    outcome, tracker = client.tracker(cid)
    assert outcome == "delivered" and tracker["sender_id"] == cid
    # down: nothing listens at the address
    down = RasaClient(rasa.unreachable_url(), token=rasa.token, timeout=2)
    assert down.push_bot_message(cid, "hi") == "rasa_down"
    assert down.tracker(cid) == ("rasa_down", None)
    # hanging: the real process stopped, the call times out
    slow = RasaClient(rasa.url, token=rasa.token, timeout=0.5)
    with rasa.frozen():
        start = time.monotonic()
        assert slow.set_slot(cid, "handoff_status", "with_agent") == "rasa_down"
        assert slow.tracker(cid) == ("rasa_down", None)
        assert time.monotonic() - start < 3
    # refused by Rasa (retrying will not help): a wrong token, a wrong path
    assert RasaClient(rasa.url, token="wrong", timeout=2).set_slot(cid, "a", 1) == "error"
    assert RasaClient(rasa.url, token="wrong", timeout=2).tracker(cid) == ("error", None)
    assert RasaClient(rasa.url + "/nope", token=rasa.token, timeout=2).set_slot(cid, "a", 1) == "error"
    assert rasa.bot_texts(cid) == ["hi"]

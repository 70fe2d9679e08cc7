"""A conversation waiting for (or talking to) an agent stays paused when Rasa's session expires.

Rasa starts a new session when the last user message is older than `session_expiration_time`
(60 minutes) and its own `action_session_start` would un-pause the conversation: the bot would
answer a shopper who is waiting for a person. Saathi's `action_session_start` (actions/handoff.py)
keeps the pause while `handoff_status` is `queued` or `with_agent`. Here the real stack's
stored events are moved two hours into the past (as if the shopper had waited that long), then
the shopper writes again.
"""
from __future__ import annotations

import sqlite3
import time

import requests

from tests.stack import Agent

TWO_HOURS = 2 * 3600


def age_conversation(stack: dict, sender: str, seconds: float = TWO_HOURS) -> None:
    """Move every stored event of a conversation `seconds` into the past (Rasa reads the tracker
    from its SQL store on each message, so the next message sees an expired session)."""
    db = sqlite3.connect(str(stack["work"] / "tracker.db"), timeout=30)
    try:
        with db:
            changed = db.execute(
                "UPDATE events SET timestamp = timestamp - ?, "
                "data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - ?) WHERE sender_id = ?",
                (seconds, seconds, sender)).rowcount
    finally:
        db.close()
    assert changed > 0


def sessions(tracker: dict) -> int:
    return sum(1 for e in tracker["events"] if e.get("event") == "session_started")


def handoff(stack: dict, sender: str) -> dict:
    r = requests.get(f"{stack['bridge']}/api/handoffs/{sender}",
                     headers={"Authorization": f"Bearer {stack['bridge_token']}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_waiting_and_talking_conversations_stay_paused_across_session_expiry(stack, shopper):
    agent = Agent(stack)  # online, so the request is queued rather than ticketed
    reply = " ".join(m.get("text", "") for m in shopper.say("मुझे किसी इंसान से बात करनी है"))
    assert "1" in reply, reply
    before = shopper.tracker()
    assert before["paused"] is True and before["slots"]["handoff_status"] == "queued"
    assert sessions(before) == 1

    # Queued, two hours later: a new session starts, the conversation stays paused, no bot answer.
    age_conversation(stack, shopper.sender)
    assert shopper.say("हेलो? कोई है?") == []
    after = shopper.tracker()
    assert sessions(after) == 2, "Rasa did not start a new session"
    assert after["paused"] is True
    assert after["slots"]["handoff_status"] == "queued" and after["slots"]["language"] == "hi"
    assert after["events"][-1]["event"] == "user"  # logged for the agent, nothing predicted after it
    assert handoff(stack, shopper.sender)["status"] == "queued"

    # The agent claims; the agent's messages still reach the conversation.
    hid = handoff(stack, shopper.sender)["handoff_id"]
    assert agent.post(f"/console/handoffs/{hid}/claim").status_code in (200, 302)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and shopper.slot("handoff_status") != "with_agent":
        time.sleep(0.2)
    assert shopper.slot("handoff_status") == "with_agent"

    # With the agent, two more hours later: still paused, still no bot answer.
    age_conversation(stack, shopper.sender)
    assert shopper.say("अभी भी इंतज़ार कर रही हूँ") == []
    later = shopper.tracker()
    assert sessions(later) == 3 and later["paused"] is True
    assert later["slots"]["handoff_status"] == "with_agent"
    assert "अभी भी इंतज़ार कर रही हूँ" in agent.page(hid)

    # Closing resumes the bot as usual.
    assert agent.post(f"/console/handoffs/{hid}/close", note="expiry test").status_code in (200, 302)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and shopper.tracker()["paused"]:
        time.sleep(0.2)
    assert shopper.tracker()["paused"] is False

"""One shopper across channels and proactive messages, end to end on the real stack.

A website (socketio) conversation and a REST conversation verify the same shopper's order and
are linked to one customer record; the website session is greeted by name, REST (whose sender id
the client picks) is not; the agent console shows the verified order and the website
conversation; `python -m actions.customers export/erase` covers trackers, bridge records and the
customer record and keeps the order. `python -m actions.notify delayed` honours quiet hours and
STOP, sends a WhatsApp template outside the 24-hour window (to the RecordingServer standing in
for Meta), records every notice in the shopper's tracker, sends each once, and a reply continues
the conversation.

The app-side commands run in .venv (SQLAlchemy 2); this file runs in .venv-rasa.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa

from tests.bot.channels.conftest import post, wa_envelope, wa_sends, wa_text, wa_texts
from tests.stack import ROOT, Agent, SocketShopper, bot_events, tracker

from .conftest import Shopper

DEVANAGARI = re.compile(r"[\u0900-\u097f]")
BENGALI = re.compile(r"[\u0980-\u09ff]")
APP_PYTHON = str(Path(os.environ.get("SAATHI_VENV_APP", ROOT / ".venv")) / "bin" / "python")


def app(stack: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([APP_PYTHON, *args], cwd=ROOT, env=env or stack["env"], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def texts(reply: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in reply)


def rows(url: str, sql: str, **params: object) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return [dict(r) for r in c.execute(sa.text(sql), params).mappings()]
    finally:
        engine.dispose()


def test_one_shopper_linked_greeted_shown_exported_and_erased(stack):
    agent = Agent(stack)  # online: the handoff below is queued, not ticketed
    web = SocketShopper(stack["rasa"])
    web.connect()
    try:
        web.say("hello")
        first = web.receive()["text"]
        assert "Divya" not in first  # not linked yet: a plain greeting
        web.say("where is my order #1006? my phone is 96001 12233")
        got = web.receive_until("#1006")
        assert "Divya" in texts(got)
        web.say("hello again")
        greeting = web.receive_until("Hello")[-1]["text"]
        assert greeting.startswith("Hello Divya, welcome back"), greeting
    finally:
        web.sio.disconnect()

    # The same sender id typed into the REST webhook is another channel: no name.
    spoof = Shopper(stack, web.session_id)
    assert "Divya" not in texts(spoof.say("hello"))

    rest = Shopper(stack, f"rest-divya-{time.time_ns()}")
    assert "Divya" in texts(rest.say("status of order #1006, email divya.pillai@example.in"))
    assert "Divya" not in texts(rest.say("hi"))  # a REST client picks its own sender id: never greeted by name

    customers = rows(stack["orders_db"], "SELECT * FROM customers WHERE phone = '+919600112233'")
    assert len(customers) == 1 and customers[0]["name"] == "Divya Pillai"
    links = rows(stack["orders_db"], "SELECT channel, sender_id, method, order_id FROM customer_identities "
                                     "WHERE customer_id = :c ORDER BY id", c=customers[0]["id"])
    assert [(r["channel"], r["sender_id"], r["method"]) for r in links] == [
        ("socketio", web.session_id, "phone"), ("rest", rest.sender, "email")]

    # The agent sees the verified order and the website conversation, read from Rasa.
    rest.say("I want to talk to a human agent")
    handoff = requests.get(f"{stack['bridge']}/api/handoffs/{rest.sender}", timeout=10,
                           headers={"Authorization": f"Bearer {stack['bridge_token']}"}).json()
    assert handoff["status"] == "queued", handoff
    page = html.unescape(agent.page(handoff["handoff_id"]))
    assert re.search(r'id="verified-order">#1006<', page)
    history = page[page.index('id="customer-history"'):]
    assert "Divya Pillai" in history and web.session_id in history
    assert "where is my order #1006? my phone is 96001 12233" in history  # the website transcript

    # Export: everything held on her, by phone.
    out = app(stack, "-m", "actions.customers", "export", "--phone", "+91 96001 12233")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [c["name"] for c in doc["customers"]] == ["Divya Pillai"]
    assert {web.session_id, rest.sender} <= set(doc["conversations"])
    web_events = doc["conversations"][web.session_id]["events"]
    assert any(e.get("text") == "hello again" for e in web_events)
    assert [h["conversation_id"] for h in doc["handoff_bridge"]["handoffs"]] == [rest.sender]
    assert [o["order_id"] for o in doc["orders"]] == ["#1006"]
    assert {r["sender_id"] for r in doc["bot_verified_orders"]} == {web.session_id, rest.sender}

    # Erase: refuses without --yes when nobody can confirm, then deletes for good.
    refused = app(stack, "-m", "actions.customers", "erase", "--email", "divya.pillai@example.in")
    assert refused.returncode == 2 and rows(stack["orders_db"], "SELECT id FROM customers WHERE id = :c",
                                            c=customers[0]["id"])
    done = app(stack, "-m", "actions.customers", "erase", "--email", "divya.pillai@example.in", "--yes")
    assert done.returncode == 0, done.stderr
    tracker_db = f"sqlite:///{stack['env']['SAATHI_TRACKER_DB']}"
    for sender in (web.session_id, rest.sender):
        assert rows(tracker_db, "SELECT id FROM events WHERE sender_id = :s", s=sender) == []
        assert rows(stack["orders_db"], "SELECT id FROM bot_verified_orders WHERE sender_id = :s", s=sender) == []
    assert rows(stack["bridge_db"], "SELECT id FROM handoffs WHERE conversation_id = :s", s=rest.sender) == []
    assert rows(stack["orders_db"], "SELECT id FROM customers WHERE phone = '+919600112233'") == []
    assert rows(stack["orders_db"], "SELECT id FROM customer_identities WHERE customer_id = :c",
                c=customers[0]["id"]) == []
    assert rows(stack["orders_db"], "SELECT order_id FROM orders WHERE order_id = '#1006'")  # the shop's record
    assert "kept (the shop's records)" in done.stderr


def _window(stack: dict, start_h: float, end_h: float) -> str:
    tz = ZoneInfo(stack["env"].get("SAATHI_TIMEZONE") or "Asia/Kolkata")
    now = dt.datetime.now(tz)
    fmt = lambda h: (now + dt.timedelta(hours=h)).strftime("%H:%M")  # noqa: E731
    return f"{fmt(start_h)}-{fmt(end_h)}"


def test_delay_notices_quiet_hours_stop_template_once_and_reply(stack):
    recorder = stack["recorder"]
    # Lakshmi (#1004, delayed) verifies on REST in Hindi: her language and channel are stored.
    lakshmi = Shopper(stack, f"rest-lakshmi-{time.time_ns()}")
    assert DEVANAGARI.search(texts(lakshmi.say("मेरा ऑर्डर #1004 कहाँ है? मेरा फ़ोन 94470 12345 है")))
    # Meera (KM-10240, delayed) verifies, then writes STOP.
    meera = Shopper(stack, f"rest-meera-{time.time_ns()}")
    meera.say("where is my order KM-10240, phone 77102 03040")
    assert "will not send you any more" in texts(meera.say("STOP"))
    # Nusrat (DK-5004, delayed) was verified by her WhatsApp number two days ago.
    nusrat = "+8801612345678"
    setup = app(stack, "-c", (
        "from actions.config import load_settings; from actions.orders import make_provider; "
        "from actions.customers import customer_store; s = load_settings(); "
        "customer_store(s).link('whatsapp', '+8801612345678', make_provider(s).get('DK-5004'), 'channel', 'bn')"))
    assert setup.returncode == 0, setup.stderr
    r = requests.post(f"{stack['rasa']}/conversations/{nusrat}/tracker/events",
                      params={"token": stack["token"]}, timeout=30,
                      json=[{"event": "user", "text": "আমার অর্ডার DK-5004 কোথায়?", "input_channel": "whatsapp",
                             "timestamp": time.time() - 2 * 86400, "parse_data": {
                                 "intent": {"name": "order_status", "confidence": 1.0}, "entities": [],
                                 "text": "আমার অর্ডার DK-5004 কোথায়?"}}])
    assert r.status_code == 200, r.text

    # Quiet hours: nothing goes out, each notice is reported as held back.
    recorder.clear()
    quiet = app(stack, "-m", "actions.notify", "delayed",
                env=dict(stack["env"], SAATHI_QUIET_HOURS=_window(stack, -1, 1)))
    assert quiet.returncode == 0, quiet.stderr
    assert "#1004: quiet hours" in quiet.stdout and "DK-5004: quiet hours" in quiet.stdout
    assert "KM-10240: the shopper wrote STOP" in quiet.stdout
    assert recorder.calls == [] and not any("saathi_notice" in json.dumps(e) for e in bot_events(stack, lakshmi.sender))

    awake = dict(stack["env"], SAATHI_QUIET_HOURS=_window(stack, 2, 3))
    run = app(stack, "-m", "actions.notify", "delayed", env=awake)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "sent     #1004: rest (tracker, hi)" in run.stdout
    assert "sent     DK-5004: whatsapp (whatsapp_template, bn)" in run.stdout
    assert "KM-10240: the shopper wrote STOP" in run.stdout

    # WhatsApp outside the 24-hour window: the approved template, to her number, in Bengali.
    calls = recorder.wait_for(lambda c: c["path"].endswith("/109876543210/messages"))
    wa = [c for c in calls if c["path"].endswith("/109876543210/messages")]
    assert len(wa) == 1
    body = wa[0]["json"]
    assert body["to"] == "8801612345678" and body["type"] == "template"
    assert body["template"]["name"] == "order_delayed" and body["template"]["language"]["code"] == "bn"
    params = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    assert params[0] == "Nusrat" and params[1] == "DK-5004" and BENGALI.search(params[2])
    assert wa[0]["headers"]["authorization"] == "Bearer test-wa-access-token"
    notice = bot_events(stack, nusrat)[-1]
    assert "DK-5004" in notice["text"] and BENGALI.search(notice["text"])
    assert notice["metadata"]["saathi_notice"]["how"] == "whatsapp_template"

    # REST: recorded in Lakshmi's tracker, in Hindi, with the new date.
    notice = bot_events(stack, lakshmi.sender)[-1]
    assert "#1004" in notice["text"] and DEVANAGARI.search(notice["text"])
    assert notice["metadata"]["saathi_notice"]["order_id"] == "#1004"
    assert not any("saathi_notice" in json.dumps(e) for e in bot_events(stack, meera.sender))

    # Sent once: a second run sends nothing.
    recorder.clear()
    again = app(stack, "-m", "actions.notify", "delayed", env=awake)
    assert "#1004: already told" in again.stdout and "DK-5004: already told" in again.stdout
    assert recorder.calls == []

    # A reply continues the same conversation.
    reply = lakshmi.say("धन्यवाद")
    assert DEVANAGARI.search(texts(reply))
    events = tracker(stack, lakshmi.sender)["events"]
    notice_at = max(i for i, e in enumerate(events) if e["event"] == "bot" and "saathi_notice" in json.dumps(e))
    assert any(e["event"] == "user" and e.get("text") == "धन्यवाद" for e in events[notice_at:])

    # On WhatsApp (the real connector, a signed webhook): her reply continues the conversation and,
    # linked through verification, she is greeted by name.
    recorder.clear()
    assert post(stack, "whatsapp", wa_envelope([wa_text("8801612345678", "হ্যালো")])).status_code == 200
    recorder.wait_for(lambda c: (c["json"] or {}).get("to") == "8801612345678")
    assert "Nusrat" in wa_texts(recorder, "8801612345678") and BENGALI.search(wa_texts(recorder, "8801612345678"))
    events = tracker(stack, nusrat)["events"]
    notice_at = max(i for i, e in enumerate(events) if e["event"] == "bot" and "saathi_notice" in json.dumps(e))
    assert any(e["event"] == "user" and e.get("text") == "হ্যালো" for e in events[notice_at:])

    # A new date, inside the 24-hour window now: a plain WhatsApp text this time.
    engine = sa.create_engine(stack["orders_db"])
    with engine.begin() as c:
        c.execute(sa.text("UPDATE orders SET expected_delivery = :d WHERE order_id = 'DK-5004'"),
                  {"d": dt.date.today() + dt.timedelta(days=9)})
    recorder.clear()
    run = app(stack, "-m", "actions.notify", "delayed", env=awake)
    assert "sent     DK-5004: whatsapp (whatsapp_text, bn)" in run.stdout, run.stdout
    [text] = [m for m in wa_sends(recorder, "8801612345678") if m["type"] == "text"]
    assert "DK-5004" in text["text"]["body"] and BENGALI.search(text["text"]["body"])

    # STOP in Bengali on WhatsApp: confirmed in Bengali, and the next new date is not sent.
    recorder.clear()
    assert post(stack, "whatsapp", wa_envelope([wa_text("8801612345678", "বন্ধ করুন")])).status_code == 200
    recorder.wait_for(lambda c: (c["json"] or {}).get("to") == "8801612345678")
    assert "আর কোনো অর্ডার আপডেট" in wa_texts(recorder, "8801612345678")
    with engine.begin() as c:
        c.execute(sa.text("UPDATE orders SET expected_delivery = :d WHERE order_id = 'DK-5004'"),
                  {"d": dt.date.today() + dt.timedelta(days=12)})
    engine.dispose()
    recorder.clear()
    run = app(stack, "-m", "actions.notify", "delayed", env=awake)
    assert "DK-5004: the shopper wrote STOP" in run.stdout and recorder.calls == []

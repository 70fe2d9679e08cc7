"""Agent console: login + rate limit, CSRF, presence, queue routing, claim, conversation page
(transcript from Rasa, escaping), replies, transfer, close + rating question, tickets, metrics, SSE."""
from __future__ import annotations

import json

from markupsafe import escape
from sqlalchemy import select

from handoff_bridge.db import shopper_events
from tests.handoff_bridge.conftest import (AUTH, PASSWORD, add_agent, ask_for_person, csrf_of, enqueue, in_order,
                                           login, new_cid, wait_for)

XSS = "<script>alert(1)</script>"


def test_pages_need_login(client):
    for path in ("/console/", "/console/tickets", "/console/metrics", "/console/handoffs/1"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert client.get("/console/stream").status_code == 401
    assert client.get("/console/queue.json").status_code == 401


def test_login_logout(app, client):
    add_agent(app, online=False)
    assert login(client, password="wrong password").status_code == 401
    resp = login(client)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/console/")
    page = client.get("/console/")
    assert page.status_code == 200 and "Asha Rao" in page.text and "● Online" in page.text
    client.post("/console/logout", data={"csrf_token": csrf_of(client)})
    assert client.get("/console/").status_code == 302


def test_login_needs_csrf(app, client):
    add_agent(app)
    client.get("/console/login")
    resp = client.post("/console/login", data={"email": "asha@shop.in", "password": PASSWORD})
    assert resp.status_code == 403
    resp = client.post("/console/login", data={"email": "asha@shop.in", "password": PASSWORD,
                                                "csrf_token": "forged"})
    assert resp.status_code == 403


def test_login_rate_limit(app, client, clock):
    add_agent(app)
    for _ in range(5):
        assert login(client, password="nope nope nope").status_code == 401
    assert login(client).status_code == 429  # even the right password is refused now
    other = app.test_client()
    add_agent(app, "b@shop.in", "Bina")
    assert login(other, "b@shop.in").status_code == 302  # other accounts are unaffected
    clock.advance(601)
    assert login(client).status_code == 302


def test_post_without_csrf_is_refused(app, client):
    add_agent(app)
    login(client)
    hid = enqueue(client, new_cid()).get_json()["handoff_id"]
    assert client.post(f"/console/handoffs/{hid}/claim").status_code == 403
    assert client.post(f"/console/handoffs/{hid}/claim", json={},
                       headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post("/console/presence", data={"presence": "away"}).status_code == 403
    ok = client.post(f"/console/handoffs/{hid}/claim", json={}, headers={"X-CSRF-Token": csrf_of(client)})
    assert ok.status_code == 200 and ok.get_json()["status"] == "ok"


def test_presence_toggle_controls_queue_vs_ticket(app, client):
    add_agent(app, online=False)
    login(client)  # logging in makes the agent online
    token = csrf_of(client)
    assert enqueue(client, "c1").get_json()["status"] == "queued"
    assert client.post("/console/presence", data={"presence": "away", "csrf_token": token}).status_code == 302
    assert enqueue(client, "c2").get_json()["status"] == "offline_ticket"
    resp = client.post("/console/presence", json={"presence": "online"}, headers={"X-CSRF-Token": token})
    assert resp.get_json() == {"status": "ok", "presence": "online"}
    assert client.post("/console/presence", json={"presence": "busy"},
                       headers={"X-CSRF-Token": token}).status_code == 400


def test_queue_is_routed_by_language_then_waiting_time(app, client, clock):
    add_agent(app, languages="bn,bn-Latn")
    login(client)
    for cid, lang in [("a", "en"), ("b", "bn"), ("c", "hi"), ("d", "bn-Latn")]:
        enqueue(client, cid, language=lang)
        clock.advance(10)
    data = client.get("/console/queue.json").get_json()
    assert [w["language"] for w in data["waiting"]] == ["bn", "bn-Latn", "en", "hi"]
    assert [w["position"] for w in data["waiting"]] == [2, 4, 1, 3]
    assert data["waiting"][0]["waiting_seconds"] == 30


def conversation_setup(app, client, rasa, text=XSS):
    """A shopper writes `text` to Rasa, then asks for a person in Hindi: the real action server
    queues the conversation in this test's bridge and pauses the bot. Returns (cid, handoff id)."""
    add_agent(app)
    login(client)
    cid = new_cid("conv")
    rasa.say(cid, text)
    status = ask_for_person(client, rasa, cid, "hi")
    assert status["status"] == "queued", status
    assert rasa.paused(cid)
    return cid, status["handoff_id"]


def test_conversation_page_reads_rasa_and_escapes_shopper_text(app, client, rasa):
    cid, hid = conversation_setup(app, client, rasa)
    page = client.get(f"/console/handoffs/{hid}")
    assert page.status_code == 200
    assert XSS not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    bot_texts = rasa.bot_texts(cid)  # the bot's real answers, as Rasa logged them
    assert len(bot_texts) >= 2 and all(str(escape(t)) in page.text for t in bot_texts), bot_texts
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    enqueue(client, new_cid(), context={"first_name": XSS, "order_id": "SH-1"})
    queue_page = client.get("/console/")
    assert "&lt;script&gt;" in queue_page.text and XSS not in queue_page.text  # context first name escaped


def test_conversation_page_when_rasa_is_down(app, client, rasa):
    cid, hid = conversation_setup(app, client, rasa)
    assert rasa.say(cid, XSS) == []  # paused: the bot says nothing; Rasa's event broker tells the bridge
    bridge = app.extensions["handoff_bridge"]

    def buffered() -> list:
        with bridge.engine.connect() as conn:
            return conn.execute(select(shopper_events.c.text).where(shopper_events.c.handoff_id == hid)).scalars().all()

    wait_for(lambda: XSS in buffered(), timeout=10, what="the shopper's message through Rasa's event broker")
    bridge.rasa.base_url = rasa.unreachable_url()  # Rasa is down: nothing listens at its address
    page = client.get(f"/console/handoffs/{hid}")
    assert page.status_code == 200 and "Transcript unavailable" in page.text
    assert XSS not in page.text and "&lt;script&gt;" in page.text


def test_claim_reply_close_flow(app, client, rasa):
    cid, hid = conversation_setup(app, client, rasa)
    seen = len(rasa.events(cid))
    token = csrf_of(client)
    resp = client.post(f"/console/handoffs/{hid}/claim", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/console/handoffs/{hid}")
    page = client.get(f"/console/handoffs/{hid}")
    assert "इंतज़ार के लिए धन्यवाद" in page.text  # Hindi canned responses offered
    sent = client.post(f"/console/handoffs/{hid}/messages", json={"text": "Aapka refund aa raha hai"},
                       headers={"X-CSRF-Token": token})
    assert sent.status_code == 200 and sent.get_json()["state"] == "pending"
    oid = sent.get_json()["outbox_id"]
    wait_for(lambda: client.get(f"/console/handoffs/{hid}/messages.json").get_json()["messages"][-1]["state"] == "delivered")
    assert client.post(f"/console/handoffs/{hid}/messages", json={"text": ""},
                       headers={"X-CSRF-Token": token}).status_code == 400
    resp = client.post(f"/console/handoffs/{hid}/close", data={"note": "refunded", "csrf_token": token})
    assert resp.status_code == 302
    assert client.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["status"] == "closed"
    # Rasa's tracker: the slot, the joined message, the agent's reply, the resume and the rating question
    wait_for(lambda: len(rasa.bot_texts(cid, seen)) == 3, timeout=10)
    story = rasa.story(cid, seen)
    assert story[:6] == [("slot", "handoff_status", "with_agent"), ("bot", "Asha चैट में जुड़ गए हैं।"),
                         ("bot", "Aapka refund aa raha hai"), ("resume",), ("slot", "handoff_status", "closed"),
                         ("action", "action_listen")], story
    assert story[6][0] == "bot" and story[6][1].startswith("आपको मिली मदद को आप कैसे रेट करेंगे") and oid
    assert not rasa.paused(cid)
    # after closing, replies are refused
    again = client.post(f"/console/handoffs/{hid}/messages", json={"text": "hi"}, headers={"X-CSRF-Token": token})
    assert again.status_code == 403


def test_other_agents_cannot_touch_a_claimed_conversation(app, client, rasa):
    _, hid = conversation_setup(app, client, rasa)
    client.post(f"/console/handoffs/{hid}/claim", data={"csrf_token": csrf_of(client)})
    other = app.test_client()
    add_agent(app, "b@shop.in", "Bina")
    login(other, "b@shop.in")
    assert other.get(f"/console/handoffs/{hid}").status_code == 403
    assert other.post(f"/console/handoffs/{hid}/messages", json={"text": "x"},
                      headers={"X-CSRF-Token": csrf_of(other)}).status_code == 403


def test_transfer(app, client, rasa):
    cid, hid = conversation_setup(app, client, rasa)
    token = csrf_of(client)
    client.post(f"/console/handoffs/{hid}/claim", data={"csrf_token": token})
    bina = add_agent(app, "b@shop.in", "Bina Das")
    resp = client.post(f"/console/handoffs/{hid}/transfer", json={"agent_id": str(bina)},
                       headers={"X-CSRF-Token": token})
    assert resp.status_code == 200
    assert client.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["agent_name"] == "Bina"
    wait_for(lambda: "Bina चैट में जुड़ गए हैं।" in rasa.bot_texts(cid))
    assert rasa.paused(cid)  # still with a person
    assert client.post(f"/console/handoffs/{hid}/transfer", json={"agent_id": "x"},
                       headers={"X-CSRF-Token": token}).status_code == 400


def test_offline_ticket_answered(app, client, rasa, clock):
    """At night the shopper's request (through Rasa and the action server) becomes a ticket and
    the bot is not paused; the next morning the agent's answer reaches the conversation."""
    add_agent(app)
    clock.set_local(22)
    cid = new_cid("night")
    status = ask_for_person(client, rasa, cid, "bn")
    assert status["status"] == "offline_ticket" and not rasa.paused(cid), status
    hid = status["handoff_id"]
    other = enqueue(client, new_cid("night"), language="bn", context={"first_name": XSS}).get_json()["handoff_id"]
    seen = len(rasa.events(cid))
    clock.set_local(10)
    login(client)
    page = client.get("/console/tickets")
    assert page.status_code == 200 and f"#{hid}" in page.text and f"#{other}" in page.text
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    resp = client.post(f"/console/tickets/{hid}/answer", data={"text": "আপনার রিফান্ড হয়ে গেছে", "csrf_token": csrf_of(client)})
    assert resp.status_code == 302
    assert client.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["status"] == "closed"
    wait_for(lambda: rasa.bot_texts(cid, seen) == ["আপনার রিফান্ড হয়ে গেছে"])
    assert in_order(rasa.story(cid, seen), [("resume",), ("slot", "handoff_status", "closed"),
                                            ("action", "action_listen"), ("bot", "আপনার রিফান্ড হয়ে গেছে")])
    again = client.post(f"/console/tickets/{hid}/answer", json={"text": "x"}, headers={"X-CSRF-Token": csrf_of(client)})
    assert again.status_code == 409


def test_metrics_page_and_api_for_logged_in_agent(app, client):
    add_agent(app)
    login(client)
    enqueue(client, "c1", reason="complaint")
    page = client.get("/console/metrics")
    assert page.status_code == 200 and "<svg" in page.text and "complaint" in page.text
    assert client.get("/api/metrics").get_json()["by_reason"] == {"complaint": 1}


def test_sse_stream_delivers_events(app, client):
    add_agent(app)
    login(client)
    resp = client.get("/console/stream", buffered=False)
    assert resp.mimetype == "text/event-stream"
    chunks = resp.response  # the generator; it ends after STREAM_MAX_SECONDS (1 s in tests)
    first = next(chunks)
    assert "retry:" in (first.decode() if isinstance(first, bytes) else first)
    enqueue(client, "c1", language="hi")
    client.post("/api/events", headers=AUTH, json={"sender_id": "c1", "event": "user", "text": XSS})
    text = "".join(c.decode() if isinstance(c, bytes) else c for c in chunks)
    assert "event: handoff_new" in text and "event: shopper_message" in text
    payload = [line for line in text.splitlines() if line.startswith("data:") and "alert" in line][0]
    assert json.loads(payload[5:])["text"] == XSS  # raw in JSON; the page inserts it with textContent
    resp.close()


def test_static_script_never_uses_innerhtml(client):
    resp = client.get("/console/static/console.js")
    assert resp.status_code == 200
    assert "innerHTML" not in resp.text.replace("never innerHTML", "")
    assert client.get("/console/static/console.css").status_code == 200

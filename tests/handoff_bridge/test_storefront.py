"""The widget's server side: files with CORS, the demo shop's CSP, the handoff-status lookup, and
the marker the bridge adds to its messages on the website channel (socketio) only."""
from __future__ import annotations

import json
import uuid

import pytest

from handoff_bridge.storefront import socket_sources
from tests.handoff_bridge.conftest import (AUTH, ASK_FOR_PERSON, WhatsAppShopper, add_agent, csrf_of, enqueue, login,
                                           wait_for)

SESSION = "0123456789abcdef0123456789abcdef"


def test_demo_shop_csp_allows_only_the_rasa_socket(app, client):
    app.config["RASA_PUBLIC_URL"] = "https://chat.example-shop.in"
    page = client.get("/shop/")
    assert page.status_code == 200
    assert 'src="/widget/saathi.js" data-rasa-url="https://chat.example-shop.in" defer' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' https://chat.example-shop.in wss://chat.example-shop.in;" in csp
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    console = client.get("/console/login").headers["Content-Security-Policy"]
    assert "connect-src 'self';" in console and "chat.example-shop.in" not in console


def test_socket_sources_need_an_http_url():
    assert socket_sources("http://127.0.0.1:5005") == "http://127.0.0.1:5005 ws://127.0.0.1:5005"
    with pytest.raises(ValueError):
        socket_sources("chat.example-shop.in")


def test_widget_files_are_readable_from_any_origin(client):
    js = client.get("/widget/saathi.js", headers={"Origin": "https://another-shop.in"})
    assert js.status_code == 200 and js.headers["Access-Control-Allow-Origin"] == "*"
    assert "javascript" in js.headers["Content-Type"] and b"textContent" in js.data
    assert b"innerHTML" not in js.data  # shopper and bot text only ever as text
    vendor = client.get("/widget/vendor/socket.io.min.js")
    assert vendor.status_code == 200 and vendor.data.startswith(b"/*!\n * Socket.IO v4.")
    font = client.get("/widget/fonts/noto-sans-bengali-bengali-400-normal.woff2")
    assert font.status_code == 200 and font.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/widget/../service.py").status_code == 404
    assert client.get("/widget/missing.js").status_code == 404


def test_status_lookup_is_for_website_conversations_only(app, client):
    add_agent(app)
    assert client.get("/widget/status/bad!id").status_code == 400
    assert client.get("/widget/status/short").status_code == 400
    none = client.get(f"/widget/status/{SESSION}")
    assert none.status_code == 200 and none.get_json() == {"status": None}
    assert none.headers["Access-Control-Allow-Origin"] == "*"

    assert enqueue(client, SESSION, language="bn", channel="socketio").status_code == 201
    body = client.get(f"/widget/status/{SESSION}").get_json()
    assert body["status"] == "queued" and body["position"] == 1 and "handoff_id" not in body

    whatsapp = "919876543210"  # a phone number: never answered here
    assert enqueue(client, whatsapp, channel="whatsapp").status_code == 201
    assert client.get(f"/widget/status/{whatsapp}").get_json() == {"status": None}


def test_bridge_messages_carry_a_marker_on_the_website_channel(app, client, rasa):
    """The marker tells the state when the message is delivered, so each step waits for delivery.

    The website conversation is queued through the service API with channel socketio (no
    Socket.IO client in this virtualenv); the WhatsApp shopper asks for a person on Rasa's real
    WhatsApp connector, so the agent's messages also go out through the (recorded) Graph API."""
    add_agent(app, name="Asha Rao", languages="bn")
    login(client)
    token = csrf_of(client)
    session = uuid.uuid4().hex  # a widget session id
    assert enqueue(client, session, language="bn", channel="socketio").status_code == 201
    shopper = WhatsAppShopper(rasa)
    shopper.say(ASK_FOR_PERSON["bn"])
    assert client.get(f"/api/handoffs/{shopper.cid}", headers=AUTH).get_json()["status"] == "queued"
    # The WhatsApp webhook answers before Rasa stores the turn: count from the stored pause on.
    wait_for(lambda: any(e["event"] == "pause" for e in rasa.events(shopper.cid)), what="the handoff turn stored")
    seen = {cid: len(rasa.events(cid)) for cid in (session, shopper.cid)}
    text = "নমস্কার!\n\nঅর্ডার নম্বরটা বলবেন?"
    for cid in (session, shopper.cid):
        hid = client.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["handoff_id"]
        assert client.post(f"/console/handoffs/{hid}/claim", data={"csrf_token": token}).status_code == 302
        wait_for(lambda: len(rasa.bot_events(cid, seen[cid])) == 1)
        sent = client.post(f"/console/handoffs/{hid}/messages", json={"text": text}, headers={"X-CSRF-Token": token})
        assert sent.status_code == 200
        wait_for(lambda: len(rasa.bot_events(cid, seen[cid])) == 2)
        assert client.post(f"/console/handoffs/{hid}/close", data={"csrf_token": token}).status_code == 302
        wait_for(lambda: len(rasa.bot_events(cid, seen[cid])) == 3)

    # Rasa's tracker keeps each bridge message's marker (who speaks, the agent's name, the state)
    joined, message, rating = [_marker(e) for e in rasa.bot_events(session, seen[session])]
    assert joined == {"status": "with_agent", "agent_name": "Asha", "from": "bridge", "parts": 1}
    assert message == {"status": "with_agent", "agent_name": "Asha", "from": "agent", "parts": 2}
    assert rating == {"status": "closed", "from": "bridge", "parts": 1}
    # Other channels get no custom payload: WhatsApp would show it as a message.
    assert [e["data"].get("custom") for e in rasa.bot_events(shopper.cid, seen[shopper.cid])] == [None, None, None]
    wait_for(lambda: any("নমস্কার!" in json.dumps(m, ensure_ascii=False) for m in shopper.sends()), timeout=10,
             what="the agent's message sent on WhatsApp (output_channel=latest)")
    assert not any("saathi" in json.dumps(m) for m in shopper.sends())


def _marker(event):
    return event["data"]["custom"]["data"]["saathi"]


def test_widget_catch_up_returns_what_the_socket_missed(app, client, rasa):
    """A website shopper whose socket was down asks what was said meanwhile: the agent's message
    comes back as the socket would have sent it (one message per paragraph, then the marker)."""
    add_agent(app, name="Asha Rao", languages="bn")
    login(client)
    token = csrf_of(client)
    session = uuid.uuid4().hex
    assert enqueue(client, session, language="bn", channel="socketio").status_code == 201
    seen = len(rasa.events(session))
    hid = client.get(f"/api/handoffs/{session}", headers=AUTH).get_json()["handoff_id"]
    assert client.post(f"/console/handoffs/{hid}/claim", data={"csrf_token": token}).status_code == 302
    wait_for(lambda: len(rasa.bot_events(session, seen)) == 1)
    sent = client.post(f"/console/handoffs/{hid}/messages", json={"text": "নমস্কার!\n\nঅর্ডার নম্বরটা বলবেন?"},
                       headers={"X-CSRF-Token": token})
    assert sent.status_code == 200
    wait_for(lambda: len(rasa.bot_events(session, seen)) == 2)

    got = client.get(f"/widget/messages/{session}?since_ms=60000")
    assert got.status_code == 200 and got.headers["Access-Control-Allow-Origin"] == "*"
    assert got.headers["Cache-Control"] == "no-store"
    joined, message = got.get_json()["messages"][-2:]
    assert joined[-1]["saathi"]["from"] == "bridge" and "Asha" in joined[0]["text"]
    assert message == [{"text": "নমস্কার!"}, {"text": "অর্ডার নম্বরটা বলবেন?"},
                       {"saathi": {"status": "with_agent", "agent_name": "Asha", "from": "agent", "parts": 2}}]
    # The window counts back from now: nothing was said in the last 0 ms.
    assert client.get(f"/widget/messages/{session}?since_ms=0").get_json() == {"messages": []}

    for bad in ("", "x", "-1", "1.5", str(24 * 3600 * 1000 + 1)):
        r = client.get(f"/widget/messages/{session}?since_ms={bad}")
        assert r.status_code == 400 and r.headers["Access-Control-Allow-Origin"] == "*", bad
    assert client.get("/widget/messages/bad!id?since_ms=10").status_code == 400
    # Not a website conversation with a handoff: nothing, whatever was said.
    whatsapp = "919876543211"
    assert enqueue(client, whatsapp, channel="whatsapp").status_code == 201
    assert client.get(f"/widget/messages/{whatsapp}?since_ms=60000").get_json() == {"messages": []}
    assert client.get(f"/widget/messages/{uuid.uuid4().hex}?since_ms=60000").get_json() == {"messages": []}
    # Rasa down: a clear 503, and the widget asks again on its next reconnect.
    app.extensions["handoff_bridge"].rasa.base_url = rasa.unreachable_url()
    down = client.get(f"/widget/messages/{session}?since_ms=60000")
    assert down.status_code == 503 and down.get_json()["error"] == "unavailable"

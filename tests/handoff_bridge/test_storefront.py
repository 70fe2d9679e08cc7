"""The widget's server side: files with CORS, the demo shop's CSP, the handoff-status lookup, and
the marker the bridge adds to its messages on the website channel (socketio) only."""
from __future__ import annotations

import pytest

from handoff_bridge.storefront import socket_sources
from tests.handoff_bridge.conftest import AUTH, add_agent, csrf_of, enqueue, login, wait_for

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
    """The marker tells the state when the message is delivered, so each step waits for delivery."""
    add_agent(app, name="Asha Rao", languages="bn")
    login(client)
    token = csrf_of(client)
    for cid, channel in ((SESSION, "socketio"), ("919876543210", "whatsapp")):
        enqueue(client, cid, language="bn", channel=channel)
        hid = client.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["handoff_id"]
        assert client.post(f"/console/handoffs/{hid}/claim", data={"csrf_token": token}).status_code == 302
        wait_for(lambda: len(_bot_events(rasa, cid)) == 1)
        sent = client.post(f"/console/handoffs/{hid}/messages", json={"text": "নমস্কার!\n\nঅর্ডার নম্বরটা বলবেন?"},
                           headers={"X-CSRF-Token": token})
        assert sent.status_code == 200
        wait_for(lambda: len(_bot_events(rasa, cid)) == 2)
        assert client.post(f"/console/handoffs/{hid}/close", data={"csrf_token": token}).status_code == 302
        wait_for(lambda: len(_bot_events(rasa, cid)) == 3)

    joined, message, rating = [_marker(e) for e in _bot_events(rasa, SESSION)]
    assert joined == {"status": "with_agent", "agent_name": "Asha", "from": "bridge", "parts": 1}
    assert message == {"status": "with_agent", "agent_name": "Asha", "from": "agent", "parts": 2}
    assert rating == {"status": "closed", "from": "bridge", "parts": 1}
    # Other channels get no custom payload: WhatsApp would show it as a message.
    assert [e.get("data") for e in _bot_events(rasa, "919876543210")] == [{}, {}, {}]


def _bot_events(rasa, cid):
    return [e for post in rasa.posts(cid) for e in post["body"] if e.get("event") == "bot"]


def _marker(event):
    return event["data"]["custom"]["data"]["saathi"]

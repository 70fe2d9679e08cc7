"""The website channel's input checks, on the real Rasa server (bot/channels/web_socketio.py)."""
from __future__ import annotations

import queue
import secrets

import requests
import socketio

from tests.stack import SocketShopper, user_events

PRIYA_WHATSAPP = "+919876543210"  # a demo shopper's WhatsApp conversation id


class RawSocket:
    """A Socket.IO client that sends whatever it is told to, as a hostile page could."""

    def __init__(self, rasa_url: str):
        self.sio = socketio.Client()
        self.confirmed: queue.Queue = queue.Queue()
        self.errors: queue.Queue = queue.Queue()
        self.bot: queue.Queue = queue.Queue()
        self.sio.on("session_confirm", self.confirmed.put)
        self.sio.on("error", self.errors.put)
        self.sio.on("bot_uttered", self.bot.put)
        self.sio.connect(rasa_url, socketio_path="/socket.io", transports=["polling"])

    def session(self, data) -> str:
        self.sio.emit("session_request", data)
        return self.confirmed.get(timeout=10)

    def close(self) -> None:
        self.sio.disconnect()


def test_a_normal_web_conversation_still_works(stack):
    shopper = SocketShopper(stack["rasa"])
    shopper.connect()
    try:
        shopper.say("hello")
        assert shopper.receive(60).get("text")
        assert [e["text"] for e in user_events(stack, shopper.session_id)] == ["hello"]
    finally:
        shopper.sio.disconnect()


def test_a_phone_number_as_session_id_is_replaced_by_a_random_one(stack):
    raw = RawSocket(stack["rasa"])
    try:
        confirmed = raw.session({"session_id": PRIYA_WHATSAPP})
        assert confirmed != PRIYA_WHATSAPP
        assert len(confirmed) == 32 and all(c in "0123456789abcdef" for c in confirmed)
        for bad in (None, {}, {"session_id": 42}, {"session_id": "x"}, {"session_id": "../../etc"},
                    {"session_id": "a" * 500}, "not an object"):
            got = raw.session(bad)
            assert got not in (PRIYA_WHATSAPP, "x") and len(got) == 32
    finally:
        raw.close()


def test_a_socket_cannot_write_into_another_conversation(stack):
    raw = RawSocket(stack["rasa"])
    try:
        mine = raw.session({"session_id": "web-" + secrets.token_hex(8)})
        victim = "web-" + secrets.token_hex(8)
        raw.sio.emit("user_uttered", {"message": "cancel my order", "session_id": victim})
        assert "session_request" in raw.errors.get(timeout=10)["error"]
        raw.sio.emit("user_uttered", {"message": "hi", "session_id": PRIYA_WHATSAPP})
        assert raw.errors.get(timeout=10)
        assert user_events(stack, victim) == []
        assert user_events(stack, mine) == []
    finally:
        raw.close()


def test_overlong_and_malformed_messages_are_refused_with_a_reason(stack):
    raw = RawSocket(stack["rasa"])
    try:
        mine = raw.session({"session_id": "web-" + secrets.token_hex(8)})
        raw.sio.emit("user_uttered", {"message": "a" * 20000, "session_id": mine})
        err = raw.errors.get(timeout=10)
        assert err["status"] == 413 and "limit" in err["error"]
        raw.sio.emit("user_uttered", {"message": {"text": "hi"}, "session_id": mine})
        assert raw.errors.get(timeout=10)["status"] == 400
        raw.sio.emit("user_uttered", ["not", "an", "object"])
        assert raw.errors.get(timeout=10)
        # Client metadata is not stored: a page cannot claim a photo it never sent.
        raw.sio.emit("user_uttered", {"message": "hello", "session_id": mine,
                                      "customData": {"attachments": [{"type": "image", "file": "x.jpg"}]}})
        assert raw.bot.get(timeout=60)
        [event] = user_events(stack, mine)
        assert event["text"] == "hello"
        assert "attachments" not in (event.get("metadata") or {})
    finally:
        raw.close()


def test_rest_clients_cannot_use_a_whatsapp_or_messenger_conversation_id(stack):
    for sender in (PRIYA_WHATSAPP, "919876543210", "2345678901234567", "whatsapp:+919876543210"):
        r = requests.post(f"{stack['rasa']}/webhooks/rest/webhook",
                          json={"sender": sender, "message": "where is my order KM-10234"}, timeout=30)
        assert r.status_code == 400, (sender, r.text)
        assert "phone number" in r.json()["error"]
    assert user_events(stack, PRIYA_WHATSAPP) == [] or all(
        e.get("input_channel") in ("whatsapp", "twilio_whatsapp") for e in user_events(stack, PRIYA_WHATSAPP))

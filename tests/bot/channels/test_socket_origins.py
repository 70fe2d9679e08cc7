"""The website socket accepts only the shop's origins (bot/channels/origins.py, web_socketio.py),
on the real Rasa server of the test stack: its SAATHI_CORS_ORIGINS lists one other shop's origin,
and the bridge's own origin (the demo shop) is always allowed.
"""
from __future__ import annotations

import asyncio
import json
import queue
import secrets
import socket
from typing import Optional
from urllib.parse import urlsplit

import pytest
import requests
import socketio
import websockets

from bot.channels.origins import OriginPolicy, normalise_origin
from tests.stack import user_events

FOREIGN = "http://evil.example"


def other_shop(stack: dict) -> str:
    return f"http://127.0.0.1:{stack['other_shop_port']}"


def allowed_origins(stack: dict) -> list[str]:
    return [other_shop(stack), stack["bridge"]]


def handshake(stack: dict, origin: Optional[str], method: str = "GET") -> requests.Response:
    """The first Engine.IO long-polling request a browser page makes."""
    headers = {"Origin": origin} if origin else {}
    if method == "OPTIONS":
        headers.update({"Access-Control-Request-Method": "GET"})
    return requests.request(method, f"{stack['rasa']}/socket.io/", params={"EIO": "4", "transport": "polling"},
                            headers=headers, timeout=10)


def websocket_status(stack: dict, origin: str) -> int:
    """The HTTP status of a raw WebSocket handshake with this Origin (101: upgraded)."""
    url = urlsplit(stack["rasa"])
    request = (f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {url.netloc}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               f"Origin: {origin}\r\n\r\n")
    with socket.create_connection((url.hostname, url.port), timeout=10) as s:
        s.sendall(request.encode())
        head = s.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


async def chat_over_websocket(stack: dict, origin: Optional[str], session_id: str, text: str) -> dict:
    """Engine.IO 4 / Socket.IO 5 spoken over a raw WebSocket, as a browser's client does
    (python-socketio's own WebSocket client needs a newer aiohttp than Rasa's)."""
    url = stack["rasa"].replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, origin=origin, open_timeout=10) as ws:

        async def event(name: str) -> list:
            while True:
                frame = await asyncio.wait_for(ws.recv(), 60)
                if frame == "2":  # ping
                    await ws.send("3")
                elif frame.startswith("42") and json.loads(frame[2:])[0] == name:
                    return json.loads(frame[2:])

        assert (await asyncio.wait_for(ws.recv(), 10)).startswith("0{")  # Engine.IO open
        await ws.send("40")
        assert (await asyncio.wait_for(ws.recv(), 10)).startswith("40{")  # Socket.IO connect accepted
        await ws.send("42" + json.dumps(["session_request", {"session_id": session_id}]))
        assert (await event("session_confirm"))[1] == session_id
        await ws.send("42" + json.dumps(["user_uttered", {"message": text, "session_id": session_id}]))
        return (await event("bot_uttered"))[1]


def chat(stack: dict, origin: Optional[str], transport: str, text: str) -> tuple[str, dict]:
    """Connect with this Origin and transport, confirm a session, send `text`; the first reply."""
    session_id = "web-" + secrets.token_hex(8)
    if transport == "websocket":
        return session_id, asyncio.run(chat_over_websocket(stack, origin, session_id, text))
    client = socketio.Client(reconnection=False)
    confirmed: queue.Queue = queue.Queue()
    replies: queue.Queue = queue.Queue()
    client.on("session_confirm", confirmed.put)
    client.on("bot_uttered", replies.put)
    client.connect(stack["rasa"], socketio_path="/socket.io", transports=["polling"],
                   headers={"Origin": origin} if origin else {}, wait_timeout=10)
    try:
        client.emit("session_request", {"session_id": session_id})
        assert confirmed.get(timeout=10) == session_id
        client.emit("user_uttered", {"message": text, "session_id": session_id})
        return session_id, replies.get(timeout=60)
    finally:
        client.disconnect()


def refused(stack: dict, origin: str, transport: str) -> None:
    """The connection attempt fails: polling with python-socketio, the WebSocket handshake with 400."""
    if transport == "websocket":
        url = stack["rasa"].replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"

        async def open_socket() -> None:
            async with websockets.connect(url, origin=origin, open_timeout=10):
                pass

        with pytest.raises(websockets.exceptions.InvalidStatusCode) as info:
            asyncio.run(open_socket())
        assert info.value.status_code == 400
        return
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(stack["rasa"], socketio_path="/socket.io", transports=["polling"],
                       headers={"Origin": origin}, wait_timeout=10)
    assert not client.connected


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_the_shop_origins_chat_over_both_transports(stack: dict, transport: str) -> None:
    for origin in allowed_origins(stack):
        text = f"hello from {origin} over {transport}"
        session_id, reply = chat(stack, origin, transport, text)
        assert reply.get("text"), reply
        assert [e["text"] for e in user_events(stack, session_id)] == [text]


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_a_foreign_origin_is_refused_on_both_transports(stack: dict, transport: str) -> None:
    for origin in (FOREIGN, "null", f"{other_shop(stack)}.evil.example", other_shop(stack).replace("http:", "https:"),
                   stack["bridge"].rsplit(":", 1)[0] + ":1"):
        refused(stack, origin, transport)


def test_a_foreign_origin_gets_no_session_and_no_cors_header(stack: dict) -> None:
    for origin in (FOREIGN, "null"):
        r = handshake(stack, origin)
        assert r.status_code == 400, r.text
        assert '"sid"' not in r.text
        assert "Access-Control-Allow-Origin" not in r.headers
        assert "Access-Control-Allow-Credentials" not in r.headers
        assert websocket_status(stack, origin) == 400
        pre = handshake(stack, origin, "OPTIONS")  # a preflight
        assert pre.headers.get("Access-Control-Allow-Origin") in (None, ""), pre.headers
    assert websocket_status(stack, other_shop(stack)) == 101  # the same raw handshake, allowed


def test_an_allowed_origin_is_echoed_once_without_credentials(stack: dict) -> None:
    for origin in allowed_origins(stack):
        r = handshake(stack, origin)
        assert r.status_code == 200 and '"sid"' in r.text, r.text
        assert r.raw.headers.getlist("Access-Control-Allow-Origin") == [origin]  # one header, not two
        assert "Access-Control-Allow-Credentials" not in r.headers


def test_clients_without_an_origin_header_are_served(stack: dict) -> None:
    """curl, bench/loadtest.py and tests.stack.SocketShopper send no Origin: they are not browser
    pages, and could send any Origin they liked, so they are allowed (documented in docs/handoff.md)."""
    r = handshake(stack, None)
    assert r.status_code == 200 and '"sid"' in r.text, r.text
    assert "Access-Control-Allow-Origin" not in r.headers
    for transport in ("polling", "websocket"):
        _, reply = chat(stack, None, transport, f"hello without an origin over {transport}")
        assert reply.get("text")
    assert reply.get("text")


def test_the_connect_handler_refuses_a_foreign_origin_too() -> None:
    """Behind Engine.IO's check, Socket.IO's `connect` refuses on its own (the channel's handler,
    called as python-socketio calls it)."""
    from bot.channels.web_socketio import SaathiSocketIOInput
    from bot.config import load_settings

    channel = SaathiSocketIOInput.from_credentials({"session_persistence": True})
    channel.origins = OriginPolicy(["https://shop.example.in"])

    async def on_message(_message: object) -> None:
        pass

    channel.blueprint(on_message)
    connect = channel.sio.handlers["/"]["connect"]
    assert asyncio.run(connect("sid1", {"HTTP_ORIGIN": "https://shop.example.in"}, None)) is True
    assert asyncio.run(connect("sid2", {}, None)) is True
    with pytest.raises(socketio.exceptions.ConnectionRefusedError):
        asyncio.run(connect("sid3", {"HTTP_ORIGIN": FOREIGN}, None))
    assert load_settings({"SAATHI_CORS_ORIGINS": "https://a.in, https://b.in  http://c.in:8080"}).cors_origins == (
        "https://a.in", "https://b.in", "http://c.in:8080")


def test_origins_are_compared_as_browsers_send_them() -> None:
    policy = OriginPolicy(["https://Shop.in/", "http://127.0.0.1:8000", "*", "shop.in", "ftp://x.in"])
    assert policy.origins == {"https://shop.in", "http://127.0.0.1:8000"}  # '*' and non-origins ignored
    assert policy.allows("https://shop.in") and policy.allows("https://shop.in:443")
    assert policy.allows("http://127.0.0.1:8000")
    for bad in ("http://shop.in", "https://shop.in.evil.in", "https://evil.in", "null", "http://127.0.0.1:8001",
                "http://localhost:8000", "https://user@shop.in", "https://shop.in:99999"):
        assert not policy.allows(bad), bad
    assert normalise_origin("HTTPS://[::1]:443") == "https://[::1]"

"""bot.brokers.bridge: Rasa's events reach the bridge without blocking Rasa, and survive a restart."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bot.brokers.bridge import BridgeEventBroker
from tests.stack import free_port


class Recorder:
    """A loopback HTTP server standing in for the bridge; can answer 503 for a while."""

    def __init__(self, port: int, fail_first: int = 0):
        self.calls: list[tuple[dict, str]] = []  # one per event
        self.batches: list = []  # one per request
        self.fail_left = fail_first
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if rec.fail_left > 0:
                    rec.fail_left -= 1
                    self.send_response(503)
                else:
                    auth = self.headers.get("Authorization", "")
                    rec.batches.append(body)
                    rec.calls.extend((event, auth) for event in (body if isinstance(body, list) else [body]))
                    self.send_response(202)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(cond, limit: float = 10) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_user_and_bot_events_are_forwarded_with_the_token():
    port = free_port()
    rec = Recorder(port)
    broker = BridgeEventBroker(f"http://127.0.0.1:{port}", "s3cret", timeout=1)
    try:
        started = time.perf_counter()
        broker.publish({"sender_id": "a", "event": "user", "text": "मुझे इंसान चाहिए", "timestamp": 1.0,
                        "input_channel": "socketio", "parse_data": {"intent": {"name": "request_human"},
                                                                    "language": "hi"}})
        broker.publish({"sender_id": "a", "event": "slot", "name": "language", "value": "hi"})  # not forwarded
        broker.publish({"sender_id": "a", "event": "bot", "text": "ok"})
        assert time.perf_counter() - started < 0.05  # publish never waits for the network
        assert wait_for(lambda: len(rec.calls) == 2)
        (user, auth), (bot, _) = rec.calls
        assert auth == "Bearer s3cret"
        assert user["text"] == "मुझे इंसान चाहिए" and user["intent"] == "request_human" and "parse_data" not in user
        assert user["language"] == "hi"  # the bridge's handoff rate per language
        assert bot["event"] == "bot"
    finally:
        rec.close()


def test_a_bridge_that_is_down_for_a_moment_still_gets_the_event():
    port = free_port()
    rec = Recorder(port, fail_first=2)
    broker = BridgeEventBroker(f"http://127.0.0.1:{port}", "t", timeout=1)
    try:
        broker.publish({"sender_id": "b", "event": "user", "text": "hello"})
        assert wait_for(lambda: len(rec.calls) == 1)
    finally:
        rec.close()


def test_an_unreachable_bridge_does_not_block_rasa():
    broker = BridgeEventBroker(f"http://127.0.0.1:{free_port()}", "t", timeout=0.2, retries=1, maxsize=2)
    started = time.perf_counter()
    for i in range(10):  # beyond the queue's size: dropped with a warning, never blocking
        broker.publish({"sender_id": "c", "event": "user", "text": str(i)})
    assert time.perf_counter() - started < 0.1
    assert broker.is_ready()


def test_events_waiting_together_go_in_one_request_in_order():
    port = free_port()
    rec = Recorder(port)
    broker = BridgeEventBroker(f"http://127.0.0.1:{port}", "t", timeout=1)
    try:
        blocker = threading.Lock()
        blocker.acquire()
        real_send = broker._send

        def held_send(events):
            with blocker:
                return real_send(events)

        broker._send = held_send
        broker.publish({"sender_id": "d", "event": "user", "text": "first"})
        assert wait_for(lambda: broker.queue.empty())  # the thread took it and waits on the blocker
        for text in ("আমার অর্ডার", "কোথায়?", "ok"):
            broker.publish({"sender_id": "d", "event": "bot", "text": text})
        blocker.release()
        assert wait_for(lambda: len(rec.calls) == 4)
        assert [len(b) for b in rec.batches] == [1, 3]
        assert [e["text"] for e, _ in rec.calls] == ["first", "আমার অর্ডার", "কোথায়?", "ok"]
    finally:
        rec.close()

"""Fixtures for the handoff bridge: a real database per test (SQLite file; PostgreSQL when
SAATHI_TEST_PG_URL is set, one schema per test), a real local HTTP server standing in for Rasa's
HTTP API, an injectable clock, and Flask test clients with logged-in agents; for the browser
tests, the whole real stack (tests/stack.py) and Debian's Chromium driven by Playwright.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, insert, text
from werkzeug.security import generate_password_hash

from actions.config import load_settings
from handoff_bridge import create_app
from handoff_bridge.db import agents
from tests.stack import model_path, running_stack

PG_URL = os.environ.get("SAATHI_TEST_PG_URL", "")
TOKEN = "test-bridge-token-0123456789"
IST = ZoneInfo("Asia/Kolkata")
PASSWORD = "correct horse battery"
FAST_HASH = "pbkdf2:sha256:1000"  # keeps the suite quick; production uses werkzeug's default


class FakeRasa:
    """A threading http.server answering like Rasa's HTTP API; records every call; can be 'down' (503)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.down = False
        self.trackers: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _reply(self, code: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                if fake.down:
                    self._reply(503, {"status": "failure"})
                    return
                call = {"method": method, "path": url.path, "query": parse_qs(url.query), "body": body}
                with fake.lock:
                    fake.calls.append(call)
                m = re.fullmatch(r"/conversations/([^/]+)/tracker(/events)?", url.path)
                if not m:
                    self._reply(404, {"status": "failure"})
                    return
                cid = m.group(1)
                if method == "GET":
                    self._reply(200, fake.trackers.get(cid, {"sender_id": cid, "events": []}))
                else:
                    self._reply(200, {"sender_id": cid, "events": body})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded POSTs of events (optionally of one conversation)."""
        with self.lock:
            calls = list(self.calls)
        return [c for c in calls if c["method"] == "POST"
                and (conversation_id is None or c["path"] == f"/conversations/{conversation_id}/tracker/events")]

    def bot_texts(self, conversation_id: str) -> list[str]:
        return [e.get("text") for c in self.posts(conversation_id) for e in c["body"] if e.get("event") == "bot"]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
        self.down = False
        self.trackers.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Clock:
    """A settable clock; starts on a weekday at 12:00 in Kolkata (inside agent hours)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 15, 12, 0, tzinfo=IST)

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, hour: int, minute: int = 0) -> None:
        self.now = datetime(2025, 1, 15, hour, minute, tzinfo=IST)

    def advance(self, seconds: float) -> None:
        self.now = datetime.fromtimestamp(self.now.timestamp() + seconds, timezone.utc)


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition",
             interval: float = 0.02) -> Any:
    """Poll until predicate() is truthy and return its value; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s")


@pytest.fixture(scope="session")
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasa()
    yield server
    server.close()


@pytest.fixture
def rasa(fake_rasa: FakeRasa) -> FakeRasa:
    fake_rasa.reset()
    return fake_rasa


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL backend: SAATHI_TEST_PG_URL is not set")
    schema = "bridge_t_" + secrets.token_hex(4)
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_settings(tmp_path: Any) -> Any:
    """Settings from an explicit environment (never the developer's .env)."""
    return load_settings({"SAATHI_RUN_DIR": str(tmp_path)})


def app_config(db_url: str, rasa: FakeRasa, clock: Clock, tmp_path: Any) -> dict[str, Any]:
    """The test app's configuration (a second app on the same database stands for a restart)."""
    return {
        "SETTINGS": make_settings(tmp_path),
        "TESTING": True,
        "BRIDGE_DB": db_url,
        "BRIDGE_TOKEN": TOKEN,
        "RASA_URL": rasa.url,
        "RASA_TOKEN": "rasa-secret",
        "HTTP_TIMEOUT": 2.0,
        "CLOCK": clock,
        "OUTBOX_INTERVAL": 0.1,
        "STREAM_MAX_SECONDS": 1.0,
        "STREAM_KEEPALIVE": 0.2,
        "SECRET_KEY": "test-secret",
    }


@pytest.fixture
def app(db_url: str, rasa: FakeRasa, clock: Clock, tmp_path: Any) -> Iterator[Any]:
    application = create_app(app_config(db_url, rasa, clock, tmp_path))
    yield application
    bridge = application.extensions["handoff_bridge"]
    bridge.stop()
    bridge.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def add_agent(app: Any, email: str = "asha@shop.in", name: str = "Asha Rao", *, role: str = "agent",
              languages: str = "en,hi", capacity: int = 3, online: bool = True) -> int:
    """Insert an agent directly; online agents count for the queue."""
    bridge = app.extensions["handoff_bridge"]
    with bridge.engine.begin() as conn:
        return conn.execute(insert(agents).values(
            name=name, email=email, password_hash=generate_password_hash(PASSWORD, method=FAST_HASH),
            role=role, languages=languages, capacity=capacity,
            presence="online" if online else "offline", last_seen=bridge.now()).returning(agents.c.id)).scalar_one()


def csrf_of(client: Any) -> str:
    with client.session_transaction() as sess:
        return sess.get("csrf", "")


def login(client: Any, email: str = "asha@shop.in", password: str = PASSWORD) -> Any:
    """Log in through the form (GET for the CSRF token, then POST)."""
    client.get("/console/login")
    return client.post("/console/login", data={"email": email, "password": password,
                                               "csrf_token": csrf_of(client)})


def enqueue(client: Any, cid: str, language: str = "en", reason: str = "shopper_request", **extra: Any) -> Any:
    body = {"conversation_id": cid, "channel": "whatsapp", "language": language, "reason": reason,
            "context": {"first_name": "Ravi", "order_id": "SH-1001", "order_status": "shipped"}}
    body.update(extra)
    return client.post("/api/handoffs", json=body, headers=AUTH)


# Chromium as root, headless, with no background traffic to hosts this machine cannot reach.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The whole real stack (bridge, action server, Rasa with the trained model), per module."""
    model = model_path()
    if not model:
        pytest.fail("SAATHI_TEST_MODEL must name a trained model (make test trains one)")
    with running_stack(tmp_path_factory.mktemp("browser-stack"), model) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright (which never downloads a browser of its own)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("SAATHI_CHROMIUM", "/usr/bin/chromium")
    if not os.path.isfile(executable):
        pytest.fail(f"no Chromium at {executable}: run scripts/chromium.sh or set SAATHI_CHROMIUM")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()

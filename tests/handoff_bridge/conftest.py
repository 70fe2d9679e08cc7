"""Fixtures for the handoff bridge: a real database per test (SQLite file; PostgreSQL when
SAATHI_TEST_PG_URL is set, one schema per test), an injectable clock, Flask test clients with
logged-in agents, and one real Rasa server with the trained model and its real action server for
the whole session (tests/stack.py, without a bridge process of its own).

The action server and Rasa's event broker call the bridge at one URL: `BridgeHost` serves there,
over real HTTP, the bridge app of the test that is running (each test's `app`, or the browser
tests' production-configured app). So a shopper who asks Rasa for a person is queued in that
test's bridge, and what the bridge sends lands in Rasa's real tracker, read back through Rasa's
HTTP API. Every test uses its own conversation ids (`new_cid`), as the Rasa server is shared.
Browser tests drive Debian's Chromium through Playwright.
"""
from __future__ import annotations

import os
import secrets
import signal
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import create_engine, insert, text
from werkzeug.security import generate_password_hash
from werkzeug.serving import WSGIRequestHandler, make_server

from actions.config import load_settings
from handoff_bridge import create_app
from handoff_bridge.db import agents
from tests.bot.channels.conftest import new_mid, post, wa_envelope, wa_number, wa_sends
from tests.stack import free_port, model_path, running_stack, tracker

PG_URL = os.environ.get("SAATHI_TEST_PG_URL", "")
TOKEN = "test-bridge-token-0123456789"
IST = ZoneInfo("Asia/Kolkata")
PASSWORD = "correct horse battery"
FAST_HASH = "pbkdf2:sha256:1000"  # keeps the suite quick; production uses werkzeug's default


# A request for a person in each language form (training examples of request_human).
ASK_FOR_PERSON = {
    "en": "i want to talk to a real person",
    "hi": "किसी इंसान से बात करनी है",
    "bn": "মানুষের সাথে কথা বলতে চাই",
    "hi-Latn": "kisi insaan se baat karao",
    "bn-Latn": "kono manusher sathe kotha bolte chai",
}


def new_cid(prefix: str = "c") -> str:
    """A conversation id of this test alone (the Rasa server is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any) -> None:  # keep test output quiet
        pass


class BridgeHost:
    """The bridge URL that the session's action server and Rasa's event broker call: a real HTTP
    server on loopback serving the bridge app of the running test (`app`), 503 between tests."""

    def __init__(self) -> None:
        self.app: Any = None
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _wsgi(self, environ: dict, start_response: Callable) -> Any:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"error": "no bridge is running"}']
        return app(environ, start_response)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Rasa:
    """The session's real Rasa server (tests/stack.py): talk to it as a shopper on the REST
    channel and read conversations back from its HTTP API."""

    def __init__(self, stack: dict) -> None:
        self.stack = stack
        self.url: str = stack["rasa"]
        self.token: str = stack["token"]
        self.recorder = stack["recorder"]  # stands in for Meta's Graph API and Twilio

    def say(self, cid: str, text: str) -> list[dict]:
        """A shopper message on the REST webhook; the bot's answers (none while paused)."""
        r = requests.post(f"{self.url}/webhooks/rest/webhook", json={"sender": cid, "message": text}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def tracker(self, cid: str) -> dict:
        return tracker(self.stack, cid)

    def events(self, cid: str, since: int = 0) -> list[dict]:
        return self.tracker(cid)["events"][since:]

    def paused(self, cid: str) -> bool:
        return bool(self.tracker(cid)["paused"])

    def bot_events(self, cid: str, since: int = 0) -> list[dict]:
        return [e for e in self.events(cid, since) if e["event"] == "bot"]

    def bot_texts(self, cid: str, since: int = 0) -> list[str]:
        return [e.get("text") for e in self.bot_events(cid, since)]

    def story(self, cid: str, since: int = 0) -> list[tuple]:
        """The events from `since` on, in short: ("bot", text), ("user", text), ("slot", name, value),
        ("action", name), ("resume",), ("pause",), ..."""
        out: list[tuple] = []
        for e in self.events(cid, since):
            kind = e["event"]
            if kind in ("bot", "user"):
                out.append((kind, e.get("text")))
            elif kind == "slot":
                out.append((kind, e["name"], e["value"]))
            elif kind == "action":
                out.append((kind, e["name"]))
            else:
                out.append((kind,))
        return out

    def append(self, cid: str, events: list[dict]) -> None:
        """Append events through Rasa's HTTP API (what any caller holding the token can write)."""
        r = requests.post(f"{self.url}/conversations/{cid}/tracker/events", params={"token": self.token},
                          json=events, timeout=30)
        assert r.status_code == 200, r.text

    def log_user_event(self, cid: str, text: str, metadata: dict) -> None:
        self.append(cid, [{"event": "user", "text": text, "timestamp": time.time(), "input_channel": "rest",
                           "parse_data": {"text": text, "intent": {"name": "inform", "confidence": 1.0},
                                          "entities": []},
                           "metadata": metadata}])

    def execute(self, cid: str, action: str) -> None:
        """Rasa runs one action of the conversation now (its HTTP API's /execute)."""
        r = requests.post(f"{self.url}/conversations/{cid}/execute", params={"token": self.token},
                          json={"name": action}, timeout=60)
        assert r.status_code == 200, r.text

    @staticmethod
    def unreachable_url() -> str:
        """A Rasa URL where nothing listens (connection refused)."""
        return f"http://127.0.0.1:{free_port()}"

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The real Rasa process stopped (SIGSTOP): connections open, nothing answers, calls time out."""
        proc = self.stack["rasa_proc"]
        proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            proc.send_signal(signal.SIGCONT)


class WhatsAppShopper:
    """A shopper on Rasa's real WhatsApp connector: signed webhooks in (the helpers of
    tests/bot/channels), Rasa's sends out to the stack's RecordingServer (Meta cannot be reached)."""

    def __init__(self, rasa: Rasa) -> None:
        self.rasa = rasa
        self.number = wa_number()
        self.cid = f"+{self.number}"  # Rasa's sender id: the number in E.164

    def send(self, message: dict) -> None:
        message = {"from": self.number, "id": new_mid(), "timestamp": str(int(time.time())), **message}
        r = post(self.rasa.stack, "whatsapp", wa_envelope([message]))
        assert r.status_code == 200, r.text

    def say(self, text: str) -> None:
        self.send({"type": "text", "text": {"body": text}})

    def photo(self, data: bytes, caption: Optional[str] = None, content_type: str = "image/jpeg") -> None:
        """A photo whose bytes the connector downloads from the (recorded) Graph API."""
        recorder, media_id = self.rasa.recorder, "MEDIA" + secrets.token_hex(6)
        recorder.serve(f"/v19.0/{media_id}", {"url": f"{recorder.url}/media/{media_id}", "mime_type": content_type,
                                              "id": media_id})
        recorder.serve(f"/media/{media_id}", data, content_type)
        image = {"id": media_id, "mime_type": "image/jpeg", **({"caption": caption} if caption else {})}
        self.send({"type": "image", "image": image})

    def location(self, **location: Any) -> None:
        self.send({"type": "location", "location": location})

    def sends(self) -> list[dict]:
        """What Rasa sent this shopper through the Graph API."""
        return wa_sends(self.rasa.recorder, self.number)


def in_order(story: list[tuple], expected: list[tuple]) -> bool:
    """Whether `expected` occurs in `story` in this order (other events may come in between)."""
    items = iter(story)
    return all(any(item == want for item in items) for want in expected)

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
def bridge_host() -> Iterator[BridgeHost]:
    host = BridgeHost()
    yield host
    host.close()


@pytest.fixture(scope="session")
def rasa_stack(bridge_host: BridgeHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Rasa (trained model) and the action server, once per session; they call the bridge at
    `bridge_host` with the tests' bridge token."""
    model = model_path()
    if not model:
        pytest.fail("SAATHI_TEST_MODEL must name a trained model (make test trains one)")
    with running_stack(tmp_path_factory.mktemp("rasa-stack"), model, bridge=False,
                       env_extra={"SAATHI_BRIDGE_URL": bridge_host.url, "SAATHI_BRIDGE_TOKEN": TOKEN}) as running:
        yield running


@pytest.fixture
def rasa(rasa_stack: dict) -> Rasa:
    return Rasa(rasa_stack)


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


def app_config(db_url: str, rasa: Rasa, clock: Clock, tmp_path: Any) -> dict[str, Any]:
    """The test app's configuration (a second app on the same database stands for a restart)."""
    return {
        "SETTINGS": make_settings(tmp_path),
        "TESTING": True,
        "BRIDGE_DB": db_url,
        "BRIDGE_TOKEN": TOKEN,
        "RASA_URL": rasa.url,
        "RASA_TOKEN": rasa.token,
        "HTTP_TIMEOUT": 2.0,
        "CLOCK": clock,
        "OUTBOX_INTERVAL": 0.1,
        "STREAM_MAX_SECONDS": 1.0,
        "STREAM_KEEPALIVE": 0.2,
        "SECRET_KEY": "test-secret",
    }


@pytest.fixture
def app(db_url: str, rasa: Rasa, clock: Clock, tmp_path: Any, bridge_host: BridgeHost) -> Iterator[Any]:
    """This test's bridge on the session's real Rasa; served at the bridge URL while the test runs."""
    application = create_app(app_config(db_url, rasa, clock, tmp_path))
    bridge_host.app = application
    yield application
    bridge_host.app = None
    stop_app(application)


def stop_app(application: Any) -> None:
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


def ask_for_person(client: Any, rasa: Rasa, cid: str, language: str = "en",
                   say: Optional[Callable[[str], Any]] = None) -> dict[str, Any]:
    """The shopper asks Rasa for a person in `language` (on the REST channel, or through `say`);
    the real action server queues the conversation in this test's bridge. Returns the bridge's
    status of the handoff."""
    (say or (lambda text: rasa.say(cid, text)))(ASK_FOR_PERSON[language])
    status = client.get(f"/api/handoffs/{cid}", headers=AUTH)
    assert status.status_code == 200, (status.status_code, rasa.story(cid))
    return status.get_json()


def enqueue(client: Any, cid: str, language: str = "en", reason: str = "shopper_request", **extra: Any) -> Any:
    body = {"conversation_id": cid, "channel": "whatsapp", "language": language, "reason": reason,
            "context": {"first_name": "Ravi", "order_id": "SH-1001", "order_status": "shipped"}}
    body.update(extra)
    return client.post("/api/handoffs", json=body, headers=AUTH)


# Chromium as root, headless, with no background traffic to hosts this machine cannot reach.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def stack(rasa_stack: dict, bridge_host: BridgeHost) -> Iterator[dict]:
    """The whole real stack for the browser tests: the session's Rasa and action server, and a
    bridge app configured as `python -m handoff_bridge serve` configures it (the stack's settings,
    database and admin agent), served at the bridge URL for this module."""
    application = create_app({"SETTINGS": load_settings(rasa_stack["env"])})
    bridge_host.app = application
    yield rasa_stack
    bridge_host.app = None
    stop_app(application)


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

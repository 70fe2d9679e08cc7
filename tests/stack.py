"""Start the whole Saathi stack for tests: handoff bridge, action server, Rasa server.

Standard library and `requests` only, so the test suites of both virtualenvs use it (the
Rasa-side tests in .venv-rasa, the browser tests in .venv). Every part is the real program,
started the way `make run` starts it, with its own temporary databases and free ports.
"""
from __future__ import annotations

import os
import queue
import re
import secrets
import json
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional

import requests

ROOT = Path(__file__).resolve().parents[1]
AGENT_EMAIL = "asha@test-shop.in"
AGENT_PASSWORD = "correct-horse-battery"

# Channel secrets of the test stack. The platforms' servers (Meta's Graph API, Twilio) cannot be
# reached from here, so the stack points the connectors at a RecordingServer on loopback.
CHANNEL_ENV = {
    "SAATHI_META_APP_SECRET": "test-meta-app-secret",
    "SAATHI_WHATSAPP_VERIFY_TOKEN": "test-wa-verify-token",
    "SAATHI_WHATSAPP_TOKEN": "test-wa-access-token",
    "SAATHI_WHATSAPP_PHONE_NUMBER_ID": "109876543210",
    "SAATHI_MESSENGER_VERIFY_TOKEN": "test-fb-verify-token",
    "SAATHI_MESSENGER_PAGE_TOKEN": "test-fb-page-token",
    "SAATHI_TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "SAATHI_TWILIO_AUTH_TOKEN": "test-twilio-auth-token",
    "SAATHI_TWILIO_NUMBER": "whatsapp:+14155238886",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited early:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {limit}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


class RecordingServer:
    """A loopback HTTP server standing in for Meta's and Twilio's APIs: it records every call.

    Each call is kept as a dict: method, path, query, headers, body (text), json (or None), at
    (time.monotonic() of arrival).
    Replies are JSON shaped like the platforms' answers; `reply_with(status, body)` overrides the
    next replies (for 5xx and error tests) until `reply_normally()`. `serve(path, data, type)`
    answers GETs of `path` with those bytes instead (media downloads).
    """

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self._cond = threading.Condition()
        self._override: Optional[tuple[int, Any]] = None
        self._served: dict[str, tuple[bytes, str]] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                path, _, query = self.path.partition("?")
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                call = {"method": self.command, "path": path, "query": query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "json": parsed, "at": time.monotonic()}  # arrival: calls may be
                # appended out of order when a client's next call overtakes this one's bookkeeping
                status, reply = recorder._reply(call)
                data, ctype = json.dumps(reply).encode(), "application/json"
                if self.command == "GET" and path in recorder._served:
                    status, (data, ctype) = 200, recorder._served[path]
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with recorder._cond:
                    recorder.calls.append(call)
                    recorder._cond.notify_all()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _reply(self, call: dict) -> tuple[int, Any]:
        if self._override is not None:
            return self._override
        n = len(self.calls) + 1
        if "/Accounts/" in call["path"]:  # Twilio's Messages resource
            return 201, {"sid": f"SM{n:032x}", "status": "queued"}
        if call["path"].endswith("/messages") and "messaging_product" in call["body"]:
            return 200, {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.TEST{n}"}]}
        return 200, {"recipient_id": "0", "message_id": f"m_TEST{n}"}

    def reply_with(self, status: int, body: Any) -> None:
        self._override = (status, body)

    def reply_normally(self) -> None:
        self._override = None

    def serve(self, path: str, data: Any, content_type: str = "application/json") -> None:
        """GETs of `path` answer `data` (bytes as they are, anything else as JSON) from now on."""
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self._served[path] = (body, content_type)

    def clear(self) -> None:
        with self._cond:
            self.calls.clear()

    def wait_for(self, predicate: Any, timeout: float = 30) -> list[dict]:
        """Calls so far once one satisfies `predicate(call)`; raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(predicate(c) for c in self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching call within {timeout}s; calls: {self.calls}")
                self._cond.wait(left)
            return list(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def model_path() -> Optional[str]:
    model = os.environ.get("SAATHI_TEST_MODEL")
    return model if model and Path(model).is_file() else None


@contextmanager
def running_stack(work: Path, model: str, agent_hours: str = "00:00-23:59",
                  endpoints: str = "endpoints.yml", env_extra: Optional[dict] = None,
                  bridge: bool = True) -> Iterator[dict]:
    """Yields URLs, tokens, database URLs and process handles of a running stack.

    `endpoints` and `env_extra` change Rasa's endpoints file and add settings (other stores).
    `bridge=False` starts no bridge process: the caller serves a bridge app at `SAATHI_BRIDGE_URL`
    (set it, and `SAATHI_BRIDGE_TOKEN`, in `env_extra`); its database and agent are prepared as usual.
    """
    token, bridge_token = secrets.token_hex(16), secrets.token_hex(16)
    recorder = RecordingServer()
    action_port, rasa_port, bridge_port = free_port(), free_port(), free_port()
    # Another shop's site (tests serve a page there) is the one extra origin the website socket allows.
    other_shop_port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SAATHI_ENV_FILE=str(work / "none.env"),
        SAATHI_RUN_DIR=str(work),
        SAATHI_RASA_PORT=str(rasa_port),
        SAATHI_RASA_URL=f"http://127.0.0.1:{rasa_port}",
        SAATHI_RASA_TOKEN=token,
        SAATHI_ACTION_URL=f"http://127.0.0.1:{action_port}/webhook",
        SAATHI_TRACKER_DB=str(work / "tracker.db"),
        SAATHI_BRIDGE_PORT=str(bridge_port),
        SAATHI_BRIDGE_URL=f"http://127.0.0.1:{bridge_port}",
        SAATHI_BRIDGE_TOKEN=bridge_token,
        SAATHI_BRIDGE_DB=f"sqlite:///{work / 'bridge.db'}",
        SAATHI_BRIDGE_SECRET_KEY=secrets.token_hex(16),
        SAATHI_AGENT_HOURS=agent_hours,
        SAATHI_SUPPORT_CONTACT="help@test-shop.in",
        SAATHI_MAX_MESSAGE_CHARS="4000",
        SAATHI_KB_INDEX=str(work / "kb_index"),
        SAATHI_KB_DB=f"sqlite:///{work / 'kb.db'}",
        SAATHI_ORDERS_DB=f"sqlite:///{work / 'orders.db'}",
        SAATHI_AGENT_PASSWORD=AGENT_PASSWORD,
        HF_HUB_OFFLINE="1",
        SAATHI_GRAPH_API_URL=f"{recorder.url}/v19.0",
        SAATHI_TWILIO_API_URL=recorder.url,
        SAATHI_CORS_ORIGINS=f"http://127.0.0.1:{other_shop_port}",
        **CHANNEL_ENV,
    )
    env.update(env_extra or {})
    app_python = str(Path(os.environ.get("SAATHI_VENV_APP", ROOT / ".venv")) / "bin" / "python")
    rasa_bin = str(Path(os.environ.get("SAATHI_VENV_RASA", ROOT / ".venv-rasa")) / "bin" / "rasa")
    quiet = dict(cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    # The demo help centre (real importer, model and FAISS index) and the demo shop's orders.
    subprocess.run([app_python, "-m", "kb_index", "build", str(ROOT / "kb_index" / "demo"),
                    "--index", env["SAATHI_KB_INDEX"]], **quiet)
    subprocess.run([app_python, "-m", "actions.orders", "seed-demo"], **quiet)
    subprocess.run([app_python, "-m", "handoff_bridge", "create-agent", "--name", "Asha Rao", "--email", AGENT_EMAIL,
                    "--password-env", "SAATHI_AGENT_PASSWORD", "--languages", "en,hi,hi-Latn,bn,bn-Latn",
                    "--role", "admin", "--capacity", "5"], **quiet)
    logs = {name: work / f"{name}.log" for name in ("bridge", "actions", "rasa")}
    procs: dict = {}
    if bridge:
        procs["bridge"] = subprocess.Popen([app_python, "-m", "handoff_bridge", "serve"], cwd=ROOT, env=env,
                                           stdout=logs["bridge"].open("w"), stderr=subprocess.STDOUT)
    procs.update({
        "actions": subprocess.Popen([app_python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
                                    cwd=ROOT, env=env, stdout=logs["actions"].open("w"), stderr=subprocess.STDOUT),
        "rasa": subprocess.Popen([rasa_bin, "run", "--model", model, "--port", str(rasa_port), "--enable-api",
                                  f"--auth-token={token}", "--credentials", "credentials.yml",
                                  "--endpoints", endpoints, "--cors", env["SAATHI_BRIDGE_URL"]],
                                 cwd=ROOT, env=env, stdout=logs["rasa"].open("w"), stderr=subprocess.STDOUT),
    })
    try:
        if bridge:
            wait_http(f"http://127.0.0.1:{bridge_port}/health", procs["bridge"], logs["bridge"], 60)
        wait_http(f"http://127.0.0.1:{action_port}/health", procs["actions"], logs["actions"], 120)
        wait_http(f"http://127.0.0.1:{rasa_port}/status?token={token}", procs["rasa"], logs["rasa"], 300)
        yield {
            "rasa": f"http://127.0.0.1:{rasa_port}",
            "actions": f"http://127.0.0.1:{action_port}",
            "bridge": env["SAATHI_BRIDGE_URL"],
            "token": token,
            "bridge_token": env["SAATHI_BRIDGE_TOKEN"],
            "agent_email": AGENT_EMAIL,
            "agent_password": AGENT_PASSWORD,
            "procs": procs,
            "rasa_proc": procs["rasa"],
            "rasa_log": logs["rasa"],
            "logs": logs,
            "kb_db": env["SAATHI_KB_DB"],
            "orders_db": env["SAATHI_ORDERS_DB"],
            "bridge_db": env["SAATHI_BRIDGE_DB"],
            "work": work,
            "recorder": recorder,
            "env": env,
            "other_shop_port": other_shop_port,  # its origin is in SAATHI_CORS_ORIGINS
        }
    finally:
        for name in ("rasa", "actions", "bridge"):
            if name in procs:
                stop(procs[name])
        recorder.close()


def tracker(stack: dict, sender: str) -> dict:
    """A conversation's tracker from Rasa's HTTP API (the one source of truth for transcripts).

    Rasa 3.6 (Sanic) does not unquote path parameters: a WhatsApp sender's `+` stays literal.
    """
    r = requests.get(f"{stack['rasa']}/conversations/{sender}/tracker",
                     params={"token": stack["token"]}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def user_events(stack: dict, sender: str) -> list[dict]:
    return [e for e in tracker(stack, sender)["events"] if e["event"] == "user"]


def bot_events(stack: dict, sender: str) -> list[dict]:
    return [e for e in tracker(stack, sender)["events"] if e["event"] == "bot"]


class Agent:
    """The agent console over HTTP, as a logged-in browser would use it."""

    def __init__(self, stack: dict):
        self.base = stack["bridge"]
        self.http = requests.Session()
        page = self.http.get(f"{self.base}/console/login", timeout=10).text
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = self.http.post(f"{self.base}/console/login", timeout=10, allow_redirects=False,
                           data={"email": stack["agent_email"], "password": stack["agent_password"],
                                 "csrf_token": self.csrf})
        assert r.status_code in (302, 303), r.text
        page = self.http.get(f"{self.base}/console/", timeout=10).text
        self.csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)

    def post(self, path: str, **data: Any) -> requests.Response:
        return self.http.post(f"{self.base}{path}", data=data, headers={"X-CSRF-Token": self.csrf},
                              timeout=10, allow_redirects=False)

    def queue(self) -> dict:
        return self.http.get(f"{self.base}/console/queue.json", timeout=10).json()

    def page(self, handoff_id: int) -> str:
        return self.http.get(f"{self.base}/console/handoffs/{handoff_id}", timeout=10).text


class SocketShopper:
    """A website shopper on Rasa's socketio channel (session persistence on)."""

    def __init__(self, rasa_url: str):
        self.url = rasa_url
        self.session_id = "web-" + secrets.token_hex(6)
        import socketio  # python-socketio: in .venv-rasa (Rasa's dependency)

        self.sio = socketio.Client()
        self.inbox: queue.Queue = queue.Queue()
        self.markers: list[dict] = []
        self.confirmed = threading.Event()
        self.sio.on("bot_uttered", self.inbox.put)
        self.sio.on("session_confirm", lambda *_: self.confirmed.set())

    def connect(self) -> None:
        self.sio.connect(self.url, socketio_path="/socket.io", transports=["polling"])
        self.sio.emit("session_request", {"session_id": self.session_id})
        assert self.confirmed.wait(10), "no session_confirm"

    def say(self, text: str) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def receive(self, timeout: float = 30) -> dict:
        """The next message the shopper sees. The bridge's `{"saathi": ...}` markers (status and
        agent name for the widget's banner, sent after an agent or status message) are kept in
        `markers`, not shown as messages, as the widget does."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(msg, dict) and set(msg) == {"saathi"}:
                self.markers.append(msg["saathi"])
                continue
            return msg

    def receive_until(self, pattern: str, timeout: float = 30) -> list[dict]:
        """Messages up to and including the first whose text matches."""
        got, deadline = [], time.monotonic() + timeout
        while True:
            msg = self.receive(max(0.1, deadline - time.monotonic()))
            got.append(msg)
            if re.search(pattern, msg.get("text") or ""):
                return got

    def silence(self, seconds: float) -> Optional[dict]:
        try:
            return self.receive(seconds)
        except queue.Empty:
            return None

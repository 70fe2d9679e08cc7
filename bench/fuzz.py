"""Fuzz every public endpoint of a running Saathi stack (loopback only, bounded in count and time).

    .venv-rasa/bin/python bench/fuzz.py MODEL [--count 10000] [--seconds 1500] [--seed 1] [--workers 4]

Starts the real stack (tests/stack.py: bridge, action server, Rasa with MODEL, the RecordingServer
standing in for Meta and Twilio) and sends generated requests over raw sockets, so that anything
can be sent: random bytes, invalid UTF-8, huge bodies, deeply nested JSON, Unicode edge cases,
injection strings, shopper text shaped like Rasa commands, forged signatures and wrong, expired
or missing tokens. Targets: Rasa's REST webhook, the channel webhooks that are mounted
(whatsapp, messenger, twilio_whatsapp), Rasa's HTTP API, the bridge's `/api/*` and the console
login. It counts 5xx answers, requests let through without valid auth (a 2xx from a protected
endpoint without a valid token or signature; for the login, a redirect into the console), and
whether every process is still alive at the end. Exit code 1 if any of these is not zero.

`run_fuzz(stack, count, seconds, seed)` is also used by tests/bot/test_fuzz_smoke.py against the
test session's stack. Standard library and `requests` only.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import random
import re
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import quote, urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.stack import CHANNEL_ENV, running_stack  # noqa: E402

# -- inputs --------------------------------------------------------------------------------------

UNICODE = [
    "\u200f\u202eمرحبا\u202c", "\u200d\u200d\u200d", "👩\u200d👩\u200d👧\u200d👦", "🇮🇳🇧🇩", "e" + "\u0301" * 500,
    "क्\u200dष", "মেরা ऑर्डर কোথায়", "मेरा ऑर्डर KM-10234 कहाँ है?", "আমার অর্ডার DK-5002 কোথায়?",
    "०९८७६५४३२१", "০১৮১২৩৪৫৬৭৮", "\ufeffBOM", "\ufffd\ufffe\uffff", "\U0010ffff", "𝕳𝖊𝖑𝖑𝖔", "ﷺ" * 50,
    "\u0000nul", "\x1b[31mred\x1b[0m", "\r\n\r\nHTTP/1.1 200 OK", "a\u0308\u0308\u0308\u0308", "İı", "ß" * 300,
    "Z̸̢̛̪͎̈́a̷̡͙̓l̴̰̈́g̵͎̐ò̸̧", "\t\v\f", " " * 5000, "mera order kab aayega", "amar taka ferot chai",
]
INJECTION = [
    "' OR '1'='1' --", "1; DROP TABLE orders;--", "\" OR \"\"=\"", "admin'--", "'; SELECT pg_sleep(5);--",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", "{{7*7}}", "${7*7}",
    "${jndi:ldap://127.0.0.1/x}", "../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%00", "%s%s%s%n",
    "C:\\Windows\\win.ini", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "; ls -la",
    "$(id)", "`id`", "|| whoami", "<!--#exec cmd=\"id\"-->", "]]><x>", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
    "{\"$gt\": \"\"}", "__proto__", "constructor.prototype", "\\u0000", "NaN", "-1e999", "9" * 400,
]
COMMANDS = [
    "/restart", "/session_start", "/action_restart", "/inform{\"order_id\":\"X\"}",
    "/inform{\"order_id\":\"KM-10234\",\"phone\":\"+919876543210\"}", "/request_human", "/kb_helpful",
    "/affirm", "/nlu_fallback", "/greet{\"language\":\"bn\"}", "//restart", " /restart", "/restart\n/affirm",
    "/inform{", "/inform{\"verified\": true}", "/action_handoff_to_agent", "/out_of_scope[1]", "/" * 200,
    "/inform{\"handoff_status\":\"with_agent\"}", "/rate{\"rating\": 5}",
]
SHOPPER = [
    "where is my order KM-10234?", "cancel my order", "mujhe refund chahiye", "হ্যালো", "नमस्ते", "ok", "1",
    "talk to a human", "my phone is 98765 43210", "KM-10236", "#1001", "thanks", "", "   ",
]


class Gen:
    """Random inputs, reproducible from the seed."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def choice(self, items):  # type: ignore[no-untyped-def]
        return self.r.choice(items)

    def text(self) -> str:
        kind = self.r.random()
        if kind < 0.25:
            return self.choice(SHOPPER)
        if kind < 0.45:
            return self.choice(UNICODE)
        if kind < 0.6:
            return self.choice(INJECTION)
        if kind < 0.75:
            return self.choice(COMMANDS)
        if kind < 0.85:
            return "".join(chr(self.r.choice([self.r.randint(0x20, 0x7e), self.r.randint(0xa0, 0x2fff),
                                              self.r.randint(0x900, 0x9ff), self.r.randint(0x1f300, 0x1faff)]))
                           for _ in range(self.r.randint(1, 200)))
        if kind < 0.9:
            return self.choice(SHOPPER) + " " + self.choice(INJECTION + UNICODE + COMMANDS)
        return "x" * self.r.choice([3999, 4000, 4001, 20000])

    def ident(self) -> str:
        return self.choice(["x", "fuzz-" + str(self.r.randint(0, 50)), "+919876543210", "../../etc/passwd",
                            "%00", "a" * 300, "मेरा", "\u202e", "<script>", "' OR 1=1", "default", "null",
                            "🙂", " ", "x/../../y", "%2e%2e%2f", "CON", "x?y=z", "#"])

    def raw_bytes(self) -> bytes:
        n = self.r.choice([0, 1, 7, 64, 1024, 65536])
        return bytes(self.r.getrandbits(8) for _ in range(n)) if n <= 1024 else os.urandom(n)

    def invalid_utf8(self) -> bytes:
        return self.choice([b"\xff\xfe\xfd", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe0\x80", b"{\"message\": \"\xff\"}",
                            b"Body=\xff&From=whatsapp%3A%2B91", b"\x80" * 100, "मेरा".encode()[:-1]])

    def value(self, depth: int = 0):  # type: ignore[no-untyped-def]
        kind = self.r.randint(0, 9 if depth < 4 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return self.r.choice([True, False])
        if kind == 2:
            return self.r.choice([0, -1, 2 ** 63, -2 ** 64, 10 ** 400, 1.5, 1e308])
        if kind in (3, 4, 5):
            return self.text()
        if kind in (6, 7):
            return [self.value(depth + 1) for _ in range(self.r.randint(0, 4))]
        return {self.choice(["sender", "message", "text", "id", "from", "metadata", "__proto__", "", "ü"]):
                self.value(depth + 1) for _ in range(self.r.randint(0, 4))}

    def nested(self) -> bytes:
        depth = self.r.choice([100, 1000, 10000, 100000])
        opener, closer = self.choice([("[", "]"), ('{"a":', "}")])
        inner = opener * depth + "1" + closer * depth
        return self.choice([inner, '{"sender": "x", "message": ' + inner + "}"]).encode()

    def json_body(self, shape: Optional[dict] = None) -> Tuple[bytes, str]:
        """A body for a JSON endpoint: well-formed around `shape` or anything but."""
        kind = self.r.random()
        if shape is not None and kind < 0.45:
            return dumps(self.mutate(shape)), "application/json"
        if kind < 0.6:
            return dumps(self.value()), self.choice(["application/json", "text/plain", ""])
        if kind < 0.7:
            return self.nested(), "application/json"
        if kind < 0.78:
            return self.invalid_utf8(), "application/json"
        if kind < 0.86:
            return self.raw_bytes(), self.choice(["application/json", "application/octet-stream", "multipart/form-data; boundary=x"])
        if kind < 0.98:
            lone = '{"sender": "fuzz-s", "message": "\\ud800\\udfff\\udbff x\\u0000"}'
            return self.choice([lone, '{"sender": "x", "message": NaN}', '{"sender":"x","message":"a","sender":1}',
                                "[]", "null", "\"str\"", "{", "{}" * 1000]).encode(), "application/json"
        size = self.r.choice([200_000, 1_000_000, 3_000_000])
        return (b'{"sender": "x", "message": "' + b"a" * size + b'"}'), "application/json"

    def mutate(self, obj):  # type: ignore[no-untyped-def]
        """The same structure with some values replaced, keys dropped or added."""
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                roll = self.r.random()
                if roll < 0.08:
                    continue
                out[k] = self.value() if roll < 0.2 else self.mutate(v)
            if self.r.random() < 0.1:
                out[self.choice(["extra", "__class__", "id"])] = self.value()
            return out
        if isinstance(obj, list):
            items = [self.mutate(v) for v in obj]
            if items and self.r.random() < 0.1:
                items = items * self.r.randint(2, 30)
            return items
        if isinstance(obj, str) and self.r.random() < 0.5:
            return self.text()
        return obj


def dumps(value) -> bytes:  # type: ignore[no-untyped-def]
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, OverflowError):
        return b"{}"


# -- requests ------------------------------------------------------------------------------------

@dataclass
class Case:
    target: str
    base: str  # http://127.0.0.1:port
    method: str
    path: str  # already encoded (may hold anything)
    headers: Dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    protected: bool = False  # needs a token/signature
    authorized: bool = False  # carries a valid one
    login: bool = False  # the console login: a redirect out of the login page means let in
    garbage: Optional[bytes] = None  # send these bytes instead of an HTTP request


@dataclass
class Outcome:
    status: Optional[int]
    location: str = ""
    error: str = ""


def send(case: Case, timeout: float = 90.0) -> Outcome:
    """One request over a fresh socket (HTTP/1.1, Connection: close); the status line is read."""
    parts = urlsplit(case.base)
    if case.garbage is not None:
        data = case.garbage
    else:
        lines = [f"{case.method} {case.path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
                 f"Content-Length: {len(case.body)}"]
        lines += [f"{k}: {v}" for k, v in case.headers.items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + case.body
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (e.g. 413) and closed: read what it said
            sock.settimeout(timeout)
            received = b""
            deadline = time.monotonic() + timeout
            while b"\r\n\r\n" not in received and time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
    except socket.timeout:
        return Outcome(None, error="timeout")
    except OSError as e:
        return Outcome(None, error=type(e).__name__)
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    first, _, rest = head.partition("\r\n")
    bits = first.split(" ")
    if len(bits) < 2 or not bits[1].isdigit():
        return Outcome(None, error="closed without an answer" if not received else "no status line")
    location = next((line.split(":", 1)[1].strip() for line in rest.split("\r\n")
                     if line.lower().startswith("location:")), "")
    return Outcome(int(bits[1]), location=location)


# -- the targets ---------------------------------------------------------------------------------

class Targets:
    """Builds one random request for each kind of endpoint of the stack."""

    def __init__(self, stack: dict, gen: Gen, mounted: List[str], writes: bool = True) -> None:
        self.s, self.g = stack, gen
        self.writes = writes  # False: no valid-token writes into the bridge (a shared test stack)
        self.rasa, self.bridge = stack["rasa"], stack["bridge"]
        self.token, self.bridge_token = stack["token"], stack["bridge_token"]
        self.mounted = mounted
        self.meta_secret = CHANNEL_ENV["SAATHI_META_APP_SECRET"]
        self.twilio_token = CHANNEL_ENV["SAATHI_TWILIO_AUTH_TOKEN"]

    def builders(self) -> List[Tuple[str, float, Callable[[], Case]]]:
        out = [("rest", 3, self.rest), ("rasa_api", 3, self.rasa_api), ("bridge_api", 3, self.bridge_api),
               ("console", 1.5, self.console), ("widget", 1, self.widget), ("garbage", 0.5, self.garbage)]
        if "whatsapp" in self.mounted:
            out.append(("whatsapp", 2, self.whatsapp))
        if "messenger" in self.mounted:
            out.append(("messenger", 2, self.messenger))
        if "twilio_whatsapp" in self.mounted:
            out.append(("twilio_whatsapp", 2, self.twilio))
        return out

    def _path(self, template: str) -> str:
        return template.replace("{id}", quote(self.g.ident(), safe=self.g.choice(["", "/", "%"])))

    def rest(self) -> Case:
        body, ctype = self.g.json_body({"sender": "fuzz-" + str(self.g.r.randint(0, 40)), "message": self.g.text()})
        return Case("rest", self.rasa, "POST", "/webhooks/rest/webhook", {"Content-Type": ctype}, body)

    def _rasa_auth(self) -> Tuple[str, Dict[str, str], bool]:
        """(query, headers, valid) for Rasa's HTTP API: mostly missing or wrong tokens."""
        roll = self.g.r.random()
        fake_jwt = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in
                            ({"alg": "none", "typ": "JWT"}, {"user": {"username": "x", "role": "admin"}})) + "."
        wrong = self.g.choice(["", "wrong", self.token[:-1], self.token + "x", self.token.upper(),
                               "%00" + self.token, self.token[::-1], "null", "undefined", "a" * 5000,
                               quote("' OR 1=1 --"), quote("मेरा")])
        if roll < 0.2:
            return "", {}, False
        if roll < 0.6:
            return f"?token={wrong}", {}, False
        if roll < 0.7:
            return "", {"Authorization": self.g.choice([f"Bearer {fake_jwt}", f"Bearer {self.token}",
                                                        f"Token {self.token}", "Bearer "])}, False
        if roll < 0.75:  # near misses in the query itself
            return self.g.choice([f"?Token={self.token}", f"?token={self.token}%00", f"?token%00={self.token}",
                                  f"?tok%20en={self.token}", f"?token[]={self.token}"]), {}, False
        return f"?token={self.token}", {}, True

    def rasa_api(self) -> Case:
        query, headers, valid = self._rasa_auth()
        if valid:  # exercise what lies behind the token with harmless calls only
            method, path, shape = self.g.choice([
                ("GET", "/status", None), ("GET", "/conversations/{id}/tracker", None),
                ("POST", "/model/parse", {"text": self.g.text()}),
                ("POST", "/conversations/{id}/messages", {"text": self.g.text(), "sender": "user"}),
                ("GET", "/domain", None), ("GET", "/conversations/{id}/story", None),
            ])
        else:
            method, path, shape = self.g.choice([
                ("GET", "/model", None), ("GET", "/conversations/{id}/tracker", None), ("GET", "/status", None),
                ("PUT", "/model", {"model_file": "/etc/passwd"}), ("DELETE", "/model", None),
                ("POST", "/model/parse", {"text": "hi"}), ("POST", "/conversations/{id}/messages", {"text": "hi", "sender": "user"}),
                ("POST", "/conversations/{id}/tracker/events", [{"event": "bot", "text": "forged"}]),
                ("PUT", "/conversations/{id}/tracker/events", []), ("GET", "/conversations/{id}/story", None),
                ("POST", "/conversations/{id}/execute", {"name": "action_restart"}),
                ("POST", "/conversations/{id}/trigger_intent", {"name": "greet"}), ("GET", "/domain", None),
                ("POST", "/model/train", {}), ("POST", "/model/test/stories", {}),
            ])
        body, ctype = self.g.json_body(shape) if shape is not None else (b"", "")
        headers = {**headers, **({"Content-Type": ctype} if ctype else {}),
                   **({"Accept": "application/json"} if path == "/domain" else {})}
        if valid and path == "/model/parse":  # keep the parser's input a reasonable size
            body = body[:20000]
        return Case("rasa_api", self.rasa, method, self._path(path) + query, headers, body,
                    protected=True, authorized=valid)

    def _bearer(self) -> Tuple[Dict[str, str], bool]:
        roll = self.g.r.random()
        if roll < 0.3:
            return {"Authorization": f"Bearer {self.bridge_token}"}, True
        expired = hashlib.sha256(b"rotated" + self.bridge_token.encode()).hexdigest()[:len(self.bridge_token)]
        value = self.g.choice(["", "Bearer", "Bearer ", f"Bearer {expired}", f"Bearer {self.bridge_token[:-1]}",
                               f"Bearer {self.bridge_token}x", f"Basic {base64.b64encode(b'admin:admin').decode()}",
                               f"Bearer {self.bridge_token.upper()}", f"Token {self.bridge_token}",
                               f"Bearer {'a' * 8000}", "Bearer ' OR 1=1 --", f"Bearer {self.token}"])
        return ({"Authorization": value} if value or self.g.r.random() < 0.5 else {}), False

    def bridge_api(self) -> Case:
        headers, valid = self._bearer()
        method, path, shape = self.g.choice([
            ("POST", "/api/handoffs", {"conversation_id": "fuzz-" + str(self.g.r.randint(0, 40)), "channel": "rest",
                                       "language": "en", "reason": "request_human", "context": {"order_id": "KM-1"}}),
            ("GET", "/api/handoffs/{id}", None),
            ("POST", "/api/handoffs/{id}/rating", {"rating": 5}),
            ("POST", "/api/events", {"sender_id": "fuzz-1", "event": "user", "text": "hi", "timestamp": 1.0}),
            ("POST", "/api/events", [{"sender_id": "fuzz-2", "event": "bot", "text": "x", "input_channel": "rest"}]),
            ("GET", "/api/metrics", None), ("GET", "/api/metrics?days=" + quote(self.g.text()[:20]), None),
            ("GET", "/api/customers/{id}", None), ("POST", "/api/customers", {"phone": "+919876543210"}),
        ])
        if valid and method == "POST" and not self.writes:
            headers, valid = {"Authorization": f"Bearer {self.bridge_token[:-1]}"}, False
        body, ctype = self.g.json_body(shape) if shape is not None else (b"", "")
        if ctype:
            headers["Content-Type"] = ctype
        return Case("bridge_api", self.bridge, method, self._path(path), headers, body,
                    protected=True, authorized=valid)

    def widget(self) -> Case:
        """The website widget's public routes on the bridge: files, handoff status, catch-up."""
        since = self.g.choice(["60000", "0", "-1", "1e9", "86400001", quote(self.g.text()[:40], safe="")])
        path = self.g.choice(["/widget/status/{id}", "/widget/messages/{id}?since_ms=" + since,
                              "/widget/messages/{id}", "/widget/" + quote(self.g.text()[:60], safe="/.")])
        return Case("widget", self.bridge, "GET", self._path(path))

    def console(self) -> Case:
        roll = self.g.r.random()
        if roll < 0.25:  # pages behind the login, with forged or expired session cookies
            cookie = self.g.choice(["", "session=" + base64.b64encode(os.urandom(24)).decode(),
                                    "session=eyJhZ2VudF9pZCI6MX0.ZZZZZZ.forgedsignature",
                                    "session=" + "a" * 4000])
            path = self.g.choice(["/console/", "/console/queue.json", "/console/metrics", "/console/requests",
                                  "/console/handoffs/1", "/console/media/" + quote(self.g.ident(), safe="")])
            return Case("console", self.bridge, "GET", path, {"Cookie": cookie} if cookie else {}, b"",
                        protected=True)
        fields = {"email": self.g.choice(["admin@saathi.local", "asha@test-shop.in", self.g.text()[:200]]),
                  "password": self.g.text()[:500], "csrf_token": self.g.choice(["", "forged", self.g.text()[:100]])}
        if self.g.r.random() < 0.3:
            fields = self.g.mutate(fields)
        body = urlencode({k: v for k, v in fields.items() if isinstance(v, str)},
                         encoding="utf-8", errors="surrogatepass").encode()
        if self.g.r.random() < 0.15:
            body = self.g.invalid_utf8()
        return Case("console", self.bridge, "POST", "/console/login",
                    {"Content-Type": "application/x-www-form-urlencoded"}, body, login=True)

    def _meta(self, target: str, shape: dict) -> Case:
        if self.g.r.random() < 0.12:  # the verify handshake with wrong tokens
            q = urlencode({"hub.mode": self.g.choice(["subscribe", "x", ""]), "hub.challenge": "4242",
                           "hub.verify_token": self.g.choice(["", "wrong", "test-wa-verify-token1", self.g.text()[:50]])},
                          errors="surrogatepass")
            return Case(target, self.rasa, "GET", f"/webhooks/{target}/webhook?{q}", protected=True)
        body, ctype = self.g.json_body(shape)
        roll = self.g.r.random()
        valid = roll < 0.45
        if valid:
            sig = "sha256=" + hmac.new(self.meta_secret.encode(), body, hashlib.sha256).hexdigest()
        else:
            sig = self.g.choice([
                "", "sha256=", "sha256=" + "0" * 64,
                "sha256=" + hmac.new(b"wrong-secret", body, hashlib.sha256).hexdigest(),
                "sha1=" + hmac.new(self.meta_secret.encode(), body, hashlib.sha1).hexdigest(),
                "sha256=" + hmac.new(self.meta_secret.encode(), body + b" ", hashlib.sha256).hexdigest(),
                "sha256=" + hmac.new(self.meta_secret.encode(), body, hashlib.sha256).hexdigest().upper()[:-1],
                None])
        headers = {"Content-Type": ctype}
        if sig is not None:
            headers["X-Hub-Signature-256"] = sig
        return Case(target, self.rasa, "POST", f"/webhooks/{target}/webhook", headers, body,
                    protected=True, authorized=valid)

    def whatsapp(self) -> Case:
        n = self.g.r.randint(0, 30)
        wa = f"9198{n:08d}"
        msg = self.g.choice([
            {"from": wa, "id": f"wamid.FUZZ{self.g.r.getrandbits(48)}", "timestamp": "1700000000", "type": "text",
             "text": {"body": self.g.text()}},
            {"from": wa, "id": f"wamid.FUZZ{self.g.r.getrandbits(48)}", "type": "interactive",
             "interactive": {"type": "button_reply", "button_reply": {"id": self.g.choice(COMMANDS), "title": "x"}}},
            {"from": wa, "id": f"wamid.FUZZ{self.g.r.getrandbits(48)}", "type": "location",
             "location": {"latitude": self.g.value(), "longitude": 77.5, "name": self.g.text()}},
            {"from": wa, "id": f"wamid.FUZZ{self.g.r.getrandbits(48)}", "type": "image",
             "image": {"id": "../../" + self.g.ident(), "mime_type": "image/jpeg", "caption": self.g.text()}},
        ])
        shape = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"phone_number_id": CHANNEL_ENV["SAATHI_WHATSAPP_PHONE_NUMBER_ID"]},
            "contacts": [{"wa_id": wa, "profile": {"name": self.g.text()[:50]}}], "messages": [msg]}}]}]}
        return self._meta("whatsapp", shape)

    def messenger(self) -> Case:
        psid = str(7000000000 + self.g.r.randint(0, 30))
        event = self.g.choice([
            {"sender": {"id": psid}, "recipient": {"id": "1"}, "timestamp": 1,
             "message": {"mid": f"m_FUZZ{self.g.r.getrandbits(48)}", "text": self.g.text()}},
            {"sender": {"id": psid}, "recipient": {"id": "1"}, "postback": {"payload": self.g.choice(COMMANDS), "title": "x"}},
            {"sender": {"id": psid}, "message": {"mid": f"m_FUZZ{self.g.r.getrandbits(48)}",
                                                 "quick_reply": {"payload": self.g.choice(COMMANDS)}, "text": "x"}},
            {"sender": {"id": psid}, "message": {"mid": f"m_FUZZ{self.g.r.getrandbits(48)}", "attachments": [
                {"type": "image", "payload": {"url": self.g.choice(["file:///etc/passwd", "http://127.0.0.1:1/x",
                                                                   self.g.text()])}}]}},
        ])
        return self._meta("messenger", {"object": "page", "entry": [{"id": "1", "time": 1, "messaging": [event]}]})

    def twilio(self) -> Case:
        n = self.g.r.randint(0, 30)
        form = {"From": f"whatsapp:+9198{n:08d}", "To": CHANNEL_ENV["SAATHI_TWILIO_NUMBER"], "Body": self.g.text(),
                "MessageSid": f"SM{self.g.r.getrandbits(128):032x}", "AccountSid": CHANNEL_ENV["SAATHI_TWILIO_ACCOUNT_SID"],
                "NumMedia": "0"}
        if self.g.r.random() < 0.3:
            form = self.g.mutate(form)
        if self.g.r.random() < 0.1:
            form.update(NumMedia=self.g.choice(["1", "2", "-1", "x", "99"]), MediaUrl0=self.g.choice(
                ["file:///etc/passwd", "http://127.0.0.1:1/x", "../../x", self.g.text()]), MediaContentType0="image/jpeg")
        if self.g.r.random() < 0.1:
            form.update(Latitude=self.g.choice(["12.97", "nan", "inf", "1e999", "x", "-91"]), Longitude="77.59")
        params = [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in form.items()]
        body = urlencode(params, encoding="utf-8", errors="surrogatepass").encode()
        url = f"{self.rasa}/webhooks/twilio_whatsapp/webhook"
        roll = self.g.r.random()
        valid = roll < 0.45 and not any("\ud800" <= c <= "\udfff" for _, v in params for c in v)
        if roll < 0.85 and self.g.r.random() < 0.1:
            body = self.g.invalid_utf8() if self.g.r.random() < 0.5 else self.g.raw_bytes()
            valid = False

        def sig(token: str, u: str, ps: List[Tuple[str, str]]) -> str:
            data = u + "".join(k + v for k, v in sorted(ps))
            return base64.b64encode(hmac.new(token.encode(), data.encode("utf-8", "surrogatepass"), hashlib.sha1).digest()).decode()

        if valid:
            signature = sig(self.twilio_token, url, params)
        else:
            signature = self.g.choice([None, "", "forged", sig("wrong-token", url, params), sig(self.twilio_token, url + "/", params),
                                       sig(self.twilio_token, url, params + [("Extra", "1")]), sig(self.twilio_token, url, params)[:-2]])
        headers = {"Content-Type": self.g.choice(["application/x-www-form-urlencoded"] * 5 + ["application/json", ""])}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return Case("twilio_whatsapp", self.rasa, "POST", "/webhooks/twilio_whatsapp/webhook", headers, body,
                    protected=True, authorized=valid and headers["Content-Type"].startswith("application/x-www"))

    def garbage(self) -> Case:
        base = self.g.choice([self.rasa, self.bridge])
        data = self.g.choice([
            self.g.raw_bytes(), b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
            b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"GET /\xff\xfe HTTP/1.1\r\nHost: \xff\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
            b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /console/login HTTP/1.1\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n",
        ])
        return Case("garbage", base, "", "", garbage=data)


# -- the run -------------------------------------------------------------------------------------

@dataclass
class Report:
    sent: int = 0
    seconds: float = 0.0
    by_target: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    five_xx: List[str] = field(default_factory=list)
    let_through: List[str] = field(default_factory=list)
    no_answer: List[str] = field(default_factory=list)
    dead: List[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {"requests": self.sent, "seconds": round(self.seconds, 1), "five_xx": len(self.five_xx),
                "let_through_without_auth": len(self.let_through), "no_answer": len(self.no_answer),
                "crashed_processes": self.dead, "cores": os.cpu_count()}


def describe(case: Case, outcome: Outcome) -> str:
    body = case.garbage if case.garbage is not None else case.body
    path = case.path if len(case.path) < 240 else case.path[:100] + "…" + case.path[-130:]
    return (f"{case.target} {case.method} {path} -> {outcome.status or outcome.error} "
            f"headers={json.dumps(case.headers, ensure_ascii=True)[:200]} body={body[:160]!r} ({len(body)} bytes)")


def mounted_channels(rasa: str) -> List[str]:
    return [name for name in ("whatsapp", "messenger", "twilio_whatsapp")
            if requests.get(f"{rasa}/webhooks/{name}/", timeout=10).status_code == 200]


def run_fuzz(stack: dict, count: int = 10000, seconds: float = 1500.0, seed: int = 1, workers: int = 4,
             log: Callable[[str], None] = print, writes: bool = True) -> Report:
    gen = Gen(seed)
    targets = Targets(stack, gen, mounted_channels(stack["rasa"]), writes)
    builders = targets.builders()
    weights = [w for _, w, _ in builders]
    report, lock, started = Report(), threading.Lock(), time.monotonic()
    slots = threading.Semaphore(workers * 2)  # cases are built as they are sent (bodies can be MBs)
    deadline = started + seconds

    def one(case: Case) -> None:
        try:
            outcome = send(case)
        finally:
            slots.release()
        with lock:
            report.sent += 1
            report.by_target[case.target][str(outcome.status or outcome.error)[0] + ("xx" if outcome.status else "")] += 1
            if outcome.status is not None and outcome.status >= 500:
                report.five_xx.append(describe(case, outcome))
            elif outcome.status is None and case.garbage is None and outcome.error != "closed without an answer":
                report.no_answer.append(describe(case, outcome))
            let_in = (case.protected and not case.authorized and outcome.status is not None
                      and 200 <= outcome.status < 300)
            if case.login and outcome.status in (301, 302, 303, 307) and "login" not in outcome.location:
                let_in = True
            if let_in:
                report.let_through.append(describe(case, outcome))
            if report.sent % 1000 == 0:
                log(f"  {report.sent} requests, {time.monotonic() - started:.0f} s, "
                    f"5xx {len(report.five_xx)}, let through {len(report.let_through)}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in range(count):
            case = gen.r.choices(builders, weights)[0][2]()
            slots.acquire()
            if time.monotonic() > deadline:
                slots.release()
                break
            pool.submit(one, case)
    report.seconds = time.monotonic() - started
    for name, proc in stack.get("procs", {}).items():
        if proc.poll() is not None:
            report.dead.append(f"{name} (exit {proc.returncode})")
    for name, url in (("rasa", f"{stack['rasa']}/status?token={stack['token']}"), ("bridge", f"{stack['bridge']}/health"),
                      ("actions", f"{stack['actions']}/health")):
        try:
            if requests.get(url, timeout=30).status_code != 200:
                report.dead.append(f"{name} (health check not 200)")
        except requests.RequestException as e:
            report.dead.append(f"{name} (health check: {type(e).__name__})")
    return report


def print_report(report: Report, log: Callable[[str], None] = print) -> None:
    log(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    log(f"sent {report.sent} requests in {report.seconds:.0f} s")
    for target, counts in sorted(report.by_target.items()):
        log(f"  {target:16} " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    log(f"5xx responses: {len(report.five_xx)}")
    for line in report.five_xx[:20]:
        log("   " + line)
    log(f"let through without valid auth: {len(report.let_through)}")
    for line in report.let_through[:20]:
        log("   " + line)
    log(f"no answer (timeout or reset): {len(report.no_answer)}")
    for line in report.no_answer[:10]:
        log("   " + line)
    log(f"crashed processes: {len(report.dead)} {report.dead or ''}")
    log("summary: " + json.dumps(report.summary()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="trained model (.tar.gz)")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=1500.0, help="stop sending after this long")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="saathi-fuzz-") as work:
        print(f"starting the stack with {args.model} ...", flush=True)
        with running_stack(Path(work), args.model) as stack:
            print(f"fuzzing: {args.count} requests at most, {args.seconds:.0f} s at most, seed {args.seed}", flush=True)
            report = run_fuzz(stack, args.count, args.seconds, args.seed, args.workers,
                              log=lambda line: print(line, flush=True))
            print_report(report)
            for name, path in stack["logs"].items():
                text = Path(path).read_text(errors="replace")
                kinds = Counter(re.findall(r"^([A-Za-z_.]*(?:Error|Exception|Exit)\b[^\n]{0,80})", text, re.M))
                print(f"  {name} log: {text.count('Traceback')} tracebacks; most frequent error lines:")
                for line, n in kinds.most_common(8):
                    print(f"    {n:5} {line}")
    bad = report.five_xx or report.let_through or report.dead
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

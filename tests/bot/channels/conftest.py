"""Helpers for the Meta connectors' tests: signed webhooks in, recorded Graph API calls out.

The stack (tests/bot/conftest.py) points both connectors at its RecordingServer, which stands
in for Meta's Graph API; `tests.stack.CHANNEL_ENV` holds the app secret and tokens.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Optional

import pytest
import requests

from tests.stack import CHANNEL_ENV, tracker, user_events  # noqa: F401  (re-exported for the channel tests)

SECRET = CHANNEL_ENV["SAATHI_META_APP_SECRET"]
PHONE_NUMBER_ID = CHANNEL_ENV["SAATHI_WHATSAPP_PHONE_NUMBER_ID"]
DEVANAGARI = "\u0900-\u097f"
BENGALI = "\u0980-\u09ff"
AUTO = object()


def signature(body: bytes, secret: str = SECRET) -> str:
    """Computed here, independently of the connector's own code."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(stack: dict, channel: str, body: Any, sig: Any = AUTO) -> requests.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if sig is AUTO:
        headers["X-Hub-Signature-256"] = signature(raw)
    elif sig is not None:
        headers["X-Hub-Signature-256"] = sig
    return requests.post(f"{stack['rasa']}/webhooks/{channel}/webhook", data=raw, headers=headers, timeout=120)


def settle(recorder, count: int, timeout: float = 10) -> list[dict]:
    """The recorded calls, once at least `count` arrived and none came for a moment.

    The recorder appends a call after answering it, so a call can lag the caller's return.
    """
    deadline, seen = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        now = len(recorder.calls)
        if now >= count and now == seen:
            break
        seen = now
        time.sleep(0.3)
    return sorted(recorder.calls, key=lambda c: c["at"])


def new_mid(prefix: str = "wamid.TEST") -> str:
    return f"{prefix}{secrets.token_hex(8)}"


# -- WhatsApp ---------------------------------------------------------------------------

def wa_number() -> str:
    """A fresh shopper number (digits as WhatsApp sends them: country code, no '+')."""
    return "9199" + "".join(str(secrets.randbelow(10)) for _ in range(8))


def wa_text(sender: str, text: str, mid: Optional[str] = None) -> dict:
    return {"from": sender, "id": mid or new_mid(), "timestamp": str(int(time.time())), "type": "text",
            "text": {"body": text}}


def wa_envelope(messages: list[dict], statuses: Optional[list[dict]] = None) -> dict:
    value: dict = {"messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Test Shopper"}, "wa_id": m["from"]} for m in messages]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}]}


def wa_sends(recorder, to: str) -> list[dict]:
    """Messages the connector sent to this number through the (recorded) Graph API."""
    return [c["json"] for c in sorted(recorder.calls, key=lambda c: c["at"])
            if c["method"] == "POST" and c["path"] == f"/v19.0/{PHONE_NUMBER_ID}/messages"
            and (c["json"] or {}).get("to") == to]


def wa_texts(recorder, to: str) -> str:
    parts = []
    for m in wa_sends(recorder, to):
        if m["type"] == "text":
            parts.append(m["text"]["body"])
        elif m["type"] == "interactive":
            parts.append(m["interactive"]["body"]["text"])
    return "\n".join(parts)


# -- Messenger --------------------------------------------------------------------------

def psid() -> str:
    return "2" + "".join(str(secrets.randbelow(10)) for _ in range(15))


def fb_message(sender: str, text: Optional[str] = None, mid: Optional[str] = None, **message: Any) -> dict:
    body = {"mid": mid or new_mid("m_TEST"), **message}
    if text is not None:
        body["text"] = text
    return {"sender": {"id": sender}, "recipient": {"id": "PAGE1"}, "timestamp": int(time.time() * 1000),
            "message": body}


def fb_envelope(*entries: list[dict]) -> dict:
    return {"object": "page",
            "entry": [{"id": "PAGE1", "time": int(time.time() * 1000), "messaging": events} for events in entries]}


def fb_sends(recorder, recipient: str) -> list[dict]:
    return [c for c in sorted(recorder.calls, key=lambda c: c["at"])
            if c["method"] == "POST" and c["path"] == "/v19.0/me/messages"
            and ((c["json"] or {}).get("recipient") or {}).get("id") == recipient]


def fb_texts(recorder, recipient: str) -> str:
    return "\n".join(c["json"]["message"].get("text", "") for c in fb_sends(recorder, recipient))


@pytest.fixture
def recorder(stack: dict):
    return stack["recorder"]

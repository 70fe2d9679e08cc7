"""The website chat widget's files, its handoff-status lookup, and a demo storefront that embeds it.

- `/widget/<file>`: the widget (`static/widget/`: saathi.js, saathi.css, fonts, the vendored
  Socket.IO client), with `Access-Control-Allow-Origin: *` so any shop's site can embed it.
- `/widget/status/<session_id>`: the handoff state of a website conversation (queued, with an
  agent and the agent's first name, closed, ...), read by the widget after a reload or a bot
  reply. Only conversations of the `socketio` channel answer; the session id is the random id
  the shopper's browser holds, which already gives access to the conversation itself.
- `/widget/messages/<session_id>?since_ms=N`: what the bot, the bridge and the agent said to a
  website conversation in the last N milliseconds (at most a day), read from Rasa's tracker, in the
  shape of the socket's `bot_uttered` payloads (one list per message). A message pushed while the shopper's socket was
  reconnecting, or while the tab was closed, is otherwise lost to the page: the widget asks for
  them when its socket comes back and when a page with a conversation opens. Same rule as the
  status: only conversations of the `socketio` channel that have had a handoff answer.
- `/shop/`: a demo shop page with the one `<script>` tag a shop adds; its CSP allows the socket
  to `SAATHI_RASA_PUBLIC_URL`. The console keeps the app's strict CSP.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, render_template, request, send_from_directory
from sqlalchemy import select

from handoff_bridge.auth import bridge
from handoff_bridge.db import handoffs
from handoff_bridge.rasa_client import DELIVERED

bp = Blueprint("storefront", __name__, template_folder="templates")
WIDGET_DIR = Path(__file__).resolve().parent / "static" / "widget"
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
WIDGET_CHANNEL = "socketio"
MAX_CATCH_UP_MS = 24 * 3600 * 1000
MAX_CATCH_UP_MESSAGES = 50


def _cors(resp: Any) -> Any:
    """Readable from any origin (no credentials): the widget runs on the shops' own sites."""
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    resp.headers["Vary"] = "Origin"
    return resp


def socket_sources(rasa_url: str) -> str:
    """CSP sources for Rasa's Socket.IO endpoint: its HTTP origin (long-polling) and its WebSocket."""
    parts = urlsplit(rasa_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"SAATHI_RASA_PUBLIC_URL must be an http(s) URL, not {rasa_url!r}")
    ws = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {ws}://{parts.netloc}"


@bp.get("/widget/<path:filename>")
def widget_file(filename: str) -> Any:
    resp = send_from_directory(WIDGET_DIR, filename, max_age=300)
    return _cors(resp)


def _bad_request(detail: str = "session id: 8-64 letters, digits, - or _") -> Any:
    return _cors(jsonify(error="bad_request", detail=detail)), 400


def _is_widget_handoff(session_id: str) -> bool:
    with bridge().engine.connect() as conn:
        channel = conn.execute(select(handoffs.c.channel).where(handoffs.c.conversation_id == session_id)
                               .order_by(handoffs.c.id.desc()).limit(1)).scalar()
    return channel == WIDGET_CHANNEL


@bp.get("/widget/status/<session_id>")
def widget_status(session_id: str) -> Any:
    if not SESSION_ID.fullmatch(session_id):
        return _bad_request()
    b = bridge()
    body: dict[str, Any] = {"status": None}
    if _is_widget_handoff(session_id):
        state = b.status(session_id) or {}
        body = {k: v for k, v in state.items() if k != "handoff_id"}
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return _cors(resp)


@bp.get("/widget/messages/<session_id>")
def widget_messages(session_id: str) -> Any:
    if not SESSION_ID.fullmatch(session_id):
        return _bad_request()
    try:
        since_ms = int(request.args.get("since_ms", ""))
    except ValueError:
        return _bad_request("since_ms: whole milliseconds")
    if not 0 <= since_ms <= MAX_CATCH_UP_MS:
        return _bad_request(f"since_ms: 0 to {MAX_CATCH_UP_MS}")
    messages: list[list[dict[str, Any]]] = []  # per bot event, its socket messages
    if _is_widget_handoff(session_id):
        outcome, tracker = bridge().rasa.tracker(session_id)
        if outcome != DELIVERED or tracker is None:
            return _cors(jsonify(error="unavailable", detail="the conversation cannot be read now")), 503
        cutoff = time.time() - since_ms / 1000
        for event in tracker.get("events") or []:
            if event.get("event") == "bot" and float(event.get("timestamp") or 0) >= cutoff:
                messages.append(socket_payloads(event))
    resp = jsonify(messages=messages[-MAX_CATCH_UP_MESSAGES:])
    resp.headers["Cache-Control"] = "no-store"
    return _cors(resp)


def socket_payloads(event: dict[str, Any]) -> list[dict[str, Any]]:
    """A bot event as Rasa's socketio channel emits it (`OutputChannel.send_response`): the text,
    one message per paragraph with the buttons as quick replies on the last; an image; then a
    custom payload (the bridge's marker) as its own message."""
    data = event.get("data") or {}
    out: list[dict[str, Any]] = [{"text": part} for part in (event.get("text") or "").strip().split("\n\n") if part]
    buttons = [{"content_type": "text", "title": b.get("title"), "payload": b.get("payload")}
               for b in data.get("buttons") or [] if isinstance(b, dict)]
    if out and buttons:
        out[-1]["quick_replies"] = buttons
    if data.get("image"):
        out.append({"attachment": {"type": "image", "payload": {"src": data["image"]}}})
    custom = data.get("custom")
    if isinstance(custom, dict):
        out.append(custom["data"] if isinstance(custom.get("data"), dict) else custom)
    return out


@bp.get("/shop/")
def shop() -> Any:
    rasa_url = current_app.config["RASA_PUBLIC_URL"].rstrip("/")
    resp = current_app.make_response(render_template("shop.html", rasa_url=rasa_url))
    # The console's policy with one change: the socket to Rasa (and https images in bot messages).
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        f"font-src 'self'; connect-src 'self' {socket_sources(rasa_url)}; frame-ancestors 'none'")
    return resp

"""The website chat widget's files, its handoff-status lookup, and a demo storefront that embeds it.

- `/widget/<file>`: the widget (`static/widget/`: saathi.js, saathi.css, fonts, the vendored
  Socket.IO client), with `Access-Control-Allow-Origin: *` so any shop's site can embed it.
- `/widget/status/<session_id>`: the handoff state of a website conversation (queued, with an
  agent and the agent's first name, closed, ...), read by the widget after a reload or a bot
  reply. Only conversations of the `socketio` channel answer; the session id is the random id
  the shopper's browser holds, which already gives access to the conversation itself.
- `/shop/`: a demo shop page with the one `<script>` tag a shop adds; its CSP allows the socket
  to `SAATHI_RASA_PUBLIC_URL`. The console keeps the app's strict CSP.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from sqlalchemy import select

from handoff_bridge.auth import bridge
from handoff_bridge.db import handoffs

bp = Blueprint("storefront", __name__, template_folder="templates")
WIDGET_DIR = Path(__file__).resolve().parent / "static" / "widget"
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
WIDGET_CHANNEL = "socketio"


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


@bp.get("/widget/status/<session_id>")
def widget_status(session_id: str) -> Any:
    if not SESSION_ID.fullmatch(session_id):
        return _cors(jsonify(error="bad_request", detail="session id: 8-64 letters, digits, - or _")), 400
    b = bridge()
    with b.engine.connect() as conn:
        channel = conn.execute(select(handoffs.c.channel).where(handoffs.c.conversation_id == session_id)
                               .order_by(handoffs.c.id.desc()).limit(1)).scalar()
    body: dict[str, Any] = {"status": None}
    if channel == WIDGET_CHANNEL:
        state = b.status(session_id) or {}
        body = {k: v for k, v in state.items() if k != "handoff_id"}
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return _cors(resp)


@bp.get("/shop/")
def shop() -> Any:
    rasa_url = current_app.config["RASA_PUBLIC_URL"].rstrip("/")
    resp = current_app.make_response(render_template("shop.html", rasa_url=rasa_url))
    # The console's policy with one change: the socket to Rasa (and https images in bot messages).
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        f"font-src 'self'; connect-src 'self' {socket_sources(rasa_url)}; frame-ancestors 'none'")
    return resp

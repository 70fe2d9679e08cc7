"""Agent console: login, presence, live queue (SSE), conversations, tickets, metrics.

Server-rendered Jinja pages (autoescaped) plus static/console.js; shopper text is only ever put
into the page by Jinja escaping or by `textContent` in the script.
"""
from __future__ import annotations

import queue as queue_mod
import time
from datetime import datetime
from typing import Any, Optional

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, render_template, request,
                   session, url_for)
from sqlalchemy import select
from werkzeug.security import check_password_hash

from handoff_bridge.auth import (bridge, check_csrf, clear_login_failures, csrf_token, current_agent,
                                 login_blocked, login_required, record_login_failure)
from handoff_bridge.charts import duration
from handoff_bridge.db import agents, canned_responses, handoffs, outbox, shopper_events
from handoff_bridge.media import attachments_of, grant
from handoff_bridge.service import Result
from handoff_bridge.sse import format_event

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")

MAX_MESSAGE = 2000
MAX_NOTE = 1000
# Live events that carry what a shopper or an agent wrote: only for agents who may see the handoff.
CONVERSATION_EVENTS = frozenset({"shopper_message", "agent_message"})
# Compared against when the e-mail is unknown, so both paths take as long.
_DUMMY_HASH = "scrypt:32768:8:1$dummysaltdummys$" + "0" * 128


@bp.before_request
def _csrf() -> None:
    check_csrf()


@bp.app_template_filter("clock")
def _clock(ts: Optional[float]) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, bridge().tz).strftime("%d %b %H:%M")


@bp.app_template_filter("minutes")
def _minutes(seconds: Optional[float]) -> str:
    return duration(seconds)


def _agent_languages(agent: Any) -> list[str]:
    return [lang.strip() for lang in (agent.languages or "").split(",") if lang.strip()]


def _reply(result: Result, ok_message: str, redirect_to: str) -> Any:
    """JSON for fetch() callers, a flash + redirect for plain forms (refusals stay 403/404)."""
    if result.http in (403, 404) and not request.is_json:
        abort(result.http)
    if request.is_json:
        if result.ok:
            return jsonify(status="ok", **(result.data or {}))
        return jsonify(error=result.code), result.http
    flash(ok_message if result.ok else f"Not done: {result.code.replace('_', ' ')}")
    return redirect(redirect_to)


def _field(name: str, max_len: int, required: bool = True) -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    value = (data or {}).get(name, "")
    if not isinstance(value, str):
        abort(400, description=f"{name} must be text")
    value = value.strip()
    if (required and not value) or len(value) > max_len:
        abort(400, description=f"{name} must be 1..{max_len} characters")
    return value


# ---- login ------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    csrf_token()
    if request.method == "GET":
        return render_template("login.html")
    email = request.form.get("email", "").strip().lower()[:254]
    password = request.form.get("password", "")[:1024]
    if login_blocked(email):
        return render_template("login.html", error="Too many failed attempts. Try again in a few minutes."), 429
    with bridge().engine.connect() as conn:
        agent = conn.execute(select(agents).where(agents.c.email == email)).first()
    ok = check_password_hash(agent.password_hash if agent else _DUMMY_HASH, password)
    if not (agent and ok):
        record_login_failure(email)
        return render_template("login.html", error="Wrong e-mail or password."), 401
    clear_login_failures(email)
    session.clear()
    session["agent_id"] = agent.id
    csrf_token()
    bridge().set_presence(agent.id, "online")
    target = request.args.get("next", "")
    if not target.startswith("/console/") or target.startswith("//"):
        target = url_for("console.queue")
    return redirect(target)


@bp.post("/logout")
@login_required
def logout() -> Any:
    bridge().set_presence(current_agent().id, "offline")
    session.clear()
    return redirect(url_for("console.login"))


@bp.post("/presence")
@login_required
def presence() -> Any:
    value = _field("presence", 16)
    if value not in ("online", "away"):
        abort(400, description="presence must be online or away")
    bridge().set_presence(current_agent().id, value)
    if request.is_json:
        return jsonify(status="ok", presence=value)
    return redirect(request.referrer if (request.referrer or "").startswith(request.host_url)
                    else url_for("console.queue"))


# ---- queue ------------------------------------------------------------------------------------

def _queue_data(agent: Any) -> dict[str, Any]:
    b = bridge()
    now = b.now()
    langs = _agent_languages(agent)
    with b.engine.connect() as conn:
        waiting = b.queued(conn)
        mine = list(conn.execute(select(handoffs).where(
            handoffs.c.status == "with_agent", handoffs.c.agent_id == agent.id)
            .order_by(handoffs.c.claimed_at)))
        tickets = len(list(conn.execute(select(handoffs.c.id).where(handoffs.c.status == "offline_ticket"))))
        active = b.active_count(conn, agent.id)
    position = {row.id: pos for pos, row in enumerate(waiting, 1)}
    # Routing: conversations in my languages first, each group by waiting time (oldest first).
    ordered = sorted(waiting, key=lambda r: (r.language not in langs, r.created_at, r.id))

    def item(r: Any) -> dict[str, Any]:
        return {"id": r.id, "language": r.language, "channel": r.channel, "reason": r.reason,
                "waiting_seconds": round(now - r.created_at), "position": position.get(r.id),
                "mine_language": r.language in langs, "first_name": str((r.context or {}).get("first_name") or "")}

    return {"waiting": [item(r) for r in ordered], "mine": [item(r) for r in mine],
            "tickets": tickets, "capacity": agent.capacity, "active": active, "presence": agent.presence}


@bp.get("/")
@login_required
def queue() -> Any:
    agent = current_agent()
    return render_template("queue.html", agent=agent, data=_queue_data(agent))


@bp.get("/queue.json")
@login_required
def queue_json() -> Any:
    return jsonify(_queue_data(current_agent()))


@bp.post("/handoffs/<int:handoff_id>/claim")
@login_required
def claim(handoff_id: int) -> Any:
    result = bridge().claim(handoff_id, current_agent())
    target = url_for("console.conversation", handoff_id=handoff_id) if result.ok else url_for("console.queue")
    return _reply(result, "Claimed.", target)


# ---- conversation -----------------------------------------------------------------------------

def _load_visible(handoff_id: int) -> Any:
    agent = current_agent()
    with bridge().engine.connect() as conn:
        row = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).first()
    if row is None:
        abort(404)
    if not bridge().may_view(row, agent):
        abort(403)
    return row


def _transcript(conversation_id: str) -> tuple[Optional[list[dict[str, Any]]], str]:
    """User and bot turns from Rasa's tracker (the single source of truth), or None if unreadable."""
    outcome, tracker = bridge().rasa.tracker(conversation_id)
    if tracker is None:
        return None, outcome
    turns = []
    for ev in tracker.get("events") or []:
        if not isinstance(ev, dict) or ev.get("event") not in ("user", "bot"):
            continue
        attachments = attachments_of(ev.get("metadata")) if ev["event"] == "user" else []
        if not ev.get("text") and not attachments:
            continue
        ts = ev.get("timestamp")
        turns.append({"who": "shopper" if ev["event"] == "user" else "bot", "text": str(ev.get("text") or ""),
                      "at": float(ts) if isinstance(ts, (int, float)) else None, "attachments": attachments})
    return turns, outcome


def _agent_messages(handoff_id: int) -> list[dict[str, Any]]:
    with bridge().engine.connect() as conn:
        rows = conn.execute(select(outbox, agents.c.name).join(agents, agents.c.id == outbox.c.agent_id)
                            .where(outbox.c.handoff_id == handoff_id, outbox.c.kind == "message")
                            .order_by(outbox.c.id))
        return [{"id": r.id, "text": r.text, "state": r.state, "at": r.created_at, "agent": r.name}
                for r in rows]


@bp.get("/handoffs/<int:handoff_id>")
@login_required
def conversation(handoff_id: int) -> Any:
    row = _load_visible(handoff_id)
    agent = current_agent()
    turns, outcome = _transcript(row.conversation_id)
    with bridge().engine.connect() as conn:
        canned = list(conn.execute(select(canned_responses).where(
            canned_responses.c.language == row.language).order_by(canned_responses.c.id)))
        others = list(conn.execute(select(agents.c.id, agents.c.name, agents.c.presence).where(
            agents.c.id != agent.id, agents.c.presence != "offline").order_by(agents.c.name)))
        buffered = list(conn.execute(select(shopper_events).where(
            shopper_events.c.handoff_id == row.id).order_by(shopper_events.c.id)))
    can_act = row.status == "with_agent" and (row.agent_id == agent.id or agent.role == "admin")
    grant(agent, [a for t in turns or [] for a in t["attachments"]], row.id)
    return render_template("conversation.html", agent=agent, h=row, turns=turns, rasa_outcome=outcome,
                           buffered=buffered, canned=canned, others=others, can_act=can_act,
                           sent=_agent_messages(row.id))


@bp.get("/handoffs/<int:handoff_id>/messages.json")
@login_required
def messages_json(handoff_id: int) -> Any:
    row = _load_visible(handoff_id)
    return jsonify(status=row.status, messages=_agent_messages(row.id))


@bp.post("/handoffs/<int:handoff_id>/messages")
@login_required
def send_message(handoff_id: int) -> Any:
    text = _field("text", MAX_MESSAGE)
    result = bridge().agent_message(handoff_id, current_agent(), text)
    return _reply(result, "Sent.", url_for("console.conversation", handoff_id=handoff_id))


@bp.post("/handoffs/<int:handoff_id>/transfer")
@login_required
def transfer(handoff_id: int) -> Any:
    raw = _field("agent_id", 12)
    if not raw.isdigit():
        abort(400, description="agent_id must be a number")
    result = bridge().transfer(handoff_id, current_agent(), int(raw))
    target = url_for("console.queue") if result.ok else url_for("console.conversation", handoff_id=handoff_id)
    return _reply(result, "Transferred.", target)


@bp.post("/handoffs/<int:handoff_id>/close")
@login_required
def close(handoff_id: int) -> Any:
    note = _field("note", MAX_NOTE, required=False)
    result = bridge().close(handoff_id, current_agent(), note)
    return _reply(result, "Closed; the shopper is asked for a rating.", url_for("console.queue"))


# ---- offline tickets --------------------------------------------------------------------------

@bp.get("/tickets")
@login_required
def tickets() -> Any:
    with bridge().engine.connect() as conn:
        rows = list(conn.execute(select(handoffs).where(handoffs.c.status == "offline_ticket")
                                 .order_by(handoffs.c.created_at)))
    return render_template("tickets.html", agent=current_agent(), tickets=rows)


@bp.post("/tickets/<int:handoff_id>/answer")
@login_required
def answer_ticket(handoff_id: int) -> Any:
    text = _field("text", MAX_MESSAGE)
    result = bridge().answer_ticket(handoff_id, current_agent(), text)
    return _reply(result, "Answer sent; ticket closed.", url_for("console.tickets"))


# ---- metrics ----------------------------------------------------------------------------------

@bp.get("/metrics")
@login_required
def metrics() -> Any:
    from handoff_bridge.charts import metrics_charts
    from handoff_bridge.requests_page import help_centre_stats

    m = bridge().metrics()
    kb = help_centre_stats()
    return render_template("metrics.html", agent=current_agent(), m=m, charts=metrics_charts(m, kb))


# ---- live events ------------------------------------------------------------------------------

@bp.get("/stream")
@login_required
def stream() -> Response:
    """Server-Sent Events: new handoffs, claims, shopper messages, deliveries. Ends after a while;
    the browser's EventSource reconnects (each open stream holds one server thread). Messages
    reach only agents who may see their handoff; queue events (ids, language, reason) reach all."""
    from flask import current_app

    b = bridge()
    agent = current_agent()
    agent_id = agent.id
    max_seconds = float(current_app.config["STREAM_MAX_SECONDS"])
    keepalive = float(current_app.config["STREAM_KEEPALIVE"])
    sub = b.broker.subscribe()

    def events() -> Any:
        try:
            yield "retry: 3000\n\n"
            deadline = time.monotonic() + max_seconds
            while time.monotonic() < deadline:
                try:
                    kind, data = sub.get(timeout=keepalive)
                except queue_mod.Empty:
                    b.touch_agent(agent_id)
                    yield ": keepalive\n\n"
                    continue
                if kind in CONVERSATION_EVENTS:
                    if not b.visible_to(data.get("handoff_id"), agent):
                        continue  # another agent's conversation
                    grant(agent, data.get("attachments") or [], data.get("handoff_id"), b)
                yield format_event(kind, data)
        finally:
            b.broker.unsubscribe(sub)

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

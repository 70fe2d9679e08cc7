"""One shopper across channels, bridge side: the customer's history in the console, and the
bridge's share of a data-protection export or erasure.

Console: `customer_history(h)` (a Jinja global used by templates/_customer_history.html) finds the
customer of a handoff (the `customer_id` the action server put in the context, else the link of
this channel + sender id), lists the linked identities and each one's conversations, read from
Rasa's tracker store through the HTTP API (no copies), with earlier handoffs.

Service API (bearer token), conversation ids in the JSON body so no phone number ends in a URL:
`POST /api/customers/export` and `POST /api/customers/erase` with {"conversation_ids": [...]}.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Optional

import requests
from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import delete, select

from handoff_bridge.auth import bridge, require_bearer
from handoff_bridge.db import (conversation_languages, conversations_seen, handoffs, media_grants, outbox,
                               shopper_events)

logger = logging.getLogger(__name__)

bp = Blueprint("customer_records", __name__, url_prefix="/api/customers")

MAX_IDS = 200
SESSIONS_PER_IDENTITY = 5
TURNS_PER_SESSION = 200


# ---- reading Rasa's trackers -------------------------------------------------------------------

def tracker_events(conversation_id: str) -> Optional[list[dict[str, Any]]]:
    """Every event of a conversation (all sessions), or None when Rasa cannot be read."""
    rasa = bridge().rasa
    try:
        resp = rasa.session.get(rasa._url(conversation_id, "tracker"), params=rasa._params(include_events="ALL"),
                                timeout=rasa.timeout)
    except requests.RequestException as exc:
        logger.warning("rasa tracker read failed: %s", type(exc).__name__)
        return None
    if resp.status_code != 200:
        return None
    try:
        events = resp.json().get("events")
    except (ValueError, AttributeError):
        return None
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else None


def sessions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation split at each session start, newest first, only sessions with messages."""
    out: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for ev in events + [{"event": "session_started"}]:
        if ev.get("event") == "session_started":
            if current:
                channel = next((t["channel"] for t in current if t.get("channel")), "")
                out.append({"started": current[0]["at"], "ended": current[-1]["at"], "channel": channel,
                            "turns": current[:TURNS_PER_SESSION], "count": len(current)})
            current = []
            continue
        if ev.get("event") not in ("user", "bot") or not ev.get("text"):
            continue
        ts = ev.get("timestamp")
        current.append({"who": "shopper" if ev["event"] == "user" else "bot", "text": str(ev["text"]),
                        "at": float(ts) if isinstance(ts, (int, float)) else None,
                        "channel": ev.get("input_channel") if ev["event"] == "user" else None})
    return list(reversed(out))


def _store() -> Any:
    store = current_app.extensions.get("customer_store")
    if store is None:
        from actions.customers import CustomerStore
        from actions.orders.models import create_engine_for

        from actions.config import load_settings

        store = CustomerStore(create_engine_for(current_app.config["ORDERS_DB"]), load_settings().default_country)
        current_app.extensions["customer_store"] = store
    return store


def customer_history(h: Any) -> Optional[dict[str, Any]]:
    """What the console shows about the handoff's customer, or None when the shopper is not linked."""
    context = h.context or {}
    try:
        store = _store()
        customer_id = context.get("customer_id")
        customer = store.get(int(customer_id)) if isinstance(customer_id, int) else None
        if customer is None:
            customer = store.customer_for(h.channel, h.conversation_id)
    except Exception as exc:  # the conversation page must open even when the order database does not
        logger.warning("customer lookup failed: %s", type(exc).__name__)
        return {"error": "customer records unavailable"}
    if customer is None:
        return None
    identities = []
    ids = []
    for ident in store.identities(customer.id):
        ids.append(ident.sender_id)
        current = ident.sender_id == h.conversation_id
        events = None if current else tracker_events(ident.sender_id)
        identities.append({"channel": ident.channel, "sender_id": ident.sender_id, "method": ident.method,
                           "order_id": ident.order_id, "linked_at": ident.linked_at.timestamp(),
                           "current": current, "readable": current or events is not None,
                           "sessions": sessions(events or [])[:SESSIONS_PER_IDENTITY]})
    with bridge().engine.connect() as conn:
        earlier = [dict(r._mapping) for r in conn.execute(
            select(handoffs.c.id, handoffs.c.channel, handoffs.c.status, handoffs.c.reason, handoffs.c.created_at,
                   handoffs.c.rating).where(handoffs.c.conversation_id.in_(ids), handoffs.c.id != h.id)
            .order_by(handoffs.c.created_at.desc()).limit(20))] if ids else []
    return {"customer": customer, "identities": identities, "handoffs": earlier,
            "verified_order": context.get("order_id") if context.get("verified") else None}


# ---- export and erase ---------------------------------------------------------------------------

def _conversation_ids() -> list[str]:
    data = request.get_json(silent=True)
    ids = data.get("conversation_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or len(ids) > MAX_IDS or not all(
            isinstance(i, str) and 0 < len(i) <= 255 for i in ids):
        abort(400, description=f"conversation_ids must be a list of at most {MAX_IDS} non-empty strings")
    return list(dict.fromkeys(ids))


def _plain(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items()}


@bp.post("/export")
@require_bearer
def export() -> Any:
    """Everything the bridge holds on these conversations: handoffs (tickets, notes, ratings),
    agent messages and the live buffer of shopper messages."""
    ids = _conversation_ids()
    with bridge().engine.connect() as conn:
        rows = [_plain(r) for r in conn.execute(select(handoffs).where(handoffs.c.conversation_id.in_(ids))
                                                .order_by(handoffs.c.id))] if ids else []
        hids = [r["id"] for r in rows]
        sent = [_plain(r) for r in conn.execute(select(outbox).where(outbox.c.conversation_id.in_(ids))
                                                .order_by(outbox.c.id))] if ids else []
        buffered = [_plain(r) for r in conn.execute(select(shopper_events).where(
            shopper_events.c.handoff_id.in_(hids)).order_by(shopper_events.c.id))] if hids else []
    return jsonify(handoffs=rows, outbox=sent, shopper_events=buffered)


@bp.post("/erase")
@require_bearer
def erase() -> Any:
    """Delete the bridge's records of these conversations (handoffs with tickets and ratings, agent
    messages, the shopper-message buffer and the containment counter's hash)."""
    ids = _conversation_ids()
    counts = {"handoffs": 0, "outbox": 0, "shopper_events": 0, "conversations_seen": 0}
    if ids:
        keys = [hashlib.sha256(i.encode("utf-8")).hexdigest() for i in ids]
        with bridge().engine.begin() as conn:
            hids = [r.id for r in conn.execute(select(handoffs.c.id).where(handoffs.c.conversation_id.in_(ids)))]
            if hids:
                counts["shopper_events"] = conn.execute(
                    delete(shopper_events).where(shopper_events.c.handoff_id.in_(hids))).rowcount
                conn.execute(delete(media_grants).where(media_grants.c.handoff_id.in_(hids)))
            counts["outbox"] = conn.execute(delete(outbox).where(
                outbox.c.conversation_id.in_(ids) | outbox.c.handoff_id.in_(hids or [-1]))).rowcount
            counts["handoffs"] = conn.execute(delete(handoffs).where(handoffs.c.id.in_(hids or [-1]))).rowcount
            counts["conversations_seen"] = conn.execute(
                delete(conversations_seen).where(conversations_seen.c.key.in_(keys))).rowcount
            conn.execute(delete(conversation_languages).where(conversation_languages.c.key.in_(keys)))
        erased, seen = set(keys), bridge()._seen_keys
        seen.difference_update({k for k in seen if k.split(":", 1)[0] in erased})
    logger.info("erased the bridge's records of %d conversations", len(ids))
    return jsonify(status="erased", counts=counts)


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"customer_history": customer_history}

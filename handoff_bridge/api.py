"""Service API for the bot side: enqueue, status, rating, Rasa's event stream, metrics (bearer token)."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, jsonify, request

from handoff_bridge.auth import bearer_ok, bridge, current_agent, require_bearer
from handoff_bridge.messages import LANGUAGES
from handoff_bridge.service import REASONS

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_CONTEXT_BYTES = 4096
CONTEXT_VALUE_MAX = 500


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="body must be a JSON object")
    return data


def _str(data: dict[str, Any], key: str, *, max_len: int, required: bool = True, default: str = "") -> str:
    value = data.get(key, default)
    if value is None and not required:
        value = default
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        abort(400, description=f"{key} must be a string of at most {max_len} characters")
    return value.strip()


def _context(data: dict[str, Any]) -> dict[str, Any]:
    raw = data.get("context") or {}
    if not isinstance(raw, dict):
        abort(400, description="context must be an object")
    ctx: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or len(key) > 64:
            abort(400, description="context keys must be short strings")
        if isinstance(value, str):
            value = value[:CONTEXT_VALUE_MAX]
        elif not (value is None or isinstance(value, (bool, int, float))):
            abort(400, description="context values must be strings, numbers, booleans or null")
        ctx[key] = value
    if data.get("order_id") and "order_id" not in ctx and isinstance(data["order_id"], str):
        ctx["order_id"] = data["order_id"][:CONTEXT_VALUE_MAX]  # the action server sends it top-level
    if len(json.dumps(ctx, ensure_ascii=False).encode()) > MAX_CONTEXT_BYTES:
        abort(400, description="context too large")
    return ctx


@bp.post("/handoffs")
@require_bearer
def create_handoff() -> Any:
    """Queue a conversation for an agent (or open an offline ticket); idempotent per conversation."""
    data = _json_body()
    payload = {
        "conversation_id": _str(data, "conversation_id", max_len=255),
        "channel": _str(data, "channel", max_len=64, required=False, default="unknown") or "unknown",
        "language": _str(data, "language", max_len=16, required=False, default="en") or "en",
        "reason": _str(data, "reason", max_len=32, required=False, default="shopper_request"),
        "context": _context(data),
    }
    if payload["language"] not in LANGUAGES:
        abort(400, description=f"language must be one of {', '.join(LANGUAGES)}")
    if payload["reason"] not in REASONS:
        abort(400, description=f"reason must be one of {', '.join(REASONS)}")
    code, body = bridge().enqueue(payload)
    return jsonify(body), code


@bp.get("/handoffs/<conversation_id>")
@require_bearer
def handoff_status(conversation_id: str) -> Any:
    """Status of a conversation's handoff for the bot / widget banner."""
    body = bridge().status(conversation_id)
    if body is None:
        return jsonify(status="none"), 404
    return jsonify(body)


@bp.post("/handoffs/<conversation_id>/rating")
@require_bearer
def rate(conversation_id: str) -> Any:
    """Store the shopper's 1-5 rating on the conversation's latest closed handoff."""
    data = _json_body()
    rating = data.get("rating")
    if isinstance(rating, str) and rating.strip().isdigit():
        rating = int(rating.strip())
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        abort(400, description="rating must be an integer from 1 to 5")
    if not bridge().rate(conversation_id, rating):
        return jsonify(error="no closed handoff for this conversation"), 404
    return jsonify(status="ok", rating=rating)


@bp.post("/events")
@require_bearer
def events() -> Any:
    """Rasa's event broker forwards tracker events here (one object or a list); answers 202 at once."""
    data = request.get_json(silent=True)
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(e, dict) for e in items) or len(items) > 100:
        abort(400, description="body must be an event object or a list of them")
    outcomes = [bridge().handle_event(e) for e in items]
    return jsonify(status="accepted", outcomes=outcomes), 202


@bp.get("/metrics")
def metrics() -> Any:
    """Queue metrics; bearer token or a logged-in agent."""
    if not bearer_ok() and current_agent() is None:
        return jsonify(error="unauthorized"), 401
    try:
        days = int(request.args.get("days", "30"))
    except ValueError:
        abort(400, description="days must be an integer")
    if not 1 <= days <= 3650:
        abort(400, description="days must be 1..3650")
    from handoff_bridge.requests_page import help_centre_stats

    return jsonify(dict(bridge().metrics(days), help_centre=help_centre_stats()))

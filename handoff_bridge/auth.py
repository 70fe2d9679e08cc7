"""Bearer tokens for the service API; sessions, CSRF and the login rate limit for the console."""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from typing import Any, Callable, Optional, TypeVar

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for
from sqlalchemy import delete, func, insert, select

from handoff_bridge.db import login_attempts

F = TypeVar("F", bound=Callable[..., Any])


def bridge() -> Any:
    """The app's Bridge (queue logic, engine, Rasa client)."""
    return current_app.extensions["handoff_bridge"]


def bearer_ok() -> bool:
    """True when the request carries `Authorization: Bearer <bridge_token>` (constant-time compare)."""
    expected = current_app.config.get("BRIDGE_TOKEN") or ""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def require_bearer(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not bearer_ok():
            resp = jsonify(error="unauthorized")
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = 'Bearer realm="handoff_bridge"'
            return resp
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def current_agent() -> Optional[Any]:
    """The logged-in agent row (cached per request), or None."""
    if "agent" in g:
        return g.agent
    agent_id = session.get("agent_id")
    g.agent = bridge().get_agent(agent_id) if isinstance(agent_id, int) else None
    return g.agent


def wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json" \
        or request.path.endswith(".json")


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        agent = current_agent()
        if agent is None:
            if wants_json() or request.path.endswith("/stream"):
                return jsonify(error="login required"), 401
            return redirect(url_for("console.login", next=request.path))
        bridge().touch_agent(agent.id)
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_agent().role != "admin":
            abort(403)
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Abort 403 unless a POST carries the session's token (form field csrf_token or X-CSRF-Token)."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf") or ""
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, description="CSRF token missing or wrong")


# ---- login rate limit ------------------------------------------------------------------------

def _key(email: str) -> str:
    ip = request.remote_addr or "?"
    return hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()


def login_blocked(email: str) -> bool:
    """True when this e-mail + IP failed too often in the window."""
    b = bridge()
    window = current_app.config["LOGIN_WINDOW"]
    with b.engine.begin() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.at < b.now() - window))
        failures = conn.execute(select(func.count()).select_from(login_attempts).where(
            login_attempts.c.key == _key(email), login_attempts.c.at >= b.now() - window)).scalar_one()
    return failures >= current_app.config["LOGIN_MAX_FAILURES"]


def record_login_failure(email: str) -> None:
    b = bridge()
    with b.engine.begin() as conn:
        conn.execute(insert(login_attempts).values(key=_key(email), at=b.now()))


def clear_login_failures(email: str) -> None:
    b = bridge()
    with b.engine.begin() as conn:
        conn.execute(delete(login_attempts).where(login_attempts.c.key == _key(email)))

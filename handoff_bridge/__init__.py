"""Handoff bridge: the live-agent queue between Saathi's Rasa bot and the people behind it.

`create_app()` builds the Flask app: the service API (`/api`, bearer token), the agent console
(`/console`, session login) and `/health`. Settings come from `actions.config.load_settings()`;
`test_config` overrides any of the app config keys below (tests inject a CLOCK, URLs, ...).
"""
from __future__ import annotations

import secrets
from typing import Any, Optional

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


def create_app(test_config: Optional[dict[str, Any]] = None) -> Flask:
    """The bridge app; starts the outbox worker unless START_WORKER is false."""
    from actions.config import load_settings
    from handoff_bridge import api, console, media, requests_page
    from handoff_bridge.auth import csrf_token
    from handoff_bridge.db import init_db, make_engine
    from handoff_bridge.jsonsafe import StrictJSONProvider
    from handoff_bridge.rasa_client import RasaClient
    from handoff_bridge import storefront
    from handoff_bridge.service import Bridge

    app = Flask(__name__)
    app.json = StrictJSONProvider(app)  # too deep or unencodable JSON is a 400, not a 500
    settings = (test_config or {}).get("SETTINGS") or load_settings()
    app.config.from_mapping(
        SECRET_KEY=settings.bridge_secret_key or secrets.token_hex(32),
        BRIDGE_DB=settings.bridge_db,
        BRIDGE_TOKEN=settings.bridge_token,
        RASA_URL=settings.rasa_url,
        RASA_TOKEN=settings.rasa_token,
        RASA_PUBLIC_URL=settings.rasa_public_url,
        HTTP_TIMEOUT=settings.http_timeout,
        ORDERS_DB=settings.orders_db,
        KB_DB=settings.kb_db,
        MEDIA_DIR=settings.media_dir,
        AGENT_HOURS=settings.agent_hours,
        TIMEZONE=settings.timezone,
        CLOCK=None,  # callable -> aware datetime; tests inject one
        MAX_CONTENT_LENGTH=64 * 1024,
        OUTBOX_INTERVAL=3.0,
        START_WORKER=True,
        PRESENCE_TTL=180.0,
        STREAM_MAX_SECONDS=300.0,  # an SSE response ends after this; EventSource reconnects
        STREAM_KEEPALIVE=15.0,
        LOGIN_MAX_FAILURES=5,
        LOGIN_WINDOW=600,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="saathi_console",
    )
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if k != "SETTINGS"})

    engine = make_engine(app.config["BRIDGE_DB"])
    init_db(engine)
    rasa = RasaClient(app.config["RASA_URL"], app.config["RASA_TOKEN"], float(app.config["HTTP_TIMEOUT"]))
    bridge = Bridge(engine, rasa, agent_hours=app.config["AGENT_HOURS"], tz=app.config["TIMEZONE"],
                    clock=app.config["CLOCK"], presence_ttl=float(app.config["PRESENCE_TTL"]),
                    outbox_interval=float(app.config["OUTBOX_INTERVAL"]))
    if app.config.get("CLUSTER"):  # several bridge processes on one PostgreSQL (make run-scaled)
        from handoff_bridge.cluster import PgNotifyBroker

        bridge.broker = PgNotifyBroker(engine)
    app.extensions["handoff_bridge"] = bridge

    app.register_blueprint(storefront.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(requests_page.bp)
    from handoff_bridge import customer_records  # one shopper across channels: history, export, erase

    app.register_blueprint(customer_records.bp)
    app.register_blueprint(media.bp)
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/") or request.is_json or request.path == "/health":
            return jsonify(error=exc.name.lower(), detail=exc.description), exc.code
        return exc

    @app.after_request
    def security_headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'")
        return resp

    if app.config["START_WORKER"]:
        bridge.start()
    return app

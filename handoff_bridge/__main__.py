"""Command line: `python -m handoff_bridge serve` and `python -m handoff_bridge create-agent ...`."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional

from handoff_bridge.messages import LANGUAGES

MIN_PASSWORD = 10


def _serve(args: argparse.Namespace) -> int:
    from waitress import serve

    from actions.config import load_settings
    from actions.privacy import install_log_masking
    from handoff_bridge import create_app
    from handoff_bridge.db import masked_url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    settings = load_settings()
    if not settings.bridge_token:
        logging.warning("SAATHI_BRIDGE_TOKEN is empty: the service API will refuse every request")
    app = create_app({"CLUSTER": True} if args.cluster else None)
    port = args.port or settings.bridge_port
    logging.info("handoff bridge on %s:%s (db %s, %s threads)", args.host, port,
                 masked_url(settings.bridge_db), settings.bridge_workers)
    serve(app, host=args.host, port=port, threads=settings.bridge_workers,
          ident="saathi-bridge")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise SystemExit(f"environment variable {args.password_env} is not set")
        return value
    return Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")


def _create_agent(args: argparse.Namespace) -> int:
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from actions.config import load_settings
    from handoff_bridge.db import agents, init_db, make_engine

    password = _read_password(args)
    if len(password) < MIN_PASSWORD:
        print(f"error: the password must have at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if not languages or bad:
        print(f"error: languages must be among {', '.join(LANGUAGES)}", file=sys.stderr)
        return 2
    if not 1 <= args.capacity <= 50:
        print("error: capacity must be 1..50", file=sys.stderr)
        return 2
    email = args.email.strip().lower()
    if "@" not in email or len(email) > 254 or not args.name.strip():
        print("error: a name and a valid e-mail are needed", file=sys.stderr)
        return 2
    engine = make_engine(load_settings().bridge_db)
    try:
        init_db(engine)
        with engine.begin() as conn:
            if conn.execute(select(agents.c.id).where(agents.c.email == email)).first():
                print("error: an agent with this e-mail exists", file=sys.stderr)
                return 1
            agent_id = conn.execute(insert(agents).values(
                name=args.name.strip()[:120], email=email, password_hash=generate_password_hash(password),
                role=args.role, languages=",".join(languages), capacity=args.capacity,
                presence="offline").returning(agents.c.id)).scalar_one()
    finally:
        engine.dispose()
    print(f"created {args.role} #{agent_id} ({','.join(languages)}, capacity {args.capacity})")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff_bridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bridge under waitress (port, threads from settings)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, help="instead of SAATHI_BRIDGE_PORT (several processes)")
    serve.add_argument("--cluster", action="store_true",
                       help="one of several bridge processes on one PostgreSQL database: console "
                            "updates through LISTEN/NOTIFY, one outbox pass at a time")
    serve.set_defaults(func=_serve)
    agent = sub.add_parser("create-agent", help="add a console user (non-interactive)")
    agent.add_argument("--name", required=True)
    agent.add_argument("--email", required=True)
    secret = agent.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password-env", metavar="VAR", help="read the password from this variable")
    secret.add_argument("--password-file", metavar="PATH", help="read the password from this file")
    agent.add_argument("--languages", default="en", help="csv of en,hi,bn,hi-Latn,bn-Latn")
    agent.add_argument("--role", choices=("agent", "admin"), default="agent")
    agent.add_argument("--capacity", type=int, default=3)
    agent.set_defaults(func=_create_agent)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

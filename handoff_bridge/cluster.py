"""Several bridge processes on one PostgreSQL database (`make run-scaled`).

- `PgNotifyBroker`: console events go through PostgreSQL NOTIFY, and every process LISTENs, so a
  console connected to any process sees every queue update, whichever process caused it.
- `outbox_turn`: a transaction-scoped advisory lock, so one outbox pass at a time runs across all
  processes (two processes must never deliver the same agent message twice).
"""
from __future__ import annotations

import contextlib
import json
import logging
import select
import threading
from typing import Any, Iterator

import psycopg2
import psycopg2.extensions
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from handoff_bridge.sse import Broker

logger = logging.getLogger(__name__)

CHANNEL = "saathi_console"
OUTBOX_LOCK_KEY = 0x5AA7_0B0C  # any constant bigint shared by every bridge process
NOTIFY_MAX_BYTES = 7900  # PostgreSQL's payload limit is 8000 bytes
WAIT_FOR_TURN_S = 20


def _libpq_args(engine: Engine) -> dict[str, Any]:
    url = engine.url
    args = {"host": url.host, "port": url.port, "dbname": url.database, "user": url.username,
            "password": url.password, "connect_timeout": 5, **dict(url.query)}
    return {k: v for k, v in args.items() if v is not None}


def _payload(kind: str, data: dict[str, Any]) -> str:
    """JSON under NOTIFY's limit; an over-long shopper text is shortened (the transcript has it all)."""
    body = json.dumps({"kind": kind, "data": data}, ensure_ascii=False)
    if len(body.encode()) <= NOTIFY_MAX_BYTES:
        return body
    short = dict(data, text=str(data.get("text", ""))[:1500] + "…", truncated=True)
    return json.dumps({"kind": kind, "data": short}, ensure_ascii=False)


class PgNotifyBroker(Broker):
    """`Broker` whose events reach the subscribers of every process through LISTEN/NOTIFY."""

    def __init__(self, engine: Engine, maxsize: int = 200) -> None:
        super().__init__(maxsize)
        self.engine = engine
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._listen_forever, name="bridge-listen", daemon=True)
        self._thread.start()

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                             {"channel": CHANNEL, "payload": _payload(kind, data)})
        except Exception as error:  # the database is down: at least this process's consoles see it
            logger.warning("console event %s not shared with the other bridge processes: %s",
                           kind, error.__class__.__name__)
            super().publish(kind, data)

    def wait_listening(self, timeout: float = 10.0) -> bool:
        return self._listening.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _listen_forever(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._listen_once()
                delay = 0.5
            except Exception as error:
                self._listening.clear()
                logger.warning("console event listener lost PostgreSQL (%s); reconnecting in %.1f s",
                               error.__class__.__name__, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def _listen_once(self) -> None:
        conn = psycopg2.connect(**_libpq_args(self.engine))
        try:
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            while not self._stop.is_set():
                if select.select([conn], [], [], 5.0) == ([], [], []):
                    with conn.cursor() as cur:  # notices a dead server within the timeout
                        cur.execute("SELECT 1")
                    continue
                conn.poll()
                while conn.notifies:
                    note = conn.notifies.pop(0)
                    try:
                        event = json.loads(note.payload)
                        Broker.publish(self, event["kind"], event["data"])
                    except (ValueError, KeyError, TypeError):
                        logger.warning("ignored a malformed console event")
        finally:
            conn.close()


@contextlib.contextmanager
def outbox_turn(engine: Engine) -> Iterator[bool]:
    """Yields True while this process holds the cluster-wide outbox lock (False: not in time).

    SQLite (one process) always gets its turn.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn, conn.begin():  # the lock ends with this transaction
        conn.execute(text(f"SET LOCAL lock_timeout = '{WAIT_FOR_TURN_S}s'"))
        try:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_LOCK_KEY})
            got = True
        except DBAPIError as error:
            logger.info("outbox pass skipped: no turn within %d s (%s)", WAIT_FOR_TURN_S,
                        error.__class__.__name__)
            got = False
        yield got

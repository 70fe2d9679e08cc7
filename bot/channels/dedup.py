"""Each platform message handled once, even when the platform delivers it again.

Meta (and Twilio) redeliver a webhook when the answer is late or not 200, sometimes while the
first delivery is still being handled. A connector *claims* a message id before its turn: a row
in `channel_messages` (primary key: the id, prefixed by the channel). A second claim of the
same id fails, so the turn runs once. `done()` marks the turn finished; `release()` deletes the
claim when the turn failed, so that the platform's next delivery is handled. A claim left
`processing` for `stale_after` seconds (the process died mid-turn) may be taken over.
Rows older than `keep` are pruned (Meta retries for up to 7 days).

The table lives in `SAATHI_CHANNEL_DB` (SQLAlchemy URL; SQLite by default, PostgreSQL by URL),
shared by every connector and every Rasa replica pointing at the same database.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Dict, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError

logger = logging.getLogger(__name__)

_metadata = sa.MetaData()
channel_messages = sa.Table(
    "channel_messages",
    _metadata,
    sa.Column("message_key", sa.String(320), primary_key=True),  # "<channel>:<platform message id>"
    sa.Column("state", sa.String(12), nullable=False),  # processing, done
    sa.Column("claimed_at", sa.DateTime, nullable=False, index=True),
)

MAX_ID_CHARS = 300


def _now() -> dt.datetime:
    return dt.datetime.utcnow()


class DedupStore:
    """Claims of platform message ids in a SQL table (thread-safe; calls are short and blocking)."""

    def __init__(
        self,
        url: Optional[str] = None,
        keep: dt.timedelta = dt.timedelta(days=8),
        stale_after: dt.timedelta = dt.timedelta(minutes=5),
    ) -> None:
        if url is None:
            from bot.config import load_settings

            url = load_settings().channel_db
        self.engine = _engine(url)
        self.keep = keep
        self.stale_after = stale_after
        self._claims = 0

    @staticmethod
    def key(channel: str, message_id: str) -> str:
        return f"{channel}:{message_id}"[:MAX_ID_CHARS]

    def claim(self, channel: str, message_id: str) -> bool:
        """True when this caller may handle the message (first delivery, or a stale claim)."""
        key, now = self.key(channel, message_id), _now()
        try:
            with self.engine.begin() as c:
                c.execute(channel_messages.insert().values(message_key=key, state="processing", claimed_at=now))
        except IntegrityError:
            with self.engine.begin() as c:
                taken = c.execute(
                    channel_messages.update()
                    .where(channel_messages.c.message_key == key, channel_messages.c.state == "processing",
                           channel_messages.c.claimed_at < now - self.stale_after)
                    .values(claimed_at=now)
                ).rowcount
            if taken:
                logger.warning("taking over a stale claim of a %s message", channel)
            return bool(taken)
        self._claims += 1
        if self._claims % 1000 == 1:
            self.prune()
        return True

    def done(self, channel: str, message_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(channel_messages.update().where(channel_messages.c.message_key == self.key(channel, message_id))
                      .values(state="done"))

    def release(self, channel: str, message_id: str) -> None:
        """Forget a claim whose turn failed: the platform's redelivery is handled."""
        with self.engine.begin() as c:
            c.execute(channel_messages.delete().where(channel_messages.c.message_key == self.key(channel, message_id)))

    def first_time(self, key: str) -> bool:
        """Claim-and-finish in one call, for connectors that need no release on failure."""
        if not self.claim("", key):
            return False
        self.done("", key)
        return True

    def prune(self) -> int:
        with self.engine.begin() as c:
            return c.execute(channel_messages.delete().where(channel_messages.c.claimed_at < _now() - self.keep)).rowcount


_engines: Dict[str, Engine] = {}
_lock = threading.Lock()


def _engine(url: str) -> Engine:
    """One engine (and one CREATE TABLE) per database URL in this process."""
    with _lock:
        if url not in _engines:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
                # A file, as the tracker store: write-ahead log and kept connections (two commits a message).
                from bot.stores.strict_sql import sqlite_wal

                engine = sa.create_engine(url, future=True, poolclass=sa.pool.QueuePool,
                                          connect_args={"check_same_thread": False})
                sa.event.listen(engine, "connect", sqlite_wal)
            else:
                engine = sa.create_engine(url, future=True)
            _metadata.create_all(engine)
            _engines[url] = engine
        return _engines[url]

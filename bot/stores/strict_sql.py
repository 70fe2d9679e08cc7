"""SQL tracker store that retries, then fails loudly instead of losing a conversation.

Rasa 3.6 wraps every tracker store in `FailSafeTrackerStore` (rasa/core/agent.py): a failed save
goes to an in-memory store and a failed read returns None, so Rasa starts an EMPTY tracker.
`StrictSQLTrackerStore` retries each database operation with a bounded backoff and then raises
`TrackerStoreUnavailable`; `bot.stores.guard` makes the fail-safe wrapper re-raise it and the
channels answer the shopper "please wait a moment and send again".

Events go to the event broker only after they are stored (Rasa's SQL store publishes first, so a
retried or failed save would publish messages that were never stored, or publish them twice).

Reading a conversation back (every turn) parses every event of the session and replays them into
a new tracker. The store keeps the trackers it last saved or read (`cache_size`, default 1000)
and hands one back when the conversation's rows in the database are still exactly those it
holds (their count, highest id and sum of timestamps: one indexed query), so a write by another
replica, an erase, a changed timestamp or a failed turn always means a fresh read.

endpoints.yml:
    tracker_store:
      type: bot.stores.strict_sql.StrictSQLTrackerStore
      dialect: postgresql          # or sqlite
      url: 127.0.0.1               # host
      port: 5432
      db: saathi
      retries: 4                   # attempts per operation (default 4)
      retry_backoff: 0.25          # seconds before the 2nd attempt, doubled each time (default 0.25)
      cache_size: 1000             # conversations kept in memory (0: read every turn)
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any, Awaitable, Callable, List, Optional, Text, Tuple, TypeVar

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.stores.retry import retrying

logger = logging.getLogger(__name__)
T = TypeVar("T")
Version = Tuple[int, int, float]


def sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    """SQLite (the single-machine default) in write-ahead-log mode: a turn's commit appends to the
    log instead of rewriting pages with two syncs, and readers never wait for a writer. With
    synchronous=NORMAL a committed turn survives a crash of Rasa; only a power cut can lose the
    last ones. The scaled profile uses PostgreSQL."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class TrackerStoreUnavailable(Exception):
    """The tracker store could not be read or written after every retry."""


class StrictSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` with retries, stale-connection checks and no silent failure."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        retries: int = 4,
        retry_backoff: float = 0.25,
        connect_timeout: int = 3,
        cache_size: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
        self.retries = max(1, int(retries))
        self.cache_size = max(0, int(cache_size))
        # sender -> (stored version when cached, tracker, its number of events then)
        self._cache: "OrderedDict[Text, Tuple[Version, DialogueStateTracker, int]]" = OrderedDict()
        self.retry_backoff = max(0.0, float(retry_backoff))
        url = self.engine.url
        engine_kwargs = dict(create_engine_kwargs(url))
        if url.get_backend_name() == "postgresql":
            # A restarted server leaves dead pooled connections: test each one before use,
            # and never hang on a server that does not answer.
            engine_kwargs["pool_pre_ping"] = True
            connect_args = dict(engine_kwargs.get("connect_args", {}))
            connect_args["connect_timeout"] = int(connect_timeout)
            engine_kwargs["connect_args"] = connect_args
        if url.get_backend_name() == "sqlite":
            # SQLAlchemy 1.4 opens and closes a file database's connection for every session (a
            # NullPool): three times a turn. Keep a few open instead. Rasa uses the store from
            # its event-loop thread; a pooled connection is only ever used by one session at once.
            engine_kwargs["poolclass"] = sa.pool.QueuePool
            engine_kwargs["connect_args"] = {**engine_kwargs.get("connect_args", {}), "check_same_thread": False}
        self.engine.dispose()
        self.engine = sa.create_engine(url, **engine_kwargs)
        if url.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", sqlite_wal)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrying(self, what: str, sender_id: Text, op: Callable[[], Awaitable[T]]) -> T:
        return await retrying(op, store="tracker store", what=what, conversation_id=sender_id,
                              retries=self.retries, backoff=self.retry_backoff,
                              transient=lambda e: isinstance(e, sa.exc.SQLAlchemyError),
                              unavailable=TrackerStoreUnavailable)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrying("read", sender_id, lambda: self._retrieve_cached(sender_id))

    def _stored_version(self, sender_id: Text) -> Version:
        """(number of rows, highest row id, sum of timestamps) of the conversation: changes with
        every write, erase or change of a timestamp (what session expiry reads)."""
        table = self.SQLEvent.__table__
        query = sa.select(sa.func.count(table.c.id), sa.func.max(table.c.id), sa.func.sum(table.c.timestamp)) \
            .where(table.c.sender_id == sender_id)
        with self.engine.connect() as conn:
            count, highest, stamps = conn.execute(query).one()
        return int(count or 0), int(highest or 0), float(stamps or 0.0)

    async def _retrieve_cached(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        if not self.cache_size:
            return await super().retrieve(sender_id)
        version = self._stored_version(sender_id)
        hit = self._cache.get(sender_id)
        # The same rows, and the tracker unchanged since (a turn that failed after changing it
        # leaves more events than were stored): it is what a fresh read would build.
        if hit is not None and hit[0] == version and len(hit[1].events) == hit[2]:
            self._cache.move_to_end(sender_id)
            return hit[1]
        tracker = await super().retrieve(sender_id)
        self._remember(sender_id, version, tracker)
        return tracker

    def _remember(self, sender_id: Text, version: Version, tracker: Optional[DialogueStateTracker]) -> None:
        self._cache.pop(sender_id, None)
        if tracker is None:
            return
        # A fresh read holds the latest session only: cache only a tracker without earlier ones.
        if any(isinstance(e, SessionStarted) for i, e in enumerate(tracker.events) if i > 0):
            return
        self._cache[sender_id] = (version, tracker, len(tracker.events))
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrying(
            "read", conversation_id,
            lambda: super(StrictSQLTrackerStore, self).retrieve_full_tracker(conversation_id),
        )

    async def keys(self) -> Any:
        return await self._retrying("listing", "*", lambda: super(StrictSQLTrackerStore, self).keys())

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Does nothing: `save` publishes the new events once they are stored."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the events the database does not hold yet, then publishes exactly those."""
        sender_id = tracker.sender_id
        hit = self._cache.pop(sender_id, None)
        # A kept tracker knows how many of its events are stored; otherwise count them as Rasa
        # does (the events of the latest session; Rasa runs one turn of a conversation at a time).
        stored = hit[2] if hit is not None and hit[1] is tracker else None
        new_events = await self._retrying("save", sender_id, lambda: self._write(tracker, stored))
        if self.cache_size:
            try:
                self._remember(sender_id, self._stored_version(sender_id), tracker)
            except sa.exc.SQLAlchemyError:  # stored; the next turn reads it back
                pass
        if self.event_broker and new_events:
            await self._stream_new_events(self.event_broker, new_events, sender_id)

    async def _write(self, tracker: DialogueStateTracker, stored: Optional[int]) -> List[Event]:
        if stored is None:
            with self.session_scope() as session:
                stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        new_events = list(tracker.events)[stored:]
        rows = []
        for event in new_events:
            data = event.as_dict()
            rows.append({
                "sender_id": tracker.sender_id,
                "type_name": event.type_name,
                "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                "action_name": data.get("name"),
                "data": json.dumps(data),
            })
        if rows:
            with self.engine.begin() as conn:  # one transaction: all of the turn's events or none
                conn.execute(self.SQLEvent.__table__.insert(), rows)
        return new_events

"""SQL tracker store that retries, then fails loudly instead of losing a conversation.

Rasa 3.6 wraps every tracker store in `FailSafeTrackerStore` (rasa/core/agent.py): a failed save
goes to an in-memory store and a failed read returns None, so Rasa starts an EMPTY tracker.
`StrictSQLTrackerStore` retries each database operation with a bounded backoff and then raises
`TrackerStoreUnavailable`; `bot.stores.guard` makes the fail-safe wrapper re-raise it and the
channels answer the shopper "please wait a moment and send again".

Events go to the event broker only after they are stored (Rasa's SQL store publishes first, so a
retried or failed save would publish messages that were never stored, or publish them twice).

endpoints.yml:
    tracker_store:
      type: bot.stores.strict_sql.StrictSQLTrackerStore
      dialect: postgresql          # or sqlite
      url: 127.0.0.1               # host
      port: 5432
      db: saathi
      retries: 4                   # attempts per operation (default 4)
      retry_backoff: 0.25          # seconds before the 2nd attempt, doubled each time (default 0.25)
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Text, TypeVar

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
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
        **kwargs: Any,
    ) -> None:
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
        self.retries = max(1, int(retries))
        self._unpublished: Dict[Text, List[Event]] = {}  # sender -> events of the save in progress
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
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrying(self, what: str, sender_id: Text, op: Callable[[], Awaitable[T]]) -> T:
        delay = self.retry_backoff
        for attempt in range(1, self.retries + 1):
            try:
                return await op()
            except sa.exc.SQLAlchemyError as error:
                if attempt == self.retries:
                    logger.error("tracker store: %s of conversation %s failed %d times, giving up: %s",
                                 what, sender_id, attempt, error.__class__.__name__)
                    raise TrackerStoreUnavailable(f"tracker store unavailable ({what})") from error
                logger.warning("tracker store: %s of conversation %s failed (attempt %d of %d): %s",
                               what, sender_id, attempt, self.retries, error.__class__.__name__)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrying("read", sender_id, lambda: super(StrictSQLTrackerStore, self).retrieve(sender_id))

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrying(
            "read", conversation_id,
            lambda: super(StrictSQLTrackerStore, self).retrieve_full_tracker(conversation_id),
        )

    async def keys(self) -> Any:
        return await self._retrying("listing", "*", lambda: super(StrictSQLTrackerStore, self).keys())

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Does nothing: `save` publishes the new events once they are stored."""

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events `save` writes; kept so exactly those are published once committed."""
        events = list(super()._additional_events(session, tracker))
        self._unpublished[tracker.sender_id] = events
        return iter(events)

    async def save(self, tracker: DialogueStateTracker) -> None:
        # Rasa's own store reads the whole stored conversation back on every save to find what
        # to publish; the events the save itself adds are that difference (Rasa runs one turn
        # of a conversation at a time).
        try:
            await self._retrying("save", tracker.sender_id, lambda: super(StrictSQLTrackerStore, self).save(tracker))
            new_events = self._unpublished.get(tracker.sender_id, [])
        finally:
            self._unpublished.pop(tracker.sender_id, None)
        if self.event_broker and new_events:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

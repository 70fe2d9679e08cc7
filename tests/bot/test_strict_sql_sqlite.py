"""The single-machine tracker store: SQLite in write-ahead-log mode, conversations kept."""
from __future__ import annotations

import asyncio

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stores.strict_sql import StrictSQLTrackerStore


def test_sqlite_store_uses_wal_and_keeps_every_event(tmp_path):
    path = tmp_path / "tracker.db"
    store = StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    with store.engine.connect() as c:
        assert c.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(sa.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    assert isinstance(store.engine.pool, sa.pool.QueuePool)  # connections kept, not reopened per session
    tracker = DialogueStateTracker.from_events("web-wal-test", [
        ActionExecuted("action_listen"), UserUttered("मेरा ऑर्डर कहाँ है?"), BotUttered("ऑर्डर नंबर बताइए"),
        ActionExecuted("action_listen")])
    asyncio.run(store.save(tracker))
    # A second store on the same file (a restarted server) reads the same conversation.
    again = asyncio.run(StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path)).retrieve("web-wal-test"))
    assert [e.as_dict().get("text") for e in again.events if e.as_dict().get("text")] == \
        ["मेरा ऑर्डर कहाँ है?", "ऑर्डर नंबर बताइए"]


class RecordingBroker(EventBroker):
    def __init__(self) -> None:
        self.published: list = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


def test_exactly_the_stored_events_are_published_once(tmp_path):
    broker = RecordingBroker()
    store = StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"), event_broker=broker)
    tracker = DialogueStateTracker.from_events("web-broker-test", [ActionExecuted("action_listen"), UserUttered("hi")])
    asyncio.run(store.save(tracker))
    assert [e["event"] for e in broker.published] == ["action", "user"]
    tracker.update(BotUttered("Hello! I am Saathi."))
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    assert [e["event"] for e in broker.published] == ["action", "user", "bot", "action"]
    asyncio.run(store.save(tracker))  # nothing new: nothing published again
    assert len(broker.published) == 4
    assert store._unpublished == {}

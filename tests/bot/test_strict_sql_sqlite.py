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


def _texts(tracker) -> list:
    return [e.as_dict().get("text") for e in tracker.events if e.as_dict().get("text")]


def _fresh(path, sender):
    """What a store with nothing in memory reads (a restarted server)."""
    return asyncio.run(StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path), cache_size=0)
                       .retrieve(sender))


def test_a_kept_tracker_is_only_reused_while_the_database_holds_exactly_its_events(tmp_path):
    path = tmp_path / "t.db"
    store = StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    other = StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))  # another replica
    sender = "web-cache-test"
    tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen"), UserUttered("amar order kothay?")])
    asyncio.run(store.save(tracker))
    tracker = asyncio.run(store.retrieve(sender))  # read from the database once, then kept
    tracker.update(BotUttered("অর্ডার নম্বর?"))
    asyncio.run(store.save(tracker))
    kept = asyncio.run(store.retrieve(sender))
    assert kept is tracker  # nothing changed since the save: no read and replay
    assert [e.as_dict() for e in kept.events] == [e.as_dict() for e in _fresh(path, sender).events]

    # Another replica adds a turn: this store must read it, not hand back its own copy.
    theirs = asyncio.run(other.retrieve(sender))
    theirs.update(BotUttered("অর্ডার নম্বরটা দিন"))
    asyncio.run(other.save(theirs))
    seen = asyncio.run(store.retrieve(sender))
    assert seen is not tracker and _texts(seen) == ["amar order kothay?", "অর্ডার নম্বর?", "অর্ডার নম্বরটা দিন"]

    # A turn that changed the tracker but failed before saving: read again, without its events.
    seen.update(UserUttered("never stored"))
    again = asyncio.run(store.retrieve(sender))
    assert "never stored" not in _texts(again) and _texts(again) == _texts(_fresh(path, sender))

    # The shop erases the shopper's conversation (rows deleted by another process).
    with sa.create_engine(f"sqlite:///{path}").begin() as c:
        c.execute(sa.text("DELETE FROM events WHERE sender_id = :s"), {"s": sender})
    assert asyncio.run(store.retrieve(sender)) is None


def test_a_tracker_holding_an_earlier_session_is_not_kept(tmp_path):
    from rasa.shared.core.events import SessionStarted

    path = tmp_path / "t.db"
    store = StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    sender = "web-session-test"
    tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen"), UserUttered("old session")])
    asyncio.run(store.save(tracker))
    tracker = asyncio.run(store.retrieve(sender))
    assert asyncio.run(store.retrieve(sender)) is tracker  # kept
    # The session expires: Rasa adds the new session's start to the same tracker and saves it.
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("new session"))
    asyncio.run(store.save(tracker))
    assert _texts(asyncio.run(store.retrieve_full_tracker(sender))) == ["old session", "new session"]
    latest = asyncio.run(store.retrieve(sender))
    assert latest is not tracker  # a fresh read: the latest session only, as Rasa expects
    assert _texts(latest) == ["new session"] == _texts(_fresh(path, sender))
    assert asyncio.run(store.retrieve(sender)) is latest  # and that one is kept


def test_a_changed_timestamp_means_a_fresh_read(tmp_path):
    """Session expiry reads the events' timestamps: a row changed in place is not served from memory."""
    path = tmp_path / "t.db"
    store = StrictSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    sender = "web-stamp-test"
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen"), UserUttered("hi")])))
    kept = asyncio.run(store.retrieve(sender))
    assert asyncio.run(store.retrieve(sender)) is kept
    with sa.create_engine(f"sqlite:///{path}").begin() as c:
        c.execute(sa.text("UPDATE events SET timestamp = timestamp - 7200 WHERE sender_id = :s"), {"s": sender})
    assert asyncio.run(store.retrieve(sender)) is not kept

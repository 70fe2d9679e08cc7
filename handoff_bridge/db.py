"""The bridge's own state: agents, handoffs (queue and tickets), outbox, canned responses.

SQLAlchemy Core tables on SQLite (default, a file under run_dir) or PostgreSQL (by URL).
Times are stored as UTC epoch seconds (floats) so both backends compare and subtract them alike.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.types import JSON

metadata = MetaData()

OPEN_STATUSES = ("queued", "with_agent", "offline_ticket")
STATUSES = ("queued", "with_agent", "closed", "left", "offline_ticket")

agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False, default="agent"),
    Column("languages", String(120), nullable=False, default="en"),  # csv of language forms
    Column("capacity", Integer, nullable=False, default=3),
    Column("presence", String(16), nullable=False, default="offline"),  # online / away / offline
    Column("last_seen", Float),
)

handoffs = Table(
    "handoffs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", String(255), nullable=False),
    Column("channel", String(64), nullable=False, default="unknown"),
    Column("language", String(16), nullable=False, default="en"),
    Column("reason", String(32), nullable=False),
    Column("context", JSON, nullable=False, default=dict),
    Column("status", String(16), nullable=False),
    Column("agent_id", Integer, ForeignKey("agents.id")),
    Column("created_at", Float, nullable=False),
    Column("claimed_at", Float),
    Column("first_response_at", Float),
    Column("last_shopper_at", Float),
    Column("closed_at", Float),
    Column("close_note", Text),
    Column("rating", Integer),
    Column("last_notified_position", Integer),
)
Index("ix_handoffs_status_created", handoffs.c.status, handoffs.c.created_at)
Index("ix_handoffs_conversation", handoffs.c.conversation_id)
# At most one open handoff per conversation, enforced by the database (idempotent enqueue).
_OPEN_SQL = "status IN ('queued', 'with_agent', 'offline_ticket')"
Index(
    "ux_handoffs_open_conversation",
    handoffs.c.conversation_id,
    unique=True,
    sqlite_where=text(_OPEN_SQL),
    postgresql_where=text(_OPEN_SQL),
)

# Everything the bridge sends to Rasa, in order per conversation; retried while Rasa is down.
# kind: message (bot utterance; agent_id set when an agent wrote it), resume, slot.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handoff_id", Integer, ForeignKey("handoffs.id")),
    Column("conversation_id", String(255), nullable=False),
    Column("agent_id", Integer, ForeignKey("agents.id")),
    Column("kind", String(16), nullable=False, default="message"),
    Column("text", Text),
    Column("payload", JSON),  # buttons (message) or extra events (resume)
    Column("state", String(16), nullable=False, default="pending"),  # pending / delivered / failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
)
Index("ix_outbox_state", outbox.c.state, outbox.c.id)
Index("ix_outbox_handoff", outbox.c.handoff_id)

canned_responses = Table(
    "canned_responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("language", String(16), nullable=False),
    Column("title", String(120), nullable=False),
    Column("text", Text, nullable=False),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False),  # sha256 of email + IP, never the e-mail itself
    Column("at", Float, nullable=False),
)
Index("ix_login_attempts_key_at", login_attempts.c.key, login_attempts.c.at)

# A short live buffer of the latest shopper messages (SSE catch-up only; the transcript is Rasa's tracker).
shopper_events = Table(
    "shopper_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handoff_id", Integer, ForeignKey("handoffs.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", Float, nullable=False),
)
Index("ix_shopper_events_handoff", shopper_events.c.handoff_id, shopper_events.c.id)

# Which conversations the bot had (a hash of the id and the first time seen), for containment:
# the share of conversations that never needed a person. No text, no id in clear.
conversations_seen = Table(
    "conversations_seen",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("first_seen", Float, nullable=False, index=True),
)

# The languages each of those conversations used (a conversation that switches counts in both),
# for the handoff rate per language: handoffs in a language / conversations in that language.
conversation_languages = Table(
    "conversation_languages",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("language", String(16), primary_key=True),
    Column("first_seen", Float, nullable=False, index=True),
)

# Which shopper photos an agent was shown, and where: a conversation page or live event of a
# handoff (`handoff_id`; the photo stays readable while that handoff is), or the requests page
# (`handoff_id` null). `/console/media/<file>` serves a non-admin only what such a row allows.
media_grants = Table(
    "media_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", Integer, nullable=False),
    Column("file", String(200), nullable=False),
    Column("handoff_id", Integer, nullable=True),
    Column("at", Float, nullable=False),
)
Index("ix_media_grants_agent_file", media_grants.c.agent_id, media_grants.c.file)
Index("ix_media_grants_handoff", media_grants.c.handoff_id)

SEED_CANNED: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("Greeting", "Hi, I'm here to help. Let me look at your order."),
        ("Checking", "Thanks for waiting, I'm checking this with our team now."),
        ("Anything else", "Is there anything else I can help you with?"),
    ],
    "hi": [
        ("नमस्ते", "नमस्ते, मैं आपकी मदद के लिए यहाँ हूँ। मैं आपका ऑर्डर देख रहा/रही हूँ।"),
        ("जाँच", "इंतज़ार के लिए धन्यवाद, मैं अभी अपनी टीम से पता कर रहा/रही हूँ।"),
        ("और कुछ", "क्या मैं आपकी और किसी चीज़ में मदद कर सकता/सकती हूँ?"),
    ],
    "bn": [
        ("নমস্কার", "নমস্কার, আমি আপনাকে সাহায্য করতে এখানে আছি। আপনার অর্ডারটি দেখছি।"),
        ("যাচাই", "অপেক্ষা করার জন্য ধন্যবাদ, আমি এখনই আমাদের টিমের সাথে দেখছি।"),
        ("আর কিছু", "আর কিছুতে কি আপনাকে সাহায্য করতে পারি?"),
    ],
    "hi-Latn": [
        ("Namaste", "Namaste, main aapki madad ke liye yahan hoon. Main aapka order dekh raha/rahi hoon."),
        ("Check", "Intezaar ke liye shukriya, main abhi team se pata kar raha/rahi hoon."),
        ("Aur kuch", "Kya main aapki aur kisi cheez mein madad kar sakta/sakti hoon?"),
    ],
    "bn-Latn": [
        ("Nomoskar", "Nomoskar, ami apnake shahajjo korte ekhane achi. Apnar order ta dekhchi."),
        ("Jachai", "Opekkha korar jonno dhonnobad, ami ekhuni amader team er shathe dekhchi."),
        ("Ar kichu", "Ar kichu te ki apnake shahajjo korte pari?"),
    ],
}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL; SQLite files get WAL, a busy timeout and their parent dir."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def init_db(engine: Engine) -> None:
    """Create missing tables and seed the canned responses once."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(canned_responses)).scalar_one() == 0:
            rows = [
                {"language": lang, "title": title, "text": body}
                for lang, items in SEED_CANNED.items()
                for title, body in items
            ]
            conn.execute(insert(canned_responses), rows)


def masked_url(url: str) -> str:
    """The URL with its password hidden, for printing."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"

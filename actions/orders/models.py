"""SQLAlchemy 2.0 tables of the shop's orders and of what shoppers asked the bot to do.

Portable between SQLite and PostgreSQL: plain string statuses (checked by a CHECK
constraint rather than a native ENUM), Numeric totals, naive UTC timestamps.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Engine,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES: tuple[str, ...] = (
    "placed",
    "packed",
    "shipped",
    "out_for_delivery",
    "delivered",
    "delayed",
    "cancelled",
    "returned",
    "refund_initiated",
)


def utcnow() -> dt.datetime:
    """Now as a naive UTC datetime (how every timestamp is stored)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


_status_list = ", ".join(f"'{s}'" for s in STATUSES)


class OrderRow(Base):
    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[Optional[str]] = mapped_column(String(20))  # E.164
    email: Mapped[Optional[str]] = mapped_column(String(254))  # lower-case
    status: Mapped[str] = mapped_column(String(20))
    items: Mapped[str] = mapped_column(Text, default="")
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[Optional[str]] = mapped_column(String(8))
    placed_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    expected_delivery: Mapped[Optional[dt.date]] = mapped_column(Date)
    delivered_at: Mapped[Optional[dt.date]] = mapped_column(Date)
    courier: Mapped[Optional[str]] = mapped_column(String(100))
    tracking_number: Mapped[Optional[str]] = mapped_column(String(100))
    shipping_address: Mapped[Optional[str]] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(f"status IN ({_status_list})", name="ck_orders_status"),
        # Lookups by phone/e-mail, newest first, use one index each.
        Index("ix_orders_phone_placed", "phone", "placed_at"),
        Index("ix_orders_email_placed", "email", "placed_at"),
    )


class ReturnRequestRow(Base):
    __tablename__ = "return_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    # One open return request per order: the UNIQUE constraint makes a race harmless.
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AddressChangeRow(Base):
    __tablename__ = "address_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    new_address: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PaymentReportRow(Base):
    __tablename__ = "payment_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    order_id: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    bank_reference: Mapped[Optional[str]] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CancellationRow(Base):
    __tablename__ = "cancellations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine for a SQLAlchemy URL; SQLite files get WAL and a busy timeout, parent dirs are made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            from pathlib import Path

            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def init_db(engine: Engine) -> None:
    """Create the tables and indexes that do not exist yet."""
    Base.metadata.create_all(engine)


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for printing."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL we can parse: show nothing secret
        return "<unparseable database URL>"

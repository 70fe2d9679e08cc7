"""One shopper across channels: customer records and the channel identities linked to them.

A conversation that proves an order (actions/order_flow.py) links its (input channel, sender id)
to the customer of that order, keyed by the order's E.164 phone (its e-mail when it has none).
Nothing else links an identity: a WhatsApp number, a Messenger id or a website session is tied
to a name only after the shopper verified an order from it. The tables live in the order
database (SAATHI_ORDERS_DB) next to the action server's `bot_verified_orders`.

    python -m actions.customers export --phone +919876543210 > shopper.json
    python -m actions.customers erase --email priya@example.in [--yes]

(actions/customers/data.py says what export and erase cover.)
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    delete,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from actions.orders.models import Base, utcnow

if TYPE_CHECKING:
    from actions.config import Settings
    from actions.orders.provider import Order

logger = logging.getLogger(__name__)

WHATSAPP_CHANNELS = ("whatsapp", "twilio_whatsapp", "twilio")
MESSENGER_CHANNELS = ("messenger", "facebook")


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[Optional[str]] = mapped_column(String(20), unique=True)  # E.164: the key
    email: Mapped[Optional[str]] = mapped_column(String(254), index=True)  # lower-case
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[Optional[str]] = mapped_column(String(10))  # en, hi, bn, hi-Latn, bn-Latn
    last_channel: Mapped[Optional[str]] = mapped_column(String(64))
    last_sender_id: Mapped[Optional[str]] = mapped_column(String(255))
    last_seen_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)  # wrote STOP: no proactive messages
    opted_out_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class IdentityRow(Base):
    __tablename__ = "customer_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(20))  # how the order was proved: phone, email, channel
    order_id: Mapped[str] = mapped_column(String(64))  # the order that was proved
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "sender_id", name="uq_identity_channel_sender"),)


class OptOutRow(Base):
    """STOP from a sender that is not linked (yet): applied to the customer when it is linked."""

    __tablename__ = "notification_opt_outs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "sender_id", name="uq_optout_channel_sender"),)


class NoticeRow(Base):
    """A proactive message, sent at most once per (order, kind); kind carries the new date."""

    __tablename__ = "customer_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))  # e.g. delayed:2026-12-03
    customer_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(255))
    how: Mapped[str] = mapped_column(String(32))  # whatsapp_template, whatsapp_text, messenger, tracker
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("order_id", "kind", name="uq_notice_order_kind"),)


TABLES = [CustomerRow.__table__, IdentityRow.__table__, OptOutRow.__table__, NoticeRow.__table__]


@dataclass(frozen=True)
class Customer:
    id: int
    phone: Optional[str]
    email: Optional[str]
    name: str
    language: Optional[str]
    last_channel: Optional[str]
    last_sender_id: Optional[str]
    last_seen_at: Optional[dt.datetime]
    opted_out: bool

    @property
    def first_name(self) -> str:
        parts = (self.name or "").split()
        return parts[0] if parts else ""


@dataclass(frozen=True)
class Identity:
    channel: str
    sender_id: str
    method: str
    order_id: str
    linked_at: dt.datetime
    last_seen_at: dt.datetime


def _customer(row: CustomerRow) -> Customer:
    return Customer(row.id, row.phone, row.email, row.name or "", row.language, row.last_channel,
                    row.last_sender_id, row.last_seen_at, bool(row.opted_out))


def _identity(row: IdentityRow) -> Identity:
    return Identity(row.channel, row.sender_id, row.method, row.order_id, row.linked_at, row.last_seen_at)


class CustomerStore:
    """Customer records and linked identities in the order database."""

    def __init__(self, engine: Engine, default_country: str = "IN") -> None:
        self.engine = engine
        self.default_country = default_country
        Base.metadata.create_all(engine, tables=TABLES)

    # -- linking -----------------------------------------------------------------------------
    def link(self, channel: str, sender_id: str, order: "Order", method: str,
             language: Optional[str] = None) -> Optional[int]:
        """Tie (channel, sender) to the customer of a verified order; returns the customer id."""
        from bot.nlu.entity_rules import normalise_phone

        phone = normalise_phone(order.phone, self.default_country) if order.phone else None
        email = (order.email or "").strip().lower() or None
        if not phone and not email:
            return None
        for attempt in range(3):  # a concurrent first link of the same customer: retry once it exists
            try:
                return self._link_once(channel, sender_id, order, method, language, phone, email)
            except IntegrityError:
                if attempt == 2:
                    raise
        return None

    def _link_once(self, channel: str, sender_id: str, order: "Order", method: str, language: Optional[str],
                   phone: Optional[str], email: Optional[str]) -> int:
        now = utcnow()
        with Session(self.engine) as s, s.begin():
            key = CustomerRow.phone == phone if phone else (CustomerRow.phone.is_(None) & (CustomerRow.email == email))
            row = s.scalars(select(CustomerRow).where(key).order_by(CustomerRow.id).limit(1)).first()
            if row is None:
                row = CustomerRow(phone=phone, email=email, name=order.customer_name or "", created_at=now)
                s.add(row)
            row.name = order.customer_name or row.name
            row.email = email or row.email
            row.language = language or row.language
            row.last_channel, row.last_sender_id, row.last_seen_at = channel, sender_id, now
            s.flush()
            ident = s.scalars(select(IdentityRow).where(IdentityRow.channel == channel,
                                                        IdentityRow.sender_id == sender_id)).first()
            if ident is None:
                s.add(IdentityRow(customer_id=row.id, channel=channel, sender_id=sender_id, method=method,
                                  order_id=order.order_id, linked_at=now, last_seen_at=now))
            else:  # the latest proof wins (a shared device, another person's order)
                ident.customer_id, ident.method, ident.order_id = row.id, method, order.order_id
                ident.linked_at = ident.last_seen_at = now
            pending = s.scalars(select(OptOutRow).where(OptOutRow.channel == channel,
                                                        OptOutRow.sender_id == sender_id)).first()
            if pending is not None:
                row.opted_out, row.opted_out_at = True, pending.at
                s.delete(pending)
            return row.id

    # -- reading -----------------------------------------------------------------------------
    def customer_for(self, channel: Optional[str], sender_id: str) -> Optional[Customer]:
        """The customer this exact (channel, sender) was linked to through verification."""
        if not channel:
            return None
        with Session(self.engine) as s:
            row = s.scalars(select(CustomerRow).join(IdentityRow, IdentityRow.customer_id == CustomerRow.id)
                            .where(IdentityRow.channel == channel, IdentityRow.sender_id == sender_id)).first()
            return _customer(row) if row else None

    def get(self, customer_id: int) -> Optional[Customer]:
        with Session(self.engine) as s:
            row = s.get(CustomerRow, customer_id)
            return _customer(row) if row else None

    def find(self, phone: Optional[str] = None, email: Optional[str] = None) -> list[Customer]:
        """Customers with this phone (any written form) or e-mail."""
        from bot.nlu.entity_rules import normalise_phone

        conds = []
        if phone:
            norm = normalise_phone(phone, self.default_country)
            if norm:
                conds.append(CustomerRow.phone == norm)
        if email and email.strip():
            conds.append(CustomerRow.email == email.strip().lower())
        if not conds:
            return []
        with Session(self.engine) as s:
            return [_customer(r) for r in s.scalars(select(CustomerRow).where(or_(*conds)).order_by(CustomerRow.id))]

    def identities(self, customer_id: int) -> list[Identity]:
        with Session(self.engine) as s:
            rows = s.scalars(select(IdentityRow).where(IdentityRow.customer_id == customer_id)
                             .order_by(IdentityRow.last_seen_at.desc(), IdentityRow.id.desc()))
            return [_identity(r) for r in rows]

    # -- activity and consent ------------------------------------------------------------------
    def touch(self, channel: Optional[str], sender_id: str, language: Optional[str] = None) -> Optional[Customer]:
        """A linked identity wrote again: remember the channel (and language) it used last."""
        if not channel:
            return None
        now = utcnow()
        with Session(self.engine) as s, s.begin():
            ident = s.scalars(select(IdentityRow).where(IdentityRow.channel == channel,
                                                        IdentityRow.sender_id == sender_id)).first()
            if ident is None:
                return None
            ident.last_seen_at = now
            row = s.get(CustomerRow, ident.customer_id)
            row.last_channel, row.last_sender_id, row.last_seen_at = channel, sender_id, now
            if language:
                row.language = language
            s.flush()
            return _customer(row)

    def set_opt_out(self, channel: Optional[str], sender_id: str, opted_out: bool) -> Optional[Customer]:
        """STOP (True) or START (False) from this sender; unlinked senders are remembered for later."""
        channel = channel or "unknown"
        now = utcnow()
        with Session(self.engine) as s, s.begin():
            ident = s.scalars(select(IdentityRow).where(IdentityRow.channel == channel,
                                                        IdentityRow.sender_id == sender_id)).first()
            pending = select(OptOutRow).where(OptOutRow.channel == channel, OptOutRow.sender_id == sender_id)
            if ident is None:
                exists = s.scalars(pending).first()
                if opted_out and exists is None:
                    s.add(OptOutRow(channel=channel, sender_id=sender_id, at=now))
                elif not opted_out and exists is not None:
                    s.delete(exists)
                return None
            row = s.get(CustomerRow, ident.customer_id)
            row.opted_out, row.opted_out_at = opted_out, (now if opted_out else None)
            s.flush()
            return _customer(row)

    def is_opted_out(self, channel: str, sender_id: str) -> bool:
        """A STOP recorded for this exact sender before it was linked."""
        with Session(self.engine) as s:
            return s.scalars(select(OptOutRow.id).where(OptOutRow.channel == channel,
                                                        OptOutRow.sender_id == sender_id)).first() is not None

    # -- notices -----------------------------------------------------------------------------
    def notice_sent(self, order_id: str, kind: str) -> bool:
        with Session(self.engine) as s:
            return s.scalars(select(NoticeRow.id).where(NoticeRow.order_id == order_id,
                                                        NoticeRow.kind == kind)).first() is not None

    def claim_notice(self, order_id: str, kind: str, customer_id: int, channel: str, sender_id: str,
                     how: str) -> bool:
        """Record the notice before sending; False if another run claimed it (sent once)."""
        try:
            with Session(self.engine) as s, s.begin():
                s.add(NoticeRow(order_id=order_id, kind=kind, customer_id=customer_id, channel=channel,
                                sender_id=sender_id, how=how))
            return True
        except IntegrityError:
            return False

    def release_notice(self, order_id: str, kind: str) -> None:
        """Sending failed: the next run tries again."""
        with Session(self.engine) as s, s.begin():
            s.execute(delete(NoticeRow).where(NoticeRow.order_id == order_id, NoticeRow.kind == kind))

    # -- erase ----------------------------------------------------------------------------------
    def erase(self, customer_ids: list[int], senders: list[tuple[str, str]]) -> dict[str, int]:
        """Delete the customer records, their identities, notices and pending opt-outs."""
        counts: dict[str, int] = {}
        with Session(self.engine) as s, s.begin():
            if customer_ids:
                counts["customer_notices"] = s.execute(
                    delete(NoticeRow).where(NoticeRow.customer_id.in_(customer_ids))).rowcount
                counts["customer_identities"] = s.execute(
                    delete(IdentityRow).where(IdentityRow.customer_id.in_(customer_ids))).rowcount
                counts["customers"] = s.execute(delete(CustomerRow).where(CustomerRow.id.in_(customer_ids))).rowcount
            counts["notification_opt_outs"] = sum(s.execute(delete(OptOutRow).where(
                OptOutRow.channel == c, OptOutRow.sender_id == sid)).rowcount for c, sid in senders)
        return counts


_stores: dict[tuple[str, str], CustomerStore] = {}


def customer_store(settings: Optional["Settings"] = None) -> CustomerStore:
    """The store of the configured order database, made once per process."""
    from actions.config import load_settings
    from actions.orders.models import create_engine_for

    s = settings or load_settings()
    key = (s.orders_db, s.default_country)
    if key not in _stores:
        from actions.orders import verification  # noqa: F401  (its tables are created below too)
        from actions.orders.models import init_db

        engine = create_engine_for(s.orders_db)
        init_db(engine)  # a fresh database: orders and requests tables exist, empty
        _stores[key] = CustomerStore(engine, s.default_country)
    return _stores[key]


def link_verified(settings: "Settings", channel: Optional[str], sender_id: str, order: "Order", method: str,
                  language: Optional[str]) -> None:
    """Called when a conversation becomes verified for an order; never breaks the order turn."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        customer_store(settings).link(channel or "unknown", sender_id, order, method, language)
    except (SQLAlchemyError, OSError) as exc:
        logger.error("could not link the verified identity: %s", type(exc).__name__)


def greeting_name(settings: "Settings", channel: Optional[str], sender_id: str,
                  language: Optional[str] = None) -> str:
    """The first name to greet this sender with, or "" (unlinked, or a channel that proves nothing)."""
    allowed = {c.strip() for c in settings.greet_by_name_channels.split(",") if c.strip()}
    store = customer_store(settings)
    customer = store.touch(channel, sender_id, language)
    if customer is None or channel not in allowed:
        return ""
    return customer.first_name

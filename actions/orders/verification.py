"""Who has proved which order: the action server's own records, never a slot.

A slot can be set by a message (`/inform{...}` or a crafted tracker event), so whether a
conversation is verified for an order lives here, keyed by the conversation (sender) id.
The same tables count failed verifications (three in a conversation stop lookups) and
recent lookups per sender (rate limit).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import DateTime, Engine, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from actions.orders.models import Base, utcnow


class VerifiedRow(Base):
    __tablename__ = "bot_verified_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    order_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))  # phone, email, channel
    verified_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AttemptRow(Base):
    __tablename__ = "bot_order_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # lookup, failure
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class VerificationStore:
    def __init__(self, engine: Engine, valid_for: dt.timedelta = dt.timedelta(hours=24)) -> None:
        self.engine = engine
        self.valid_for = valid_for
        Base.metadata.create_all(engine, tables=[VerifiedRow.__table__, AttemptRow.__table__])

    def is_verified(self, sender_id: str, order_id: str, since: Optional[dt.datetime] = None) -> bool:
        """Verified for this order in this conversation (since its session start), recently."""
        floor = max(utcnow() - self.valid_for, since or dt.datetime.min)
        with Session(self.engine) as s:
            return s.scalar(
                select(func.count()).select_from(VerifiedRow).where(
                    VerifiedRow.sender_id == sender_id, VerifiedRow.order_id == order_id,
                    VerifiedRow.verified_at >= floor,
                )
            ) > 0

    def latest_verified(self, sender_id: str, since: Optional[dt.datetime] = None) -> Optional[str]:
        """The order this conversation proved most recently (for the agent's context)."""
        floor = max(utcnow() - self.valid_for, since or dt.datetime.min)
        with Session(self.engine) as s:
            return s.scalar(
                select(VerifiedRow.order_id).where(VerifiedRow.sender_id == sender_id, VerifiedRow.verified_at >= floor)
                .order_by(VerifiedRow.verified_at.desc(), VerifiedRow.id.desc()).limit(1)
            )

    def record_verified(self, sender_id: str, order_id: str, method: str) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(VerifiedRow(sender_id=sender_id, order_id=order_id, method=method))

    def record(self, sender_id: str, kind: str) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(AttemptRow(sender_id=sender_id, kind=kind))

    def count(self, sender_id: str, kind: str, since: dt.datetime) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(
                select(func.count()).select_from(AttemptRow).where(
                    AttemptRow.sender_id == sender_id, AttemptRow.kind == kind, AttemptRow.at >= since,
                )
            ) or 0)

"""OrderProvider over the shop's own SQL database (SQLite or PostgreSQL).

Point lookups only (primary key, or the phone/e-mail indexes), all parameterised.
Status changes are single conditional UPDATEs (`... WHERE status IN (...)`), so two
concurrent requests can never both cancel an order or cancel a shipped one.
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
from typing import Optional

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from actions.orders.models import (
    AddressChangeRow,
    CancellationRow,
    OrderRow,
    PaymentReportRow,
    ReturnRequestRow,
    utcnow,
)
from actions.orders.provider import (
    ADDRESS_CHANGEABLE,
    CANCELLABLE,
    RETURNED,
    AddressOutcome,
    CancelOutcome,
    Order,
    OrderProvider,
    ProviderUnavailable,
    ReturnOutcome,
    VerifyOutcome,
    new_reference,
    normalise_id,
    return_deadline,
)
from bot.nlu.entity_rules import normalise_phone

log = logging.getLogger(__name__)

_COLUMNS = [c for c in OrderRow.__table__.c]


def _aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def row_to_order(row: object) -> Order:
    """An Order from a result row of the orders table."""
    m = row._mapping  # type: ignore[attr-defined]
    return Order(
        order_id=m["order_id"],
        customer_name=m["customer_name"] or "",
        phone=m["phone"],
        email=m["email"],
        status=m["status"],
        items=m["items"] or "",
        total=m["total"],
        currency=m["currency"],
        placed_at=_aware(m["placed_at"]),  # type: ignore[arg-type]
        expected_delivery=m["expected_delivery"],
        delivered_at=m["delivered_at"],
        courier=m["courier"],
        tracking_number=m["tracking_number"],
        shipping_address=m["shipping_address"],
        updated_at=_aware(m["updated_at"]),
    )


def _same(a: Optional[str], b: Optional[str]) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())  # type: ignore[union-attr]


class SqlOrderProvider(OrderProvider):
    """Orders in a SQLAlchemy database created by `init_db`."""

    def __init__(self, engine: Engine, return_window_days: int = 10, default_country: str = "IN"):
        self.engine = engine
        self.return_window_days = return_window_days
        self.default_country = default_country

    # -- reads ---------------------------------------------------------------------------

    def get(self, order_id: str) -> Optional[Order]:
        oid = normalise_id(order_id)
        if not oid:
            return None
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(*_COLUMNS).where(OrderRow.order_id == oid)).first()
        except OperationalError as exc:
            raise ProviderUnavailable("the orders database cannot be reached") from exc
        return row_to_order(row) if row else None

    def verify(self, order_id: str, phone: Optional[str] = None, email: Optional[str] = None) -> VerifyOutcome:
        want_phone = normalise_phone(phone, self.default_country) if phone else None
        want_email = email.strip().lower() if email and email.strip() else None
        if phone and not want_phone:
            return "mismatch"  # an unparseable phone matches nothing
        if not want_phone and not want_email:
            return "mismatch"
        order = self.get(order_id)
        if order is None:
            return "mismatch"
        # Everything the shopper gave must match.
        if want_phone and not _same(want_phone, order.phone):
            return "mismatch"
        if want_email and not _same(want_email, (order.email or "").lower()):
            return "mismatch"
        return "verified"

    def recent_orders(
        self, phone: Optional[str] = None, email: Optional[str] = None, limit: int = 5
    ) -> list[Order]:
        limit = max(1, min(int(limit), 50))
        want_phone = normalise_phone(phone, self.default_country) if phone else None
        want_email = email.strip().lower() if email and email.strip() else None
        queries = []
        if want_phone:
            queries.append(OrderRow.phone == want_phone)
        if want_email:
            queries.append(OrderRow.email == want_email)
        if not queries:
            return []
        found: dict[str, Order] = {}
        try:
            with self.engine.connect() as conn:
                # One indexed query per identifier (an OR would defeat the indexes on some planners).
                for cond in queries:
                    stmt = select(*_COLUMNS).where(cond).order_by(OrderRow.placed_at.desc()).limit(limit)
                    for row in conn.execute(stmt):
                        order = row_to_order(row)
                        found[order.order_id] = order
        except OperationalError as exc:
            raise ProviderUnavailable("the orders database cannot be reached") from exc
        ordered = sorted(found.values(), key=lambda o: (o.placed_at, o.order_id), reverse=True)
        return ordered[:limit]

    # -- changes -------------------------------------------------------------------------

    def _status_of(self, conn, oid: str) -> Optional[str]:  # type: ignore[no-untyped-def]
        return conn.execute(select(OrderRow.status).where(OrderRow.order_id == oid)).scalar_one_or_none()

    def cancel(self, order_id: str, reason: str) -> CancelOutcome:
        oid = normalise_id(order_id)
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(OrderRow)
                    .where(OrderRow.order_id == oid, OrderRow.status.in_(CANCELLABLE))
                    .values(status="cancelled", updated_at=utcnow())
                ).rowcount
                if done == 1:
                    conn.execute(insert(CancellationRow).values(order_id=oid, reason=reason or "", created_at=utcnow()))
                    log.info("order %s cancelled", oid)
                    return "cancelled"
                status = self._status_of(conn, oid)
        except OperationalError as exc:
            raise ProviderUnavailable("the orders database cannot be reached") from exc
        if status is None:
            return "not_found"
        return "already_cancelled" if status == "cancelled" else "too_late"

    def create_return(self, order_id: str, reason: str, today: dt.date) -> ReturnOutcome:
        order = self.get(order_id)
        if order is None:
            return ReturnOutcome("not_found")
        if order.status in RETURNED:
            return ReturnOutcome("already_returned")
        if order.status != "delivered":
            return ReturnOutcome("not_delivered")
        deadline = return_deadline(order, self.return_window_days)
        if deadline is None:
            return ReturnOutcome("not_delivered")
        if today > deadline:
            return ReturnOutcome("outside_window", deadline=deadline)
        reference = new_reference("RET")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(ReturnRequestRow).values(
                        reference=reference, order_id=order.order_id, reason=reason or "", created_at=utcnow()
                    )
                )
        except IntegrityError:
            # The UNIQUE order_id: a return request for this order exists already.
            return ReturnOutcome("already_returned", deadline=deadline)
        except OperationalError as exc:
            raise ProviderUnavailable("the orders database cannot be reached") from exc
        log.info("return %s opened for order %s", reference, order.order_id)
        return ReturnOutcome("created", reference=reference, deadline=deadline)

    def change_address(self, order_id: str, new_address: str) -> AddressOutcome:
        oid = normalise_id(order_id)
        address = (new_address or "").strip()
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(OrderRow)
                    .where(OrderRow.order_id == oid, OrderRow.status.in_(ADDRESS_CHANGEABLE))
                    .values(shipping_address=address, updated_at=utcnow())
                ).rowcount
                if done == 1:
                    conn.execute(
                        insert(AddressChangeRow).values(order_id=oid, new_address=address, created_at=utcnow())
                    )
                    return "changed"
                status = self._status_of(conn, oid)
        except OperationalError as exc:
            raise ProviderUnavailable("the orders database cannot be reached") from exc
        return "not_found" if status is None else "too_late"

    def record_payment_issue(self, order_id: Optional[str], bank_reference: Optional[str]) -> str:
        oid = normalise_id(order_id) if order_id else None
        reference = new_reference("PAY")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(PaymentReportRow).values(
                        reference=reference,
                        order_id=oid or None,
                        bank_reference=(bank_reference or "").strip() or None,
                        created_at=utcnow(),
                    )
                )
        except OperationalError as exc:
            raise ProviderUnavailable("the orders database cannot be reached") from exc
        return reference

    def count(self) -> int:
        """Number of orders (used by the seeders and tests)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(OrderRow)).scalar_one())

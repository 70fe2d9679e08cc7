"""The order data interface the conversation actions use, independent of where orders live.

Every method returns an outcome (a string or a small dataclass) rather than raising for
ordinary business results. Only infrastructure failures raise `ProviderUnavailable`.
Outcomes never reveal whether an order exists to someone who has not verified it:
`verify` answers "mismatch" for unknown orders too.
"""
from __future__ import annotations

import abc
import datetime as dt
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Optional

from bot.nlu.entity_rules import normalise_order_id

VerifyOutcome = Literal["verified", "mismatch"]
CancelOutcome = Literal["cancelled", "already_cancelled", "too_late", "not_found"]
AddressOutcome = Literal["changed", "too_late", "not_found", "not_supported"]
ReturnOutcomeName = Literal[
    "created", "outside_window", "not_delivered", "already_returned", "not_found", "not_supported"
]

# Cancelling is possible until the parcel is with the courier; the address until packing.
CANCELLABLE = ("placed", "packed")
ADDRESS_CHANGEABLE = ("placed",)
RETURNED = ("returned", "refund_initiated")

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


class ProviderUnavailable(RuntimeError):
    """The order system cannot be reached or refused us; the bot should apologise / hand off."""


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_name: str
    phone: Optional[str]
    email: Optional[str]
    status: str
    items: str
    total: Decimal
    currency: Optional[str]
    placed_at: dt.datetime  # timezone-aware, UTC
    expected_delivery: Optional[dt.date] = None
    delivered_at: Optional[dt.date] = None
    courier: Optional[str] = None
    tracking_number: Optional[str] = None
    shipping_address: Optional[str] = None
    updated_at: Optional[dt.datetime] = None

    @property
    def first_name(self) -> str:
        """The first word of the customer's name ("" if there is none)."""
        parts = (self.customer_name or "").split()
        return parts[0] if parts else ""


@dataclass(frozen=True)
class ReturnOutcome:
    outcome: ReturnOutcomeName
    reference: Optional[str] = None
    deadline: Optional[dt.date] = None  # last day a return is accepted


def normalise_id(raw: str) -> str:
    """Canonical order id: ASCII digits, upper-case, no spaces ("# 1001" -> "#1001")."""
    return re.sub(r"\s+", "", normalise_order_id(raw or ""))


def new_reference(prefix: str, length: int = 8) -> str:
    """A random, unguessable reference such as RET-7KQ2M9XA."""
    return f"{prefix}-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(length))


def return_deadline(order: Order, window_days: int) -> Optional[dt.date]:
    """Last day a return is accepted, counted from delivery (None if never delivered)."""
    delivered = order.delivered_at
    if delivered is None and order.status == "delivered":
        # Delivered but the shop never told us when: the most conservative known date.
        delivered = order.expected_delivery or (order.updated_at.date() if order.updated_at else None)
    return delivered + dt.timedelta(days=window_days) if delivered else None


def mask_phone(phone: Optional[str]) -> str:
    """+919876543210 -> +91******3210 (for logs)."""
    if not phone:
        return "-"
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:]


def mask_email(email: Optional[str]) -> str:
    """priya@example.in -> p***@example.in (for logs)."""
    if not email or "@" not in email:
        return "-"
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


class OrderProvider(abc.ABC):
    """Where orders live: the shop's own database (SqlOrderProvider) or Shopify."""

    @abc.abstractmethod
    def get(self, order_id: str) -> Optional[Order]:
        """The order, or None. Callers must `verify` before showing it to a shopper."""

    @abc.abstractmethod
    def verify(self, order_id: str, phone: Optional[str] = None, email: Optional[str] = None) -> VerifyOutcome:
        """"verified" if the given phone/e-mail belong to the order, else "mismatch" (also if unknown)."""

    @abc.abstractmethod
    def recent_orders(
        self, phone: Optional[str] = None, email: Optional[str] = None, limit: int = 5
    ) -> list[Order]:
        """The newest orders of that phone or e-mail (newest first)."""

    @abc.abstractmethod
    def cancel(self, order_id: str, reason: str) -> CancelOutcome:
        """Cancel while the order is placed or packed."""

    @abc.abstractmethod
    def create_return(self, order_id: str, reason: str, today: dt.date) -> ReturnOutcome:
        """Open a return request if the order was delivered within the return window."""

    @abc.abstractmethod
    def change_address(self, order_id: str, new_address: str) -> AddressOutcome:
        """Change the delivery address while the order is only placed (not yet packed)."""

    @abc.abstractmethod
    def record_payment_issue(self, order_id: Optional[str], bank_reference: Optional[str]) -> str:
        """Record "I paid but the order failed"; returns the reference to give the shopper."""

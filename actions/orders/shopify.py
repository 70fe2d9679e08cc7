"""OrderProvider over the Shopify Admin REST API.

Every request has a timeout; 429, 5xx and connection errors/timeouts are retried with
exponential backoff (429's Retry-After is respected, capped); after the retries, or on an
auth error, `ProviderUnavailable` is raised. The token is sent as X-Shopify-Access-Token
and never logged; phones and e-mails are logged masked only.

Status mapping (Shopify order -> Saathi status), first rule that applies:

* ``cancelled_at`` set                                     -> ``cancelled``
* ``fulfillment_status == "restocked"``                    -> ``returned``
* ``financial_status`` ``refunded``/``partially_refunded``  -> ``refund_initiated``
* no fulfillments (``fulfillment_status`` null/unfulfilled) -> ``placed``
* newest fulfillment's ``shipment_status``:
  ``delivered`` -> ``delivered``; ``out_for_delivery`` -> ``out_for_delivery``;
  ``attempted_delivery``/``failure``/``delayed`` -> ``delayed``;
  ``label_printed``/``label_purchased`` -> ``packed`` (label made, not with the courier yet);
  ``confirmed``/``in_transit``/``ready_for_pickup``/none -> ``shipped``.

Shopify has no "expected delivery" in REST orders (``expected_delivery`` is None) and no
delivery date: ``delivered_at`` is the delivered fulfillment's ``updated_at`` date.

Operations Shopify's REST order API cannot do for us:

* ``create_return`` -> ``ReturnOutcome("not_supported")`` (returns are GraphQL-only and need
  staff judgement); ``change_address`` -> ``"not_supported"``. The bot hands these to a person.
* ``record_payment_issue`` appends a line with the reference to the order's ``note``
  (PUT orders/{id}.json) when the order exists; the reference is returned in every case.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

import requests

from actions.orders.provider import (
    CANCELLABLE,
    AddressOutcome,
    CancelOutcome,
    Order,
    OrderProvider,
    ProviderUnavailable,
    ReturnOutcome,
    VerifyOutcome,
    mask_email,
    mask_phone,
    new_reference,
    normalise_id,
)
from bot.nlu.entity_rules import normalise_phone

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_SHIPMENT = {
    "delivered": "delivered",
    "out_for_delivery": "out_for_delivery",
    "attempted_delivery": "delayed",
    "failure": "delayed",
    "delayed": "delayed",
    "label_printed": "packed",
    "label_purchased": "packed",
}


def _parse_time(value: Optional[str]) -> Optional[dt.datetime]:
    if not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.astimezone(dt.timezone.utc)


def map_status(o: dict[str, Any]) -> str:
    """Saathi status of a Shopify order (rules in the module docstring)."""
    if o.get("cancelled_at"):
        return "cancelled"
    if o.get("fulfillment_status") == "restocked":
        return "returned"
    if o.get("financial_status") in ("refunded", "partially_refunded"):
        return "refund_initiated"
    fulfillments = [f for f in o.get("fulfillments") or [] if f.get("status") not in ("cancelled", "error", "failure")]
    if not fulfillments:
        return "placed"
    latest = max(fulfillments, key=lambda f: f.get("created_at") or "")
    return _SHIPMENT.get(latest.get("shipment_status") or "", "shipped")


def _address(a: Optional[dict[str, Any]]) -> Optional[str]:
    if not a:
        return None
    parts = [a.get(k) for k in ("address1", "address2", "city", "province", "zip", "country")]
    text = ", ".join(str(p).strip() for p in parts if p and str(p).strip())
    return text or None


def to_order(o: dict[str, Any], default_country: str = "IN") -> Order:
    """An Order from one Shopify order JSON object."""
    customer = o.get("customer") or {}
    shipping = o.get("shipping_address") or {}
    name = " ".join(filter(None, [customer.get("first_name"), customer.get("last_name")])).strip()
    if not name:
        name = (shipping.get("name") or "").strip()
    phone = None
    for raw in (o.get("phone"), customer.get("phone"), shipping.get("phone")):
        if raw and (phone := normalise_phone(str(raw), default_country)):
            break
    mail = o.get("email") or o.get("contact_email") or customer.get("email")
    fulfillments = sorted(o.get("fulfillments") or [], key=lambda f: f.get("created_at") or "")
    latest = fulfillments[-1] if fulfillments else {}
    status = map_status(o)
    delivered_at = None
    if latest.get("shipment_status") == "delivered":
        stamp = _parse_time(latest.get("updated_at") or latest.get("created_at"))
        delivered_at = stamp.date() if stamp else None
    try:
        total = Decimal(str(o.get("total_price") or "0"))
    except InvalidOperation:
        total = Decimal("0")
    items = ", ".join(f"{li.get('quantity', 1)} x {li.get('title', '')}" for li in o.get("line_items") or [])
    return Order(
        order_id=normalise_id(str(o.get("name") or o.get("id"))),
        customer_name=name,
        phone=phone,
        email=mail.strip().lower() if mail else None,
        status=status,
        items=items,
        total=total,
        currency=o.get("currency"),
        placed_at=_parse_time(o.get("created_at")) or dt.datetime.now(dt.timezone.utc),
        expected_delivery=None,
        delivered_at=delivered_at,
        courier=latest.get("tracking_company"),
        tracking_number=latest.get("tracking_number"),
        shipping_address=_address(shipping),
        updated_at=_parse_time(o.get("updated_at")),
    )


class ShopifyOrderProvider(OrderProvider):
    """Orders of a Shopify store (https://{shop}.myshopify.com) through the Admin REST API."""

    def __init__(self, shop_url: str, token: str, api_version: str = "2024-10", timeout: float = 5.0,
                 retries: int = 3, backoff: float = 0.5, max_retry_after: float = 10.0,
                 default_country: str = "IN", session: Optional[requests.Session] = None,
                 sleep: Callable[[float], None] = time.sleep):
        if not shop_url or not token:
            raise ValueError("Shopify needs SAATHI_SHOPIFY_SHOP_URL and SAATHI_SHOPIFY_TOKEN")
        base = shop_url.rstrip("/")
        if "://" not in base:
            base = "https://" + base
        self.base = f"{base}/admin/api/{api_version}"
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.default_country = default_country
        self._sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({
            "X-Shopify-Access-Token": token,
            "Accept": "application/json",
            "User-Agent": "saathi-orders/1",
        })

    # -- HTTP ----------------------------------------------------------------------------

    def _wait(self, attempt: int, response: Optional[requests.Response]) -> float:
        delay = self.backoff * (2 ** attempt)
        header = response.headers.get("Retry-After") if response is not None else None
        if header:
            try:
                delay = float(header)
            except ValueError:
                when = email.utils.parsedate_to_datetime(header) if header else None
                if when is not None:
                    delay = (when - dt.datetime.now(dt.timezone.utc)).total_seconds()
        return min(max(delay, 0.0), self.max_retry_after)

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The response (any status but 429/5xx); retries, then raises ProviderUnavailable."""
        url = self.base + path
        problem = ""
        for attempt in range(self.retries + 1):
            response: Optional[requests.Response] = None
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.Timeout:
                problem = f"no answer within {self.timeout}s"
            except requests.ConnectionError:
                problem = "cannot connect"
            else:
                if response.status_code in (401, 403):
                    raise ProviderUnavailable(f"Shopify refused the access token (HTTP {response.status_code})")
                if response.status_code not in RETRY_STATUS:
                    return response
                problem = f"HTTP {response.status_code}"
            if attempt < self.retries:
                delay = self._wait(attempt, response)
                log.warning("Shopify %s %s: %s; retry %d in %.1fs", method, path.split("?")[0], problem,
                            attempt + 1, delay)
                self._sleep(delay)
        raise ProviderUnavailable(f"Shopify is unavailable ({problem} after {self.retries + 1} attempt(s))")

    def _json(self, response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise ProviderUnavailable(f"Shopify sent a non-JSON answer (HTTP {response.status_code})") from None
        if not isinstance(data, dict):
            raise ProviderUnavailable("Shopify sent an unexpected answer")
        return data

    # -- lookups -------------------------------------------------------------------------

    def _find(self, order_id: str) -> Optional[dict[str, Any]]:
        oid = normalise_id(order_id)
        if not oid:
            return None
        name = "#" + oid if oid.isdigit() else oid
        response = self._request("GET", "/orders.json", params={"name": name, "status": "any"})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ProviderUnavailable(f"Shopify answered HTTP {response.status_code} to an order lookup")
        # `name` is a loose filter: keep exact matches only.
        for o in self._json(response).get("orders") or []:
            if normalise_id(str(o.get("name", ""))) == name:
                return o
        return None

    def get(self, order_id: str) -> Optional[Order]:
        raw = self._find(order_id)
        return to_order(raw, self.default_country) if raw else None

    def verify(self, order_id: str, phone: Optional[str] = None, email: Optional[str] = None) -> VerifyOutcome:
        want_phone = normalise_phone(phone, self.default_country) if phone else None
        want_email = email.strip().lower() if email and email.strip() else None
        if (phone and not want_phone) or not (want_phone or want_email):
            return "mismatch"
        order = self.get(order_id)
        if order is None:
            return "mismatch"
        if want_phone and want_phone != order.phone:
            return "mismatch"
        if want_email and want_email != (order.email or ""):
            return "mismatch"
        return "verified"

    def recent_orders(self, phone: Optional[str] = None, email: Optional[str] = None, limit: int = 5) -> list[Order]:
        limit = max(1, min(int(limit), 50))
        queries = []
        if phone and (p := normalise_phone(phone, self.default_country)):
            queries.append(f"phone:{p}")
        if email and email.strip():
            queries.append(f"email:{email.strip().lower()}")
        found: dict[str, Order] = {}
        for query in queries:
            response = self._request("GET", "/customers/search.json", params={"query": query, "limit": 5})
            if response.status_code != 200:
                raise ProviderUnavailable(f"Shopify answered HTTP {response.status_code} to a customer search")
            for customer in self._json(response).get("customers") or []:
                r = self._request("GET", f"/customers/{int(customer['id'])}/orders.json",
                                  params={"status": "any", "limit": limit})
                if r.status_code != 200:
                    raise ProviderUnavailable(f"Shopify answered HTTP {r.status_code} to a customer's orders")
                for o in self._json(r).get("orders") or []:
                    order = to_order(o, self.default_country)
                    found[order.order_id] = order
        log.info("Shopify recent orders for %s / %s: %d", mask_phone(phone), mask_email(email), len(found))
        return sorted(found.values(), key=lambda o: o.placed_at, reverse=True)[:limit]

    # -- changes -------------------------------------------------------------------------

    def cancel(self, order_id: str, reason: str) -> CancelOutcome:
        raw = self._find(order_id)
        if raw is None:
            return "not_found"
        status = map_status(raw)
        if status == "cancelled":
            return "already_cancelled"
        if status not in CANCELLABLE:
            return "too_late"
        response = self._request("POST", f"/orders/{int(raw['id'])}/cancel.json",
                                 json={"reason": "customer", "email": True})
        if response.status_code in (200, 201):
            return "cancelled"
        if response.status_code == 422:
            # Shopify refused. If a retried first attempt went through, the order is cancelled now.
            again = self._find(order_id)
            if again is not None and map_status(again) == "cancelled":
                return "cancelled"
            return "too_late"
        if response.status_code == 404:
            return "not_found"
        raise ProviderUnavailable(f"Shopify answered HTTP {response.status_code} to a cancellation")

    def create_return(self, order_id: str, reason: str, today: dt.date) -> ReturnOutcome:
        return ReturnOutcome("not_supported")

    def change_address(self, order_id: str, new_address: str) -> AddressOutcome:
        return "not_supported"

    def record_payment_issue(self, order_id: Optional[str], bank_reference: Optional[str]) -> str:
        reference = new_reference("PAY")
        raw = self._find(order_id) if order_id else None
        if raw is None:
            log.warning("payment issue %s has no Shopify order to attach to", reference)
            return reference
        line = f"[Saathi {reference}] shopper reports a failed payment; bank ref {(bank_reference or '-').strip()}"
        note = ((raw.get("note") or "") + "\n" + line).strip()
        response = self._request("PUT", f"/orders/{int(raw['id'])}.json",
                                 json={"order": {"id": raw["id"], "note": note}})
        if response.status_code != 200:
            raise ProviderUnavailable(f"Shopify answered HTTP {response.status_code} to a note update")
        return reference

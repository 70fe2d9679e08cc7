"""ShopifyOrderProvider against a real local HTTP server that answers like the Admin REST API."""
from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Optional
from urllib.parse import parse_qs, urlsplit

import pytest

from actions.orders.provider import ProviderUnavailable, ReturnOutcome
from actions.orders.shopify import ShopifyOrderProvider, map_status, to_order

TOKEN = "shpat_test_0123456789abcdef"
API = "/admin/api/2024-10"


def shopify_order(**over: Any) -> dict[str, Any]:
    """An order shaped like Shopify's documented GET orders.json response entries."""
    order = {
        "id": 450789469,
        "admin_graphql_api_id": "gid://shopify/Order/450789469",
        "name": "#1001",
        "order_number": 1001,
        "email": "Priya.Sharma@Example.in",
        "phone": None,
        "created_at": "2025-03-01T10:30:00+05:30",
        "updated_at": "2025-03-04T12:00:00+05:30",
        "cancelled_at": None,
        "cancel_reason": None,
        "financial_status": "paid",
        "fulfillment_status": None,
        "currency": "INR",
        "total_price": "1598.00",
        "note": None,
        "customer": {"id": 207119551, "email": "priya.sharma@example.in", "first_name": "Priya",
                     "last_name": "Sharma", "phone": "+919876543210"},
        "line_items": [{"id": 1, "title": "Cotton kurta", "quantity": 2, "price": "799.00"}],
        "shipping_address": {"name": "Priya Sharma", "address1": "12 MG Road", "address2": "", "city": "Pune",
                             "province": "Maharashtra", "zip": "411001", "country": "India",
                             "phone": "098765 43210"},
        "fulfillments": [],
    }
    order.update(over)
    return order


def fulfillment(shipment_status: Optional[str], updated_at: str = "2025-03-03T15:00:00+05:30", **over: Any) -> dict:
    f = {"id": 255858046, "order_id": 450789469, "status": "success", "created_at": "2025-03-02T09:00:00+05:30",
         "updated_at": updated_at, "tracking_company": "Delhivery", "tracking_number": "DL1234567",
         "tracking_numbers": ["DL1234567"], "shipment_status": shipment_status}
    f.update(over)
    return f


class FakeShopify:
    """Scripted answers per (method, path); records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def on(self, method: str, path: str, *answers: dict[str, Any]) -> None:
        """Answers are used in order; the last one repeats. Keys: status, body, headers, delay."""
        self.routes[(method, API + path)] = list(answers)

    def answer(self, method: str, path: str) -> dict[str, Any]:
        with self.lock:
            queue = self.routes.get((method, path))
            if not queue:
                return {"status": 404, "body": {"errors": "Not Found"}}
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def paths(self) -> list[str]:
        return [f"{r['method']} {r['path']}" for r in self.requests]


@pytest.fixture
def fake() -> Iterator[tuple[FakeShopify, str]]:
    state = FakeShopify()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def handle_any(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append({
                    "method": self.command, "path": split.path, "query": parse_qs(split.query),
                    "headers": dict(self.headers), "json": json.loads(body) if body else None,
                    "at": time.monotonic(),
                })
            ans = state.answer(self.command, split.path)
            if ans.get("delay"):
                time.sleep(ans["delay"])
            payload = json.dumps(ans.get("body", {})).encode()
            try:
                self.send_response(ans.get("status", 200))
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for k, v in (ans.get("headers") or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def provider(url: str, **kw: Any) -> ShopifyOrderProvider:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.05)
    return ShopifyOrderProvider(url, TOKEN, "2024-10", **kw)


def test_get_maps_the_order_and_sends_the_token(fake):
    state, url = fake
    shipped = shopify_order(fulfillment_status="fulfilled", fulfillments=[fulfillment("in_transit")])
    state.on("GET", "/orders.json", {"body": {"orders": [shipped]}})
    order = provider(url).get("1001")  # the shopper typed it without '#'
    req = state.requests[-1]
    assert req["path"] == f"{API}/orders.json"
    assert req["query"] == {"name": ["#1001"], "status": ["any"]}
    assert req["headers"]["X-Shopify-Access-Token"] == TOKEN
    assert order.order_id == "#1001" and order.status == "shipped"
    assert order.customer_name == "Priya Sharma" and order.first_name == "Priya"
    assert order.phone == "+919876543210" and order.email == "priya.sharma@example.in"
    assert order.items == "2 x Cotton kurta" and order.total == Decimal("1598.00") and order.currency == "INR"
    assert order.placed_at == dt.datetime(2025, 3, 1, 5, 0, tzinfo=dt.timezone.utc)
    assert (order.courier, order.tracking_number) == ("Delhivery", "DL1234567")
    assert order.shipping_address == "12 MG Road, Pune, Maharashtra, 411001, India"


def test_only_exact_name_matches_count(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"body": {"orders": [shopify_order(name="#10011")]}})
    assert provider(url).get("#1001") is None
    state.on("GET", "/orders.json", {"body": {"orders": []}})
    assert provider(url).get("#4040") is None


@pytest.mark.parametrize("over, expected", [
    ({}, "placed"),
    ({"fulfillments": [fulfillment("label_printed")]}, "packed"),
    ({"fulfillments": [fulfillment(None)]}, "shipped"),
    ({"fulfillments": [fulfillment("in_transit")]}, "shipped"),
    ({"fulfillments": [fulfillment("out_for_delivery")]}, "out_for_delivery"),
    ({"fulfillments": [fulfillment("delivered")]}, "delivered"),
    ({"fulfillments": [fulfillment("failure")]}, "delayed"),
    ({"fulfillments": [fulfillment("attempted_delivery")]}, "delayed"),
    ({"fulfillments": [fulfillment("delivered", status="cancelled")]}, "placed"),
    ({"cancelled_at": "2025-03-02T10:00:00+05:30", "financial_status": "refunded"}, "cancelled"),
    ({"financial_status": "refunded", "fulfillments": [fulfillment("delivered")]}, "refund_initiated"),
    ({"fulfillment_status": "restocked", "fulfillments": [fulfillment("delivered")]}, "returned"),
])
def test_status_mapping(over, expected):
    assert map_status(shopify_order(**over)) == expected


def test_delivered_date_comes_from_the_delivered_fulfillment():
    o = to_order(shopify_order(fulfillments=[fulfillment("delivered", updated_at="2025-03-05T20:00:00+05:30")]))
    assert o.status == "delivered" and o.delivered_at == dt.date(2025, 3, 5)


def test_verify(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"body": {"orders": [shopify_order()]}})
    shop = provider(url)
    assert shop.verify("#1001", phone="98765-43210") == "verified"
    assert shop.verify("#1001", email="PRIYA.SHARMA@example.in") == "verified"
    assert shop.verify("#1001", phone="9812345678") == "mismatch"
    assert shop.verify("#1001") == "mismatch"
    state.on("GET", "/orders.json", {"body": {"orders": []}})
    assert shop.verify("#1001", phone="9876543210") == "mismatch"


def test_recent_orders_through_customer_search(fake):
    state, url = fake
    state.on("GET", "/customers/search.json", {"body": {"customers": [{"id": 207119551}]}})
    older = shopify_order()
    newer = shopify_order(id=450789470, name="#1002", created_at="2025-03-06T10:00:00+05:30")
    state.on("GET", "/customers/207119551/orders.json", {"body": {"orders": [older, newer]}})
    orders = provider(url).recent_orders(phone="9876543210", limit=5)
    assert [o.order_id for o in orders] == ["#1002", "#1001"]
    assert state.requests[0]["query"]["query"] == ["phone:+919876543210"]
    assert state.requests[1]["query"]["status"] == ["any"]


def test_cancel(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"body": {"orders": [shopify_order()]}})
    state.on("POST", "/orders/450789469/cancel.json",
             {"body": {"order": shopify_order(cancelled_at="2025-03-02T10:00:00+05:30")}})
    assert provider(url).cancel("#1001", "ordered twice") == "cancelled"
    post = state.requests[-1]
    assert post["method"] == "POST" and post["path"] == f"{API}/orders/450789469/cancel.json"
    assert post["json"]["reason"] == "customer"
    assert post["headers"]["X-Shopify-Access-Token"] == TOKEN


def test_cancel_refusals_do_not_post(fake):
    state, url = fake
    shop = provider(url)
    state.on("GET", "/orders.json", {"body": {"orders": [shopify_order(fulfillments=[fulfillment("in_transit")])]}})
    assert shop.cancel("#1001", "x") == "too_late"
    state.on("GET", "/orders.json", {"body": {"orders": [shopify_order(cancelled_at="2025-03-02T10:00:00Z")]}})
    assert shop.cancel("#1001", "x") == "already_cancelled"
    state.on("GET", "/orders.json", {"body": {"orders": []}})
    assert shop.cancel("#1001", "x") == "not_found"
    assert not [r for r in state.requests if r["method"] == "POST"]


def test_cancel_refused_by_shopify_is_too_late(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"body": {"orders": [shopify_order()]}})
    state.on("POST", "/orders/450789469/cancel.json",
             {"status": 422, "body": {"error": "Cannot cancel an order that has been fulfilled"}})
    assert provider(url).cancel("#1001", "x") == "too_late"


def test_unsupported_operations_say_so(fake):
    state, url = fake
    shop = provider(url)
    assert shop.create_return("#1001", "x", dt.date(2025, 3, 5)) == ReturnOutcome("not_supported")
    assert shop.change_address("#1001", "new") == "not_supported"
    assert state.requests == []


def test_payment_issue_is_noted_on_the_order(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"body": {"orders": [shopify_order(note="gift wrap")]}})
    state.on("PUT", "/orders/450789469.json", {"body": {"order": shopify_order()}})
    ref = provider(url).record_payment_issue("#1001", "UTR 412345678901")
    put = state.requests[-1]
    assert ref.startswith("PAY-") and put["method"] == "PUT"
    note = put["json"]["order"]["note"]
    assert note.startswith("gift wrap\n") and ref in note and "UTR 412345678901" in note


def test_timeout_is_retried_then_unavailable(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"delay": 1.5, "body": {"orders": []}})
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="no answer within 0.3s after 2 attempt"):
        provider(url, timeout=0.3, retries=1).get("#1001")
    assert time.monotonic() - started < 1.4  # did not wait for the slow server
    assert len(state.requests) == 2


def test_server_errors_then_success(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"status": 503, "body": {"errors": "Unavailable"}},
             {"status": 500, "body": {"errors": "Internal"}}, {"body": {"orders": [shopify_order()]}})
    assert provider(url, retries=2).get("#1001").order_id == "#1001"
    assert len(state.requests) == 3


def test_server_errors_forever_raise_provider_unavailable(fake, caplog):
    state, url = fake
    state.on("GET", "/orders.json", {"status": 502, "body": {"errors": "Bad Gateway"}})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderUnavailable, match="HTTP 502 after 4 attempt") as err:
        provider(url, retries=3).verify("#1001", phone="9876543210")
    assert len(state.requests) == 4
    logged = caplog.text + str(err.value)
    assert TOKEN not in logged and "9876543210" not in logged


def test_rate_limit_respects_retry_after(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"status": 429, "headers": {"Retry-After": "1.0"}, "body": {"errors": "Throttled"}},
             {"body": {"orders": [shopify_order()]}})
    assert provider(url, backoff=0.01).get("#1001") is not None
    first, second = state.requests
    assert second["at"] - first["at"] >= 0.9


def test_bad_token_is_not_retried(fake):
    state, url = fake
    state.on("GET", "/orders.json", {"status": 401, "body": {"errors": "[API] Invalid API key or access token"}})
    with pytest.raises(ProviderUnavailable, match="refused the access token"):
        provider(url, retries=3).get("#1001")
    assert len(state.requests) == 1


def test_nothing_listening_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderUnavailable, match="cannot connect"):
        provider(f"http://127.0.0.1:{port}", retries=1).get("#1001")

"""SqlOrderProvider against real databases (SQLite always, PostgreSQL when configured)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select, text

from actions.orders.models import (
    AddressChangeRow,
    CancellationRow,
    OrderRow,
    PaymentReportRow,
    ReturnRequestRow,
    create_engine_for,
)
from actions.orders.provider import Order, ReturnOutcome, normalise_id
from actions.orders.seed import seed_bulk, seed_demo
from actions.orders.sql import SqlOrderProvider

TODAY = dt.date(2025, 3, 15)


@pytest.fixture
def shop(engine) -> SqlOrderProvider:
    assert seed_demo(engine, today=TODAY) >= 30
    return SqlOrderProvider(engine, return_window_days=10)


def status(engine, oid: str) -> str:
    with engine.connect() as conn:
        return conn.execute(select(OrderRow.status).where(OrderRow.order_id == oid)).scalar_one()


def test_normalise_id():
    assert normalise_id(" km-10234 ") == "KM-10234"
    assert normalise_id("# 1001") == "#1001"
    assert normalise_id("#1001") == "#1001"
    assert normalise_id("ord ५५८२१") == "ORD55821"


def test_get_returns_a_full_order_and_normalises_the_id(shop):
    order = shop.get("km-10234")
    assert isinstance(order, Order)
    assert order.order_id == "KM-10234"
    assert order.customer_name == "Priya Sharma" and order.first_name == "Priya"
    assert order.phone == "+919876543210" and order.email == "priya.sharma@example.in"
    assert order.status == "shipped" and order.courier == "Delhivery" and order.tracking_number
    assert order.total == Decimal("799.00") and order.currency == "INR"
    assert order.expected_delivery == TODAY + dt.timedelta(days=2)
    assert order.placed_at.tzinfo is not None and order.placed_at.date() == TODAY - dt.timedelta(days=3)
    assert shop.get("# 1001").order_id == "#1001"
    assert shop.get("402-1234567-1234567").status == "shipped"
    assert shop.get("KM-99999") is None
    assert shop.get("") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.status = "cancelled"  # type: ignore[misc]


def test_first_name_of_an_empty_name():
    o = Order("X-1", "", None, None, "placed", "", Decimal(0), None, dt.datetime.now(dt.timezone.utc))
    assert o.first_name == ""


@pytest.mark.parametrize("phone", ["+919876543210", "98765 43210", "098765-43210", "९८७६५४३२१०", "0091 9876543210"])
def test_verify_accepts_the_phone_in_any_written_form(shop, phone):
    assert shop.verify("KM-10234", phone=phone) == "verified"


def test_verify_bangladeshi_phone_and_email(shop):
    assert shop.verify("DK-5002", phone="01812-345678") == "verified"
    assert shop.verify("DK-5002", phone="০১৮১২৩৪৫৬৭৮") == "verified"
    assert shop.verify("dk-5002", email="  Fatema.Begum@Example.com.bd ") == "verified"


def test_verify_mismatch_never_reveals_whether_the_order_exists(shop):
    assert shop.verify("KM-10234", phone="9812345678") == "mismatch"  # someone else's phone
    assert shop.verify("KM-10234", email="rahul.verma@example.in") == "mismatch"
    assert shop.verify("KM-99999", phone="9876543210") == "mismatch"  # no such order: same answer
    assert shop.verify("KM-10234") == "mismatch"  # nothing given
    assert shop.verify("KM-10234", phone="12345") == "mismatch"  # unparseable
    # Everything given must match: right phone, wrong e-mail.
    assert shop.verify("KM-10234", phone="9876543210", email="x@example.in") == "mismatch"
    assert shop.verify("DK-5010", email="mitu@example.com") == "mismatch"  # order without e-mail


def test_recent_orders_newest_first_by_phone_or_email(shop):
    by_phone = shop.recent_orders(phone="98765 43210")
    assert [o.order_id for o in by_phone] == ["KM-10234", "KM-10244"]
    by_mail = shop.recent_orders(email="PRIYA.SHARMA@example.in")
    assert [o.order_id for o in by_mail] == ["KM-10234", "KM-10244"]
    assert [o.order_id for o in shop.recent_orders(phone="+8801712345678", limit=1)] == ["DK-5001"]
    assert shop.recent_orders(phone="9000000001") == []
    assert shop.recent_orders() == []


def test_cancel_only_while_placed_or_packed(shop, engine):
    assert shop.cancel("km-10235", "ordered twice") == "cancelled"
    assert status(engine, "KM-10235") == "cancelled"
    assert shop.cancel("KM-10235", "again") == "already_cancelled"
    assert shop.cancel("KM-10236", "changed my mind") == "cancelled"  # packed
    assert shop.cancel("KM-10234", "too slow") == "too_late"  # shipped
    assert status(engine, "KM-10234") == "shipped"
    assert shop.cancel("KM-10238", "x") == "too_late"  # delivered
    assert shop.cancel("KM-99999", "x") == "not_found"
    with engine.connect() as conn:
        rows = conn.execute(select(CancellationRow.order_id, CancellationRow.reason)).all()
    assert sorted(map(tuple, rows)) == [("KM-10235", "ordered twice"), ("KM-10236", "changed my mind")]


def test_concurrent_cancels_cancel_once(shop, engine):
    results: list[str] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        results.append(shop.cancel("#1001", "race"))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already_cancelled"] * 5 + ["cancelled"]
    with engine.connect() as conn:
        assert conn.execute(select(CancellationRow.id)).all().__len__() == 1


def test_returns_follow_the_window(shop, engine):
    done = shop.create_return("KM-10238", "lid does not fit", today=TODAY)  # delivered 3 days ago
    assert done.outcome == "created"
    assert done.reference.startswith("RET-") and len(done.reference) == 12
    assert done.deadline == TODAY - dt.timedelta(days=3) + dt.timedelta(days=10)
    assert shop.create_return("KM-10238", "again", today=TODAY).outcome == "already_returned"
    late = shop.create_return("KM-10239", "too big", today=TODAY)  # delivered 20 days ago
    assert late == ReturnOutcome("outside_window", None, TODAY - dt.timedelta(days=10))
    assert shop.create_return("KM-10234", "x", today=TODAY).outcome == "not_delivered"  # shipped
    assert shop.create_return("KM-10241", "x", today=TODAY).outcome == "not_delivered"  # cancelled
    assert shop.create_return("KM-10242", "x", today=TODAY).outcome == "already_returned"
    assert shop.create_return("KM-10243", "x", today=TODAY).outcome == "already_returned"  # refund started
    assert shop.create_return("KM-00000", "x", today=TODAY) == ReturnOutcome("not_found")
    # The last day of the window still counts; the day after does not.
    edge = shop.get("#1003").delivered_at + dt.timedelta(days=10)
    assert shop.create_return("#1003", "x", today=edge + dt.timedelta(days=1)).outcome == "outside_window"
    assert shop.create_return("#1003", "x", today=edge).outcome == "created"
    with engine.connect() as conn:
        refs = conn.execute(select(ReturnRequestRow.reference, ReturnRequestRow.order_id)).all()
    assert {r.order_id for r in refs} == {"KM-10238", "#1003"}
    assert len({r.reference for r in refs}) == 2


def test_change_address_only_before_packing(shop, engine):
    assert shop.change_address("KM-10235", "  55 Sector 18, Noida 201301 ") == "changed"
    assert shop.get("KM-10235").shipping_address == "55 Sector 18, Noida 201301"
    assert shop.change_address("KM-10236", "elsewhere") == "too_late"  # packed
    assert shop.get("KM-10236").shipping_address == "7 T Nagar, Chennai 600017"
    assert shop.change_address("KM-99999", "x") == "not_found"
    with engine.connect() as conn:
        assert conn.execute(select(AddressChangeRow.order_id)).scalars().all() == ["KM-10235"]


def test_payment_issue_is_recorded_with_a_fresh_reference(shop, engine):
    a = shop.record_payment_issue("km-10235", " UTR 412345678901 ")
    b = shop.record_payment_issue(None, None)
    assert a != b and a.startswith("PAY-") and b.startswith("PAY-")
    with engine.connect() as conn:
        rows = {r.reference: r for r in conn.execute(select(PaymentReportRow)).all()}
    assert rows[a].order_id == "KM-10235" and rows[a].bank_reference == "UTR 412345678901"
    assert rows[b].order_id is None and rows[b].bank_reference is None


def test_phone_and_email_lookups_are_indexed(engine):
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("orders")}
    assert indexes["ix_orders_phone_placed"][0] == "phone"
    assert indexes["ix_orders_email_placed"][0] == "email"
    uniques = inspect(engine).get_unique_constraints("return_requests") + [
        i for i in inspect(engine).get_indexes("return_requests") if i.get("unique")
    ]
    assert any(u["column_names"] == ["order_id"] for u in uniques)


def test_sqlite_query_plans_use_the_indexes(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'plan.db'}")
    seed_bulk(engine, 2000)
    with engine.connect() as conn:
        for sql in ("SELECT * FROM orders WHERE phone = '+919000000001' ORDER BY placed_at DESC LIMIT 5",
                    "SELECT * FROM orders WHERE email = 'a@b.in' ORDER BY placed_at DESC LIMIT 5",
                    "SELECT * FROM orders WHERE order_id = 'BLK-0000001'"):
            plan = " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "USING INDEX" in plan or "USING PRIMARY KEY" in plan, plan
            assert "TEMP B-TREE" not in plan, plan


def test_lookups_stay_fast_on_a_large_table(engine):
    seed_bulk(engine, 20_000, chunk=5000)
    shop = SqlOrderProvider(engine)
    import time

    started = time.perf_counter()
    for k in range(1, 201):
        n = k * 97
        assert shop.get(f"BLK-{n:07d}") is not None
        phone = f"+88017{n:08d}" if n % 4 == 0 else f"+919{n:09d}"
        assert [o.order_id for o in shop.recent_orders(phone=phone)] == [f"BLK-{n:07d}"]
    assert time.perf_counter() - started < 5.0

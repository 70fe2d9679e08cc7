"""Demo and bulk seeding."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from actions.orders.importer import import_csv
from actions.orders.models import STATUSES, OrderRow, create_engine_for
from actions.orders.seed import seed_bulk, seed_demo
from actions.orders.sql import SqlOrderProvider
from bot.nlu.entity_rules import EntityRules, normalise_phone

ROOT = Path(__file__).resolve().parents[3]
TODAY = dt.date.today()


def all_orders(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(OrderRow).order_by(OrderRow.order_id)).all()


def test_demo_shop_is_realistic_and_complete(engine):
    added = seed_demo(engine)
    rows = all_orders(engine)
    assert added == len(rows) >= 30
    assert {r.status for r in rows} == set(STATUSES)
    phones = {r.phone for r in rows}
    assert any(p.startswith("+91") for p in phones) and any(p.startswith("+880") for p in phones)
    assert all(normalise_phone(p) == p for p in phones)
    ids = [r.order_id for r in rows]
    assert "KM-10234" in ids and "#1001" in ids and "402-1234567-1234567" in ids
    # Every demo id is something the bot's order-number rule can pick out of a message.
    rules = EntityRules()
    for oid in ids:
        found = [e.value for e in rules.extract(f"my order {oid} please") if e.entity == "order_id"]
        assert found == [oid], oid
    assert {r.currency for r in rows} == {"INR", "BDT"}
    for r in rows:
        assert (r.delivered_at is not None) == (r.status in ("delivered", "returned", "refund_initiated"))
        if r.status == "delayed":
            assert r.expected_delivery > TODAY  # a new expected date


def test_demo_return_window_cases_work_today(engine):
    seed_demo(engine)
    shop = SqlOrderProvider(engine, return_window_days=10)
    assert shop.get("KM-10238").delivered_at == TODAY - dt.timedelta(days=3)
    assert shop.create_return("KM-10238", "broken", TODAY).outcome == "created"
    assert shop.get("KM-10239").delivered_at == TODAY - dt.timedelta(days=20)
    assert shop.create_return("KM-10239", "too small", TODAY).outcome == "outside_window"
    assert shop.cancel("KM-10235", "x") == "cancelled"
    assert shop.change_address("#1001", "new place") == "changed"


def test_second_seed_never_overwrites_existing_data(engine, tmp_path):
    f = tmp_path / "o.csv"
    f.write_text("order_id,customer_name,phone,email,status,items,total,placed_at,expected_delivery,courier,tracking_number\n"
                 "KM-10234,Real Customer,9000000001,,placed,real item,1,2025-01-01,,,\n", encoding="utf-8")
    assert import_csv(f, engine).inserted == 1
    assert seed_demo(engine) == 0
    rows = all_orders(engine)
    assert len(rows) == 1 and rows[0].customer_name == "Real Customer"
    # And a seeded shop is not re-seeded either.
    engine2 = create_engine_for(f"sqlite:///{tmp_path / 'b.db'}")
    assert seed_demo(engine2) > 0
    shop = SqlOrderProvider(engine2)
    shop.cancel("KM-10235", "x")
    assert seed_demo(engine2) == 0 and shop.get("KM-10235").status == "cancelled"


def test_bulk_is_deterministic_valid_and_idempotent(engine, tmp_path):
    assert seed_bulk(engine, 3000, chunk=1000) == 3000
    other = create_engine_for(f"sqlite:///{tmp_path / 'other.db'}")
    assert seed_bulk(other, 3000, chunk=700) == 3000
    a = [tuple(r)[:-1] for r in all_orders(engine)]  # all but updated_at
    b = [tuple(r)[:-1] for r in all_orders(other)]
    assert a == b
    assert seed_bulk(engine, 3000) == 0  # same ids: nothing added
    rows = all_orders(engine)
    assert len({r.phone for r in rows}) == 3000
    assert all(normalise_phone(r.phone) == r.phone for r in rows)
    assert {r.status for r in rows} == set(STATUSES)


def test_cli_seed_demo_masks_the_password_and_skips_when_not_empty(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), SAATHI_ENV_FILE=str(tmp_path / "none.env"),
               SAATHI_RUN_DIR=str(tmp_path))
    db = f"sqlite:///{tmp_path / 'demo.db'}"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "actions.orders", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    first = run("seed-demo", "--db", db)
    assert first.returncode == 0 and re.search(r"seeded \d+ demo orders", first.stdout)
    assert str(tmp_path / "demo.db") in first.stdout
    second = run("seed-demo", "--db", db)
    assert second.returncode == 0 and "skipped" in second.stdout
    bulk = run("seed-bulk", "500", "--db", db)
    assert bulk.returncode == 0 and "added 500 synthetic orders" in bulk.stdout
    # A password in the URL is never printed (the connection itself fails: nothing listens).
    secret = run("seed-demo", "--db", "postgresql://shop:hunter2@127.0.0.1:1/shop")
    assert "hunter2" not in secret.stdout + secret.stderr
    assert "postgresql://shop:***@127.0.0.1:1/shop" in secret.stdout

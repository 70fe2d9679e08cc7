"""Staff see what the bot recorded in the order database: returns, cancellations, addresses, payments."""
from __future__ import annotations

import datetime as dt

from actions.orders.models import create_engine_for, init_db
from actions.orders.seed import seed_demo
from actions.orders.sql import SqlOrderProvider
from tests.handoff_bridge.conftest import add_agent, login


def test_requests_need_a_login(client):
    r = client.get("/console/requests")
    assert r.status_code in (302, 401)


def test_requests_the_bot_created_are_listed_escaped(app, client, tmp_path):
    engine = create_engine_for(app.config["ORDERS_DB"])
    init_db(engine)
    seed_demo(engine)
    provider = SqlOrderProvider(engine, return_window_days=10)
    ret = provider.create_return("KM-10238", reason="size too small", today=dt.date.today())
    assert ret.outcome == "created"
    assert provider.cancel("KM-10235", reason="shopper asked in chat") == "cancelled"
    assert provider.change_address("#1001", "<b>Flat 12B</b>, 14 MG Road, Bengaluru 560001") == "changed"
    pay = provider.record_payment_issue(None, "412345678901")
    engine.dispose()

    add_agent(app)
    login(client)
    page = client.get("/console/requests").get_data(as_text=True)
    assert ret.reference in page and "KM-10238" in page
    assert "KM-10235" in page and pay in page and "412345678901" in page
    assert "&lt;b&gt;Flat 12B&lt;/b&gt;" in page and "<b>Flat 12B</b>" not in page

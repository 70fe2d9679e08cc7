"""Customer records and linked identities (actions/customers) on a real SQLite orders database,
linked through the real order flow; the STOP/START and greeting actions through a real action
server. The whole journey across Rasa is in tests/bot/test_customers_e2e.py."""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any, Optional

import pytest
import requests
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.config import load_settings
from actions.customers import CustomerStore, greeting_name
from actions.notify import in_quiet_hours
from actions.order_flow import OrderTurn, Services
from actions.orders.models import create_engine_for
from actions.orders.seed import seed_demo
from actions.orders.sql import SqlOrderProvider
from actions.orders.verification import VerificationStore

from .conftest import webhook_call
from .orders.conftest import db_url  # noqa: F401  (the fixture: one database per test and backend)


@pytest.fixture
def svc(db_url: str, tmp_path, monkeypatch) -> Services:
    """The demo shop on SQLite and (when SAATHI_TEST_PG_URL is set) PostgreSQL."""
    monkeypatch.setenv("SAATHI_ENV_FILE", str(tmp_path / "none.env"))
    url = db_url
    engine = create_engine_for(url)
    seed_demo(engine)
    settings = dataclasses.replace(load_settings(), orders_db=url)
    return Services(settings, SqlOrderProvider(engine, settings.return_window_days, settings.default_country),
                    VerificationStore(engine))


@pytest.fixture
def store(svc: Services) -> CustomerStore:
    return CustomerStore(svc.store.engine)


def turn(svc: Services, text: str, slots: dict[str, Any], sender: str, channel: str,
         language: str = "en") -> list[str]:
    now = time.time()
    events = [{"event": "session_started", "timestamp": now - 5},
              {"event": "user", "text": text, "timestamp": now, "input_channel": channel,
               "parse_data": {"intent": {"name": "order_status"}, "entities": []}}]
    t = Tracker(sender, {"language": language, **slots}, {"text": text, "intent": {"name": "order_status"},
                                                           "entities": []}, events, False, None, {}, "action_listen")
    d = CollectingDispatcher()
    OrderTurn(d, t, svc).run()
    return [m["response"] for m in d.messages]


def test_verification_links_identities_of_every_channel_to_one_customer(svc, store):
    said = turn(svc, "where is KM-10234", {"order_id": "KM-10234", "phone": "98765 43210"}, "web-abc", "socketio",
                language="hi")
    assert said[0] == "utter_order_status"
    turn(svc, "KM-10244 status", {"order_id": "KM-10244", "email": "priya.sharma@example.in"}, "rest-1", "rest")
    turn(svc, "where is KM-10234", {"order_id": "KM-10234"}, "+919876543210", "whatsapp")  # the number proves it
    [customer] = store.find(phone="+91 98765 43210")
    assert (customer.name, customer.email, customer.phone) == ("Priya Sharma", "priya.sharma@example.in",
                                                               "+919876543210")
    links = {(i.channel, i.sender_id): (i.method, i.order_id) for i in store.identities(customer.id)}
    assert links == {("socketio", "web-abc"): ("phone", "KM-10234"), ("rest", "rest-1"): ("email", "KM-10244"),
                     ("whatsapp", "+919876543210"): ("channel", "KM-10234")}
    assert (customer.last_channel, customer.last_sender_id) == ("whatsapp", "+919876543210")
    assert store.find(email="PRIYA.SHARMA@example.in") == [customer]


def test_a_failed_verification_links_nothing(svc, store):
    said = turn(svc, "where is KM-10234", {"order_id": "KM-10234", "phone": "98765 00000"}, "web-x", "socketio")
    assert said == ["utter_verification_failed"]
    assert store.customer_for("socketio", "web-x") is None and store.find(phone="+919876543210") == []


def test_greeting_by_name_only_for_linked_identities_on_channels_that_prove_the_sender(svc, store):
    turn(svc, "status", {"order_id": "KM-10234", "phone": "9876543210"}, "web-abc", "socketio")
    turn(svc, "status", {"order_id": "KM-10234", "phone": "9876543210"}, "rest-1", "rest")
    s = svc.settings
    assert greeting_name(s, "socketio", "web-abc") == "Priya"
    assert greeting_name(s, "rest", "rest-1") == ""  # a REST client picks its own sender id
    assert greeting_name(s, "rest", "web-abc") == ""  # the same id on another channel is someone else
    assert greeting_name(s, "socketio", "web-other") == ""
    assert greeting_name(s, "whatsapp", "+919876543210") == ""  # the order's number, but never verified here
    assert greeting_name(dataclasses.replace(s, greet_by_name_channels="socketio,rest"), "rest", "rest-1") == "Priya"


def test_stop_before_linking_is_applied_when_the_sender_is_linked(svc, store):
    assert store.set_opt_out("socketio", "web-abc", True) is None  # not linked yet: remembered
    turn(svc, "status", {"order_id": "KM-10234", "phone": "9876543210"}, "web-abc", "socketio")
    [customer] = store.find(phone="+919876543210")
    assert customer.opted_out
    assert store.set_opt_out("socketio", "web-abc", False).opted_out is False  # START
    assert store.set_opt_out("rest", "nobody", True) is None and store.is_opted_out("rest", "nobody")
    store.set_opt_out("rest", "nobody", False)
    assert not store.is_opted_out("rest", "nobody")


def test_a_notice_is_claimed_once(svc, store):
    turn(svc, "status", {"order_id": "KM-10240", "phone": "7710203040"}, "web-m", "socketio")
    [c] = store.find(phone="+917710203040")
    assert store.claim_notice("KM-10240", "delayed:2026-12-03", c.id, "socketio", "web-m", "tracker")
    assert not store.claim_notice("KM-10240", "delayed:2026-12-03", c.id, "socketio", "web-m", "tracker")
    assert store.notice_sent("KM-10240", "delayed:2026-12-03")
    assert store.claim_notice("KM-10240", "delayed:2026-12-05", c.id, "socketio", "web-m", "tracker")  # new date
    store.release_notice("KM-10240", "delayed:2026-12-03")
    assert not store.notice_sent("KM-10240", "delayed:2026-12-03")


def test_erase_removes_records_identities_notices(svc, store):
    turn(svc, "status", {"order_id": "KM-10240", "phone": "7710203040"}, "web-m", "socketio")
    [c] = store.find(phone="+917710203040")
    store.claim_notice("KM-10240", "delayed:x", c.id, "socketio", "web-m", "tracker")
    counts = store.erase([c.id], [("socketio", "web-m")])
    assert counts["customers"] == 1 and counts["customer_identities"] == 1 and counts["customer_notices"] == 1
    assert store.find(phone="+917710203040") == [] and store.customer_for("socketio", "web-m") is None
    assert svc.provider.get("KM-10240") is not None  # the order stays


@pytest.mark.parametrize("spec,hour,quiet", [
    ("21:00-09:00", 22, True), ("21:00-09:00", 3, True), ("21:00-09:00", 9, False), ("21:00-09:00", 12, False),
    ("13:00-14:00", 13, True), ("13:00-14:00", 14, False),
])
def test_quiet_hours(spec: str, hour: int, quiet: bool):
    assert in_quiet_hours(spec, dt.time(hour, 0)) is quiet


def call(url: str, action: str, intent: str, text: str, sender: str, channel: str = "rest",
         language: Optional[str] = "en") -> dict:
    body = webhook_call(action, {"language": language}, sender=sender)
    body["tracker"]["latest_message"] = {"text": text, "intent": {"name": intent}, "entities": []}
    body["tracker"]["latest_input_channel"] = channel
    body["tracker"]["events"][0].update(text=text, input_channel=channel)
    r = requests.post(url, json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_stop_start_and_greet_actions_on_the_action_server(action_server):
    out = call(action_server, "action_stop_notifications", "stop_notifications", "STOP", "wa-stop", "whatsapp")
    assert [m["response"] for m in out["responses"]] == ["utter_notifications_stopped"]
    out = call(action_server, "action_start_notifications", "start_notifications", "START", "wa-stop", "whatsapp")
    assert [m["response"] for m in out["responses"]] == ["utter_notifications_started"]
    out = call(action_server, "action_greet", "greet", "hello", "web-unknown", "socketio")
    assert [m["response"] for m in out["responses"]] == ["utter_greet"]


def _cli(tmp_path, *args: str) -> Any:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), SAATHI_ENV_FILE=str(tmp_path / "none.env"),
               SAATHI_RUN_DIR=str(tmp_path), SAATHI_BRIDGE_URL="http://127.0.0.1:9", SAATHI_HTTP_TIMEOUT="1")
    return subprocess.run([sys.executable, "-m", *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_export_erase_cli_usage_and_unknown_shopper(tmp_path):
    import json

    assert _cli(tmp_path, "actions.customers").returncode == 2
    assert _cli(tmp_path, "actions.customers", "export").returncode == 2
    bad = _cli(tmp_path, "actions.customers", "export", "--phone", "call me maybe")
    assert bad.returncode == 2 and "not a phone number" in bad.stderr
    out = _cli(tmp_path, "actions.customers", "export", "--email", "nobody@example.in")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["customers"] == [] and doc["conversations"] == {} and doc["orders"] == []
    assert _cli(tmp_path, "actions.customers", "erase", "--email", "nobody@example.in").returncode == 2  # no --yes
    assert _cli(tmp_path, "actions.customers", "erase", "--email", "nobody@example.in", "--yes").returncode == 0


def test_notify_with_nothing_delayed_and_linked(tmp_path):
    out = _cli(tmp_path, "actions.notify", "delayed")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("0 sent, 0 skipped, 0 failed")
    assert _cli(tmp_path, "actions.notify").returncode == 2

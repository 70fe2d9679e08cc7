"""actions.order_flow on a real (SQLite) orders database, with rasa-sdk trackers.

The conversations themselves are tested end to end in tests/bot/test_order_conversation.py;
these tests cover what a REST conversation cannot reach: the WhatsApp channel's proof of the
phone number, the rate limit, and the form validators.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from typing import Any, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import load_settings
from actions.order_flow import (ActionYesNo, OrderTurn, Services, ValidateAddressForm,
                                ValidateBankReferenceForm)
from actions.orders.models import create_engine_for
from actions.orders.seed import seed_demo
from actions.orders.sql import SqlOrderProvider
from actions.orders.verification import VerificationStore


@pytest.fixture
def svc(tmp_path, monkeypatch) -> Services:
    monkeypatch.setenv("SAATHI_ENV_FILE", str(tmp_path / "none.env"))
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    engine = create_engine_for(url)
    seed_demo(engine)
    settings = dataclasses.replace(load_settings(), orders_db=url, lookup_limit=4, lookup_window_s=600)
    return Services(settings, SqlOrderProvider(engine, settings.return_window_days, settings.default_country), VerificationStore(engine))


def tracker(text: str, intent: str, slots: Optional[dict[str, Any]] = None, sender: str = "web-1",
            channel: str = "rest") -> Tracker:
    now = time.time()
    events = [
        {"event": "session_started", "timestamp": now - 5},
        {"event": "user", "text": text, "timestamp": now, "input_channel": channel,
         "parse_data": {"intent": {"name": intent}, "entities": []}},
    ]
    return Tracker(sender, {"language": "en", **(slots or {})},
                   {"text": text, "intent": {"name": intent}, "entities": []},
                   events, False, None, {}, "action_listen")


def responses(d: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in d.messages]


def run(svc: Services, t: Tracker) -> tuple[list[str], list[dict], CollectingDispatcher]:
    d = CollectingDispatcher()
    events = OrderTurn(d, t, svc).run()
    return responses(d), events, d


def test_whatsapp_sender_number_proves_the_order(svc):
    t = tracker("where is KM-10234", "order_status", {"order_id": "KM-10234"},
                sender="whatsapp:919876543210", channel="whatsapp")
    said, _, d = run(svc, t)
    assert said == ["utter_order_status", "utter_other_orders"]
    assert d.messages[0]["first_name"] == "Priya"
    assert svc.store.is_verified("whatsapp:919876543210", "KM-10234")


def test_whatsapp_sender_with_another_number_must_still_prove_it(svc):
    t = tracker("where is KM-10234", "order_status", {"order_id": "KM-10234"},
                sender="whatsapp:919000000001", channel="whatsapp")
    said, _, _ = run(svc, t)
    assert said == ["utter_ask_contact"]


def test_the_same_sender_id_on_the_web_channel_proves_nothing(svc):
    t = tracker("where is KM-10234", "order_status", {"order_id": "KM-10234"}, sender="919876543210")
    assert run(svc, t)[0] == ["utter_ask_contact"]


def test_slots_alone_never_verify(svc):
    """Verification lives in the action server's table, not in a slot a message could set."""
    t = tracker("cancel it", "cancel_order", {"order_id": "KM-10235", "pending_question": "confirm_cancel"})
    said, _, _ = run(svc, t)
    assert "utter_order_cancelled" not in said
    assert svc.provider.get("KM-10235").status == "placed"


def test_lookups_are_rate_limited_per_sender(svc):
    # Right answers for four different orders of this shopper's... and of others, then a fifth.
    owned = [("KM-10234", "+919876543210"), ("KM-10244", "+919876543210"),
             ("KM-10235", "+919812345678"), ("KM-10236", "+919845012345")]
    for order_id, phone in owned:
        said, _, _ = run(svc, tracker("status", "order_status", {"order_id": order_id, "phone": phone}))
        assert said[0].startswith("utter_order_status"), said
    said, _, _ = run(svc, tracker("status", "order_status", {"order_id": "KM-10237", "phone": "+919747012345"}))
    assert said == ["utter_order_rate_limited"]
    # Another shopper is not affected; orders already verified still answer.
    assert run(svc, tracker("status", "order_status", {"order_id": "KM-10237", "phone": "+919747012345"},
                            sender="web-2"))[0][0].startswith("utter_order_status")
    assert run(svc, tracker("status", "order_status", {"order_id": "KM-10234"}))[0][0] == "utter_order_status"


def test_failed_verification_forgets_the_contact_and_counts(svc):
    said, events, _ = run(svc, tracker("x", "order_status", {"order_id": "KM-10234", "phone": "+919000000001"}))
    assert said == ["utter_verification_failed"]
    assert SlotSet("phone", None) in events
    assert svc.store.count("web-1", "failure", dt.datetime.min) == 1


def test_payment_issue_needs_no_verification_and_starts_the_form(svc):
    said, events, _ = run(svc, tracker("money debited", "payment_issue"))
    assert said == ["utter_payment_explain"]
    assert FollowupAction("bank_reference_form") in events


def test_change_address_only_while_placed(svc):
    store = svc.store
    store.record_verified("web-1", "KM-10236", "phone")  # packed
    said, _, _ = run(svc, tracker("change address", "change_address", {"order_id": "KM-10236"}))
    assert said == ["utter_address_too_late"]
    store.record_verified("web-1", "#1001", "phone")  # placed
    said, events, _ = run(svc, tracker("change address", "change_address", {"order_id": "#1001"}))
    assert said == [] and FollowupAction("address_form") in events


@pytest.mark.parametrize("text,expected", [
    ("no", "-"), ("नहीं", "-"), ("flat 4", None), ("12", None),
    ("Flat 12B, Lake View Apartments, 14 MG Road, Bengaluru 560001",
     "Flat 12B, Lake View Apartments, 14 MG Road, Bengaluru 560001"),
])
def test_address_validation(text, expected):
    d = CollectingDispatcher()
    result = ValidateAddressForm().validate_new_address(text, d, tracker(text, "inform"), {})
    assert result == {"new_address": expected}
    assert (responses(d) == ["utter_address_invalid"]) == (expected is None)


@pytest.mark.parametrize("text,expected", [
    ("UTR 412345678901", "412345678901"), ("txn id: hdfc0a1b2c3d4", "HDFC0A1B2C3D4"),
    ("৪১২৩৪৫৬৭৮৯০১", "412345678901"), ("nahi", "-"), ("I don't know", None),
])
def test_bank_reference_validation(text, expected):
    result = ValidateBankReferenceForm().validate_bank_reference(text, CollectingDispatcher(), tracker(text, "inform"), {})
    assert result == {"bank_reference": expected}


def test_yes_without_a_question_is_a_plain_acknowledgement():
    d = CollectingDispatcher()
    events = asyncio.run(ActionYesNo().run(d, tracker("ok", "affirm"), {}))
    assert responses(d) == ["utter_affirm_ack"] and events == [SlotSet("pending_question", None)]


def test_a_message_inside_a_form_goes_back_to_the_form(svc):
    t = tracker("UTR 412345678901", "order_status", {"bank_reference": "UTR 412345678901"})
    t.active_loop = {"name": "bank_reference_form"}
    said, events, _ = run(svc, t)
    assert said == [] and events == [FollowupAction("bank_reference_form")]


def test_an_unreachable_order_system_is_said_honestly_and_a_person_offered(tmp_path, monkeypatch):
    from actions.order_flow import ActionOrderRequest

    monkeypatch.setenv("SAATHI_ENV_FILE", str(tmp_path / "none.env"))
    # Nothing listens on port 9: the database cannot be reached.
    monkeypatch.setenv("SAATHI_ORDERS_DB", "postgresql+psycopg2://saathi@127.0.0.1:9/orders?connect_timeout=2")
    d = CollectingDispatcher()
    t = tracker("where is my order KM-10234", "order_status", {"order_id": "KM-10234"})
    events = asyncio.run(ActionOrderRequest().run(d, t, {}))
    assert responses(d) == ["utter_order_unavailable", "utter_offer_human"]
    assert SlotSet("pending_question", "offer_human") in events
    assert SlotSet("handoff_reason", "action_error") in events
    # "yes" to that offer hands the conversation over.
    yes = tracker("yes", "affirm", {"pending_question": "offer_human", "handoff_reason": "action_error"})
    assert FollowupAction("action_handoff_to_agent") in asyncio.run(ActionYesNo().run(CollectingDispatcher(), yes, {}))

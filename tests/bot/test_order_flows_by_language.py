"""Every order flow in every language form, end to end over the REST webhook (real Rasa server,
real action server, demo orders database): the shopper gives order number and phone in one
message in their own language; the bot answers with that flow's response, in their script.

Nothing here changes an order: cancellation and address change are declined at the question.
Flow details (stored returns, addresses, bank references) are in test_order_conversation.py.
"""
from __future__ import annotations

import re
import secrets

import pytest

from tests.bot.conftest import Shopper
from tests.bot.test_order_conversation import order_row
from tests.stack import tracker

# The danda (U+0964/5) is in the Devanagari block but ends Bengali sentences too.
DEVANAGARI = re.compile(r"[\u0900-\u0963\u0966-\u097f]")
BENGALI = re.compile(r"[\u0980-\u09ff]")
FORMS = ("en", "hi", "bn", "hi-Latn", "bn-Latn")

# flow -> (order, phone on it, what the bot must answer with, the shopper's message per form)
FLOWS = {
    "order_status": ("KM-10234", "9876543210", {"utter_order_status", "utter_order_status_no_tracking"}, {
        "en": "where is my order {o}? phone {p}",
        "hi": "मेरा ऑर्डर {o} कहाँ है? फ़ोन {p}",
        "bn": "আমার অর্ডার {o} কোথায়? ফোন {p}",
        "hi-Latn": "mera order {o} kahan hai? phone {p}",
        "bn-Latn": "amar order {o} kothay ache? phone {p}",
    }),
    "cancel_order": ("#1001", "9811122233", {"utter_confirm_cancel"}, {
        "en": "please cancel my order {o}, phone {p}",
        "hi": "मेरा ऑर्डर {o} कैंसिल कर दीजिए, फ़ोन {p}",
        "bn": "আমার অর্ডার {o} বাতিল করে দিন, ফোন {p}",
        "hi-Latn": "mera order {o} cancel kar do, phone {p}",
        "bn-Latn": "amar order {o} cancel kore din, phone {p}",
    }),
    "return_exchange": ("KM-10239", "8800112233", {"utter_return_outside_window"}, {
        "en": "I want to return order {o}, phone {p}",
        "hi": "मुझे ऑर्डर {o} वापस करना है, फ़ोन {p}",
        "bn": "আমি অর্ডার {o} ফেরত দিতে চাই, ফোন {p}",
        "hi-Latn": "mujhe order {o} return karna hai, phone {p}",
        "bn-Latn": "ami order {o} return korte chai, phone {p}",
    }),
    "refund_status": ("402-1112223-3334445", "9999012345", {"utter_refund_initiated"}, {
        "en": "when will I get the refund for order {o}? phone {p}",
        "hi": "ऑर्डर {o} का रिफंड कब मिलेगा? फ़ोन {p}",
        "bn": "অর্ডার {o} এর রিফান্ড কবে পাব? ফোন {p}",
        "hi-Latn": "order {o} ka refund kab milega? phone {p}",
        "bn-Latn": "order {o} er refund kobe pabo? phone {p}",
    }),
    "change_address": ("#1001", "9811122233", {"utter_ask_new_address"}, {
        "en": "I need to change the delivery address of order {o}, phone {p}",
        "hi": "ऑर्डर {o} का डिलीवरी पता बदलना है, फ़ोन {p}",
        "bn": "অর্ডার {o} এর ডেলিভারি ঠিকানা বদলাতে চাই, ফোন {p}",
        "hi-Latn": "order {o} ka delivery address change karna hai, phone {p}",
        "bn-Latn": "order {o} er delivery address change korte chai, phone {p}",
    }),
    "payment_issue": ("", "", {"utter_payment_explain"}, {
        "en": "my payment failed but the money was deducted from my account",
        "hi": "पेमेंट फेल हो गया लेकिन मेरे खाते से पैसे कट गए",
        "bn": "পেমেন্ট ফেল হয়েছে কিন্তু আমার অ্যাকাউন্ট থেকে টাকা কেটে গেছে",
        "hi-Latn": "payment fail ho gaya par mere account se paise kat gaye",
        "bn-Latn": "payment fail hoyeche kintu amar account theke taka kete geche",
    }),
}
NO = {"en": "no", "hi": "नहीं", "bn": "না", "hi-Latn": "nahi", "bn-Latn": "na"}


def script_is(form: str, text: str) -> bool:
    if form == "hi":
        return bool(DEVANAGARI.search(text)) and not BENGALI.search(text)
    if form == "bn":
        return bool(BENGALI.search(text)) and not DEVANAGARI.search(text)
    return not DEVANAGARI.search(text) and not BENGALI.search(text)


def turn(shopper, text: str) -> tuple[list[str], str]:
    """The responses the bot used for this message, and its text."""
    before = len(tracker(shopper.stack, shopper.sender)["events"])
    reply = "\n".join(m.get("text", "") for m in shopper.say(text))
    bots = [e for e in tracker(shopper.stack, shopper.sender)["events"][before:] if e["event"] == "bot"]
    return [(e.get("metadata") or {}).get("utter_action") for e in bots], reply


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("flow", list(FLOWS))
def test_flow_in_language_form(stack, flow: str, form: str):
    shopper = Shopper(stack, f"matrix-{flow}-{form}-{secrets.token_hex(4)}")  # URL-safe conversation id
    order, phone, expected, says = FLOWS[flow]
    used, reply = turn(shopper, says[form].format(o=order, p=phone))
    assert expected & set(used), (used, reply)
    assert script_is(form, reply), reply
    assert shopper.slot("language") == form
    if order and flow != "change_address":  # (that reply asks for the new address)
        assert order in reply  # order numbers stay in ASCII in every script
    if flow in ("cancel_order", "change_address"):
        used, reply = turn(shopper, NO[form])
        assert {"utter_cancel_kept", "utter_address_kept"} & set(used), (used, reply)
        assert script_is(form, reply), reply
        assert order_row(shopper.stack, order)["status"] == "placed"

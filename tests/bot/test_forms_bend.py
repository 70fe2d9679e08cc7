"""Conversations that bend (issue 14): inside a form the shopper may ask the help centre, ask for a
person, leave, or change the subject; real Rasa, action server and orders database, three forms each.

The form here is the bank-reference question after a payment problem (bank_reference_form).
"""
from __future__ import annotations

import pytest

import secrets

from tests.bot.conftest import Shopper
from tests.bot.test_order_conversation import texts

PAYMENT = {
    "en": "money got deducted but my order was not placed",
    "hi": "पैसे कट गए लेकिन ऑर्डर नहीं हुआ",
    "bn": "টাকা কেটে গেছে কিন্তু অর্ডার হয়নি",
    "hi-Latn": "paise kat gaye lekin order nahi hua",
    "bn-Latn": "taka kete geche kintu order hoyni",
}
FAQ = {"en": "what is your return policy?", "hi-Latn": "return policy kya hai aapki?",
       "bn": "রিটার্ন পলিসি কী?"}
PERSON = {"en": "I want to talk to a human agent", "hi": "मुझे किसी इंसान से बात करनी है",
          "bn-Latn": "ami kono manusher sathe kotha bolte chai"}
LEAVE = {"en": "leave it", "hi-Latn": "rehne do", "bn": "থাক"}
UNRELATED = {"en": "what is the weather in delhi tomorrow?", "hi-Latn": "aaj ka cricket score kya hai",
             "bn": "আজ আবহাওয়া কেমন থাকবে?"}


@pytest.fixture
def shopper(stack: dict, request: pytest.FixtureRequest) -> Shopper:
    """A shopper whose sender id has no brackets (parametrized test names have them)."""
    return Shopper(stack, f"bend-{request.node.originalname}-{secrets.token_hex(4)}")


def in_form(shopper, form: str) -> None:
    shopper.say(PAYMENT[form])
    assert (shopper.tracker().get("active_loop") or {}).get("name") == "bank_reference_form"


def active_loop(shopper) -> str | None:
    return (shopper.tracker().get("active_loop") or {}).get("name")


def bot_actions_since(shopper, n: int) -> list[str]:
    events = shopper.tracker()["events"][n:]
    return [e["name"] for e in events if e["event"] == "action"]


@pytest.mark.parametrize("form", sorted(FAQ))
def test_a_help_centre_question_is_answered_and_the_form_asks_again(shopper, form):
    in_form(shopper, form)
    reply = shopper.say(FAQ[form])
    assert "help/returns-policy" in texts(reply)
    assert shopper.slot("kb_article_id") == "returns-policy"
    assert active_loop(shopper) == "bank_reference_form"
    assert shopper.slot("bank_reference") is None  # the question was not taken as the reference
    assert "UTR" in texts(reply)  # the form's question again, after the answer


@pytest.mark.parametrize("form", sorted(PERSON))
def test_a_request_for_a_person_always_wins(shopper, form):
    in_form(shopper, form)
    n = len(shopper.tracker()["events"])
    shopper.say(PERSON[form])
    assert "action_handoff_to_agent" in bot_actions_since(shopper, n)
    assert active_loop(shopper) is None


@pytest.mark.parametrize("form", sorted(LEAVE))
def test_leaving_ends_the_form_without_touching_notifications(shopper, form):
    in_form(shopper, form)
    n = len(shopper.tracker()["events"])
    shopper.say(LEAVE[form])
    assert active_loop(shopper) is None
    said = [e.get("metadata", {}).get("utter_action") for e in shopper.tracker()["events"][n:] if e["event"] == "bot"]
    assert "utter_payment_recorded" in said  # recorded without a bank reference, as a "no" would be
    assert not {"action_stop_notifications", "action_handoff_to_agent"} & set(bot_actions_since(shopper, n))


@pytest.mark.parametrize("form", sorted(UNRELATED))
def test_an_unrelated_message_ends_the_form(shopper, form):
    in_form(shopper, form)
    n = len(shopper.tracker()["events"])
    reply = shopper.say(UNRELATED[form])
    assert active_loop(shopper) is None
    assert shopper.slot("bank_reference") is None
    said = [e.get("metadata", {}).get("utter_action") for e in shopper.tracker()["events"][n:] if e["event"] == "bot"]
    assert "utter_out_of_scope" in said
    assert "UTR" not in texts(reply)  # the form's question is not asked again

"""Order conversations: status, cancel, return, refund, address change, payment problems.

Thin actions over `actions.orders` (the provider) and `VerificationStore` (who proved what).
`action_order_request` runs for every order intent and for `inform`; it remembers the request
in `order_request`, asks only for what is missing (order number, then phone or e-mail), and
answers once the conversation is verified for that order. `action_yes_no` answers the bot's
own questions (confirm a cancellation, offer a person). Two forms collect free text: the new
address and the bank reference.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.config import Settings, load_settings
from actions.handoff import offer_human
from actions.orders import i18n
from actions.orders.provider import Order, OrderProvider, ProviderUnavailable, mask_phone
from actions.orders.verification import VerificationStore
from actions.privacy import install_log_masking

logger = logging.getLogger(__name__)

ORDER_INTENTS = ("order_status", "cancel_order", "return_exchange", "refund_status", "change_address", "payment_issue")
MAX_FAILURES = 3
DECLINED = "-"  # a form slot the shopper declined to fill ("no")
WHATSAPP_CHANNELS = ("whatsapp", "twilio", "twilio_whatsapp")
FORMS = ("address_form", "bank_reference_form")


@dataclass
class Services:
    settings: Settings
    provider: OrderProvider
    store: VerificationStore


_services: dict[tuple, Services] = {}


def services() -> Services:
    """The provider and the verification records, made once per configuration."""
    settings = load_settings()
    key = (settings.orders_db, settings.order_provider, settings.shopify_shop_url)
    if key not in _services:
        from actions.orders import make_provider
        from actions.orders.models import create_engine_for

        _services[key] = Services(settings, make_provider(settings), VerificationStore(create_engine_for(settings.orders_db)))
    return _services[key]


def _intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def _session_start(tracker: Tracker) -> dt.datetime:
    """When this conversation (Rasa session) started, as naive UTC."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started" and event.get("timestamp"):
            return dt.datetime.fromtimestamp(event["timestamp"], dt.timezone.utc).replace(tzinfo=None)
    first = tracker.events[0].get("timestamp") if tracker.events else None
    return dt.datetime.fromtimestamp(first, dt.timezone.utc).replace(tzinfo=None) if first else dt.datetime.min


def _channel_phone(tracker: Tracker, country: str) -> Optional[str]:
    """The shopper's own number when the channel proves it (WhatsApp sender ids)."""
    if tracker.get_latest_input_channel() not in WHATSAPP_CHANNELS:
        return None
    from bot.nlu.entity_rules import normalise_phone

    raw = tracker.sender_id.split(":", 1)[-1]
    return normalise_phone(raw, country)


class OrderTurn:
    """One order turn: reads the tracker, talks to the provider, says what happened."""

    def __init__(self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: Services) -> None:
        self.d, self.t, self.svc = dispatcher, tracker, svc
        self.lang = tracker.get_slot("language")
        self.sender = tracker.sender_id
        self.since = _session_start(tracker)
        tz = ZoneInfo(svc.settings.timezone)
        self.today = dt.datetime.now(tz).date()

    def say(self, response: str, **values: Any) -> None:
        self.d.utter_message(response=response, **values)

    def order_values(self, order: Order) -> dict[str, Any]:
        lang = self.lang
        return {
            "order_id": order.order_id,
            "first_name": order.first_name,
            "items": order.items,
            "total": i18n.money(order.total, order.currency or self.svc.settings.currency),
            "status_label": i18n.status_label(order.status, lang),
            "courier": order.courier or "-",
            "tracking_number": order.tracking_number or "-",
            "expected_delivery": i18n.date_text(order.expected_delivery, lang),
            "delivered_at": i18n.date_text(order.delivered_at, lang),
            "return_window": self.svc.settings.return_window_days,
        }

    # -- verification ------------------------------------------------------------------
    def locked(self) -> bool:
        return self.svc.store.count(self.sender, "failure", self.since) >= MAX_FAILURES

    def verified_order(self, order_id: str) -> tuple[Optional[Order], List[EventType]]:
        """The order if this conversation has proved it is theirs; otherwise asks or refuses."""
        store, provider = self.svc.store, self.svc.provider
        if store.is_verified(self.sender, order_id, self.since):
            return provider.get(order_id), []
        window = dt.datetime.utcnow() - dt.timedelta(seconds=self.svc.settings.lookup_window_s)
        if store.count(self.sender, "lookup", window) >= self.svc.settings.lookup_limit:
            logger.warning("order lookups rate-limited for a sender")
            self.say("utter_order_rate_limited")
            return None, []
        phone, email = self.t.get_slot("phone"), self.t.get_slot("email")
        own = _channel_phone(self.t, self.svc.settings.default_country)
        if own and not phone and not email:
            store.record(self.sender, "lookup")
            if provider.verify(order_id, phone=own) == "verified":
                store.record_verified(self.sender, order_id, "channel")
                logger.info("order %s verified by the channel's number %s", order_id, mask_phone(own))
                return self.linked(provider.get(order_id), "channel"), []
        if not phone and not email:
            self.say("utter_ask_contact", order_id=order_id)
            return None, []
        store.record(self.sender, "lookup")
        if provider.verify(order_id, phone=phone, email=email) == "verified":
            store.record_verified(self.sender, order_id, "phone" if phone else "email")
            logger.info("order %s verified", order_id)
            return self.linked(provider.get(order_id), "phone" if phone else "email"), []
        store.record(self.sender, "failure")
        logger.info("order verification failed (order %s)", order_id)
        forget = [SlotSet("phone", None), SlotSet("email", None)]
        if self.locked():
            self.say("utter_verification_locked")
            return None, forget + [SlotSet("order_request", None), SlotSet("pending_question", "offer_human"),
                                   SlotSet("handoff_reason", "verification_failed")]
        self.say("utter_verification_failed")
        return None, forget

    def linked(self, order: Optional[Order], method: str) -> Optional[Order]:
        """Now verified: link this channel identity to the order's customer (actions/customers.py)."""
        if order is not None:
            from actions.customers import link_verified

            link_verified(self.svc.settings, self.t.get_latest_input_channel(), self.sender, order, method, self.lang)
        return order

    # -- the requests ----------------------------------------------------------------
    def run(self) -> List[EventType]:
        form = self.t.active_loop_name
        if form in FORMS:
            # A rule for the message's intent ("UTR 4123..." looks like an order question) beat
            # the form; the form's slot is already extracted from the text, so let it validate.
            return [FollowupAction(form)]
        # Right after a form finished, the message was the form's answer, not a new request.
        intent = None if self.t.latest_action_name in FORMS else _intent(self.t)
        events: List[EventType] = []
        request = self.t.get_slot("order_request")
        if intent in ORDER_INTENTS:
            request = intent
            events.append(SlotSet("order_request", intent))
        order_id = self.t.get_slot("order_id")
        if request is None:
            if order_id:
                self.say("utter_what_order_request", order_id=order_id)
            else:
                self.say("utter_inform_ack")
            return events
        if request == "payment_issue":
            return events + self.payment_issue(order_id)
        if self.locked():
            self.say("utter_verification_locked")
            return events + [SlotSet("order_request", None), SlotSet("pending_question", "offer_human"),
                             SlotSet("handoff_reason", "verification_failed")]
        if not order_id:
            self.say("utter_ask_order_id")
            return events
        if intent == "cancel_order" and self.t.get_slot("pending_question") == "confirm_cancel":
            # "yes, cancel it" after the bot asked: that is the confirmation.
            return events + [SlotSet("pending_question", None)] + self.confirm_cancel(order_id)
        order, more = self.verified_order(order_id)
        events += more
        if order is None:
            return events
        handler = getattr(self, request)
        return events + handler(order)

    def done(self) -> List[EventType]:
        return [SlotSet("order_request", None)]

    def order_status(self, order: Order) -> List[EventType]:
        v = self.order_values(order)
        events = self.done()
        if order.status == "delivered":
            self.say("utter_order_status_delivered", **v)
        elif order.status == "delayed":
            self.say("utter_order_status_delayed", **v)
            events += [SlotSet("pending_question", "offer_human"), SlotSet("handoff_reason", "delayed_order")]
        elif order.status in ("placed", "packed"):
            self.say("utter_order_status_no_tracking", **v)
        elif order.status in ("shipped", "out_for_delivery"):
            self.say("utter_order_status", **v)
        else:
            self.say("utter_order_status_closed", **v)
        others = [o for o in self.svc.provider.recent_orders(phone=order.phone, email=order.email, limit=4)
                  if o.order_id != order.order_id][:3]
        if others:
            listing = ", ".join(f"{o.order_id} ({i18n.status_label(o.status, self.lang)})" for o in others)
            self.say("utter_other_orders", order_list=listing)
        return events

    def cancel_order(self, order: Order) -> List[EventType]:
        v = self.order_values(order)
        if order.status in ("placed", "packed"):
            self.say("utter_confirm_cancel", **v)
            return [SlotSet("pending_question", "confirm_cancel")]
        if order.status == "cancelled":
            self.say("utter_cancel_already", **v)
        elif order.status == "delivered":
            self.say("utter_cancel_delivered", **v)
        elif order.status in ("returned", "refund_initiated"):
            self.say("utter_return_already", **v)
        else:
            self.say("utter_cancel_too_late", **v)
        return self.done()

    def confirm_cancel(self, order_id: str) -> List[EventType]:
        """The shopper said yes: cancel, if still theirs and still possible."""
        if not self.svc.store.is_verified(self.sender, order_id, self.since):
            self.say("utter_ask_contact", order_id=order_id)
            return []
        outcome = self.svc.provider.cancel(order_id, reason="shopper asked in chat")
        order = self.svc.provider.get(order_id)
        v = self.order_values(order) if order else {"order_id": order_id}
        response = {"cancelled": "utter_order_cancelled", "already_cancelled": "utter_cancel_already"}.get(
            outcome, "utter_cancel_too_late")
        self.say(response, **v)
        logger.info("cancel %s: %s", order_id, outcome)
        return self.done()

    def return_exchange(self, order: Order) -> List[EventType]:
        v = self.order_values(order)
        result = self.svc.provider.create_return(order.order_id, reason="requested in chat", today=self.today)
        if result.outcome == "created":
            self.say("utter_return_created", reference=result.reference, **v)
        elif result.outcome == "outside_window":
            self.say("utter_return_outside_window", deadline=i18n.date_text(result.deadline, self.lang), **v)
        elif result.outcome == "already_returned":
            self.say("utter_return_already", **v)
        else:
            self.say("utter_return_not_delivered", **v)
        return self.done()

    def refund_status(self, order: Order) -> List[EventType]:
        v = self.order_values(order)
        if order.status in ("refund_initiated", "cancelled"):
            self.say("utter_refund_initiated", **v)
        elif order.status == "returned":
            self.say("utter_refund_pending", **v)
        else:
            self.say("utter_refund_none", **v)
        return self.done()

    def change_address(self, order: Order) -> List[EventType]:
        v = self.order_values(order)
        if order.status != "placed":
            self.say("utter_address_too_late", **v)
            return self.done()
        new_address = self.t.get_slot("new_address")
        if not new_address:
            return [FollowupAction("address_form")]
        if new_address == DECLINED:
            self.say("utter_address_kept")
            return self.done() + [SlotSet("new_address", None)]
        outcome = self.svc.provider.change_address(order.order_id, new_address)
        if outcome == "changed":
            self.say("utter_address_changed", new_address=new_address, **v)
        else:
            self.say("utter_address_too_late", **v)
        return self.done() + [SlotSet("new_address", None)]

    def payment_issue(self, order_id: Optional[str]) -> List[EventType]:
        """No order details are shown here, so no verification is needed."""
        reference = self.t.get_slot("bank_reference")
        if not reference:
            self.say("utter_payment_explain")
            return [FollowupAction("bank_reference_form")]
        ref = self.svc.provider.record_payment_issue(order_id, None if reference == DECLINED else reference)
        self.say("utter_payment_recorded", reference=ref)
        return self.done() + [SlotSet("bank_reference", None), SlotSet("pending_question", "offer_human"),
                              SlotSet("handoff_reason", "payment_issue")]


ORDER_SYSTEM_ERRORS = (ProviderUnavailable, OSError, SQLAlchemyError)


def order_system_down(dispatcher: CollectingDispatcher, exc: Exception) -> List[EventType]:
    """The order system cannot be reached: say so honestly and offer a person."""
    logger.error("order system unavailable: %s", exc.__class__.__name__)
    dispatcher.utter_message(response="utter_order_unavailable")
    return offer_human(dispatcher, "action_error")


class ActionOrderRequest(Action):
    def __init__(self) -> None:
        install_log_masking()

    def name(self) -> Text:
        return "action_order_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        try:
            svc = await asyncio.to_thread(services)
            return await asyncio.to_thread(OrderTurn(dispatcher, tracker, svc).run)
        except ORDER_SYSTEM_ERRORS as exc:
            return order_system_down(dispatcher, exc)


class ActionYesNo(Action):
    """Yes or no to the bot's own last question; otherwise a plain acknowledgement."""

    def name(self) -> Text:
        return "action_yes_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        pending = tracker.get_slot("pending_question")
        yes = _intent(tracker) == "affirm"
        events: List[EventType] = [SlotSet("pending_question", None)]
        if pending == "offer_human":
            if yes:
                return events + [FollowupAction("action_handoff_to_agent")]
            dispatcher.utter_message(response="utter_offer_declined")
            return events
        if pending == "confirm_cancel" and tracker.get_slot("order_id"):
            order_id = tracker.get_slot("order_id")
            if not yes:
                dispatcher.utter_message(response="utter_cancel_kept", order_id=order_id)
                return events + [SlotSet("order_request", None)]
            try:
                svc = await asyncio.to_thread(services)
                turn = OrderTurn(dispatcher, tracker, svc)
                return events + await asyncio.to_thread(turn.confirm_cancel, order_id)
            except ORDER_SYSTEM_ERRORS as exc:
                return events + order_system_down(dispatcher, exc)
        dispatcher.utter_message(response="utter_affirm_ack" if yes else "utter_deny_ack")
        return events


# "No" to a form's question, or leaving it: "stop", "leave it", "rehne do", "thak" end the form.
_NO = re.compile(r"^\s*(no|nahi|nahin|na|না|নাহ|नहीं|नही|nei|nai|cancel|skip|stop|leave it|forget it|rehne do|"
                 r"rehne dijiye|chhodo|chhod do|jane do|thak|thaak|thak thak|bad dao|baad dao|"
                 r"रहने दो|छोड़ो|छोड़ दो|থাক|বাদ দাও|বাদ দিন)\s*[.!]?\s*$", re.I)
_REFERENCE = re.compile(r"\b([A-Za-z0-9]{6,30})\b")


class ValidateAddressForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[Text, Any]:
        text = " ".join(str(value or "").split())
        if _NO.match(text) or _intent(tracker) == "deny":
            return {"new_address": DECLINED}
        if len(text) < 15 or len(text) > 400 or not re.search(r"\d", text) or len(text.split()) < 3:
            dispatcher.utter_message(response="utter_address_invalid")
            return {"new_address": None}  # the form asks again
        return {"new_address": text}


class ValidateBankReferenceForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_bank_reference_form"

    def validate_bank_reference(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> Dict[Text, Any]:
        from bot.nlu.text import ascii_digits

        text = ascii_digits(str(value or ""))
        if _NO.match(text) or _intent(tracker) == "deny":
            return {"bank_reference": DECLINED}
        candidates = [c for c in _REFERENCE.findall(text) if any(ch.isdigit() for ch in c)]
        if not candidates:
            return {"bank_reference": None}  # the form asks again
        return {"bank_reference": max(candidates, key=len).upper()}

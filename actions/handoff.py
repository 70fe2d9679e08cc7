"""Hand the conversation to a person (the live-agent queue of the handoff bridge).

`action_handoff_to_agent` queues the conversation with its channel, language, reason and the
verified customer/order (if any) and pauses the bot. `action_offer_human` asks first ("shall I
connect you to a person?"; yes runs the handoff through `action_yes_no`). `action_fallback`
asks to rephrase once and offers a person on the second miss in a row. `action_rate_agent`
stores the 1–5 rating the shopper gives after an agent closed the conversation.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.bridge import BridgeClient
from actions.config import Settings, load_settings

logger = logging.getLogger(__name__)

# Why the bot hands over; the bridge reports handoffs by these names.
REASON_BY_INTENT = {"request_human": "shopper_request", "complaint": "complaint", "nlu_fallback": "low_confidence"}


def bridge(settings: Settings) -> BridgeClient:
    return BridgeClient(settings.bridge_url, timeout=settings.http_timeout, token=settings.bridge_token)


def _intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def customer_context(tracker: Tracker) -> dict[str, Any]:
    """The verified order of this conversation, if any: what the agent needs to see at once."""
    try:
        from actions.order_flow import _session_start, services

        svc = services()
        order_id = svc.store.latest_verified(tracker.sender_id, _session_start(tracker))
        if not order_id:
            return {"verified": False, "order_id": tracker.get_slot("order_id")}
        order = svc.provider.get(order_id)
        if order is None:
            return {"verified": False, "order_id": order_id}
        context = {"verified": True, "order_id": order.order_id, "first_name": order.first_name,
                   "order_status": order.status, "items": order.items}
        from actions.customers import customer_store

        customer = customer_store(svc.settings).customer_for(tracker.get_latest_input_channel(), tracker.sender_id)
        if customer is not None:  # the console shows this customer's conversations on every channel
            context["customer_id"] = customer.id
        return context
    except Exception as exc:  # the handoff must not fail because the order system did
        logger.warning("no customer context for the handoff: %s", type(exc).__name__)
        return {"verified": False, "order_id": tracker.get_slot("order_id")}


# After an attempt that does not pause the conversation, the bot waits for the shopper: whatever
# led here (a rule, a "yes" to the offer of a person), no policy is left to guess the next step.
LISTEN = FollowupAction("action_listen")


class ActionHandoffToAgent(Action):
    def name(self) -> Text:
        return "action_handoff_to_agent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        settings = load_settings()
        reason = tracker.get_slot("handoff_reason") or REASON_BY_INTENT.get(_intent(tracker) or "", "shopper_request")
        outcome = bridge(settings).enqueue({
            "conversation_id": tracker.sender_id,
            "channel": tracker.get_latest_input_channel() or "unknown",
            "language": tracker.get_slot("language") or "en",
            "reason": reason,
            "context": customer_context(tracker),
        })
        events: List[EventType] = [SlotSet("handoff_reason", None), SlotSet("pending_question", None)]
        if outcome.status == "unavailable":
            # No pretend handoff: say honestly that nobody can be reached from here.
            dispatcher.utter_message(response="utter_handoff_unavailable", support_contact=settings.support_contact)
            return events + [SlotSet("handoff_status", "unavailable"), LISTEN]
        if outcome.status == "offline_ticket":
            dispatcher.utter_message(response="utter_handoff_offline", back_at=outcome.detail.get("back_at", ""))
            # Not paused: the bot keeps helping meanwhile; the agent answers the ticket on this channel.
            return events + [SlotSet("handoff_status", "offline_ticket"), LISTEN]
        dispatcher.utter_message(response="utter_handoff_queued", position=outcome.detail.get("position", 1),
                                 minutes=outcome.detail.get("eta_minutes", 5))
        return events + [SlotSet("handoff_status", "queued"), ConversationPaused()]


def offer_human(dispatcher: CollectingDispatcher, reason: str) -> List[EventType]:
    dispatcher.utter_message(response="utter_offer_human")
    return [SlotSet("pending_question", "offer_human"), SlotSet("handoff_reason", reason)]


class ActionOfferHuman(Action):
    """Apology already said (complaint): now the offer of a person."""

    def name(self) -> Text:
        return "action_offer_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        return offer_human(dispatcher, REASON_BY_INTENT.get(_intent(tracker) or "", "complaint"))


class ActionFallback(Action):
    """Not understood: ask to rephrase; the second miss in a row offers a person."""

    def name(self) -> Text:
        return "action_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        misses = int(tracker.get_slot("fallback_misses") or 0) + 1
        if misses >= 2:
            return offer_human(dispatcher, "low_confidence") + [SlotSet("fallback_misses", 0.0)]
        dispatcher.utter_message(response="utter_ask_rephrase")
        return [SlotSet("fallback_misses", float(misses))]


class ActionRateAgent(Action):
    """The shopper's 1–5 answer to the rating question the bridge sent when the agent closed."""

    def name(self) -> Text:
        return "action_rate_agent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        from bot.nlu.rating import rating_of

        rating = rating_of((tracker.latest_message or {}).get("text"))
        if rating is not None:
            outcome = bridge(load_settings()).rate(tracker.sender_id, rating)
            logger.info("agent rating %s: %s", rating, outcome)
        dispatcher.utter_message(response="utter_rating_thanks")
        return [SlotSet("handoff_status", None)]


class ActionSessionStart(Action):
    """Rasa's session start, except that a conversation waiting for or talking to an agent stays
    paused: Rasa's own one would un-pause it when the session expires (60 minutes by default)."""

    def name(self) -> Text:
        return "action_session_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        # carry_over_slots_to_new_session is on in domain.yml: keep what the shopper told us.
        events += [SlotSet(name, value) for name, value in tracker.slots.items()
                   if value is not None and name != "requested_slot"]
        if tracker.get_slot("handoff_status") in ("queued", "with_agent"):
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events

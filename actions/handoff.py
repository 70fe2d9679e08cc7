"""Hand the conversation to a person (the live-agent queue of the handoff bridge)."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clients.bridge import BridgeClient
from actions.config import load_settings


class ActionHandoffToAgent(Action):
    def name(self) -> Text:
        return "action_handoff_to_agent"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = load_settings()
        client = BridgeClient(settings.bridge_url, timeout=settings.http_timeout)
        outcome = client.enqueue(
            {
                "conversation_id": tracker.sender_id,
                "channel": (tracker.get_latest_input_channel() or "unknown"),
                "language": tracker.get_slot("language") or "en",
                "reason": "shopper_request",
                "order_id": tracker.get_slot("order_id"),
            }
        )
        if outcome.status == "unavailable":
            # No pretend handoff: say honestly that nobody can be reached from here.
            dispatcher.utter_message(
                response="utter_handoff_unavailable", support_contact=settings.support_contact
            )
            return [SlotSet("handoff_status", "unavailable")]
        dispatcher.utter_message(
            response="utter_handoff_queued",
            position=outcome.detail.get("position", 1),
            minutes=outcome.detail.get("eta_minutes", 5),
        )
        return [SlotSet("handoff_status", outcome.status), ConversationPaused()]

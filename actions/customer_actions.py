"""Conversation actions of the customer record: greeting by name, STOP and START.

`action_greet` greets a returning shopper by first name only when this exact (input channel,
sender id) was linked through an order verification and the channel proves who writes
(SAATHI_GREET_BY_NAME_CHANNELS: WhatsApp, Messenger and the website session by default; a REST
client chooses its own sender id, so it proves nothing). `action_stop_notifications` sets the
opt-out flag (no proactive message is sent any more, actions/notify.py) and confirms in the
shopper's language; `action_start_notifications` clears it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.config import load_settings
from actions.privacy import install_log_masking

logger = logging.getLogger(__name__)


class ActionGreet(Action):
    def __init__(self) -> None:
        install_log_masking()

    def name(self) -> Text:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        from actions.customers import greeting_name

        first_name = ""
        try:
            first_name = await asyncio.to_thread(greeting_name, load_settings(), tracker.get_latest_input_channel(),
                                                 tracker.sender_id, tracker.get_slot("language"))
        except (SQLAlchemyError, OSError) as exc:  # the greeting never fails because of the database
            logger.warning("customer lookup failed: %s", type(exc).__name__)
        if first_name:
            dispatcher.utter_message(response="utter_greet_name", first_name=first_name)
        else:
            dispatcher.utter_message(response="utter_greet")
        return []


class _OptAction:
    """STOP / START (a mixin: rasa-sdk registers every Action subclass, so this one is not)."""

    opted_out = True
    response = "utter_notifications_stopped"

    def __init__(self) -> None:
        install_log_masking()

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        from actions.customers import customer_store

        channel, sender = tracker.get_latest_input_channel(), tracker.sender_id
        try:
            store = customer_store(load_settings())
            await asyncio.to_thread(store.set_opt_out, channel, sender, self.opted_out)
        except (SQLAlchemyError, OSError) as exc:
            # Saying "done" without having stored it would break the shopper's trust (and the law).
            logger.error("opt-out not stored: %s", type(exc).__name__)
            dispatcher.utter_message(response="utter_order_unavailable")
            return []
        logger.info("notifications %s for a %s sender", "stopped" if self.opted_out else "started", channel)
        dispatcher.utter_message(response=self.response)
        return []


class ActionStopNotifications(_OptAction, Action):
    def name(self) -> Text:
        return "action_stop_notifications"


class ActionStartNotifications(_OptAction, Action):
    opted_out = False
    response = "utter_notifications_started"

    def name(self) -> Text:
        return "action_start_notifications"

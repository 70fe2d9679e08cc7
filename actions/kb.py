"""Answer help-centre questions."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import load_settings


class ActionAnswerFaq(Action):
    """Until the knowledge-base index exists (kb_index), say so honestly and point to help."""

    def name(self) -> Text:
        return "action_answer_faq"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = load_settings()
        dispatcher.utter_message(
            response="utter_faq_unavailable",
            support_contact=settings.support_contact,
            help_centre_url=settings.help_centre_url,
        )
        return [SlotSet("kb_article_id", None)]

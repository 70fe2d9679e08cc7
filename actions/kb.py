"""Answer help-centre questions from the knowledge-base index (kb_index)."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import Settings, load_settings
from actions.kb_feedback import FeedbackStore

logger = logging.getLogger(__name__)
RETRY_AFTER_S = 30.0


class _HelpCentreHolder:
    """Loads the index and the embedding model once per process, in the background.

    If the index is missing, the action says so honestly; loading is retried after a
    while so an index built later (`make kb`) is picked up without a restart.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help_centre: Any = None
        self._failed_at = 0.0

    def start(self, settings: Settings) -> None:
        threading.Thread(target=self.get, args=(settings,), daemon=True).start()

    def get(self, settings: Settings) -> Any:
        with self._lock:
            if self._help_centre is None and time.monotonic() - self._failed_at > RETRY_AFTER_S:
                from kb_index.search import HelpCentre, IndexMissing

                try:
                    self._help_centre = HelpCentre.load(settings.kb_index, model=settings.embed_model)
                    logger.info("help centre loaded from %s", settings.kb_index)
                except IndexMissing:
                    self._failed_at = time.monotonic()
                    logger.warning("no help-centre index at %s (run make kb)", settings.kb_index)
            return self._help_centre


_holder = _HelpCentreHolder()
_stores: dict[str, FeedbackStore] = {}


def feedback_store(settings: Settings) -> FeedbackStore:
    if settings.kb_db not in _stores:
        _stores[settings.kb_db] = FeedbackStore(settings.kb_db)
    return _stores[settings.kb_db]


def _question(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


class ActionAnswerFaq(Action):
    """Quote the best help-centre passage with its title and link, or ask to rephrase."""

    def __init__(self) -> None:
        _holder.start(load_settings())

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = load_settings()
        question = _question(tracker)
        language: Optional[str] = tracker.get_slot("language")
        help_centre = await asyncio.to_thread(_holder.get, settings)
        if help_centre is None:
            dispatcher.utter_message(
                response="utter_faq_unavailable",
                support_contact=settings.support_contact,
                help_centre_url=settings.help_centre_url,
            )
            return [SlotSet("kb_article_id", None)]

        answer = await asyncio.to_thread(help_centre.answer, question, language)
        if answer is None:
            misses = int(tracker.get_slot("kb_misses") or 0) + 1
            await asyncio.to_thread(feedback_store(settings).log_unanswered, question, language)
            dispatcher.utter_message(response="utter_kb_rephrase" if misses < 2 else "utter_kb_not_found")
            return [SlotSet("kb_article_id", None), SlotSet("kb_misses", float(misses))]

        dispatcher.utter_message(
            response="utter_kb_answer_other_language" if answer.other_language else "utter_kb_answer",
            title=answer.title,
            passage=answer.text,
            url=answer.url,
        )
        return [SlotSet("kb_article_id", answer.article_id), SlotSet("kb_misses", 0.0)]


class ActionKbFeedback(Action):
    """Store the shopper's helpful / not helpful rating of the article that answered."""

    def name(self) -> Text:
        return "action_kb_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        article_id = tracker.get_slot("kb_article_id")
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if not article_id or intent not in ("kb_helpful", "kb_not_helpful"):
            dispatcher.utter_message(response="utter_affirm_ack")
            return []
        settings = load_settings()
        helpful = intent == "kb_helpful"
        await asyncio.to_thread(
            feedback_store(settings).rate, article_id, helpful, tracker.get_slot("language")
        )
        dispatcher.utter_message(response="utter_kb_thanks_helpful" if helpful else "utter_kb_thanks_not_helpful")
        return [SlotSet("kb_article_id", None)]

"""A policy that only keeps per-turn slots (`language`, …) in step with the shopper.

The LanguageTagger NLU component puts the detected language form into the parse data.
Policies may attach events to their prediction that Rasa applies whichever policy wins
(`PolicyPrediction.events`); this one never wins (all-zero probabilities, lowest
priority) and sets the slot right after a user message that carries language.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

LANGUAGE_SLOT = "language"
LANGUAGE_KEY = "language"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class LanguagePolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # turn_slots: slots that describe only the latest turn, reset when the shopper
        # speaks, except after the intents listed (e.g. rating the article that answered).
        return {"priority": 0, "turn_slots": {}}

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        events = []
        last = tracker.get_last_event_for((UserUttered, ActionExecuted))
        if isinstance(last, UserUttered):  # only on the first prediction after the shopper spoke
            language = self._new_language(last, tracker, domain)
            if language:
                events.append(SlotSet(LANGUAGE_SLOT, language))
            intent = (last.intent or {}).get("name")
            for slot, keep_after in (self.config.get("turn_slots") or {}).items():
                if intent not in (keep_after or []) and tracker.get_slot(slot) is not None:
                    events.append(SlotSet(slot, None))
        return self._prediction(self._default_predictions(domain), events=events)

    @staticmethod
    def _new_language(last: UserUttered, tracker: DialogueStateTracker, domain: Domain) -> Optional[str]:
        if not any(slot.name == LANGUAGE_SLOT for slot in domain.slots):
            return None
        language = (last.parse_data or {}).get(LANGUAGE_KEY)
        if not language or language == tracker.get_slot(LANGUAGE_SLOT):
            return None
        return language

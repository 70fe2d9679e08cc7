"""A policy that only keeps the `language` slot in step with the shopper.

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
        return {"priority": 0}

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
        language = self._new_language(tracker, domain)
        if language:
            events.append(SlotSet(LANGUAGE_SLOT, language))
        return self._prediction(self._default_predictions(domain), events=events)

    @staticmethod
    def _new_language(tracker: DialogueStateTracker, domain: Domain) -> Optional[str]:
        if not any(slot.name == LANGUAGE_SLOT for slot in domain.slots):
            return None
        last = tracker.get_last_event_for((UserUttered, ActionExecuted))
        if not isinstance(last, UserUttered):
            return None  # only on the first prediction after the shopper spoke
        language = (last.parse_data or {}).get(LANGUAGE_KEY)
        if not language or language == tracker.get_slot(LANGUAGE_SLOT):
            return None
        return language

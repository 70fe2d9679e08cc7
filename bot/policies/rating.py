"""After an agent closes a conversation the bridge asks for a 1–5 rating: this policy sends the
shopper's answer to `action_rate_agent` instead of the NLU's guess ("5" looks like `inform`).

It predicts only when slot `handoff_status` is `closed` and the message is a rating: a digit
1–5 in ASCII, Devanagari or Bengali digits (optionally with "/5" or stars), or 1–5 star emoji.
Any other message clears `handoff_status`, so a later bare "5" is not taken as a rating.
After `action_rate_agent` it predicts `action_listen`: no story or rule covers that turn, and a
low-confidence guess there ran the core fallback, whose rewind brought back the shopper's
earlier request for a person and handed the conversation over again.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.rating import rating_of

RATE_ACTION = "action_rate_agent"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class RatingPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7}  # above RulePolicy (6): a rating is never an order detail

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        last = tracker.get_last_event_for((UserUttered, ActionExecuted))
        if isinstance(last, ActionExecuted) and last.action_name == RATE_ACTION:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        if not isinstance(last, UserUttered) or tracker.get_slot("handoff_status") != "closed":
            return self._prediction(probabilities)
        if rating_of(last.text) is None or RATE_ACTION not in domain.action_names_or_texts:
            return self._prediction(probabilities, events=[SlotSet("handoff_status", None)])
        probabilities[domain.index_for_action(RATE_ACTION)] = 1.0
        return self._prediction(probabilities)

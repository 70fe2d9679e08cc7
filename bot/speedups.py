"""Two measured fixes to Rasa 3.6's hot path, installed when the server starts.

In py-spy profiles of Saathi's REST turns on 2 cores (README, Benchmarks):
- Rasa checks every action-server response with `jsonschema.validate(result, schema)`, which
  first validates the schema itself against JSON Schema's meta-schema (draft 2020-12,
  `$dynamicRef`): 40% of the Rasa server's CPU. The validator is now built once; what is
  accepted and rejected is unchanged.
- Reading a tracker resolves each stored event's class by walking every subclass of `Event`
  (`Event.resolve_by_type`): 8%. The classes are now looked up in a table, rebuilt on a miss so
  classes defined later are still found; the first match wins, as in Rasa's loop.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text, Type

from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

_validator: Optional[Any] = None
_event_types: Dict[Text, Type[Event]] = {}


def _action_response_validator() -> Any:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        cls = validators.validator_for(schema)
        cls.check_schema(schema)  # once, not on every response
        _validator = cls(schema)
    return _validator


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as e:  # the same message as Rasa's own check
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise e


def _resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    cls = _event_types.get(type_name)
    if cls is None:
        _event_types.clear()
        for sub in all_subclasses(Event):
            _event_types.setdefault(sub.type_name, sub)
        cls = _event_types.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # Rasa's backwards compatibility with old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[assignment]

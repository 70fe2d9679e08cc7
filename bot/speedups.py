"""Measured fixes to Rasa 3.6's hot path, installed when the server starts.

In py-spy profiles of Saathi's REST turns on 2 cores (README, Benchmarks):
- Rasa checks every action-server response with `jsonschema.validate(result, schema)`, which
  first validates the schema itself against JSON Schema's meta-schema (draft 2020-12,
  `$dynamicRef`): 40% of the Rasa server's CPU. The validator is now built once; what is
  accepted and rejected is unchanged.
- Reading a tracker resolves each stored event's class by walking every subclass of `Event`
  (`Event.resolve_by_type`): 8%. The classes are now looked up in a table, rebuilt on a miss so
  classes defined later are still found; the first match wins, as in Rasa's loop.
- Every custom-action call opened a new aiohttp session and TCP connection
  (`EndpointConfig.request`). Endpoints now keep one session per event loop, with keep-alive
  (idle connections closed after 10 s, before the action server or nginx would close them).
- Every custom-action call carried the whole domain (113 kB of JSON for Saathi's five language
  forms), encoded by Rasa and decoded by the action server each time. rasa-sdk (3.9+) keeps the
  domain it was sent together with a `domain_digest` and accepts later calls that carry only the
  digest, answering 449 when it does not hold that digest (restarted, another replica). Calls now
  send the digest, omit the domain once that action server URL has accepted it, and send it again
  after a 449. A kept connection that the action server closed (it restarted) gets one more try
  on a new connection: a request that could not be written was never run; one whose answer was
  lost with the server would have failed the turn anyway.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any, Dict, List, Optional, Set, Text, Tuple, Type

import aiohttp
from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.exceptions import RasaException
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

logger = logging.getLogger(__name__)
_validator: Optional[Any] = None
_event_types: Dict[Text, Type[Event]] = {}
_original_session = EndpointConfig.session
_original_call_format = RemoteAction._action_call_format
_original_run = RemoteAction.run
_original_request = EndpointConfig.request
KEEPALIVE_S = 10.0
# (action endpoint URL, domain digest) pairs whose server has accepted that domain.
_domain_known: Set[Tuple[Text, Text]] = set()
_digests: Dict[int, Tuple[Any, Text]] = {}  # id(domain dict) -> (the dict, its digest)


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


class _KeptSession:
    """`async with` yields the endpoint's long-lived session and leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def _kept_session(self: EndpointConfig) -> Any:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop: the caller gets a session of its own, as before
        return _original_session(self)
    kept: Dict[int, aiohttp.ClientSession] = self.__dict__.setdefault("_saathi_sessions", {})
    session = kept.get(id(loop))
    if session is None or session.closed:
        auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                if self.basic_auth else None)  # as Rasa's own session()
        session = aiohttp.ClientSession(
            headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
        )
        kept[id(loop)] = session
    return _KeptSession(session)


def _domain_digest(domain_dict: Dict[Text, Any]) -> Text:
    cached = _digests.get(id(domain_dict))
    if cached is not None and cached[0] is domain_dict:
        return cached[1]
    digest = hashlib.sha256(json.dumps(domain_dict, sort_keys=True, default=str).encode()).hexdigest()
    _digests.clear()  # one domain per loaded model
    _digests[id(domain_dict)] = (domain_dict, digest)
    return digest


def _endpoint_url(action: RemoteAction) -> Text:
    return action.action_endpoint.url if action.action_endpoint else ""


def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> Dict[Text, Any]:
    result = _original_call_format(self, tracker, domain)
    if "domain" in result:
        digest = _domain_digest(result["domain"])
        result["domain_digest"] = digest
        if (_endpoint_url(self), digest) in _domain_known:
            del result["domain"]
    return result


async def _run_remote(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
    """Rasa's `RemoteAction.run`, sending the domain again when the action server answers 449."""
    key = (_endpoint_url(self), _domain_digest(domain.as_dict()))
    try:
        events = await _original_run(self, output_channel, nlg, tracker, domain)
    except RasaException as error:
        cause = error.__cause__
        if not (isinstance(cause, ClientResponseError) and cause.status == 449):
            raise
        # This action server does not hold the domain (restarted, or another replica).
        logger.info("action server %s lacks the domain: sending it again", key[0])
        _domain_known.discard(key)
        events = await _original_run(self, output_channel, nlg, tracker, domain)
    _domain_known.add(key)
    return events


async def _request(self: EndpointConfig, *args: Any, **kwargs: Any) -> Any:
    """Rasa's `EndpointConfig.request`, once more on a new connection when a kept one turns out to
    be closed (the server restarted since the last call)."""
    try:
        return await _original_request(self, *args, **kwargs)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as error:
        logger.info("%s: kept connection closed (%s), trying a new one", self.url, type(error).__name__)
        return await _original_request(self, *args, **kwargs)


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[assignment]
    EndpointConfig.session = _kept_session  # type: ignore[assignment]
    EndpointConfig.request = _request  # type: ignore[assignment]
    RemoteAction._action_call_format = _action_call_format  # type: ignore[assignment]
    RemoteAction.run = _run_remote  # type: ignore[assignment]

"""Malformed bodies sent to Rasa's own HTTP API get 400, never 500.

Rasa 3.6's handlers of `/model/parse`, `/conversations/<id>/messages|execute|trigger_intent` and
`PUT /model` index into `request.json` without checking it: a body that is not JSON (or not UTF-8,
or nested too deeply), or JSON of another shape (`null`, a list, `{"text": 5}`), raises inside the
handler and Rasa answers 500 (found by bench/fuzz.py). A request middleware on the whole app checks
those bodies before Rasa's handler runs and refuses them with 400. It only refuses: Rasa's token
check still decides who may call the API. The REST channel installs it (`install(bp)`), as that
channel is always mounted.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Optional, Pattern, Tuple, Type, Union

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.nlu.text import has_lone_surrogate

_Types = Union[Type, Tuple[Type, ...]]

# (method, path) -> (type of the body, {key: type of its value}, keys that are required)
RULES: Tuple[Tuple[str, Pattern[str], _Types, Dict[str, _Types], Tuple[str, ...]], ...] = (
    ("POST", re.compile(r"/model/parse"), dict, {"text": str, "message_id": str}, ("text",)),
    ("POST", re.compile(r"/conversations/.+/messages"), dict,
     {"text": str, "sender": str, "parse_data": dict}, ("text", "sender")),
    ("POST", re.compile(r"/conversations/.+/execute"), dict,
     {"name": str, "policy": str, "confidence": (int, float)}, ("name",)),
    ("POST", re.compile(r"/conversations/.+/trigger_intent"), dict,
     {"name": str, "entities": (dict, list)}, ("name",)),
    ("POST", re.compile(r"/conversations/.+/tracker/events"), (dict, list), {}, ()),
    ("PUT", re.compile(r"/conversations/.+/tracker/events"), list, {}, ()),
    ("POST", re.compile(r"/model/predict"), (dict, list), {}, ()),
    ("PUT", re.compile(r"/model"), dict, {"model_file": str, "model_server": dict, "remote_storage": str}, ()),
)


def problem(method: str, path: str, body: bytes) -> Optional[str]:
    """Why Rasa's handler would crash on this body, or None when it may go on."""
    rule = next((r for r in RULES if r[0] == method and r[1].fullmatch(path)), None)
    if rule is None:
        return None
    _, _, shape, fields, required = rule
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "the request body must be valid JSON (UTF-8)"
    if has_lone_surrogate(data):
        return "the request body holds invalid Unicode (a lone surrogate)"
    if not isinstance(data, shape):
        return "the request body must be a JSON " + ("object" if shape is dict else "list or object")
    if isinstance(data, dict):
        for key in required:
            if key not in data:
                return f"'{key}' is required"
        for key, kind in fields.items():
            value = data.get(key)
            if key in data and (isinstance(value, bool) or not isinstance(value, kind)):
                return f"'{key}' has the wrong type"
    return None


async def check(request: Request) -> Optional[HTTPResponse]:
    reason = problem(request.method, request.path, request.body or b"")
    if reason is None:
        return None
    return response.json({"status": "failure", "reason": "BadRequest", "message": reason, "code": 400},
                         status=400)


def install(bp: Blueprint) -> None:
    """Add the check to the whole app when the server starts (Rasa's routes are not the blueprint's)."""

    @bp.listener("before_server_start")
    async def _install(app: Sanic, _loop: Any) -> None:
        if check not in app.request_middleware:
            app.register_middleware(check, "request")

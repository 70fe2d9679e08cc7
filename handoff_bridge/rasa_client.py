"""A small client of Rasa's HTTP API (tracker read, bot messages, resume, slots), always with timeouts.

Write calls return an outcome: "delivered", "rasa_down" (connection error, timeout or 5xx:
retry later) or "error" (Rasa refused the request: retrying will not help).
"""
from __future__ import annotations

import logging
from typing import Any, Optional
from urllib.parse import quote

import requests

logger = logging.getLogger(__name__)

DELIVERED, RASA_DOWN, ERROR = "delivered", "rasa_down", "error"
PATH_SAFE = "+:@!$&'()*,;="  # RFC 3986 pchar characters kept literal in conversation ids


class RasaClient:
    """Talks to one Rasa server; `token` is Rasa's --auth-token (sent as ?token=)."""

    def __init__(self, base_url: str, token: str = "", timeout: float = 5.0,
                 session: Optional[requests.Session] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = session or requests.Session()

    def _url(self, conversation_id: str, suffix: str) -> str:
        # Rasa 3.6 (Sanic 21.12) does not unquote path parameters: characters that are legal in a
        # path segment stay literal, or "+919876543210" (a WhatsApp sender) would become "%2B9198...".
        return f"{self.base_url}/conversations/{quote(conversation_id, safe=PATH_SAFE)}/{suffix}"

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.token:
            params["token"] = self.token
        return params

    def tracker(self, conversation_id: str) -> tuple[str, Optional[dict[str, Any]]]:
        """(outcome, tracker JSON or None) of GET /conversations/{id}/tracker."""
        try:
            resp = self.session.get(self._url(conversation_id, "tracker"), params=self._params(),
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            logger.warning("rasa tracker read failed: %s", type(exc).__name__)
            return RASA_DOWN, None
        if resp.status_code >= 500:
            return RASA_DOWN, None
        if resp.status_code != 200:
            logger.warning("rasa tracker read answered %s", resp.status_code)
            return ERROR, None
        try:
            body = resp.json()
        except ValueError:
            return ERROR, None
        return (DELIVERED, body) if isinstance(body, dict) else (ERROR, None)

    def post_events(self, conversation_id: str, events: list[dict[str, Any]],
                    execute_side_effects: bool = True) -> str:
        """Append events to the tracker; bot events reach the shopper's channel (output_channel=latest)."""
        params = self._params(output_channel="latest",
                              execute_side_effects="true" if execute_side_effects else "false")
        try:
            resp = self.session.post(self._url(conversation_id, "tracker/events"), params=params,
                                     json=events, timeout=self.timeout)
        except requests.RequestException as exc:
            logger.warning("rasa events post failed: %s", type(exc).__name__)
            return RASA_DOWN
        if resp.status_code >= 500:
            return RASA_DOWN
        if 200 <= resp.status_code < 300:
            return DELIVERED
        logger.warning("rasa events post answered %s", resp.status_code)
        return ERROR

    def push_bot_message(self, conversation_id: str, text: str,
                         buttons: Optional[list[dict[str, str]]] = None,
                         marker: Optional[dict[str, Any]] = None) -> str:
        """Say `text` (with optional buttons) to the shopper as the bot.

        `marker` (website widget only) goes out as a custom payload `{"saathi": marker}`: Rasa's
        socketio channel emits it as its own `bot_uttered` right after the text.
        """
        data: dict[str, Any] = {}
        if buttons:
            data["buttons"] = buttons
        if marker:
            data["custom"] = {"data": {"saathi": marker}}
        return self.post_events(conversation_id, [{"event": "bot", "text": text, "data": data}])

    def resume(self, conversation_id: str, extra_events: Optional[list[dict[str, Any]]] = None) -> str:
        """Un-pause the conversation so the bot answers again (extra events go in between)."""
        events = [{"event": "resume"}, *(extra_events or []), {"event": "action", "name": "action_listen"}]
        return self.post_events(conversation_id, events, execute_side_effects=False)

    def set_slot(self, conversation_id: str, name: str, value: Any) -> str:
        """Set one slot on the tracker."""
        return self.post_events(conversation_id, [{"event": "slot", "name": name, "value": value}],
                                execute_side_effects=False)

"""REST channel that validates what it accepts (replaces Rasa's `rest`).

Differences from Rasa's RestInput: a missing sender, a non-string message, invalid JSON
or an overlong message get a 4xx with a JSON error instead of a crash or a 500; the
client cannot claim another input channel; client metadata is not stored.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import api_guard
from bot.channels.validation import check_sender, check_text
from bot.config import load_settings
from bot.stores import guard
from bot.stores.strict_sql import TrackerStoreUnavailable


class SaathiRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def __init__(self) -> None:
        self.max_chars = load_settings().max_message_chars

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = Blueprint("saathi_rest_webhook", __name__)
        api_guard.install(bp)  # Rasa's own HTTP API: malformed bodies get 400, not 500
        guard.install(bp)
        handle_message = guard.guarded(on_new_message, reraise=True)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.load_json()
            except Exception:
                return response.json({"error": "request body is not valid JSON"}, status=400)
            if not isinstance(body, dict):
                return response.json({"error": "request body must be a JSON object"}, status=400)
            problem = check_sender(body.get("sender"))
            if problem:
                return response.json({"error": problem.error}, status=problem.status)
            text, problem = check_text(body.get("message"), self.max_chars)
            if problem:
                return response.json({"error": problem.error}, status=problem.status)
            collector = CollectingOutputChannel()
            try:
                await handle_message(
                    UserMessage(text, collector, str(body["sender"]), input_channel=self.name())
                )
            except TrackerStoreUnavailable:
                # Nothing was stored: the client is told to send the same message again.
                return response.json(collector.messages[-1:], status=503, headers={"Retry-After": "5"})
            return response.json(collector.messages)

        return bp

"""Rasa's socketio channel (website widget) that never drops a message silently.

Same protocol, events and credentials as Rasa's `socketio` (the name stays `socketio`, so
`output_channel=latest` still resolves). When the tracker store cannot be read or written after
its retries, the shopper gets "please wait a moment and send your message again" in their
language instead of nothing (bot/stores/guard.py).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.stores import guard


class SaathiSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(guard.guarded(on_new_message, reraise=False))
        guard.install(bp)
        return bp

"""Rasa's socketio channel (website widget) that never drops a message silently.

Same protocol, events and credentials as Rasa's `socketio` (the name stays `socketio`, so
`output_channel=latest` still resolves). When the tracker store cannot be read or written after
its retries, the shopper gets "please wait a moment and send your message again" in their
language instead of nothing (bot/stores/guard.py).

Input checks that Rasa's handlers lack (they take id, text and metadata from the client as sent):
- a session id must look like one the widget makes (`SESSION_ID`) and never like a phone number
  or a Messenger id, which name WhatsApp and Messenger conversations: otherwise a browser could
  write into, and use the order verification of, a shopper's WhatsApp conversation. A bad or
  missing id gets a fresh random one in `session_confirm`, as Rasa does for a missing one;
- a socket may only write to the session it was confirmed with `session_request`;
- text is cleaned and limited like the REST channel's (an `error` event tells the client why a
  message was refused); client metadata is dropped, so a browser cannot claim attachments.

Origins (bot/channels/origins.py): Rasa creates the Socket.IO server with
`cors_allowed_origins=[]`, which turns Engine.IO's origin check off, so any page could open a
WebSocket, and `rasa run --cors` is the only limit on long-polling. Here Engine.IO checks every
request of both transports against the allowed origins (400 before any session exists), writes
the CORS headers of the socket's responses itself (the request's origin only when allowed, no
credentials; sanic-cors stays off this route so no second header is added), and the Socket.IO
`connect` handler refuses a foreign origin again.
"""
from __future__ import annotations

import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint
from sanic_cors.core import SANIC_CORS_EVALUATED
from socketio.exceptions import ConnectionRefusedError

from bot.channels.origins import OriginPolicy, socket_policy
from bot.channels.validation import check_sender, check_text
from bot.config import load_settings
from bot.stores import guard

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and bool(SESSION_ID.match(value)) and check_sender(value) is None


class SaathiSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = load_settings()
        self.max_chars = settings.max_message_chars
        self.origins: OriginPolicy = socket_policy(settings)
        self._sessions: Dict[str, str] = {}  # socket id -> the session id it was confirmed

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(guard.guarded(on_new_message, reraise=False))
        guard.install(bp)
        self._check_input()
        self._limit_origins()
        return bp

    def _limit_origins(self) -> None:
        """Only the allowed origins reach the socket, on both transports (see the docstring)."""
        eio = self.sio.eio
        eio.cors_allowed_origins = lambda origin, environ=None: self.origins.allows(origin)
        eio.cors_credentials = False  # the widget sends no cookies
        engineio_handler = eio.handle_request

        async def handle_request(request: Any, *args: Any, **kwargs: Any) -> Any:
            setattr(request.ctx, SANIC_CORS_EVALUATED, "1")  # Engine.IO writes these CORS headers
            return await engineio_handler(request, *args, **kwargs)

        eio.handle_request = handle_request  # read by `attach` when the blueprint is registered
        handlers = self.sio.handlers[self.namespace or "/"]
        rasa_connect = handlers["connect"]

        async def connect(sid: Text, environ: Dict[str, Any], auth: Any = None) -> bool:
            if not self.origins.allows(environ.get("HTTP_ORIGIN")):
                raise ConnectionRefusedError("origin not allowed")
            return await rasa_connect(sid, environ, auth)

        self.sio.on("connect", connect, namespace=self.namespace)

    def _check_input(self) -> None:
        """Put the checks in front of the handlers Rasa registered on its Socket.IO server."""
        sio = self.sio
        handlers = sio.handlers[self.namespace or "/"]
        rasa_session_request = handlers["session_request"]
        rasa_message = handlers[self.user_message_evt]
        rasa_disconnect = handlers["disconnect"]

        async def session_request(sid: Text, data: Any = None) -> None:
            wanted = data.get("session_id") if isinstance(data, dict) else None
            session_id = wanted if valid_session_id(wanted) else uuid.uuid4().hex
            self._sessions[sid] = session_id
            await rasa_session_request(sid, {"session_id": session_id})

        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                await sio.emit("error", {"error": "a message must be an object"}, room=sid)
                return
            clean: Dict[str, Any] = {}
            if self.session_persistence:
                session_id = data.get("session_id")
                if session_id is None or self._sessions.get(sid) != session_id:
                    await sio.emit("error", {"error": "send session_request first, then use the "
                                                      "confirmed session_id"}, room=sid)
                    return
                clean["session_id"] = session_id
            text, problem = check_text(data.get("message"), self.max_chars)
            if problem:
                await sio.emit("error", {"error": problem.error, "status": problem.status}, room=sid)
                return
            clean["message"] = text
            await rasa_message(sid, clean)

        async def disconnect(sid: Text) -> None:
            self._sessions.pop(sid, None)
            await rasa_disconnect(sid)

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        sio.on("disconnect", disconnect, namespace=self.namespace)

"""Rasa event broker that tells the handoff bridge about shopper and bot messages as they are logged.

Configured in endpoints.yml (`event_broker: type: bot.brokers.bridge.BridgeEventBroker`); the
bridge URL and its bearer token come from bot.config. Rasa calls `publish` on its event loop,
so this only puts the event on a bounded queue; a daemon thread POSTs what is waiting (a turn's
user and bot messages, up to BATCH events) as one list to `{bridge}/api/events`, retrying a few
times while the bridge is down. The tracker store stays
the record of the conversation: a message the bridge misses is still in the transcript that
the agent console reads from Rasa.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from asyncio import AbstractEventLoop
from typing import Any, Dict, List, Optional, Text

import requests
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.config import load_settings

logger = logging.getLogger(__name__)

FORWARDED = ("user", "bot")
BATCH = 100  # the bridge accepts lists of up to 100 events
FIELDS = ("sender_id", "event", "text", "timestamp", "input_channel", "message_id", "metadata", "data")


class BridgeEventBroker(EventBroker):
    def __init__(self, url: str, token: str, timeout: float = 2.0, retries: int = 5, maxsize: int = 10000) -> None:
        self.url = url.rstrip("/") + "/api/events"
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.queue: "queue.Queue[Optional[Dict[Text, Any]]]" = queue.Queue(maxsize=maxsize)
        self.session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="bridge-event-broker", daemon=True)
        self._thread.start()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[AbstractEventLoop] = None
    ) -> "BridgeEventBroker":
        settings = load_settings()
        kwargs = (broker_config.kwargs or {}) if broker_config else {}
        return cls(settings.bridge_url, settings.bridge_token, timeout=float(kwargs.get("timeout", 2.0)))

    def publish(self, event: Dict[Text, Any]) -> None:
        if event.get("event") not in FORWARDED:
            return
        slim = {k: event[k] for k in FIELDS if k in event}
        parse = event.get("parse_data") or {}
        if parse:
            slim["intent"] = (parse.get("intent") or {}).get("name")
            if parse.get("language"):  # bot.nlu.components.LanguageTagger: the metrics' rate per language
                slim["language"] = parse["language"]
        try:
            self.queue.put_nowait(slim)
        except queue.Full:
            logger.warning("bridge event queue full: an event was not forwarded (it stays in the tracker)")

    def _run(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            batch = [event]
            while len(batch) < BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # closing: send what was taken, then stop
                    self._send(batch)
                    return
                batch.append(more)
            self._send(batch)

    def _send(self, events: List[Dict[Text, Any]]) -> bool:
        headers = {"Authorization": f"Bearer {self.token}"}
        for attempt in range(self.retries):
            try:
                r = self.session.post(self.url, json=events, headers=headers, timeout=self.timeout)
                if r.status_code < 500:
                    if r.status_code >= 400:
                        logger.warning("bridge refused %d event(s): HTTP %s", len(events), r.status_code)
                    return r.status_code < 400
            except requests.RequestException as exc:
                logger.debug("bridge unreachable (%s), attempt %d", type(exc).__name__, attempt + 1)
            time.sleep(min(0.2 * 2**attempt, 3.0))
        logger.warning("bridge unreachable: %d event(s) not forwarded (they stay in the tracker)", len(events))
        return False

    def is_ready(self) -> bool:
        return self._thread.is_alive()

    async def close(self) -> None:
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass

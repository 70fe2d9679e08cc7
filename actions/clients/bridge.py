"""Client of the handoff bridge (the live-agent queue)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import requests

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandoffOutcome:
    status: str  # "queued", "offline_ticket" or "unavailable"
    detail: dict[str, Any]


class BridgeClient:
    def __init__(self, base_url: str, timeout: float = 5.0, session: Optional[requests.Session] = None,
                 token: str = ""):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def rate(self, conversation_id: str, rating: int) -> str:
        """Store the shopper's 1-5 rating of the agent: "stored" or "unavailable"."""
        from urllib.parse import quote

        try:
            resp = self.session.post(f"{self.base_url}/api/handoffs/{quote(conversation_id, safe='')}/rating",
                                     json={"rating": rating}, headers=self.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            logger.warning("handoff bridge unreachable: %s", type(exc).__name__)
            return "unavailable"
        return "stored" if resp.status_code in (200, 201) else "unavailable"

    def enqueue(self, payload: dict[str, Any]) -> HandoffOutcome:
        """Ask the bridge to queue a conversation for an agent."""
        try:
            resp = self.session.post(
                f"{self.base_url}/api/handoffs", json=payload, headers=self.headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            logger.warning("handoff bridge unreachable: %s", type(exc).__name__)
            return HandoffOutcome("unavailable", {})
        if resp.status_code not in (200, 201):
            logger.warning("handoff bridge answered %s", resp.status_code)
            return HandoffOutcome("unavailable", {})
        try:
            body = resp.json()
        except ValueError:
            return HandoffOutcome("unavailable", {})
        status = body.get("status") if isinstance(body, dict) else None
        if status == "with_agent":  # asked again while an agent already has the conversation
            status = "queued"
        if status not in ("queued", "offline_ticket"):
            return HandoffOutcome("unavailable", {})
        return HandoffOutcome(status, body)

"""In-process fan-out of console events (Server-Sent Events) to every open agent console."""
from __future__ import annotations

import json
import queue
import threading
from typing import Any


class Broker:
    """Publish/subscribe with one bounded queue per subscriber; slow consoles drop events, never block."""

    def __init__(self, maxsize: int = 200) -> None:
        self._subs: set[queue.Queue[tuple[str, dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def subscribe(self) -> "queue.Queue[tuple[str, dict[str, Any]]]":
        q: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(self._maxsize)
        with self._lock:
            self._subs.add(q)
        return q

    def unsubscribe(self, q: "queue.Queue[tuple[str, dict[str, Any]]]") -> None:
        with self._lock:
            self._subs.discard(q)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            try:
                q.put_nowait((kind, data))
            except queue.Full:
                pass

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)


def format_event(kind: str, data: dict[str, Any]) -> str:
    """One SSE frame; JSON keeps shopper text on a single data line."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

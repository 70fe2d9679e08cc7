"""Retry a store operation with a doubling backoff on Rasa's event loop, then fail loudly."""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Callable, Text, Type, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


async def retrying(
    op: Callable[[], Any],
    *,
    store: Text,
    what: Text,
    conversation_id: Text,
    retries: int,
    backoff: float,
    transient: Callable[[BaseException], bool],
    unavailable: Type[Exception],
) -> Any:
    """`op()` (sync, or returning an awaitable) up to `retries` times while its error is
    `transient`; then `unavailable` is raised from the last error. Other errors pass at once."""
    delay = backoff
    for attempt in range(1, retries + 1):
        try:
            result = op()
            return await result if inspect.isawaitable(result) else result
        except Exception as error:
            if not transient(error):
                raise
            if attempt == retries:
                logger.error("%s: %s of conversation %s failed %d times, giving up: %s",
                             store, what, conversation_id, attempt, error.__class__.__name__)
                raise unavailable(f"{store} unavailable ({what})") from error
            logger.warning("%s: %s of conversation %s failed (attempt %d of %d): %s",
                           store, what, conversation_id, attempt, retries, error.__class__.__name__)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")

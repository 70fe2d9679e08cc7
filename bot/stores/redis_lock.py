"""Redis lock store that rides out a Redis restart instead of failing the turn.

Rasa's `RedisLockStore` calls Redis synchronously and lets every error through: while Redis
restarts, a message fails with a 500 (REST) or silently (socket), and when the error hits the
lock's clean-up after the turn, a message that WAS stored is answered with an error, so the
shopper sends it again and it is stored twice. Here each step of `lock()` (take a ticket, wait
for the turn, clean up) is retried with a short backoff on the event loop (`retries`,
`retry_backoff`: 6 attempts, 0.1 s doubling, about 3 s in all). If taking the ticket still fails,
`LockStoreUnavailable` (a `TrackerStoreUnavailable`) gives the shopper "please wait a moment and
send again" through the channels' guard (bot/stores/guard.py); nothing was stored. If the
clean-up still fails, the turn's answer stands and the error is only logged: the ticket expires
with its lifetime. A restarted Redis is empty (no persistence): the locks of turns in progress are
simply gone.

endpoints file:
    lock_store:
      type: bot.stores.redis_lock.RetryingRedisLockStore
      url: 127.0.0.1
      port: 6379
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Dict, Optional, Text, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.stores.retry import retrying
from bot.stores.strict_sql import TrackerStoreUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")


class LockStoreUnavailable(TrackerStoreUnavailable):
    """Redis could not be reached after every retry; the message was not handled."""


class RetryingRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        """Rasa builds a custom lock store from its endpoint config (`url` is the host)."""
        settings = dict(endpoint_config.kwargs) if endpoint_config else {}
        settings.update(kwargs)
        host = (endpoint_config.url if endpoint_config else None) or settings.pop("host", "localhost")
        settings.pop("host", None)
        self.retries = max(1, int(settings.pop("retries", 6)))
        self.retry_backoff = max(0.0, float(settings.pop("retry_backoff", 0.1)))
        # A Redis that does not answer must not hold Rasa's event loop for long (the calls are
        # synchronous); a restarted one refuses at once.
        settings["socket_timeout"] = float(settings.get("socket_timeout", 3))
        super().__init__(host=host, **settings)

    async def _retrying(self, what: str, conversation_id: Text, op: Callable[[], T]) -> T:
        return await retrying(op, store="lock store", what=what, conversation_id=conversation_id,
                              retries=self.retries, backoff=self.retry_backoff,
                              transient=_redis_away, unavailable=LockStoreUnavailable)

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        held = {"ticket": await self._retrying(
            "ticket", conversation_id, lambda: self.issue_ticket(conversation_id, lock_lifetime))}
        try:
            yield await self._wait_turn(conversation_id, held, lock_lifetime, wait_time_in_seconds)
        finally:
            try:
                await self._retrying("clean-up", conversation_id,
                                     lambda: self.cleanup(conversation_id, held["ticket"]))
            except LockStoreUnavailable:
                logger.error("lock store: the lock of conversation %s was not cleaned up; its ticket "
                             "expires in %s s", conversation_id, lock_lifetime)

    async def _wait_turn(self, conversation_id: Text, held: Dict[str, int], lock_lifetime: float,
                         wait_time_in_seconds: float) -> TicketLock:
        """Rasa's `_acquire_lock`, with each Redis call retried. A lock that vanished because
        Redis restarted (Rasa would raise LockError and drop the message) is taken again with a
        new ticket, kept in `held` for the clean-up."""
        while True:
            lock: Optional[TicketLock] = await self._retrying(
                "wait", conversation_id, lambda: self.get_lock(conversation_id))
            if not lock:
                logger.warning("lock store: the lock of conversation %s vanished (Redis restarted?); "
                               "taking a new ticket", conversation_id)
                held["ticket"] = await self._retrying(
                    "ticket", conversation_id, lambda: self.issue_ticket(conversation_id, lock_lifetime))
                continue
            if not lock.is_locked(held["ticket"]):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            await self._retrying("wait", conversation_id, lambda: self.update_lock(conversation_id))


def _redis_away(error: BaseException) -> bool:
    """Redis refused, dropped or timed out the connection (Rasa wraps some of these in LockError)."""
    import redis

    away = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
    return isinstance(error, away) or (isinstance(error, LockError) and isinstance(error.__context__, away))

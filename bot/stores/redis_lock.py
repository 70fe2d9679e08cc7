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
with its lease. A restarted Redis is empty (no persistence): the locks of turns in progress are
simply gone.

Tickets are leases. Rasa gives every ticket a fixed lifetime of 60 s, so when a replica dies in
the middle of a turn (kill -9, out of memory, a lost machine) its ticket blocks that conversation
for up to a minute: every later message and every agent message pushed through the other
replica waits. Here a ticket lives `lease` seconds (6 by default) and the process that holds or
waits with it extends it every quarter of the lease, with a WATCH/MULTI transaction so that a
ticket another replica issued meanwhile is never overwritten. A dead replica's ticket lapses
within one lease. A waiting request whose own ticket vanished (lapsed while the event loop was
stalled, or lost to Rasa's non-atomic ticket issue on another replica) takes a new one instead
of waiting forever.

endpoints file:
    lock_store:
      type: bot.stores.redis_lock.RetryingRedisLockStore
      url: 127.0.0.1
      port: 6379
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Dict, Optional, Set, Text, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.stores.retry import retrying
from bot.stores.strict_sql import TrackerStoreUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")
POLL_S = 0.2


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
        self.lease = max(0.5, float(settings.pop("lease", 6)))
        # Tickets this process holds or waits with, by conversation: the renewer extends them.
        self._held: Dict[Text, Set[int]] = {}
        self._renewer: Optional["asyncio.Task[None]"] = None
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
        """Rasa's `lock`, with retries and a renewed lease instead of `lock_lifetime`."""
        self._start_renewer()
        held = {"ticket": await self._take_ticket(conversation_id)}
        try:
            yield await self._wait_turn(conversation_id, held, wait_time_in_seconds)
        finally:
            self._forget(conversation_id, held["ticket"])
            try:
                await self._retrying("clean-up", conversation_id,
                                     lambda: self.cleanup(conversation_id, held["ticket"]))
            except LockStoreUnavailable:
                logger.error("lock store: the lock of conversation %s was not cleaned up; its ticket "
                             "lapses in %s s", conversation_id, self.lease)

    async def _take_ticket(self, conversation_id: Text) -> int:
        ticket = await self._retrying("ticket", conversation_id,
                                      lambda: self.issue_ticket(conversation_id, self.lease))
        self._held.setdefault(conversation_id, set()).add(ticket)
        return ticket

    def _forget(self, conversation_id: Text, ticket: int) -> None:
        tickets = self._held.get(conversation_id)
        if tickets is not None:
            tickets.discard(ticket)
            if not tickets:
                del self._held[conversation_id]

    def _start_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        import redis

        while True:
            await asyncio.sleep(self.lease / 4)
            for conversation_id, tickets in list(self._held.items()):
                try:
                    self.renew(conversation_id, set(tickets))
                except (redis.exceptions.RedisError, ValueError) as e:
                    # Redis is away: the turn's own retries deal with it; the lease may lapse.
                    logger.debug("lock store: lease of %s not renewed: %s", conversation_id, e)

    def renew(self, conversation_id: Text, tickets: Set[int]) -> bool:
        """Extend these unexpired tickets by one lease, atomically; False if the lock changed
        meanwhile (the next round renews) or none of them is left."""
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            try:
                pipe.watch(key)
                raw = pipe.get(key)
                if not raw:
                    return False
                lock = TicketLock.from_dict(json.loads(raw))
                now = time.time()
                mine = [t for t in lock.tickets if t.number in tickets and t.expires >= now]
                if not mine:
                    return False
                for t in mine:
                    t.expires = now + self.lease
                pipe.multi()
                pipe.set(key, lock.dumps())
                pipe.execute()
                return True
            except redis.exceptions.WatchError:
                return False

    async def _wait_turn(self, conversation_id: Text, held: Dict[str, int],
                         wait_time_in_seconds: float) -> TicketLock:
        """Rasa's `_acquire_lock`, with each Redis call retried. A lock that vanished because
        Redis restarted (Rasa would raise LockError and drop the message), or that no longer has
        this request's ticket, is queued for again with a new ticket, kept in `held` for the clean-up."""
        while True:
            lock: Optional[TicketLock] = await self._retrying(
                "wait", conversation_id, lambda: self.get_lock(conversation_id))
            if not lock or not any(t.number == held["ticket"] and not t.has_expired() for t in lock.tickets):
                logger.warning("lock store: the %s of conversation %s vanished; taking a new ticket",
                               "ticket" if lock else "lock (Redis restarted?)", conversation_id)
                self._forget(conversation_id, held["ticket"])
                held["ticket"] = await self._take_ticket(conversation_id)
                continue
            if not lock.is_locked(held["ticket"]):
                return lock
            # A turn takes tens of milliseconds: look again soon (Rasa waits a whole second). Rasa
            # also re-saves the lock without its lapsed tickets here; that read-modify-write could
            # undo another replica's renewal, and lapsed tickets are ignored and pruned at issue anyway.
            await asyncio.sleep(min(wait_time_in_seconds, POLL_S))


def _redis_away(error: BaseException) -> bool:
    """Redis refused, dropped or timed out the connection (Rasa wraps some of these in LockError)."""
    import redis

    away = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
    return isinstance(error, away) or (isinstance(error, LockError) and isinstance(error.__context__, away))

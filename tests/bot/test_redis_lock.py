"""bot/stores/redis_lock.py on a real Redis: tickets are leases, so a dead replica's ticket lapses
within one lease instead of blocking its conversation for Rasa's 60 s, while a live holder keeps
its lock as long as it needs."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator

import pytest

from bot.stores.redis_lock import RetryingRedisLockStore
from tests.stack import ROOT, free_port

LEASE = 1.2


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).is_file():
        pytest.fail("redis-server is not installed (scripts/test.sh installs it: apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def store(port: int) -> RetryingRedisLockStore:
    return RetryingRedisLockStore(host="127.0.0.1", port=port, lease=LEASE, key_prefix="test")


def test_a_killed_replicas_ticket_lapses_within_one_lease(redis_port):
    """A replica killed while it holds a conversation's lock: the other replica gets the lock
    about one lease later, not after Rasa's 60 s ticket lifetime."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import asyncio, sys
            from bot.stores.redis_lock import RetryingRedisLockStore
            async def main():
                s = RetryingRedisLockStore(host="127.0.0.1", port={redis_port}, lease={LEASE}, key_prefix="test")
                async with s.lock("shopper-killed"):
                    print("held", flush=True)
                    await asyncio.sleep(600)
            asyncio.run(main())
        """)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        time.sleep(3 * LEASE)  # its renewals keep the lock past the lease while it lives
        other = store(redis_port)
        lock = other.get_lock("shopper-killed")
        assert lock.tickets and not lock.tickets[0].has_expired(), "the holder's lease was not renewed"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        killed_at = time.monotonic()

        async def take() -> float:
            async with other.lock("shopper-killed"):
                return time.monotonic() - killed_at

        waited = asyncio.run(asyncio.wait_for(take(), timeout=30))
    finally:
        if holder.poll() is None:
            holder.kill()
    assert waited <= LEASE + 1.0, f"waited {waited:.1f} s for a dead replica's ticket (lease {LEASE} s)"


def turns_in_order(port: int, conversation: str, while_first_holds) -> list[str]:
    """Two replicas, one conversation: the first takes the lock and awaits `while_first_holds(store)`;
    the second asks 0.2 s later. The order in which they got in and out."""
    first, second = store(port), store(port)
    order: list[str] = []

    async def first_turn() -> None:
        async with first.lock(conversation):
            order.append("first in")
            await while_first_holds(first)
            order.append("first out")

    async def second_turn() -> None:
        await asyncio.sleep(0.2)
        async with second.lock(conversation):
            order.append("second in")

    async def both() -> None:
        await asyncio.gather(first_turn(), second_turn())

    asyncio.run(asyncio.wait_for(both(), timeout=30))
    return order


def test_a_live_holder_keeps_the_lock_past_its_lease(redis_port):
    """The second replica waits for the first however long its turn is."""
    async def slow_turn(_: RetryingRedisLockStore) -> None:
        await asyncio.sleep(3 * LEASE)

    assert turns_in_order(redis_port, "shopper-slow", slow_turn) == ["first in", "first out", "second in"]


def test_a_waiter_whose_ticket_vanished_queues_again(redis_port):
    """Rasa issues tickets with a non-atomic read-modify-write, so another replica can overwrite a
    waiter's ticket. The waiter takes a new one instead of waiting for ever."""
    async def drop_the_waiters_ticket(first: RetryingRedisLockStore) -> None:
        await asyncio.sleep(0.6)
        lock = first.get_lock("shopper-lost")  # as a lost write would
        waiting = [t for t in lock.tickets if t.number not in first._held.get("shopper-lost", set())]
        assert waiting, "the second request should be waiting"
        lock.tickets.remove(waiting[0])
        first.save_lock(lock)
        await asyncio.sleep(0.6)

    order = turns_in_order(redis_port, "shopper-lost", drop_the_waiters_ticket)
    assert order == ["first in", "first out", "second in"]

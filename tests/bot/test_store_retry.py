"""bot/stores/retry.py: the tracker store and the Redis lock store retry the same way."""
from __future__ import annotations

import asyncio

import pytest

from bot.stores.retry import retrying


class Away(Exception):
    pass


class Down(Exception):
    pass


def run(op, retries=4):
    return asyncio.run(retrying(op, store="test store", what="read", conversation_id="c1", retries=retries,
                                backoff=0.001, transient=lambda e: isinstance(e, Away), unavailable=Down))


def flaky(failures: int, value="ok", awaitable=False):
    calls = {"n": 0}

    def op():
        calls["n"] += 1
        if calls["n"] <= failures:
            raise Away("not yet")
        if awaitable:
            async def done():
                return value
            return done()
        return value
    return op, calls


@pytest.mark.parametrize("awaitable", [False, True])
def test_transient_errors_are_retried_until_the_operation_works(awaitable):
    op, calls = flaky(3, awaitable=awaitable)
    assert run(op) == "ok" and calls["n"] == 4


def test_after_the_last_attempt_the_store_is_unavailable_loudly(caplog):
    op, calls = flaky(10)
    with pytest.raises(Down, match=r"test store unavailable \(read\)") as raised:
        run(op, retries=3)
    assert calls["n"] == 3 and isinstance(raised.value.__cause__, Away)
    assert "giving up" in caplog.text


def test_other_errors_are_not_retried():
    calls = {"n": 0}

    def op():
        calls["n"] += 1
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        run(op)
    assert calls["n"] == 1

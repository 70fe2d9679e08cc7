"""No silent loss of conversations: Rasa's fail-safe tracker store must re-raise.

Rasa 3.6's `Agent` always wraps the configured tracker store in a `FailSafeTrackerStore`, which
on an error saves to memory or returns no tracker (an empty conversation) unless it was given an
`on_tracker_store_error` callback. Rasa offers no setting for that callback, so this is the one
patch point: `refuse_fallback` sets it on the agent's store (every wrapper layer) to re-raise.
The channels install it when the server starts and again before each message (a model loaded
through `PUT /model` builds a new agent), and `wait_reply` gives the shopper the message to send
when the store is unavailable.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, NoReturn, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore, InMemoryTrackerStore
from sanic import Blueprint, Sanic

from bot.nlu.language_id import detect_language
from bot.stores.strict_sql import TrackerStoreUnavailable

logger = logging.getLogger(__name__)

WAIT_TEXT = {
    "en": "Sorry, I can't save our conversation right now. Please wait a moment and send your message again.",
    "hi": "माफ़ कीजिए, अभी हमारी बातचीत सेव नहीं हो पा रही है। कृपया थोड़ी देर रुककर अपना संदेश फिर से भेजें।",
    "bn": "দুঃখিত, এই মুহূর্তে আমাদের কথোপকথন সেভ করা যাচ্ছে না। একটু অপেক্ষা করে আবার বার্তাটি পাঠান।",
    "hi-Latn": "Maaf kijiye, abhi hamari baat save nahi ho pa rahi. Thodi der ruk kar apna message phir se bhejiye.",
    "bn-Latn": "Dukkhito, ei muhurte amader kotha save kora jachhe na. Ektu opekkha kore abar message ta pathan.",
}


def wait_text(shopper_text: Optional[str]) -> str:
    """The "please wait and send again" message in the language of the shopper's message."""
    return WAIT_TEXT.get(detect_language(shopper_text) or "en", WAIT_TEXT["en"])


def _reraise(error: Exception) -> NoReturn:
    if isinstance(error, TrackerStoreUnavailable):
        raise error
    raise TrackerStoreUnavailable(f"tracker store failed: {error.__class__.__name__}") from error


def refuse_fallback(store: Any) -> None:
    """Make every `FailSafeTrackerStore` layer of `store` re-raise instead of falling back."""
    for _ in range(8):  # a store is wrapped at most a few times (FailSafe, Awaitable)
        if isinstance(store, FailSafeTrackerStore):
            store._on_tracker_store_error = _reraise
        elif not isinstance(store, AwaitableTrackerStore):
            break
        store = store._tracker_store
    if isinstance(store, InMemoryTrackerStore):
        logger.error("the tracker store is in memory: conversations are lost when Rasa stops "
                     "(check tracker_store in the endpoints file)")


def _refuse_on(app: Sanic) -> None:
    agent = getattr(app.ctx, "agent", None)
    if agent is not None and agent.tracker_store is not None:
        refuse_fallback(agent.tracker_store)


def install(bp: Blueprint) -> None:
    """Refuse the fallback once the agent is loaded (Rasa loads it before the server starts).

    Every Saathi channel calls this when Rasa builds its routes, so the server's other start-up
    patch (bot/speedups.py: the action-response check built once) is installed here too.
    """
    from bot import speedups

    speedups.install()

    @bp.listener("after_server_start")
    async def _refuse(app: Sanic, _loop: Any) -> None:
        _refuse_on(app)


def guarded(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], reraise: bool
) -> Callable[[UserMessage], Awaitable[Any]]:
    """`on_new_message` that tells the shopper to wait when the tracker store is unavailable.

    The message is sent on the message's own output channel; with `reraise` the error is raised
    again afterwards (the REST channel turns it into a 503).
    """

    async def handle(message: UserMessage) -> Any:
        try:
            _refuse_on(Sanic.get_app())
        except Exception:  # no single app (e.g. in unit tests): the listener did it already
            pass
        try:
            return await on_new_message(message)
        except TrackerStoreUnavailable:
            logger.error("tracker store unavailable; conversation %s asked to send again",
                         message.sender_id)
            await message.output_channel.send_text_message(message.sender_id, wait_text(message.text))
            if reraise:
                raise
            return None

    return handle

"""Checks shared by Saathi's input channels: what a shopper message may be."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from bot.nlu.text import clean_text, has_lone_surrogate

MAX_SENDER_CHARS = 128
# Conversation ids of the messaging channels: WhatsApp numbers (+E.164) and Messenger ids (digits).
# The REST and socketio channels let the client choose its id, so they may not use these shapes:
# a browser could otherwise write into a shopper's WhatsApp conversation and use its verification.
RESERVED_SENDER = re.compile(r"^\s*(whatsapp:)?\+?[\d\s-]+$", re.IGNORECASE)


@dataclass(frozen=True)
class Rejection:
    status: int
    error: str


def check_sender(sender: Any) -> Optional[Rejection]:
    if sender is None or (isinstance(sender, str) and not sender.strip()):
        return Rejection(400, "'sender' is required: a non-empty string identifying the shopper")
    if not isinstance(sender, (str, int)) or isinstance(sender, bool):
        return Rejection(400, "'sender' must be a string")
    if len(str(sender)) > MAX_SENDER_CHARS:
        return Rejection(400, f"'sender' is longer than {MAX_SENDER_CHARS} characters")
    if has_lone_surrogate(str(sender)):
        return Rejection(400, "'sender' is not valid Unicode text (a lone surrogate)")
    if RESERVED_SENDER.match(str(sender)):
        return Rejection(400, "'sender' may not be a phone number or a bare number: those ids belong "
                              "to the WhatsApp and Messenger channels")
    return None


def check_text(text: Any, max_chars: int) -> tuple[Optional[str], Optional[Rejection]]:
    """Return the cleaned text, or why it is refused.

    Empty and whitespace-only messages are accepted as empty text (the bot asks the shopper
    to rephrase); overlong messages are refused with 413 so nothing is silently cut.
    """
    if text is None:
        return None, Rejection(400, "'message' is required")
    if not isinstance(text, str):
        return None, Rejection(400, "'message' must be a string")
    if len(text) > max_chars:
        return None, Rejection(
            413, f"'message' is {len(text)} characters long; the limit is {max_chars}"
        )
    return clean_text(text).strip(), None

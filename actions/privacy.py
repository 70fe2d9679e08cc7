"""Masking of personal data in logs: phones, e-mails, OTPs, card numbers, UPI IDs, Aadhaar.

`install_log_masking()` adds a filter to the root logger's handlers so that nothing the
action server logs carries these unmasked, whatever module wrote the line.
"""
from __future__ import annotations

import logging
import re

from bot.nlu.text import ascii_digits

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "<email>"),
    (re.compile(r"\b[A-Za-z0-9._-]{2,}@(?:ok)?[a-z]{2,}\b"), "<upi>"),  # UPI IDs: name@okhdfc, 98..@ybl
    (re.compile(r"(?<!\d)(?:\d[ -]?){15}\d(?!\d)"), "<card>"),  # 16-digit card numbers
    (re.compile(r"(?<!\d)\d{4}[ -]?\d{4}[ -]?\d{4}(?!\d)"), "<aadhaar>"),  # 12 digits in groups of 4
    (re.compile(r"(?<![\w+])\+?(?:91|880)?[ -]?\(?0?\d{2,5}\)?[ -]?\d{3,5}[ -]?\d{3,5}(?!\w)"), "<phone>"),
    (re.compile(r"(?i)\b(otp|pin|code)\b\D{0,12}\d{4,8}\b"), r"\1 <otp>"),
]


def mask_pii(text: str) -> str:
    """The text with personal data replaced by <email>, <upi>, <card>, <aadhaar>, <phone>, <otp>."""
    text = ascii_digits(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record alone
            return True
        masked = mask_pii(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def install_log_masking() -> None:
    root = logging.getLogger()
    masking = MaskingFilter()
    for handler in root.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(masking)
    if not any(isinstance(f, MaskingFilter) for f in root.filters):
        root.addFilter(masking)

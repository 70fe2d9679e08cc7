"""Reading a 1–5 rating the shopper typed (no Rasa imports: the action server uses it too)."""
from __future__ import annotations

import re
from typing import Optional

from bot.nlu.text import ascii_digits

_RATING = re.compile(r"^\s*([1-5])\s*(/\s*5|stars?|⭐+)?\s*[.!]?\s*$", re.I)
_STAR = re.compile(r"⭐|★|🌟")


def rating_of(text: Optional[str]) -> Optional[int]:
    """1–5 for "4", "৪", "४/5", "5 stars" or "⭐⭐⭐"; None for anything else."""
    if not text:
        return None
    text = ascii_digits(text)
    m = _RATING.match(text)
    if m:
        return int(m.group(1))
    stars = _STAR.findall(text)
    if stars and not _STAR.sub("", text).strip() and len(stars) <= 5:
        return len(stars)
    return None

"""Text helpers shared by the NLU components and the action server (no Rasa import)."""
from __future__ import annotations

import re
import unicodedata

# Devanagari ०-९ (U+0966..U+096F) and Bengali ০-৯ (U+09E6..U+09EF) to ASCII.
_DIGITS = {0x0966 + i: str(i) for i in range(10)}
_DIGITS.update({0x09E6 + i: str(i) for i in range(10)})
# Other digit forms shoppers paste: full-width and Arabic-Indic.
_DIGITS.update({0xFF10 + i: str(i) for i in range(10)})
_DIGITS.update({0x0660 + i: str(i) for i in range(10)})
_DIGITS.update({0x06F0 + i: str(i) for i in range(10)})

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def ascii_digits(text: str) -> str:
    """Replace native digits by ASCII ones, one character for one (offsets are kept)."""
    return text.translate(_DIGITS)


def clean_text(text: str) -> str:
    """Remove control and bidi-override characters, replace lone surrogates, NFC-normalise.

    A JSON body may carry a lone UTF-16 surrogate (`"\\ud800"`): Python keeps it in the string,
    but nothing can encode it as UTF-8 later (Rasa's story export answered 500 for such a
    conversation). It becomes U+FFFD, so the rest of the message is kept.
    """
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return unicodedata.normalize("NFC", _CONTROL.sub("", text))


def has_lone_surrogate(value: object) -> bool:
    """True if any string (key or value) in decoded JSON holds a lone surrogate (iterative walk)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def script_counts(text: str) -> dict[str, int]:
    """Count letters (including combining vowel signs) per script."""
    counts = {"deva": 0, "beng": 0, "latn": 0}
    for ch in text:
        cp = ord(ch)
        if 0x0900 <= cp <= 0x097F or 0xA8E0 <= cp <= 0xA8FF:
            if not 0x0966 <= cp <= 0x096F:
                counts["deva"] += 1
        elif 0x0980 <= cp <= 0x09FF:
            if not 0x09E6 <= cp <= 0x09EF:
                counts["beng"] += 1
        elif ch.isascii() and ch.isalpha():
            counts["latn"] += 1
        elif ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN"):
            counts["latn"] += 1
    return counts


_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def latin_words(text: str) -> list[str]:
    """Lower-cased Latin-letter words (apostrophes kept inside words)."""
    return _LATIN_WORD.findall(text.lower())

"""Rule-based extraction of order numbers, phone numbers and e-mail addresses.

Works on mixed-script text with native digits: the text is converted to ASCII digits first
(one character for one, so offsets stay valid). Values are returned normalised: order
numbers upper-cased, phones in E.164 (+91… / +880…), e-mails lower-cased.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from bot.nlu.text import ascii_digits

# Shapes shops use: AB-10234, KM-123, ORD55821, #1001, 402-1234567-1234567 (marketplace).
DEFAULT_ORDER_ID_PATTERN = (
    r"\d{3}-\d{7}-\d{7}"
    r"|#\s?\d{3,12}"
    r"|[A-Za-z]{2,5}-?\d{3,12}"
)

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# A run of digits with optional +, spaces, dashes, dots and brackets inside.
PHONE_CANDIDATE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s\-().]{7,18}\d(?!\w)")
BARE_NUMBER = re.compile(r"(?<![\w#+-])\d{4,10}(?![\w-])")
# Words that say "this number is an order" in the five language forms.
ORDER_WORDS = re.compile(
    r"order|ordr|oder|ordar|odr|id\b|no\b|number|num\b|nmbr|#"
    r"|ऑर्डर|आर्डर|ओर्डर|नंबर|संख्या|অর্ডার|অর্ডারের|নম্বর|নাম্বার|আইডি",
    re.IGNORECASE,
)
MONEY_WORDS = re.compile(
    r"₹|৳|\brs\.?|\binr\b|rupe|rupay|taka|\btk\b|রুপি|টাকা|रुपये|रुपए|रुपया|\bprice\b|\bamount\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int


def normalise_phone(raw: str, default_country: str = "IN") -> Optional[str]:
    """Return an E.164 Indian or Bangladeshi mobile number, or None if it is not one."""
    digits = re.sub(r"\D", "", ascii_digits(raw))
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("880") and len(digits) == 13 and digits[3] == "1":
        return "+" + digits
    if digits.startswith("91") and len(digits) == 12 and digits[2] in "6789":
        return "+" + digits
    if len(digits) == 11 and digits.startswith("01") and digits[2] in "3456789":
        return "+880" + digits[1:]
    if len(digits) == 10 and digits[0] in "6789":
        return "+91" + digits
    if len(digits) == 11 and digits.startswith("0") and digits[1] in "6789":
        return "+91" + digits[1:]
    if len(digits) == 10 and digits.startswith("1") and digits[1] in "3456789":
        return "+880" + digits
    return None


def normalise_order_id(raw: str) -> str:
    value = ascii_digits(raw).strip().upper()
    return re.sub(r"^#\s+", "#", value)


class EntityRules:
    """Extracts entities with the shop's order-number pattern."""

    def __init__(self, order_id_pattern: Optional[str] = None, default_country: str = "IN"):
        pattern = order_id_pattern or DEFAULT_ORDER_ID_PATTERN
        self.order_id = re.compile(rf"(?<![\w#-])(?:{pattern})(?![\w-])")
        self.default_country = default_country

    def extract(self, text: str) -> list[Entity]:
        norm = ascii_digits(text)
        found: list[Entity] = []
        taken = [False] * len(norm)

        def free(start: int, end: int) -> bool:
            return not any(taken[start:end])

        def take(entity: str, value: str, start: int, end: int) -> None:
            for i in range(start, end):
                taken[i] = True
            found.append(Entity(entity, value, start, end))

        for m in EMAIL.finditer(norm):
            take("email", m.group().lower(), m.start(), m.end())
        for m in self.order_id.finditer(norm):
            if not free(m.start(), m.end()):
                continue
            # A phone number is never an order number, even if the pattern allows it.
            if normalise_phone(m.group(), self.default_country) and not re.search(r"[A-Za-z#]", m.group()):
                continue
            take("order_id", normalise_order_id(m.group()), m.start(), m.end())
        for m in PHONE_CANDIDATE.finditer(norm):
            start, end = m.start(), m.end()
            raw = m.group()
            # Trim brackets/dots picked up at the edges.
            while raw and raw[-1] in ").-":
                raw, end = raw[:-1], end - 1
            if not free(start, end):
                continue
            phone = normalise_phone(raw, self.default_country)
            if phone:
                take("phone", phone, start, end)
        has_order_word = bool(ORDER_WORDS.search(norm))
        has_money = bool(MONEY_WORDS.search(norm))
        for m in BARE_NUMBER.finditer(norm):
            if not free(m.start(), m.end()) or has_money:
                continue
            rest = (norm[: m.start()] + norm[m.end():]).strip(" .,!?:;-")
            if has_order_word or not rest:
                take("order_id", m.group(), m.start(), m.end())
        found.sort(key=lambda e: e.start)
        return found

import pytest

from bot.nlu.entity_rules import EntityRules, normalise_phone


def values(text: str, **kw) -> list[tuple[str, str]]:
    return [(e.entity, e.value) for e in EntityRules(**kw).extract(text)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("mera order KM-123 kahan hai, phone 98765 43210",
         [("order_id", "KM-123"), ("phone", "+919876543210")]),
        ("#1001", [("order_id", "#1001")]),
        ("order 402-1234567-1234567 not delivered", [("order_id", "402-1234567-1234567")]),
        ("cancel ab-10234 pls", [("order_id", "AB-10234")]),
        ("ORD55821", [("order_id", "ORD55821")]),
        ("आमार ফোন ০১৭১২-৩৪৫৬৭৮", [("phone", "+8801712345678")]),
        ("मेरा ऑर्डर नंबर ४५६७८ है", [("order_id", "45678")]),
        ("फ़ोन ९८७६५४३२१० है", [("phone", "+919876543210")]),
        ("+880 1712 345678", [("phone", "+8801712345678")]),
        ("+91 98765-43210", [("phone", "+919876543210")]),
        ("mail: Priya.S@Gmail.com", [("email", "priya.s@gmail.com")]),
        ("10234", [("order_id", "10234")]),
    ],
)
def test_extracts_and_normalises(text, expected):
    assert values(text) == expected


@pytest.mark.parametrize(
    "text",
    ["paid 1500 rs for it", "size42 kurti", "I waited 3 days", "1999 taka diyechi", "hello"],
)
def test_does_not_invent_entities(text):
    assert values(text) == []


def test_offsets_point_at_the_original_text():
    text = "ऑर्डर #१००१ और फोन ९८७६५४३२१०"
    for e in EntityRules().extract(text):
        assert text[e.start : e.end].strip()
    assert values(text) == [("order_id", "#1001"), ("phone", "+919876543210")]


def test_shop_pattern_is_configurable():
    assert values("order SHOP/2024/77 kahan hai", order_id_pattern=r"SHOP/\d{4}/\d+") == [
        ("order_id", "SHOP/2024/77")
    ]
    # Another shop's shape is not an order number here.
    assert values("order AB-10234", order_id_pattern=r"SHOP/\d{4}/\d+") == []


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("09876543210", "+919876543210"),
        ("0091 98765 43210", "+919876543210"),
        ("01712345678", "+8801712345678"),
        ("12345", None),
        ("5876543210", None),
    ],
)
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected

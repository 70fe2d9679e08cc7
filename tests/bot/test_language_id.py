from pathlib import Path

import pytest
import yaml

from bot.nlu.language_id import LanguageIdentifier, detect_language

ROOT = Path(__file__).resolve().parents[2]
FORMS = {"en": "en", "hi": "hi", "bn": "bn", "hi_latn": "hi-Latn", "bn_latn": "bn-Latn"}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("where is my order", "en"),
        ("mera order kab aayega", "hi-Latn"),
        ("amar order kobe asbe", "bn-Latn"),
        ("मेरा order कहाँ है", "hi"),
        ("আমার অর্ডারটা কোথায়", "bn"),
        ("paise kat gaye par order nahi hua", "hi-Latn"),
        ("taka kete geche kintu order hoyni", "bn-Latn"),
        ("I want to return the shoes", "en"),
        ("are you a bot", "en"),
    ],
)
def test_detects_language_form(text, expected, identifier):
    assert identifier.detect(text) == expected
    assert detect_language(text) == expected  # the untrained lexicon fallback agrees


@pytest.mark.parametrize("text", ["ok", "9876543210", "👍", "KM-123", "#1001", "", "  ", "Ok ok", "hi", "१२३४५"])
def test_no_language_evidence_gives_none(text, identifier):
    assert identifier.detect(text) is None
    assert detect_language(text) is None


def _heldout(stem: str) -> list[str]:
    data = yaml.safe_load((ROOT / "tests" / "nlu_heldout" / f"{stem}.yml").read_text(encoding="utf-8"))
    return [
        line.strip()[2:]
        for block in data["nlu"]
        if block["intent"] not in ("nlu_fallback", "inform")
        for line in block["examples"].splitlines()
        if line.strip().startswith("- ")
    ]


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    """Trained exactly as the LanguageTagger is: on the labelled training files."""
    pairs = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in data["nlu"]:
            form = block["metadata"]["language"]
            pairs += [(line.strip()[2:], form) for line in block["examples"].splitlines() if line.strip().startswith("- ")]
    return LanguageIdentifier().fit(pairs)


def test_training_files_are_labelled_with_their_form():
    for stem, form in FORMS.items():
        data = yaml.safe_load((ROOT / "data" / "nlu" / f"{stem}.yml").read_text(encoding="utf-8"))
        assert {b["metadata"]["language"] for b in data["nlu"]} == {form}


@pytest.mark.parametrize("stem", list(FORMS))
def test_heldout_language_accuracy(stem, identifier):
    """On held-out shopper messages that carry language, at least 90% are detected right."""
    texts = _heldout(stem)
    detected = [identifier.detect(t) for t in texts]
    judged = [(t, d) for t, d in zip(texts, detected) if d is not None]
    wrong = [(t, d) for t, d in judged if d != FORMS[stem]]
    assert len(judged) >= 0.8 * len(texts)
    assert len(wrong) <= 0.1 * len(judged), wrong

"""Tokens for lexical search, and a shop's optional glossary of synonyms.

spaCy's blank hi/bn/en pipelines give tokenizers and stop words; romanized Hindi and
Bengali get a stop list of their own. The multilingual encoder already connects the language
forms; a shop may add a glossary (SAATHI_KB_GLOSSARY, for example `kb_index/demo/glossary.yml`)
mapping its own words in every form to English concept words. None is used by default.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

# Marks that vary between spellings of the same word: nukta, ZWJ/ZWNJ, chandrabindu→anusvara.
_DROP = dict.fromkeys(map(ord, "\u093c\u09bc\u200c\u200d\u200b"), None)
_DROP[ord("\u0901")] = "\u0902"
_DROP[ord("\u0981")] = "\u0982"
_WORD = re.compile(r"[\w\u0900-\u0963\u0966-\u097f\u0980-\u09e3\u09e6-\u09ff]+")

ROMAN_STOP = set("""
mera meri mere mujhe mujhko main mai me mein hai hain ha tha thi the ho hoga hogi kya kab kaise
kaisa kahan kaha kyu kyun kyon ka ki ke ko se par pe aur ya to bhi nahi nahin na ab abhi ye yeh
wo woh vo is us iska uska apna apne aap ap tum hum hame hume kar karo karna karen kare kr krna
krdo kardo de do dena diya liya lena raha rahi rahe sakta sakti sakte chahiye chahta chahti
wala wali wale kitna kitne kitni kuch koi jab tab sab bahut bhai ji please pls plz plzz
haal hal yaar yar accha acha theek thik hello hi hey kemon khobor cholche bhalo
ami amar amake amr apni apnar tumi tomar ki kobe kothay kemon kivabe keno kon koto ta ti er ke
te e o na nei ache achhe hobe hoy hocche korbo korte korun koro kore kori dao din dite niye
theke jonno ar aar ekhono ekhon kichu kono amader apnader bolun bolo
""".split())
# Question words and fillers spaCy's hi/bn lists miss; they say nothing about the topic.
NATIVE_STOP = set("""
क्या कब कैसे कैसा कैसी कहाँ कहां कितना कितने कितनी कौन क्यों किस किसे हो हूँ हूं है हैं था थी
आप आपका आपकी तुम मैं मेरा मेरी मेरे मुझे हम हमें आज अभी भी जी प्लीज़ प्लीज बताओ बताइए बताएं
কি কী কেন কবে কোথায় কেমন কত কতো কিভাবে কীভাবে কোন কে আমি আমার আমাকে আপনি আপনার তুমি তোমার
আছে আছো আছেন হবে হয় হচ্ছে করবো করব করতে করে দিন দাও বলুন বলো আজ আজকে এখন প্লিজ একটু
""".split())


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text)).lower().translate(_DROP)


def script_lang(text: str) -> str:
    """Which tokenizer fits: 'hi' (Devanagari), 'bn' (Bengali) or 'en' (Latin, incl. romanized)."""
    deva = sum("\u0900" <= ch <= "\u097f" for ch in text)
    beng = sum("\u0980" <= ch <= "\u09ff" for ch in text)
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    if max(deva, beng) > latin / 3:
        return "hi" if deva >= beng else "bn"
    return "en"


@functools.lru_cache(maxsize=None)
def _nlp(lang: str):  # type: ignore[no-untyped-def]
    import spacy

    return spacy.blank(lang if lang in ("hi", "bn") else "en")


@functools.lru_cache(maxsize=None)
def _stop_words() -> frozenset[str]:
    words: set[str] = set(ROMAN_STOP) | {normalize(w) for w in NATIVE_STOP}
    for lang in ("en", "hi", "bn"):
        words |= {normalize(w) for w in _nlp(lang).Defaults.stop_words}
    return frozenset(words)


def tokens(text: str) -> list[str]:
    """Content words: spaCy tokenizer of the text's script, normalised, stop words dropped."""
    norm = normalize(text)
    stop = _stop_words()
    out: list[str] = []
    for tok in _nlp(script_lang(norm)).tokenizer(norm):
        for word in _WORD.findall(tok.text):
            if word not in stop and (not word.isdigit() or len(word) >= 3):
                out.append(_stem(word))
    return out


def _stem(word: str) -> str:
    """A light English plural/verb-ending strip; other scripts are left to char n-grams."""
    if word.isascii() and len(word) > 4:
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Glossary:
    """Shop words in any language form → English concept words."""

    entries: tuple[tuple[tuple[str, ...], str], ...]  # (variant tokens, concept words)

    def __post_init__(self) -> None:
        # Entries by the first 4 letters of their first word (prefix matches) or by the
        # whole first word when it is shorter, so matching is one lookup per text word.
        index: dict[str, list[int]] = {}
        for n, (variant, _) in enumerate(self.entries):
            index.setdefault(variant[0][:4], []).append(n)
        object.__setattr__(self, "_by_start", index)

    @classmethod
    def load(cls, path: Path) -> "Glossary":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = []
        for concept, variants in data.items():
            for variant in [concept, *variants]:
                words = tuple(_WORD.findall(normalize(str(variant))))
                if words:
                    entries.append((words, str(concept)))
        return cls(tuple(entries))

    def concepts(self, text: str) -> list[str]:
        """English concept words for the shop words found in the text, in order, once each."""
        words = _WORD.findall(normalize(text))
        hits: set[int] = set()
        for i, word in enumerate(words):
            for n in self._by_start.get(word[:4], ()):  # type: ignore[attr-defined]
                variant = self.entries[n][0]
                if n not in hits and _contains(words[i:i + len(variant)], variant):
                    hits.add(n)
        found: list[str] = []
        for n in sorted(hits):
            concept = self.entries[n][1]
            if concept not in found:
                found.append(concept)
        return found

    def gloss(self, text: str) -> str:
        return " ".join(self.concepts(text))


def _contains(words: list[str], variant: tuple[str, ...]) -> bool:
    n = len(variant)
    for i in range(len(words) - n + 1):
        if all(_same(words[i + j], variant[j]) for j in range(n)):
            return True
    return False


def _same(word: str, variant: str) -> bool:
    # Inflected forms (রিফান্ডের, cancelled, ऑर्डरों) share the variant as a prefix.
    return word == variant or (len(variant) >= 4 and word.startswith(variant))


EMPTY = Glossary(())


@functools.lru_cache(maxsize=8)
def load_glossary(path: str | None) -> Glossary:
    """The glossary at `path` (read once), or the empty one."""
    return Glossary.load(Path(path)) if path else EMPTY


def concept_tokens(concepts: Iterable[str]) -> list[str]:
    """One token per concept ('_contact_hours'), apart from words that occur in the text."""
    return ["_" + "_".join(_WORD.findall(c)) for c in concepts]

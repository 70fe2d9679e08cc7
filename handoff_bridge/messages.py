"""What the bridge says to shoppers, in the five language forms, and the leave-queue phrases."""
from __future__ import annotations

import re
import unicodedata

LANGUAGES = ("en", "hi", "bn", "hi-Latn", "bn-Latn")

TEMPLATES: dict[str, dict[str, str]] = {
    "position": {
        "en": "You are now number {position} in the queue, about {minutes} minutes.",
        "hi": "अब कतार में आपका नंबर {position} है, लगभग {minutes} मिनट।",
        "bn": "এখন সারিতে আপনার নম্বর {position}, প্রায় {minutes} মিনিট।",
        "hi-Latn": "Ab queue mein aapka number {position} hai, lagbhag {minutes} minute.",
        "bn-Latn": "Ekhon queue te apnar number {position}, prae {minutes} minute.",
    },
    "joined": {
        "en": "{agent} has joined the chat.",
        "hi": "{agent} चैट में जुड़ गए हैं।",
        "bn": "{agent} চ্যাটে যোগ দিয়েছেন।",
        "hi-Latn": "{agent} chat mein jud gaye hain.",
        "bn-Latn": "{agent} chat e jog diyechen.",
    },
    "left_queue": {
        "en": "Okay, you've left the queue — I'm back, how can I help?",
        "hi": "ठीक है, आप कतार से बाहर आ गए हैं — मैं वापस आ गया हूँ, मैं कैसे मदद करूँ?",
        "bn": "ঠিক আছে, আপনি সারি ছেড়ে দিয়েছেন — আমি ফিরে এসেছি, কীভাবে সাহায্য করতে পারি?",
        "hi-Latn": "Theek hai, aap queue se bahar aa gaye — main wapas aa gaya hoon, kaise madad karun?",
        "bn-Latn": "Thik ache, apni queue chere diyechen — ami fire eshechi, kivabe shahajjo korte pari?",
    },
    "rating": {
        "en": "How would you rate the help you got? Reply 1–5",
        "hi": "आपको मिली मदद को आप कैसे रेट करेंगे? 1–5 में जवाब दें",
        "bn": "আপনি যে সাহায্য পেয়েছেন তাকে কেমন রেটিং দেবেন? 1–5 লিখে উত্তর দিন",
        "hi-Latn": "Aapko mili madad ko aap kaise rate karenge? 1–5 mein jawab dein",
        "bn-Latn": "Apni je shahajjo peyechen take kemon rating deben? 1–5 likhe uttor din",
    },
}

# Whole-message phrases (after normalisation) that mean "take me out of the queue".
LEAVE_PHRASES: dict[str, tuple[str, ...]] = {
    "en": ("cancel", "stop", "leave", "leave queue", "leave the queue", "exit", "quit", "back to bot",
           "back to the bot", "talk to bot", "talk to the bot", "never mind", "nevermind", "no thanks",
           "cancel handoff", "cancel the handoff", "i don't want to wait", "dont want to wait"),
    "hi": ("रद्द", "रद्द करो", "रद्द करें", "कैंसल", "कैंसल करो", "बॉट", "बॉट से बात", "बॉट से बात करनी है",
           "वापस बॉट", "रहने दो", "नहीं चाहिए", "कतार छोड़ो", "इंतज़ार नहीं करना"),
    "bn": ("বাতিল", "বাতিল করুন", "বাতিল করো", "ক্যানসেল", "বট", "বটের সাথে কথা", "বটে ফিরে যান",
           "থাক", "লাগবে না", "সারি ছাড়ো", "অপেক্ষা করব না"),
    "hi-Latn": ("bot se baat", "bot se baat karni hai", "bot se baat karo", "bot pe wapas", "wapas bot",
                "cancel karo", "cancel kar do", "rehne do", "rahne do", "nahi chahiye", "queue chhodo",
                "intezaar nahi karna", "radd karo"),
    "bn-Latn": ("bot er sathe kotha", "bot er shathe kotha", "bote fire jao", "bot e fire jao", "batil",
                "batil koro", "cancel koro", "thak", "lagbe na", "queue chharo", "opekkha korbo na"),
}

_PUNCT = re.compile(r"[\s\.,!?।॥'\"“”‘’\-–—:;()]+")


def normalise(text: str) -> str:
    """Lower-cased NFC text with punctuation collapsed to single spaces."""
    text = unicodedata.normalize("NFC", text or "").casefold()
    return _PUNCT.sub(" ", text).strip()


_FILLERS = frozenset({"please", "pls", "plz", "ok", "okay", "ji", "bhai", "dada", "now", "abhi", "ekhon"})
_ALL_LEAVE = frozenset(normalise(p) for phrases in LEAVE_PHRASES.values() for p in phrases)


def is_leave_phrase(text: str) -> bool:
    """True when the whole message asks to leave the queue, in any of the five forms."""
    norm = normalise(text)
    if not norm or len(norm) > 60:
        return False
    if norm in _ALL_LEAVE:
        return True
    # A polite wrapper around a phrase: "please cancel", "cancel please", "ok bot se baat karo".
    words = norm.split()
    while words and words[0] in _FILLERS:
        words.pop(0)
    while words and words[-1] in _FILLERS:
        words.pop()
    return " ".join(words) in _ALL_LEAVE


def render(key: str, language: str, **values: object) -> str:
    """A template in the language form (English when unknown) filled with values."""
    forms = TEMPLATES[key]
    return forms.get(language, forms["en"]).format(**values)

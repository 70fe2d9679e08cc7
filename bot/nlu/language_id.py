"""Detects the shopper's language form: en, hi, bn, hi-Latn or bn-Latn.

Script decides between Devanagari (hi), Bengali (bn) and Latin. Latin text is scored with
marker words of romanized Hindi and romanized Bengali against English function words.
Messages without language evidence (a bare number, "ok", an emoji, an order number) give
``None`` so the caller keeps the previous value.
"""
from __future__ import annotations

import math
import re
from typing import Optional

from bot.nlu.entity_rules import EMAIL, EntityRules
from bot.nlu.text import ascii_digits, latin_words, script_counts

LANGUAGES = ("en", "hi", "bn", "hi-Latn", "bn-Latn")

# Words that carry no language: they keep the previous value when they are all there is.
NEUTRAL = frozenset(
    """ok okay okk okkk k kk hmm hm hmmm hi hii hello helo hey yes yess yeah yep yup no nope
    thanks thank thanku thankyou thx ty tq bye byee done sure please pls plz plzz sir madam
    mam maam bro sis bhai vai dada didi ji haan han ha hae hya hyaa acha accha achha
    thik theek thk good nice great cool wow oh ohh ah u r ur lol sorry rs tk""".split()
)

# Romanized Hindi marker words (weight 2: unambiguous, 1: frequent but shared with slang).
HI_LATN = {
    **{w: 2 for w in """mera meri mere mujhe muje mujhko mujko humko hame hamein hamara hamari
    kab kaha kahan kahaan kidhar kya kyaa kyu kyun kyon kyunki kyuki kaise kaisa kaisi kitna
    kitne kitni kaun konsa kaunsa hai hain hoga hogi honge hua hui hue huye hoon hun hu tha
    thi nahi nahin nhi nai mat karo kro kar kardo krdo karna krna karke karen karein
    kariye kijiye kijie dijiye dijie dena dedo chahiye chahie chahta chahti chahte aayega
    ayega aaega aaya aayi aaye aana ayi gaya gayi gaye gya gyi liya liye diya diye mila
    mili milega milegi milta raha rahi rahe rha rhi hota hoti hote sakta sakti sakte skta
    skte batao bataiye bataye bata btao bolo boliye bol karao karwao karwa dijiyega wapas
    wapis vapas vapis paisa paise pese abhi tak kab tak isko usko yeh ye woh wo wala wali
    wale koi kisi kuch kuchh sab bahut bohot bahot bhot bilkul lekin magar aur phir fir
    kal aaj parso pehle baad insaan insan aadmi banda bande samaan saman jaldi bhejo bhejiye
    bhej bhejna lagega lagta lagti chuka chuki chuke hamesha shukriya dhanyavad dhanyawad
    namaste namaskar bhaiya bhaiyya yaar yar arre matlab ghatiya bekar bakwas
    apna apne aapka aapki aapke aap hum tum tumhara bhi sirf kyaa badalna badal badlo
    lauta lautana rupaye rupay paisa""".split()},
    **{w: 1 for w in """se ko ka ke mai mein ho de le lo jo ne par pe""".split()},
}

BN_LATN = {
    **{w: 2 for w in """amar amr ami amake amay amk amio apnar apnader apnara tumi tomar
    tomader tomra kobe kbe kothay kothai kothy koi kothae ache achhe ase achen asen ashen
    nei nai hoyni hoy ni hobe hbe hocche hochhe hosse hoyeche hoise hoyse korte kore koro
    korun korben korbo krbo korchi korsi korechi korlam korlm kortesi kortechi din dite
    diben dao dibo dicchi disi diyechi chai chaai chaichi chacchi chaccho chaisi keno kno
    kemon kivabe kibhabe kibabe kotodin koto kto taka takar tk kete keteche kata geche
    gelo gese gechhe gesilo pelam paini pailam pai pabo pacchi pachhi paichi ekhono ekhon
    akhon ajke aaj kalke vai bhaia apu dhonnobad dhonyobad dhonyabad shukriya khub onek
    baje faltu kharap bhalo valo sathe shathe kotha bolte bolun bolen bolo manush manusher
    lok loker jinis jinish pathan pathiye pathaben ferot ferat bodol bodle bodlate thikana
    kintu ar eta ota ei oi jonno theke porjonto kisu kichu dorkar lagbe hoye paisi
    chilam chhilo chilo korechilam asbe ashbe asche ashche esheche eseche aseni aseny
    ashe asi dekhi dekhen dekhun bujhi bujhlam bujhte parbo parben parchi parlam naki
    tahole tobe jodi dekhan janaben janan jante ekta ekti gulo golo tai ta te na""".split()},
}
# "ta", "te" and "na" are weak alone: weight 1.
for _w in ("ta", "te", "na", "din", "kal"):
    BN_LATN[_w] = 1

EN = frozenset(
    """the a an is are was were am be been my me i you your we our it its this that these
    those what where when why how which who whom will would can could should shall may might
    do does did don't dont doesnt didn't not no of to for from in on at by with and or but if
    then than there here have has had get got want need please pls still yet already today
    tomorrow yesterday since till until about any some all one order orders parcel item items
    delivery deliver delivered refund return cancel address change payment money status track
    tracking when received receive send sent product"""
    .split()
)
# English words that are everywhere in Hinglish/Banglish: they count for English only
# when there is no romanized marker at all.
EN_WEAK = frozenset(
    """order orders parcel item items delivery deliver delivered refund return cancel address
    change payment money status track tracking product please pls"""
    .split()
)

_ORDERISH = EntityRules()


def _strip_non_language(text: str) -> str:
    """Remove e-mails, order numbers, phones and digits: they carry no language."""
    text = EMAIL.sub(" ", text)
    for ent in sorted(_ORDERISH.extract(text), key=lambda e: -e.start):
        text = text[: ent.start] + " " + text[ent.end:]
    return re.sub(r"\d+", " ", ascii_digits(text))


def detect_language(text: Optional[str]) -> Optional[str]:
    """Return the language form of ``text`` or None when it carries no language."""
    if not text:
        return None
    stripped = _strip_non_language(text)
    counts = script_counts(stripped)
    if counts["deva"] >= 2 or counts["beng"] >= 2:
        return "hi" if counts["deva"] >= counts["beng"] else "bn"
    words = latin_words(stripped)
    if not words or all(w in NEUTRAL for w in words):
        return None
    hi = sum(HI_LATN.get(w, 0) for w in words)
    bn = sum(BN_LATN.get(w, 0) for w in words)
    en = sum(1 for w in words if w in EN and w not in EN_WEAK)
    if hi == 0 and bn == 0:
        return "en"
    # English function words outweigh a single weak romanized marker.
    if max(hi, bn) < 2 and en >= 2:
        return "en"
    if en >= 4 and max(hi, bn) * 2 < en:
        return "en"
    if hi == bn:
        # Tie: decide on the strongest single markers.
        hi_strong = sum(1 for w in words if HI_LATN.get(w) == 2)
        bn_strong = sum(1 for w in words if BN_LATN.get(w) == 2)
        return "bn-Latn" if bn_strong > hi_strong else "hi-Latn"
    return "hi-Latn" if hi > bn else "bn-Latn"


LATIN_FORMS = ("en", "hi-Latn", "bn-Latn")


def _features(words: list[str]) -> list[str]:
    feats = []
    for w in words:
        if w in NEUTRAL:
            continue
        feats.append("w:" + w)
        b = f"<{w}>"
        for n in (2, 3, 4):
            feats.extend(f"c{n}:{b[i:i + n]}" for i in range(len(b) - n + 1))
    return feats


class LanguageIdentifier:
    """Script rules plus a naive Bayes model of Latin-script text (words and char n-grams).

    Trained on the team's labelled training data (`metadata: {language: …}` in
    data/nlu/*.yml). Without training it falls back to the marker-word lexicons above.
    """

    def __init__(self, counts: Optional[dict[str, dict[str, int]]] = None, alpha: float = 0.5):
        self.counts = {k: dict(v) for k, v in (counts or {}).items()}
        self.alpha = alpha
        self._prepare()

    def _prepare(self) -> None:
        self.totals = {k: sum(v.values()) for k, v in self.counts.items()}
        vocab: set[str] = set()
        for v in self.counts.values():
            vocab.update(v)
        self.vocab_size = max(1, len(vocab))
        self.known_words = {f[2:] for f in vocab if f.startswith("w:")}

    def fit(self, examples: "list[tuple[str, str]]") -> "LanguageIdentifier":
        """Learn from (text, language form) pairs; only Latin-script forms are modelled."""
        counts: dict[str, dict[str, int]] = {form: {} for form in LATIN_FORMS}
        for text, form in examples:
            if form not in counts:
                continue
            for f in _features(latin_words(_strip_non_language(text))):
                counts[form][f] = counts[form].get(f, 0) + 1
        self.counts = {k: v for k, v in counts.items() if v}
        self._prepare()
        return self

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "counts": self.counts}

    @classmethod
    def from_dict(cls, data: dict) -> "LanguageIdentifier":
        return cls(data.get("counts"), data.get("alpha", 0.5))

    def detect(self, text: Optional[str]) -> Optional[str]:
        if not text:
            return None
        stripped = _strip_non_language(text)
        counts = script_counts(stripped)
        if counts["deva"] >= 2 or counts["beng"] >= 2:
            return "hi" if counts["deva"] >= counts["beng"] else "bn"
        words = latin_words(stripped)
        feats = _features(words)
        if not feats:
            return None
        if len(self.counts) < 2:
            return detect_language(text)
        if not any(w in self.known_words for w in words if w not in NEUTRAL) and detect_language(text) in (None, "en"):
            # Only words the model never saw ("UTR", a name) and no marker word: no evidence of a
            # form, and char n-grams alone would guess one. Keep the previous form.
            return None
        scores = {}
        for form, c in self.counts.items():
            denom = math.log(self.totals[form] + self.alpha * self.vocab_size)
            scores[form] = sum(math.log(c.get(f, 0) + self.alpha) - denom for f in feats)
        return max(scores, key=scores.get)

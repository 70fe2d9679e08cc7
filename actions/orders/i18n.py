"""Words the order replies fill in, in each language form: statuses, dates, amounts.

The sentences themselves are responses in domain.yml; these are only the values.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

FORMS = ("en", "hi", "bn", "hi-Latn", "bn-Latn")

STATUS = {
    "placed": ("placed", "प्लेस हो गया है", "প্লেস করা হয়েছে", "place ho gaya hai", "place kora hoyeche"),
    "packed": ("packed and ready to ship", "पैक हो गया है और भेजने के लिए तैयार है", "প্যাক করা হয়েছে, পাঠানোর জন্য তৈরি",
               "pack ho gaya hai, bhejne ke liye ready", "pack kora hoyeche, pathanor jonno ready"),
    "shipped": ("shipped", "शिप हो गया है", "শিপ করা হয়েছে", "ship ho gaya hai", "ship kora hoyeche"),
    "out_for_delivery": ("out for delivery today", "आज डिलीवरी के लिए निकल चुका है", "আজ ডেলিভারির জন্য বেরিয়েছে",
                         "aaj delivery ke liye nikal chuka hai", "aaj delivery er jonno beriyeche"),
    "delivered": ("delivered", "डिलीवर हो गया है", "ডেলিভারি হয়ে গেছে", "deliver ho gaya hai", "delivery hoye geche"),
    "delayed": ("delayed", "देरी से चल रहा है", "দেরিতে চলছে", "late chal raha hai", "deri te cholche"),
    "cancelled": ("cancelled", "कैंसिल हो चुका है", "বাতিল হয়েছে", "cancel ho chuka hai", "cancel hoye geche"),
    "returned": ("returned", "रिटर्न हो चुका है", "রিটার্ন করা হয়েছে", "return ho chuka hai", "return kora hoyeche"),
    "refund_initiated": ("returned, with the refund initiated", "रिटर्न हो चुका है और रिफंड शुरू हो गया है",
                         "রিটার্ন হয়েছে এবং রিফান্ড শুরু হয়েছে", "return ho gaya hai aur refund shuru ho gaya hai",
                         "return hoyeche ar refund shuru hoyeche"),
}

MONTHS = {
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(),
    "hi": "जनवरी फ़रवरी मार्च अप्रैल मई जून जुलाई अगस्त सितंबर अक्टूबर नवंबर दिसंबर".split(),
    "bn": "জানুয়ারি ফেব্রুয়ারি মার্চ এপ্রিল মে জুন জুলাই আগস্ট সেপ্টেম্বর অক্টোবর নভেম্বর ডিসেম্বর".split(),
}
NOT_YET = {"en": "not yet known", "hi": "अभी तय नहीं", "bn": "এখনও ঠিক হয়নি",
           "hi-Latn": "abhi tay nahi", "bn-Latn": "ekhono thik hoyni"}


def form(language: Optional[str]) -> str:
    return language if language in FORMS else "en"


def status_label(status: str, language: Optional[str]) -> str:
    labels = STATUS.get(status)
    return labels[FORMS.index(form(language))] if labels else status.replace("_", " ")


def date_text(day: Optional[dt.date], language: Optional[str]) -> str:
    """'25 Nov 2026', '25 नवंबर 2026', '25 নভেম্বর 2026' (ASCII digits: shoppers copy them)."""
    f = form(language)
    if day is None:
        return NOT_YET[f]
    months = MONTHS.get(f, MONTHS["en"])
    return f"{day.day} {months[day.month - 1]} {day.year}"


def money(amount: Decimal, currency: str) -> str:
    """₹1,299 or ৳1,299.50; Indian digit grouping (1,00,000) for both currencies."""
    whole, _, frac = f"{amount:.2f}".partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        groups = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        whole = ",".join(groups + [tail])
    return f"{sign}{currency}{whole}" + ("" if frac == "00" else f".{frac}")

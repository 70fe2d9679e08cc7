"""Search and answers on the demo help centre (kb_index/demo), in every language form."""
from __future__ import annotations

import pytest


def test_demo_versions(demo_centre):
    v = demo_centre.versions
    assert len(v) == 18
    assert set(v["payment-methods"]) == {"en"}
    assert set(v["warranty"]) == {"en", "hi", "bn"}  # hi and bn from faq.csv rows
    assert set(v["cancellation"]) == {"en", "hi", "bn"}


def test_english_question_answers_with_url(demo_centre):
    a = demo_centre.answer("What is your return policy?", "en")
    assert a is not None
    assert (a.article_id, a.lang, a.other_language) == ("returns-policy", "en", False)
    assert a.url == "https://example-shop.in/help/returns-policy"
    assert a.title == "Returns and the 10-day return window"
    assert a.text.strip() and a.score >= demo_centre.threshold("en")


def test_english_question_without_language_hint(demo_centre):
    a = demo_centre.answer("What are your customer support hours?")
    assert a is not None
    assert (a.article_id, a.lang, a.other_language) == ("contact-hours", "en", False)


def test_bengali_question_gets_bengali_version(demo_centre):
    a = demo_centre.answer("টাকা ফেরত পেতে কত দিন লাগে?", "bn")
    assert a is not None
    assert (a.article_id, a.lang, a.other_language) == ("refunds", "bn", False)
    assert any("\u0980" <= ch <= "\u09ff" for ch in a.text)
    assert a.url == "https://example-shop.in/help/refunds"


def test_hindi_warranty_question_gets_hindi_faq_version(demo_centre):
    a = demo_centre.answer("वारंटी क्लेम कैसे करें?", "hi")
    assert a is not None
    assert (a.article_id, a.lang, a.other_language) == ("warranty", "hi", False)
    assert "वारंटी" in a.text


def test_hindi_question_about_english_only_article(demo_centre):
    a = demo_centre.answer("क्या आप नेट बैंकिंग और UPI लेते हैं?", "hi")
    assert a is not None
    assert (a.article_id, a.lang, a.other_language) == ("payment-methods", "en", True)
    assert a.url == "https://example-shop.in/help/payment-methods"


def test_romanized_hindi_prefers_english_version(demo_centre):
    assert "hi" in demo_centre.versions["cancellation"]
    a = demo_centre.answer("order cancel kaise kare", "hi-Latn")
    assert a is not None
    assert (a.article_id, a.lang, a.other_language) == ("cancellation", "en", False)


def test_language_hint_picks_version_to_quote(demo_centre):
    q = "What is your return policy?"
    assert [h.lang for h in demo_centre.search(q, k=1, language="bn")] == ["bn"]
    assert [h.lang for h in demo_centre.search(q, k=1, language="hi")] == ["hi"]
    assert [h.lang for h in demo_centre.search(q, k=1, language="en")] == ["en"]
    assert demo_centre.search(q, k=1, language="bn")[0].article_id == "returns-policy"


@pytest.mark.parametrize("query, language", [
    ("who won the cricket match yesterday", "en"),
    ("what is the weather in Delhi today", "en"),
    ("kya haal hai bhai", "hi-Latn"),
    ("kya haal hai bhai", None),
    ("", None),
    ("   ", "en"),
    ("\n\t", "hi"),
])
def test_chit_chat_and_out_of_scope_get_no_answer(demo_centre, query, language):
    assert demo_centre.answer(query, language) is None


def test_search_results_best_first_one_per_article(demo_centre):
    hits = demo_centre.search("refund for a cancelled order paid by UPI", k=5)
    assert len(hits) == 5
    ids = [h.article_id for h in hits]
    assert len(set(ids)) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert ids[0] in {"refunds", "cancellation"}
    assert len(demo_centre.search("refund", k=2)) == 2


def test_exclude_langs_never_returns_them(demo_centre):
    for q in ("रिफंड कब तक मिलेगा?", "वारंटी क्लेम कैसे करें?", "How do I return an item?"):
        hits = demo_centre.search(q, k=10, exclude_langs=("hi",))
        assert len(hits) == 10
        assert all(h.lang != "hi" for h in hits), [(h.article_id, h.lang) for h in hits]
        ranked = demo_centre.ranked(demo_centre.prepare(q), exclude_langs=("hi",))
        assert all(demo_centre.passages[row]["lang"] != "hi" for _, _, row in ranked)
    # Hindi question, Hindi versions excluded: still the right article, through en/bn.
    hits = demo_centre.search("वारंटी क्लेम कैसे करें?", k=3, exclude_langs=("hi",))
    assert hits[0].article_id == "warranty" and hits[0].lang in ("en", "bn")


def test_hit_json_shape(demo_centre):
    [hit] = demo_centre.search("How long is the OTP valid?", k=1)
    assert hit.article_id == "login-otp"
    data = hit.to_json()
    assert list(data) == ["article_id", "title", "url", "lang", "score", "text"]
    assert data["score"] == round(hit.score, 4)


@pytest.mark.parametrize("text", [
    "can I return shoes after 10 days?", "cod milega kya (cash on delivery)", "refund days",
    "রিফান্ড কত দিনে পাবো?", "वारंटी क्लेम कैसे करें?", "x",
])
def test_the_one_question_path_gives_encodes_vector(encoder, text):
    """Search encodes a shopper's question with `encode_query` (the forward pass alone)."""
    import numpy as np

    fast = encoder.encode_query(text)
    assert fast.dtype == np.float32 and fast.shape == (encoder.dim,)
    assert np.allclose(fast, encoder.encode([text], kind="query")[0], atol=1e-5)
    assert abs(float(np.linalg.norm(fast)) - 1.0) < 1e-5

"""Importers: Markdown, CSV, HTML and JSON files become Articles (and passages)."""
from __future__ import annotations

import codecs
import json

from kb_index.documents import MAX_PASSAGE_CHARS, split_passages
from kb_index.importers import import_sources

from tests.kb_index.conftest import DEMO
from tests.kb_index.helpers import md

PARA_A = "First long paragraph about parcels. " * 15  # ~540 chars
PARA_B = "Second long paragraph about couriers. " * 15  # ~570 chars


def test_markdown_front_matter_passages_and_emphasis(write):
    body = (
        "Intro with **bold words** and __strong text__ here.\n"
        "\n"
        "## Return **window**\n"
        "You have 10 days to return an item.\n"
        "\n"
        "## Long section\n"
        f"{PARA_A.strip()}\n"
        "\n"
        f"{PARA_B.strip()}\n"
    )
    path = write("returns.md", md("returns", "Returns policy", body,
                                  questions=("How do I send something back?", "Can I return a gift?"),
                                  url="https://shop.test/help/returns"))
    result = import_sources([path])
    assert result.problems == []
    [article] = result.articles
    assert (article.id, article.lang, article.title, article.url) == (
        "returns", "en", "Returns policy", "https://shop.test/help/returns")
    assert article.questions == ["How do I send something back?", "Can I return a gift?"]
    assert article.source == str(path)
    assert len(PARA_A.strip()) + len(PARA_B.strip()) > MAX_PASSAGE_CHARS

    passages = split_passages(article)
    assert [(p.heading, p.kind) for p in passages] == [
        ("", "body"),
        ("Return window", "body"),
        ("Long section", "body"),
        ("Long section", "body"),
        ("", "question"),
        ("", "question"),
    ]
    assert passages[0].text == "Intro with bold words and strong text here."
    assert passages[1].text == "You have 10 days to return an item."
    assert passages[2].text == PARA_A.strip()
    assert passages[3].text == PARA_B.strip()
    assert [p.text for p in passages[4:]] == ["How do I send something back?", "Can I return a gift?"]
    assert all("**" not in p.text and "__" not in p.text for p in passages)
    assert {(p.article_id, p.lang, p.title, p.url) for p in passages} == {
        ("returns", "en", "Returns policy", "https://shop.test/help/returns")}


def test_markdown_short_sections_stay_one_passage(write):
    path = write("a.md", md("a", "A", "## One\nPara one.\n\nPara two.\n"))
    [article] = import_sources([path]).articles
    [passage] = split_passages(article)
    assert (passage.heading, passage.text) == ("One", "Para one.\n\nPara two.")


def test_markdown_language_versions_share_an_id(write, tmp_path):
    write("en/returns.md", md("returns", "Returns policy", "Send it back within 10 days.\n"))
    write("hi/returns.md", md("returns", "रिटर्न पॉलिसी", "डिलीवरी के 10 दिनों के अंदर सामान लौटाएँ।\n", lang=None))
    write("bn/returns.md", md("returns", "রিটার্ন নীতি", "ডেলিভারির ১০ দিনের মধ্যে ফেরত দিন।\n", lang="bn"))
    write("README.md", "not an article, skipped\n")
    result = import_sources([tmp_path / "src"])
    assert result.problems == []
    assert sorted((a.id, a.lang) for a in result.articles) == [
        ("returns", "bn"), ("returns", "en"), ("returns", "hi")]  # hi detected from the script


def test_markdown_id_defaults_to_file_name(write):
    path = write("size-guide.md", "---\ntitle: Size guide\nlang: en\n---\nMeasure your chest.\n")
    [article] = import_sources([path]).articles
    assert article.id == "size-guide"
    assert article.url == ""


def test_csv_question_answer_only(write):
    path = write("faq.csv", "question,answer\n"
                            "How long does delivery take?,Two to five days.\n"
                            "Do you ship abroad?,\"Only to Bangladesh, for now.\"\n")
    result = import_sources([path])
    assert result.problems == []
    got = {a.id: a for a in result.articles}
    assert sorted(got) == ["faq-do-you-ship-abroad", "faq-how-long-does-delivery-take"]
    a = got["faq-how-long-does-delivery-take"]
    assert (a.lang, a.title, a.url, a.questions) == (
        "en", "How long does delivery take?", "", ["How long does delivery take?"])
    assert a.source == f"{path}:2"
    assert got["faq-do-you-ship-abroad"].source == f"{path}:3"
    [body, question] = split_passages(a)
    assert (body.heading, body.text, body.kind) == ("How long does delivery take?", "Two to five days.", "body")
    assert (question.text, question.kind) == ("How long does delivery take?", "question")


def test_csv_rows_grouped_by_id_and_lang_with_bom_and_quoting(write):
    text = (
        "id,lang,url,question,answer\n"
        "warranty,en,https://shop.test/help/warranty,How long is the warranty?,\"One year, from the invoice date.\"\n"
        "warranty,hi,https://shop.test/help/warranty,वारंटी कितने समय की है?,इनवॉइस की तारीख़ से एक साल।\n"
        "warranty,en,,Where do I claim it?,\"At the brand's service centre.\n\nBring the invoice, please.\"\n"
        "otp,en,https://shop.test/help/otp,OTP not received?,Wait 30 seconds and tap Resend.\n"
    )
    path = write("faq.csv", codecs.BOM_UTF8 + text.encode("utf-8"))
    result = import_sources([path])
    assert result.problems == []
    got = {(a.id, a.lang): a for a in result.articles}
    assert sorted(got) == [("otp", "en"), ("warranty", "en"), ("warranty", "hi")]
    en = got["warranty", "en"]
    assert en.questions == ["How long is the warranty?", "Where do I claim it?"]
    assert en.title == "How long is the warranty?"
    assert en.url == "https://shop.test/help/warranty"
    bodies = [(p.heading, p.text) for p in split_passages(en) if p.kind == "body"]
    assert bodies == [
        ("How long is the warranty?", "One year, from the invoice date."),
        ("Where do I claim it?", "At the brand's service centre.\n\nBring the invoice, please."),
    ]
    assert got["warranty", "hi"].questions == ["वारंटी कितने समय की है?"]


HTML_PAGE = """<!DOCTYPE html>
<html lang="hi-IN">
<head>
  <title>Head title | Shop Help</title>
  <meta name="article-id" content="shipping-abroad">
  <link rel="canonical" href="https://shop.test/help/shipping">
  <style>.nav { color: red; } STYLETEXT</style>
  <script>var tracking = "SCRIPTTEXT";</script>
</head>
<body>
  <nav><a href="/">NAVHOME</a> <a href="/login">NAVLOGIN</a></nav>
  <header><p>HEADERCRUMB</p><form><input placeholder="Search"></form></header>
  <main>
    <article>
      <h1>विदेश में शिपिंग</h1>
      <p>हम <strong>बांग्लादेश</strong> में डिलीवर करते हैं।</p>
      <h2>शुल्क</h2>
      <ul><li>पहला: 100 रुपये</li><li>दूसरा: 200 रुपये</li></ul>
      <script>console.log("INLINESCRIPT")</script>
    </article>
    <aside>ASIDEFEEDBACK</aside>
  </main>
  <footer>FOOTERCOPY</footer>
</body>
</html>
"""


def test_html_page(write):
    path = write("shipping.html", HTML_PAGE)
    result = import_sources([path])
    assert result.problems == []
    [article] = result.articles
    assert article.id == "shipping-abroad"  # meta article-id wins over canonical and file name
    assert article.lang == "hi"
    assert article.url == "https://shop.test/help/shipping"
    assert article.title == "विदेश में शिपिंग"  # the <h1>, not the <title>
    assert article.body == (
        "हम बांग्लादेश में डिलीवर करते हैं।\n\n## शुल्क\n\n- पहला: 100 रुपये\n\n- दूसरा: 200 रुपये"
    )
    for chrome in ("NAVHOME", "NAVLOGIN", "HEADERCRUMB", "FOOTERCOPY", "ASIDEFEEDBACK", "STYLETEXT",
                   "SCRIPTTEXT", "INLINESCRIPT", "Head title"):
        assert chrome not in article.body
    assert [p.heading for p in split_passages(article)] == ["", "शुल्क"]


def test_html_id_from_canonical_then_file_name_title_from_head(write):
    with_canonical = write("a.html", '<html><head><title>Gift cards</title>'
                                     '<link rel="canonical" href="https://shop.test/help/gift-cards/"></head>'
                                     '<body><p>Gift cards never expire.</p></body></html>')
    bare = write("b.page.html", "<html><body><h1>Bare page</h1><div>Plain text only.</div></body></html>")
    got = {a.title: a for a in import_sources([with_canonical, bare]).articles}
    assert (got["Gift cards"].id, got["Gift cards"].lang, got["Gift cards"].body) == (
        "gift-cards", "en", "Gift cards never expire.")
    assert (got["Bare page"].id, got["Bare page"].url, got["Bare page"].body) == ("b", "", "Plain text only.")


def test_demo_html_pages_import_without_site_chrome():
    pages = sorted((DEMO / "html").glob("contact-hours*.html"))
    assert len(pages) == 3
    result = import_sources(pages)
    assert result.problems == []
    got = {a.lang: a for a in result.articles}
    assert sorted(got) == ["bn", "en", "hi"]
    assert {a.id for a in result.articles} == {"contact-hours"}
    assert {a.url for a in result.articles} == {"https://example-shop.in/help/contact-hours"}
    en = got["en"]
    assert en.title == "Contact us and support hours"
    assert en.body.startswith("Most questions about orders, returns and refunds")
    assert "## Support hours" in en.body and "## What to keep ready" in en.body
    assert "9 am to 9 pm IST, every day" in en.body  # <strong> text kept, tags dropped
    chrome = {
        "en": ["Home", "Offers", "Log in", "Bangladesh shop (৳)", "Search help articles", "Was this article helpful",
               "Careers", "Privacy policy", "All rights reserved", "dataLayer", "--brand", "Help Centre ›"],
        "hi": ["होम", "लॉग इन", "हेल्प आर्टिकल खोजें", "मददगार", "करियर", "सर्वाधिकार", "dataLayer", "--brand"],
        "bn": ["হোম", "লগ ইন", "হেল্প আর্টিকেল খুঁজুন", "কাজে লেগেছে", "ক্যারিয়ার", "সর্বস্বত্ব", "dataLayer", "--brand"],
    }
    for lang, words in chrome.items():
        body = got[lang].body
        assert body.strip()
        for word in words:
            assert word not in body, (lang, word)


def test_json_list_and_articles_object(write):
    items = [
        {"id": "gift-cards", "title": "Gift cards", "url": "https://shop.test/help/gift-cards", "lang": "en",
         "questions": ["Do gift cards expire?"], "body": "Gift cards never expire.\n\n## Balance\nSee My Account."},
        {"id": "gift-cards", "title": "गिफ़्ट कार्ड", "body": "गिफ़्ट कार्ड कभी एक्सपायर नहीं होते।",
         "questions": "क्या गिफ़्ट कार्ड एक्सपायर होते हैं?"},
    ]
    plain = write("list.json", json.dumps(items, ensure_ascii=False))
    wrapped = write("wrapped.json", json.dumps({"articles": [
        {"id": 42, "title": "Numbered", "text": "An id given as a number.", "lang": "en"}]}))
    result = import_sources([plain, wrapped])
    assert result.problems == []
    got = {(a.id, a.lang): a for a in result.articles}
    assert sorted(got) == [("42", "en"), ("gift-cards", "en"), ("gift-cards", "hi")]
    en = got["gift-cards", "en"]
    assert (en.title, en.url, en.questions, en.source) == (
        "Gift cards", "https://shop.test/help/gift-cards", ["Do gift cards expire?"], f"{plain}[1]")
    assert [p.heading for p in split_passages(en)] == ["", "Balance", ""]
    assert got["gift-cards", "hi"].questions == ["क्या गिफ़्ट कार्ड एक्सपायर होते हैं?"]
    assert got["42", "en"].body == "An id given as a number."


def test_demo_folder_imports_cleanly():
    result = import_sources([DEMO])
    assert result.problems == []
    versions: dict[str, set[str]] = {}
    for a in result.articles:
        versions.setdefault(a.id, set()).add(a.lang)
    assert len(versions) == 18
    assert versions["payment-methods"] == {"en"}
    assert versions["warranty"] == {"en", "hi", "bn"}
    assert versions["contact-hours"] == {"en", "hi", "bn"}
    assert versions["emi"] == {"en", "hi", "bn"}

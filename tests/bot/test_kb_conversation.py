"""Help-centre answers through the real Rasa server, action server and demo index."""
import sqlite3


def _db_path(stack) -> str:
    return stack["kb_db"].removeprefix("sqlite:///")


def test_english_question_is_answered_with_citation(shopper):
    reply = shopper.say("what is your return policy?")
    text = reply[0]["text"]
    assert "https://example-shop.in/help/returns-policy" in text
    assert shopper.slot("kb_article_id") == "returns-policy"
    assert [b["payload"] for b in reply[0]["buttons"]] == ["/kb_helpful", "/kb_not_helpful"]


def test_bengali_question_gets_the_bengali_version(shopper):
    reply = shopper.say("রিফান্ড সাধারণত কত দিন সময় নেয়?")
    text = reply[0]["text"]
    assert shopper.slot("language") == "bn"
    assert shopper.slot("kb_article_id") == "refunds"
    assert "help/refunds" in text
    # Bot words and the quoted passage are in Bengali script.
    assert sum("\u0980" <= ch <= "\u09ff" for ch in text) > 40


def test_hindi_question_about_english_only_article_is_introduced_as_such(shopper):
    reply = shopper.say("वारंटी क्लेम कैसे करें?")
    text = reply[0]["text"]
    assert shopper.slot("kb_article_id") == "warranty"
    assert "help/warranty" in text
    assert any("\u0900" <= ch <= "\u097f" for ch in text.split("\n")[0])  # the bot's words: Hindi


def test_rating_is_stored_for_the_article(shopper, stack):
    shopper.say("what is your return policy?")
    assert shopper.slot("kb_article_id") == "returns-policy"
    shopper.say("/kb_not_helpful")
    assert shopper.slot("kb_article_id") is None  # the rating closes that answer
    rows = sqlite3.connect(_db_path(stack)).execute(
        "select article_id, helpful from kb_ratings").fetchall()
    assert ("returns-policy", 0) in rows


def test_turn_not_answered_from_help_centre_clears_the_article(shopper):
    shopper.say("is cash on delivery available?")
    assert shopper.slot("kb_article_id") == "cash-on-delivery"
    shopper.say("thank you")
    assert shopper.slot("kb_article_id") is None


def test_out_of_scope_never_gets_an_article(shopper):
    reply = shopper.say("who won the cricket match yesterday?")
    assert shopper.slot("kb_article_id") is None
    assert "help/" not in reply[0]["text"]

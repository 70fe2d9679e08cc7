"""The WhatsApp Cloud API connector on the real stack: signed webhooks in, Graph API calls out.

Meta's Graph API is the stack's RecordingServer; everything else (Rasa with the trained model,
the action server, the orders and help-centre data) is real.
"""
from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from pathlib import Path

import requests

from tests.bot.channels.conftest import (BENGALI, DEVANAGARI, PHONE_NUMBER_ID, new_mid, post, settle, signature,
                                         tracker, user_events, wa_envelope, wa_number, wa_sends, wa_text, wa_texts)
from tests.stack import CHANNEL_ENV

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + secrets.token_bytes(2048) + b"\xff\xd9"


def say(stack, number: str, text: str, mid: str = None) -> requests.Response:
    r = post(stack, "whatsapp", wa_envelope([wa_text(number, text, mid)]))
    assert r.status_code == 200, r.text
    return r


# -- handshake and signatures -------------------------------------------------------------

def test_verify_token_handshake(stack):
    url = f"{stack['rasa']}/webhooks/whatsapp/webhook"
    ok = {"hub.mode": "subscribe", "hub.verify_token": CHANNEL_ENV["SAATHI_WHATSAPP_VERIFY_TOKEN"],
          "hub.challenge": "1158201444"}
    r = requests.get(url, params=ok, timeout=10)
    assert r.status_code == 200 and r.text == "1158201444"
    assert requests.get(url, params={**ok, "hub.verify_token": "wrong"}, timeout=10).status_code == 403
    assert requests.get(url, params={**ok, "hub.mode": "unsubscribe"}, timeout=10).status_code == 403
    # Messenger's token does not open WhatsApp's webhook.
    wrong = {**ok, "hub.verify_token": CHANNEL_ENV["SAATHI_MESSENGER_VERIFY_TOKEN"]}
    assert requests.get(url, params=wrong, timeout=10).status_code == 403


def test_signed_text_gets_a_reply_through_the_graph_api(stack, recorder):
    number = wa_number()
    say(stack, number, "hello")
    [call] = [c for c in settle(recorder, 1) if (c["json"] or {}).get("to") == number]
    assert call["method"] == "POST" and call["path"] == f"/v19.0/{PHONE_NUMBER_ID}/messages"
    assert call["headers"]["authorization"] == f"Bearer {CHANNEL_ENV['SAATHI_WHATSAPP_TOKEN']}"
    assert call["json"]["messaging_product"] == "whatsapp" and call["json"]["type"] == "text"
    assert "Saathi" in call["json"]["text"]["body"]
    state = tracker(stack, f"+{number}")
    assert state["sender_id"] == f"+{number}" and state["latest_input_channel"] == "whatsapp"
    [event] = [e for e in state["events"] if e["event"] == "user"]
    assert event["text"] == "hello" and event["metadata"]["channel_user"] == f"+{number}"


def test_wrongly_signed_unsigned_and_malformed_signatures_are_refused(stack, recorder):
    number = wa_number()
    body = json.dumps(wa_envelope([wa_text(number, "hello")])).encode()
    for sig in (None, "", signature(body, "not-the-secret"), signature(body + b" "), "sha1=" + "0" * 40,
                "sha256=nothex", signature(body).replace("sha256=", "")):
        r = post(stack, "whatsapp", body, sig=sig)
        assert r.status_code == 403, (sig, r.text)
    time.sleep(0.5)
    assert wa_sends(recorder, number) == []
    assert user_events(stack, f"+{number}") == []


def test_replayed_message_is_handled_once(stack, recorder):
    number, mid = wa_number(), new_mid()
    body = wa_envelope([wa_text(number, "hello", mid)])
    first = post(stack, "whatsapp", body)
    again = post(stack, "whatsapp", body)  # Meta delivers the same message again
    assert first.status_code == 200 and again.status_code == 200
    settle(recorder, 1)
    assert len(wa_sends(recorder, number)) == 1
    events = user_events(stack, f"+{number}")
    assert len(events) == 1 and events[0]["message_id"] == mid


def test_malformed_json_and_unknown_shapes_never_5xx(stack, recorder):
    before = len(settle(recorder, 0))
    assert post(stack, "whatsapp", b"{not json").status_code == 400
    assert post(stack, "whatsapp", b"\xff\xfe\x00").status_code == 400
    assert post(stack, "whatsapp", b"").status_code == 400
    assert post(stack, "whatsapp", [1, 2, 3]).status_code == 400
    number = wa_number()
    for body in ({"hello": "meta"}, {"object": "instagram", "entry": []}, {"entry": "not a list"},
                 {"entry": [{"changes": [{"value": {"messages": [{"from": number, "type": "text"}]}}]}]},
                 {"entry": [{"changes": [{"value": {"messages": "x"}}]}]},
                 wa_envelope([{"from": number, "id": new_mid(), "type": "reaction", "reaction": {"emoji": "👍"}},
                              {"from": number, "id": new_mid(), "type": "text", "text": {"body": 42}},
                              {"from": number, "id": new_mid(), "type": "image", "image": {"id": "../../etc"}}])):
        r = post(stack, "whatsapp", body)
        assert r.status_code == 200, (body, r.text)
    assert len(settle(recorder, before)) == before
    assert stack["rasa_proc"].poll() is None


def test_status_callbacks_are_ignored(stack, recorder):
    number = wa_number()
    statuses = [{"id": new_mid(), "status": s, "timestamp": "1", "recipient_id": number} for s in
                ("sent", "delivered", "read", "failed")]
    r = post(stack, "whatsapp", wa_envelope([], statuses=statuses))
    assert r.status_code == 200 and r.json()["messages"] == 0
    time.sleep(0.5)
    assert wa_sends(recorder, number) == [] and user_events(stack, f"+{number}") == []


def test_every_message_of_a_batch_is_handled(stack, recorder):
    a, b, c = wa_number(), wa_number(), wa_number()
    body = wa_envelope([wa_text(a, "hello"), wa_text(b, "नमस्ते")],
                       statuses=[{"id": new_mid(), "status": "read", "recipient_id": a}])
    body["entry"].append(wa_envelope([wa_text(c, "হ্যালো")])["entry"][0])
    body["entry"][0]["changes"].append(wa_envelope([wa_text(a, "thank you")])["entry"][0]["changes"][0])
    assert post(stack, "whatsapp", body).json()["messages"] == 4
    settle(recorder, 4)
    assert [e["text"] for e in user_events(stack, f"+{a}")] == ["hello", "thank you"]
    assert len(wa_sends(recorder, a)) >= 2
    assert re.search(f"[{DEVANAGARI}]", wa_texts(recorder, b))
    assert re.search(f"[{BENGALI}]", wa_texts(recorder, c))


# -- languages ----------------------------------------------------------------------------

def test_english_help_centre_question(stack, recorder):
    number = wa_number()
    say(stack, number, "what is your return policy?")
    settle(recorder, 1)
    assert "help/returns-policy" in wa_texts(recorder, number)


def test_hindi_greeting_is_answered_in_devanagari(stack, recorder):
    number = wa_number()
    say(stack, number, "नमस्ते")
    settle(recorder, 1)
    reply = wa_texts(recorder, number)
    assert "साथी" in reply and len(re.findall(f"[{DEVANAGARI}]", reply)) > 40


def test_bengali_help_centre_question_is_answered_in_bengali(stack, recorder):
    number = wa_number()
    say(stack, number, "রিফান্ড সাধারণত কত দিন সময় নেয়?")
    settle(recorder, 1)
    reply = wa_texts(recorder, number)
    assert "help/refunds" in reply and len(re.findall(f"[{BENGALI}]", reply)) > 40


# -- buttons ------------------------------------------------------------------------------

def test_buttons_go_out_as_reply_buttons_and_a_pressed_button_is_its_payload(stack, recorder):
    number = wa_number()
    say(stack, number, "what is your return policy?")
    settle(recorder, 1)
    [interactive] = [m for m in wa_sends(recorder, number) if m["type"] == "interactive"]
    assert interactive["interactive"]["type"] == "button"
    assert len(interactive["interactive"]["body"]["text"]) <= 1024
    replies = [b["reply"] for b in interactive["interactive"]["action"]["buttons"]]
    assert [r["id"] for r in replies] == ["/kb_helpful", "/kb_not_helpful"]
    assert all(0 < len(r["title"]) <= 20 for r in replies)
    assert "help/returns-policy" in wa_texts(recorder, number)
    assert tracker(stack, f"+{number}")["slots"]["kb_article_id"] == "returns-policy"

    pressed = {"from": number, "id": new_mid(), "type": "interactive",
               "interactive": {"type": "button_reply", "button_reply": replies[1]}}
    assert post(stack, "whatsapp", wa_envelope([pressed])).status_code == 200
    assert user_events(stack, f"+{number}")[-1]["text"] == "/kb_not_helpful"
    assert tracker(stack, f"+{number}")["slots"]["kb_article_id"] is None  # the rating closed the answer
    rows = sqlite3.connect(stack["kb_db"].removeprefix("sqlite:///")).execute(
        "select article_id, helpful from kb_ratings").fetchall()
    assert ("returns-policy", 0) in rows


def test_list_reply_without_an_intent_id_is_its_title(stack, recorder):
    number = wa_number()
    picked = {"from": number, "id": new_mid(), "type": "interactive",
              "interactive": {"type": "list_reply", "list_reply": {"id": "row-3", "title": "hello"}}}
    assert post(stack, "whatsapp", wa_envelope([picked])).status_code == 200
    assert user_events(stack, f"+{number}")[-1]["text"] == "hello"


# -- photos and locations -----------------------------------------------------------------

def test_photo_is_downloaded_into_the_media_dir_and_attached_to_the_message(stack, recorder):
    number, media_id = wa_number(), "MEDIA" + secrets.token_hex(6)
    recorder.serve(f"/v19.0/{media_id}", {"url": f"{recorder.url}/media/{media_id}.jpg", "mime_type": "image/jpeg",
                                          "file_size": len(JPEG), "id": media_id})
    recorder.serve(f"/media/{media_id}.jpg", JPEG, "image/jpeg")
    photo = {"from": number, "id": new_mid(), "type": "image",
             "image": {"id": media_id, "mime_type": "image/jpeg", "caption": "my parcel arrived broken"}}
    assert post(stack, "whatsapp", wa_envelope([photo])).status_code == 200

    [event] = user_events(stack, f"+{number}")
    assert event["text"] == "my parcel arrived broken"
    [attachment] = event["metadata"]["attachments"]
    assert attachment["type"] == "image" and attachment["mime"] == "image/jpeg"
    assert attachment["caption"] == "my parcel arrived broken"
    saved = Path(stack["work"]) / "media" / attachment["file"]
    assert saved.read_bytes() == JPEG
    downloads = [c for c in recorder.calls if c["method"] == "GET" and media_id in c["path"]]
    assert {c["path"] for c in downloads} == {f"/v19.0/{media_id}", f"/media/{media_id}.jpg"}
    assert all(c["headers"]["authorization"] == f"Bearer {CHANNEL_ENV['SAATHI_WHATSAPP_TOKEN']}" for c in downloads)
    settle(recorder, 1)
    assert wa_sends(recorder, number), "the shopper still gets an answer"


def test_photo_without_caption_and_a_download_that_is_not_an_image(stack, recorder):
    number, media_id = wa_number(), "MEDIA" + secrets.token_hex(6)
    recorder.serve(f"/v19.0/{media_id}", {"url": f"{recorder.url}/media/{media_id}", "mime_type": "image/jpeg"})
    recorder.serve(f"/media/{media_id}", b"<html><script>alert(1)</script></html>", "text/html")
    photo = {"from": number, "id": new_mid(), "type": "image", "image": {"id": media_id, "mime_type": "image/jpeg"}}
    assert post(stack, "whatsapp", wa_envelope([photo])).status_code == 200
    [event] = user_events(stack, f"+{number}")
    assert event["text"] == "[photo]"
    [attachment] = event["metadata"]["attachments"]
    assert attachment["type"] == "image" and "file" not in attachment and attachment["error"]


def test_location_is_attached_to_the_message(stack, recorder):
    number = wa_number()
    shared = {"from": number, "id": new_mid(), "type": "location",
              "location": {"latitude": 18.5204, "longitude": 73.8567, "name": "Home", "address": "12 MG Road, Pune"}}
    assert post(stack, "whatsapp", wa_envelope([shared])).status_code == 200
    [event] = user_events(stack, f"+{number}")
    assert event["metadata"]["attachments"] == [{"type": "location", "latitude": 18.5204, "longitude": 73.8567,
                                                 "name": "Home", "address": "12 MG Road, Pune"}]


# -- orders, pushes, failures -------------------------------------------------------------

def test_sender_whose_number_is_on_the_order_gets_the_status_without_being_asked(stack, recorder):
    say(stack, "919876543210", "where is my order KM-10234?")  # Priya's number, on KM-10234
    settle(recorder, 1)
    reply = wa_texts(recorder, "919876543210")
    assert "Priya" in reply and "shipped" in reply
    assert "phone number or e-mail" not in reply

    stranger = wa_number()
    say(stack, stranger, "where is my order KM-10234?")
    settle(recorder, 1)
    reply = wa_texts(recorder, stranger)
    assert "phone number or e-mail" in reply and "Priya" not in reply


def test_agent_message_pushed_with_output_channel_latest_goes_out_on_whatsapp(stack, recorder):
    number = wa_number()
    say(stack, number, "hello")
    text = f"Hi, this is Asha from the shop ({secrets.token_hex(3)})"
    r = requests.post(f"{stack['rasa']}/conversations/+{number}/tracker/events",
                      params={"token": stack["token"], "output_channel": "latest", "execute_side_effects": "true"},
                      json=[{"event": "bot", "text": text}], timeout=30)
    assert r.status_code == 200, r.text
    recorder.wait_for(lambda c: (c["json"] or {}).get("to") == number and text in json.dumps(c["json"], ensure_ascii=False))


def test_graph_api_errors_do_not_break_the_turn(stack, recorder):
    number = wa_number()
    recorder.reply_with(500, {"error": {"message": "Service temporarily unavailable", "code": 2}})
    try:
        r = post(stack, "whatsapp", wa_envelope([wa_text(number, "hello")]))
    finally:
        recorder.reply_normally()
    assert r.status_code == 200
    assert len(user_events(stack, f"+{number}")) == 1
    assert f"+{number}" not in Path(stack["rasa_log"]).read_text()  # numbers are masked in the log

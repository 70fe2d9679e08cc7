"""Pure parts of the Meta connectors: signatures, parsing, text limits, the dedup store, and
the output channels against a loopback RecordingServer standing in for the Graph API."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.channels import dedup as dedup_module
from bot.channels.dedup import DedupStore
from bot.channels.messenger import MessengerInput, MessengerOutput
from bot.channels.meta import (GraphClient, location_attachment, reply_text, save_image, shorten, sign,
                               signature_ok, split_text, verify_challenge)
from bot.channels.whatsapp import WhatsAppInput, WhatsAppOutput, interactive_body
from bot.config import load_settings
from tests.bot.channels.conftest import SECRET, fb_envelope, fb_message, settle, signature, wa_envelope, wa_text
from tests.stack import RecordingServer

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"


def settings(tmp_path, **extra):
    env = {"SAATHI_RUN_DIR": str(tmp_path), "SAATHI_META_APP_SECRET": SECRET, **extra}
    return load_settings(env)


# -- signatures ---------------------------------------------------------------------------

def test_signature_matches_an_independent_hmac():
    body = '{"object":"page","x":"हिंदी"}'.encode()
    assert sign(SECRET, body) == signature(body)
    assert signature_ok(SECRET, body, signature(body))
    assert signature_ok(SECRET, body, signature(body).upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha1=" + "0" * 40, "sha256=" + "z" * 64,
                                    "sha256=" + "0" * 63, "sha256=" + "0" * 64])
def test_bad_signatures_are_refused(header):
    assert not signature_ok(SECRET, b"{}", header)


def test_wrong_secret_or_changed_body_is_refused():
    body = b'{"a": 1}'
    assert not signature_ok(SECRET, body, signature(body, "another-secret"))
    assert not signature_ok(SECRET, body + b" ", signature(body))


def test_no_app_secret_refuses_even_a_body_signed_with_the_empty_key():
    assert not signature_ok("", b"{}", signature(b"{}", ""))


def test_verify_handshake():
    ok = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_challenge(ok, "tok") == "1158201444"
    assert verify_challenge({**ok, "hub.verify_token": "nope"}, "tok") is None
    assert verify_challenge({**ok, "hub.mode": "unsubscribe"}, "tok") is None
    assert verify_challenge(ok, "") is None  # no verify token configured


# -- text helpers -------------------------------------------------------------------------

def test_reply_text_prefers_intent_payloads_else_the_title():
    assert reply_text("/kb_helpful", "👍 Helpful") == "/kb_helpful"
    assert reply_text("opt-7", "Track my order") == "Track my order"
    assert reply_text(None, None) == ""
    assert reply_text("GET_STARTED", "") == "GET_STARTED"


def test_split_text_respects_the_limit_and_keeps_every_word():
    text = " ".join(f"word{i}" for i in range(2000))
    pieces = split_text(text, 4096)
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) > 1
    assert " ".join(pieces).split() == text.split()
    assert split_text("short", 10) == ["short"]


def test_interactive_body_moves_a_long_text_out_and_keeps_the_question():
    long = "x" * 1500 + "\n\nWas this helpful?"
    first, body = interactive_body(long)
    assert first == "x" * 1500 and body == "Was this helpful?"
    assert interactive_body("Pick one") == ("", "Pick one")
    first, body = interactive_body("y" * 2000)
    assert first == "y" * 2000 and 0 < len(body) <= 1024


def test_shorten():
    assert shorten("Track my order please", 20) == "Track my order plea…"
    assert len(shorten("x" * 30, 20)) == 20
    assert shorten("ok", 20) == "ok"


def test_location_attachment_validates_coordinates():
    assert location_attachment("18.52", 73.85, "Home", "12 MG Road")["latitude"] == 18.52
    assert location_attachment(91, 0) is None
    assert location_attachment("nan", 0) is None
    assert location_attachment(None, 1) is None


def test_save_image_names_by_content_and_refuses_non_images(tmp_path):
    name, mime = save_image(tmp_path, JPEG)
    assert mime == "image/jpeg" and name.endswith(".jpg") and (tmp_path / name).read_bytes() == JPEG
    assert save_image(tmp_path, JPEG) == (name, mime)  # same bytes, same file
    assert save_image(tmp_path, b"<html><script>alert(1)</script>") is None
    assert [p.name for p in tmp_path.iterdir()] == [name]


# -- parsing ------------------------------------------------------------------------------

def test_whatsapp_parses_every_message_of_a_batch_and_ignores_statuses(tmp_path):
    channel = WhatsAppInput(settings(tmp_path))
    body = wa_envelope([wa_text("919812345678", "hi", "wamid.A"),
                        {"from": "919812345678", "id": "wamid.B", "type": "interactive",
                         "interactive": {"type": "button_reply", "button_reply": {"id": "/kb_helpful", "title": "👍"}}},
                        {"from": "919812345678", "id": "wamid.C", "type": "interactive",
                         "interactive": {"type": "list_reply", "list_reply": {"id": "row-2", "title": "Returns"}}},
                        {"from": "8801712345678", "id": "wamid.D", "type": "image",
                         "image": {"id": "MEDIA1", "mime_type": "image/jpeg"}},
                        {"from": "8801712345678", "id": "wamid.E", "type": "location",
                         "location": {"latitude": 23.81, "longitude": 90.41, "name": "Office"}},
                        {"from": "8801712345678", "id": "wamid.F", "type": "reaction", "reaction": {"emoji": "👍"}},
                        {"from": "not-a-number", "id": "wamid.G", "type": "text", "text": {"body": "x"}}],
                       statuses=[{"id": "wamid.OLD", "status": "read"}])
    body["entry"].append(wa_envelope([wa_text("919000000001", "second entry", "wamid.H")])["entry"][0])
    parsed = channel.parse(body)
    assert [(m.message_id, m.sender_id, m.text) for m in parsed] == [
        ("wamid.A", "+919812345678", "hi"), ("wamid.B", "+919812345678", "/kb_helpful"),
        ("wamid.C", "+919812345678", "Returns"), ("wamid.D", "+8801712345678", "[photo]"),
        ("wamid.E", "+8801712345678", "[location]"), ("wamid.H", "+919000000001", "second entry")]
    assert parsed[0].metadata == {"channel_user": "+919812345678"}
    assert parsed[3].media[0].ref == "MEDIA1"
    assert parsed[4].metadata["attachments"] == [
        {"type": "location", "latitude": 23.81, "longitude": 90.41, "name": "Office", "address": None}]


@pytest.mark.parametrize("body", [{}, {"object": "page"}, {"entry": "x"}, {"entry": [{"changes": [None, 5]}]},
                                  {"entry": [{"changes": [{"value": {"messages": [{"type": "text"}]}}]}]}])
def test_whatsapp_unknown_shapes_give_no_messages(tmp_path, body):
    assert WhatsAppInput(settings(tmp_path)).parse(body) == []


def test_messenger_parses_every_event_and_ignores_echoes_deliveries_reads(tmp_path):
    channel = MessengerInput(settings(tmp_path))
    body = fb_envelope(
        [fb_message("111", "hello", "m_1"), fb_message("111", "👎 Not helpful", "m_2",
                                                       quick_reply={"payload": "/kb_not_helpful"}),
         {"sender": {"id": "111"}, "delivery": {"mids": ["m_0"]}},
         {"sender": {"id": "111"}, "read": {"watermark": 1}},
         fb_message("PAGE1", "echo", "m_3", is_echo=True)],
        [{"sender": {"id": "222"}, "postback": {"mid": "m_4", "title": "Get started", "payload": "GET_STARTED"}},
         fb_message("222", None, "m_5", attachments=[{"type": "image", "payload": {"url": "https://x/y.jpg"}}])])
    parsed = channel.parse(body)
    assert [(m.message_id, m.sender_id, m.text) for m in parsed] == [
        ("m_1", "111", "hello"), ("m_2", "111", "/kb_not_helpful"), ("m_4", "222", "Get started"),
        ("m_5", "222", "[photo]")]
    assert parsed[3].media[0].ref == "https://x/y.jpg"


def test_overlong_text_is_cut_to_the_limit_and_noted(tmp_path):
    channel = WhatsAppInput(settings(tmp_path, SAATHI_MAX_MESSAGE_CHARS="50"))
    [msg] = channel.parse(wa_envelope([wa_text("919812345678", "a" * 80)]))
    assert msg.text == "a" * 50 and msg.metadata["truncated_from_chars"] == 80


def test_credentials_override_settings(tmp_path):
    channel = WhatsAppInput(settings(tmp_path), {"verify_token": "from-yml", "phone_number_id": "42"})
    assert channel.verify_token == "from-yml" and channel.output.phone_number_id == "42"
    assert channel.app_secret == SECRET


# -- dedup store --------------------------------------------------------------------------

def test_dedup_claims_once_releases_and_takes_over_stale_claims(tmp_path):
    store = DedupStore(f"sqlite:///{tmp_path / 'sub' / 'channels.db'}", stale_after=dt.timedelta(minutes=5))
    assert store.claim("whatsapp", "wamid.1")
    assert not store.claim("whatsapp", "wamid.1")
    assert store.claim("messenger", "wamid.1")  # ids are per channel
    store.release("whatsapp", "wamid.1")
    assert store.claim("whatsapp", "wamid.1")  # a failed turn is handled on redelivery
    store.done("whatsapp", "wamid.1")
    with store.engine.begin() as c:  # a claim from a process that died 10 minutes ago
        c.execute(dedup_module.channel_messages.insert().values(
            message_key="whatsapp:wamid.2", state="processing", claimed_at=dt.datetime.utcnow() - dt.timedelta(minutes=10)))
    assert store.claim("whatsapp", "wamid.2")
    assert not store.claim("whatsapp", "wamid.2")
    assert store.first_time("twilio:SM1") and not store.first_time("twilio:SM1")
    # Durable: a second store on the same database (another process, a restart) sees the claims.
    dedup_module._engines.clear()
    assert not DedupStore(f"sqlite:///{tmp_path / 'sub' / 'channels.db'}").claim("whatsapp", "wamid.1")


# -- output channels against the recording server ---------------------------------------

@pytest.fixture
def graph():
    server = RecordingServer()
    yield server
    server.close()


def test_whatsapp_output_buttons_lists_and_long_texts(graph):
    client = GraphClient(f"{graph.url}/v19.0", 5, bearer="tok", channel="whatsapp")
    out = WhatsAppOutput(client, "PNID")

    async def run():
        await out.send_text_with_buttons("+919812345678", "Pick one", [
            {"title": "Track my order, please", "payload": "/order_status"}, {"title": "No", "payload": "/deny"}])
        await out.send_text_with_buttons("+919812345678", "कौन सा?", [
            {"title": f"विकल्प संख्या {i} बहुत लंबा शीर्षक", "payload": f"/opt{i}"} for i in range(12)])
        await out.send_text_message("+919812345678", "z " * 3000)
        await client._client().close()

    asyncio.run(run())
    calls = [c for c in settle(graph, 5) if c["path"] == "/v19.0/PNID/messages"]
    assert all(c["headers"]["authorization"] == "Bearer tok" for c in calls)
    assert all(c["json"]["to"] == "919812345678" and c["json"]["messaging_product"] == "whatsapp" for c in calls)
    buttons = calls[0]["json"]["interactive"]
    assert buttons["type"] == "button"
    assert [b["reply"] for b in buttons["action"]["buttons"]] == [
        {"id": "/order_status", "title": "Track my order, ple…"}, {"id": "/deny", "title": "No"}]
    lists = [c["json"]["interactive"] for c in calls[1:3]]
    assert [l["type"] for l in lists] == ["list", "list"]
    assert lists[0]["action"]["button"] == "विकल्प"
    rows = [r for l in lists for r in l["action"]["sections"][0]["rows"]]
    assert [r["id"] for r in rows] == [f"/opt{i}" for i in range(12)]
    assert all(len(r["title"]) <= 24 and len(r.get("description", "")) <= 72 for r in rows)
    texts = [c["json"]["text"]["body"] for c in calls[3:]]
    assert len(texts) == 2 and all(len(t) <= 4096 for t in texts)


def test_messenger_output_quick_replies_and_errors_never_raise(graph, caplog):
    client = GraphClient(f"{graph.url}/v19.0", 5, params={"access_token": "page-tok"}, channel="messenger")
    out = MessengerOutput(client)

    async def run():
        await out.send_text_with_buttons("111", "Was this helpful?", [{"title": "👍 Helpful", "payload": "/kb_helpful"}])
        graph.reply_with(500, {"error": {"message": "boom for +919876543210", "code": 2}})
        await out.send_text_message("111", "still fine")  # a failing Graph call is logged, not raised
        graph.reply_normally()
        dead = MessengerOutput(GraphClient("http://127.0.0.1:9", 1, channel="messenger"))
        await dead.send_text_message("111", "nobody listens")
        await dead.client._client().close()
        await client._client().close()

    asyncio.run(run())
    calls = settle(graph, 2)
    first = calls[0]
    assert first["query"] == "access_token=page-tok"
    assert first["json"] == {"recipient": {"id": "111"}, "messaging_type": "RESPONSE", "message": {
        "text": "Was this helpful?",
        "quick_replies": [{"content_type": "text", "title": "👍 Helpful", "payload": "/kb_helpful"}]}}
    assert calls[1]["json"]["message"] == {"text": "still fine"}
    assert "HTTP 500" in caplog.text and "ClientConnectorError" in caplog.text
    assert "+919876543210" not in caplog.text and "page-tok" not in caplog.text


def test_custom_payloads_go_out_only_when_they_are_the_platforms_own_messages(graph):
    wa = GraphClient(f"{graph.url}/v19.0", 5, bearer="tok", channel="whatsapp")
    fb = GraphClient(f"{graph.url}/v19.0", 5, params={"access_token": "p"}, channel="messenger")
    widget_marker = {"data": {"saathi": {"kind": "agent_joined"}}}  # the website widget's custom payload

    async def run():
        await WhatsAppOutput(wa, "PNID").send_custom_json("+919812345678", widget_marker)
        await MessengerOutput(fb).send_custom_json("111", widget_marker)
        await WhatsAppOutput(wa, "PNID").send_custom_json("+919812345678", {
            "type": "location", "location": {"latitude": 18.52, "longitude": 73.85, "name": "Our shop"}})
        await MessengerOutput(fb).send_custom_json("111", {"text": "custom hello"})
        await wa._client().close()
        await fb._client().close()

    asyncio.run(run())
    calls = settle(graph, 2)
    assert [c["json"].get("type") or c["json"]["message"] for c in calls] == ["location", {"text": "custom hello"}]

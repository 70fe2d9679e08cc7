"""The Twilio WhatsApp connector against the real stack (Rasa, action server, orders database).

Twilio itself is the RecordingServer of tests/stack.py: the stack points SAATHI_TWILIO_API_URL at
it, and it records every call the connector makes. Webhook requests are signed with Twilio's own
library (`twilio.request_validator`, installed with Rasa), an implementation independent of ours.
"""
from __future__ import annotations

import asyncio
import base64
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, quote

import pytest
import requests
from twilio.request_validator import RequestValidator

from tests.stack import CHANNEL_ENV, Agent, bot_events, free_port, user_events

TOKEN = CHANNEL_ENV["SAATHI_TWILIO_AUTH_TOKEN"]
ACCOUNT = CHANNEL_ENV["SAATHI_TWILIO_ACCOUNT_SID"]
OUR_NUMBER = CHANNEL_ENV["SAATHI_TWILIO_NUMBER"]
DEVANAGARI = re.compile(r"[\u0900-\u097f]")
BENGALI = re.compile(r"[\u0980-\u09ff]")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def webhook(stack: dict) -> str:
    return f"{stack['rasa']}/webhooks/twilio_whatsapp/webhook"


def sign(url: str, form: dict, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def inbound(number: str, body: str, **extra: str) -> dict:
    """A form shaped like Twilio's incoming WhatsApp message webhook."""
    form = {"SmsMessageSid": "", "NumMedia": "0", "ProfileName": "Test", "SmsSid": "",
            "WaId": number.lstrip("+"), "SmsStatus": "received", "Body": body,
            "To": OUR_NUMBER, "NumSegments": "1", "MessageSid": new_sid(),
            "AccountSid": ACCOUNT, "From": f"whatsapp:{number}", "ApiVersion": "2010-04-01"}
    form["SmsMessageSid"] = form["SmsSid"] = form["MessageSid"]
    form.update(extra)
    return form


def post(stack: dict, form: dict, signature: Optional[str] = "sign", **kwargs: Any) -> requests.Response:
    url = webhook(stack)
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = sign(url, form)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return requests.post(url, data=form, headers=headers, timeout=30, **kwargs)


def sent_to(stack: dict, number: str) -> list[dict]:
    """Messages the connector sent through Twilio's Messages API to this WhatsApp number."""
    out = []
    for call in list(stack["recorder"].calls):
        if call["method"] == "POST" and call["path"].endswith("/Messages.json"):
            fields = {k: v[0] for k, v in parse_qs(call["body"], keep_blank_values=True).items()}
            if fields.get("To") == f"whatsapp:{number}":
                out.append({**call, "fields": fields})
    return out


def wait_replies(stack: dict, number: str, pattern: str = "", timeout: float = 60) -> list[dict]:
    """Outgoing messages to `number` once one of them matches `pattern`, and the turn is over."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sent_to(stack, number)
        if any(re.search(pattern, m["fields"].get("Body", "")) for m in got):
            time.sleep(1.0)  # later messages of the same turn
            return sent_to(stack, number)
        time.sleep(0.2)
    raise AssertionError(f"no reply to {number} matching {pattern!r}: {sent_to(stack, number)}")


def bodies(messages: list[dict]) -> str:
    return "\n".join(m["fields"].get("Body", "") for m in messages)


def number() -> str:
    """A fresh Indian mobile number on no order (each test its own conversation)."""
    return "+9170" + "".join(secrets.choice("0123456789") for _ in range(8))


# -- round trips -------------------------------------------------------------------------------

def test_signed_message_gets_empty_twiml_and_a_reply_through_the_messages_api(stack):
    # Ananya's own WhatsApp number is the phone on KM-10236: the channel proves it, no phone asked.
    me = "+919845012345"
    form = inbound(me, "where is my order KM-10236?")
    r = post(stack, form)
    assert r.status_code == 200 and r.text == EMPTY_TWIML
    assert r.headers["content-type"].startswith("text/xml")
    replies = wait_replies(stack, me, "Ananya")
    call = replies[-1]
    assert call["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert call["headers"]["authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert call["fields"]["From"] == OUR_NUMBER and call["fields"]["To"] == f"whatsapp:{me}"
    text = bodies(replies)
    assert "packed" in text.lower() and "phone number or e-mail" not in text
    # The conversation is the shopper's E.164 number, on this channel, with the message's sid.
    user = user_events(stack, me)[-1]
    assert user["input_channel"] == "twilio_whatsapp" and user["message_id"] == form["MessageSid"]
    assert user["metadata"]["channel_user"] == me and "attachments" not in user["metadata"]


def test_hindi_round_trip_replies_in_devanagari(stack):
    me = "+919747012345"  # Arjun, KM-10237
    assert post(stack, inbound(me, "मेरा ऑर्डर KM-10237 कहाँ है?")).status_code == 200
    text = bodies(wait_replies(stack, me, "Arjun"))
    assert DEVANAGARI.search(text) and "डिलीवरी के लिए निकल" in text


def test_bengali_round_trip_from_a_bangladeshi_number(stack):
    me = "+8801812345678"  # Fatema, DK-5002
    assert post(stack, inbound(me, "আমার অর্ডার DK-5002 কোথায়?")).status_code == 200
    text = bodies(wait_replies(stack, me, "Fatema"))
    assert BENGALI.search(text)


def test_another_number_is_not_verified_by_the_channel(stack):
    me = number()
    assert post(stack, inbound(me, "where is my order KM-10238?")).status_code == 200
    text = bodies(wait_replies(stack, me, "phone number or e-mail"))
    assert "Sneha" not in text


def test_buttons_are_a_numbered_list_and_the_number_presses_the_button(stack):
    me = number()
    assert post(stack, inbound(me, "how many days do I have to return a product?")).status_code == 200
    text = bodies(wait_replies(stack, me, r"\n1\. 👍"))
    assert "\n2. 👎" in text and "/kb_helpful" not in text
    assert post(stack, inbound(me, "1")).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        last = user_events(stack, me)[-1]
        if last["text"] == "/kb_helpful":
            break
        time.sleep(0.3)
    assert last["text"] == "/kb_helpful" and last["parse_data"]["intent"]["name"] == "kb_helpful"


def test_an_agent_on_the_console_talks_to_the_whatsapp_shopper(stack):
    """Handoff: the bridge pushes through Rasa (output_channel=latest) to this channel's output."""
    agent = Agent(stack)  # online, so the request is queued for a person
    me = number()
    assert post(stack, inbound(me, "I want to talk to a human")).status_code == 200
    wait_replies(stack, me, ".")
    r = requests.get(f"{stack['bridge']}/api/handoffs/{quote(me)}", timeout=10,
                     headers={"Authorization": f"Bearer {stack['bridge_token']}"})
    assert r.status_code == 200, r.text
    handoff_id = r.json()["handoff_id"]
    try:
        assert agent.post(f"/console/handoffs/{handoff_id}/claim").status_code in (200, 302, 303)
        wait_replies(stack, me, "Asha")
        assert agent.post(f"/console/handoffs/{handoff_id}/messages",
                          text="Asha here. नमस्ते! Let me check.").status_code in (200, 302, 303)
        pushed = wait_replies(stack, me, "Asha here")
        assert pushed[-1]["fields"]["Body"] == "Asha here. नमस्ते! Let me check."
        assert pushed[-1]["fields"]["From"] == OUR_NUMBER
    finally:
        agent.post(f"/console/handoffs/{handoff_id}/close", note="twilio test")


# -- signatures --------------------------------------------------------------------------------

def _no_turn(stack: dict, me: str) -> None:
    time.sleep(1.5)
    assert user_events(stack, me) == [] and sent_to(stack, me) == []


def test_unsigned_request_is_403_and_no_turn(stack):
    me = number()
    r = post(stack, inbound(me, "hello"), signature=None)
    assert r.status_code == 403
    _no_turn(stack, me)


def test_wrongly_signed_requests_are_403(stack):
    me = number()
    form = inbound(me, "hello")
    url = webhook(stack)
    wrong = [
        sign(url, form, token="another-token"),                     # other account's token
        sign(url + "?x=1", form),                                   # another URL
        sign(url, {**form, "Body": "hello there"}),                 # body changed after signing
        sign(url, form)[:-4] + "AAA=",                              # truncated / altered
        "",                                                         # empty header
        "not base64 at all ✓".encode(),
    ]
    for signature in wrong:
        assert post(stack, form, signature=signature).status_code == 403, signature
    _no_turn(stack, me)


def test_replayed_message_sid_is_one_turn_and_one_reply(stack):
    me = number()
    form = inbound(me, "hi")
    for _ in range(3):  # Twilio retries with the same MessageSid and the same signature
        r = post(stack, form)
        assert r.status_code == 200 and r.text == EMPTY_TWIML
    replies = wait_replies(stack, me, ".")
    time.sleep(2)
    users = user_events(stack, me)
    assert len(users) == 1 and users[0]["message_id"] == form["MessageSid"]
    bots = bot_events(stack, me)
    assert len(sent_to(stack, me)) == len(bots) == len(replies) >= 1


# -- malformed requests ------------------------------------------------------------------------

@pytest.mark.parametrize("change, status", [
    ({"From": ""}, 400),
    ({"From": "+919876543210"}, 400),                 # SMS, not WhatsApp
    ({"From": "whatsapp:+91abc"}, 400),
    ({"MessageSid": "", "SmsMessageSid": ""}, 400),
    ({"MessageSid": "../../etc/passwd"}, 400),
    ({"NumMedia": "many"}, 400),
    ({"NumMedia": "1"}, 400),                          # no MediaUrl0
    ({"NumMedia": "1", "MediaUrl0": "file:///etc/passwd", "MediaContentType0": "image/jpeg"}, 400),
    ({"Latitude": "north", "Longitude": "77.5"}, 400),
    ({"Latitude": "95", "Longitude": "77.5"}, 400),
    ({"Body": "x" * 4001}, 413),
])
def test_malformed_signed_forms_are_refused_clearly(stack, change, status):
    me = number()
    form = {**inbound(me, "hello"), **change}
    r = post(stack, form)
    assert r.status_code == status, r.text
    assert "error" in r.json()


def test_bodies_that_are_not_forms(stack):
    url = webhook(stack)
    sig = sign(url, {})
    assert requests.post(url, json={"From": "whatsapp:+919876543210"}, timeout=30,
                         headers={"X-Twilio-Signature": sig}).status_code == 415
    bad_utf8 = requests.post(url, data=b"Body=\xff\xfe&From=x", timeout=30, headers={
        "X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"})
    assert bad_utf8.status_code == 400
    huge = requests.post(url, data={"Body": "x" * 100_000}, timeout=30, headers={"X-Twilio-Signature": sig})
    assert huge.status_code == 413
    # And the server is still there.
    assert requests.get(f"{stack['rasa']}/webhooks/twilio_whatsapp/", timeout=10).json() == {"status": "ok"}


# -- media and locations -----------------------------------------------------------------------

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00"
       b"\x00IEND\xaeB`\x82")


class MediaHost:
    """Stands in for Twilio's media URLs: serves a PNG and records the Authorization header."""

    def __init__(self) -> None:
        host = self
        self.auth: list[Optional[str]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                host.auth.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")  # claimed; the bytes are a PNG
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_photo_is_downloaded_with_basic_auth_and_passed_in_metadata(stack):
    me = number()
    host = MediaHost()
    try:
        media_url = f"{host.url}/2010-04-01/Accounts/{ACCOUNT}/Messages/{new_sid('MM')}/Media/{new_sid('ME')}"
        form = inbound(me, "yeh tuta hua aaya", NumMedia="1", MediaUrl0=media_url, MediaContentType0="image/jpeg")
        assert post(stack, form).status_code == 200
        wait_replies(stack, me, ".")
    finally:
        host.close()
    assert host.auth == ["Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()]
    user = user_events(stack, me)[-1]
    assert user["text"] == "yeh tuta hua aaya"
    [attachment] = user["metadata"]["attachments"]
    name = attachment.pop("file")
    # The type is read from the bytes, not from what the sender claimed.
    assert attachment == {"type": "image", "mime": "image/png", "caption": "yeh tuta hua aaya"}
    assert user["metadata"]["channel_user"] == me
    assert (Path(stack["work"]) / "media" / name).read_bytes() == PNG


def test_media_that_cannot_be_fetched_still_reaches_the_bot_marked_as_failed(stack):
    me = number()
    dead = f"http://127.0.0.1:{free_port()}/2010-04-01/Accounts/{ACCOUNT}/Messages/MM1/Media/ME1"
    form = inbound(me, "", NumMedia="1", MediaUrl0=dead, MediaContentType0="image/jpeg")
    assert post(stack, form).status_code == 200
    wait_replies(stack, me, ".")
    [attachment] = user_events(stack, me)[-1]["metadata"]["attachments"]
    assert attachment["type"] == "image" and "file" not in attachment and attachment["error"]


def test_shared_location_becomes_a_location_attachment(stack):
    me = number()
    form = inbound(me, "", Latitude="12.9716", Longitude="77.5946", Address="MG Road, Bengaluru",
                   Label="Home")
    assert post(stack, form).status_code == 200
    deadline = time.monotonic() + 30
    while not user_events(stack, me) and time.monotonic() < deadline:
        time.sleep(0.3)
    user = user_events(stack, me)[-1]
    assert user["metadata"]["attachments"] == [{"type": "location", "latitude": 12.9716, "longitude": 77.5946,
                                                "address": "MG Road, Bengaluru", "name": "Home"}]


# -- failures on Twilio's side ---------------------------------------------------------------

def test_twilio_errors_are_logged_masked_and_the_channel_keeps_working(stack):
    me = number()
    recorder = stack["recorder"]
    recorder.reply_with(500, {"code": 20500, "message": f"internal error for {me}"})
    try:
        assert post(stack, inbound(me, "hello")).status_code == 200
        wait_replies(stack, me, ".")
        time.sleep(1)
    finally:
        recorder.reply_normally()
    log = Path(stack["rasa_log"]).read_text()
    assert "HTTP 500" in log
    assert me not in log and me[1:] not in log
    assert post(stack, inbound(me, "thank you")).status_code == 200
    before = len(sent_to(stack, me))
    deadline = time.monotonic() + 30
    while len(sent_to(stack, me)) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(sent_to(stack, me)) > before


# -- settings that the stack does not use: a real Sanic server with the connector alone -------

class _Server:
    """Connectors with other settings, each under its own prefix of one Sanic app on a loopback
    port, in a thread (Sanic 21.12 cannot start a second app in one process)."""

    def __init__(self, envs: dict[str, dict]) -> None:
        from sanic import Sanic

        from bot.channels.twilio_whatsapp import TwilioWhatsAppInput
        from bot.config import load_settings

        self.turns: dict[str, list] = {}
        self.port = free_port()
        self.app = Sanic(f"twilio_test_{secrets.token_hex(4)}")
        self.urls = {}
        for name, env in envs.items():
            turns = self.turns.setdefault(name, [])

            async def on_new_message(message: Any, turns: list = turns) -> None:
                turns.append(message)

            bp = TwilioWhatsAppInput(load_settings(env)).blueprint(on_new_message)
            self.app.blueprint(bp.copy(f"twilio_{name}"), url_prefix=f"/{name}/webhooks/twilio_whatsapp")
            self.urls[name] = f"http://127.0.0.1:{self.port}/{name}/webhooks/twilio_whatsapp/webhook"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(20)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            self.app.create_server(host="127.0.0.1", port=self.port, return_asyncio_server=True))
        self.loop.run_until_complete(server.startup())
        self.server = server
        self.ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


PUBLIC = "https://shop.example.in/webhooks/twilio_whatsapp/webhook"


@pytest.fixture(scope="module")
def other_settings(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("twilio")
    common = {**CHANNEL_ENV, "SAATHI_RUN_DIR": str(work), "SAATHI_CHANNEL_DB": f"sqlite:///{work / 'channels.db'}"}
    server = _Server({
        "notoken": {**common, "SAATHI_TWILIO_AUTH_TOKEN": ""},
        "public": {**common, "SAATHI_TWILIO_WEBHOOK_URL": PUBLIC},
    })
    yield server
    server.close()


def test_without_an_auth_token_every_post_is_refused(other_settings):
    url = other_settings.urls["notoken"]
    form = inbound(number(), "hello")
    for signature in (None, sign(url, form, token=""), sign(url, form)):
        headers = {"X-Twilio-Signature": signature} if signature is not None else {}
        assert requests.post(url, data=form, headers=headers, timeout=10).status_code == 403
    time.sleep(0.5)
    assert other_settings.turns["notoken"] == []


def test_public_webhook_url_setting_is_what_the_signature_covers(other_settings):
    url, turns = other_settings.urls["public"], other_settings.turns["public"]
    me = number()
    form = inbound(me, "hello")
    signed_for_local = requests.post(url, data=form, timeout=10, headers={"X-Twilio-Signature": sign(url, form)})
    assert signed_for_local.status_code == 403
    for signed_url in (PUBLIC, PUBLIC.replace(".in/", ".in:443/")):  # Twilio may sign either form
        form = inbound(me, "hello")
        r = requests.post(url, data=form, timeout=10, headers={"X-Twilio-Signature": sign(signed_url, form)})
        assert r.status_code == 200 and r.text == EMPTY_TWIML
    deadline = time.monotonic() + 10
    while len(turns) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [m.sender_id for m in turns] == [me, me]
    assert turns[0].input_channel == "twilio_whatsapp"

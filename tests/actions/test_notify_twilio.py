"""Delay notices to Twilio WhatsApp shoppers, on the real stack (tests/stack.py).

Outside the 24-hour window `actions.notify` sends the approved Content Template configured for the
shopper's language form (SAATHI_TWILIO_DELAY_CONTENT_SIDS) to Twilio's Messages API, which the
stack's RecordingServer stands in for; inside the window the notice still goes through Rasa's
connector. Every shopper here is a fresh delayed order linked to a Twilio WhatsApp number, with a
last message in Rasa's tracker of the age the test needs; each test retires its orders afterwards.

Needs SAATHI_TEST_MODEL (a trained model); runs in .venv.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import insert, update

from actions.clients.rasa_api import conversation_url
from actions.config import load_settings
from actions.customers import customer_store
from actions.notify import Notifier
from actions.orders import make_provider
from actions.orders.models import OrderRow, create_engine_for
from tests.stack import CHANNEL_ENV, bot_events, free_port, model_path, running_stack

ROOT = Path(__file__).resolve().parents[2]
SIDS = {"en": "HX" + "e" * 32, "hi": "HX" + "1" * 32, "bn": "HX" + "b" * 32}
CONTENT_SIDS = ",".join(f"{form}={sid}" for form, sid in SIDS.items())
DEVANAGARI = re.compile(r"[\u0900-\u097f]")
BENGALI = re.compile(r"[\u0980-\u09ff]")
DAY = 86400


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    model = model_path()
    if not model:
        pytest.fail("SAATHI_TEST_MODEL must name a trained model (make test trains one)")
    with running_stack(tmp_path_factory.mktemp("notify-twilio"), model,
                       env_extra={"SAATHI_TWILIO_DELAY_CONTENT_SIDS": CONTENT_SIDS}) as running:
        yield running


def _window(env: dict, start_h: float, end_h: float) -> str:
    now = dt.datetime.now(ZoneInfo(env.get("SAATHI_TIMEZONE") or "Asia/Kolkata"))
    return "-".join((now + dt.timedelta(hours=h)).strftime("%H:%M") for h in (start_h, end_h))


def awake_env(stack: dict, **extra: str) -> dict:
    """The stack's settings with quiet hours well away from now."""
    return dict(stack["env"], SAATHI_QUIET_HOURS=_window(stack["env"], 2, 3), **extra)


def run_notify(stack: dict, **extra: str) -> list[str]:
    """One `notify delayed` run in this process, on the stack's databases; its report lines."""
    return Notifier(load_settings(awake_env(stack, **extra))).run().lines()


class Shoppers:
    """Fresh delayed orders, each linked to a Twilio WhatsApp number with a last message of a given age."""

    def __init__(self, stack: dict) -> None:
        self.stack = stack
        self.settings = load_settings(stack["env"])
        self.engine = create_engine_for(stack["orders_db"])
        self.order_ids: list[str] = []

    def add(self, name: str, language: str, last_message_age_s: float) -> dict[str, Any]:
        oid = f"TW-{secrets.randbelow(10**6):06d}"
        phone = "+9170" + "".join(str(secrets.randbelow(10)) for _ in range(8))
        due = dt.date.today() + dt.timedelta(days=6)
        with self.engine.begin() as c:
            c.execute(insert(OrderRow), [dict(
                order_id=oid, customer_name=name, phone=phone, email=None, status="delayed", items="1 x Kurta",
                total=899, currency="INR", placed_at=dt.datetime.utcnow() - dt.timedelta(days=7),
                expected_delivery=due, courier="Delhivery", shipping_address="1 Test Road")])
        self.order_ids.append(oid)
        order = make_provider(self.settings).get(oid)
        assert order is not None
        assert customer_store(self.settings).link("twilio_whatsapp", phone, order, "channel", language)
        r = requests.post(conversation_url(self.stack["rasa"], phone, "tracker/events"), timeout=30,
                          params={"token": self.stack["token"]},
                          json=[{"event": "user", "text": "hello", "input_channel": "twilio_whatsapp",
                                 "timestamp": time.time() - last_message_age_s,
                                 "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": [],
                                                "text": "hello"}}])
        assert r.status_code == 200, r.text
        return {"order_id": oid, "phone": phone, "first": name.split()[0], "due": due, "language": language}

    def retire(self) -> None:
        with self.engine.begin() as c:
            c.execute(update(OrderRow).where(OrderRow.order_id.in_(self.order_ids)).values(status="delivered"))
        self.engine.dispose()


@pytest.fixture
def shoppers(stack: dict) -> Iterator[Shoppers]:
    made = Shoppers(stack)
    stack["recorder"].reply_normally()
    stack["recorder"].clear()
    try:
        yield made
    finally:
        stack["recorder"].reply_normally()
        made.retire()


def twilio_calls(stack: dict, phone: str) -> list[dict]:
    """Messages API calls addressed to this shopper, as form fields (one value each)."""
    time.sleep(0.3)  # the recorder appends a call just after answering it
    calls = []
    for call in stack["recorder"].calls:
        if call["path"].endswith("/Messages.json") and call["method"] == "POST":
            fields = {k: v[0] for k, v in parse_qs(call["body"]).items()}
            if fields.get("To") == f"whatsapp:{phone}":
                calls.append(dict(call, fields=fields))
    return calls


def notices(stack: dict, phone: str) -> list[dict]:
    return [e for e in bot_events(stack, phone) if "saathi_notice" in (e.get("metadata") or {})]


def test_outside_the_window_one_content_template_per_shopper_in_their_language(stack, shoppers):
    en = shoppers.add("Rahul Verma", "en", 2 * DAY)
    hi = shoppers.add("Sunita Devi", "hi", 3 * DAY)
    bn = shoppers.add("Rupa Sen", "bn", 2 * DAY)
    hi_latn = shoppers.add("Manoj Tiwari", "hi-Latn", 5 * DAY)  # no SID of its own: Hindi's
    stopped = shoppers.add("Geeta Bose", "en", 2 * DAY)
    customer_store(shoppers.settings).set_opt_out("twilio_whatsapp", stopped["phone"], True)

    # Quiet hours first: nothing goes out.
    quiet = Notifier(load_settings(dict(stack["env"], SAATHI_QUIET_HOURS=_window(stack["env"], -1, 1)))).run()
    assert f"{en['order_id']}: quiet hours" in "\n".join(quiet.lines())
    assert all(twilio_calls(stack, s["phone"]) == [] for s in (en, hi, bn, hi_latn, stopped))

    lines = run_notify(stack)
    for s in (en, hi, bn, hi_latn):
        assert f"sent     {s['order_id']}: twilio_whatsapp (twilio_template, {s['language']})" in lines, lines
    assert f"skipped  {stopped['order_id']}: the shopper wrote STOP" in lines
    assert twilio_calls(stack, stopped["phone"]) == []

    token = base64.b64encode(f"{CHANNEL_ENV['SAATHI_TWILIO_ACCOUNT_SID']}:"
                             f"{CHANNEL_ENV['SAATHI_TWILIO_AUTH_TOKEN']}".encode()).decode()
    for s, sid in ((en, SIDS["en"]), (hi, SIDS["hi"]), (bn, SIDS["bn"]), (hi_latn, SIDS["hi"])):
        [call] = twilio_calls(stack, s["phone"])
        assert call["path"] == f"/2010-04-01/Accounts/{CHANNEL_ENV['SAATHI_TWILIO_ACCOUNT_SID']}/Messages.json"
        assert call["headers"]["authorization"] == f"Basic {token}"
        assert call["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
        fields = call["fields"]
        assert fields["From"] == CHANNEL_ENV["SAATHI_TWILIO_NUMBER"] and fields["ContentSid"] == sid
        assert "Body" not in fields and "MediaUrl" not in fields  # Twilio refuses them with a template
        variables = json.loads(fields["ContentVariables"])
        assert set(variables) == {"1", "2", "3"}
        assert variables["1"] == s["first"] and variables["2"] == s["order_id"]
        date = variables["3"]
        assert date.startswith(f"{s['due'].day} ") and date.endswith(f" {s['due'].year}"), date
        assert re.fullmatch(r"[0-9]+ \S+ [0-9]{4}", date) and not re.search(r"[\u0966-\u096f\u09e6-\u09ef]", date)
        assert bool(DEVANAGARI.search(date)) == (s["language"] == "hi")  # hi-Latn's month is Roman/English
        assert bool(BENGALI.search(date)) == (s["language"] == "bn")

        # Recorded once in the shopper's tracker, in their language, like the WhatsApp template.
        [notice] = notices(stack, s["phone"])
        meta = notice["metadata"]["saathi_notice"]
        assert meta["how"] == "twilio_template" and meta["order_id"] == s["order_id"] and meta["content_sid"] == sid
        assert s["order_id"] in notice["text"]
    assert DEVANAGARI.search(notices(stack, hi["phone"])[0]["text"])
    assert BENGALI.search(notices(stack, bn["phone"])[0]["text"])
    assert "Namaste" in notices(stack, hi_latn["phone"])[0]["text"]

    # Sent once: the next run sends nothing more.
    stack["recorder"].clear()
    again = run_notify(stack)
    assert all(f"{s['order_id']}: already told" in "\n".join(again) for s in (en, hi, bn, hi_latn))
    assert all(twilio_calls(stack, s["phone"]) == [] for s in (en, hi, bn, hi_latn))
    assert all(len(notices(stack, s["phone"])) == 1 for s in (en, hi, bn, hi_latn))


def test_inside_the_window_the_notice_still_goes_through_rasa(stack, shoppers):
    s = shoppers.add("Anil Kapoor", "en", 3600)
    lines = run_notify(stack)
    assert f"sent     {s['order_id']}: twilio_whatsapp (rasa_push, en)" in lines, lines
    stack["recorder"].wait_for(lambda c: f"whatsapp%3A%2B{s['phone'][1:]}" in c["body"])
    [call] = twilio_calls(stack, s["phone"])
    assert "ContentSid" not in call["fields"] and s["order_id"] in call["fields"]["Body"]
    [notice] = notices(stack, s["phone"])
    assert notice["metadata"]["saathi_notice"]["how"] == "rasa_push"


def test_no_content_sid_for_the_language_skips_with_the_reason_until_configured(stack, shoppers):
    s = shoppers.add("Tania Roy", "bn-Latn", 2 * DAY)
    lines = run_notify(stack, SAATHI_TWILIO_DELAY_CONTENT_SIDS=f"en={SIDS['en']},hi={SIDS['hi']}")
    assert (f"skipped  {s['order_id']}: Twilio WhatsApp outside the 24-hour window needs a content template; "
            "none for bn-Latn in SAATHI_TWILIO_DELAY_CONTENT_SIDS") in lines, lines
    lines = run_notify(stack, SAATHI_TWILIO_DELAY_CONTENT_SIDS="bn=HX-not-a-sid")
    assert any(f"{s['order_id']}: SAATHI_TWILIO_DELAY_CONTENT_SIDS: the value for bn-Latn is not a Content SID" in line
               for line in lines), lines
    lines = run_notify(stack, SAATHI_TWILIO_AUTH_TOKEN="")
    assert (f"skipped  {s['order_id']}: Twilio is not configured "
            "(SAATHI_TWILIO_ACCOUNT_SID / AUTH_TOKEN / NUMBER)") in lines, lines
    assert twilio_calls(stack, s["phone"]) == [] and notices(stack, s["phone"]) == []

    # Nothing was marked sent: once the shop configures Bengali, the same notice goes out (bn-Latn → bn).
    lines = run_notify(stack)
    assert f"sent     {s['order_id']}: twilio_whatsapp (twilio_template, bn-Latn)" in lines, lines
    [call] = twilio_calls(stack, s["phone"])
    assert call["fields"]["ContentSid"] == SIDS["bn"]


def test_twilio_errors_are_reported_not_marked_sent_and_retried(stack, shoppers):
    s = shoppers.add("Farhan Ali", "hi", 2 * DAY)
    recorder = stack["recorder"]
    # 4xx: Twilio refuses (its error text quotes the number; the report must not).
    recorder.reply_with(400, {"code": 63016, "status": 400, "message": f"Failed to send to whatsapp:{s['phone']}: "
                              "outside the allowed window", "more_info": "https://www.twilio.com/docs/errors/63016"})
    cli = subprocess.run([sys.executable, "-m", "actions.notify", "delayed"], cwd=ROOT, env=awake_env(stack),
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    [failed] = [line for line in cli.stdout.splitlines() if s["order_id"] in line]
    assert failed.startswith(f"FAILED   {s['order_id']}: twilio_whatsapp send failed") and "will retry" in failed
    assert "Twilio rejected: HTTP 400, Twilio error 63016" in failed
    assert s["phone"] not in cli.stdout + cli.stderr and s["phone"][3:] not in cli.stdout + cli.stderr
    assert len(twilio_calls(stack, s["phone"])) == 1 and notices(stack, s["phone"]) == []

    # 5xx, then no Twilio at all: reported as unreachable, still not sent.
    recorder.reply_with(503, {"message": "Service Unavailable"})
    lines = run_notify(stack)
    assert any(line.startswith(f"FAILED   {s['order_id']}") and "Twilio unreachable: HTTP 503" in line
               for line in lines), lines
    closed = f"http://127.0.0.1:{free_port()}"
    lines = run_notify(stack, SAATHI_TWILIO_API_URL=closed, SAATHI_HTTP_TIMEOUT="2")
    assert any(line.startswith(f"FAILED   {s['order_id']}") and "Twilio unreachable: ConnectionError" in line
               for line in lines), lines
    assert len(twilio_calls(stack, s["phone"])) == 2 and notices(stack, s["phone"]) == []

    # Twilio is back: the next run sends it, once, and records it.
    recorder.reply_normally()
    recorder.clear()
    lines = run_notify(stack)
    assert f"sent     {s['order_id']}: twilio_whatsapp (twilio_template, hi)" in lines, lines
    [call] = twilio_calls(stack, s["phone"])
    assert call["fields"]["ContentSid"] == SIDS["hi"]
    assert len(notices(stack, s["phone"])) == 1
    assert f"{s['order_id']}: already told" in "\n".join(run_notify(stack))

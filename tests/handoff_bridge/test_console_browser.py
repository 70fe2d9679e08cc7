"""The agent console in a real browser (Debian's Chromium through Playwright) on the real stack.

A shopper on the REST webhook asks for a person in Hindi. In the browser the agent logs in, sees
the conversation arrive in the live queue without reloading (with a notification and a beep,
recorded by a stand-in for the browser's Notification and AudioContext), claims it, reads the transcript with
channel, language and reason, replies, sees the shopper's new messages (one is `<script>`, one a
photo) appear live, and closes with a note. The shopper's side is checked in Rasa's tracker: the
agent's reply lands as a bot event, the bot stays silent meanwhile, and after closing the rating
question arrives and the bot answers again. Screenshots go to tests/artifacts/console-*.png.
"""
from __future__ import annotations

import io
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable

import requests
from PIL import Image, ImageDraw

from tests.handoff_bridge.conftest import wait_for
from tests.stack import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
XSS = "<script>alert(1)</script>"
ASK_PERSON = "मुझे किसी इंसान से बात करनी है, मेरा पार्सल टूटा हुआ आया"
WAITING = "ठीक है, मैं इंतज़ार कर रही हूँ"
REPLY = "नमस्ते, मैं आशा हूँ। मैं आपका ऑर्डर देख रही हूँ।"
DEVANAGARI = re.compile(r"[\u0900-\u097f]")


RECORD_ALERTS = """
window.__alerts = {notifications: [], beeps: 0};
window.Notification = function (title, options) {
  window.__alerts.notifications.push([title, (options || {}).body]);
};
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
(function () {
  var Real = window.AudioContext;
  window.AudioContext = function () { window.__alerts.beeps += 1; return new Real(); };
})();
"""


def eventually(check: Callable[[], Any], what: str = "condition") -> Any:
    """conftest.wait_for with the patience a real stack and a browser need."""
    return wait_for(check, timeout=20.0, what=what, interval=0.2)


class RestShopper:
    """One shopper on the REST webhook; reads their tracker through Rasa's HTTP API."""

    def __init__(self, stack: dict) -> None:
        self.stack = stack
        self.sender = "web-" + secrets.token_hex(5)

    def say(self, text: str) -> list[dict]:
        r = requests.post(f"{self.stack['rasa']}/webhooks/rest/webhook",
                          json={"sender": self.sender, "message": text}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def tracker(self) -> dict:
        r = requests.get(f"{self.stack['rasa']}/conversations/{self.sender}/tracker",
                         params={"token": self.stack["token"]}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def bot_texts(self) -> list[str]:
        return [e.get("text") or "" for e in self.tracker()["events"] if e.get("event") == "bot"]

    def send_photo(self, file_name: str, caption: str) -> None:
        """What a channel connector logs for a photo: a user event with the attachment metadata."""
        event = {"event": "user", "text": caption, "timestamp": time.time(), "input_channel": "rest",
                 "parse_data": {"text": caption, "intent": {"name": "inform", "confidence": 1.0}, "entities": []},
                 "metadata": {"attachments": [{"type": "image", "file": file_name, "mime": "image/jpeg",
                                               "caption": caption}]}}
        r = requests.post(f"{self.stack['rasa']}/conversations/{self.sender}/tracker/events",
                          params={"token": self.stack["token"]}, json=[event], timeout=30)
        assert r.status_code == 200, r.text


def record_return(stack: dict, sender: str, order_id: str) -> str:
    """What the action server records when a verified shopper asks for a return (its provider and
    verification store on the stack's order database); returns the return's reference."""
    import datetime as dt

    from actions.orders.models import create_engine_for, init_db
    from actions.orders.sql import SqlOrderProvider
    from actions.orders.verification import VerificationStore

    engine = create_engine_for(stack["orders_db"])
    try:
        init_db(engine)
        VerificationStore(engine).record_verified(sender, order_id, "phone")
        outcome = SqlOrderProvider(engine, return_window_days=10).create_return(
            order_id, reason="parcel arrived broken", today=dt.date.today())
    finally:
        engine.dispose()
    assert outcome.outcome == "created", outcome
    return outcome.reference


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_agent_console_in_the_browser(stack: dict, browser: Any) -> None:
    base = stack["bridge"]
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-IN")
    # Headless Chromium shows no notifications and plays no sound: record what the console asks for.
    context.add_init_script(RECORD_ALERTS)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # Log in.
        page.goto(f"{base}/console/")
        assert page.url.startswith(f"{base}/console/login")
        page.fill("input[name=email]", stack["agent_email"])
        page.fill("input[name=password]", stack["agent_password"])
        shot(page, "console-login.png")
        page.click("button:has-text('Log in')")
        page.wait_for_url(f"{base}/console/")
        assert page.locator("header .me").inner_text().startswith("Asha Rao")
        page.wait_for_selector("#waiting td:has-text('Nobody is waiting.')")
        page.evaluate("window.__notReloaded = true")
        time.sleep(0.5)  # the live stream (EventSource) is open

        # A shopper asks for a person in Hindi; the queue shows it without a reload.
        shopper = RestShopper(stack)
        queued = " ".join(m.get("text", "") for m in shopper.say(ASK_PERSON))
        assert DEVANAGARI.search(queued) and "1" in queued, queued
        assert shopper.tracker()["paused"] is True
        row = page.locator("#waiting tr", has_text="shopper_request")
        row.wait_for(timeout=10_000)
        cells = row.locator("td").all_inner_texts()
        assert cells[1:6] == ["1", "–", "hi", "rest", "shopper_request"], cells
        assert page.evaluate("window.__notReloaded === true"), "the queue page was reloaded"
        alerts = page.evaluate("window.__alerts")
        assert alerts["notifications"] == [["New conversation waiting", "hi · shopper_request"]], alerts
        assert alerts["beeps"] >= 1, alerts
        shot(page, "console-queue.png")
        handoff_id = int(cells[0])

        # Claim: the conversation page with the transcript from Rasa and its details.
        row.locator("button:has-text('Claim')").click()
        page.wait_for_url(f"{base}/console/handoffs/{handoff_id}")
        transcript = page.locator("#transcript")
        assert ASK_PERSON in transcript.inner_text()
        assert DEVANAGARI.search(page.locator("#transcript li.bot").first.inner_text())
        details = dict(zip(page.locator("aside dt").all_inner_texts(), page.locator("aside dd").all_inner_texts()))
        assert details["Channel"] == "rest" and details["Language"] == "hi"
        assert details["Reason"] == "shopper_request"
        joined = eventually(lambda: [t for t in shopper.bot_texts() if "Asha" in t], what="agent joined message")
        assert DEVANAGARI.search(joined[0])
        page.evaluate("window.__notReloaded = true")

        # Reply (a Hindi canned response exists; the agent writes their own).
        assert page.locator(".canned-btn").count() >= 3
        page.fill("#reply-text", REPLY)
        page.click("#reply-form button[type=submit]")
        sent = page.locator("#sent li", has_text=REPLY)
        sent.wait_for(timeout=10_000)
        sent.locator(".state-delivered").wait_for(timeout=15_000)  # the delivery state updates live
        assert page.input_value("#reply-text") == ""
        eventually(lambda: REPLY in shopper.bot_texts(), what="agent reply in the shopper's tracker")

        # The shopper writes while the page is open: the message appears live, no bot answer.
        assert shopper.say(WAITING) == []
        page.locator("#transcript li.shopper", has_text=WAITING).wait_for(timeout=10_000)
        assert shopper.say(XSS) == []
        page.locator("#transcript li.shopper", has_text=XSS).wait_for(timeout=10_000)
        media_dir = Path(stack["work"]) / "media"
        media_dir.mkdir(exist_ok=True)
        img = Image.new("RGB", (160, 120), "#f4d03f")
        ImageDraw.Draw(img).rectangle((20, 20, 140, 100), outline="#8b4513", width=6)
        buf = io.BytesIO()
        img.save(buf, "JPEG")
        (media_dir / "wa_browser_test.jpg").write_bytes(buf.getvalue())
        shopper.send_photo("wa_browser_test.jpg", "टूटा हुआ डिब्बा")
        photo = page.locator("#transcript li.shopper img[src='/console/media/wa_browser_test.jpg']")
        photo.wait_for(timeout=10_000)
        eventually(lambda: page.evaluate(
            "document.querySelector(\"#transcript img[src='/console/media/wa_browser_test.jpg']\").naturalWidth") == 160,
            what="the photo loaded through the console's media route")
        assert page.evaluate("window.__notReloaded === true"), "the conversation page was reloaded"
        assert dialogs == [], f"a dialog fired: {dialogs}"
        assert page.evaluate("document.querySelectorAll('#transcript script').length") == 0
        shot(page, "console-conversation.png")
        bot_after = shopper.bot_texts()
        assert bot_after[-1] == REPLY, "the bot answered while the shopper was with an agent"

        # After a reload the server-rendered transcript (from Rasa) shows the same, escaped.
        page.reload()
        assert XSS in page.locator("#transcript").inner_text()
        assert page.locator("#transcript img[src='/console/media/wa_browser_test.jpg']").count() == 1
        assert dialogs == []

        # Close with a note: the bot resumes and asks for a rating.
        page.fill("textarea[name=note]", "Parcel damaged; replacement offered.")
        page.click("button:has-text('Close and ask for a rating')")
        page.wait_for_url(f"{base}/console/")
        assert "Closed" in page.locator(".flash").inner_text()
        shot(page, "console-closed.png")
        rating_q = eventually(lambda: [t for t in shopper.bot_texts() if "5" in t and DEVANAGARI.search(t)
                                       and t not in bot_after], what="rating question")
        assert rating_q
        eventually(lambda: shopper.tracker()["paused"] is False, what="bot resumed")
        thanks = " ".join(m.get("text", "") for m in shopper.say("4"))
        assert "धन्यवाद" in thanks, thanks
        greeting = " ".join(m.get("text", "") for m in shopper.say("नमस्ते"))
        assert DEVANAGARI.search(greeting), "the bot answers again after the agent closed"

        # Staff see the photos of a return's conversation on the requests page.
        reference = record_return(stack, shopper.sender, "KM-10238")
        page.goto(f"{base}/console/requests")
        row = page.locator("#returns tr", has_text=reference)
        assert row.locator("img[src='/console/media/wa_browser_test.jpg']").count() == 1
        eventually(lambda: page.evaluate(
            "document.querySelector(\"#returns img[src='/console/media/wa_browser_test.jpg']\").naturalWidth") == 160,
            what="the return's photo loaded")
        shot(page, "console-requests.png")

        # The metrics page draws charts without any script of its own.
        page.goto(f"{base}/console/metrics")
        assert page.locator("svg.chart").count() >= 5
        assert "★★★★ 4" in page.locator("section", has_text="Agent ratings").inner_text()
        shot(page, "console-metrics.png")
        assert errors == [], f"script errors: {errors}"
    finally:
        context.close()

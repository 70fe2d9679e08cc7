"""The website chat widget in a real browser (Debian's Chromium driven by Playwright) against the
real stack (tests/stack.py: bridge, action server, Rasa with the trained model).

A Bengali shopper on the bridge's demo shop (/shop/) opens the widget, asks a help-centre question
and gets the Bengali answer with the article's title; a reload keeps the history and the Rasa
session; a quick reply is sent; asking for a person shows the handoff banner, the agent's name and
the agent's messages (as text, never HTML); closing shows the ended banner and the rating
question; at 375px the panel fills the screen; the script also works embedded on another origin.
Screenshots go to tests/artifacts/.
"""
from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.stack import ROOT, Agent, bot_events, user_events

ARTIFACTS = ROOT / "tests" / "artifacts"
# "ফেরত দেওয়ার নিয়ম কী?" ranks the size-exchange article first (ফেরত: return or refund); this
# wording is unambiguous for the demo help centre.
QUESTION = "রিটার্ন করার নিয়ম কী?"
ASK_PERSON = "আমি একজন মানুষের সাথে কথা বলতে চাই"
BENGALI = re.compile(r"[\u0980-\u09ff]")
TIMEOUT_MS = 60_000


def bengali_titles() -> dict[str, str]:
    """Titles of the demo help centre's Bengali articles, by article id (from the front matter)."""
    titles = {}
    for path in (ROOT / "kb_index" / "demo" / "articles" / "bn").glob("*.md"):
        head = path.read_text(encoding="utf-8").split("---")[1]
        fields = dict(re.findall(r"^(id|title):\s*(.+)$", head, re.M))
        titles[fields["id"]] = fields["title"].strip()
    return titles


def user_texts(stack: dict, sender: str) -> list[str]:
    return [e.get("text") for e in user_events(stack, sender)]


def watch_page(page: object) -> list[str]:
    """Collect page errors and CSP violations; the test fails on any."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" or "Content Security Policy" in msg.text else None)
    return problems


def session_of(page: object) -> str:
    return page.evaluate("() => window.SaathiWidget.sessionId()")


def handoff_id_of(stack: dict, session_id: str) -> int:
    engine = sa.create_engine(stack["bridge_db"])
    try:
        with engine.connect() as c:
            return c.execute(sa.text("SELECT id FROM handoffs WHERE conversation_id = :c ORDER BY id DESC"),
                             {"c": session_id}).scalar()
    finally:
        engine.dispose()


def test_widget_bengali_shopper_history_quick_reply_handoff_and_phone(stack: dict, browser: object) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    agent = Agent(stack)  # logged in, so online: the request is queued, not ticketed
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = watch_page(page)

    page.goto(f"{stack['bridge']}/shop/")
    csp = page.evaluate("() => fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    assert re.search(r"connect-src 'self' http://127\.0\.0\.1:\d+ ws://127\.0\.0\.1:\d+", csp), csp
    launcher = page.locator(".saathi-launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    expect(page.locator("#saathi-panel")).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#saathi-input")).to_be_focused()  # keyboard users type at once

    # Record whether the typing indicator shows while the bot works on the answer.
    page.evaluate("""() => { window.__typingSeen = false;
        const t = document.querySelector('.saathi-typing');
        new MutationObserver(() => { if (!t.hidden) window.__typingSeen = true; })
            .observe(t, {attributes: true}); }""")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")  # keyboard send
    expect(page.locator(".saathi-from-user .saathi-bubble").first).to_have_text(QUESTION)
    first = page.locator(".saathi-from-bot .saathi-bubble").first
    expect(first).to_contain_text("আমাদের হেল্প সেন্টার থেকে")
    title = re.search(r"থেকে — (.+?):?$", first.inner_text().strip()).group(1)
    assert title == bengali_titles()["returns-policy"], title
    expect(first).to_have_attribute("lang", "bn")
    link = page.locator(".saathi-from-bot a[href='https://example-shop.in/help/returns-policy']")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    replies = page.locator(".saathi-reply")
    expect(replies.first).to_be_visible()
    assert page.evaluate("() => window.__typingSeen"), "no typing indicator while waiting for the bot"
    expect(page.locator(".saathi-typing")).to_be_hidden()
    # The Bengali glyphs come from a real Bengali font (the bundled Noto subset on this machine).
    page.evaluate("() => document.fonts.ready")
    assert page.evaluate("""() => [...document.fonts].some(f => f.family.includes('Noto Sans Bengali')
                                                                 && f.status === 'loaded')""")
    expect(page.locator(".saathi-title")).to_have_text("আমাদের সাথে চ্যাট করুন")  # labels follow the shopper
    page.screenshot(path=str(ARTIFACTS / "widget-bengali.png"))

    session_id = session_of(page)
    assert re.fullmatch(r"[0-9a-f]{32}", session_id), session_id
    history = page.locator(".saathi-bubble").all_inner_texts()
    assert QUESTION in user_texts(stack, session_id)  # the widget's session is Rasa's sender id

    # Reload: same session, same history, the panel still open, the quick replies still offered.
    page.reload()
    expect(page.locator("#saathi-panel")).to_be_visible()
    expect(page.locator(".saathi-bubble")).to_have_count(len(history))
    assert page.locator(".saathi-bubble").all_inner_texts() == history
    assert session_of(page) == session_id
    reply = page.locator(".saathi-reply").first
    reply_title = reply.inner_text()
    assert BENGALI.search(reply_title), reply_title
    reply.click()
    expect(page.locator(".saathi-from-user .saathi-bubble").last).to_have_text(reply_title)
    expect(page.locator(".saathi-reply")).to_have_count(0)
    expect(page.locator(".saathi-from-bot .saathi-bubble").last).to_contain_text("ধন্যবাদ")
    assert "/kb_helpful" in user_texts(stack, session_id)  # the payload went to the same conversation

    # A person: the banner says we are connecting, then names the agent who claimed.
    page.locator("#saathi-input").fill(ASK_PERSON)
    page.locator(".saathi-send").click()
    banner = page.locator(".saathi-banner")
    expect(banner).to_have_attribute("data-state", "queued")
    expect(banner).to_have_text("আপনাকে একজন মানুষের সাথে যুক্ত করা হচ্ছে…")
    handoff_id = handoff_id_of(stack, session_id)
    assert handoff_id, "no handoff for the widget's session"
    r = agent.post(f"/console/handoffs/{handoff_id}/claim")
    assert r.status_code in (200, 302, 303), r.text
    expect(banner).to_have_attribute("data-state", "with_agent")
    expect(banner).to_have_text("Asha এখানে আছেন")
    expect(page.locator(".saathi-from-bridge .saathi-bubble").last).to_contain_text("Asha")

    agent_text = "নমস্কার, আমি আশা। <b>আপনার</b> অর্ডার নম্বরটা বলবেন?"
    r = agent.post(f"/console/handoffs/{handoff_id}/messages", text=agent_text)
    assert r.status_code in (200, 302, 303), r.text
    from_agent = page.locator(".saathi-from-agent").last
    expect(from_agent.locator(".saathi-bubble")).to_have_text(agent_text)  # as text, not HTML
    expect(from_agent.locator(".saathi-who")).to_have_text("Asha, সাপোর্ট টিম")
    shopper_html = "<img src=x onerror=\"document.title='hacked'\"> ঠিক আছে"
    page.locator("#saathi-input").fill(shopper_html)
    page.keyboard.press("Enter")
    expect(page.locator(".saathi-from-user .saathi-bubble").last).to_have_text(shopper_html)
    expect(page.locator(".saathi-typing")).to_be_visible()  # waiting for the agent
    assert page.locator(".saathi-log img, .saathi-log b").count() == 0
    assert page.title() != "hacked"
    page.screenshot(path=str(ARTIFACTS / "widget-handoff.png"))

    # Phone width: same conversation (same storage), the open panel is the whole screen.
    phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True,
                                storage_state=context.storage_state())
    mobile = phone.new_page()
    problems += watch_page(mobile)
    mobile.goto(f"{stack['bridge']}/shop/")
    mobile.locator(".saathi-launcher").click()
    panel = mobile.locator("#saathi-panel")
    expect(panel).to_be_visible()
    expect(mobile.locator(".saathi-banner")).to_have_text("Asha এখানে আছেন")
    assert session_of(mobile) == session_id
    box = panel.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 375, "height": 740}, box
    assert mobile.evaluate("() => document.querySelector('.saathi-log').scrollWidth <= 375")
    expect(mobile.locator(".saathi-launcher")).to_be_hidden()  # the panel's own close button remains
    expect(mobile.get_by_role("button", name="চ্যাট বন্ধ করুন")).to_be_visible()
    mobile.screenshot(path=str(ARTIFACTS / "widget-phone.png"))

    # Closing reaches every open tab of the session: ended banner and the rating question.
    r = agent.post(f"/console/handoffs/{handoff_id}/close", note="widget browser test")
    assert r.status_code in (200, 302, 303), r.text
    for p in (page, mobile):
        expect(p.locator(".saathi-banner")).to_have_attribute("data-state", "closed")
        expect(p.locator(".saathi-banner")).to_have_text("Asha-এর সাথে আপনার চ্যাট শেষ হয়েছে")
        expect(p.locator(".saathi-from-bridge .saathi-bubble").last).to_contain_text("1–5")
    mobile.keyboard.press("Escape")
    expect(mobile.locator("#saathi-panel")).to_be_hidden()
    expect(mobile.locator(".saathi-launcher")).to_be_focused()
    phone.close()
    context.close()
    assert not problems, problems


def test_widget_shows_agent_messages_sent_while_its_socket_was_down(stack: dict, browser: object) -> None:
    """An agent's message pushed while the shopper's socket is down (a reconnect, a closed tab) never
    reaches the page live; the widget asks the bridge for it when the socket or the page comes back,
    and shows it once."""
    expect.set_options(timeout=TIMEOUT_MS)
    agent = Agent(stack)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = watch_page(page)
    down = {"now": False}
    sockets: list = []

    def websocket(ws: object) -> None:  # every WebSocket of the page goes through here
        if down["now"]:
            ws.close()
            return
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/socket\.io/"), websocket)
    page.route(re.compile(r"/socket\.io/"), lambda route: route.abort() if down["now"] else route.continue_())
    page.goto(f"{stack['bridge']}/shop/")
    page.locator(".saathi-launcher").click()
    page.locator("#saathi-input").fill(ASK_PERSON)
    page.keyboard.press("Enter")
    banner = page.locator(".saathi-banner")
    expect(banner).to_have_attribute("data-state", "queued")
    session_id = session_of(page)
    handoff_id = handoff_id_of(stack, session_id)
    assert agent.post(f"/console/handoffs/{handoff_id}/claim").status_code in (200, 302, 303)
    expect(banner).to_have_attribute("data-state", "with_agent")
    agent_bubbles = page.locator(".saathi-from-agent .saathi-bubble")

    # The connection drops and stays down while the agent writes.
    down["now"] = True
    for ws in sockets:
        ws.close()
    expect(page.locator(".saathi-notice")).to_be_visible()  # "reconnecting"
    during = "আপনার অর্ডারটা আজ পাঠানো হয়েছে।"
    assert agent.post(f"/console/handoffs/{handoff_id}/messages", text=during).status_code in (200, 302, 303)
    wait_for_text_in_tracker(stack, session_id, during)
    page.wait_for_timeout(1500)
    expect(agent_bubbles).to_have_count(0)  # not delivered live: the socket was down
    down["now"] = False
    expect(agent_bubbles).to_have_text([during])
    expect(page.locator(".saathi-from-agent .saathi-who")).to_have_text(["Asha, সাপোর্ট টিম"])
    expect(page.locator(".saathi-notice")).to_be_hidden()

    # The tab is closed; the agent writes; the shopper comes back to the shop.
    page.close()
    later = "ট্র্যাকিং নম্বর: TRK123456"
    assert agent.post(f"/console/handoffs/{handoff_id}/messages", text=later).status_code in (200, 302, 303)
    wait_for_text_in_tracker(stack, session_id, later)
    again = context.new_page()
    problems += watch_page(again)
    again.goto(f"{stack['bridge']}/shop/")
    again.locator(".saathi-launcher").click()
    expect(again.locator(".saathi-from-agent .saathi-bubble")).to_have_text([during, later])
    again.wait_for_timeout(2000)  # and nothing twice, once the socket is back as well
    expect(again.locator(".saathi-from-agent .saathi-bubble")).to_have_text([during, later])
    assert agent.post(f"/console/handoffs/{handoff_id}/close", note="catch-up test").status_code in (200, 302, 303)
    context.close()
    # Aside from the blocked connection's own failures, nothing went wrong on the pages.
    blocked = ("socket.io", "ERR_FAILED", "WebSocket")
    assert not [p for p in problems if not any(b in p for b in blocked)], problems


def wait_for_text_in_tracker(stack: dict, sender: str, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(e.get("text") == text for e in bot_events(stack, sender)):
        assert time.monotonic() < deadline, f"{text!r} never reached the tracker"
        time.sleep(0.2)


class ShopSite:
    """Another shop's site on its own origin (loopback, another port): a page with the one tag."""

    def __init__(self, html: str, port: int = 0) -> None:
        body = html.encode("utf-8")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body) if self.path == "/" else 0))
                self.end_headers()
                if self.path == "/":
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def other_shop_page(stack: dict) -> str:
    return ('<!doctype html><html lang="hi"><head><meta charset="utf-8"><title>Other shop</title>'
            '<link rel="icon" href="data:,">'
            f'<script src="{stack["bridge"]}/widget/saathi.js" data-rasa-url="{stack["rasa"]}" defer>'
            '</script></head><body><h1>Another shop</h1></body></html>')


def test_widget_embedded_on_another_origin(stack: dict, browser: object) -> None:
    """A shop's own site: one script tag pointing at the bridge; its origin is in the stack's
    SAATHI_CORS_ORIGINS (tests/stack.py), so Rasa's website socket accepts it."""
    site = ShopSite(other_shop_page(stack), port=stack["other_shop_port"])
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    problems = watch_page(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        page.goto(site.url)
        assert not stack["bridge"].startswith(site.url.rstrip("/"))
        page.get_by_role("button", name="हमसे चैट करें").click()  # labels from <html lang="hi">
        page.locator("#saathi-input").fill("मेरा ऑर्डर कहाँ है?")
        page.keyboard.press("Enter")
        answer = page.locator(".saathi-from-bot .saathi-bubble").first
        expect(answer).to_have_text(re.compile(r"[\u0900-\u097f]{3}"), timeout=TIMEOUT_MS)  # a Hindi answer
        expect(answer).to_have_attribute("lang", "hi")
        assert "मेरा ऑर्डर कहाँ है?" in user_texts(stack, session_of(page))
        # Over a WebSocket, which the widget tries first.
        assert any(u.startswith(stack["rasa"].replace("http", "ws")) and "transport=websocket" in u
                   for u in sockets), sockets
        r = requests.get(f"{stack['bridge']}/widget/saathi.js", headers={"Origin": site.url.rstrip("/")}, timeout=10)
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    finally:
        context.close()
        site.close()
    assert not problems, problems


def test_widget_on_an_origin_not_listed_cannot_reach_the_socket(stack: dict, browser: object) -> None:
    """A page on an origin that is not in SAATHI_CORS_ORIGINS: the browser's WebSocket handshake
    and long-polling request to Rasa's socket are refused (bot/channels/origins.py)."""
    site = ShopSite(other_shop_page(stack))  # another free port: not listed
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(site.url)
        assert site.url.rstrip("/") != f"http://127.0.0.1:{stack['other_shop_port']}"
        outcome = page.evaluate("""(rasa) => Promise.all([
            new Promise(done => { const ws = new WebSocket(rasa.replace('http', 'ws') +
                '/socket.io/?EIO=4&transport=websocket');
                ws.onopen = () => { ws.close(); done('open'); }; ws.onerror = () => done('refused'); }),
            fetch(rasa + '/socket.io/?EIO=4&transport=polling').then(r => 'read ' + r.status, () => 'refused'),
        ])""", stack["rasa"])
        assert outcome == ["refused", "refused"], outcome
        # The widget itself gets no socket: the shopper's message never reaches Rasa.
        page.get_by_role("button", name="हमसे चैट करें").click()
        page.locator("#saathi-input").fill("नमस्ते")
        page.keyboard.press("Enter")
        page.wait_for_timeout(3000)
        assert page.locator(".saathi-from-bot .saathi-bubble").count() == 0
        assert user_texts(stack, session_of(page)) == []
    finally:
        context.close()
        site.close()

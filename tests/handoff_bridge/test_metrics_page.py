"""The metrics page draws every figure of GET /api/metrics as inline SVG bars (no script, no CDN)."""
from __future__ import annotations

import re

from actions.kb_feedback import FeedbackStore
from tests.handoff_bridge.conftest import AUTH, add_agent, csrf_of, enqueue, login


def svg_of(page: str, title: str) -> str:
    """The <svg> of the chart section whose heading starts with `title`."""
    section = page.split(f"<h2>{title}", 1)[1].split("</section>", 1)[0]
    return section


def test_metrics_page_charts_every_figure(app, client, clock):
    add_agent(app)
    login(client)
    token = csrf_of(client)
    for sender, language in (("s1", "hi"), ("s2", "en"), ("s3", "en"), ("s4", None)):
        client.post("/api/events", json={"sender_id": sender, "event": "user", "text": "hi", "language": language},
                    headers=AUTH)
    # s1 writes again in English later: the conversation counts in both languages, once each.
    client.post("/api/events", json={"sender_id": "s1", "event": "user", "text": "ok", "language": "en"}, headers=AUTH)
    client.post("/api/events", json={"sender_id": "s1", "event": "user", "text": "ठीक", "language": "hi"}, headers=AUTH)
    client.post("/api/events", json={"sender_id": "s5", "event": "user", "text": "x", "language": "klingon"}, headers=AUTH)
    hid = enqueue(client, "s1", language="hi", reason="complaint").get_json()["handoff_id"]
    enqueue(client, "s2", language="en", reason="shopper_request")
    clock.advance(60)
    assert client.post(f"/console/handoffs/{hid}/claim", json={}, headers={"X-CSRF-Token": token}).status_code == 200
    clock.advance(30)
    client.post(f"/console/handoffs/{hid}/messages", json={"text": "hello"}, headers={"X-CSRF-Token": token})
    clock.advance(120)
    client.post(f"/console/handoffs/{hid}/close", json={"note": ""}, headers={"X-CSRF-Token": token})
    assert client.post("/api/handoffs/s1/rating", json={"rating": 4}, headers=AUTH).status_code == 200
    store = FeedbackStore(app.config["KB_DB"])
    store.rate("refunds", True, "en")
    store.rate("refunds", False, "hi")
    store.rate("refunds", False, "hi")
    for q in ("Do you sell gift cards?", "do you sell gift cards", "Do you ship to Nepal?"):
        store.log_unanswered(q, "en")

    m = client.get("/api/metrics", headers=AUTH).get_json()
    assert m["conversations"] == 5 and m["containment"] == 0.6 and m["handoff_rate"] == 0.4
    assert m["handoff_rate_by_reason"] == {"complaint": 0.2, "shopper_request": 0.2}
    assert m["conversations_by_language"] == {"hi": 1, "en": 3}  # an unknown language is not counted
    assert m["handoff_rate_by_language"] == {"hi": 1.0, "en": 0.333}
    assert m["ratings"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert m["waiting_seconds"]["p50"] == 60 and m["first_response_seconds"]["p50"] == 30
    assert m["handling_seconds"]["p50"] == 150

    page = client.get("/console/metrics").get_data(as_text=True)
    assert page.count("<script") == 1 and "console.js" in page  # the console's own script only
    assert "cdn" not in page.lower()
    containment = svg_of(page, "Containment")
    assert "<svg" in containment and "conversations: 5" in containment and "60% bot / 40% person" in containment
    widths = [int(w) for w in re.findall(r'<rect class="s\d" x="\d+" y="\d+" width="(\d+)"', containment)]
    assert widths == [192, 128]  # 60% and 40% of the 320-pixel bar
    reasons = svg_of(page, "Handoff rate by reason")
    assert "complaint" in reasons and "20% · 1" in reasons and "shopper request" in reasons
    by_language = svg_of(page, "Handoff rate by language")
    assert "100% · 1 of 1" in by_language and "33% · 1 of 3" in by_language
    assert "50% · 1" in svg_of(page, "Handoffs by language")
    times = svg_of(page, "Times")
    assert "waiting for an agent p50" in times and "1.0 min (n=1)" in times
    assert "first agent response p50" in times and "30 s (n=1)" in times
    assert "handling p95" in times and "2.5 min (n=1)" in times
    ratings = svg_of(page, "Agent ratings (average 4.0 from 1)")
    assert "★★★★ 4" in ratings
    articles = svg_of(page, "Help-centre articles")
    assert "refunds" in articles and "1 / 2" in articles and 'class="s1"' in articles
    questions = svg_of(page, "Most frequent questions the bot could not answer")
    assert "gift cards" in questions.lower() and ">2</text>" in questions


def test_metrics_page_without_data_says_so(app, client):
    add_agent(app)
    login(client)
    page = client.get("/console/metrics").get_data(as_text=True)
    assert page.count("No data yet.") >= 5
    assert "No conversations seen through Rasa" in page


def test_metrics_escape_question_text(app, client):
    add_agent(app)
    login(client)
    FeedbackStore(app.config["KB_DB"]).log_unanswered("<script>alert(1)</script> refund?", "en")
    page = client.get("/console/metrics").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page

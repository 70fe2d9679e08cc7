"""Containment (conversations that never needed a person) and help-centre figures in the metrics."""
from __future__ import annotations

from actions.kb_feedback import FeedbackStore
from tests.handoff_bridge.conftest import AUTH, add_agent, enqueue


def test_containment_counts_conversations_seen_through_the_event_broker(app, client):
    add_agent(app)
    for sender in ("s1", "s2", "s3", "s4"):
        for text in ("hello", "where is my order"):  # several messages: counted once
            r = client.post("/api/events", json={"sender_id": sender, "event": "user", "text": text}, headers=AUTH)
            assert r.status_code == 202
    client.post("/api/events", json={"sender_id": "s5", "event": "bot", "text": "hi"}, headers=AUTH)  # not a shopper
    assert enqueue(client, "s1").status_code == 201
    m = client.get("/api/metrics", headers=AUTH).get_json()
    assert m["conversations"] == 4
    assert m["containment"] == 0.75


def test_help_centre_ratings_and_frequent_unanswered_questions(app, client):
    store = FeedbackStore(app.config["KB_DB"])
    store.rate("refunds", True, "en")
    store.rate("refunds", False, "hi")
    store.rate("warranty", False, "bn")
    for q in ("Do you sell gift cards?", "do you sell  gift cards", "call me on 9876543210"):
        store.log_unanswered(q, "en")
    kb = client.get("/api/metrics", headers=AUTH).get_json()["help_centre"]
    assert {"article_id": "refunds", "helpful": 1, "not_helpful": 1} in kb["article_ratings"]
    assert kb["frequent_unanswered"][0]["count"] == 2
    assert "9876543210" not in str(kb)  # stored masked


def test_metrics_page_shows_the_charts(app, client):
    from tests.handoff_bridge.conftest import login

    add_agent(app)
    login(client)
    page = client.get("/console/metrics").get_data(as_text=True)
    assert "Containment" in page and "Most frequent questions the bot could not answer" in page

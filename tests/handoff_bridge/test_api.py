"""Service API: auth, validation, enqueue (idempotent, offline tickets), status, rating, metrics."""
from __future__ import annotations

import pytest

from tests.handoff_bridge.conftest import AUTH, add_agent, ask_for_person, enqueue, new_cid, wait_for


def test_health_needs_no_auth(client):
    resp = client.get("/health")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"},
                                     {"Authorization": "Bearer "}])
@pytest.mark.parametrize("method,path", [("post", "/api/handoffs"), ("get", "/api/handoffs/c1"),
                                         ("post", "/api/handoffs/c1/rating"), ("post", "/api/events"),
                                         ("get", "/api/metrics")])
def test_service_api_needs_the_bearer_token(client, headers, method, path):
    resp = getattr(client, method)(path, json={}, headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"


def test_empty_configured_token_rejects_everything(app, client):
    app.config["BRIDGE_TOKEN"] = ""
    assert client.get("/api/handoffs/c1", headers={"Authorization": "Bearer "}).status_code == 401


@pytest.mark.parametrize("body", [
    "not json", "[1, 2]", '{"conversation_id": ""}', '{"conversation_id": 5}',
    '{"conversation_id": "c1", "reason": "bored"}', '{"conversation_id": "c1", "language": "fr"}',
    '{"conversation_id": "c1", "context": [1]}', '{"conversation_id": "c1", "context": {"a": {"b": 1}}}',
])
def test_bad_enqueue_input_is_a_json_400(client, body):
    resp = client.post("/api/handoffs", data=body, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert "error" in resp.get_json()


def test_huge_body_is_413(client):
    resp = client.post("/api/handoffs", data="x" * 70_000, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.get_json()["error"]


def test_enqueue_queues_with_position_and_eta(app, client):
    add_agent(app)
    first = enqueue(client, "conv-1")
    second = enqueue(client, "conv-2", language="hi")
    assert first.status_code == 201 and second.status_code == 201
    assert first.get_json()["status"] == "queued" and first.get_json()["position"] == 1
    body = second.get_json()
    assert body["position"] == 2 and body["eta_minutes"] >= 1 and isinstance(body["handoff_id"], int)


def test_enqueue_is_idempotent(app, client):
    add_agent(app)
    first = enqueue(client, "conv-1")
    again = enqueue(client, "conv-1")
    assert again.status_code == 200
    assert again.get_json()["handoff_id"] == first.get_json()["handoff_id"]
    assert client.get("/api/metrics", headers=AUTH).get_json()["handoffs"] == 1


def test_action_server_payload_with_top_level_order_id_is_accepted(app, client):
    add_agent(app)
    resp = client.post("/api/handoffs", headers=AUTH, json={
        "conversation_id": "c9", "channel": "web", "language": "bn-Latn", "reason": "shopper_request",
        "order_id": "SH-77"})
    assert resp.status_code == 201


@pytest.mark.parametrize("hour", [7, 21, 23])
def test_outside_agent_hours_gives_an_offline_ticket(app, client, clock, hour):
    add_agent(app)
    clock.set_local(hour, 30)
    resp = enqueue(client, "late-1")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["status"] == "offline_ticket" and body["back_at"] == "09:00"
    assert body["offline_reason"] == "outside_hours"


def test_no_agent_online_gives_an_offline_ticket(app, client):
    add_agent(app, online=False)
    body = enqueue(client, "c1").get_json()
    assert body["status"] == "offline_ticket" and body["offline_reason"] == "no_agent_online"


def test_stale_presence_does_not_count_as_online(app, client, clock):
    add_agent(app)
    clock.advance(3600)
    assert enqueue(client, "c1").get_json()["status"] == "offline_ticket"


def test_status_endpoint(app, client):
    assert client.get("/api/handoffs/nobody", headers=AUTH).status_code == 404
    add_agent(app)
    enqueue(client, "c1")
    enqueue(client, "c2")
    body = client.get("/api/handoffs/c2", headers=AUTH).get_json()
    assert body["status"] == "queued" and body["position"] == 2


def test_rating_validation_and_storage(app, client):
    bridge = app.extensions["handoff_bridge"]
    agent_id = add_agent(app)
    cid = new_cid()
    enqueue(client, cid)
    assert client.post(f"/api/handoffs/{cid}/rating", json={"rating": 4}, headers=AUTH).status_code == 404
    agent = bridge.get_agent(agent_id)
    hid = client.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["handoff_id"]
    assert bridge.claim(hid, agent).ok and bridge.close(hid, agent, "done").ok
    for bad in (0, 6, "x", 2.5, True, None):
        assert client.post(f"/api/handoffs/{cid}/rating", json={"rating": bad}, headers=AUTH).status_code == 400
    assert client.post(f"/api/handoffs/{cid}/rating", json={"rating": "5"}, headers=AUTH).status_code == 200
    ratings = client.get("/api/metrics", headers=AUTH).get_json()["ratings"]
    assert ratings == {"count": 1, "average": 5.0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}}


def test_metrics_numbers(app, client, clock):
    bridge = app.extensions["handoff_bridge"]
    agent = bridge.get_agent(add_agent(app))
    c1, c2 = new_cid(), new_cid()
    enqueue(client, c1, reason="complaint", language="hi")
    enqueue(client, c2, reason="payment_issue", language="bn")
    hid = client.get(f"/api/handoffs/{c1}", headers=AUTH).get_json()["handoff_id"]
    clock.advance(60)
    bridge.claim(hid, agent)
    clock.advance(30)
    bridge.agent_message(hid, agent, "hello")
    clock.advance(300)
    bridge.close(hid, agent, "resolved")
    m = client.get("/api/metrics", headers=AUTH).get_json()
    assert m["by_reason"] == {"complaint": 1, "payment_issue": 1}
    assert m["by_language"] == {"hi": 1, "bn": 1}
    assert m["waiting_seconds"]["p50"] == 60.0
    assert m["first_response_seconds"]["p95"] == 30.0
    assert m["handling_seconds"]["p50"] == 330.0
    assert m["by_status"] == {"closed": 1, "queued": 1}
    assert client.get("/api/metrics?days=abc", headers=AUTH).status_code == 400


def test_position_messages_in_the_shoppers_language(app, client, rasa):
    """Five shoppers ask Rasa for a person, one per language form; the real action server queues
    them here. When the first is claimed, the others hear their new place in their language."""
    bridge = app.extensions["handoff_bridge"]
    agent = bridge.get_agent(add_agent(app, capacity=5))
    cids = {lang: new_cid("p") for lang in ("en", "hi", "bn", "hi-Latn", "bn-Latn")}
    ids, seen = {}, {}
    for position, (lang, cid) in enumerate(cids.items(), start=1):
        status = ask_for_person(client, rasa, cid, lang)
        assert status["status"] == "queued" and status["position"] == position, status
        assert rasa.paused(cid)
        ids[lang], seen[lang] = status["handoff_id"], len(rasa.events(cid))
    assert bridge.claim(ids["en"], agent).ok
    expected = {
        "hi": "अब कतार में आपका नंबर 1 है",
        "bn": "এখন সারিতে আপনার নম্বর 2",
        "hi-Latn": "Ab queue mein aapka number 3 hai",
        "bn-Latn": "Ekhon queue te apnar number 4",
    }
    for lang, start in expected.items():
        texts = wait_for(lambda lang=lang: rasa.bot_texts(cids[lang], seen[lang]))
        assert len(texts) == 1 and texts[0].startswith(start), texts
    # the claimed shopper hears who joined (the real Rasa took the bridge's token), and the
    # handoff_status slot is set first; the conversation stays paused
    wait_for(lambda: rasa.bot_texts(cids["en"], seen["en"]) == ["Asha has joined the chat."])
    assert rasa.story(cids["en"], seen["en"]) == [("slot", "handoff_status", "with_agent"),
                                                  ("bot", "Asha has joined the chat.")]
    assert rasa.paused(cids["en"])
    # nothing changed -> nobody is told again
    assert bridge.refresh_positions() == 0


def test_claim_respects_capacity(app, client):
    bridge = app.extensions["handoff_bridge"]
    agent = bridge.get_agent(add_agent(app, capacity=1))
    a = enqueue(client, new_cid()).get_json()["handoff_id"]
    b = enqueue(client, new_cid()).get_json()["handoff_id"]
    assert bridge.claim(a, agent).ok
    result = bridge.claim(b, agent)
    assert not result.ok and result.code == "capacity"
    assert not bridge.claim(a, bridge.get_agent(add_agent(app, "b@shop.in"))).ok  # already taken


def test_database_refuses_a_second_open_handoff(app, client):
    """The unique partial index backs idempotency when two enqueues race."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from handoff_bridge.db import handoffs

    add_agent(app)
    enqueue(client, "race")
    bridge = app.extensions["handoff_bridge"]
    with pytest.raises(IntegrityError):
        with bridge.engine.begin() as conn:
            conn.execute(insert(handoffs).values(conversation_id="race", channel="web", language="en",
                                                 reason="complaint", context={}, status="queued", created_at=0))
    with bridge.engine.begin() as conn:  # closed ones do not count
        conn.execute(insert(handoffs).values(conversation_id="race", channel="web", language="en",
                                             reason="complaint", context={}, status="closed", created_at=0))


def test_events_answer_fast_while_rasa_hangs(app, client, rasa):
    """The real Rasa process is stopped (SIGSTOP): calls to it hang until the 2 s timeout. The
    event API must not wait for Rasa (the resume and the position update go through the outbox)."""
    import time

    add_agent(app)
    c1, c2 = new_cid(), new_cid()
    enqueue(client, c1)
    enqueue(client, c2)
    with rasa.frozen():
        start = time.monotonic()
        resp = client.post("/api/events", headers=AUTH, json={"sender_id": c1, "event": "user", "text": "cancel"})
        assert resp.status_code == 202 and time.monotonic() - start < 1.0
        assert resp.get_json()["outcomes"] == ["left"]
        assert client.get(f"/api/handoffs/{c2}", headers=AUTH).get_json()["position"] == 1
    # once Rasa runs again, the shopper who left is resumed and told so
    wait_for(lambda: rasa.bot_texts(c1), timeout=15)
    assert rasa.bot_texts(c1)[0].startswith("Okay, you've left the queue")

"""Restarting the bridge loses no queued conversation and no agent message: the queue, the
assignments and the outbox are in the database, and a new bridge process picks them up."""
from __future__ import annotations

from handoff_bridge import create_app
from tests.handoff_bridge.conftest import AUTH, add_agent, app_config, csrf_of, enqueue, login, wait_for


def test_a_restarted_bridge_keeps_the_queue_and_delivers_pending_messages(app, client, rasa, db_url, clock, tmp_path):
    add_agent(app)
    login(client)
    token = csrf_of(client)
    first = enqueue(client, "wa-1", language="hi").get_json()["handoff_id"]
    enqueue(client, "wa-2", language="bn")
    enqueue(client, "wa-3", language="en")
    rasa.down = True  # Rasa is down while the agent works: everything waits in the outbox
    assert client.post(f"/console/handoffs/{first}/claim", json={}, headers={"X-CSRF-Token": token}).status_code == 200
    sent = client.post(f"/console/handoffs/{first}/messages", json={"text": "मैं देख रही हूँ"},
                       headers={"X-CSRF-Token": token}).get_json()
    assert sent["state"] == "pending"
    old = app.extensions["handoff_bridge"]
    old.stop()
    old.engine.dispose()  # the bridge process is gone; its database stays

    rasa.down = False
    restarted = create_app(app_config(db_url, rasa, clock, tmp_path))
    try:
        again = restarted.test_client()
        status = again.get("/api/handoffs/wa-2", headers=AUTH).get_json()
        assert status["status"] == "queued" and status["position"] == 1
        assert again.get("/api/handoffs/wa-3", headers=AUTH).get_json()["position"] == 2
        assert again.get("/api/handoffs/wa-1", headers=AUTH).get_json() == {
            "status": "with_agent", "handoff_id": first, "agent_name": "Asha"}
        # The pending messages (slot, "joined", the agent's text, position updates) are delivered
        # by the new process, in order per conversation.
        wait_for(lambda: "मैं देख रही हूँ" in rasa.bot_texts("wa-1"), timeout=10)
        texts = rasa.bot_texts("wa-1")
        assert texts.index("Asha चैट में जुड़ गए हैं।") < texts.index("मैं देख रही हूँ")
        login(again)
        wait_for(lambda: [m["state"] for m in again.get(f"/console/handoffs/{first}/messages.json")
                          .get_json()["messages"]] == ["delivered"])
        page = again.get(f"/console/handoffs/{first}").get_data(as_text=True)
        assert "मैं देख रही हूँ" in page and "state-delivered" in page
        waiting = again.get("/console/queue.json").get_json()["waiting"]
        assert sorted(w["id"] for w in waiting) == sorted(
            again.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["handoff_id"] for cid in ("wa-2", "wa-3"))
    finally:
        bridge = restarted.extensions["handoff_bridge"]
        bridge.stop()
        bridge.engine.dispose()

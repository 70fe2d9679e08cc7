"""Restarting the bridge loses no queued conversation and no agent message: the queue, the
assignments and the outbox are in the database, and a new bridge process picks them up."""
from __future__ import annotations

from handoff_bridge import create_app
from tests.handoff_bridge.conftest import (AUTH, add_agent, app_config, ask_for_person, csrf_of, login, new_cid,
                                           stop_app, wait_for)


def test_a_restarted_bridge_keeps_the_queue_and_delivers_pending_messages(app, client, rasa, db_url, clock, tmp_path,
                                                                          bridge_host):
    add_agent(app)
    login(client)
    token = csrf_of(client)
    wa1, wa2, wa3 = new_cid("wa"), new_cid("wa"), new_cid("wa")
    first = ask_for_person(client, rasa, wa1, "hi")["handoff_id"]
    ask_for_person(client, rasa, wa2, "bn")
    ask_for_person(client, rasa, wa3, "en")
    seen = len(rasa.events(wa1))
    # Rasa is down while the agent works (nothing listens at its address): everything waits in the outbox
    app.extensions["handoff_bridge"].rasa.base_url = rasa.unreachable_url()
    assert client.post(f"/console/handoffs/{first}/claim", json={}, headers={"X-CSRF-Token": token}).status_code == 200
    sent = client.post(f"/console/handoffs/{first}/messages", json={"text": "मैं देख रही हूँ"},
                       headers={"X-CSRF-Token": token}).get_json()
    assert sent["state"] == "pending"
    bridge_host.app = None
    stop_app(app)  # the bridge process is gone; its database stays

    restarted = create_app(app_config(db_url, rasa, clock, tmp_path))  # and Rasa is reachable again
    bridge_host.app = restarted
    try:
        again = restarted.test_client()
        status = again.get(f"/api/handoffs/{wa2}", headers=AUTH).get_json()
        assert status["status"] == "queued" and status["position"] == 1
        assert again.get(f"/api/handoffs/{wa3}", headers=AUTH).get_json()["position"] == 2
        assert again.get(f"/api/handoffs/{wa1}", headers=AUTH).get_json() == {
            "status": "with_agent", "handoff_id": first, "agent_name": "Asha"}
        # The pending messages (slot, "joined", the agent's text, position updates) are delivered
        # by the new process, in order per conversation.
        wait_for(lambda: "मैं देख रही हूँ" in rasa.bot_texts(wa1, seen), timeout=10)
        assert rasa.story(wa1, seen) == [("slot", "handoff_status", "with_agent"), ("bot", "Asha चैट में जुड़ गए हैं।"),
                                         ("bot", "मैं देख रही हूँ")]
        wait_for(lambda: rasa.bot_texts(wa2)[-1].startswith("এখন সারিতে আপনার নম্বর 1"), timeout=10)
        assert rasa.paused(wa1) and rasa.paused(wa2)
        login(again)
        wait_for(lambda: [m["state"] for m in again.get(f"/console/handoffs/{first}/messages.json")
                          .get_json()["messages"]] == ["delivered"])
        page = again.get(f"/console/handoffs/{first}").get_data(as_text=True)
        assert "मैं देख रही हूँ" in page and "state-delivered" in page
        waiting = again.get("/console/queue.json").get_json()["waiting"]
        assert sorted(w["id"] for w in waiting) == sorted(
            again.get(f"/api/handoffs/{cid}", headers=AUTH).get_json()["handoff_id"] for cid in (wa2, wa3))
    finally:
        bridge_host.app = None
        stop_app(restarted)

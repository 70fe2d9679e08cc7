"""Two bridge apps on one real PostgreSQL database, as `make run-scaled` runs them: console
events published by one reach the consoles of the other (LISTEN/NOTIFY), and with both outbox
workers running every agent message is delivered exactly once, in order."""
from __future__ import annotations

import secrets
from typing import Any, Iterator

import pytest

from handoff_bridge import create_app
from handoff_bridge.cluster import _payload
from tests.handoff_bridge.conftest import PG_URL, TOKEN, add_agent, ask_for_person, enqueue, make_settings, wait_for

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs SAATHI_TEST_PG_URL (make test starts one)")


def cluster_app(db_url: str, rasa: Any, clock: Any, tmp_path: Any) -> Any:
    return create_app({
        "SETTINGS": make_settings(tmp_path), "TESTING": True, "BRIDGE_DB": db_url, "BRIDGE_TOKEN": TOKEN,
        "RASA_URL": rasa.url, "RASA_TOKEN": rasa.token, "HTTP_TIMEOUT": 2.0, "CLOCK": clock,
        "OUTBOX_INTERVAL": 0.05, "SECRET_KEY": "test-secret", "CLUSTER": True,
    })


@pytest.fixture
def two_apps(db_url: str, rasa: Any, clock: Any, tmp_path: Any, bridge_host: Any) -> Iterator[tuple[Any, Any]]:
    if not db_url.startswith("postgresql"):
        pytest.skip("the cluster mode is for PostgreSQL")
    first = cluster_app(db_url, rasa, clock, tmp_path)
    second = cluster_app(db_url, rasa, clock, tmp_path)
    apps = (first, second)
    for app in apps:
        assert app.extensions["handoff_bridge"].broker.wait_listening(10)
    bridge_host.app = first  # the bridge process the action server reaches
    yield apps
    bridge_host.app = None
    for app in apps:
        bridge = app.extensions["handoff_bridge"]
        bridge.stop()
        bridge.broker.close()
        bridge.engine.dispose()


def test_queue_updates_reach_the_consoles_of_every_process(two_apps: tuple) -> None:
    first, second = two_apps
    add_agent(first)
    subs = [app.extensions["handoff_bridge"].broker.subscribe() for app in two_apps]
    cid = "c-" + secrets.token_hex(4)
    hid = enqueue(first.test_client(), cid).get_json()["handoff_id"]
    for sub in subs:  # the process that took the request and the other one
        kinds = []
        while "handoff_new" not in kinds:
            kind, data = sub.get(timeout=10)
            kinds.append(kind)
        assert data["handoff_id"] == hid


def test_every_agent_message_is_delivered_once_in_order(two_apps: tuple, rasa: Any) -> None:
    first, second = two_apps
    bridges = [app.extensions["handoff_bridge"] for app in two_apps]
    agent = bridges[0].get_agent(add_agent(first))
    cid = "c-" + secrets.token_hex(6)
    hid = ask_for_person(first.test_client(), rasa, cid)["handoff_id"]
    seen = len(rasa.events(cid))
    assert bridges[1].claim(hid, agent).ok
    texts = [f"message {i}" for i in range(12)]
    for i, text in enumerate(texts):
        assert bridges[i % 2].agent_message(hid, agent, text).ok
        bridges[(i + 1) % 2].wake()
    wait_for(lambda: rasa.bot_texts(cid)[-1:] == [texts[-1]], timeout=30)
    assert rasa.bot_texts(cid, seen) == ["Asha has joined the chat.", *texts]
    assert rasa.paused(cid)


def test_long_shopper_text_fits_a_notification() -> None:
    body = _payload("shopper_message", {"handoff_id": 1, "text": "অ" * 4000})
    assert len(body.encode()) <= 8000 and '"truncated": true' in body

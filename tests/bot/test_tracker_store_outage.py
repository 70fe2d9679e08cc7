"""No lost conversations: PostgreSQL stops in the middle of a conversation.

A real Rasa server (tests/stack.py) keeps its trackers in a real PostgreSQL through
`StrictSQLTrackerStore`. While the database is down, the shopper is told to wait a moment and
send again (REST: 503; website socket: a message), the HTTP API answers 500 instead of an empty
conversation, and nothing falls back to memory. A database that comes back within the retries
costs nothing; afterwards the transcript has every acknowledged message once, in order.
"""
from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from bot.stores.guard import WAIT_TEXT
from tests.bot.pg_cluster import PrivatePostgres
from tests.stack import SocketShopper, running_stack

RETRIES, BACKOFF = 5, 0.5  # attempts 0.5 + 1 + 2 + 4 s apart: about 7.5 s before giving up

ENDPOINTS = f"""
action_endpoint:
  url: ${{SAATHI_ACTION_URL}}
tracker_store:
  type: bot.stores.strict_sql.StrictSQLTrackerStore
  dialect: postgresql
  url: 127.0.0.1
  port: {{port}}
  db: saathi_test
  username: postgres
  retries: {RETRIES}
  retry_backoff: {BACKOFF}
event_broker:
  type: bot.brokers.bridge.BridgeEventBroker
"""


@pytest.fixture(scope="module")
def pg() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.purge()


@pytest.fixture(scope="module")
def pg_stack(pg: PrivatePostgres, model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("pgstack")
    endpoints = work / "endpoints.pg.yml"
    endpoints.write_text(ENDPOINTS.replace("{port}", str(pg.port)))
    with running_stack(work, model_path, endpoints=str(endpoints)) as running:
        yield running


def rest(stack: dict, sender: str, text: str) -> requests.Response:
    return requests.post(f"{stack['rasa']}/webhooks/rest/webhook",
                         json={"sender": sender, "message": text}, timeout=60)


def user_texts(stack: dict, sender: str) -> list[str]:
    r = requests.get(f"{stack['rasa']}/conversations/{sender}/tracker",
                     params={"token": stack["token"]}, timeout=30)
    assert r.status_code == 200, r.text
    return [e["text"] for e in r.json()["events"] if e["event"] == "user"]


def test_database_down_tells_shopper_to_wait_and_loses_nothing(pg: PrivatePostgres, pg_stack: dict) -> None:
    sender = "pg-" + secrets.token_hex(4)
    assert rest(pg_stack, sender, "hello").status_code == 200
    web = SocketShopper(pg_stack["rasa"])
    web.connect()
    web.say("hello")
    assert web.receive(60).get("text")
    assert user_texts(pg_stack, sender) == ["hello"]

    pg.stop()
    try:
        started = time.monotonic()
        r = rest(pg_stack, sender, "mera order kab aayega")
        took = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.headers.get("Retry-After") == "5"
        assert r.json() == [{"recipient_id": sender, "text": WAIT_TEXT["hi-Latn"]}]
        assert took < 30, f"the shopper waited {took:.1f} s"

        web.say("আমার অর্ডার কোথায়")
        assert web.receive(60)["text"] == WAIT_TEXT["bn"]

        # The HTTP API must not answer with an empty conversation, nor accept an agent's message
        # it cannot store (the bridge keeps it in its outbox and retries).
        api = f"{pg_stack['rasa']}/conversations/{sender}"
        got = requests.get(f"{api}/tracker", params={"token": pg_stack["token"]}, timeout=60)
        assert got.status_code == 500, got.text
        pushed = requests.post(f"{api}/tracker/events", params={"token": pg_stack["token"]},
                               json=[{"event": "bot", "text": "Agent here"}], timeout=60)
        assert pushed.status_code == 500, pushed.text
    finally:
        pg.start()

    # The shopper sends again, as told: the conversation goes on where it was.
    r = rest(pg_stack, sender, "mera order kab aayega")
    assert r.status_code == 200, r.text
    assert r.json() and all(m["text"] not in WAIT_TEXT.values() for m in r.json())
    assert user_texts(pg_stack, sender) == ["hello", "mera order kab aayega"]

    web.say("আমার অর্ডার কোথায়")
    assert web.receive(60)["text"] not in WAIT_TEXT.values()
    assert user_texts(pg_stack, web.session_id) == ["hello", "আমার অর্ডার কোথায়"]
    web.sio.disconnect()

    log = Path(pg_stack["rasa_log"]).read_text()
    assert "Falling back to use the 'InMemoryTrackerStore'" not in log
    assert "giving up" in log  # the failure was loud


def test_database_back_within_the_retries_costs_nothing(pg: PrivatePostgres, pg_stack: dict) -> None:
    sender = "pg-" + secrets.token_hex(4)
    assert rest(pg_stack, sender, "hi").status_code == 200
    pg.stop()
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(r=rest(pg_stack, sender, "where is my order")))
    thread.start()
    time.sleep(1.0)  # the message is being retried now
    pg.start()
    thread.join(60)
    assert not thread.is_alive()
    assert result["r"].status_code == 200, result["r"].text
    assert all(m["text"] not in WAIT_TEXT.values() for m in result["r"].json())
    assert user_texts(pg_stack, sender) == ["hi", "where is my order"]

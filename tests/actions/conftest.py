from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real rasa-sdk action server running Saathi's actions; yields its webhook URL."""
    work = tmp_path_factory.mktemp("actions")
    port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SAATHI_ENV_FILE=str(work / "none.env"),
        SAATHI_RUN_DIR=str(work),
        SAATHI_BRIDGE_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        SAATHI_SUPPORT_CONTACT="help@test-shop.in",
        SAATHI_HTTP_TIMEOUT="2",
    )
    log = work / "actions.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"action server exited:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"action server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def webhook_call(action: str, slots: dict | None = None, sender: str = "shopper-1") -> dict:
    """The JSON body Rasa 3.6 posts to the action server."""
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": slots or {},
            "latest_message": {"text": "talk to a human", "intent": {"name": "request_human"}, "entities": []},
            "latest_event_time": time.time(),
            "paused": False,
            "events": [
                {"event": "user", "text": "talk to a human", "input_channel": "rest",
                 "parse_data": {"intent": {"name": "request_human"}}},
            ],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {"slots": {}, "responses": {}, "actions": [action], "intents": [], "entities": []},
        "version": "3.6.21",
    }

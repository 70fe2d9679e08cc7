"""The scaled profile (`make run-scaled`) as a shop runs it: real PostgreSQL, Redis, nginx, two Rasa
replicas, two action servers and two bridge processes, started by scripts/run_scaled.sh.

It takes several minutes on 2 cores (two Rasa servers load the model), so `make test` skips it;
`make test-scaled` runs it (SAATHI_TEST_SCALED=1).
"""
from __future__ import annotations

import os
import random
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.stack import ROOT, CHANNEL_ENV, SocketShopper

pytestmark = pytest.mark.skipif(os.environ.get("SAATHI_TEST_SCALED") != "1",
                                reason="the scaled profile runs in `make test-scaled`")

TOKEN = "scaled-" + secrets.token_hex(12)
READY_WITHIN_S = 900


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def free_base() -> int:
    for _ in range(50):
        base = random.randrange(20000, 40000, 100)
        if all(port_free(base + i) for i in range(42)):
            return base
    raise RuntimeError("no free block of 42 ports")


@pytest.fixture(scope="module")
def scaled(model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("scaled")
    base = free_base()
    env = dict(
        os.environ, SAATHI_MODEL=model_path, SAATHI_SCALED_PORT=str(base), SAATHI_RUN_DIR=str(work),
        SAATHI_ENV_FILE=str(work / "none.env"), SAATHI_RASA_TOKEN=TOKEN,
        SAATHI_BRIDGE_TOKEN=secrets.token_hex(16), SAATHI_BRIDGE_SECRET_KEY=secrets.token_hex(16),
        SAATHI_DEMO_AGENT_PASSWORD=secrets.token_hex(8), SAATHI_AGENT_HOURS="00:00-23:59",
        SAATHI_SCALED_PG_DIR=f"/tmp/saathi-scaled-test-{secrets.token_hex(4)}", **CHANNEL_ENV,
    )
    env.pop("SAATHI_TEST_PG_URL", None)
    log = (work / "run_scaled.out").open("w+")
    proc = subprocess.Popen([str(ROOT / "scripts" / "run_scaled.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=log, text=True, start_new_session=True)
    ready = threading.Event()
    threading.Thread(target=lambda: [ready.set() for line in proc.stdout if "SAATHI_SCALED_READY" in line],
                     daemon=True).start()
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while not ready.wait(2):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"run_scaled.sh did not become ready:\n{log.read()[-5000:]}")
        yield {"rasa": f"http://127.0.0.1:{base}", "bridge": f"http://127.0.0.1:{base + 1}",
               "replicas": [f"http://127.0.0.1:{base + 10}", f"http://127.0.0.1:{base + 11}"],
               "redis_port": base + 40, "base": base, "proc": proc, "dir": work / "scaled", "env": env}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        subprocess.run(["rm", "-rf", env["SAATHI_SCALED_PG_DIR"]], check=False)


def say(url: str, sender: str, text: str) -> str:
    r = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
    assert r.status_code == 200, r.text
    return " ".join(m.get("text") or "" for m in r.json())


def tracker(url: str, sender: str) -> dict:
    r = requests.get(f"{url}/conversations/{sender}/tracker", params={"token": TOKEN}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_both_replicas_serve_and_a_conversation_moves_between_them(scaled: dict) -> None:
    one, two = scaled["replicas"]
    for url in (one, two, scaled["rasa"]):
        assert requests.get(f"{url}/status", params={"token": TOKEN}, timeout=30).status_code == 200
        assert requests.get(f"{url}/status", timeout=30).status_code == 401
    sender = "scaled-" + secrets.token_hex(4)
    assert "order number" in say(one, sender, "where is my order?").lower()
    second = say(two, sender, "KM-10234")  # the other replica knows what was asked
    assert "phone number or e-mail" in second and "KM-10234" in second
    third = say(one, sender, "my number is 98765 43210")  # verified by the other action server, maybe
    assert "Priya" in third and "shipped" in third
    users = [e["text"] for e in tracker(two, sender)["events"] if e["event"] == "user"]
    assert users == ["where is my order?", "KM-10234", "my number is 98765 43210"]


def test_simultaneous_messages_of_one_conversation_take_turns(scaled: dict) -> None:
    """The Redis lock store: two replicas never process one conversation at the same time."""
    one, two = scaled["replicas"]
    sender = "lock-" + secrets.token_hex(4)
    say(one, sender, "hello")
    texts = ["where is my order?", "what is your return policy?"]
    threads = [threading.Thread(target=say, args=(url, sender, text)) for url, text in zip((one, two), texts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    events = tracker(one, sender)["events"]
    users = [e["text"] for e in events if e["event"] == "user"]
    assert users[0] == "hello" and sorted(users[1:]) == sorted(texts)
    # Each message was answered before the next one was read: user, bot turns, action_listen.
    kinds = [e["event"] if e["event"] != "action" else e["name"] for e in events
             if e["event"] in ("user", "bot") or (e["event"] == "action" and e["name"] == "action_listen")]
    turns = "".join("U" if k == "user" else "L" if k == "action_listen" else "B" for k in kinds)
    assert re.fullmatch(r"L*(UB+L)+", turns), turns
    stats = subprocess.run(["redis-cli", "-p", str(scaled["redis_port"]), "info", "commandstats"],
                           capture_output=True, text=True, timeout=10).stdout
    assert "cmdstat_set" in stats or "cmdstat_setex" in stats, stats


def test_agent_messages_through_nginx_reach_each_socket(scaled: dict) -> None:
    shoppers = []
    for _ in range(10):  # several sessions, so both replicas hold sockets
        web = SocketShopper(scaled["rasa"])
        web.sio.connect(f"{scaled['rasa']}?sid_hint={web.session_id}", socketio_path="/socket.io",
                        transports=["polling"])
        web.sio.emit("session_request", {"session_id": web.session_id})
        assert web.confirmed.wait(30)
        web.say("hello")
        assert web.receive(120).get("text")
        shoppers.append(web)
    try:
        for web in shoppers:
            text = f"Asha from the shop here ({web.session_id})"
            r = requests.post(f"{scaled['rasa']}/conversations/{web.session_id}/tracker/events",
                              params={"token": TOKEN, "output_channel": "latest", "execute_side_effects": "true"},
                              json=[{"event": "bot", "text": text}], timeout=60)
            assert r.status_code == 200, r.text
            got = web.receive_until(re.escape(text), timeout=30)
            assert got[-1]["text"] == text
    finally:
        for web in shoppers:
            web.sio.disconnect()
    # nginx's log: each shopper's socket and the pushes to that shopper went to one replica, and
    # the shoppers were spread over both.
    log = (scaled["dir"] / "nginx-access.log").read_text().splitlines()
    holders = set()
    for web in shoppers:
        ups = {re.search(r" up=(\S+)", line).group(1) for line in log
               if f"sid_hint={web.session_id}" in line or f"/conversations/{web.session_id}/" in line}
        assert len(ups) == 1, (web.session_id, ups)
        holders |= ups
    assert holders == {url.replace("http://", "") for url in scaled["replicas"]}, holders


def test_bridge_processes_answer_behind_nginx(scaled: dict) -> None:
    base = scaled["base"]
    for port in (base + 1, base + 30, base + 31):
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=10).json() == {"status": "ok"}


def test_ctrl_c_stops_everything(scaled: dict) -> None:
    proc = scaled["proc"]
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(120)
    base = scaled["base"]
    ports = [base, base + 1, base + 2, base + 10, base + 11, base + 20, base + 21, base + 30, base + 31,
             base + 40, base + 41]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(port_free(p) for p in ports):
        time.sleep(0.5)
    assert [p for p in ports if not port_free(p)] == []
    assert Path(scaled["dir"] / "nginx.conf").is_file()

"""Handoff delivery times on the real stack (bridge under waitress, action server, Rasa server).

- agent → shopper: console send (POST) until the shopper's socketio client receives the text;
- shopper → agent: socketio send until the agent console's live stream (SSE) shows the text;
- queue update: a new handoff (POST /api/handoffs, as the action server does) until the console
  stream announces it.
Bar: p95 <= 150 ms each way on 2 cores. Runs in .venv-rasa (python-socketio client):

    .venv-rasa/bin/python bench/bench_handoff.py MODEL.tar.gz [--n 50] [--write-readme]
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_rasa import pctl, platform  # noqa: E402
from tests.stack import Agent, SocketShopper, running_stack  # noqa: E402


class ConsoleStream:
    """The agent console's server-sent events, timestamped on arrival."""

    def __init__(self, agent: Agent):
        self.events: queue.Queue = queue.Queue()
        self.resp = agent.http.get(f"{agent.base}/console/stream", stream=True, timeout=(5, 600))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = None
        for line in self.resp.iter_lines(decode_unicode=True):
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind:
                self.events.put((time.perf_counter(), kind, json.loads(line.split(":", 1)[1])))
                kind = None

    def wait_for(self, kind: str, match, timeout: float = 10) -> float:
        deadline = time.perf_counter() + timeout
        while True:
            at, k, data = self.events.get(timeout=max(0.01, deadline - time.perf_counter()))
            if k == kind and match(data):
                return at


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="saathi-bench-handoff-"))
    print(f"machine: {os.cpu_count()} cores, {platform()}; starting the stack ...", flush=True)
    with running_stack(work, args.model) as stack:
        agent = Agent(stack)
        stream = ConsoleStream(agent)
        shopper = SocketShopper(stack["rasa"])
        shopper.connect()
        shopper.say("I want to talk to a person")
        shopper.receive_until("queue")
        handoff_id = next(w["id"] for w in agent.queue()["waiting"])
        agent.post(f"/console/handoffs/{handoff_id}/claim")
        shopper.receive_until("Asha")

        to_shopper, to_agent, queue_update = [], [], []
        for i in range(args.n):
            text = f"agent message {i} {secrets.token_hex(3)}"
            t0 = time.perf_counter()
            agent.post(f"/console/handoffs/{handoff_id}/messages", text=text)
            shopper.receive_until(text.replace(" ", r"\s"), timeout=10)
            to_shopper.append((time.perf_counter() - t0) * 1000)

            text = f"shopper message {i} {secrets.token_hex(3)}"
            t0 = time.perf_counter()
            shopper.say(text)
            at = stream.wait_for("shopper_message", lambda d, t=text: d.get("text") == t)
            to_agent.append((at - t0) * 1000)

            conv = f"bench-queue-{i}-{secrets.token_hex(3)}"
            t0 = time.perf_counter()
            r = requests.post(f"{stack['bridge']}/api/handoffs", timeout=10,
                              headers={"Authorization": f"Bearer {stack['bridge_token']}"},
                              json={"conversation_id": conv, "channel": "rest", "language": "en",
                                    "reason": "shopper_request", "context": {}})
            new_id = r.json()["handoff_id"]
            at = stream.wait_for("handoff_new", lambda d, h=new_id: d.get("handoff_id") == h)
            queue_update.append((at - t0) * 1000)
        shopper.sio.disconnect()

    rows = ["| path | p50 (ms) | p95 (ms) | max (ms) | bar |", "|---|---|---|---|---|"]
    ok = True
    for name, values in (("agent → shopper (console send → socketio receive)", to_shopper),
                         ("shopper → agent (socketio send → console live stream)", to_agent),
                         ("queue page update (new handoff → console live stream)", queue_update)):
        p95 = pctl(values, 95)
        ok = ok and p95 <= 150
        rows.append(f"| {name} | {statistics.median(values):.0f} | {p95:.0f} | {max(values):.0f} | p95 <= 150 ms |")
    stamp = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({platform()}), command `make bench` "
             f"(bench/bench_handoff.py, {args.n} messages each way, one conversation); bars "
             f"{'met' if ok else 'NOT met'}.")
    print("\n" + "\n".join(rows) + "\n\n" + stamp)
    if args.write_readme:
        from kb_index.evaluate import write_readme

        write_readme(ROOT / "docs" / "results" / "bench_handoff.md", "\n".join([stamp, ""] + rows), name="bench-handoff")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

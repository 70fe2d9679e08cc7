"""`make loadtest`: simulated shoppers against a running Saathi (the scaled profile by default).

Each shopper is one conversation, on the website socket (Socket.IO through nginx, with
`sid_hint`) or the REST webhook, in one of the five language forms, and follows scripted
conversations (greeting, help-centre question, order lookup with verification; socket shoppers
also ask for a person, whom simulated agents answer through the bridge's console API), sending a
message 2-5 s after the previous answer. Bounded: `--shoppers` shoppers, no new message after
`--duration` seconds, at most `--max-messages` each, every wait has a timeout.

Printed: turns/s, p50/p95/p99 per turn type, errors, and a consistency check against each
tracker: every acknowledged shopper message exactly once and in order, every bot and agent
message delivered exactly once. Exit code 1 if anything was lost or duplicated.

Runs in .venv-rasa (python-socketio client, requests); tests/stack.py's Agent drives the console.
"""
from __future__ import annotations

import argparse
import json
import queue
import random
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import requests
import socketio

from tests.stack import Agent

FORMS = ("en", "hi", "bn", "hi-Latn", "bn-Latn")
SCRIPTS: dict[str, dict[str, list[str]]] = {
    "en": {"greet": ["hello"], "faq": ["what is your return policy?"],
           "order": ["where is my order?", "KM-10234", "my number is 98765 43210"],
           "handoff": ["I want to talk to a person"]},
    "hi": {"greet": ["नमस्ते"], "faq": ["रिफंड कब तक मिलता है?"],
           "order": ["मेरा ऑर्डर कहाँ है?", "ऑर्डर नंबर KM-10234 है", "फोन 9876543210"],
           "handoff": ["मुझे किसी इंसान से बात करनी है"]},
    "bn": {"greet": ["নমস্কার"], "faq": ["রিফান্ড কত দিনে পাব?"],
           "order": ["আমার অর্ডার কোথায়?", "অর্ডার নম্বর KM-10234", "ফোন 9876543210"],
           "handoff": ["আমি একজন মানুষের সাথে কথা বলতে চাই"]},
    "hi-Latn": {"greet": ["namaste"], "faq": ["refund kab tak milta hai"],
                "order": ["mera order kahan hai", "KM-10234", "phone 9876543210"],
                "handoff": ["kisi insaan se baat karni hai"]},
    "bn-Latn": {"greet": ["nomoskar"], "faq": ["refund koto dine pabo"],
                "order": ["amar order kothay", "KM-10234", "phone 9876543210"],
                "handoff": ["ami manusher sathe kotha bolte chai"]},
}
AGENT_PREFIX = "Asha from the shop here"


def percentile(values: list[float], pct: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(pct / 100 * len(ordered) + 0.5)) - 1))]


def split_parts(text: str) -> list[str]:
    """Rasa's socketio channel sends one message per paragraph."""
    return [p.strip() for p in (text or "").split("\n\n") if p.strip()]


@dataclass
class Shopper:
    index: int
    channel: str
    form: str
    sender: str = ""
    sent: list[str] = field(default_factory=list)  # acknowledged messages, in order
    received: list[str] = field(default_factory=list)  # bot/agent texts as delivered
    agent_messages: int = 0
    closed_at: float = 0.0  # epoch seconds when the socket was closed (later messages cannot arrive)


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.lock = threading.Lock()
        self.stop_at = time.monotonic() + args.duration
        self.turns = 0
        self.samples: list[str] = []  # undelivered messages, for diagnosis

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds * 1000)
            self.turns += 1

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1

    def pause(self) -> bool:
        """Think time of 2-5 s; False once the run is over."""
        wait = random.uniform(2, 5)
        if time.monotonic() + wait > self.stop_at:
            return False
        time.sleep(wait)
        return True

    # -- shoppers ------------------------------------------------------------------------------

    def scenarios(self, shopper: Shopper) -> list[tuple[str, list[str]]]:
        script = SCRIPTS[shopper.form]
        plan = [("greet", script["greet"]), ("faq", script["faq"]), ("order", script["order"])]
        if shopper.channel == "socketio" and shopper.index % 4 == 0:
            plan.append(("handoff", script["handoff"]))
        return plan

    def next_messages(self, shopper: Shopper) -> Iterator[tuple[str, str]]:
        """(turn type, text) of the shopper's next messages, each after the think time, until
        the run is over or the shopper has sent `--max-messages`."""
        count = 0
        while True:
            for kind, messages in self.scenarios(shopper):
                for text in messages:
                    if count >= self.args.max_messages or not self.pause():
                        return
                    count += 1
                    yield kind, text

    def run_rest(self, shopper: Shopper) -> None:
        shopper.sender = f"load-rest-{shopper.index}-{secrets.token_hex(3)}"
        http = requests.Session()
        for kind, text in self.next_messages(shopper):
            started = time.monotonic()
            try:
                r = http.post(f"{self.args.rasa}/webhooks/rest/webhook",
                              json={"sender": shopper.sender, "message": text}, timeout=60)
            except requests.RequestException:
                self.error(f"rest {kind}: no answer")
                continue
            if r.status_code != 200:
                self.error(f"rest {kind}: HTTP {r.status_code}")
                continue
            self.record(f"{kind} (rest)", time.monotonic() - started)
            shopper.sent.append(text)
            shopper.received += [m["text"] for m in r.json() if m.get("text")]
            if not r.json():
                self.error(f"rest {kind}: empty answer")

    def run_socket(self, shopper: Shopper) -> None:
        shopper.sender = f"load-web-{shopper.index}-{secrets.token_hex(3)}"
        inbox: queue.Queue = queue.Queue()
        confirmed = threading.Event()
        # A browser on the shop's page sends that page's origin: here the demo storefront, which the
        # bridge serves and the website channel always allows.
        sio = socketio.Client(reconnection=False, websocket_extra_options={"origin": self.args.bridge.rstrip("/")})
        sio.on("bot_uttered", lambda data: inbox.put(data))
        sio.on("session_confirm", lambda *_: confirmed.set())
        try:
            sio.connect(f"{self.args.rasa}?sid_hint={shopper.sender}", socketio_path="/socket.io",
                        transports=["websocket"], wait_timeout=30)  # as the widget: WebSocket first
            sio.emit("session_request", {"session_id": shopper.sender})
            if not confirmed.wait(30):
                self.error("socket: no session_confirm")
                return
        except Exception as error:  # a refused connection is an error of the run, not a crash
            self.error(f"socket: connect failed ({error.__class__.__name__})")
            return

        def take(timeout: float) -> Optional[str]:
            try:
                text = inbox.get(timeout=timeout).get("text") or ""
            except queue.Empty:
                return None
            shopper.received.append(text)
            if text.startswith(AGENT_PREFIX):
                shopper.agent_messages += 1
            return text

        try:
            for kind, text in self.next_messages(shopper):
                while take(0.05) is not None:  # late parts of earlier answers
                    pass
                started = time.monotonic()
                sio.emit("user_uttered", {"message": text, "session_id": shopper.sender})
                shopper.sent.append(text)
                if take(60) is None:
                    self.error(f"socket {kind}: no answer in 60 s")
                    continue
                self.record(f"{kind} (socket)", time.monotonic() - started)
                if kind == "handoff":
                    self.await_agent(shopper, take, started)
        finally:
            time.sleep(2)
            while take(0.2) is not None:
                pass
            shopper.closed_at = time.time()
            sio.disconnect()

    def await_agent(self, shopper: Shopper, take: Any, started: float) -> bool:
        """The simulated agent's message (False if none came in 60 s)."""
        deadline = started + 60
        while time.monotonic() < deadline:
            text = take(max(0.1, deadline - time.monotonic()))
            if text and text.startswith(AGENT_PREFIX):
                self.record("agent message (socket)", time.monotonic() - started)
                return True
        self.error("handoff: no agent message in 60 s")
        return False

    # -- agents --------------------------------------------------------------------------------

    def run_agent(self, done: threading.Event) -> None:
        agent = Agent({"bridge": self.args.bridge, "agent_email": self.args.agent_email,
                       "agent_password": self.args.agent_password})
        last_presence = 0.0
        while not done.is_set():
            if time.monotonic() - last_presence > 30:
                agent.post("/console/presence", presence="online")
                last_presence = time.monotonic()
            try:
                data = agent.queue()
            except (requests.RequestException, ValueError):
                self.error("agent: queue unavailable")
                done.wait(1)
                continue
            for item in data.get("waiting", [])[:2]:
                agent.post(f"/console/handoffs/{item['id']}/claim")
            for item in data.get("mine", []):
                r = agent.post(f"/console/handoffs/{item['id']}/messages",
                               text=f"{AGENT_PREFIX}, how can I help?")
                if r.status_code not in (200, 302, 303):
                    self.error(f"agent: message HTTP {r.status_code}")
                agent.post(f"/console/handoffs/{item['id']}/close", note="load test")
            done.wait(0.5)

    # -- consistency ---------------------------------------------------------------------------

    def tracker_events(self, sender: str) -> Optional[list[dict]]:
        """The stored events of a conversation (Rasa's HTTP API), None if it cannot be read."""
        r = requests.get(f"{self.args.rasa}/conversations/{sender}/tracker",
                         params={"token": self.args.token}, timeout=60)
        return r.json()["events"] if r.status_code == 200 else None

    def check(self, shoppers: list[Shopper]) -> dict[str, int]:
        totals = Counter()
        for s in shoppers:
            if not s.sender:
                continue
            events = self.tracker_events(s.sender)
            if events is None:
                totals["trackers unreadable"] += 1
                continue
            users = [e.get("text") for e in events if e["event"] == "user"]
            # A socket cannot receive what was logged after it closed (e.g. the rating question
            # that follows an agent's close); those are not counted as undelivered.
            bots = [p for e in events if e["event"] == "bot"
                    and not (s.closed_at and e.get("timestamp", 0) > s.closed_at - 0.5)
                    for p in split_parts(e.get("text") or "")]
            sent, seen = Counter(s.sent), Counter(users)
            totals["shopper messages"] += len(s.sent)
            totals["lost shopper messages"] += sum((sent - seen).values())
            totals["duplicated shopper messages"] += sum((seen - sent).values())
            totals["conversations out of order"] += int(users != s.sent and not (sent - seen) and not (seen - sent))
            got = Counter(p for t in s.received for p in (split_parts(t) if s.channel == "rest" else [t.strip()]) if p)
            want = Counter(bots)
            totals["bot/agent messages"] += sum(want.values())
            missing = want - got
            totals["bot/agent messages not delivered"] += sum(missing.values())
            self.samples.extend(f"{s.sender}: {t[:80]}" for t in list(missing)[:2])
            totals["bot/agent messages delivered twice"] += sum((got - want).values())
            totals["agent messages"] += s.agent_messages
        return dict(totals)


def stack_arguments(parser: argparse.ArgumentParser, shoppers: int, max_messages: int) -> None:
    """The options of a run against a stack (shared with bench/chaos.py)."""
    parser.add_argument("--rasa", required=True, help="Rasa (nginx) URL")
    parser.add_argument("--bridge", required=True, help="bridge (nginx) URL")
    parser.add_argument("--token", required=True, help="Rasa HTTP API token")
    parser.add_argument("--agent-email", default="admin@saathi.local")
    parser.add_argument("--agent-password", required=True)
    parser.add_argument("--shoppers", type=int, default=shoppers)
    parser.add_argument("--max-messages", type=int, default=max_messages, help="per shopper")
    parser.add_argument("--agents", type=int, default=1)
    parser.add_argument("--out", help="write the figures as JSON here")


def start_shoppers(load: Load, count: int, done: threading.Event) -> tuple[list[Shopper], list[threading.Thread]]:
    """`count` shoppers (socket and REST alternately, the five forms in turn) and the simulated
    agents, each on a thread; the shoppers ramp up over at most 2 s."""
    shoppers = [Shopper(i, "socketio" if i % 2 == 0 else "rest", FORMS[i % len(FORMS)]) for i in range(count)]
    for _ in range(load.args.agents):
        threading.Thread(target=load.run_agent, args=(done,), daemon=True).start()
    threads = [threading.Thread(target=load.run_socket if s.channel == "socketio" else load.run_rest,
                                args=(s,), daemon=True) for s in shoppers]
    for t in threads:
        t.start()
        time.sleep(min(0.1, 2.0 / len(threads)))
    return shoppers, threads


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    stack_arguments(parser, shoppers=50, max_messages=40)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of new messages")
    args = parser.parse_args(argv)
    args.shoppers = max(1, min(args.shoppers, 500))
    args.duration = max(5.0, min(args.duration, 3600.0))

    load = Load(args)
    done = threading.Event()
    started = time.monotonic()
    shoppers, threads = start_shoppers(load, args.shoppers, done)
    for t in threads:
        t.join(max(1.0, started + args.duration + 180 - time.monotonic()))
    elapsed = time.monotonic() - started
    done.set()
    hung = sum(t.is_alive() for t in threads)
    consistency = load.check(shoppers)

    report = {
        "shoppers": args.shoppers, "duration_s": round(elapsed, 1), "turns": load.turns,
        "turns_per_s": round(load.turns / elapsed, 2), "hung_shoppers": hung,
        "latency_ms": {k: {"n": len(v), "p50": round(percentile(v, 50)), "p95": round(percentile(v, 95)),
                           "p99": round(percentile(v, 99))} for k, v in sorted(load.latency.items())},
        "errors": dict(load.errors), "consistency": consistency, "undelivered_samples": load.samples[:10],
    }
    print(f"{args.shoppers} shoppers, {elapsed:.0f} s, {load.turns} turns, {report['turns_per_s']} turns/s")
    print(f"{'turn type':<26}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for kind, v in report["latency_ms"].items():
        print(f"{kind:<26}{v['n']:>6}{v['p50']:>9}{v['p95']:>9}{v['p99']:>9}")
    print("errors:", json.dumps(report["errors"], ensure_ascii=False) if load.errors else "none")
    print("consistency:", json.dumps(consistency))
    for sample in load.samples[:5]:
        print("  not delivered:", sample)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, ensure_ascii=False, indent=2)
    bad = (consistency.get("lost shopper messages", 0) + consistency.get("duplicated shopper messages", 0)
           + consistency.get("conversations out of order", 0)
           + consistency.get("bot/agent messages delivered twice", 0)
           + consistency.get("bot/agent messages not delivered", 0) + hung)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

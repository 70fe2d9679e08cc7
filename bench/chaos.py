"""`make chaos`: faults during a load test on the scaled profile, and what shoppers saw meanwhile.

The shoppers of bench/loadtest.py (socket and REST, five language forms, scripted conversations,
handoffs answered by a simulated agent) talk to a running scaled profile while, one at a time with
a settle gap, this kills -9 a Rasa replica, an action server and a bridge process (run_scaled.sh's
supervisors start them again) and restarts PostgreSQL and Redis. Like a real widget or person, a
shopper sends a message again when it got no answer: after a "please wait a moment" reply (REST:
503 + Retry-After), an HTTP error, a dropped connection, a socket that reconnected, or
`--resend-after` seconds of silence; after `--give-up` seconds it stops trying.

Reported per fault (a message belongs to the fault during whose window it was answered or given
up): how long until the process was back, the longest any shopper waited for an answer (first
send to answer), messages never answered, acknowledged messages lost (answered but not in the
tracker), duplicated (more copies in the tracker than sends), stored twice because the shopper
re-sent one that had been stored but not answered, and what shoppers saw: "please wait" replies,
HTTP errors, dropped connections, socket reconnects, re-sends, empty answers.
Bars (issue 7): after each fault no shopper waits more than 10 s; 0 acknowledged messages lost.
Exit code 1 if a bar fails.

Runs in .venv-rasa, like bench/loadtest.py (its Load, Shopper and agent are reused).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import requests
import socketio

from bench.loadtest import AGENT_PREFIX, Load, Shopper, percentile, stack_arguments, start_shoppers
from bot.stores.guard import WAIT_TEXT

ROOT = Path(__file__).resolve().parents[1]
WAIT_TEXTS = frozenset(WAIT_TEXT.values())
WAIT_BAR_S = 10.0


@dataclass
class Ask:
    """One message as the shopper meant it, over all its sends."""

    shopper: Shopper
    kind: str
    text: str
    first: float  # epoch seconds of the first send
    attempts: int = 0
    acked: float = 0.0  # when the server answered it (0: never)
    ended: float = 0.0  # answered, or given up
    stored: int = 0  # copies in the tracker (filled in by the check)

    @property
    def wait(self) -> float:
        return (self.ended or time.time()) - self.first


@dataclass
class Fault:
    name: str
    how: str
    at: float = 0.0  # epoch seconds
    back_s: Optional[float] = None  # until the process answered again (None: it did not)
    notes: list[str] = field(default_factory=list)


class ChaosLoad(Load):
    """bench/loadtest.py's shoppers, sending again what got no answer, and recording it all."""

    def __init__(self, args: argparse.Namespace) -> None:
        args.duration = 24 * 3600.0  # the fault schedule ends the run (stop())
        super().__init__(args)
        self.asks: list[Ask] = []
        self.sights: list[tuple[float, str]] = []  # (epoch seconds, what a shopper saw)
        self.crashed: list[str] = []  # shopper or agent threads that died of an exception

    def stop(self) -> None:
        self.stop_at = time.monotonic()

    def saw(self, what: str) -> None:
        with self.lock:
            self.sights.append((time.time(), what))

    def ask(self, shopper: Shopper, kind: str, text: str) -> Ask:
        ask = Ask(shopper, kind, text, time.time())
        with self.lock:
            self.asks.append(ask)
        return ask

    def answered(self, ask: Ask, channel: str) -> None:
        ask.acked = ask.ended = time.time()
        ask.shopper.sent.append(ask.text)
        self.record(f"{ask.kind} ({channel})", ask.acked - ask.first)

    def next_send(self, ask: Ask, delay: float) -> bool:
        """Wait `delay` before sending again; False (given up) past `--give-up` seconds."""
        if time.time() + delay - ask.first > self.args.give_up:
            self.saw("gave up (no answer)")
            ask.ended = time.time()
            return False
        time.sleep(delay)
        self.saw("sent again")
        return True

    # -- REST ----------------------------------------------------------------------------------

    def run_rest(self, shopper: Shopper) -> None:
        shopper.sender = f"chaos-rest-{shopper.index}-{secrets.token_hex(3)}"
        http = requests.Session()
        for kind, text in self.next_messages(shopper):
            ask = self.ask(shopper, kind, text)
            while True:
                ask.attempts += 1
                delay = 1.0
                try:
                    r = http.post(f"{self.args.rasa}/webhooks/rest/webhook",
                                  json={"sender": shopper.sender, "message": text}, timeout=self.args.resend_after * 2)
                except requests.RequestException as error:
                    self.saw(f"REST: no answer ({error.__class__.__name__})")
                else:
                    if r.status_code == 200:
                        self.answered(ask, "rest")
                        texts = [m["text"] for m in r.json() if m.get("text")]
                        shopper.received += texts
                        if not texts:
                            self.saw("REST: empty answer")
                        break
                    if r.status_code == 503 and any(m.get("text") in WAIT_TEXTS for m in _json_list(r)):
                        self.saw("please wait a moment (REST 503)")
                        delay = min(5.0, float(r.headers.get("Retry-After") or 2))
                    else:
                        self.saw(f"REST: HTTP {r.status_code}")
                if not self.next_send(ask, delay):
                    break

    # -- website socket ------------------------------------------------------------------------

    def run_socket(self, shopper: Shopper) -> None:
        shopper.sender = f"chaos-web-{shopper.index}-{secrets.token_hex(3)}"
        line = Line(self, shopper)
        if not line.open():
            return
        try:
            for kind, text in self.next_messages(shopper):
                while line.take(0.05) is not None:  # late parts of earlier answers, pushes
                    pass
                ask = self.ask(shopper, kind, text)
                while not self.socket_send(line, ask):
                    if not self.next_send(ask, line.retry_delay):
                        break
                if ask.acked and kind == "handoff":
                    if not self.await_agent(shopper, line.take, time.monotonic()):
                        return  # still queued: the bot stays silent, so this shopper is done
        finally:
            time.sleep(2)
            shopper.closed_at = time.time()
            line.close()

    def socket_send(self, line: "Line", ask: Ask) -> bool:
        """Send once; True when answered."""
        line.retry_delay = 0.5
        if line.broken():
            line.reopen(ask.first + self.args.give_up)
        if not line.confirmed.wait(max(0.1, self.args.give_up - (time.time() - ask.first))):
            return False
        generation = line.generation
        ask.attempts += 1
        try:
            line.sio.emit("user_uttered", {"message": ask.text, "session_id": ask.shopper.sender})
        except Exception as error:  # the socket dropped between the check and the send
            self.saw(f"socket: send failed ({error.__class__.__name__})")
            return False
        sent = time.monotonic()
        reconnected_at = 0.0
        while True:
            text = line.take(0.2)
            if text is not None:
                if text in WAIT_TEXTS:
                    self.saw("please wait a moment (socket)")
                    line.retry_delay = 2.0
                    return False
                self.answered(ask, "socket")
                return True
            if line.broken():  # the message may not have left: send it again on a new connection
                line.reopen(ask.first + self.args.give_up)
                return False
            if line.generation != generation and not reconnected_at and line.confirmed.is_set():
                reconnected_at = time.monotonic()  # the answer went to the old socket, if anywhere
            if reconnected_at and time.monotonic() - reconnected_at > 2:
                return False
            if time.monotonic() - sent > self.args.resend_after:
                self.saw(f"socket: no answer in {self.args.resend_after:g} s")
                return False

    # -- the agent console ---------------------------------------------------------------------

    def run_agent(self, done: threading.Event) -> None:
        while not done.is_set():  # a console request that failed outright: log in again
            try:
                super().run_agent(done)
            except Exception as error:
                self.saw(f"agent console: {error.__class__.__name__}")
                done.wait(1)

    # -- consistency ---------------------------------------------------------------------------

    def check(self, shoppers: list[Shopper]) -> dict[str, int]:  # type: ignore[override]
        """Match every stored shopper message to the message it is a copy of: the shopper's
        latest message with that text sent before it was stored."""
        totals: Counter = Counter()
        by_shopper: dict[int, list[Ask]] = defaultdict(list)
        for ask in self.asks:
            by_shopper[ask.shopper.index].append(ask)
        for s in shoppers:
            if not s.sender:
                continue
            events = self.tracker_events(s.sender)
            if events is None:
                totals["trackers unreadable"] += 1
                continue
            asks = by_shopper[s.index]
            last = -1
            for e in events:
                if e["event"] != "user":
                    continue
                candidates = [i for i, a in enumerate(asks) if a.text == e.get("text") and a.first <= e["timestamp"] + 0.5]
                if not candidates:
                    totals["stored but never sent"] += 1
                    continue
                asks[candidates[-1]].stored += 1
                totals["out of order"] += int(candidates[-1] < last)
                last = max(last, candidates[-1])
        return dict(totals)


class Line:
    """A chaos shopper's website socket: reconnects like the widget (session_request again).

    python-engineio's polling client, unlike the browser's socket.io client, does not close the
    connection when a POST fails (e.g. it reached a restarted replica that does not know the
    session): it stops sending and notices only when its pending long-poll returns, up to 30 s
    later. `broken` spots that state and `reopen` does what the browser does: a new connection.
    """

    def __init__(self, load: ChaosLoad, shopper: Shopper) -> None:
        self.load, self.shopper = load, shopper
        self.inbox: queue.Queue = queue.Queue()
        self.confirmed = threading.Event()
        self.generation = 0  # sessions confirmed so far
        self.retry_delay = 0.5
        self.closing = False
        self.sio = self._client()

    def _client(self) -> socketio.Client:
        sio = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2,
                              randomization_factor=0.2)
        sio.on("connect", self._connected)
        sio.on("disconnect", self._dropped)
        sio.on("session_confirm", self._confirmed)
        sio.on("bot_uttered", self.inbox.put)
        return sio

    def broken(self) -> bool:
        eio = self.sio.eio
        return self.confirmed.is_set() and eio.state == "connected" and eio.write_loop_task is None

    def reopen(self, deadline: float) -> None:
        """Drop the half-dead connection and open a new one (until `deadline`, epoch seconds)."""
        self.load.saw("socket: connection lost (send failed)")
        old = self.sio
        old.reconnection = False
        old.handlers = {}
        self.confirmed.clear()
        try:
            old.eio.disconnect(abort=True)
        except Exception:
            pass
        self.sio = self._client()
        while time.time() < deadline:
            try:
                self._connect(wait_timeout=5)
                if self.confirmed.wait(10):
                    return
            except Exception:
                pass
            time.sleep(0.5)

    def _connected(self) -> None:
        self.sio.emit("session_request", {"session_id": self.shopper.sender})

    def _confirmed(self, *_: Any) -> None:
        self.generation += 1
        if self.generation > 1:
            self.load.saw("socket: reconnected")
        self.confirmed.set()

    def _dropped(self) -> None:
        self.confirmed.clear()
        if not self.closing:
            self.load.saw("socket: connection lost")

    def _connect(self, wait_timeout: float) -> None:
        # polling: there is no websocket-client in .venv-rasa
        self.sio.connect(f"{self.load.args.rasa}?sid_hint={self.shopper.sender}", socketio_path="/socket.io",
                         transports=["polling"], wait_timeout=wait_timeout)

    def open(self) -> bool:
        try:
            self._connect(wait_timeout=30)
        except Exception as error:
            self.load.error(f"socket: connect failed ({error.__class__.__name__})")
            return False
        if not self.confirmed.wait(30):
            self.load.error("socket: no session_confirm")
            return False
        return True

    def take(self, timeout: float) -> Optional[str]:
        """The next text the shopper receives (markers without text are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = self.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            text = (data or {}).get("text") or ""
            if text:
                self.shopper.received.append(text)
                if text.startswith(AGENT_PREFIX):
                    self.shopper.agent_messages += 1
                return text

    def close(self) -> None:
        self.closing = True
        try:
            self.sio.disconnect()
        except Exception:
            pass


def _json_list(r: requests.Response) -> list[dict]:
    try:
        body = r.json()
    except ValueError:
        return []
    return [m for m in body if isinstance(m, dict)] if isinstance(body, list) else []


# -- faults ------------------------------------------------------------------------------------


class Faults:
    """The fault schedule against one scaled profile (ports as in scripts/run_scaled.sh)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pids = Path(args.scaled_dir) / "pids"
        base = args.base
        token = f"?token={args.token}"
        self.plan: list[tuple[Fault, Callable[[Fault], None]]] = [
            (Fault("Rasa replica", "kill -9 of Rasa replica 0; its supervisor starts it again"),
             lambda f: self.kill(f, "rasa-0", f"http://127.0.0.1:{base + 10}/status{token}")),
            (Fault("action server", "kill -9 of action server 0; its supervisor starts it again"),
             lambda f: self.kill(f, "actions-0", f"http://127.0.0.1:{base + 20}/health")),
            (Fault("bridge process", "kill -9 of bridge process 0; its supervisor starts it again"),
             lambda f: self.kill(f, "bridge-0", f"http://127.0.0.1:{base + 30}/health")),
            (Fault("PostgreSQL", "restart: scripts/postgres.sh stop, then start (pg_ctl -m fast)"),
             self.restart_postgres),
            (Fault("Redis", "restart: SIGTERM to redis-server; its supervisor starts it again"),
             self.restart_redis),
        ]

    def pid(self, name: str) -> int:
        return int((self.pids / f"{name}.pid").read_text().strip())

    def wait_back(self, fault: Fault, ok: Callable[[], bool]) -> None:
        deadline = fault.at + self.args.back_within
        while time.time() < deadline:
            if ok():
                fault.back_s = round(time.time() - fault.at, 1)
                return
            time.sleep(0.25)
        fault.notes.append(f"not back within {self.args.back_within:g} s")

    def kill(self, fault: Fault, name: str, health: str) -> None:
        old = self.pid(name)
        fault.at = time.time()
        os.kill(old, signal.SIGKILL)
        fault.notes.append(f"pid {old} killed")

        def back() -> bool:
            try:
                return self.pid(name) != old and requests.get(health, timeout=2).status_code == 200
            except (OSError, ValueError, requests.RequestException):
                return False

        self.wait_back(fault, back)
        if fault.back_s is not None:
            fault.notes.append(f"new pid {self.pid(name)}")

    def restart_postgres(self, fault: Fault) -> None:
        env = dict(os.environ, SAATHI_TEST_PG_URL="", SAATHI_TEST_PG_DIR=self.args.pg_dir,
                   SAATHI_TEST_PG_PORT=str(self.args.base + 41))
        script = str(ROOT / "scripts" / "postgres.sh")
        fault.at = time.time()
        for step in ("stop", "start"):
            done = subprocess.run([script, step], env=env, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                fault.notes.append(f"postgres.sh {step} failed: {done.stderr.strip()[-300:]}")
        self.wait_back(fault, lambda: _answers(self.args.base + 41, b""))

    def restart_redis(self, fault: Fault) -> None:
        old = self.pid("redis")
        fault.at = time.time()
        os.kill(old, signal.SIGTERM)
        while _alive(old) and time.time() < fault.at + 30:  # down first, then up again
            time.sleep(0.02)
        fault.notes.append(f"pid {old} stopped after {time.time() - fault.at:.2f} s")
        self.wait_back(fault, lambda: _answers(self.args.base + 40, b"PING\r\n", b"+PONG"))

    def run(self, load: ChaosLoad) -> list[Fault]:
        time.sleep(self.args.warmup)
        done = []
        for fault, act in self.plan:
            print(f"[chaos] {time.strftime('%H:%M:%S')} fault: {fault.how}", flush=True)
            act(fault)
            print(f"[chaos]   back after {fault.back_s} s; {'; '.join(fault.notes)}", flush=True)
            done.append(fault)
            time.sleep(self.args.settle)
        load.stop()
        return done


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has exited (its supervisor has not reaped it yet)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _answers(port: int, send: bytes, expect: bytes = b"") -> bool:
    """Something accepts on 127.0.0.1:port (and answers `send` with `expect`)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            if send:
                conn.sendall(send)
                return conn.recv(64).startswith(expect)
            return True
    except OSError:
        return False


# -- report ------------------------------------------------------------------------------------


def window_report(asks: list[Ask], sights: list[tuple[float, str]], started: float) -> dict[str, Any]:
    waits = [a.wait for a in asks]
    acked = [a for a in asks if a.acked]
    return {
        "messages": len(asks),
        "answered": len(acked),
        "never_answered": len(asks) - len(acked),
        "longest_wait_s": round(max(waits), 1) if waits else None,
        "p50_wait_s": round(percentile(waits, 50), 2) if waits else None,
        "waits_over_10s": sum(w > WAIT_BAR_S for w in waits),
        "acknowledged_lost": sum(1 for a in acked if a.stored == 0),
        "duplicated": sum(max(0, a.stored - a.attempts) for a in asks),
        "stored_twice_after_resend": sum(max(0, min(a.stored, a.attempts) - 1) for a in asks),
        "sent_again": sum(a.attempts - 1 for a in asks),
        "slowest": [{"shopper": a.shopper.sender, "kind": a.kind, "first_s": round(a.first - started, 1),
                     "wait_s": round(a.wait, 1), "sends": a.attempts, "answered": bool(a.acked), "stored": a.stored}
                    for a in sorted(asks, key=lambda a: -a.wait)[:3]],
        "shoppers_saw": dict(Counter(what for _, what in sights).most_common()),
    }


def report(load: ChaosLoad, faults: list[Fault], started: float, consistency: dict[str, int]) -> dict[str, Any]:
    starts = [started] + [f.at for f in faults]
    names = ["before the faults"] + [f.name for f in faults]

    def window(t: float) -> int:
        return max(i for i, s in enumerate(starts) if s <= t) if t >= starts[0] else 0

    asks: dict[int, list[Ask]] = defaultdict(list)
    for a in load.asks:
        asks[window(a.ended or time.time())].append(a)
    sights: dict[int, list] = defaultdict(list)
    for t, what in load.sights:
        sights[window(t)].append((t, what))
    windows = []
    for i, name in enumerate(names):
        entry = {"window": name, **window_report(asks[i], sights[i], started)}
        if i:
            f = faults[i - 1]
            entry = {"fault": f.name, "how": f.how, "at_s": round(f.at - started, 1),
                     "process_back_s": f.back_s, "notes": f.notes, **entry}
        windows.append(entry)
    for entry in windows[1:]:  # a window without messages proves nothing: not met
        entry["bar_wait_met"] = (entry["messages"] > 0 and entry["longest_wait_s"] <= WAIT_BAR_S
                                 and entry["never_answered"] == 0)
    lost = sum(w["acknowledged_lost"] for w in windows)
    return {
        "windows": windows,
        "totals": {
            "messages": len(load.asks), "answered": sum(1 for a in load.asks if a.acked),
            "acknowledged_lost": lost, "duplicated": sum(w["duplicated"] for w in windows),
            "stored_twice_after_resend": sum(w["stored_twice_after_resend"] for w in windows),
            "consistency": consistency, "errors": dict(load.errors),
        },
        "bars": {
            "no shopper waits more than 10 s after any fault": all(w["bar_wait_met"] for w in windows[1:]),
            "0 acknowledged messages lost": lost == 0 and not consistency.get("trackers unreadable"),
            "every shopper ran to the end": not load.crashed,
        },
    }


def print_report(result: dict[str, Any]) -> None:
    cols = {"messages": "messages", "longest_wait_s": "max wait s", "waits_over_10s": "waits >10 s",
            "never_answered": "unanswered", "acknowledged_lost": "acked lost", "duplicated": "duplicated",
            "stored_twice_after_resend": "2x (re-sent)"}
    print(f"\n{'window':<20}{'back s':>8}" + "".join(f"{label:>13}" for label in cols.values()))
    for w in result["windows"]:
        print(f"{w.get('fault', w.get('window')):<20}{str(w.get('process_back_s', '')):>8}"
              + "".join(f"{str(w[c]):>13}" for c in cols))
    print("\nwhat shoppers saw:")
    for w in result["windows"]:
        print(f"  {w.get('fault', w.get('window'))}: {json.dumps(w['shoppers_saw'], ensure_ascii=False)}")
    print("\ntotals:", json.dumps(result["totals"], ensure_ascii=False))
    for bar, met in result["bars"].items():
        print(f"bar: {bar}: {'met' if met else 'NOT MET'}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    stack_arguments(parser, shoppers=20, max_messages=400)
    parser.add_argument("--base", type=int, required=True, help="SAATHI_SCALED_PORT of the profile")
    parser.add_argument("--scaled-dir", required=True, help="$SAATHI_RUN_DIR/scaled of the profile (pids/)")
    parser.add_argument("--pg-dir", required=True, help="SAATHI_SCALED_PG_DIR of the profile")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of load before the first fault")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after a process is back")
    parser.add_argument("--back-within", type=float, default=300.0, help="longest wait for a process")
    parser.add_argument("--resend-after", type=float, default=8.0, help="seconds of silence before re-sending")
    parser.add_argument("--give-up", type=float, default=60.0, help="seconds after which a message is given up")
    parser.add_argument("--command", default="", help="the command that ran this, for the report")
    args = parser.parse_args(argv)
    args.shoppers = max(1, min(args.shoppers, 200))

    load = ChaosLoad(args)

    def crashed(info: threading.ExceptHookArgs) -> None:
        load.crashed.append(f"{info.exc_type.__name__}: {info.exc_value}")
        sys.__excepthook__(info.exc_type, info.exc_value, info.exc_traceback)

    threading.excepthook = crashed
    done = threading.Event()
    started = time.time()
    shoppers, threads = start_shoppers(load, args.shoppers, done)
    faults = Faults(args).run(load)
    deadline = time.time() + args.give_up + 30  # a message in progress may still be tried again
    for t in threads:
        t.join(max(0.1, deadline - time.time()))
    done.set()
    hung = sum(t.is_alive() for t in threads)
    consistency = load.check(shoppers)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, {_cpu_model()}",
        "command": args.command or "bench/chaos.py", "shoppers": args.shoppers,
        "duration_s": round(time.time() - started), "settle_s": args.settle, "resend_after_s": args.resend_after,
        "hung_shoppers": hung, "crashed_threads": load.crashed[:5], **report(load, faults, started, consistency),
    }
    result["bars"]["every shopper ran to the end"] = not load.crashed and hung == 0
    print_report(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=2)
    return 0 if all(result["bars"].values()) else 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())

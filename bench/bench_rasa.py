"""Benchmark Saathi against a bare `rasa init` bot on this machine, in one run.

For each bot: cold training time, REST turn latency (one conversation at a time),
throughput and p95 with 10 conversations sending without pause, and resident memory of
each server. Ratios make the figures comparable however busy the machine is.

Run with `make bench` (not part of `make test`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # kb_index.evaluate writes the README block
VENV_RASA = Path(os.environ.get("SAATHI_VENV_RASA", ROOT / ".venv-rasa"))
VENV_APP = Path(os.environ.get("SAATHI_VENV_APP", ROOT / ".venv"))
RASA = str(VENV_RASA / "bin" / "rasa")
BARE_RESULTS = ROOT / "bench" / "results" / "bench_rasa.json"

SAATHI_MESSAGES = [
    "hello", "where is my order", "mera order kab aayega", "आमार অর্ডারটা কোথায়?",
    "मुझे ऑर्डर कैंसिल करना है", "amar refund kobe pabo", "can I return shoes after 10 days?",
    "thanks", "payment failed but money deducted", "are you a bot?", "bye",
]
# Help-centre questions: each turn runs a retrieval on the action server.
FAQ_MESSAGES = [
    "what is your return policy", "রিফান্ড কত দিনে পাবো?", "cod milega kya", "वारंटी क्लेम कैसे करें?",
    "coupon code kaj korche na", "how long does delivery take to Kolkata",
]
BARE_MESSAGES = ["hello", "I am sad", "yes", "are you a bot?", "great", "bye", "no", "good morning"]


def heldout_questions() -> list[str]:
    """Answerable held-out help-centre questions, all forms, each once."""
    import yaml

    out: list[str] = []
    for path in ("tests/kb_heldout/questions.yml", "tests/kb_heldout_grocery/questions.yml"):
        out += [q["q"] for q in yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))["questions"] if q.get("article")]
    return list(dict.fromkeys(out))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(k) for k in kids]
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def train(project: Path, out: Path, env: dict) -> tuple[Path, float]:
    cache = Path(tempfile.mkdtemp(prefix="rasa-cache-"))
    env = dict(env, RASA_CACHE_DIRECTORY=str(cache))
    start = time.monotonic()
    subprocess.run(
        [RASA, "train", "--out", str(out), "--fixed-model-name", "bench", "--quiet"],
        cwd=project, env=env, check=True, stdout=subprocess.DEVNULL,
    )
    took = time.monotonic() - start
    shutil.rmtree(cache, ignore_errors=True)
    return out / "bench.tar.gz", took


def wait(url: str, proc: subprocess.Popen, limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.args}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not up after {limit}s")


def turn(url: str, sender: str, text: str) -> float:
    t = time.perf_counter()
    r = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
    r.raise_for_status()
    return (time.perf_counter() - t) * 1000


def pctl(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def sequential(url: str, messages: list[str], turns: int, per_conversation: int = 0, prefix: str = "seq") -> list[float]:
    """Turns one at a time; a new conversation every `per_conversation` turns (default: every
    pass over the messages), so conversations stay as short as a shopper's."""
    per = per_conversation or len(messages)
    out = []
    for i in range(turns):
        out.append(turn(url, f"{prefix}-{i // per}", messages[i % len(messages)]))
    return out


def concurrent(url: str, messages: list[str], users: int, seconds: float) -> tuple[float, list[float]]:
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            ms = turn(url, f"conc-{n}-{i // len(messages)}", messages[i % len(messages)])
            with lock:
                lat.append(ms)
            i += 1

    start = time.monotonic()
    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat) / (time.monotonic() - start), lat


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200, help="sequential turns per bot")
    ap.add_argument("--seconds", type=float, default=40, help="length of the concurrent phase")
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--write-readme", action="store_true", help="put the table into docs/results/bench_rasa.md")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="saathi-bench-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    bare = work / "bare"
    import rasa.cli

    shutil.copytree(Path(rasa.cli.__file__).parent / "initial_project", bare)
    print(f"machine: {os.cpu_count()} cores, {platform()}; work dir {work}", flush=True)

    print("training the bare rasa init bot (cold cache) ...", flush=True)
    bare_model, bare_train = train(bare, work / "models-bare", env)
    print("training Saathi (cold cache) ...", flush=True)
    saathi_model, saathi_train = train(ROOT, work / "models-saathi", env)

    results = {}
    for name, model, project, messages in (
        ("bare", bare_model, bare, BARE_MESSAGES),
        ("saathi", saathi_model, ROOT, SAATHI_MESSAGES),
    ):
        procs = []
        senv = dict(env, SAATHI_RUN_DIR=str(work / name), SAATHI_TRACKER_DB=str(work / f"{name}-tracker.db"),
                    SAATHI_ENV_FILE=str(work / "none.env"))
        (work / name).mkdir(exist_ok=True)
        port = free_port()
        cmd = [RASA, "run", "--model", str(model), "--port", str(port)]
        action_proc = None
        if name == "saathi":
            aport = free_port()
            senv["SAATHI_ACTION_URL"] = f"http://127.0.0.1:{aport}/webhook"
            senv["SAATHI_BRIDGE_URL"] = f"http://127.0.0.1:{free_port()}"
            senv["SAATHI_KB_INDEX"] = str(work / "kb_index")
            senv["SAATHI_KB_DB"] = f"sqlite:///{work / 'kb.db'}"
            subprocess.run([str(VENV_APP / "bin" / "python"), "-m", "kb_index", "build",
                            str(ROOT / "kb_index" / "demo"), "--index", senv["SAATHI_KB_INDEX"]],
                           cwd=ROOT, env=senv, check=True, stdout=subprocess.DEVNULL)
            action_proc = subprocess.Popen(
                [str(VENV_APP / "bin" / "python"), "-m", "rasa_sdk", "--actions", "actions", "--port", str(aport)],
                cwd=ROOT, env=senv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(action_proc)
            wait(f"http://127.0.0.1:{aport}/health", action_proc)
            cmd += ["--credentials", "credentials.yml", "--endpoints", "endpoints.yml"]
        proc = subprocess.Popen(cmd, cwd=project, env=senv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        try:
            wait(f"http://127.0.0.1:{port}/", proc)
            url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
            for m in messages + (FAQ_MESSAGES if name == "saathi" else []):  # warm-up
                turn(url, "warm", m)
            seq = sequential(url, messages, args.turns)
            # Help-centre questions that do not repeat (no cache keyed on text could serve one):
            # the held-out questions of both help centres, six to a conversation.
            faq = sequential(url, heldout_questions(), args.turns // 2, per_conversation=6,
                             prefix="faq") if name == "saathi" else []
            tput, conc = concurrent(url, messages, args.users, args.seconds)
            results[name] = {
                "p50": statistics.median(seq), "p95": pctl(seq, 95), "tput": tput,
                "faq_p95": pctl(faq, 95) if faq else 0.0,
                "conc_p95": pctl(conc, 95), "rss": rss_mb(proc.pid),
                "actions_rss": rss_mb(action_proc.pid) if action_proc else 0.0,
            }
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)

    b, s = results["bare"], results["saathi"]
    rows = [
        "| figure | bare rasa init | Saathi | ratio | bar |",
        "|---|---|---|---|---|",
        f"| training, cold cache (s) | {bare_train:.0f} | {saathi_train:.0f} | {saathi_train / bare_train:.2f} | Saathi <= 180 s |",
        f"| turn p50, 1 conversation (ms) | {b['p50']:.0f} | {s['p50']:.0f} | {s['p50'] / b['p50']:.2f} | |",
        f"| turn p95, 1 conversation (ms) | {b['p95']:.0f} | {s['p95']:.0f} | {s['p95'] / b['p95']:.2f} | <= 1.2x |",
        f"| help-centre answer turn p95, 1 conversation (ms) | {b['p95']:.0f} (any turn) | {s['faq_p95']:.0f} | {s['faq_p95'] / b['p95']:.2f} | <= 1.2x |",
        f"| throughput, {args.users} conversations (turns/s) | {b['tput']:.1f} | {s['tput']:.1f} | {s['tput'] / b['tput']:.2f} | >= 1.0x |",
        f"| turn p95, {args.users} conversations (ms) | {b['conc_p95']:.0f} | {s['conc_p95']:.0f} | {s['conc_p95'] / b['conc_p95']:.2f} | |",
        f"| Rasa server RSS (MB) | {b['rss']:.0f} | {s['rss']:.0f} | {s['rss'] / b['rss']:.2f} | |",
        f"| action server RSS (MB) | - | {s['actions_rss']:.0f} | | |",
    ]
    ok = (saathi_train <= 180 and s["p95"] <= 1.2 * b["p95"] and s["tput"] >= b["tput"]
          and s["faq_p95"] <= 1.2 * b["p95"])
    stamp = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({platform()}), "
             f"command `make bench` ({args.turns} sequential turns, {args.users} conversations for "
             f"{args.seconds:.0f} s); bars {'met' if ok else 'NOT met'}.")
    print("\n" + "\n".join(rows) + "\n\n" + stamp)
    if args.write_readme:
        from kb_index.evaluate import write_readme

        write_readme(ROOT / "docs" / "results" / "bench_rasa.md", "\n".join([stamp, ""] + rows), name="bench")
    # The bare bot's REST turn is the yardstick of the later benches of the same `make bench` run.
    BARE_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    BARE_RESULTS.write_text(json.dumps({"measured_at": time.time(), "bare": b, "saathi": s}))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def bare_rest_p95(max_age_s: float = 3 * 3600) -> float | None:
    """The bare `rasa init` bot's REST turn p95 (ms) from this run's bench_rasa, if recent."""
    try:
        data = json.loads(BARE_RESULTS.read_text())
    except (OSError, ValueError):
        return None
    return data["bare"]["p95"] if time.time() - data["measured_at"] <= max_age_s else None


def platform() -> str:
    import platform as p

    return f"{p.system()} {p.machine()}, Python {p.python_version()}"


if __name__ == "__main__":
    sys.exit(main())

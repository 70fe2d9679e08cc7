"""Order-status turn latency over the REST webhook with 10,000 and 1,000,000 orders.

For each size: a fresh SQLite orders database (the demo shop plus N synthetic orders, seeded
through the real CLI), a real action server and a real Rasa server. One conversation proves
it owns KM-10234, then asks for its status again and again, one turn at a time; p50/p95 of
those verified order-status turns are printed (and written into docs/results/bench_orders.md with
--write-readme). Bar: p95 <= 150 ms at 1,000,000 orders.

    .venv/bin/python bench/bench_orders.py MODEL.tar.gz [--turns 200] [--sizes 10000,1000000]
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_rasa import free_port, pctl, platform, rss_mb, wait  # noqa: E402

VENV_RASA = Path(os.environ.get("SAATHI_VENV_RASA", ROOT / ".venv-rasa"))
VENV_APP = Path(os.environ.get("SAATHI_VENV_APP", ROOT / ".venv"))
# Rasa re-reads a conversation's whole tracker every turn, so one 200-turn conversation would
# measure the tracker's length, not the order database: each simulated shopper, once verified,
# asks about the order this many times.
TURNS_PER_CONVERSATION = 10
QUESTIONS = ["where is my order KM-10234", "mera order KM-10234 kahan hai", "আমার অর্ডার KM-10234 কোথায়?"]


def say(url: str, sender: str, text: str) -> tuple[float, str]:
    t = time.perf_counter()
    r = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
    r.raise_for_status()
    took = (time.perf_counter() - t) * 1000
    return took, " ".join(m.get("text", "") for m in r.json())


def measure(size: int, model: str, turns: int, work: Path) -> dict:
    py = str(VENV_APP / "bin" / "python")
    run_dir = work / f"n{size}"
    run_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", SAATHI_ENV_FILE=str(run_dir / "none.env"),
               SAATHI_RUN_DIR=str(run_dir), SAATHI_ORDERS_DB=f"sqlite:///{run_dir / 'orders.db'}",
               SAATHI_TRACKER_DB=str(run_dir / "tracker.db"), SAATHI_KB_INDEX=str(work / "kb_index"),
               SAATHI_KB_DB=f"sqlite:///{run_dir / 'kb.db'}", SAATHI_BRIDGE_URL=f"http://127.0.0.1:{free_port()}",
               SAATHI_LOOKUP_LIMIT="100000")
    started = time.monotonic()
    subprocess.run([py, "-m", "actions.orders", "seed-demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([py, "-m", "actions.orders", "seed-bulk", str(size)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    seeded = time.monotonic() - started
    aport, rport = free_port(), free_port()
    env["SAATHI_ACTION_URL"] = f"http://127.0.0.1:{aport}/webhook"
    procs = [subprocess.Popen([py, "-m", "rasa_sdk", "--actions", "actions", "--port", str(aport)], cwd=ROOT, env=env,
                              stdout=(run_dir / "actions.log").open("w"), stderr=subprocess.STDOUT)]
    procs.append(subprocess.Popen(
        [str(VENV_RASA / "bin" / "rasa"), "run", "--model", model, "--port", str(rport),
         "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"],
        cwd=ROOT, env=env, stdout=(run_dir / "rasa.log").open("w"), stderr=subprocess.STDOUT))
    try:
        wait(f"http://127.0.0.1:{aport}/health", procs[0])
        wait(f"http://127.0.0.1:{rport}/", procs[1])
        url = f"http://127.0.0.1:{rport}/webhooks/rest/webhook"
        def verified_shopper() -> tuple[str, float]:
            sender = "bench-" + secrets.token_hex(4)
            took, text = say(url, sender, "where is my order KM-10234, phone 9876543210")
            if "Priya" not in text:
                raise SystemExit(f"verification turn did not answer with the order: {text!r}")
            return sender, took

        sender, first = verified_shopper()
        for q in QUESTIONS:  # warm-up
            say(url, sender, q)
        times = []
        for i in range(turns):
            if i % TURNS_PER_CONVERSATION == 0:  # a shopper's conversation is a few turns long
                sender, _ = verified_shopper()  # the verifying turn is not timed
            took, text = say(url, sender, QUESTIONS[i % len(QUESTIONS)])
            if "KM-10234" not in text or "DEL" not in text:
                raise SystemExit(f"turn {i} did not answer with the order status: {text!r}")
            times.append(took)
        return {"size": size, "seeded_s": seeded, "verify_ms": first, "p50": statistics.median(times),
                "p95": pctl(times, 95), "max": max(times), "actions_rss": rss_mb(procs[0].pid)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="saathi-bench-orders-"))
    print(f"machine: {os.cpu_count()} cores, {platform()}; work dir {work}", flush=True)
    subprocess.run([str(VENV_APP / "bin" / "python"), "-m", "kb_index", "build", str(ROOT / "kb_index" / "demo"),
                    "--index", str(work / "kb_index")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1"))
    rows = ["| orders in the database | seeding (s) | first turn, verifying (ms) | verified status turn p50 (ms) "
            "| p95 (ms) | max (ms) | action server RSS (MB) |", "|---|---|---|---|---|---|---|"]
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        print(f"{size} orders ...", flush=True)
        r = measure(size, args.model, args.turns, work)
        results.append(r)
        rows.append(f"| {r['size']:,} | {r['seeded_s']:.0f} | {r['verify_ms']:.0f} | {r['p50']:.0f} | {r['p95']:.0f} "
                    f"| {r['max']:.0f} | {r['actions_rss']:.0f} |")
    ok = results[-1]["p95"] <= 150
    stamp = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({platform()}), command `make bench` "
             f"(bench/bench_orders.py, SQLite orders database, {args.turns} sequential verified order-status turns in en/hi-Latn/bn, "
             f"{TURNS_PER_CONVERSATION} per shopper conversation); "
             f"bar p95 <= 150 ms at the largest size: {'met' if ok else 'NOT met'}.")
    print("\n" + "\n".join(rows) + "\n\n" + stamp)
    if args.write_readme:
        from kb_index.evaluate import write_readme

        write_readme(ROOT / "docs" / "results" / "bench_orders.md", "\n".join([stamp, ""] + rows), name="bench-orders")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

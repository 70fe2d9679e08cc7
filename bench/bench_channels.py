"""Channel latency on the real stack: a signed webhook in, until the reply reaches "Meta".

For WhatsApp and Messenger, one conversation at a time: a signed webhook POST (as Meta sends it)
until the RecordingServer (standing in for the Graph API) has received the turn's last reply
call; compared with a REST turn (POST until the reply body) of the same Saathi server and the
same messages. A shopper's conversation lasts CONVERSATION turns, as bench_rasa.py's (the bare
bot's 8, Saathi's 11), then the next shopper writes; one REST conversation of all the turns
shows how a turn's cost grows with a long conversation. Runs in .venv-rasa:

    .venv-rasa/bin/python bench/bench_channels.py MODEL.tar.gz [--n 60] [--write-readme]
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_rasa import bare_rest_p95, pctl, platform  # noqa: E402
from bot.channels.meta import SIGNATURE_HEADER, sign  # noqa: E402
from tests.stack import CHANNEL_ENV, running_stack  # noqa: E402

# A greeting, an order question, a help-centre question (buttons), a Hindi and a Bengali message.
MESSAGES = ["hello", "where is my order?", "what is your return policy?", "नमस्ते", "রিফান্ড কবে পাব?"]
CONVERSATION = 10  # turns per shopper: two rounds of MESSAGES


def signed_post(url: str, body: dict) -> None:
    raw = json.dumps(body).encode()
    r = requests.post(url, data=raw, timeout=60, headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: sign(CHANNEL_ENV["SAATHI_META_APP_SECRET"], raw)})
    r.raise_for_status()


def whatsapp_body(number: str, text: str) -> dict:
    message = {"from": number, "id": f"wamid.BENCH{secrets.token_hex(8)}", "timestamp": str(int(time.time())),
               "type": "text", "text": {"body": text}}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": CHANNEL_ENV["SAATHI_WHATSAPP_PHONE_NUMBER_ID"]},
        "messages": [message]}}]}]}


def messenger_body(psid: str, text: str) -> dict:
    event = {"sender": {"id": psid}, "recipient": {"id": "PAGE"}, "timestamp": int(time.time() * 1000),
             "message": {"mid": f"m_BENCH{secrets.token_hex(8)}", "text": text}}
    return {"object": "page", "entry": [{"id": "PAGE", "time": int(time.time() * 1000), "messaging": [event]}]}


def webhook_turns(stack: dict, channel: str, n: int, body: Callable[[str, str], dict],
                  is_reply: Callable[[dict, str], bool], new_sender: Callable[[], str]) -> list[float]:
    """ms from the signed POST until the last reply call of the turn arrived at the recorder."""
    recorder, url, out = stack["recorder"], f"{stack['rasa']}/webhooks/{channel}/webhook", []
    for i in range(n):
        if i % CONVERSATION == 0:
            sender = new_sender()
        t0 = time.monotonic()
        signed_post(url, body(sender, MESSAGES[i % len(MESSAGES)]))
        # The connector answers Meta after the turn's replies went out; the recorder notes each
        # call's arrival time before answering it.
        recorder.wait_for(lambda c: c["at"] >= t0 and is_reply(c, sender), timeout=30)
        time.sleep(0.05)  # a reply answered just before the POST returned may still be in the recorder's bookkeeping
        out.append((max(c["at"] for c in recorder.calls if c["at"] >= t0 and is_reply(c, sender)) - t0) * 1000)
        recorder.clear()
    return out


def rest_turns(stack: dict, n: int, conversation: int = CONVERSATION) -> list[float]:
    out = []
    for i in range(n):
        if i % conversation == 0:
            sender = f"bench-rest-{secrets.token_hex(4)}"
        t0 = time.monotonic()
        r = requests.post(f"{stack['rasa']}/webhooks/rest/webhook", timeout=60,
                          json={"sender": sender, "message": MESSAGES[i % len(MESSAGES)]})
        r.raise_for_status()
        out.append((time.monotonic() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--n", type=int, default=60, help="turns per channel")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="saathi-bench-channels-"))
    print(f"machine: {os.cpu_count()} cores, {platform()}; starting the stack ...", flush=True)
    with running_stack(work, args.model) as stack:
        def number() -> str:
            return "9198" + str(secrets.randbelow(10**8)).zfill(8)

        def psid() -> str:
            return "2" + str(secrets.randbelow(10**15)).zfill(15)

        wa_path = f"/v19.0/{CHANNEL_ENV['SAATHI_WHATSAPP_PHONE_NUMBER_ID']}/messages"
        rest_turns(stack, len(MESSAGES))  # warm-up: first turns load lazily
        results = {
            "REST turn (POST until the reply body)": rest_turns(stack, args.n),
            "WhatsApp (signed webhook until the last Graph API send)": webhook_turns(
                stack, "whatsapp", args.n, whatsapp_body,
                lambda c, s: c["path"] == wa_path and (c["json"] or {}).get("to") == s, number),
            "Messenger (signed webhook until the last Send API call)": webhook_turns(
                stack, "messenger", args.n, messenger_body,
                lambda c, s: c["path"] == "/v19.0/me/messages" and ((c["json"] or {}).get("recipient") or {}).get("id") == s,
                psid),
            f"REST turn, one conversation of all {args.n} turns": rest_turns(stack, args.n, conversation=args.n),
        }
    bare = bare_rest_p95()  # measured by bench_rasa.py earlier in the same `make bench`
    rows = ["| path | turns | p50 (ms) | p95 (ms) | max (ms) | p95 / bare `rasa init` REST p95 (bar <= 1.5x) |",
            "|---|---|---|---|---|---|"]
    for name, values in results.items():
        ratio = f"{pctl(values, 95) / bare:.2f}" if bare else "(bare bot not measured in this run)"
        if name.startswith("REST turn, one conversation"):
            ratio += " (not the bar's measure)"
        rows.append(f"| {name} | {len(values)} | {statistics.median(values):.0f} | {pctl(values, 95):.0f} | "
                    f"{max(values):.0f} | {ratio} |")
    if bare:
        rows.append(f"| bare `rasa init` bot, REST turn (bench_rasa.py, same run) | | | {bare:.0f} | | 1.00 |")
    stamp = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({platform()}), command "
             f"`.venv-rasa/bin/python bench/bench_channels.py MODEL --n {args.n}`; one conversation at a time, "
             f"messages cycling through {len(MESSAGES)} (greeting, order, help centre with buttons, Hindi, Bengali), "
             f"a new shopper every {CONVERSATION} turns; "
             "the Graph API is a loopback recorder, so Meta's own network time is not included.")
    print("\n" + "\n".join(rows) + "\n\n" + stamp)
    if args.write_readme:
        from kb_index.evaluate import write_readme

        write_readme(ROOT / "docs" / "results" / "bench_channels.md", "\n".join([stamp, ""] + rows), name="bench-channels")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

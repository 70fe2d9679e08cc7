"""What Saathi does with out-of-scope requests: run the held-out set through a real stack.

    .venv-rasa/bin/python bench/eval_oos.py MODEL [--forms en,hi] [--limit N] [--results PATH]

Every message of `tests/oos_heldout/<form>.yml` is sent as a fresh conversation (a new uuid sender)
to the REST webhook of a stack started by tests/stack.py; then that conversation's tracker is read
from Rasa's HTTP API. Intent accuracy (make eval) does not show what the shopper gets: an article
or an order question after "cancel my alarm" is the failure that matters, so each conversation is
classified by its tracker events:

- article: a bot message containing the help-centre URL (SAATHI_HELP_CENTRE_URL; article URLs sit
  under it) or sent as utter_kb_answer*, or a `slot` event setting `kb_article_id` to a value
  (actions/kb.py: action_answer_faq sets it whenever it quotes an article).
- order flow: action_order_request (actions/order_flow.py) runs for every order intent and for
  `inform`, and asks through responses, not a form slot: the flow started when a `slot` event set
  `order_request` or `requested_slot`, an `active_loop` event named a form (address_form,
  bank_reference_form), or a bot message came from one of ORDER_ASKS (the bot event's
  `metadata.utter_action`). A bare `inform` that only gets `utter_inform_ack` is not counted.
- handoff: an `action` event `action_handoff_to_agent`, or a `pause` event (actions/handoff.py).
  An offer of a person (action_offer_human) needs a second "yes" and is not a handoff.
- notification change: an `action` event `action_stop_notifications` / `action_start_notifications`
  (actions/customer_actions.py). domain.yml has no notification slot: the opt-out is stored in
  the customer database, so the action running is the change.
- declined: none of these; the NLU intent comes from the user event's `parse_data`.

Exit 1 if a bar is missed (overall articles <= 2%, order flows <= 3%, 0 handoffs, 0 notification
changes) or a message got no answer. Standard library, `requests` and PyYAML only.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import yaml  # noqa: E402

from tests.stack import running_stack  # noqa: E402

FORMS = ("en", "hi", "bn", "hi_latn", "bn_latn")
HELDOUT = ROOT / "tests" / "oos_heldout"
KB_ANSWERS = {"utter_kb_answer", "utter_kb_answer_other_language"}
ORDER_ASKS = {"utter_ask_order_id", "utter_ask_contact", "utter_what_order_request", "utter_payment_explain",
              "utter_ask_new_address", "utter_ask_bank_reference"}
HANDOFF_ACTIONS = {"action_handoff_to_agent"}
NOTIFY_ACTIONS = {"action_stop_notifications", "action_start_notifications"}
BARS = {"articles": 2.0, "order_flows": 3.0}  # percent of all messages, at most


@dataclass
class Outcome:
    """What one fresh conversation did with one message."""
    text: str
    intent: str = "?"
    article: str = ""  # the article id or URL that answered
    order_flow: str = ""  # what started it (slot, form or response name)
    handoff: bool = False
    notify: str = ""
    error: str = ""

    @property
    def declined(self) -> bool:
        return not (self.article or self.order_flow or self.handoff or self.notify or self.error)


@dataclass
class FormResult:
    form: str
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, attr: str) -> int:
        return sum(1 for o in self.outcomes if getattr(o, attr))


def classify(text: str, events: list[dict], help_url: str) -> Outcome:
    """Read one conversation's tracker events (see the module docstring for the rules)."""
    out = Outcome(text)
    for e in events:
        kind = e.get("event")
        if kind == "user" and out.intent == "?":
            out.intent = (((e.get("parse_data") or {}).get("intent") or {}).get("name")) or "?"
        elif kind == "bot":
            body = e.get("text") or ""
            utter = (e.get("metadata") or {}).get("utter_action") or ""
            if ((help_url and help_url in body) or utter in KB_ANSWERS) and not out.article:
                out.article = next((w for w in body.split() if help_url and help_url in w), utter)
            if utter in ORDER_ASKS and not out.order_flow:
                out.order_flow = utter
        elif kind == "slot" and e.get("value") not in (None, ""):
            if e.get("name") == "kb_article_id":
                out.article = str(e["value"])
            elif e.get("name") in ("order_request", "requested_slot") and not out.order_flow:
                out.order_flow = f"{e['name']}={e['value']}"
        elif kind == "active_loop" and e.get("name") and not out.order_flow:
            out.order_flow = f"form {e['name']}"
        elif (kind == "action" and e.get("name") in HANDOFF_ACTIONS) or kind == "pause":
            out.handoff = True
        elif kind == "action" and e.get("name") in NOTIFY_ACTIONS:
            out.notify = e["name"]
    return out


def run_message(stack: dict, text: str, help_url: str, timeout: float) -> Outcome:
    """One message as a new conversation; its tracker decides what happened."""
    sender = str(uuid.uuid4())
    try:
        r = requests.post(f"{stack['rasa']}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                          timeout=timeout)
        if r.status_code != 200:
            return Outcome(text, error=f"webhook {r.status_code}")
        t = requests.get(f"{stack['rasa']}/conversations/{sender}/tracker", params={"token": stack["token"]},
                         timeout=timeout)
        if t.status_code != 200:
            return Outcome(text, error=f"tracker {t.status_code}")
        return classify(text, t.json().get("events") or [], help_url)
    except (requests.RequestException, ValueError) as exc:
        return Outcome(text, error=type(exc).__name__)


def load_form(form: str, limit: Optional[int]) -> list[str]:
    data = yaml.safe_load((HELDOUT / f"{form}.yml").read_text(encoding="utf-8"))
    messages = [str(m) for m in data["messages"]]
    return messages[:limit] if limit else messages


def pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.1f}%" if total else "-"


def top_intents(outcomes: list[Outcome], k: int = 4) -> str:
    return ", ".join(f"{name} {n}" for name, n in Counter(o.intent for o in outcomes).most_common(k))


def table(results: list[FormResult]) -> tuple[list[str], list[str]]:
    """The Markdown table, and the bars that were missed (empty: all met)."""
    head = ["| form | messages | articles | order flows | handoffs | notification changes | declined | errors "
            "| top intents |", "|---|---|---|---|---|---|---|---|---|"]
    every = [o for r in results for o in r.outcomes]
    everything = FormResult("**all**", every)
    rows = []
    for r in results + [everything]:
        n = len(r.outcomes)
        rows.append(f"| {r.form} | {n} | {r.count('article')} ({pct(r.count('article'), n)}) "
                    f"| {r.count('order_flow')} ({pct(r.count('order_flow'), n)}) | {r.count('handoff')} "
                    f"| {r.count('notify')} | {r.count('declined')} | {r.count('error')} | {top_intents(r.outcomes)} |")
    n = len(every)
    missed = []
    for attr, bar in (("article", BARS["articles"]), ("order_flow", BARS["order_flows"])):
        share = 100.0 * everything.count(attr) / n if n else 0.0
        if share > bar:
            missed.append(f"{attr.replace('_', ' ')}s {share:.1f}% > {bar:.0f}%")
    for attr, name in (("handoff", "handoffs"), ("notify", "notification changes"), ("error", "unanswered")):
        if everything.count(attr):
            missed.append(f"{everything.count(attr)} {name} (bar 0)")
    bars = (f"Bars (all forms): articles <= {BARS['articles']:.0f}%, order flows <= {BARS['order_flows']:.0f}%, "
            f"0 handoffs, 0 notification changes: **{'met' if not missed else 'MISSED: ' + '; '.join(missed)}**.")
    return head + rows + ["", bars], missed


def details(results: list[FormResult]) -> list[str]:
    """Every message that was not declined, with what happened: what to look at first."""
    lines = []
    for r in results:
        for o in r.outcomes:
            if o.declined:
                continue
            what = "; ".join(x for x in (f"article {o.article}" if o.article else "",
                                         f"order flow ({o.order_flow})" if o.order_flow else "",
                                         "handoff" if o.handoff else "", o.notify, o.error) if x)
            lines.append(f"- {r.form}: \"{o.text}\" (intent {o.intent}): {what}")
    return lines or ["- none: every message was declined"]


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def report(results: list[FormResult], command: str, limit: Optional[int]) -> tuple[str, list[str]]:
    rows, missed = table(results)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scope = f", at most {limit} messages per form (a partial run)" if limit else ""
    lines = [
        "# Out-of-scope requests: what the shopper got",
        "",
        f"`tests/oos_heldout/`: measured {when} on {os.cpu_count()} cores ({platform.machine()}), commit "
        f"{git_commit()}, command `{command}`{scope}. Each message is a new conversation on the REST webhook; "
        "the counts come from its tracker (rules in `bench/eval_oos.py`).",
        "",
        *rows,
        "",
        "Messages that were not declined:",
        "",
        *details(results),
    ]
    return "\n".join(lines) + "\n", missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="trained model (.tar.gz)")
    parser.add_argument("--forms", default=",".join(FORMS), help="comma-separated, of " + ", ".join(FORMS))
    parser.add_argument("--limit", type=int, default=None, help="at most N messages per form (quick runs)")
    parser.add_argument("--results", default=str(ROOT / "docs" / "results" / "oos_eval.md"))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request")
    parser.add_argument("--command", default=None, help="the command to record (default: this one)")
    args = parser.parse_args()
    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    unknown = [f for f in forms if f not in FORMS]
    if unknown:
        parser.error(f"unknown forms: {', '.join(unknown)}")
    command = args.command or " ".join([Path(sys.executable).name, *sys.argv])
    results: list[FormResult] = []
    with tempfile.TemporaryDirectory(prefix="saathi-oos-") as work:
        print(f"starting the stack with {args.model} ...", flush=True)
        with running_stack(Path(work), args.model) as stack:
            # The URL the action server quotes (its environment; actions/config.py's default).
            help_url = stack["env"].get("SAATHI_HELP_CENTRE_URL") or "https://example-shop.in/help"
            for form in forms:
                result = FormResult(form)
                for text in load_form(form, args.limit):
                    result.outcomes.append(run_message(stack, text, help_url, args.timeout))
                print(f"  {form}: {len(result.outcomes)} messages, {result.count('declined')} declined", flush=True)
                results.append(result)
    text, missed = report(results, command, args.limit)
    print()
    print(text)
    path = Path(args.results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"written to {path}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

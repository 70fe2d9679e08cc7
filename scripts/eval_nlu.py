"""Evaluate the trained NLU model on the held-out sets in tests/nlu_heldout/.

Prints accuracy per language form and per intent, the language-detection accuracy, and a
table of fallback thresholds (to calibrate FallbackClassifier). With --write-readme, puts
the figures into docs/results/nlu_eval.md between the markers named by --name.

Run in .venv-rasa:  python scripts/eval_nlu.py MODEL.tar.gz [--write-readme]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FORMS = {"en": "en", "hi": "hi", "bn": "bn", "hi_latn": "hi-Latn", "bn_latn": "bn-Latn"}


def load_heldout(folder: Path) -> list[tuple[str, str, str]]:
    """(form, intent, text) for every example of every held-out file."""
    rows = []
    for stem, form in FORMS.items():
        path = folder / f"{stem}.yml"
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in data.get("nlu", []):
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    rows.append((form, block["intent"], line[2:].strip()))
    return rows


def top_real_intent(parse: dict) -> tuple[str, float]:
    for item in parse.get("intent_ranking", []):
        if item["name"] != "nlu_fallback":
            return item["name"], item["confidence"]
    return parse["intent"]["name"], parse["intent"]["confidence"]


def pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


async def parse_all(model: str, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return [await agent.parse_message(t) for t in texts]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--heldout", default=str(ROOT / "tests" / "nlu_heldout"))
    ap.add_argument("--write-readme", action="store_true", help="write the figures into --results")
    ap.add_argument("--results", default=str(ROOT / "docs" / "results" / "nlu_eval.md"))
    ap.add_argument("--name", default="eval", help="marker name of the block in --results")
    ap.add_argument("--bar", type=float, default=0.9, help="lowest accuracy per form for exit 0")
    args = ap.parse_args()

    rows = load_heldout(Path(args.heldout))
    if not rows:
        print("no held-out examples found", file=sys.stderr)
        return 2
    parses = asyncio.run(parse_all(args.model, [t for _, _, t in rows]))

    by_form = defaultdict(lambda: [0, 0])
    by_intent = defaultdict(lambda: [0, 0])
    lang = defaultdict(lambda: [0, 0])
    errors = []
    scored = []  # (gold, top real intent, confidence)
    for (form, gold, text), parse in zip(rows, parses):
        pred = parse["intent"]["name"]
        ok = pred == gold
        by_form[form][0] += ok
        by_form[form][1] += 1
        by_intent[gold][0] += ok
        by_intent[gold][1] += 1
        if not ok:
            errors.append((form, gold, pred, text))
        scored.append((gold, *top_real_intent(parse)))
        detected = parse.get("language")  # what the model's LanguageTagger said
        if gold != "nlu_fallback" and detected is not None:
            lang[form][0] += detected == form
            lang[form][1] += 1

    lines = ["| language form | messages | intent accuracy | language detected correctly |", "|---|---|---|---|"]
    for form in FORMS.values():
        c, n = by_form[form]
        lc, ln = lang[form]
        lines.append(f"| {form} | {n} | {pct(c, n)} | {pct(lc, ln)} |")
    total_c = sum(v[0] for v in by_form.values())
    total_n = sum(v[1] for v in by_form.values())
    lines.append(f"| **all** | {total_n} | {pct(total_c, total_n)} | |")
    lines += ["", "| intent | messages | accuracy |", "|---|---|---|"]
    for intent in sorted(by_intent):
        c, n = by_intent[intent]
        lines.append(f"| {intent} | {n} | {pct(c, n)} |")

    thresholds = ["", "Fallback threshold calibration (accuracy over all held-out messages, gibberish counted as `nlu_fallback`):", "", "| threshold | accuracy | in-scope sent to fallback | gibberish caught |", "|---|---|---|---|"]
    for th in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        correct = wrong_fb = caught = gib = 0
        for gold, pred, conf in scored:
            final = "nlu_fallback" if conf < th else pred
            correct += final == gold
            if gold == "nlu_fallback":
                gib += 1
                caught += final == "nlu_fallback"
            elif final == "nlu_fallback":
                wrong_fb += 1
        inscope = len(scored) - gib
        thresholds.append(f"| {th:.1f} | {pct(correct, len(scored))} | {pct(wrong_fb, inscope)} | {pct(caught, gib)} |")

    stamp = (
        f"Measured {dt.date.today().isoformat()} on {os.cpu_count()} cores ({platform.machine()}), "
        f"model `{Path(args.model).name}`, held-out set `{Path(args.heldout).resolve().relative_to(ROOT)}`, command `make eval`."
    )
    report = "\n".join([stamp, ""] + lines + thresholds)
    print(report)
    print("\nMisclassified:")
    for form, gold, pred, text in errors:
        print(f"  [{form}] {gold} -> {pred}: {text}")

    if args.write_readme:
        from kb_index.evaluate import write_readme

        readme = Path(args.results)
        readme.parent.mkdir(parents=True, exist_ok=True)
        write_readme(readme, report, name=args.name)
        print(f"\nwrote the figures into {readme}")
    worst = min((by_form[f][0] / by_form[f][1]) for f in FORMS.values() if by_form[f][1])
    return 0 if worst >= args.bar else 1


if __name__ == "__main__":
    sys.exit(main())

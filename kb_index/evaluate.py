"""Help-centre retrieval quality on the held-out questions, per language form.

same-language: the question's article exists in the question's language (Hindi or Bengali
for the romanized forms); searched over every version. cross-language: the same questions
searched with the versions in the question's language removed, plus questions whose article
has no version in their language, so the article must be found through another language.
Out-of-scope: questions about nothing in the help centre; counted when the bot would answer.

    python -m kb_index.evaluate --index DIR tests/kb_heldout/questions.yml [--write-readme README.md]
"""
from __future__ import annotations

import argparse
import platform
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import yaml

FORMS = ("en", "hi", "bn", "hi-Latn", "bn-Latn")


def _pct(hits: int, total: int) -> str:
    return f"{100.0 * hits / total:.1f}%" if total else "—"


def evaluate(centre, questions: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    stats: dict = defaultdict(lambda: defaultdict(int))
    misses: list[str] = []
    for item in questions:
        form, article, text = item["lang"], item.get("article"), item["q"]
        s = stats[form]
        q = centre.prepare(text)
        if not article:
            s["oos"] += 1
            top = centre.best(q, form)
            if top is not None:
                s["oos_answered"] += 1
                misses.append(f"OOS answered [{form}] {text!r} -> {top[0]} {top[1]:.3f}")
            continue
        base = form.split("-")[0]
        versions = centre.versions.get(article, {})
        if base in versions:
            ranked = [a for a, _, _ in centre.ranked(q)]
            s["same"] += 1
            s["same@1"] += ranked[:1] == [article]
            s["same@3"] += article in ranked[:3]
            top = centre.best(q, form)
            s["same_answered"] += top is not None and top[0] == article
            if ranked[:1] != [article]:
                misses.append(f"same [{form}] {text!r} -> {ranked[:3]} (want {article})")
        if any(lang != base for lang in versions):
            ranked = [a for a, _, _ in centre.ranked(q, exclude_langs=(base,))]
            s["cross"] += 1
            s["cross@1"] += ranked[:1] == [article]
            s["cross@3"] += article in ranked[:3]
    return {"stats": stats, "misses": misses}


def table(result: dict) -> str:
    stats = result["stats"]
    rows = [
        "| form | same-lang questions | hit@1 | hit@3 | answered & right | cross-lang questions | hit@1 | hit@3 | out-of-scope answered |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    total: dict = defaultdict(int)
    for form in FORMS:
        s = stats.get(form, {})
        for key, value in s.items():
            total[key] += value
        rows.append(
            f"| {form} | {s.get('same', 0)} | {_pct(s.get('same@1', 0), s.get('same', 0))} "
            f"| {_pct(s.get('same@3', 0), s.get('same', 0))} | {_pct(s.get('same_answered', 0), s.get('same', 0))} "
            f"| {s.get('cross', 0)} | {_pct(s.get('cross@1', 0), s.get('cross', 0))} "
            f"| {_pct(s.get('cross@3', 0), s.get('cross', 0))} "
            f"| {s.get('oos_answered', 0)}/{s.get('oos', 0)} |"
        )
    rows.append(
        f"| **all** | {total['same']} | {_pct(total['same@1'], total['same'])} | {_pct(total['same@3'], total['same'])} "
        f"| {_pct(total['same_answered'], total['same'])} | {total['cross']} | {_pct(total['cross@1'], total['cross'])} "
        f"| {_pct(total['cross@3'], total['cross'])} | {total['oos_answered']}/{total['oos']} "
        f"({_pct(total['oos_answered'], total['oos'])}) |"
    )
    return "\n".join(rows)


def write_readme(readme: Path, block: str, name: str = "kb-eval") -> None:
    """Replace the text between <!-- NAME:start --> and <!-- NAME:end -->, or append it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{block}\n{end}", text, flags=re.S)
    else:
        text += f"\n{start}\n{block}\n{end}\n"
    readme.write_text(text, encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_index.evaluate")
    parser.add_argument("questions")
    parser.add_argument("--index", required=True)
    parser.add_argument("--write-readme", metavar="README", help="put the table between this file's markers")
    parser.add_argument("--name", default="kb-eval", help="marker name of the block (one per held-out set)")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    from kb_index.search import HelpCentre

    centre = HelpCentre.load(args.index)
    questions = yaml.safe_load(Path(args.questions).read_text(encoding="utf-8"))["questions"]
    result = evaluate(centre, questions)
    block = (
        f"`{args.questions}`: measured {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores "
        f"({platform.machine()}), embedding model `{centre.meta['model']}`, glossary "
        f"{centre.meta.get('glossary') or 'none'}, {centre.meta['passages']} passages, "
        f"{len(questions)} held-out questions, command `make eval`.\n\n" + table(result)
    )
    print(block)
    if args.show_misses:
        print("\n".join(result["misses"]))
    if args.write_readme:
        write_readme(Path(args.write_readme), block, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tune score fusion and answer thresholds on the calibration set, never on a held-out set.

    python -m kb_index.calibrate --set DIR kb_index/calibration/questions.yml --set DIR2 QUESTIONS2 [--write]

(`make calibrate` builds both calibration help centres and runs it.)

Fusion weights (dense cosine, BM25 coverage, character n-grams) are chosen per script group
(Latin letters; Devanagari and Bengali) for the best top-1 article over the calibration set's
answerable questions, searched over every version and with the question's own language removed.
Each form's answer threshold is then the one that answers the most calibration questions with
their article while an out-of-scope question answered counts as three answers lost (a wrong
article misleads the shopper; a decline offers the rest of the bot and a person).
The result is written to kb_index/calibration.yml with the date and the set it came from.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import yaml

from kb_index.search import CALIBRATION, HelpCentre

FORMS = ("en", "hi", "bn", "hi-Latn", "bn-Latn")
GROUPS = {"latin": ("en", "hi-Latn", "bn-Latn"), "indic": ("hi", "bn")}
MARGIN = 0.01
COST = 3  # an out-of-scope question answered with an article costs as much as three answers missed
STEP = 0.05


def _components(centre: HelpCentre, q, exclude: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """Candidate rows' articles and their (dense, bm25, chars) scores, for any weights."""
    cand, _ = centre.scores(q)
    keep = [i for i, row in enumerate(cand.tolist()) if centre.passages[row]["lang"] not in exclude]
    cand = cand[keep]
    dense = centre.vectors[cand] @ q.vector
    bm25 = q.bm25(centre.lexical)[cand]
    chars = centre.lexical.char_scores(centre.lexical.char_vector(q.chars), cand)
    articles = [centre.passages[r]["article_id"] for r in cand.tolist()]
    return articles, np.stack([dense, bm25, chars], axis=1)


def _top(articles: list[str], parts: np.ndarray, w: np.ndarray) -> tuple[Optional[str], float]:
    if not articles:
        return None, 0.0
    fused = parts @ w
    best = int(np.argmax(fused))
    return articles[best], float(fused[best])


def calibrate(sets: list[tuple[HelpCentre, list[dict]]]) -> dict:  # type: ignore[type-arg]
    """Weights and thresholds over every (help centre, its calibration questions) pair at once,
    so that they hold for more than one shop."""
    cases: dict[str, list] = {g: [] for g in GROUPS}  # type: ignore[type-arg]
    oos: dict[str, list] = {f: [] for f in FORMS}  # type: ignore[type-arg]
    answerable: dict[str, list] = {f: [] for f in FORMS}  # type: ignore[type-arg]
    for centre, item in ((c, i) for c, qs in sets for i in qs):
        form, article = item["lang"], item.get("article")
        group = next(g for g, forms in GROUPS.items() if form in forms)
        q = centre.prepare(item["q"])
        if not article:
            oos[form].append(_components(centre, q, ()))
            continue
        base = form.split("-")[0]
        answerable[form].append((article, _components(centre, q, ())))
        cases[group].append((article, _components(centre, q, ())))
        if any(lang != base for lang in centre.versions.get(article, {})):
            cases[group].append((article, _components(centre, q, (base,))))
    grid = [np.array(w) for w in itertools.product(np.arange(0, 1 + 1e-9, STEP), repeat=2)
            if w[0] + w[1] <= 1 + 1e-9]
    weights = {}
    for group, items in cases.items():
        def score(w2: np.ndarray) -> tuple[int, float]:
            w = np.array([w2[0], w2[1], 1 - w2[0] - w2[1]])
            hits = sum(_top(arts, parts, w)[0] == want for want, (arts, parts) in items)
            return hits, float(w[0])  # ties: more weight on the encoder
        best = max(grid, key=score)
        w = [round(float(best[0]), 2), round(float(best[1]), 2), round(float(1 - best[0] - best[1]), 2)]
        weights[group] = {"dense": w[0], "bm25": w[1], "chars": w[2]}
        print(f"{group}: weights {weights[group]}: top-1 {score(best)[0]}/{len(items)}")
    thresholds, report = {}, {}
    for form in FORMS:
        group = next(g for g, forms in GROUPS.items() if form in forms)
        w = np.array([weights[group][k] for k in ("dense", "bm25", "chars")])
        declined = [_top(a, p, w)[1] for a, p in oos[form]]
        tops = [(_top(a, p, w)[0] == want, _top(a, p, w)[1]) for want, (a, p) in answerable[form]]

        def value(t: float) -> tuple[int, int, int]:
            right = sum(1 for ok, s in tops if ok and s >= t)
            wrong = sum(1 for s in declined if s >= t)
            return right - COST * wrong, right, wrong
        candidates = sorted({round(s + MARGIN, 3) for s in declined} | {round(s, 3) for _, s in tops})
        thresholds[form] = max(candidates, key=lambda t: (value(t)[0], t))
        _, right, wrong = value(thresholds[form])
        report[form] = (f"{right}/{len(answerable[form])} answered with their article, "
                        f"{wrong}/{len(declined)} out-of-scope answered")
        print(f"{form}: threshold {thresholds[form]}: {report[form]}")
    weights["lexical"] = {"dense": 0.0, "bm25": 0.6, "chars": 0.4}  # a model without vectors
    return {"weights": weights, "thresholds": thresholds}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_index.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--set", nargs=2, action="append", required=True, metavar=("INDEX", "QUESTIONS"),
                        help="a built help-centre index and its calibration questions (repeat for more shops)")
    parser.add_argument("--write", action="store_true", help=f"write {CALIBRATION}")
    args = parser.parse_args(argv)
    neutral = {"dense": 1.0, "bm25": 0.0, "chars": 0.0}  # only candidates are read; weights come here
    blank = {"weights": dict.fromkeys(("latin", "indic", "lexical"), neutral), "thresholds": {}}
    sets = [(HelpCentre.load(index, calibration=blank),
             yaml.safe_load(Path(questions).read_text(encoding="utf-8"))["questions"]) for index, questions in args.set]
    result = calibrate(sets)
    if args.write:
        header = (
            "# Score fusion and answer thresholds per question form, written by `python -m kb_index.calibrate`\n"
            f"# on {time.strftime('%Y-%m-%d')} from {', '.join(q for _, q in args.set)} (calibration sets;\n"
            f"# never a held-out set), model {sets[0][0].meta['model']}.\n"
            "# score = dense * cosine + bm25 * coverage + chars * char-n-gram cosine\n"
        )
        CALIBRATION.write_text(header + yaml.safe_dump(result, sort_keys=False, allow_unicode=True), encoding="utf-8")
        print(f"wrote {CALIBRATION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CSV FAQ exports: `question,answer` plus optional `id,lang,url,title` columns.

Rows that share an id and language become one article, each row a question-and-answer
section; a row without an id is an article of its own.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from kb_index.documents import Article
from kb_index.importers import BadFile, Problem, detect_lang, read_text, slug

REQUIRED = ("question", "answer")
KNOWN = ("question", "answer", "id", "lang", "url", "title")


def load(path: Path) -> tuple[list[Article], list[Problem]]:
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise BadFile(f"unreadable CSV header: {exc}") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadFile(f"CSV header lacks {', '.join(missing)} (found: {', '.join(header)})")
    grouped: dict[tuple[str, str], Article] = {}
    problems: list[Problem] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(f"{path}:{reader.line_num}", f"unreadable row: {exc}"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(f"{path}:{line}", f"expected {len(header)} fields, found {len(row)}"))
            continue
        rec = {k: v.strip() for k, v in zip(header, row)}
        if not rec["question"] or not rec["answer"]:
            problems.append(Problem(f"{path}:{line}", "empty question or answer"))
            continue
        lang = rec.get("lang") or detect_lang(rec["question"] + " " + rec["answer"])
        article_id = rec.get("id") or f"faq-{slug(rec['question'])}"
        key = (article_id, lang)
        section = f"## {rec['question']}\n\n{rec['answer']}\n"
        if key not in grouped:
            grouped[key] = Article(
                id=article_id, lang=lang, title=rec.get("title") or rec["question"],
                url=rec.get("url", ""), body="", questions=[], source=f"{path}:{line}",
            )
        article = grouped[key]
        article.body += section + "\n"
        article.questions.append(rec["question"])
        if not article.url and rec.get("url"):
            article.url = rec["url"]
    if not grouped and not problems:
        raise BadFile("no question-and-answer rows")
    return list(grouped.values()), problems

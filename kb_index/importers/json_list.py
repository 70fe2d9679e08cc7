"""JSON: a list of objects with the Markdown fields (id, title, url, lang, questions, body)."""
from __future__ import annotations

import json
from pathlib import Path

from kb_index.documents import Article
from kb_index.importers import BadFile, Problem, article_from_fields, read_text


def load(path: Path) -> tuple[list[Article], list[Problem]]:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise BadFile(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if not isinstance(data, list):
        raise BadFile("expected a JSON list of article objects")
    articles: list[Article] = []
    problems: list[Problem] = []
    for n, item in enumerate(data, start=1):
        source = f"{path}[{n}]"
        if not isinstance(item, dict):
            problems.append(Problem(source, "item is not an object"))
            continue
        try:
            articles.append(article_from_fields(item, source))
        except BadFile as exc:
            problems.append(Problem(source, str(exc)))
    if not articles and not problems:
        raise BadFile("empty list, no articles")
    return articles, problems

"""Markdown files with YAML front matter (id, title, url, lang, questions)."""
from __future__ import annotations

from pathlib import Path

import yaml

from kb_index.documents import Article
from kb_index.importers import BadFile, Problem, article_from_fields, read_text


def parse(text: str, source: str, default_id: str) -> Article:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise BadFile("no front matter (the file must start with a '---' line)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise BadFile("front matter is not closed with a '---' line") from None
    try:
        fields = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise BadFile(f"bad front matter{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(fields, dict):
        raise BadFile("bad front matter: expected 'key: value' lines")
    fields = dict(fields, body="\n".join(lines[end + 1:]))
    return article_from_fields(fields, source, default_id)


def load(path: Path) -> tuple[list[Article], list[Problem]]:
    return [parse(read_text(path), str(path), path.stem)], []

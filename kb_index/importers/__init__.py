"""Import a shop's help centre from Markdown, CSV, HTML and JSON files or folders.

Every broken file is reported as one `Problem` with its reason; the rest is imported.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from kb_index.documents import Article


@dataclass(frozen=True)
class Problem:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class BadFile(Exception):
    """A file that cannot be imported; the message is the reason shown to the shop."""


@dataclass
class ImportResult:
    articles: list[Article]
    problems: list[Problem]


def read_text(path: Path) -> str:
    """UTF-8 text of a file, or BadFile for empty, binary and undecodable files."""
    data = path.read_bytes()
    if not data.strip():
        raise BadFile("empty file")
    if b"\x00" in data[:8192]:
        raise BadFile("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise BadFile("empty file")
    return text


def detect_lang(text: str) -> str:
    """en, hi or bn from the script most letters are written in."""
    deva = sum("\u0900" <= ch <= "\u097f" for ch in text)
    beng = sum("\u0980" <= ch <= "\u09ff" for ch in text)
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    best = max((latin, "en"), (deva, "hi"), (beng, "bn"))
    return best[1]


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[^\w]+", "-", text).strip("-")[:60] or "article"


def article_from_fields(fields: dict, source: str, default_id: str = "") -> Article:
    """An Article from Markdown front matter or a JSON object; BadFile when unusable."""
    body = fields.get("body")
    if body is None:
        body = fields.get("text", fields.get("content", fields.get("answer", "")))
    if not isinstance(body, str) or not body.strip():
        raise BadFile("no article text")
    article_id = fields.get("id", default_id)
    if not isinstance(article_id, (str, int)) or not str(article_id).strip():
        raise BadFile("missing id")
    title = fields.get("title")
    if not isinstance(title, str) or not title.strip():
        raise BadFile("missing title")
    lang = fields.get("lang") or detect_lang(title + " " + body)
    questions = fields.get("questions") or []
    if isinstance(questions, str):
        questions = [questions]
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise BadFile("questions must be a list of strings")
    url = fields.get("url") or ""
    if not isinstance(url, str) or not isinstance(lang, str):
        raise BadFile("url and lang must be text")
    return Article(
        id=str(article_id).strip(), lang=lang.strip(), title=title.strip(), url=url.strip(),
        body=body, questions=questions, source=source,
    )


Loader = Callable[[Path], "tuple[list[Article], list[Problem]]"]


def _loaders() -> dict[str, Loader]:
    from kb_index.importers import csv_faq, html_page, json_list, markdown

    return {
        ".md": markdown.load, ".markdown": markdown.load,
        ".csv": csv_faq.load,
        ".html": html_page.load, ".htm": html_page.load,
        ".json": json_list.load,
    }


def _walk(sources: Iterable[str | Path]) -> Iterable[tuple[Path, bool]]:
    """Files to import; the flag says whether the shop named the file itself."""
    for source in sources:
        path = Path(source)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and not child.name.lower().startswith("readme."):
                    yield child, False
        else:
            yield path, True


def import_sources(sources: Iterable[str | Path]) -> ImportResult:
    loaders = _loaders()
    articles: list[Article] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for path, named in _walk(sources):
        loader = loaders.get(path.suffix.lower())
        if not path.exists():
            problems.append(Problem(str(path), "no such file or folder"))
            continue
        if loader is None:
            if named:
                problems.append(Problem(str(path), f"unsupported file type '{path.suffix or path.name}'"))
            continue
        try:
            loaded, row_problems = loader(path)
        except BadFile as exc:
            problems.append(Problem(str(path), str(exc)))
            continue
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot read: {exc.strerror or exc}"))
            continue
        for article in loaded:
            key = (article.id, article.lang)
            if key in seen:
                problems.append(Problem(
                    article.source or str(path),
                    f"duplicate id '{article.id}' ({article.lang}), already imported from {seen[key]}",
                ))
                continue
            seen[key] = article.source or str(path)
            articles.append(article)
        problems.extend(row_problems)
    return ImportResult(articles, problems)

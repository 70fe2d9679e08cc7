"""Articles and the passages they are split into."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MAX_PASSAGE_CHARS = 900
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


@dataclass
class Article:
    """One language version of a help-centre article."""

    id: str
    lang: str
    title: str
    url: str
    body: str  # Markdown: '## ' headings, blank-line paragraphs
    questions: list[str] = field(default_factory=list)
    source: str = ""


@dataclass(frozen=True)
class Passage:
    """A searchable piece of an article. kind 'body' is quoted; 'question' only helps matching."""

    article_id: str
    lang: str
    title: str
    url: str
    heading: str
    text: str
    kind: str = "body"

    @property
    def key(self) -> str:
        raw = "\x00".join((self.article_id, self.lang, self.title, self.heading, self.text, self.kind))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def to_json(self) -> dict:
        return {
            "article_id": self.article_id, "lang": self.lang, "title": self.title, "url": self.url,
            "heading": self.heading, "text": self.text, "kind": self.kind,
        }


def plain(markdown: str) -> str:
    """Markdown emphasis removed; what a chat bubble can show."""
    return _EMPHASIS.sub(r"\2", markdown).strip()


def _sections(body: str) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) in order; text before the first heading has heading ''."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            sections[-1][1].append("\n".join(paragraph).strip())
            paragraph.clear()

    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            flush()
            sections.append((plain(match.group(2)), []))
        elif line.strip():
            paragraph.append(line.rstrip())
        else:
            flush()
    flush()
    return [(h, [p for p in ps if p]) for h, ps in sections if any(ps)]


def split_passages(article: Article) -> list[Passage]:
    """Split at headings, then at paragraphs when a section is long; plus one per question."""
    out: list[Passage] = []

    def add(heading: str, text: str, kind: str = "body") -> None:
        out.append(Passage(article.id, article.lang, article.title, article.url, heading, text, kind))

    for heading, paragraphs in _sections(article.body):
        chunk: list[str] = []
        for paragraph in paragraphs:
            text = plain(paragraph)
            if chunk and len("\n\n".join(chunk)) + len(text) > MAX_PASSAGE_CHARS:
                add(heading, "\n\n".join(chunk))
                chunk = []
            chunk.append(text)
        if chunk:
            add(heading, "\n\n".join(chunk))
    for question in article.questions:
        if question.strip():
            add("", question.strip(), kind="question")
    return out

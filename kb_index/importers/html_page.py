"""HTML help-centre pages: title and main text; navigation, headers, footers and scripts dropped."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from kb_index.documents import Article
from kb_index.importers import BadFile, Problem, article_from_fields, read_text

SKIP = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "svg", "button"}
BLOCK = {"p", "div", "section", "li", "br", "tr", "table", "ul", "ol", "dd", "dt", "blockquote"}
VOID = {"br", "img", "hr", "meta", "link", "input", "source", "wbr", "area", "base", "col", "embed"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.head_title = ""
        self.meta: dict[str, str] = {}
        self.canonical = ""
        self.stack: list[str] = []
        self.skip_depth = 0
        self.in_main = 0
        self.saw_main = False
        self.parts: list[tuple[bool, str]] = []  # (inside main/article, markdown text)
        self.h1 = ""
        self._heading: str | None = None
        self._buf: list[str] = []

    def _emit(self, text: str) -> None:
        self.parts.append((self.in_main > 0, text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html" and a.get("lang"):
            self.lang = a["lang"].split("-")[0].lower()
        if tag == "meta":
            name = (a.get("name") or a.get("property") or "").lower()
            if name:
                self.meta[name] = a.get("content", "")
        if tag == "link" and "canonical" in a.get("rel", "").lower():
            self.canonical = a.get("href", "")
        if tag in VOID:
            if tag == "br":
                self._buf.append("\n")
            return
        self.stack.append(tag)
        if tag in SKIP:
            self.skip_depth += 1
        if tag in ("main", "article"):
            self.in_main += 1
            self.saw_main = True
        if self.skip_depth:
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._flush()
            self._heading = tag
        elif tag in BLOCK:
            self._flush()
            if tag == "li":
                self._buf.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or tag not in self.stack:
            return
        while self.stack:
            top = self.stack.pop()
            if not self.skip_depth:
                if top in ("h1", "h2", "h3", "h4", "h5", "h6") and self._heading:
                    text = " ".join("".join(self._buf).split())
                    self._buf.clear()
                    if top == "h1" and not self.h1:
                        self.h1 = text
                    elif text:
                        self._emit(f"## {text}")
                    self._heading = None
                elif top in BLOCK:
                    self._flush()
            if top in SKIP:
                self.skip_depth -= 1
            if top in ("main", "article"):
                self._flush()
                self.in_main -= 1
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "title":
            self.head_title += data
            return
        if not self.skip_depth and "head" not in self.stack:
            self._buf.append(data)

    def _flush(self) -> None:
        if self._heading:
            return
        text = " ".join("".join(self._buf).split())
        self._buf.clear()
        if text and text != "-":
            self._emit(text)

    def body(self) -> str:
        self._flush()
        parts = [t for inside, t in self.parts if inside or not self.saw_main]
        return "\n\n".join(parts)


def load(path: Path) -> tuple[list[Article], list[Problem]]:
    page = _Page()
    page.feed(read_text(path))
    page.close()
    body = page.body()
    title = page.h1 or " ".join(page.head_title.split())
    canonical = page.canonical or page.meta.get("og:url", "")
    default_id = canonical.rstrip("/").rsplit("/", 1)[-1] if canonical else path.name.split(".")[0]
    fields = {
        "id": page.meta.get("article-id") or default_id,
        "title": title,
        "url": canonical,
        "body": body,
    }
    if page.lang:
        fields["lang"] = page.lang
    if not body.strip():
        raise BadFile("no article text in the page")
    if not title:
        raise BadFile("page has no title or <h1>")
    return [article_from_fields(fields, str(path))], []

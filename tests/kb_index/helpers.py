"""Helpers shared by the kb_index tests."""
from __future__ import annotations


def md(id: str, title: str, body: str, lang: str | None = "en", questions: tuple[str, ...] = (),
       url: str | None = None) -> str:
    """A Markdown article with YAML front matter."""
    lines = ["---", f"id: {id}", f"title: {title}"]
    if lang:
        lines.append(f"lang: {lang}")
    lines.append(f"url: {url or 'https://shop.test/help/' + id}")
    if questions:
        lines.append("questions:")
        lines += [f"  - {q}" for q in questions]
    lines.append("---")
    return "\n".join(lines) + "\n" + body

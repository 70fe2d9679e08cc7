"""Ratings of help-centre answers and questions the bot could not answer.

Both live in a SQL database (`SAATHI_KB_DB`, SQLite by default) so the shop can see which
articles help and which are missing: `python -m actions.kb_feedback report`.
Questions are stored masked: phone numbers, e-mails and order numbers never reach the table.
"""
from __future__ import annotations

import argparse
import re
import datetime as dt
import sys
from typing import Optional

import sqlalchemy as sa

from bot.nlu.entity_rules import EntityRules

_metadata = sa.MetaData()
ratings = sa.Table(
    "kb_ratings", _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.String(200), nullable=False, index=True),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("language", sa.String(16)),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
unanswered = sa.Table(
    "kb_unanswered", _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("language", sa.String(16)),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

_MASKS = {"phone": "[phone]", "email": "[email]", "order_id": "[order]"}


def mask(text: str, rules: Optional[EntityRules] = None) -> str:
    """Replace phone numbers, e-mails and order numbers by placeholders."""
    rules = rules or EntityRules()
    for ent in sorted(rules.extract(text), key=lambda e: -e.start):
        text = text[: ent.start] + _MASKS[ent.entity] + text[ent.end:]
    return text


class FeedbackStore:
    def __init__(self, url: str):
        self.engine = sa.create_engine(url, future=True)
        _metadata.create_all(self.engine)

    @staticmethod
    def _now() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

    def rate(self, article_id: str, helpful: bool, language: Optional[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(ratings.insert().values(
                article_id=article_id, helpful=helpful, language=language, created_at=self._now()))

    def log_unanswered(self, question: str, language: Optional[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(unanswered.insert().values(
                question=mask(question)[:1000], language=language, created_at=self._now()))

    def article_ratings(self) -> list[tuple[str, int, int]]:
        """(article_id, helpful, not helpful), most disliked first."""
        helpful = sa.func.sum(sa.case((ratings.c.helpful, 1), else_=0))
        total = sa.func.count()
        q = (sa.select(ratings.c.article_id, helpful, total - helpful)
             .group_by(ratings.c.article_id).order_by((total - helpful).desc()))
        with self.engine.connect() as conn:
            return [(a, int(h), int(n)) for a, h, n in conn.execute(q)]

    def unanswered_questions(self, limit: int = 50) -> list[tuple[str, Optional[str], dt.datetime]]:
        q = sa.select(unanswered.c.question, unanswered.c.language, unanswered.c.created_at) \
            .order_by(unanswered.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]


    def frequent_unanswered(self, limit: int = 10, scan: int = 2000) -> list[tuple[str, int]]:
        """The questions asked most often among the latest unanswered ones, grouped by their
        wording without case, punctuation or extra spaces (masked already)."""
        groups: dict[str, list[str]] = {}
        for question, _language, _when in self.unanswered_questions(scan):
            key = " ".join(_PUNCT.sub(" ", question.casefold()).split())
            if key:
                groups.setdefault(key, []).append(question)
        ranked = sorted(groups.values(), key=len, reverse=True)[:limit]
        return [(g[0], len(g)) for g in ranked]


_PUNCT = re.compile(r"[^\w\s\[\]\u0900-\u09ff]+")


def main(argv: list[str]) -> int:
    from actions.config import load_settings

    ap = argparse.ArgumentParser(prog="python -m actions.kb_feedback")
    ap.add_argument("command", choices=["report"])
    ap.add_argument("--limit", type=int, default=50)
    args = ap.parse_args(argv)
    store = FeedbackStore(load_settings().kb_db)
    print("Ratings per article (helpful / not helpful):")
    for article, good, bad in store.article_ratings():
        print(f"  {article:40s} {good:5d} {bad:5d}")
    print(f"\nQuestions the help centre could not answer (latest {args.limit}, masked):")
    for question, language, when in store.unanswered_questions(args.limit):
        print(f"  {when:%Y-%m-%d %H:%M}  [{language or '?'}]  {question}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

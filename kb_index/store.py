"""The knowledge-base interface the action server talks to; kb_index.search fills it with FAISS."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional, Sequence


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    url: str
    lang: str
    score: float
    text: str

    def to_json(self) -> dict:
        return {"article_id": self.article_id, "title": self.title, "url": self.url,
                "lang": self.lang, "score": round(self.score, 4), "text": self.text}


@dataclass(frozen=True)
class Answer(Hit):
    """A hit chosen for the shopper; other_language: no version in the shopper's language."""

    other_language: bool = False


class HelpCentreStore(ABC):
    @abstractmethod
    def search(self, query: str, k: int = 5, exclude_langs: Sequence[str] = ()) -> list[Hit]:
        """Best passage of each of the top k articles, best first."""

    @abstractmethod
    def answer(self, query: str, language: Optional[str] = None) -> Optional[Answer]:
        """The passage to quote, in the shopper's language where possible; None below confidence."""

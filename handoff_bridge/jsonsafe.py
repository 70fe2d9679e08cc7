"""JSON bodies that would crash a handler count as invalid JSON (400), not as a 500.

Two such bodies were found by bench/fuzz.py: nesting deeper than Python's recursion limit
(`json.loads` raises RecursionError, which Werkzeug's `get_json(silent=True)` does not catch), and
lone UTF-16 surrogates (`"\\ud800"` is a valid JSON escape, but the string cannot be encoded as
UTF-8, so storing it in the database fails). `StrictJSONProvider.loads` raises ValueError for both,
which every `request.get_json` caller already treats as a bad body.
"""
from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

from bot.nlu.text import has_lone_surrogate


class StrictJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError as e:
            raise ValueError("JSON nested too deeply") from e
        if has_lone_surrogate(value):
            raise ValueError("JSON text holds lone UTF-16 surrogates")
        return value

"""JSON bodies that used to crash the service API (found by bench/fuzz.py) are a 400 now."""
from __future__ import annotations

import pytest

from handoff_bridge.jsonsafe import has_lone_surrogate
from tests.handoff_bridge.conftest import AUTH

DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000  # deeper than Python's recursion limit, under 64 KB
LONE_SURROGATE = b'{"sender_id": "\\ud800", "event": "user", "text": "hi", "conversation_id": "c1"}'


@pytest.mark.parametrize("path", ["/api/events", "/api/handoffs", "/api/handoffs/c1/rating"])
@pytest.mark.parametrize("body", [DEEP, LONE_SURROGATE, b'[{"event": "user", "sender_id": "x", "text": "\\udfff"}]'])
def test_unusable_json_is_a_400(client, path, body):
    resp = client.post(path, data=body, headers=AUTH, content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)


def test_the_same_event_with_real_text_is_accepted(client):
    resp = client.post("/api/events", headers=AUTH, json={"sender_id": "s1", "event": "user", "text": "नमस्ते 👋"})
    assert resp.status_code == 202


def test_lone_surrogates_are_found_in_keys_values_and_lists():
    assert has_lone_surrogate({"a": ["x", {"\ud800": 1}]})
    assert has_lone_surrogate(["ok", "\udfff"])
    assert not has_lone_surrogate({"a": ["x", {"b": "👩\u200d👩\u200d👧"}], "c": None, "d": 1.5})

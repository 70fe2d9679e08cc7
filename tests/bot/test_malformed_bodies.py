"""Bodies that used to make the real Rasa server answer 500 (found by bench/fuzz.py) get 400.

Rasa's own HTTP API handlers index into the body without checks (bot/api_guard.py now refuses such
bodies first); the Meta connectors did not catch JSON nested too deeply (bot/channels/meta.py).
"""
from __future__ import annotations

import hashlib
import hmac

import pytest
import requests

from tests.stack import CHANNEL_ENV

DEEP = b"[" * 100000 + b"]" * 100000


@pytest.mark.parametrize("path, body", [
    ("/model/parse", b"{}"),
    ("/model/parse", b"null"),
    ("/model/parse", b"1.5"),
    ("/model/parse", b'"NaN"'),
    ("/model/parse", b"\xff\xfe"),
    ("/model/parse", b'{"text": "cut off'),
    ("/model/parse", DEEP),
    ("/model/parse", b'{"text": 5}'),
    ("/conversations/fuzz-1/messages", b'{"text": -18446744073709551616, "sender": "user"}'),
    ("/conversations/fuzz-1/messages", b"[1]"),
    ("/conversations/fuzz-1/execute", b'{"name": ["action_restart"]}'),
    ("/conversations/fuzz-1/trigger_intent", b"[]"),
])
def test_rasa_api_bodies_that_crashed_handlers_are_400(stack, path, body):
    r = requests.post(f"{stack['rasa']}{path}", params={"token": stack["token"]}, data=body,
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 400, r.text
    assert r.json()["reason"] == "BadRequest"


def test_well_formed_calls_still_work_and_the_token_still_decides(stack):
    url = f"{stack['rasa']}/model/parse"
    ok = requests.post(url, params={"token": stack["token"]}, json={"text": "mera order kab aayega"}, timeout=60)
    assert ok.status_code == 200 and ok.json()["intent"]["name"]
    assert requests.post(url, json={"text": "hi"}, timeout=60).status_code == 401
    assert requests.post(url, params={"token": "wrong"}, json={"text": "hi"}, timeout=60).status_code == 401


@pytest.mark.parametrize("channel", ["whatsapp", "messenger"])
def test_signed_meta_bodies_nested_too_deeply_are_400(stack, channel):
    body = b'{"object": ' * 3000 + b"1" + b"}" * 3000
    sig = "sha256=" + hmac.new(CHANNEL_ENV["SAATHI_META_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    r = requests.post(f"{stack['rasa']}/webhooks/{channel}/webhook", data=body, timeout=60,
                      headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})
    assert r.status_code == 400, r.text


def test_a_lone_surrogate_is_replaced_not_stored(stack, shopper):
    # Valid JSON escapes, but not encodable text: Rasa's story export answered 500 for such a
    # conversation. Every channel's text check now replaces them (U+FFFD) and keeps the rest.
    r = requests.post(f"{stack['rasa']}/webhooks/rest/webhook", timeout=60,
                      data=b'{"sender": "%s", "message": "where is my order \\udbff KM-10234"}' % shopper.sender.encode(),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    user = [e for e in shopper.tracker()["events"] if e["event"] == "user"][-1]
    assert user["text"] == "where is my order \ufffd KM-10234"
    story = requests.get(f"{stack['rasa']}/conversations/{shopper.sender}/story", params={"token": stack["token"]},
                         timeout=60)
    assert story.status_code == 200 and "KM-10234" in story.text


def test_lone_surrogates_in_a_sender_or_an_api_body_are_400(stack):
    r = requests.post(f"{stack['rasa']}/webhooks/rest/webhook", data=b'{"sender": "x\\ud800", "message": "hi"}',
                      headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 400
    r = requests.post(f"{stack['rasa']}/conversations/fuzz-2/messages", params={"token": stack["token"]},
                      data=b'{"text": "a \\udfff", "sender": "user"}', headers={"Content-Type": "application/json"},
                      timeout=60)
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"

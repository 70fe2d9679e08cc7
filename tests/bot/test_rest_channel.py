"""Bad input over the REST webhook, against a real Rasa server: 4xx or a sensible reply."""
import requests


def post(stack, body, **kw):
    return requests.post(f"{stack['rasa']}/webhooks/rest/webhook", timeout=60, **(kw or {"json": body}))


def test_empty_text_asks_to_rephrase(stack):
    r = post(stack, {"sender": "bad-empty", "message": ""})
    assert r.status_code == 200
    assert r.json() and "understand" in r.json()[0]["text"].lower()


def test_whitespace_only(stack):
    r = post(stack, {"sender": "bad-ws", "message": "   \n\t  "})
    assert r.status_code == 200
    assert r.json() and "understand" in r.json()[0]["text"].lower()


def test_huge_message_is_refused_with_413(stack):
    r = post(stack, {"sender": "bad-huge", "message": "a" * 20000})
    assert r.status_code == 413
    assert "limit" in r.json()["error"]


def test_emoji_only_gets_a_reply(stack):
    r = post(stack, {"sender": "bad-emoji", "message": "🙏🙏😊"})
    assert r.status_code == 200
    assert r.json()


def test_control_characters_are_dropped(stack):
    r = post(stack, {"sender": "bad-ctrl", "message": "where\x00 is\x07 my\x1b order\u202e"})
    assert r.status_code == 200
    assert r.json()


def test_invalid_json_is_400(stack):
    r = post(stack, None, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "JSON" in r.json()["error"]


def test_non_object_json_is_400(stack):
    assert post(stack, ["sender", "x"]).status_code == 400


def test_missing_sender_is_400(stack):
    r = post(stack, {"message": "hello"})
    assert r.status_code == 400
    assert "sender" in r.json()["error"]


def test_non_string_message_is_400(stack):
    assert post(stack, {"sender": "bad-type", "message": {"text": "hi"}}).status_code == 400


def test_server_survives_all_of_it(stack):
    assert stack["rasa_proc"].poll() is None
    r = post(stack, {"sender": "after-bad", "message": "hello"})
    assert r.status_code == 200 and r.json()


def test_client_cannot_claim_another_channel(stack, shopper):
    requests.post(
        f"{stack['rasa']}/webhooks/rest/webhook",
        json={"sender": shopper.sender, "message": "hello", "input_channel": "whatsapp"},
        timeout=60,
    )
    assert shopper.tracker()["latest_input_channel"] == "rest"

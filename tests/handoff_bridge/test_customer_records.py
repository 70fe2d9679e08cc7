"""The bridge's part of one shopper across channels: the customer's history on the conversation
page (identities from the order database, transcripts from Rasa's tracker API) and the
export/erase service API."""
from __future__ import annotations

import html
from typing import Any

from sqlalchemy import func, select

from actions.customers import CustomerStore
from actions.orders.models import create_engine_for
from actions.orders.seed import seed_demo
from actions.orders.sql import SqlOrderProvider
from handoff_bridge.db import conversation_languages, conversations_seen, handoffs, outbox

from .conftest import AUTH, add_agent, enqueue, login, new_cid


def _link(app: Any, *links: tuple[str, str]) -> int:
    engine = create_engine_for(app.config["ORDERS_DB"])
    seed_demo(engine)
    order = SqlOrderProvider(engine).get("KM-10234")
    store = CustomerStore(engine)
    ids = {store.link(channel, sender, order, "phone", "en") for channel, sender in links}
    engine.dispose()
    return ids.pop()


def _count(app: Any, table: Any, cond: Any) -> int:
    with app.extensions["handoff_bridge"].engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(cond)).scalar_one()


def test_conversation_page_shows_verified_order_and_other_channels(app, client, rasa):
    """The shopper's other conversation (on the website) is read from Rasa: both of its sessions."""
    whatsapp, web = new_cid("+91"), new_cid("web")
    customer_id = _link(app, ("whatsapp", whatsapp), ("socketio", web))
    rasa.say(web, "kurta kab aayega")
    rasa.execute(web, "action_session_start")  # a second session (as after 60 minutes of silence)
    rasa.say(web, "thanks")
    answers = [t for t in rasa.bot_texts(web) if t]
    assert answers and sum(e["event"] == "session_started" for e in rasa.events(web)) == 2
    rasa.append(web, [{"event": "restart"}])  # Rasa's tracker API now hides all of it unless asked for ALL
    assert rasa.events(web) == []
    add_agent(app, role="admin")
    login(client)
    r = enqueue(client, whatsapp, context={"verified": True, "order_id": "KM-10234",
                                          "customer_id": customer_id})
    page = html.unescape(client.get(f"/console/handoffs/{r.get_json()['handoff_id']}").get_data(as_text=True))
    assert 'id="verified-order">KM-10234<' in page
    assert "Priya Sharma" in page and web in page and "this conversation" in page
    assert "kurta kab aayega" in page and "thanks" in page and all(t in page for t in answers), answers
    assert page.count('class="earlier-conversation"') == 2  # two sessions of the website conversation


def test_unlinked_conversation_says_so(app, client):
    add_agent(app, role="admin")
    login(client)
    r = enqueue(client, "web-stranger")
    page = client.get(f"/console/handoffs/{r.get_json()['handoff_id']}").get_data(as_text=True)
    assert "No customer record" in page


def test_export_and_erase_api(app, client):
    enqueue(client, "+919876543210")
    enqueue(client, "someone-else")
    bridge = app.extensions["handoff_bridge"]
    bridge.handle_event({"event": "user", "sender_id": "+919876543210", "text": "hello", "language": "en"})
    body = {"conversation_ids": ["+919876543210", "web-77"]}

    assert client.post("/api/customers/export", json=body).status_code == 401
    for bad in ({}, {"conversation_ids": "x"}, {"conversation_ids": [1]}, {"conversation_ids": [""]},
                {"conversation_ids": ["a"] * 201}):
        assert client.post("/api/customers/export", json=bad, headers=AUTH).status_code == 400
    assert client.post("/api/customers/erase", data="not json", headers=AUTH).status_code == 400

    exported = client.post("/api/customers/export", json=body, headers=AUTH).get_json()
    assert [h["conversation_id"] for h in exported["handoffs"]] == ["+919876543210"]
    assert [e["text"] for e in exported["shopper_events"]] == ["hello"]

    erased = client.post("/api/customers/erase", json=body, headers=AUTH).get_json()
    assert erased["counts"]["handoffs"] == 1 and erased["counts"]["conversations_seen"] == 1
    assert _count(app, handoffs, handoffs.c.conversation_id == "+919876543210") == 0
    assert _count(app, outbox, outbox.c.conversation_id == "+919876543210") == 0
    assert _count(app, handoffs, handoffs.c.conversation_id == "someone-else") == 1
    assert _count(app, conversations_seen, conversations_seen.c.key != "") == 0
    assert _count(app, conversation_languages, conversation_languages.c.key != "") == 0
    # Counted again (not remembered as already seen) if the shopper writes after the erasure.
    bridge.handle_event({"event": "user", "sender_id": "+919876543210", "text": "hi again", "language": "hi"})
    assert _count(app, conversation_languages, conversation_languages.c.language == "hi") == 1

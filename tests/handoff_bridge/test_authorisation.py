"""Who may call each route of the handoff bridge (the table in docs/handoff.md).

`ROUTES` classifies every route of the app; a test fails when a route is added without a rule.
Each rule is then checked on the real app and database: without credentials, with a console
session where only the service token counts, as a second non-admin agent on a conversation another
agent claimed (403), as the assigned agent and as an admin (allowed), without CSRF tokens, on the
live stream (no other agent's messages) and for shoppers' photos.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Optional

import pytest
from PIL import Image
from sqlalchemy import select

from handoff_bridge.db import handoffs, outbox
from tests.handoff_bridge.conftest import AUTH, add_agent, csrf_of, enqueue, login

PUBLIC = "anyone"
SERVICE = "service token"
SERVICE_OR_AGENT = "service token or any agent"
LOGIN = "anyone, with the login form's CSRF token"
AGENT = "any logged-in agent"
AGENT_POST = "any logged-in agent, CSRF token"
VIEWER = "admin, the assigned agent, or any agent while unassigned"
ASSIGNEE_POST = "admin or the assigned agent, CSRF token"
MEDIA = "admin, or an agent shown the photo while they may see its conversation"

# (method, rule) -> who may call it
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/static/<path:filename>"): PUBLIC,
    ("GET", "/console/static/<path:filename>"): PUBLIC,
    ("GET", "/widget/<path:filename>"): PUBLIC,
    ("GET", "/widget/status/<session_id>"): PUBLIC,
    ("GET", "/widget/messages/<session_id>"): PUBLIC,  # the session id is the secret, as for the status
    ("GET", "/shop/"): PUBLIC,
    ("POST", "/api/handoffs"): SERVICE,
    ("GET", "/api/handoffs/<conversation_id>"): SERVICE,
    ("POST", "/api/handoffs/<conversation_id>/rating"): SERVICE,
    ("POST", "/api/events"): SERVICE,
    ("POST", "/api/customers/export"): SERVICE,
    ("POST", "/api/customers/erase"): SERVICE,
    ("GET", "/api/metrics"): SERVICE_OR_AGENT,
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): LOGIN,
    ("POST", "/console/logout"): AGENT_POST,
    ("POST", "/console/presence"): AGENT_POST,
    ("GET", "/console/"): AGENT,
    ("GET", "/console/queue.json"): AGENT,
    ("GET", "/console/tickets"): AGENT,
    ("GET", "/console/metrics"): AGENT,
    ("GET", "/console/requests"): AGENT,
    ("GET", "/console/stream"): AGENT,
    ("POST", "/console/handoffs/<int:handoff_id>/claim"): AGENT_POST,
    ("POST", "/console/tickets/<int:handoff_id>/answer"): AGENT_POST,
    ("GET", "/console/handoffs/<int:handoff_id>"): VIEWER,
    ("GET", "/console/handoffs/<int:handoff_id>/messages.json"): VIEWER,
    ("POST", "/console/handoffs/<int:handoff_id>/messages"): ASSIGNEE_POST,
    ("POST", "/console/handoffs/<int:handoff_id>/transfer"): ASSIGNEE_POST,
    ("POST", "/console/handoffs/<int:handoff_id>/close"): ASSIGNEE_POST,
    ("GET", "/console/media/<name>"): MEDIA,
}


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "JPEG")
    return buf.getvalue()


class Team:
    """Asha and Bina (agents) and Meera (admin), each logged in with their own client."""

    def __init__(self, app: Any, client: Any) -> None:
        self.app = app
        self.ids = {"asha": add_agent(app, "asha@shop.in", "Asha Rao", capacity=20),
                    "bina": add_agent(app, "bina@shop.in", "Bina Das", capacity=20),
                    "meera": add_agent(app, "meera@shop.in", "Meera Sen", role="admin", capacity=20)}
        self.clients = {"asha": client, "bina": app.test_client(), "meera": app.test_client()}
        for name, c in self.clients.items():
            assert login(c, f"{name}@shop.in").status_code == 302

    def post(self, who: str, path: str, body: Optional[dict] = None, *, form: bool = False,
             csrf: Optional[str] = "auto") -> Any:
        c = self.clients[who]
        token = csrf_of(c) if csrf == "auto" else csrf
        if form:
            return c.post(path, data=dict(body or {}, **({"csrf_token": token} if token else {})))
        return c.post(path, json=body or {}, headers={"X-CSRF-Token": token} if token else {})

    def handoff(self, cid: str, claimed_by: Optional[str] = "asha") -> int:
        resp = enqueue(self.clients["asha"], cid)
        assert resp.status_code == 201 and resp.get_json()["status"] == "queued", resp.get_json()
        hid = resp.get_json()["handoff_id"]
        if claimed_by:
            assert self.post(claimed_by, f"/console/handoffs/{hid}/claim").status_code == 200
        return hid

    def row(self, hid: int) -> Any:
        with self.app.extensions["handoff_bridge"].engine.connect() as conn:
            return conn.execute(select(handoffs).where(handoffs.c.id == hid)).one()

    def messages(self, hid: int) -> list[Any]:
        with self.app.extensions["handoff_bridge"].engine.connect() as conn:
            return list(conn.execute(select(outbox).where(outbox.c.handoff_id == hid, outbox.c.agent_id.is_not(None))))


@pytest.fixture
def team(app: Any, client: Any) -> Team:
    return Team(app, client)


def read_stream(resp: Any) -> list[tuple[str, dict]]:
    """The events of a finished SSE response (the stream ends after STREAM_MAX_SECONDS in tests)."""
    text = "".join(c.decode() if isinstance(c, bytes) else c for c in resp.response)
    resp.close()
    events = []
    for frame in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if line.startswith(("event: ", "data: ")))
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def open_stream(c: Any) -> Any:
    resp = c.get("/console/stream", buffered=False)
    assert resp.status_code == 200
    next(resp.response)  # subscribed: the first frame ("retry") is out
    return resp


def test_every_route_has_a_rule(app: Any) -> None:
    routes = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    assert routes == set(ROUTES), {"without a rule": routes - set(ROUTES), "gone": set(ROUTES) - routes}


def test_nothing_but_public_routes_answer_without_credentials(app: Any, client: Any) -> None:
    hid = enqueue(client, "anon-1").get_json()["handoff_id"]
    for (method, rule), who in ROUTES.items():
        if who in (PUBLIC, LOGIN):
            continue
        path = (rule.replace("<int:handoff_id>", str(hid)).replace("<conversation_id>", "anon-1")
                .replace("<name>", "p.jpg"))
        resp = client.open(path, method=method, **({"json": {}} if method == "POST" else {}))
        if method == "POST":  # console POSTs fail the CSRF check first, the service API its token
            assert resp.status_code in (401, 403), (path, resp.status_code)
        elif who in (SERVICE, SERVICE_OR_AGENT) or path.endswith(("/stream", ".json")):
            assert resp.status_code == 401, (path, resp.status_code)
        else:
            assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], (path, resp.status_code)


def test_a_console_session_never_counts_as_the_service_token(team: Team) -> None:
    """Even an admin's session cookie gets 401 from the service API (export, erase, handoffs,
    events, ratings); only /api/metrics also takes a logged-in agent."""
    hid = team.handoff("svc-1", claimed_by=None)
    admin = team.clients["meera"]
    token = csrf_of(admin)
    calls = {("POST", "/api/handoffs"): {"conversation_id": "svc-2"},
             ("GET", "/api/handoffs/svc-1"): None,
             ("POST", "/api/handoffs/svc-1/rating"): {"rating": 5},
             ("POST", "/api/events"): {"sender_id": "svc-1", "event": "user", "text": "hi"},
             ("POST", "/api/customers/export"): {"conversation_ids": ["svc-1"]},
             ("POST", "/api/customers/erase"): {"conversation_ids": ["svc-1"]}}
    for (method, path), body in calls.items():
        resp = admin.open(path, method=method, json=body, headers={"X-CSRF-Token": token})
        assert resp.status_code == 401, (path, resp.status_code)
    assert team.row(hid).status == "queued"  # nothing erased
    for who in ("asha", "bina", "meera"):
        assert team.clients[who].get("/api/metrics").status_code == 200
    assert team.clients["bina"].get("/api/handoffs/svc-1", headers=AUTH).status_code == 200


VIEWER_ROUTES = ["/console/handoffs/{hid}", "/console/handoffs/{hid}/messages.json"]


@pytest.mark.parametrize("route", VIEWER_ROUTES)
def test_reading_a_claimed_conversation(team: Team, route: str) -> None:
    hid = team.handoff("read-1")
    path = route.format(hid=hid)
    assert team.clients["bina"].get(path).status_code == 403
    assert team.clients["asha"].get(path).status_code == 200
    assert team.clients["meera"].get(path).status_code == 200
    # While nobody has it, every agent may look (to decide whether to claim it).
    queued = team.handoff("read-2", claimed_by=None)
    assert team.clients["bina"].get(route.format(hid=queued)).status_code == 200
    assert team.clients["asha"].get(route.format(hid=10_000)).status_code == 404


ACTIONS = {
    "messages": lambda team, hid: {"text": "hello from the console"},
    "transfer": lambda team, hid: {"agent_id": str(team.ids["bina"] if team.row(hid).agent_id != team.ids["bina"]
                                                   else team.ids["meera"])},
    "close": lambda team, hid: {"note": "done"},
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_acting_on_a_claimed_conversation(team: Team, action: str) -> None:
    """Another agent gets 403 (JSON and plain form alike) and changes nothing; the assigned agent
    and an admin get through."""
    hid = team.handoff(f"act-{action}-1")
    path = f"/console/handoffs/{hid}/{action}"
    before = team.row(hid)
    assert team.post("bina", path, ACTIONS[action](team, hid)).status_code == 403
    assert team.post("bina", path, ACTIONS[action](team, hid), form=True).status_code == 403
    after = team.row(hid)
    assert (after.status, after.agent_id, after.close_note) == (before.status, before.agent_id, before.close_note)
    assert team.messages(hid) == []
    for who in ("asha", "meera"):
        hid = team.handoff(f"act-{action}-{who}")
        resp = team.post(who, f"/console/handoffs/{hid}/{action}", ACTIONS[action](team, hid))
        assert resp.status_code == 200, (who, resp.get_json())
    if action == "messages":
        assert team.messages(hid)[0].agent_id == team.ids["meera"]


@pytest.mark.parametrize("path,body", [
    ("/console/handoffs/{hid}/messages", {"text": "x"}),
    ("/console/handoffs/{hid}/transfer", {"agent_id": "0"}),
    ("/console/handoffs/{hid}/close", {"note": "x"}),
    ("/console/handoffs/{queued}/claim", {}),
    ("/console/tickets/{queued}/answer", {"text": "x"}),
    ("/console/presence", {"presence": "away"}),
    ("/console/logout", {}),
])
def test_every_state_changing_post_needs_the_csrf_token(team: Team, path: str, body: dict) -> None:
    hid, queued = team.handoff("csrf-1"), team.handoff("csrf-2", claimed_by=None)
    path = path.format(hid=hid, queued=queued)
    for csrf in (None, "wrong-token", csrf_of(team.clients["bina"])):  # missing, wrong, another session's
        assert team.post("asha", path, body, csrf=csrf).status_code == 403
        assert team.post("asha", path, body, csrf=csrf, form=True).status_code == 403
    assert (team.row(hid).status, team.row(hid).agent_id) == ("with_agent", team.ids["asha"])
    assert team.row(queued).status == "queued" and team.messages(hid) == []
    assert team.clients["asha"].get("/console/queue.json").get_json()["presence"] == "online"  # still logged in


def test_the_live_stream_carries_only_conversations_the_agent_may_see(team: Team) -> None:
    mine, queued = team.handoff("live-1"), team.handoff("live-2", claimed_by=None)
    streams = {who: open_stream(team.clients[who]) for who in ("asha", "bina", "meera")}
    for cid in ("live-1", "live-2"):
        assert team.clients["asha"].post("/api/events", headers=AUTH, json={
            "sender_id": cid, "event": "user", "text": f"secret of {cid}"}).status_code == 202
    assert team.post("asha", f"/console/handoffs/{mine}/messages", {"text": "agent reply"}).status_code == 200
    late = team.handoff("live-3", claimed_by=None)
    seen = {who: read_stream(resp) for who, resp in streams.items()}

    def texts(who: str) -> set:
        return {(kind, d.get("handoff_id"), d.get("text")) for kind, d in seen[who]
                if kind in ("shopper_message", "agent_message")}

    everything = {("shopper_message", mine, "secret of live-1"), ("shopper_message", queued, "secret of live-2"),
                  ("agent_message", mine, "agent reply")}
    assert texts("asha") == everything
    assert texts("meera") == everything
    assert texts("bina") == {("shopper_message", queued, "secret of live-2")}  # not Asha's conversation
    assert "secret of live-1" not in json.dumps(seen["bina"]) and "agent reply" not in json.dumps(seen["bina"])
    # Queue events (ids, language, reason: no text) reach every agent.
    for who in ("asha", "bina", "meera"):
        assert ("handoff_new", late) in [(k, d.get("handoff_id")) for k, d in seen[who]], who


def test_photos_only_for_those_who_may_see_the_conversation(team: Team) -> None:
    folder = Path(team.app.config["MEDIA_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("a1.jpg", "a2.jpg", "never-shown.jpg"):
        (folder / name).write_bytes(jpeg())
    hid = team.handoff("photo-1", claimed_by=None)
    streams = {who: open_stream(team.clients[who]) for who in ("asha", "bina")}
    team.clients["asha"].post("/api/events", headers=AUTH, json={
        "sender_id": "photo-1", "event": "user", "text": "",
        "metadata": {"attachments": [{"type": "image", "file": "a1.jpg", "caption": "dent"}]}})
    for who, resp in streams.items():
        assert any(d.get("attachments") for kind, d in read_stream(resp) if kind == "shopper_message"), who
    # While the conversation waits, both agents were shown the photo and may open it.
    for who in ("asha", "bina"):
        assert team.clients[who].get("/console/media/a1.jpg").status_code == 200, who
    # Asha claims it: Bina no longer may; Asha and the admin may.
    assert team.post("asha", f"/console/handoffs/{hid}/claim").status_code == 200
    assert team.clients["bina"].get("/console/media/a1.jpg").status_code == 403
    assert team.clients["asha"].get("/console/media/a1.jpg").status_code == 200
    assert team.clients["meera"].get("/console/media/a1.jpg").status_code == 200
    # A photo of Asha's conversation sent after the claim never reaches Bina's stream.
    streams = {who: open_stream(team.clients[who]) for who in ("asha", "bina")}
    team.clients["asha"].post("/api/events", headers=AUTH, json={
        "sender_id": "photo-1", "event": "user", "text": "",
        "metadata": {"attachments": [{"type": "image", "file": "a2.jpg"}]}})
    assert "a2.jpg" in json.dumps(read_stream(streams["asha"]))
    assert "a2.jpg" not in json.dumps(read_stream(streams["bina"]))
    assert team.clients["bina"].get("/console/media/a2.jpg").status_code == 403
    assert team.clients["asha"].get("/console/media/a2.jpg").status_code == 200
    # A file the console never showed an agent: 403 (an admin reads every file).
    assert team.clients["asha"].get("/console/media/never-shown.jpg").status_code == 403
    assert team.clients["meera"].get("/console/media/never-shown.jpg").status_code == 200
    # Erasing the shopper's records removes what the grants say about them.
    assert team.clients["asha"].post("/api/customers/erase", headers=AUTH,
                                     json={"conversation_ids": ["photo-1"]}).status_code == 200
    assert team.clients["asha"].get("/console/media/a1.jpg").status_code == 403

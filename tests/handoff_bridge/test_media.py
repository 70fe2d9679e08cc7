"""Photos and locations shoppers sent: the authenticated media route (safe names, real type,
nosniff), the transcript and the live stream rendering them, and return photos on /console/requests."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from handoff_bridge.media import attachments_of
from tests.handoff_bridge.conftest import AUTH, WhatsAppShopper, add_agent, ask_for_person, enqueue, login

XSS = "<script>alert(1)</script>"


def jpeg_bytes(colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, "JPEG")
    return buf.getvalue()


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buf, "PNG")
    return buf.getvalue()


def media_dir(app) -> Path:
    path = Path(app.config["MEDIA_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_media_needs_a_login(app, client):
    (media_dir(app) / "p1.jpg").write_bytes(jpeg_bytes())
    resp = client.get("/console/media/p1.jpg")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]


def test_media_is_served_with_the_type_its_bytes_show(app, client):
    folder = media_dir(app)
    jpeg = jpeg_bytes()
    (folder / "wa_3f2a.jpg").write_bytes(jpeg)
    (folder / "looks-like.jpg").write_bytes(png_bytes())  # a PNG named .jpg: served as what it is
    (folder / "evil.jpg").write_bytes(b"<html><script>alert(1)</script></html>")
    add_agent(app, role="admin")  # an admin may read any file (agents: what the console showed them)
    login(client)
    resp = client.get("/console/media/wa_3f2a.jpg")
    assert resp.status_code == 200 and resp.data == jpeg
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    assert client.get("/console/media/looks-like.jpg").headers["Content-Type"] == "image/png"
    html = client.get("/console/media/evil.jpg")
    assert html.status_code == 200 and html.headers["Content-Type"] == "application/octet-stream"
    assert html.headers["Content-Disposition"].startswith("attachment")
    assert html.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "/console/media/../bridge.db", "/console/media/..%2Fsecret.jpg", "/console/media/%2e%2e%2fsecret.jpg",
    "/console/media/..", "/console/media/.hidden.jpg", "/console/media/sub%2Fp.jpg", "/console/media/secret.jpg%00",
    "/console/media/missing.jpg", "/console/media/link.jpg", "/console/media/a..b.jpg",
])
def test_no_path_traversal(app, client, path):
    folder = media_dir(app)
    (folder.parent / "secret.jpg").write_bytes(jpeg_bytes())  # outside the media folder
    (folder / ".hidden.jpg").write_bytes(jpeg_bytes())
    (folder / "a..b.jpg").write_bytes(jpeg_bytes())
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "p.jpg").write_bytes(jpeg_bytes())
    if not (folder / "link.jpg").exists():
        os.symlink(folder.parent / "secret.jpg", folder / "link.jpg")
    add_agent(app)
    login(client)
    resp = client.get(path)
    assert resp.status_code in (400, 404), (path, resp.status_code)
    assert resp.data != jpeg_bytes()


def test_attachments_keep_only_well_formed_entries():
    got = attachments_of({"attachments": [
        {"type": "image", "file": "ok_1.jpg", "mime": "image/jpeg", "caption": "torn box"},
        {"type": "image", "file": "../../etc/passwd"},
        {"type": "image", "file": "/abs.jpg"},
        {"type": "image"},
        {"type": "location", "latitude": 28.6139, "longitude": 77.209, "name": "Home", "address": "Delhi"},
        {"type": "location", "latitude": "abc", "longitude": 1},
        {"type": "location", "latitude": 91, "longitude": 1},
        {"type": "location", "latitude": True, "longitude": 1},
        {"type": "video", "file": "v.mp4"}, "junk", 5,
        {"type": "image", "caption": "scratch", "error": "the photo could not be downloaded"}]})
    assert [a["type"] for a in got] == ["image", "location", "image_missing"]
    assert got[2] == {"type": "image_missing", "caption": "scratch"}
    assert got[0] == {"type": "image", "file": "ok_1.jpg", "caption": "torn box"}
    assert got[1]["map_url"] == "https://www.openstreetmap.org/?mlat=28.613900&mlon=77.209000#map=17/28.613900/77.209000"
    assert attachments_of(None) == [] and attachments_of({"attachments": "x"}) == []


def attachments(rasa, cid: str) -> list[dict]:
    return [a for e in rasa.events(cid) if e["event"] == "user" for a in (e.get("metadata") or {}).get("attachments", [])]


def test_transcript_shows_photos_and_locations_escaped(app, client, rasa):
    """A WhatsApp shopper sends photos and a location on Rasa's real connector (downloads from the
    recorded Graph API), then asks for a person; the agent's transcript shows them, escaped."""
    add_agent(app)
    login(client)
    shopper = WhatsAppShopper(rasa)
    shopper.photo(jpeg_bytes(), caption=XSS)
    shopper.photo(b"<html>not a photo</html>", caption="dent", content_type="text/html")  # refused: an error entry
    shopper.location(latitude=28.6139, longitude=77.209, name="<b>Ghar</b>", address="Connaught Place")
    # The connectors name files by their hash; a caller holding Rasa's token could still write any name.
    rasa.log_user_event(shopper.cid, "", {"attachments": [{"type": "image", "file": "../outside.jpg"}]})
    hid = ask_for_person(client, rasa, shopper.cid, "hi", say=shopper.say)["handoff_id"]
    saved = [a["file"] for a in attachments(rasa, shopper.cid) if a.get("mime") == "image/jpeg"]
    assert len(saved) == 1 and saved[0].endswith(".jpg"), attachments(rasa, shopper.cid)
    page = client.get(f"/console/handoffs/{hid}").get_data(as_text=True)
    assert f'<img\n       src="/console/media/{saved[0]}"' in page
    assert "outside.jpg" not in page
    assert "The shopper sent a photo that could not be downloaded (dent)." in page
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Ghar</b>" not in page and "&lt;b&gt;Ghar&lt;/b&gt;" in page and "Connaught Place" in page
    assert 'href="https://www.openstreetmap.org/?mlat=28.613900&amp;mlon=77.209000#map=17/28.613900/77.209000"' in page


def test_photo_reaches_the_live_stream(app, client):
    add_agent(app)
    login(client)
    enqueue(client, "wa-live")
    resp = client.get("/console/stream", buffered=False)
    chunks = resp.response
    next(chunks)
    client.post("/api/events", headers=AUTH, json={
        "sender_id": "wa-live", "event": "user", "text": "",
        "metadata": {"attachments": [{"type": "image", "file": "wa_9.jpg", "caption": "dent"},
                                     {"type": "image", "file": "../x"}]}})
    text = "".join(c.decode() if isinstance(c, bytes) else c for c in chunks)
    payload = next(line for line in text.splitlines() if line.startswith("data:") and "wa_9" in line)
    assert json.loads(payload[5:])["attachments"] == [{"type": "image", "file": "wa_9.jpg", "caption": "dent"}]
    resp.close()


def test_return_requests_show_the_photos_of_their_conversation(app, client, rasa):
    from actions.orders.models import create_engine_for, init_db
    from actions.orders.seed import seed_demo
    from actions.orders.sql import SqlOrderProvider
    from actions.orders.verification import VerificationStore

    shopper = WhatsAppShopper(rasa)  # photos through Rasa's real WhatsApp connector
    shopper.photo(jpeg_bytes(), caption="broken box")
    shopper.photo(png_bytes())
    shopper.location(latitude=1, longitude=2)
    files = [a["file"] for a in attachments(rasa, shopper.cid) if "file" in a]
    assert len(files) == 2 and files[0].endswith(".jpg") and files[1].endswith(".png"), files
    engine = create_engine_for(app.config["ORDERS_DB"])
    init_db(engine)
    seed_demo(engine)
    VerificationStore(engine).record_verified(shopper.cid, "KM-10238", "channel")
    provider = SqlOrderProvider(engine, return_window_days=10)
    with_photos = provider.create_return("KM-10238", reason="broken", today=dt.date.today())
    assert with_photos.outcome == "created"
    engine.dispose()
    add_agent(app)
    login(client)
    page = client.get("/console/requests").get_data(as_text=True)
    assert with_photos.reference in page
    assert f'src="/console/media/{files[0]}"' in page and f'src="/console/media/{files[1]}"' in page
    assert 'alt="broken box"' in page
    app.extensions["handoff_bridge"].rasa.base_url = rasa.unreachable_url()  # Rasa is down
    page = client.get("/console/requests").get_data(as_text=True)
    assert "transcript unavailable (rasa_down)" in page and files[0] not in page

"""What shoppers sent besides text: photos and locations, for the agent console.

The channel connectors save a shopper's photo as a file in `SAATHI_MEDIA_DIR` and log the
message with `metadata={"attachments": [...]}` in Rasa's tracker:
`{"type": "image", "file": "<name>", "mime": "image/jpeg", "caption": "..."}` or
`{"type": "location", "latitude": .., "longitude": .., "name": .., "address": ..}`.
`attachments_of()` keeps only well-formed entries (anything else in the metadata is ignored);
`/console/media/<name>` serves a saved file to logged-in staff: safe names only, the type read
from the file's first bytes (never trusted from the metadata), images inline, anything else as a
download. An admin gets any file; another agent only a file the console showed them (`grant`:
a transcript or live event of a handoff they could see, or the requests page) and, for a
handoff's photo, only while they may still see that handoff: a photo of a conversation another
agent has claimed is 403.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, send_file
from sqlalchemy import and_, insert, or_, select

from handoff_bridge.auth import bridge, current_agent, login_required
from handoff_bridge.db import handoffs, media_grants

bp = Blueprint("media", __name__, url_prefix="/console")

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_ATTACHMENTS = 20
MAX_TEXT = 300
# Magic numbers of the image types a browser may show inline.
_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
               (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def safe_name(name: Any) -> Optional[str]:
    """The file name if it is a plain name inside the media folder (no path, no '..'), else None."""
    if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name:
        return None
    return name


def image_type(head: bytes) -> Optional[str]:
    """The image MIME type the first bytes of a file show, or None."""
    for magic, mime in _SIGNATURES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _text(value: Any) -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def _coordinate(value: Any, limit: float) -> Optional[float]:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 6) if -limit <= number <= limit else None


def map_url(latitude: float, longitude: float) -> str:
    """An OpenStreetMap link with a marker on the point."""
    query = urlencode({"mlat": f"{latitude:.6f}", "mlon": f"{longitude:.6f}"})
    return f"https://www.openstreetmap.org/?{query}#map=17/{latitude:.6f}/{longitude:.6f}"


def attachments_of(metadata: Any) -> list[dict[str, Any]]:
    """The well-formed image and location attachments of a message's metadata."""
    raw = metadata.get("attachments") if isinstance(metadata, dict) else None
    if not isinstance(raw, list):
        return []
    out: list[dict[str, Any]] = []
    for item in raw[:MAX_ATTACHMENTS]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "image":
            name = safe_name(item.get("file"))
            if name:
                out.append({"type": "image", "file": name, "caption": _text(item.get("caption"))})
            elif item.get("error"):  # the connector could not download it: say so, never hide it
                out.append({"type": "image_missing", "caption": _text(item.get("caption"))})
        elif item.get("type") == "location":
            lat, lon = _coordinate(item.get("latitude"), 90), _coordinate(item.get("longitude"), 180)
            if lat is not None and lon is not None:
                out.append({"type": "location", "latitude": lat, "longitude": lon,
                            "name": _text(item.get("name")), "address": _text(item.get("address")),
                            "map_url": map_url(lat, lon)})
    return out


def images_in(tracker: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every photo the shopper sent in a tracker (oldest first)."""
    found: list[dict[str, Any]] = []
    for ev in (tracker or {}).get("events") or []:
        if isinstance(ev, dict) and ev.get("event") == "user":
            found += [a for a in attachments_of(ev.get("metadata")) if a["type"] == "image"]
    return found


def grant(agent: Any, attachments: list[dict[str, Any]], handoff_id: Optional[int], b: Any = None) -> None:
    """Record that `agent` was shown these photos (of handoff `handoff_id`, or on the requests page).
    `b`: the Bridge, for callers outside a request (the live stream)."""
    files = {a["file"] for a in attachments if a.get("type") == "image" and a.get("file")}
    if agent is None or agent.role == "admin" or not files:
        return
    b = b or bridge()
    with b.engine.begin() as conn:
        held = set(conn.execute(select(media_grants.c.file).where(
            media_grants.c.agent_id == agent.id, media_grants.c.file.in_(files),
            media_grants.c.handoff_id.is_(None) if handoff_id is None
            else media_grants.c.handoff_id == handoff_id)).scalars())
        new = [{"agent_id": agent.id, "file": f, "handoff_id": handoff_id, "at": b.now()} for f in files - held]
        if new:
            conn.execute(insert(media_grants), new)


def may_read(agent: Any, name: str) -> bool:
    """Admins read every file; an agent what was shown to them, while its handoff is theirs to see."""
    if agent.role == "admin":
        return True
    visible_handoff = and_(handoffs.c.id.is_not(None),
                           or_(handoffs.c.agent_id.is_(None), handoffs.c.agent_id == agent.id))
    query = (select(media_grants.c.id)
             .select_from(media_grants.outerjoin(handoffs, handoffs.c.id == media_grants.c.handoff_id))
             .where(media_grants.c.agent_id == agent.id, media_grants.c.file == name,
                    or_(media_grants.c.handoff_id.is_(None), visible_handoff)).limit(1))
    with bridge().engine.connect() as conn:
        return conn.execute(query).first() is not None


@bp.get("/media/<name>")
@login_required
def media(name: str) -> Any:
    """A file a shopper sent; images inline with their real type, anything else as a download."""
    if safe_name(name) is None:
        abort(404)
    folder = Path(current_app.config["MEDIA_DIR"]).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        abort(404)
    if not may_read(current_agent(), name):
        abort(403)
    with path.open("rb") as fh:
        mime = image_type(fh.read(16))
    if mime is None:
        resp = send_file(path, mimetype="application/octet-stream", as_attachment=True, download_name=name)
    else:
        resp = send_file(path, mimetype=mime)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp

"""What the bot did for shoppers, for staff: returns, cancellations, address changes and payment
references the action server recorded in the order database (`SAATHI_ORDERS_DB`), with the
photos the shopper sent in a return's conversation (read from Rasa's tracker)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from flask import Blueprint, current_app, render_template
from sqlalchemy import Engine, select

from handoff_bridge.auth import bridge, current_agent, login_required
from handoff_bridge.media import grant, images_in

bp = Blueprint("requests", __name__, url_prefix="/console")
LIMIT = 100
PHOTO_LOOKUPS = 20  # returns whose conversation is read from Rasa for photos, per page view


def _engine() -> Engine:
    engine = current_app.extensions.get("orders_engine")
    if engine is None:
        from actions.orders.models import create_engine_for, init_db
        from actions.orders.verification import VerifiedRow  # noqa: F401 (its table, for init_db)

        engine = create_engine_for(current_app.config["ORDERS_DB"])
        init_db(engine)
        current_app.extensions["orders_engine"] = engine
    return engine


def bot_requests(engine: Engine, limit: int = LIMIT) -> dict[str, list[dict[str, Any]]]:
    """The newest requests of each kind, newest first."""
    from actions.orders.models import AddressChangeRow, CancellationRow, PaymentReportRow, ReturnRequestRow

    kinds = {"returns": ReturnRequestRow, "cancellations": CancellationRow,
             "address_changes": AddressChangeRow, "payment_references": PaymentReportRow}
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, row in kinds.items():
            table = row.__table__
            rows = conn.execute(select(table).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit))
            out[name] = [dict(r._mapping) for r in rows]
    return out


def help_centre_stats(limit: int = 10) -> dict[str, Any]:
    """Ratings per article and the most frequent unanswered questions (actions.kb_feedback's DB)."""
    from actions.kb_feedback import FeedbackStore

    store = current_app.extensions.get("kb_feedback")
    if store is None:
        store = current_app.extensions["kb_feedback"] = FeedbackStore(current_app.config["KB_DB"])
    return {
        "article_ratings": [{"article_id": a, "helpful": h, "not_helpful": n} for a, h, n in store.article_ratings()],
        "frequent_unanswered": [{"question": q, "count": c} for q, c in store.frequent_unanswered(limit)],
    }


def conversation_of(engine: Engine, order_id: str, created_at: Any) -> Optional[str]:
    """The conversation that proved it owns the order last before the request was made (the bot
    creates requests for verified conversations only), from the action server's records."""
    from actions.orders.verification import VerifiedRow

    with engine.connect() as conn:
        query = select(VerifiedRow.sender_id).where(VerifiedRow.order_id == order_id)
        if created_at is not None:
            query = query.where(VerifiedRow.verified_at <= created_at + dt.timedelta(minutes=1))
        return conn.execute(query.order_by(VerifiedRow.verified_at.desc(), VerifiedRow.id.desc()).limit(1)).scalar()


def attach_photos(engine: Engine, returns: list[dict[str, Any]], limit: int = PHOTO_LOOKUPS) -> None:
    """Add `photos` (the images the shopper sent in the return's conversation, read from Rasa's
    tracker) to the newest `limit` returns; `photos_error` when the transcript cannot be read."""
    for ret in returns[:limit]:
        ret["photos"], ret["photos_error"] = [], ""
        sender = conversation_of(engine, ret["order_id"], ret.get("created_at"))
        if not sender:
            continue
        outcome, tracker = bridge().rasa.tracker(sender)
        if tracker is None:
            ret["photos_error"] = f"transcript unavailable ({outcome})"
            continue
        ret["photos"] = images_in(tracker)


@bp.get("/requests")
@login_required
def requests_page() -> Any:
    engine = _engine()
    data = bot_requests(engine)
    attach_photos(engine, data["returns"])
    grant(current_agent(), [p for r in data["returns"] for p in r.get("photos") or []], None)
    return render_template("requests.html", agent=current_agent(), data=data)

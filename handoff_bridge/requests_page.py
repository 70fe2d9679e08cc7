"""What the bot did for shoppers, for staff: returns, cancellations, address changes and payment
references the action server recorded in the order database (`SAATHI_ORDERS_DB`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from sqlalchemy import Engine, select

from handoff_bridge.auth import current_agent, login_required

bp = Blueprint("requests", __name__, url_prefix="/console")
LIMIT = 100


def _engine() -> Engine:
    engine = current_app.extensions.get("orders_engine")
    if engine is None:
        from actions.orders.models import create_engine_for, init_db

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


@bp.get("/requests")
@login_required
def requests_page() -> Any:
    return render_template("requests.html", agent=current_agent(), data=bot_requests(_engine()))

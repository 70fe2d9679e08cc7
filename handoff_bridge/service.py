"""The handoff queue: enqueue, positions, claims, agent messages, closing, tickets, the outbox worker.

Everything the bridge sends to Rasa goes through the `outbox` table and is delivered, in order per
conversation, by one background thread; while Rasa is down messages stay pending and are retried.
"""
from __future__ import annotations

import hashlib
import logging
import math
import statistics
import threading
from dataclasses import dataclass
from datetime import datetime, time as dtime, timezone
from typing import Any, Callable, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from handoff_bridge import messages
from handoff_bridge.db import (OPEN_STATUSES, agents, conversation_languages, conversations_seen, handoffs, outbox,
                               shopper_events)
from handoff_bridge.media import attachments_of
from handoff_bridge.rasa_client import DELIVERED, ERROR, RASA_DOWN, RasaClient
from handoff_bridge.cluster import outbox_turn
from handoff_bridge.sse import Broker

logger = logging.getLogger(__name__)

REASONS = ("shopper_request", "low_confidence", "complaint", "verification_failed", "payment_issue",
           "delayed_order", "action_error")
DEFAULT_HANDLE_MINUTES = 5.0
SHOPPER_BUFFER = 50  # latest shopper messages kept per handoff for SSE catch-up
MAX_ERROR_ATTEMPTS = 3


def mask_id(conversation_id: str) -> str:
    """A conversation id fit for logs (sender ids can be phone numbers)."""
    return "conv:" + hashlib.sha256(conversation_id.encode()).hexdigest()[:10]


def first_name(name: Optional[str]) -> str:
    """What the shopper sees of an agent's name."""
    return (name or "").strip().split(" ")[0] or "An agent"


def parse_hours(spec: str) -> tuple[dtime, dtime]:
    """'09:00-21:00' -> (09:00, 21:00); an end before the start wraps past midnight."""
    start, _, end = spec.partition("-")
    return dtime.fromisoformat(start.strip()), dtime.fromisoformat(end.strip())


def percentile(values: list[float], pct: float) -> Optional[float]:
    """Nearest-rank percentile, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


@dataclass
class Result:
    """Outcome of an agent action: ok, or an error code with an HTTP status."""

    ok: bool
    code: str = ""
    http: int = 200
    data: Optional[dict[str, Any]] = None


class Bridge:
    """All queue logic over one engine, one Rasa client and one SSE broker."""

    def __init__(self, engine: Engine, rasa: RasaClient, *, agent_hours: str, tz: str,
                 clock: Optional[Callable[[], datetime]] = None, presence_ttl: float = 180.0,
                 outbox_interval: float = 3.0, outbox_max_age: float = 86400.0) -> None:
        self.engine = engine
        self.rasa = rasa
        self.hours = parse_hours(agent_hours)
        self.hours_spec = agent_hours
        self.tz = ZoneInfo(tz)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.presence_ttl = presence_ttl
        self.outbox_interval = outbox_interval
        self.outbox_max_age = outbox_max_age
        self.broker = Broker()
        self._positions_lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._seen_keys: set[str] = set()

    # ---- time -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock().timestamp()

    def in_agent_hours(self) -> bool:
        local = self.clock().astimezone(self.tz).time()
        start, end = self.hours
        if start <= end:
            return start <= local < end
        return local >= start or local < end

    # ---- agents -----------------------------------------------------------------------------

    def online_agents(self, conn: Connection) -> list[Any]:
        cutoff = self.now() - self.presence_ttl
        return list(conn.execute(select(agents).where(
            agents.c.presence == "online", agents.c.last_seen >= cutoff)))

    def touch_agent(self, agent_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(agents).where(agents.c.id == agent_id).values(last_seen=self.now()))

    def set_presence(self, agent_id: int, presence: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(agents).where(agents.c.id == agent_id)
                         .values(presence=presence, last_seen=self.now()))
        self.broker.publish("presence", {"agent_id": agent_id, "presence": presence})

    def get_agent(self, agent_id: int) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(agents).where(agents.c.id == agent_id)).first()

    def active_count(self, conn: Connection, agent_id: int) -> int:
        return conn.execute(select(func.count()).select_from(handoffs).where(
            handoffs.c.agent_id == agent_id, handoffs.c.status == "with_agent")).scalar_one()

    # ---- queue ------------------------------------------------------------------------------

    def _open_for(self, conn: Connection, conversation_id: str) -> Any:
        return conn.execute(select(handoffs).where(
            handoffs.c.conversation_id == conversation_id,
            handoffs.c.status.in_(OPEN_STATUSES))).first()

    def queued(self, conn: Connection) -> list[Any]:
        return list(conn.execute(select(handoffs).where(handoffs.c.status == "queued")
                                 .order_by(handoffs.c.created_at, handoffs.c.id)))

    def _avg_handle_minutes(self, conn: Connection) -> float:
        rows = conn.execute(select(handoffs.c.closed_at - handoffs.c.claimed_at).where(
            handoffs.c.status == "closed", handoffs.c.claimed_at.is_not(None),
            handoffs.c.closed_at.is_not(None)).order_by(handoffs.c.closed_at.desc()).limit(50)).scalars()
        values = [v / 60 for v in rows if v is not None and v > 0]
        return statistics.median(values) if values else DEFAULT_HANDLE_MINUTES

    def eta_minutes(self, conn: Connection, position: int) -> int:
        agents_online = max(1, len(self.online_agents(conn)))
        return max(1, math.ceil(position * self._avg_handle_minutes(conn) / agents_online))

    def _position(self, conn: Connection, handoff_id: int) -> Optional[int]:
        for pos, row in enumerate(self.queued(conn), 1):
            if row.id == handoff_id:
                return pos
        return None

    def _describe(self, conn: Connection, row: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"status": row.status, "handoff_id": row.id}
        if row.status == "queued":
            position = self._position(conn, row.id) or 1
            body.update(position=position, eta_minutes=self.eta_minutes(conn, position))
        elif row.status == "offline_ticket":
            body["back_at"] = self.hours_spec.partition("-")[0].strip()
        elif row.status == "with_agent" and row.agent_id is not None:
            agent = conn.execute(select(agents.c.name).where(agents.c.id == row.agent_id)).scalar()
            body["agent_name"] = first_name(agent)
        return body

    def enqueue(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Queue a conversation (201), or return its open handoff (200). Offline -> a ticket."""
        cid = data["conversation_id"]
        with self.engine.connect() as conn:
            existing = self._open_for(conn, cid)
            if existing is not None:
                return 200, self._describe(conn, existing)
            offline_reason = None
            if not self.in_agent_hours():
                offline_reason = "outside_hours"
            elif not self.online_agents(conn):
                offline_reason = "no_agent_online"
        status = "offline_ticket" if offline_reason else "queued"
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(insert(handoffs).values(
                    conversation_id=cid, channel=data["channel"], language=data["language"],
                    reason=data["reason"], context=data["context"], status=status,
                    created_at=self.now()).returning(handoffs.c.id)).scalar_one()
                if status == "queued":
                    position = self._position(conn, new_id)
                    conn.execute(update(handoffs).where(handoffs.c.id == new_id)
                                 .values(last_notified_position=position))
                row = conn.execute(select(handoffs).where(handoffs.c.id == new_id)).one()
                body = self._describe(conn, row)
        except IntegrityError:  # a concurrent request opened it first
            with self.engine.connect() as conn:
                existing = self._open_for(conn, cid)
                if existing is None:
                    raise
                return 200, self._describe(conn, existing)
        if offline_reason:
            body["offline_reason"] = offline_reason
        logger.info("handoff %s %s (%s, %s)", new_id, status, mask_id(cid), data["reason"])
        self.broker.publish("handoff_new", {"handoff_id": new_id, "status": status,
                                            "language": data["language"], "reason": data["reason"]})
        return 201, body

    def status(self, conversation_id: str) -> Optional[dict[str, Any]]:
        """The open handoff of a conversation, else its latest one; None when it never had one."""
        with self.engine.connect() as conn:
            row = self._open_for(conn, conversation_id) or conn.execute(
                select(handoffs).where(handoffs.c.conversation_id == conversation_id)
                .order_by(handoffs.c.id.desc()).limit(1)).first()
            return None if row is None else self._describe(conn, row)

    def refresh_positions(self) -> int:
        """Tell every waiting shopper whose position changed their new position; returns how many."""
        told = 0
        with self._positions_lock, self.engine.begin() as conn:
            rows = self.queued(conn)
            for pos, row in enumerate(rows, 1):
                if row.last_notified_position == pos:
                    continue
                conn.execute(update(handoffs).where(handoffs.c.id == row.id)
                             .values(last_notified_position=pos))
                text = messages.render("position", row.language, position=pos,
                                       minutes=self.eta_minutes(conn, pos))
                self._queue(conn, row, "message", text=text)
                told += 1
        if told:
            self.broker.publish("queue_changed", {"waiting": len(rows)})
            self.wake()
        return told

    # ---- shopper events from Rasa's event broker ---------------------------------------------

    def handle_event(self, event: dict[str, Any]) -> str:
        """React to one tracker event: fan out shopper messages, leave the queue on request."""
        sender = event.get("sender_id")
        if event.get("event") != "user" or not isinstance(sender, str) or not sender:
            return "ignored"
        text = str(event.get("text") or "")[:4000]
        attachments = attachments_of(event.get("metadata"))
        now = self.now()
        language = event.get("language")
        self._seen(sender, now, language if language in messages.LANGUAGES else None)
        left = False
        with self.engine.begin() as conn:
            row = self._open_for(conn, sender)
            if row is None:
                return "ignored"
            if row.status == "queued" and messages.is_leave_phrase(text):
                res = conn.execute(update(handoffs).where(
                    handoffs.c.id == row.id, handoffs.c.status == "queued")
                    .values(status="left", closed_at=now))
                if res.rowcount == 1:
                    left = True
                    # null, not "closed": a bare digit next must not be taken as an agent rating
                    self._queue(conn, row, "resume",
                                payload=[{"event": "slot", "name": "handoff_status", "value": None}])
                    self._queue(conn, row, "message", text=messages.render("left_queue", row.language))
            if not left:
                conn.execute(update(handoffs).where(handoffs.c.id == row.id).values(last_shopper_at=now))
                buffered = text or " ".join(f"[{a['type']}]" for a in attachments)
                new_id = conn.execute(insert(shopper_events).values(
                    handoff_id=row.id, text=buffered, at=now).returning(shopper_events.c.id)).scalar_one()
                conn.execute(delete(shopper_events).where(
                    shopper_events.c.handoff_id == row.id,
                    shopper_events.c.id <= new_id - SHOPPER_BUFFER))
        if left:
            logger.info("handoff %s left the queue", row.id)
            self.broker.publish("handoff_left", {"handoff_id": row.id})
            self.refresh_positions()
            self.wake()
            return "left"
        self.broker.publish("shopper_message", {"handoff_id": row.id, "text": text, "at": now,
                                                "attachments": attachments})
        return "fanned_out"

    # ---- agent actions ----------------------------------------------------------------------

    def _load(self, conn: Connection, handoff_id: int) -> Any:
        return conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).first()

    def claim(self, handoff_id: int, agent: Any) -> Result:
        with self.engine.begin() as conn:
            if self.active_count(conn, agent.id) >= agent.capacity:
                return Result(False, "capacity", 409)
            res = conn.execute(update(handoffs).where(
                handoffs.c.id == handoff_id, handoffs.c.status == "queued")
                .values(status="with_agent", agent_id=agent.id, claimed_at=self.now()))
            if res.rowcount != 1:
                return Result(False, "not_queued", 409)
            row = self._load(conn, handoff_id)
            self._joined(conn, row, agent)
        self.broker.publish("claimed", {"handoff_id": handoff_id, "agent_id": agent.id})
        self.refresh_positions()
        self.wake()
        return Result(True)

    def _joined(self, conn: Connection, row: Any, agent: Any) -> None:
        self._queue(conn, row, "slot", payload={"name": "handoff_status", "value": "with_agent"})
        self._queue(conn, row, "message",
                    text=messages.render("joined", row.language, agent=first_name(agent.name)))

    def _may_act(self, row: Any, agent: Any) -> bool:
        return row.status == "with_agent" and (row.agent_id == agent.id or agent.role == "admin")

    @staticmethod
    def may_view(row: Any, agent: Any) -> bool:
        """Who may read a handoff's transcript and live messages: an admin, its agent, or any agent
        while nobody has it (queued, left before a claim, an offline ticket)."""
        return agent.role == "admin" or row.agent_id is None or row.agent_id == agent.id

    def visible_to(self, handoff_id: Any, agent: Any) -> bool:
        if agent.role == "admin":
            return True
        if not isinstance(handoff_id, int):
            return False
        with self.engine.connect() as conn:
            row = self._load(conn, handoff_id)
        return row is not None and self.may_view(row, agent)

    def agent_message(self, handoff_id: int, agent: Any, text: str) -> Result:
        with self.engine.begin() as conn:
            row = self._load(conn, handoff_id)
            if row is None:
                return Result(False, "not_found", 404)
            if not self._may_act(row, agent):
                return Result(False, "not_your_conversation", 403)
            outbox_id = self._queue(conn, row, "message", text=text, agent_id=agent.id)
            if row.first_response_at is None:
                conn.execute(update(handoffs).where(handoffs.c.id == row.id)
                             .values(first_response_at=self.now()))
        self.broker.publish("agent_message", {"handoff_id": handoff_id, "outbox_id": outbox_id,
                                              "agent_id": agent.id, "text": text, "state": "pending"})
        self.wake()
        return Result(True, data={"outbox_id": outbox_id, "state": "pending"})

    def transfer(self, handoff_id: int, agent: Any, to_agent_id: int) -> Result:
        with self.engine.begin() as conn:
            row = self._load(conn, handoff_id)
            if row is None:
                return Result(False, "not_found", 404)
            if not self._may_act(row, agent):
                return Result(False, "not_your_conversation", 403)
            target = conn.execute(select(agents).where(agents.c.id == to_agent_id)).first()
            if target is None or target.id == row.agent_id:
                return Result(False, "bad_target", 400)
            if target.presence == "offline":
                return Result(False, "target_offline", 409)
            if self.active_count(conn, target.id) >= target.capacity:
                return Result(False, "capacity", 409)
            conn.execute(update(handoffs).where(handoffs.c.id == row.id).values(agent_id=target.id))
            self._queue(conn, row, "message",
                        text=messages.render("joined", row.language, agent=first_name(target.name)))
        self.broker.publish("transferred", {"handoff_id": handoff_id, "agent_id": to_agent_id})
        self.wake()
        return Result(True)

    def close(self, handoff_id: int, agent: Any, note: str) -> Result:
        with self.engine.begin() as conn:
            row = self._load(conn, handoff_id)
            if row is None:
                return Result(False, "not_found", 404)
            if not self._may_act(row, agent):
                return Result(False, "not_your_conversation", 403)
            res = conn.execute(update(handoffs).where(
                handoffs.c.id == row.id, handoffs.c.status == "with_agent")
                .values(status="closed", closed_at=self.now(), close_note=note))
            if res.rowcount != 1:
                return Result(False, "not_open", 409)
            self._queue(conn, row, "resume",
                        payload=[{"event": "slot", "name": "handoff_status", "value": "closed"}])
            self._queue(conn, row, "message", text=messages.render("rating", row.language))
        self.broker.publish("closed", {"handoff_id": handoff_id})
        self.wake()
        return Result(True)

    def answer_ticket(self, handoff_id: int, agent: Any, text: str) -> Result:
        now = self.now()
        with self.engine.begin() as conn:
            row = self._load(conn, handoff_id)
            if row is None:
                return Result(False, "not_found", 404)
            res = conn.execute(update(handoffs).where(
                handoffs.c.id == row.id, handoffs.c.status == "offline_ticket")
                .values(status="closed", agent_id=agent.id, first_response_at=now, closed_at=now,
                        close_note="ticket answered"))
            if res.rowcount != 1:
                return Result(False, "not_a_ticket", 409)
            self._queue(conn, row, "resume",
                        payload=[{"event": "slot", "name": "handoff_status", "value": "closed"}])
            outbox_id = self._queue(conn, row, "message", text=text, agent_id=agent.id)
        self.broker.publish("ticket_answered", {"handoff_id": handoff_id, "outbox_id": outbox_id})
        self.wake()
        return Result(True, data={"outbox_id": outbox_id, "state": "pending"})

    def rate(self, conversation_id: str, rating: int) -> bool:
        with self.engine.begin() as conn:
            hid = conn.execute(select(handoffs.c.id).where(
                handoffs.c.conversation_id == conversation_id, handoffs.c.status == "closed")
                .order_by(handoffs.c.closed_at.desc(), handoffs.c.id.desc()).limit(1)).scalar()
            if hid is None:
                return False
            conn.execute(update(handoffs).where(handoffs.c.id == hid).values(rating=rating))
        return True

    # ---- outbox -----------------------------------------------------------------------------

    def _queue(self, conn: Connection, row: Any, kind: str, *, text: Optional[str] = None,
               payload: Any = None, agent_id: Optional[int] = None) -> int:
        return conn.execute(insert(outbox).values(
            handoff_id=row.id, conversation_id=row.conversation_id, agent_id=agent_id, kind=kind,
            text=text, payload=payload, state="pending", attempts=0, created_at=self.now())
            .returning(outbox.c.id)).scalar_one()

    def _send(self, item: Any) -> str:
        if item.kind == "message":
            return self.rasa.push_bot_message(item.conversation_id, item.text or "", item.payload or None,
                                              marker=self.widget_marker(item))
        if item.kind == "resume":
            return self.rasa.resume(item.conversation_id, item.payload or [])
        if item.kind == "slot":
            return self.rasa.set_slot(item.conversation_id, item.payload["name"], item.payload["value"])
        return ERROR

    def widget_marker(self, item: Any) -> Optional[dict[str, Any]]:
        """For the website widget (socketio only; other channels would show it as a message): who
        says this outbox message (an agent or the bridge) and the handoff's state as it is now."""
        with self.engine.connect() as conn:
            row = self._load(conn, item.handoff_id)
            if row is None or row.channel != "socketio":
                return None
            marker = {k: v for k, v in self._describe(conn, row).items() if k != "handoff_id"}
            marker["from"] = "agent" if item.agent_id else "bridge"
            # Rasa's socketio channel sends one bot_uttered per paragraph; the widget skips empty ones.
            marker["parts"] = sum(1 for part in (item.text or "").strip().split("\n\n") if part)
            if item.agent_id:
                name = conn.execute(select(agents.c.name).where(agents.c.id == item.agent_id)).scalar()
                marker["agent_name"] = first_name(name)
        return marker

    def deliver_pending(self, limit: int = 200) -> int:
        """One pass over pending outbox items, oldest first; stops at the first sign Rasa is down."""
        delivered = 0
        with self._deliver_lock, outbox_turn(self.engine) as my_turn:
            if not my_turn:
                return 0
            with self.engine.connect() as conn:
                items = list(conn.execute(select(outbox).where(outbox.c.state == "pending")
                                          .order_by(outbox.c.id).limit(limit)))
            blocked: set[str] = set()
            for item in items:
                if item.conversation_id in blocked:
                    continue
                now = self.now()
                if now - item.created_at > self.outbox_max_age:
                    self._finish(item, "failed", item.attempts)
                    blocked.add(item.conversation_id)
                    continue
                outcome = self._send(item)
                if outcome == DELIVERED:
                    self._finish(item, "delivered", item.attempts + 1, now)
                    delivered += 1
                    continue
                if outcome == RASA_DOWN:
                    with self.engine.begin() as conn:
                        conn.execute(update(outbox).where(outbox.c.id == item.id)
                                     .values(attempts=item.attempts + 1))
                    break
                if item.attempts + 1 >= MAX_ERROR_ATTEMPTS:
                    self._finish(item, "failed", item.attempts + 1)
                else:
                    with self.engine.begin() as conn:
                        conn.execute(update(outbox).where(outbox.c.id == item.id)
                                     .values(attempts=item.attempts + 1))
                blocked.add(item.conversation_id)
        return delivered

    def _finish(self, item: Any, state: str, attempts: int, at: Optional[float] = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(and_(outbox.c.id == item.id, outbox.c.state == "pending"))
                         .values(state=state, attempts=attempts, delivered_at=at))
        if item.kind == "message":
            self.broker.publish("message_" + state, {"handoff_id": item.handoff_id, "outbox_id": item.id})

    def wake(self) -> None:
        """Ask the outbox worker for a pass now."""
        self._wake.set()

    def start(self) -> None:
        """Start the outbox worker thread (idempotent)."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bridge-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.deliver_pending()
            except Exception:  # keep the worker alive; the database may be briefly unavailable
                logger.exception("outbox pass failed")
            self._wake.wait(self.outbox_interval)

    # ---- metrics ----------------------------------------------------------------------------

    def _seen(self, sender: str, now: float, language: Optional[str] = None) -> None:
        """Count the conversation once (containment), and once per language it used; cheap after
        the first message."""
        key = hashlib.sha256(sender.encode("utf-8")).hexdigest()
        for table, cache_key, row in ((conversations_seen, key, {"key": key}),
                                      (conversation_languages, f"{key}:{language}", {"key": key, "language": language})):
            if table is conversation_languages and language is None:
                continue
            if cache_key in self._seen_keys:
                continue
            try:
                with self.engine.begin() as conn:
                    where = [table.c[k] == v for k, v in row.items()]
                    if conn.execute(select(table.c.key).where(*where)).first() is None:
                        conn.execute(insert(table).values(**row, first_seen=now))
            except IntegrityError:  # another worker counted it first
                pass
            if len(self._seen_keys) > 100_000:
                self._seen_keys.clear()
            self._seen_keys.add(cache_key)

    def metrics(self, days: int = 30) -> dict[str, Any]:
        since = self.now() - days * 86400
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(handoffs).where(handoffs.c.created_at >= since)))
            seen = int(conn.execute(select(func.count()).select_from(conversations_seen)
                                    .where(conversations_seen.c.first_seen >= since)).scalar() or 0)
            seen_by_language = dict(conn.execute(
                select(conversation_languages.c.language, func.count())
                .where(conversation_languages.c.first_seen >= since)
                .group_by(conversation_languages.c.language)).all())
        by_reason: dict[str, int] = {}
        by_language: dict[str, int] = {}
        by_status: dict[str, int] = {}
        waits, firsts, handles, ticket_responses, ratings = [], [], [], [], []
        for r in rows:
            by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
            by_language[r.language] = by_language.get(r.language, 0) + 1
            by_status[r.status] = by_status.get(r.status, 0) + 1
            if r.claimed_at is not None:
                waits.append(r.claimed_at - r.created_at)
                if r.first_response_at is not None:
                    firsts.append(r.first_response_at - r.claimed_at)
                if r.closed_at is not None and r.status == "closed":
                    handles.append(r.closed_at - r.claimed_at)
            elif r.first_response_at is not None:
                ticket_responses.append(r.first_response_at - r.created_at)
            if r.rating is not None:
                ratings.append(r.rating)

        def dist(values: list[float]) -> dict[str, Any]:
            return {"count": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95)}

        return {
            "window_days": days,
            "handoffs": len(rows),
            "by_reason": by_reason,
            "by_language": by_language,
            "by_status": by_status,
            "waiting_seconds": dist(waits),
            "first_response_seconds": dist(firsts),
            "handling_seconds": dist(handles),
            "ticket_response_seconds": dist(ticket_responses),
            "ratings": {"count": len(ratings),
                        "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
                        "distribution": {str(star): ratings.count(star) for star in range(1, 6)}},
            # Handoffs per conversation the bot had, overall and per reason (None before any was seen).
            "handoff_rate": round(len(rows) / seen, 3) if seen else None,
            "handoff_rate_by_reason": {k: round(v / seen, 3) for k, v in by_reason.items()} if seen else {},
            # Handoffs in a language per conversation that used that language.
            "conversations_by_language": seen_by_language,
            "handoff_rate_by_language": {k: round(v / seen_by_language[k], 3) for k, v in by_language.items()
                                         if seen_by_language.get(k)},
            # Conversations the bot had (seen through Rasa's event broker) that never asked for a person.
            "conversations": seen,
            "containment": round(max(0.0, 1 - len({r.conversation_id for r in rows}) / seen), 3) if seen else None,
        }

"""Export or erase everything Saathi holds on one shopper, by phone number or e-mail.

    python -m actions.customers export --phone +919876543210 > shopper.json
    python -m actions.customers erase --phone +919876543210 [--yes]
    python -m actions.customers erase --email priya@example.in --yes

The shopper's conversations are every sender id linked to their customer record, plus the
WhatsApp sender ids that are their phone number itself (+91..., 91..., whatsapp:+91...) when
Rasa's tracker store has them.

Export (JSON on stdout): the customer records and linked identities, each conversation's full
tracker (Rasa HTTP API, all sessions), the bridge's handoffs, tickets, notes, ratings and agent
messages (`POST /api/customers/export`), order verifications and lookups, notices sent, the
shopper's orders and the requests made on them.

Erase deletes: the trackers (rows of Rasa's SQL tracker store `events` table, by sender id: Rasa
3.6 has no delete endpoint, and `PUT .../tracker/events` with an empty list deletes nothing on
the SQL store, which only ever appends), the bridge's records (`POST /api/customers/erase`),
verifications and lookup counts, address-change history, notices, opt-out records, identities and
the customer records (last, so a failed run can simply be repeated). Kept, as the shop's legal
records: the orders themselves and the return, cancellation and payment-problem records on them
(no chat text in them). Exit codes: 0 done, 1 a part failed (run again), 2 usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any, Optional

import requests
from sqlalchemy import Engine, create_engine, delete, select, text
from sqlalchemy.exc import SQLAlchemyError

from actions.config import Settings, load_settings

KEPT = ("orders", "return_requests", "cancellations", "payment_reports")


def tracker_engine(settings: Settings) -> Engine:
    """Rasa's SQL tracker store (SAATHI_TRACKER_DB: a SQLite path or a SQLAlchemy URL)."""
    db = settings.tracker_db
    return create_engine(db if "://" in db else f"sqlite:///{db}")


def phone_sender_ids(phone: Optional[str]) -> list[str]:
    """The sender ids WhatsApp connectors give a number."""
    if not phone:
        return []
    return [phone, phone.lstrip("+"), f"whatsapp:{phone}", f"whatsapp:{phone.lstrip('+')}"]


class Shopper:
    """Everything found for one phone / e-mail."""

    def __init__(self, settings: Settings, phone: Optional[str], email: Optional[str]) -> None:
        from actions.customers import customer_store
        from bot.nlu.entity_rules import normalise_phone

        self.settings = settings
        self.phone = normalise_phone(phone, settings.default_country) if phone else None
        if phone and not self.phone:
            raise ValueError("not a phone number")
        self.email = email.strip().lower() if email and email.strip() else None
        self.store = customer_store(settings)
        self.customers = self.store.find(self.phone, self.email)
        self.identities = {c.id: self.store.identities(c.id) for c in self.customers}
        phones = {self.phone} | {c.phone for c in self.customers}
        emails = {self.email} | {c.email for c in self.customers}
        self.phones = sorted(p for p in phones if p)
        self.emails = sorted(e for e in emails if e)
        linked = [(i.channel, i.sender_id) for ids in self.identities.values() for i in ids]
        self.senders = list(dict.fromkeys([s for _, s in linked] + self._phone_senders()))
        self.channel_senders = linked

    def _phone_senders(self) -> list[str]:
        return self._with_tracker([s for p in self.phones for s in phone_sender_ids(p)])

    def existing_senders(self) -> list[str]:
        """Sender ids that have a tracker (a GET on an unknown id would create one)."""
        return self._with_tracker(self.senders)

    def _with_tracker(self, candidates: list[str]) -> list[str]:
        if not candidates:
            return []
        engine = tracker_engine(self.settings)
        try:
            with engine.connect() as conn:
                found = set(conn.execute(text("SELECT DISTINCT sender_id FROM events WHERE sender_id IN :ids")
                                         .bindparams(_expanding("ids")), {"ids": candidates}).scalars().all())
        except SQLAlchemyError:  # no tracker store yet: no conversation to find there
            found = set()
        finally:
            engine.dispose()
        return [c for c in candidates if c in found]

    # -- app-side rows ---------------------------------------------------------------------------
    def orders(self) -> list[Any]:
        from actions.orders.models import OrderRow

        conds = [OrderRow.phone.in_(self.phones)] if self.phones else []
        conds += [OrderRow.email.in_(self.emails)] if self.emails else []
        if not conds:
            return []
        from sqlalchemy import or_

        with self.store.engine.connect() as conn:
            return list(conn.execute(select(OrderRow.__table__).where(or_(*conds)).order_by(OrderRow.placed_at)))

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        from actions.customers import NoticeRow
        from actions.orders.models import AddressChangeRow, CancellationRow, PaymentReportRow, ReturnRequestRow
        from actions.orders.verification import AttemptRow, VerifiedRow

        order_ids = [o.order_id for o in self.orders()]
        out: dict[str, list[dict[str, Any]]] = {}
        with self.store.engine.connect() as conn:
            for name, table, col, values in (
                ("bot_verified_orders", VerifiedRow.__table__, "sender_id", self.senders),
                ("bot_order_attempts", AttemptRow.__table__, "sender_id", self.senders),
                ("customer_notices", NoticeRow.__table__, "customer_id", [c.id for c in self.customers]),
                ("return_requests", ReturnRequestRow.__table__, "order_id", order_ids),
                ("cancellations", CancellationRow.__table__, "order_id", order_ids),
                ("address_changes", AddressChangeRow.__table__, "order_id", order_ids),
                ("payment_reports", PaymentReportRow.__table__, "order_id", order_ids),
            ):
                out[name] = [dict(r._mapping) for r in conn.execute(
                    select(table).where(table.c[col].in_(values)))] if values else []
        out["orders"] = [dict(r._mapping) for r in self.orders()]
        return out

    # -- Rasa and the bridge -----------------------------------------------------------------------
    def tracker(self, sender: str) -> Any:
        s = self.settings
        from actions.clients.rasa_api import conversation_url

        resp = requests.get(conversation_url(s.rasa_url, sender),
                            params={"token": s.rasa_token, "include_events": "ALL"}, timeout=s.http_timeout)
        resp.raise_for_status()
        return resp.json()

    def bridge(self, what: str) -> dict[str, Any]:
        s = self.settings
        resp = requests.post(f"{s.bridge_url}/api/customers/{what}", json={"conversation_ids": self.senders},
                             headers={"Authorization": f"Bearer {s.bridge_token}"}, timeout=s.http_timeout)
        resp.raise_for_status()
        return resp.json()


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def _json(value: Any) -> Any:
    return str(value)


def export(shopper: Shopper) -> tuple[dict[str, Any], list[str]]:
    """The export document and the parts that could not be read."""
    problems: list[str] = []
    trackers: dict[str, Any] = {}
    for sender in shopper.existing_senders():
        try:
            trackers[sender] = shopper.tracker(sender)
        except (requests.RequestException, ValueError) as exc:
            problems.append(f"tracker of a conversation: {type(exc).__name__}")
    try:
        bridge = shopper.bridge("export") if shopper.senders else {}
    except (requests.RequestException, ValueError) as exc:
        bridge = {}
        problems.append(f"handoff bridge: {type(exc).__name__}")
    doc = {
        "query": {"phone": shopper.phone, "email": shopper.email},
        "customers": [dict(asdict(c), identities=[asdict(i) for i in shopper.identities[c.id]])
                      for c in shopper.customers],
        "conversations": trackers,
        "handoff_bridge": bridge,
        **shopper.rows(),
    }
    return doc, problems


def erase(shopper: Shopper) -> tuple[dict[str, int], list[str]]:
    """Delete what the law lets the shopper have deleted; the customer record goes last."""
    from actions.orders.models import AddressChangeRow
    from actions.orders.verification import AttemptRow, VerifiedRow

    counts: dict[str, int] = {}
    problems: list[str] = []
    if shopper.senders:
        try:
            for key, n in shopper.bridge("erase").get("counts", {}).items():
                counts[f"bridge.{key}"] = int(n)
        except (requests.RequestException, ValueError) as exc:
            problems.append(f"handoff bridge: {type(exc).__name__}")
        engine = tracker_engine(shopper.settings)
        try:
            with engine.begin() as conn:
                counts["rasa.events"] = conn.execute(text("DELETE FROM events WHERE sender_id IN :ids")
                                                     .bindparams(_expanding("ids")), {"ids": shopper.senders}).rowcount
        except SQLAlchemyError as exc:
            problems.append(f"tracker store: {type(exc).__name__}")
        finally:
            engine.dispose()
    order_ids = [o.order_id for o in shopper.orders()]
    with shopper.store.engine.begin() as conn:
        if shopper.senders:
            counts["bot_verified_orders"] = conn.execute(
                delete(VerifiedRow.__table__).where(VerifiedRow.sender_id.in_(shopper.senders))).rowcount
            counts["bot_order_attempts"] = conn.execute(
                delete(AttemptRow.__table__).where(AttemptRow.sender_id.in_(shopper.senders))).rowcount
        if order_ids:
            counts["address_changes"] = conn.execute(
                delete(AddressChangeRow.__table__).where(AddressChangeRow.order_id.in_(order_ids))).rowcount
    if problems:  # keep the customer record: it is how a second run finds the conversations
        return counts, problems
    counts.update(shopper.store.erase([c.id for c in shopper.customers], shopper.channel_senders))
    return counts, problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.customers",
                                     description="Export or erase everything held on one shopper")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("export", "erase"):
        p = sub.add_parser(name)
        p.add_argument("--phone")
        p.add_argument("--email")
        if name == "erase":
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    if not args.phone and not args.email:
        parser.error("give --phone or --email")
    try:
        shopper = Shopper(load_settings(), args.phone, args.email)
    except ValueError as exc:
        parser.error(f"--phone: {exc}")
    if args.command == "export":
        doc, problems = export(shopper)
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2, default=_json)
        sys.stdout.write("\n")
        for p in problems:
            print(f"not exported: {p}", file=sys.stderr)
        return 1 if problems else 0
    print(f"found {len(shopper.customers)} customer record(s), {len(shopper.senders)} conversation(s), "
          f"{len(shopper.orders())} order(s)", file=sys.stderr)
    if not args.yes:
        if not sys.stdin.isatty():
            print("refusing to erase without --yes (no terminal to confirm on)", file=sys.stderr)
            return 2
        if input("type ERASE to delete them for good: ").strip() != "ERASE":
            print("nothing erased", file=sys.stderr)
            return 2
    counts, problems = erase(shopper)
    for key, n in sorted(counts.items()):
        print(f"deleted {n:5d} {key}", file=sys.stderr)
    print(f"kept (the shop's records): {', '.join(KEPT)}", file=sys.stderr)
    for p in problems:
        print(f"NOT erased: {p} — fix it and run the same command again", file=sys.stderr)
    return 1 if problems else 0

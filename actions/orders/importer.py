"""Import (upsert) orders from the shop's CSV export.

Header: order_id,customer_name,phone,email,status,items,total,placed_at,expected_delivery,
courier,tracking_number — optionally also delivered_at, shipping_address, currency (any order).
Every bad row is reported as "line N: reason" and skipped; good rows are inserted or, if the
order exists, updated (INSERT ... ON CONFLICT DO UPDATE on SQLite and PostgreSQL).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from actions.orders.models import STATUSES, OrderRow, init_db, utcnow
from actions.orders.provider import normalise_id
from bot.nlu.entity_rules import EMAIL, normalise_phone
from bot.nlu.text import ascii_digits

REQUIRED = (
    "order_id", "customer_name", "phone", "email", "status", "items", "total",
    "placed_at", "expected_delivery", "courier", "tracking_number",
)
OPTIONAL = ("delivered_at", "shipping_address", "currency")
BATCH = 2000

_STATUS_ALIASES = {"out for delivery": "out_for_delivery", "refund initiated": "refund_initiated",
                   "canceled": "cancelled", "dispatched": "shipped", "in_transit": "shipped"}


class ImportFailed(Exception):
    """The file as a whole cannot be imported (missing, undecodable, wrong header)."""


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.inserted + self.updated > 0

    def summary(self) -> str:
        return f"imported {self.inserted} new, updated {self.updated}, skipped {len(self.errors)} bad row(s)"


class RowError(ValueError):
    pass


def parse_status(raw: str) -> str:
    value = re.sub(r"[\s\-]+", " ", raw.strip().lower())
    value = _STATUS_ALIASES.get(value, value.replace(" ", "_"))
    if value not in STATUSES:
        raise RowError(f"bad status {raw.strip()!r} (allowed: {', '.join(STATUSES)})")
    return value


def parse_date(raw: str, name: str, required: bool = False) -> Optional[dt.date]:
    """ISO 2024-05-01, or the Indian day-first 01/05/2024 / 01-05-2024."""
    value = ascii_digits(raw).strip()
    if not value:
        if required:
            raise RowError(f"missing {name}")
        return None
    m = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})", value)
    try:
        if m:
            return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return dt.date.fromisoformat(value[:10]) if len(value) > 10 and value[10] in "T " else dt.date.fromisoformat(value)
    except ValueError:
        raise RowError(f"bad {name} {raw.strip()!r} (use YYYY-MM-DD)") from None


def parse_datetime(raw: str, name: str, tz: ZoneInfo) -> dt.datetime:
    """A timestamp as naive UTC; values without an offset are in the shop's time zone."""
    value = ascii_digits(raw).strip()
    if not value:
        raise RowError(f"missing {name}")
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        day = parse_date(value, name, required=True)
        stamp = dt.datetime.combine(day, dt.time())  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=tz)
    return stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)


def parse_total(raw: str) -> Decimal:
    value = re.sub(r"[₹৳,\s]|^(rs\.?|inr|tk|bdt)", "", ascii_digits(raw).strip().lower())
    try:
        total = Decimal(value)
    except InvalidOperation:
        raise RowError(f"bad total {raw.strip()!r}") from None
    if not total.is_finite() or total < 0 or total >= Decimal("1e10"):
        raise RowError(f"bad total {raw.strip()!r}")
    return total.quantize(Decimal("0.01"))


def parse_row(rec: dict[str, str], default_country: str, tz: ZoneInfo) -> dict[str, Any]:
    """One CSV record as column values of the orders table; raises RowError."""
    oid = normalise_id(rec["order_id"])
    if not oid:
        raise RowError("missing order_id")
    if len(oid) > 64:
        raise RowError("order_id longer than 64 characters")
    phone_raw = rec["phone"].strip()
    phone = normalise_phone(phone_raw, default_country) if phone_raw else None
    if phone_raw and not phone:
        raise RowError("unparseable phone (expected an Indian +91 or Bangladeshi +880 mobile number)")
    email = rec["email"].strip().lower() or None
    if email and not EMAIL.fullmatch(email):
        raise RowError("bad email")
    if not phone and not email:
        raise RowError("no phone and no email (the shopper could not be verified)")
    values: dict[str, Any] = {
        "order_id": oid,
        "customer_name": rec["customer_name"].strip(),
        "phone": phone,
        "email": email,
        "status": parse_status(rec["status"]),
        "items": rec["items"].strip(),
        "total": parse_total(rec["total"]),
        "placed_at": parse_datetime(rec["placed_at"], "placed_at", tz),
        "expected_delivery": parse_date(rec["expected_delivery"], "expected_delivery"),
        "courier": rec["courier"].strip() or None,
        "tracking_number": rec["tracking_number"].strip() or None,
        "updated_at": utcnow(),
    }
    if "delivered_at" in rec:
        values["delivered_at"] = parse_date(rec["delivered_at"], "delivered_at")
    if "shipping_address" in rec:
        values["shipping_address"] = rec["shipping_address"].strip() or None
    if "currency" in rec:
        values["currency"] = rec["currency"].strip() or None
    return values


def upsert_statement(engine: Engine, columns: Iterable[str]) -> Any:
    """INSERT ... ON CONFLICT (order_id) DO UPDATE for the engine's dialect."""
    name = engine.dialect.name
    if name == "postgresql":
        stmt = postgresql.insert(OrderRow.__table__)
    elif name == "sqlite":
        stmt = sqlite.insert(OrderRow.__table__)
    else:
        raise ImportFailed(f"upsert is implemented for SQLite and PostgreSQL, not {name}")
    return stmt.on_conflict_do_update(
        index_elements=["order_id"],
        set_={c: stmt.excluded[c] for c in columns if c != "order_id"},
    )


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of every non-blank CSV record; header first."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        last = 0
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            yield start, fields


def _check_decodable(path: Path) -> None:
    """Fail before importing anything if the file is not UTF-8 (a half import helps nobody)."""
    offset = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise ImportFailed(f"{path}: not UTF-8 text (byte {offset + exc.start} cannot be decoded);"
                                   " save the file as \"CSV UTF-8\"") from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportFailed(f"{path}: not UTF-8 text (truncated character at the end)") from None


def import_csv(path: Path | str, engine: Engine, default_country: str = "IN",
               timezone: str = "Asia/Kolkata", batch: int = BATCH) -> ImportReport:
    """Upsert the orders of a CSV file; bad rows end up in `report.errors`."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    tz = ZoneInfo(timezone)
    _check_decodable(path)
    report = ImportReport()
    init_db(engine)
    try:
        records = _records(path)
        try:
            _, header = next(records)
        except StopIteration:
            raise ImportFailed(f"{path}: the file is empty (expected the header {','.join(REQUIRED)})") from None
        columns = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in columns]
        unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
        if missing or unknown or len(set(columns)) != len(columns):
            problem = "; ".join(filter(None, [
                missing and "missing column(s) " + ", ".join(missing),
                unknown and "unknown column(s) " + ", ".join(unknown),
                len(set(columns)) != len(columns) and "repeated column(s)",
            ]))
            raise ImportFailed(f"{path}: wrong header ({problem}); expected {','.join(REQUIRED)}"
                               f" optionally followed by {','.join(OPTIONAL)}")
        target_cols = list(REQUIRED) + [c for c in OPTIONAL if c in columns] + ["updated_at"]
        stmt = upsert_statement(engine, target_cols)
        seen: dict[str, int] = {}
        pending: list[dict[str, Any]] = []
        for line, fields in records:
            if len(fields) != len(columns):
                report.errors.append(f"line {line}: wrong column count (expected {len(columns)}, got {len(fields)})")
                continue
            try:
                values = parse_row(dict(zip(columns, fields)), default_country, tz)
            except RowError as exc:
                report.errors.append(f"line {line}: {exc}")
                continue
            first = seen.get(values["order_id"])
            if first is not None:
                report.errors.append(f"line {line}: duplicate order_id {values['order_id']} in file (first on line {first})")
                continue
            seen[values["order_id"]] = line
            pending.append(values)
            if len(pending) >= batch:
                _flush(engine, stmt, pending, report)
                pending = []
        _flush(engine, stmt, pending, report)
    except csv.Error as exc:
        raise ImportFailed(f"{path}: not a readable CSV file ({exc})") from None
    return report


def _flush(engine: Engine, stmt: Any, rows: list[dict[str, Any]], report: ImportReport) -> None:
    if not rows:
        return
    ids = [r["order_id"] for r in rows]
    with engine.begin() as conn:
        existing = set(conn.execute(select(OrderRow.order_id).where(OrderRow.order_id.in_(ids))).scalars())
        conn.execute(stmt, rows)
    report.updated += len(existing)
    report.inserted += len(rows) - len(existing)

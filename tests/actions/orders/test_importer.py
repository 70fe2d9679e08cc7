"""CSV import: every kind of broken row, encodings, upsert, and the command line."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from actions.orders.importer import ImportFailed, import_csv
from actions.orders.models import OrderRow
from actions.orders.sql import SqlOrderProvider

ROOT = Path(__file__).resolve().parents[3]
HEADER = "order_id,customer_name,phone,email,status,items,total,placed_at,expected_delivery,courier,tracking_number"


def write(path: Path, *lines: str, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(OrderRow)).scalar_one()


def test_good_file_with_bom_native_digits_and_bangladesh_numbers(engine, tmp_path):
    f = write(
        tmp_path / "orders.csv",
        HEADER,
        'KM-2001,Priya Sharma,+91 98765-43210,Priya@Example.IN,Shipped,"1 x Kurta, blue",799,2025-03-01 10:30,2025-03-05,Delhivery,DL123',
        "dk-3001,রহিম উদ্দিন,০১৭১২-৩৪৫৬৭৮,,out for delivery,1 x Panjabi,\"2,200.50\",2025-03-02,02/03/2025,Pathao,PT9",
        "#1001,राहुल वर्मा,९८१२३४५६७८,rahul@example.in,placed,2 x Bottle,₹598.00,2025-03-03T09:00:00+00:00,,,",
        "402-1234567-1234567,Farhan Ali,8801812345678,,delivered,1 x Mouse,649,2025-02-20,2025-02-25,Amazon,AZ1",
        bom=True,
    )
    report = import_csv(f, engine)
    assert report.errors == []
    assert (report.inserted, report.updated) == (4, 0) and report.ok
    shop = SqlOrderProvider(engine)
    a = shop.get("KM-2001")
    assert a.phone == "+919876543210" and a.email == "priya@example.in" and a.status == "shipped"
    assert a.items == "1 x Kurta, blue" and a.total == Decimal("799.00")
    # Naive timestamps are shop time (IST): 10:30 IST is 05:00 UTC.
    assert a.placed_at == dt.datetime(2025, 3, 1, 5, 0, tzinfo=dt.timezone.utc)
    b = shop.get("DK-3001")
    assert b.phone == "+8801712345678" and b.email is None and b.status == "out_for_delivery"
    assert b.total == Decimal("2200.50") and b.expected_delivery == dt.date(2025, 3, 2)
    assert b.customer_name == "রহিম উদ্দিন"
    c = shop.get("#1001")
    assert c.phone == "+919812345678" and c.expected_delivery is None and c.courier is None
    assert c.placed_at == dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone.utc)
    assert shop.get("402-1234567-1234567").phone == "+8801812345678"


def test_every_kind_of_broken_row_is_reported_and_good_rows_imported(engine, tmp_path):
    f = write(
        tmp_path / "bad.csv",
        HEADER,
        "KM-1,Good One,9876543210,a@example.in,placed,x,100,2025-03-01,2025-03-05,,",  # line 2 ok
        "KM-2,Bad Status,9876543210,,lost in space,x,100,2025-03-01,,,",  # 3
        "KM-3,Bad Phone,12345,,placed,x,100,2025-03-01,,,",  # 4
        "KM-4,Bad Date,9876543210,,placed,x,100,2025-13-45,,,",  # 5
        "KM-5,Bad Expected,9876543210,,placed,x,100,2025-03-01,next week,,",  # 6
        ",No Id,9876543210,,placed,x,100,2025-03-01,,,",  # 7
        "KM-7,Bad Total,9876543210,,placed,x,abc,2025-03-01,,,",  # 8
        "KM-8,Negative Total,9876543210,,placed,x,-5,2025-03-01,,,",  # 9
        "KM-9,Too Few,9876543210,,placed",  # 10
        "KM-10,Too Many,9876543210,,placed,x,100,2025-03-01,,,,extra",  # 11
        "km-1,Duplicate,9876543210,,placed,x,100,2025-03-01,,,",  # 12
        "KM-12,No Contact,,,placed,x,100,2025-03-01,,,",  # 13
        "KM-13,Bad Email,9876543210,not-an-email,placed,x,100,2025-03-01,,,",  # 14
        "",  # 15 blank lines are ignored
        'KM-14,"Multi',  # 16-17: a quoted field spanning two lines, still one good record
        'line name",9876543210,,packed,x,100,2025-03-01,,,',
        "KM-15,Good Two,01712345678,,delayed,x,100,2025-03-01,2025-03-09,,",  # 18 ok
    )
    report = import_csv(f, engine)
    assert report.inserted == 3 and report.updated == 0
    assert [e.split(":")[0] for e in report.errors] == [
        "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9", "line 10", "line 11",
        "line 12", "line 13", "line 14",
    ]
    text = "\n".join(report.errors)
    assert "bad status 'lost in space'" in text
    assert "line 4: unparseable phone" in text
    assert "line 5: bad placed_at '2025-13-45'" in text
    assert "line 6: bad expected_delivery 'next week'" in text
    assert "line 7: missing order_id" in text
    assert "line 8: bad total 'abc'" in text and "line 9: bad total '-5'" in text
    assert "line 10: wrong column count (expected 11, got 5)" in text
    assert "line 11: wrong column count (expected 11, got 12)" in text
    assert "line 12: duplicate order_id KM-1 in file (first on line 2)" in text
    assert "line 13: no phone and no email" in text and "line 14: bad email" in text
    assert count(engine) == 3
    assert SqlOrderProvider(engine).get("KM-1").customer_name == "Good One"  # first occurrence kept
    assert SqlOrderProvider(engine).get("KM-14").customer_name == "Multi\nline name"


def test_reimport_updates_instead_of_duplicating(engine, tmp_path):
    extra = HEADER + ",delivered_at,shipping_address"
    first = write(tmp_path / "a.csv", extra,
                  "KM-1,Priya,9876543210,,shipped,x,100,2025-03-01,2025-03-05,Delhivery,D1,,12 MG Road",
                  "KM-2,Rahul,9812345678,,placed,y,200,2025-03-02,2025-03-06,,,,44 Sector 15")
    assert (import_csv(first, engine).inserted, count(engine)) == (2, 2)
    # The second export has no shipping_address column: the stored address must survive.
    second = write(tmp_path / "b.csv", HEADER + ",delivered_at",
                   "KM-1,Priya,9876543210,,delivered,x,100,2025-03-01,2025-03-05,Delhivery,D1,2025-03-04",
                   "KM-3,Sneha,9922334455,,placed,z,300,2025-03-03,,,,")
    report = import_csv(second, engine)
    assert (report.inserted, report.updated, report.errors) == (1, 1, [])
    assert count(engine) == 3
    order = SqlOrderProvider(engine).get("KM-1")
    assert order.status == "delivered" and order.delivered_at == dt.date(2025, 3, 4)
    assert order.shipping_address == "12 MG Road"


def test_large_import_in_batches(engine, tmp_path):
    lines = [HEADER] + [
        f"BIG-{i},Shopper {i},+91 9{i:09d},s{i}@example.in,shipped,1 x Thing,{i % 900 + 100},2025-01-01,2025-01-05,Ekart,E{i}"
        for i in range(1, 5001)
    ]
    report = import_csv(write(tmp_path / "big.csv", *lines), engine, batch=700)
    assert (report.inserted, report.errors) == (5000, [])
    assert count(engine) == 5000
    assert SqlOrderProvider(engine).get("BIG-4321").phone == "+919000004321"


def test_all_rows_bad_is_not_ok(engine, tmp_path):
    report = import_csv(write(tmp_path / "x.csv", HEADER, "KM-1,X,123,,placed,x,1,2025-01-01,,,"), engine)
    assert not report.ok and report.errors == ["line 2: unparseable phone (expected an Indian +91 or Bangladeshi +880 mobile number)"]


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\xef\xbb\xbf\n\n", "the file is empty"),
    (b"order_id,name,phone\nKM-1,a,9876543210\n", "wrong header (missing column(s) customer_name"),
    ((HEADER + ",colour\n").encode(), "unknown column(s) colour"),
    ((HEADER + "\n").encode("utf-16"), "not UTF-8"),
    ((HEADER + "\nKM-1,Caf\xe9,9876543210,,placed,x,1,2025-01-01,,,\n").encode("latin-1"), "not UTF-8"),
])
def test_unusable_files_fail_clearly_and_import_nothing(engine, tmp_path, content, message):
    f = tmp_path / "f.csv"
    f.write_bytes(content)
    with pytest.raises(ImportFailed, match=None) as err:
        import_csv(f, engine)
    assert message in str(err.value)
    assert count(engine) == 0


def test_missing_file(engine, tmp_path):
    with pytest.raises(ImportFailed, match="no such file"):
        import_csv(tmp_path / "nope.csv", engine)


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SAATHI_ENV_FILE=str(tmp_path / "none.env"),
               SAATHI_RUN_DIR=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "actions.orders", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_import_exit_codes_and_report(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    f = write(tmp_path / "o.csv", HEADER,
              "KM-1,Priya,9876543210,,placed,x,100,2025-03-01,,,",
              "KM-2,Bad,9876543210,,weird,x,100,2025-03-01,,,")
    done = run_cli("import", str(f), "--db", db, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "line 3: bad status 'weird'" in done.stdout
    assert "imported 1 new, updated 0, skipped 1 bad row(s)" in done.stdout
    again = run_cli("import", str(f), "--db", db, tmp_path=tmp_path)
    assert again.returncode == 0 and "imported 0 new, updated 1" in again.stdout
    missing = run_cli("import", str(tmp_path / "missing.csv"), "--db", db, tmp_path=tmp_path)
    assert missing.returncode != 0 and "no such file" in missing.stderr
    bad = write(tmp_path / "bad.csv", HEADER, "KM-9,Bad,1,,placed,x,100,2025-03-01,,,")
    none = run_cli("import", str(bad), "--db", db, tmp_path=tmp_path)
    assert none.returncode != 0 and "no order was imported" in none.stderr
    # The default database is the configured one, under the run directory.
    default = run_cli("import", str(f), tmp_path=tmp_path)
    assert default.returncode == 0 and (tmp_path / "orders.db").is_file()

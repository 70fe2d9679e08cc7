"""Demo and benchmark data for the orders database.

`seed_demo` fills an EMPTY orders table with a small, realistic shop (every status, Indian and
Bangladeshi shoppers, several order-number shapes, dates relative to today). It never touches
a table that already holds orders. `seed_bulk` appends N deterministic synthetic orders fast.
"""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from actions.orders.models import STATUSES, OrderRow, init_db, utcnow

# (order_id, name, phone, email, status, items, total, currency, placed days ago,
#  expected delivery in days from today, delivered days ago, courier, address)
_DEMO: list[tuple[Any, ...]] = [
    ("KM-10234", "Priya Sharma", "+919876543210", "priya.sharma@example.in", "shipped",
     "1 x Cotton kurta (blue, M)", "799.00", "INR", 3, 2, None, "Delhivery", "12 MG Road, Pune 411001"),
    ("KM-10235", "Rahul Verma", "+919812345678", "rahul.verma@example.in", "placed",
     "2 x Steel water bottle 1L", "598.00", "INR", 0, 5, None, None, "44 Sector 15, Noida 201301"),
    ("KM-10236", "Ananya Iyer", "+919845012345", "ananya.iyer@example.in", "packed",
     "1 x Silk saree (maroon)", "3499.00", "INR", 1, 4, None, None, "7 T Nagar, Chennai 600017"),
    ("KM-10237", "Arjun Nair", "+919747012345", "arjun.nair@example.in", "out_for_delivery",
     "1 x Bluetooth earbuds", "1299.00", "INR", 4, 0, None, "Ekart", "21 MG Road, Kochi 682016"),
    ("KM-10238", "Sneha Patil", "+919922334455", "sneha.patil@example.in", "delivered",
     "1 x Pressure cooker 5L", "1850.00", "INR", 8, -3, 3, "Blue Dart", "3 FC Road, Pune 411004"),
    ("KM-10239", "Vikram Singh", "+918800112233", "vikram.singh@example.in", "delivered",
     "1 x Running shoes (UK 9)", "2499.00", "INR", 26, -20, 20, "Delhivery", "9 Civil Lines, Jaipur 302006"),
    ("KM-10240", "Meera Joshi", "+917710203040", "meera.joshi@example.in", "delayed",
     "3 x Handmade diyas set", "450.00", "INR", 6, 3, None, "India Post", "15 Ashok Nagar, Indore 452001"),
    ("KM-10241", "Karan Mehta", "+919090909090", "karan.mehta@example.in", "cancelled",
     "1 x Phone cover", "199.00", "INR", 5, None, None, None, "2 Bandra West, Mumbai 400050"),
    ("KM-10242", "Pooja Reddy", "+919550011223", "pooja.reddy@example.in", "returned",
     "1 x Denim jacket (L)", "1599.00", "INR", 30, -24, 24, "Xpressbees", "5 Banjara Hills, Hyderabad 500034"),
    ("KM-10243", "Aditya Kumar", "+918123456789", "aditya.kumar@example.in", "refund_initiated",
     "1 x Smart watch", "2999.00", "INR", 18, -12, 12, "Blue Dart", "11 Indiranagar, Bengaluru 560038"),
    ("KM-10244", "Priya Sharma", "+919876543210", "priya.sharma@example.in", "delivered",
     "2 x Cotton dupatta", "640.00", "INR", 12, -9, 9, "Delhivery", "12 MG Road, Pune 411001"),
    ("#1001", "Rohan Gupta", "+919811122233", "rohan.gupta@example.in", "placed",
     "1 x Ceramic mug set", "899.00", "INR", 0, 6, None, None, "8 Lajpat Nagar, New Delhi 110024"),
    ("#1002", "Neha Kapoor", "+919873344556", "neha.kapoor@example.in", "shipped",
     "1 x Yoga mat", "999.00", "INR", 2, 3, None, "Shadowfax", "19 Sector 21, Gurugram 122016"),
    ("#1003", "Sanjay Das", "+919830012345", "sanjay.das@example.in", "delivered",
     "1 x Bedsheet (double)", "1199.00", "INR", 5, -1, 1, "Ekart", "4 Salt Lake, Kolkata 700091"),
    ("#1004", "Lakshmi Menon", "+919447012345", "lakshmi.menon@example.in", "delayed",
     "1 x Mixer grinder", "3299.00", "INR", 9, 2, None, "Delhivery", "6 Vyttila, Kochi 682019"),
    ("#1005", "Imran Khan", "+919867012345", "imran.khan@example.in", "packed",
     "1 x Backpack", "1499.00", "INR", 1, 4, None, None, "30 Andheri East, Mumbai 400069"),
    ("#1006", "Divya Pillai", "+919600112233", "divya.pillai@example.in", "out_for_delivery",
     "2 x Scented candles", "560.00", "INR", 3, 0, None, "Xpressbees", "17 Adyar, Chennai 600020"),
    ("#1007", "Amit Chauhan", "+918954012345", "amit.chauhan@example.in", "cancelled",
     "1 x LED desk lamp", "749.00", "INR", 7, None, None, None, "23 Rajpur Road, Dehradun 248001"),
    ("402-1234567-1234567", "Suresh Yadav", "+919415012345", "suresh.yadav@example.in", "shipped",
     "1 x Wireless mouse", "649.00", "INR", 2, 2, None, "Amazon Shipping", "14 Hazratganj, Lucknow 226001"),
    ("402-7654321-7654321", "Kavita Rao", "+919886012345", "kavita.rao@example.in", "delivered",
     "1 x Air fryer", "4599.00", "INR", 15, -10, 10, "Amazon Shipping", "10 Jayanagar, Bengaluru 560041"),
    ("402-1112223-3334445", "Farhan Ali", "+919999012345", "farhan.ali@example.in", "refund_initiated",
     "1 x Kurta pyjama set", "1299.00", "INR", 20, -15, 15, "Amazon Shipping", "1 Old City, Hyderabad 500002"),
    # Bangladesh (৳, +880)
    ("DK-5001", "Rahim Uddin", "+8801712345678", "rahim.uddin@example.com.bd", "placed",
     "1 x Panjabi (white)", "2200.00", "BDT", 0, 4, None, None, "House 12, Road 5, Dhanmondi, Dhaka 1205"),
    ("DK-5002", "Fatema Begum", "+8801812345678", "fatema.begum@example.com.bd", "shipped",
     "1 x Jamdani saree", "6500.00", "BDT", 3, 2, None, "Pathao", "Flat 3B, Gulshan 2, Dhaka 1212"),
    ("DK-5003", "Tanvir Hasan", "+8801912345678", "tanvir.hasan@example.com.bd", "delivered",
     "1 x Rice cooker", "3200.00", "BDT", 6, -2, 2, "RedX", "45 Agrabad, Chattogram 4100"),
    ("DK-5004", "Nusrat Jahan", "+8801612345678", "nusrat.jahan@example.com.bd", "delayed",
     "2 x Cotton salwar kameez", "4100.00", "BDT", 8, 3, None, "Sundarban Courier", "Zindabazar, Sylhet 3100"),
    ("DK-5005", "Kamal Hossain", "+8801512345678", "kamal.hossain@example.com.bd", "out_for_delivery",
     "1 x Ceiling fan", "3850.00", "BDT", 4, 0, None, "Pathao", "22 Shaheb Bazar, Rajshahi 6100"),
    ("DK-5006", "Sharmin Akter", "+8801312345678", "sharmin.akter@example.com.bd", "cancelled",
     "1 x Hand bag", "1800.00", "BDT", 2, None, None, None, "Mirpur 10, Dhaka 1216"),
    ("DK-5007", "Arif Rahman", "+8801711223344", "arif.rahman@example.com.bd", "returned",
     "1 x Leather sandals (42)", "2400.00", "BDT", 25, -19, 19, "RedX", "Khulna Sadar, Khulna 9100"),
    ("DK-5008", "Sumaiya Islam", "+8801812233445", "sumaiya.islam@example.com.bd", "packed",
     "1 x Baby blanket", "950.00", "BDT", 1, 3, None, None, "Uttara Sector 7, Dhaka 1230"),
    ("DK-5009", "Rahim Uddin", "+8801712345678", "rahim.uddin@example.com.bd", "delivered",
     "3 x Mango pickle jar", "780.00", "BDT", 30, -22, 22, "Sundarban Courier", "House 12, Road 5, Dhanmondi, Dhaka 1205"),
    ("DK-5010", "Mitu Chowdhury", "+8801911122233", "", "refund_initiated",
     "1 x Power bank", "1650.00", "BDT", 14, -8, 8, "Pathao", "Nasirabad, Chattogram 4000"),
    ("ORD55821", "Deepak Mishra", "+917007012345", "", "placed",
     "1 x Study table", "5499.00", "INR", 0, 7, None, None, "2 Boring Road, Patna 800001"),
]


def demo_rows(today: dt.date) -> list[dict[str, Any]]:
    """The demo shop's orders with dates relative to `today` (placed from 11:00 IST = 05:30 UTC)."""
    rows = []
    for i, (oid, name, phone, email, status, items, total, cur, placed_ago, expected_in, delivered_ago,
            courier, address) in enumerate(_DEMO):
        placed_day = today - dt.timedelta(days=placed_ago)
        rows.append({
            "order_id": oid,
            "customer_name": name,
            "phone": phone,
            "email": email or None,
            "status": status,
            "items": items,
            "total": Decimal(total),
            "currency": cur,
            "placed_at": dt.datetime.combine(placed_day, dt.time(5, 30)) + dt.timedelta(minutes=7 * i),
            "expected_delivery": today + dt.timedelta(days=expected_in) if expected_in is not None else None,
            "delivered_at": today - dt.timedelta(days=delivered_ago) if delivered_ago is not None else None,
            "courier": courier,
            "tracking_number": f"{courier[:3].upper()}{700000 + i * 37}" if courier else None,
            "shipping_address": address,
            "updated_at": utcnow(),
        })
    return rows


def _order_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(OrderRow)).scalar_one())


def seed_demo(engine: Engine, today: Optional[dt.date] = None) -> int:
    """Seed the demo shop if the orders table is empty; returns the number of orders added (0 = skipped)."""
    init_db(engine)
    rows = demo_rows(today or dt.date.today())
    with engine.begin() as conn:
        # Checked inside the transaction that inserts.
        if conn.execute(select(OrderRow.order_id).limit(1)).first() is not None:
            return 0
        conn.execute(OrderRow.__table__.insert(), rows)
    return len(rows)


_FIRST = ["Aarav", "Vivaan", "Aditya", "Ishaan", "Saanvi", "Aanya", "Diya", "Priya", "Rahul", "Sneha",
          "Rahim", "Karim", "Fatema", "Nusrat", "Tanvir", "Sharmin", "Arif", "Mitu", "Kabir", "Zoya"]
_LAST = ["Sharma", "Verma", "Iyer", "Nair", "Patil", "Reddy", "Das", "Gupta", "Khan", "Singh",
         "Uddin", "Begum", "Hasan", "Akter", "Rahman", "Islam", "Chowdhury", "Hossain", "Roy", "Sen"]
_ITEMS = ["Cotton kurta", "Steel bottle", "Silk saree", "Earbuds", "Pressure cooker", "Running shoes",
          "Yoga mat", "Backpack", "Bedsheet", "Desk lamp", "Panjabi", "Rice cooker"]
_COURIERS = ["Delhivery", "Blue Dart", "Ekart", "Xpressbees", "Pathao", "RedX"]


def seed_bulk(engine: Engine, n: int, chunk: int = 10_000, seed: int = 42,
              start: int = 1, today: Optional[dt.date] = None) -> int:
    """Insert N deterministic synthetic orders BLK-0000001..; existing ids are left alone."""
    init_db(engine)
    rng = random.Random(seed)
    today = today or dt.date(2025, 1, 1)
    base = dt.datetime.combine(today, dt.time())
    name = engine.dialect.name
    table = OrderRow.__table__
    if name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=["order_id"])
    elif name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["order_id"])
    else:
        stmt = table.insert()
    now = utcnow()
    before = _order_count(engine)
    for lo in range(start, start + n, chunk):
        rows = []
        for k in range(lo, min(lo + chunk, start + n)):
            bd = k % 4 == 0
            status = STATUSES[rng.randrange(len(STATUSES))]
            first, last = _FIRST[rng.randrange(20)], _LAST[rng.randrange(20)]
            placed = base - dt.timedelta(minutes=rng.randrange(60 * 24 * 365))
            courier = _COURIERS[rng.randrange(len(_COURIERS))] if status not in ("placed", "packed", "cancelled") else None
            rows.append({
                "order_id": f"BLK-{k:07d}",
                "customer_name": f"{first} {last}",
                # Unique per order and valid for the normaliser: IN 9xxxxxxxxx / BD 017xxxxxxxx.
                "phone": f"+88017{k % 100_000_000:08d}" if bd else f"+919{k % 1_000_000_000:09d}",
                "email": f"shopper{k}@example.{'com.bd' if bd else 'in'}",
                "status": status,
                "items": f"{rng.randrange(1, 4)} x {_ITEMS[rng.randrange(len(_ITEMS))]}",
                "total": Decimal(rng.randrange(19_900, 999_900)) / 100,
                "currency": "BDT" if bd else "INR",
                "placed_at": placed,
                "expected_delivery": (placed + dt.timedelta(days=rng.randrange(2, 8))).date(),
                "delivered_at": (placed + dt.timedelta(days=rng.randrange(2, 8))).date() if status in ("delivered", "returned", "refund_initiated") else None,
                "courier": courier,
                "tracking_number": f"TRK{k:010d}" if courier else None,
                "shipping_address": f"{rng.randrange(1, 300)} Main Road, {'Dhaka' if bd else 'Pune'}",
                "updated_at": now,
            })
        with engine.begin() as conn:
            conn.execute(stmt, rows)
    return _order_count(engine) - before

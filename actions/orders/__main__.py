"""Command line of the order data layer.

    python -m actions.orders import FILE.csv [--db URL]
    python -m actions.orders seed-demo [--db URL]
    python -m actions.orders seed-bulk N [--db URL]

--db defaults to SAATHI_ORDERS_DB. Exit code 0 on success, 1 if nothing could be imported, 2 on
usage errors.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Optional


def main(argv: Optional[list[str]] = None) -> int:
    from actions.config import load_settings

    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m actions.orders", description="Saathi order data tools")
    sub = parser.add_subparsers(dest="command", required=True)
    p_import = sub.add_parser("import", help="upsert orders from a CSV export")
    p_import.add_argument("file")
    p_demo = sub.add_parser("seed-demo", help="seed the demo shop into an EMPTY orders table")
    p_bulk = sub.add_parser("seed-bulk", help="append N synthetic orders (benchmarks)")
    p_bulk.add_argument("n", type=int)
    for p in (p_import, p_demo, p_bulk):
        p.add_argument("--db", default=settings.orders_db, help="SQLAlchemy URL (default: SAATHI_ORDERS_DB)")
    args = parser.parse_args(argv)

    from actions.orders.models import create_engine_for, masked_url

    print(f"orders database: {masked_url(args.db)}")
    engine = create_engine_for(args.db)
    try:
        if args.command == "import":
            from actions.orders.importer import ImportFailed, import_csv

            try:
                report = import_csv(args.file, engine, settings.default_country, settings.timezone)
            except ImportFailed as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            for line in report.errors:
                print(line)
            print(report.summary())
            if not report.ok:
                print("error: no order was imported", file=sys.stderr)
            return 0 if report.ok else 1
        if args.command == "seed-demo":
            from actions.orders.seed import seed_demo

            added = seed_demo(engine)
            if added:
                print(f"seeded {added} demo orders")
            else:
                print("skipped: the orders table is not empty (seed-demo only fills an empty shop)")
            return 0
        from actions.orders.seed import seed_bulk

        if args.n < 0:
            parser.error("N must be >= 0")
        started = time.perf_counter()
        added = seed_bulk(engine, args.n)
        print(f"added {added} synthetic orders in {time.perf_counter() - started:.1f}s")
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())

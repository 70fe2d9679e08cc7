"""A real PostgreSQL is available to the tests: `make test` starts one (scripts/postgres.sh)
and exports SAATHI_TEST_PG_URL."""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("SAATHI_TEST_PG_URL")

pytestmark = pytest.mark.skipif(not PG_URL, reason="SAATHI_TEST_PG_URL not set (make test sets it)")


def test_postgres_select_and_temp_table() -> None:
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 10})
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            assert conn.dialect.name == "postgresql"
            conn.execute(sa.text("create temp table saathi_smoke (id serial primary key, note text not null)"))
            conn.execute(sa.text("insert into saathi_smoke (note) values (:n)"), [{"n": "नमस्ते"}, {"n": "hello"}])
            rows = conn.execute(sa.text("select note from saathi_smoke order by id")).scalars().all()
            assert rows == ["नमस्ते", "hello"]
            conn.execute(sa.text("drop table saathi_smoke"))
            exists = conn.execute(sa.text("select to_regclass('pg_temp.saathi_smoke')")).scalar_one()
            assert exists is None
    finally:
        engine.dispose()

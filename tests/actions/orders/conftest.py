"""Fixtures for the order data layer: a database per test on every available backend.

SQLite (a temp file) always; PostgreSQL when SAATHI_TEST_PG_URL names a server (make test
starts one). Each PostgreSQL test gets its own schema, dropped afterwards.
"""
from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest
from sqlalchemy import Engine, text

from actions.orders.models import create_engine_for, init_db

PG_URL = os.environ.get("SAATHI_TEST_PG_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database (no tables yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orders.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL backend: SAATHI_TEST_PG_URL is not set (make test starts a server and sets it)")
    schema = "saathi_t_" + secrets.token_hex(4)
    admin = create_engine_for(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine with the tables created."""
    eng = create_engine_for(db_url)
    init_db(eng)
    try:
        yield eng
    finally:
        eng.dispose()

"""Security fixtures: the security tables on a real SQLite file and in a PostgreSQL schema of this test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from medcom_bridge.security import schema

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose database has the security tables (through the migration body) and nothing else."""
    if request.param == "sqlite":
        made = create_engine(f"sqlite:///{tmp_path / 'security.sqlite'}")
        with made.begin() as conn:
            schema.upgrade(conn)
        yield made
        made.dispose()
        return
    with pg_schema("security_test") as url:
        made = create_engine(url)
        try:
            with made.begin() as conn:
                schema.upgrade(conn)
            yield made
        finally:
            made.dispose()


@contextmanager
def pg_schema(prefix: str) -> Iterator[str]:
    """A URL whose search_path is a PostgreSQL schema of one test, dropped after it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()

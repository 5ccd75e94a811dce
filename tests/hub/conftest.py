"""Hub fixtures: one store per test on SQLite and on the PostgreSQL server of this machine.

Migrations run once per session (into a template SQLite file, and into a PostgreSQL schema of this run);
each test then gets a fresh copy (SQLite) or emptied tables (PostgreSQL), which keeps the suite fast.
`test_store.py::test_migrations_create_exactly_the_declared_schema` checks the migrations themselves.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.schema import metadata
from medcom_bridge.hub.store import Store, make_engine, migrate
from tests.hub.e2e import World, make_world

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hub-template") / "hub.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


_PG_SCHEMA = f"hub_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def pg_schema(pg_engine: Engine) -> str:
    """The PostgreSQL schema of this run (migrated); tests that build a whole hub open their own engine on it."""
    return _PG_SCHEMA


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    schema = _PG_SCHEMA
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, schema=schema)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        opened = Store(make_engine(f"sqlite:///{path}"))
        yield opened
        opened.close()
        return
    engine: Engine = request.getfixturevalue("pg_engine")
    with engine.begin() as conn:  # DELETE beats TRUNCATE on tables this small
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    yield Store(engine)


@pytest.fixture
def pg_store(pg_engine: Engine) -> Store:
    """An emptied PostgreSQL store, for tests whose point is concurrent writers (SQLite has one writer)."""
    with pg_engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return Store(pg_engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A whole hub over a real spool and register, on SQLite (file in the spool) and on PostgreSQL."""
    if request.param == "sqlite":
        made = make_world(tmp_path, None, None, request.getfixturevalue("sqlite_template"))
    else:
        engine: Engine = request.getfixturevalue("pg_engine")
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        made = make_world(tmp_path, PG_URL, request.getfixturevalue("pg_schema"), None)
    yield made
    made.hub.store.close()

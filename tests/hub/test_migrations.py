"""Migration 0007: events written with UTC months get their Danish month, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, insert, inspect, select, text

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.store import MIGRATIONS, make_engine
from tests.hub.conftest import PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables (a file, or a PostgreSQL schema of its own)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
        yield engine
        engine.dispose()
        return
    schema = f"migr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _to(engine: Engine, revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


# (instant, the UTC month the first version wrote, the Danish month)
CASES = [
    (datetime(2026, 1, 31, 22, 59, tzinfo=UTC), "2026-01", "2026-01"),  # 23:59 CET
    (datetime(2026, 1, 31, 23, 0, tzinfo=UTC), "2026-01", "2026-02"),  # midnight CET
    (datetime(2026, 3, 31, 21, 30, tzinfo=UTC), "2026-03", "2026-03"),  # 23:30 CEST
    (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "2026-03", "2026-04"),  # 01:30 CEST
    (datetime(2026, 12, 31, 23, 15, tzinfo=UTC), "2026-12", "2027-01"),  # new year
    (datetime(2026, 6, 15, 12, 0, tzinfo=UTC), "2026-06", "2026-06"),
]


def test_0007_rewrites_utc_months_as_danish_months(empty: Engine) -> None:
    _to(empty, "0006")
    with empty.begin() as conn:
        conn.execute(
            insert(t.flows),
            [{"id": "f", "state": "completed", "created_at": CASES[0][0], "updated_at": CASES[0][0]}],
        )
        rows = [
            {"id": str(i), "flow_id": "f", "seq": i, "at": at, "month": utc_month, "step": "received",
             "subtype": "msg-received", "outcome": "0"}
            for i, (at, utc_month, _) in enumerate(CASES)
        ]  # fmt: skip
        conn.execute(insert(t.events), rows)
    _to(empty, "head")
    expected = {str(i): danish for i, (_, _, danish) in enumerate(CASES)}
    with empty.connect() as conn:
        assert {i: m for i, m in conn.execute(select(t.events.c.id, t.events.c.month))} == expected
    indexes = {ix["name"] for ix in inspect(empty).get_indexes("hub_events")}
    assert "ix_hub_events_month_flow_event" in indexes
    # Idempotent: down and up again changes nothing.
    _to(empty, "0006", down=True)
    _to(empty, "head")
    with empty.connect() as conn:
        assert {i: m for i, m in conn.execute(select(t.events.c.id, t.events.c.month))} == expected


def test_0010_adds_the_event_indexes_of_the_alert_round_and_the_overview(empty: Engine) -> None:
    wanted = {"ix_hub_events_flow_event_at", "ix_hub_events_month_outcome"}
    _to(empty, "0009")
    assert not wanted & {ix["name"] for ix in inspect(empty).get_indexes("hub_events")}
    _to(empty, "head")
    assert wanted <= {ix["name"] for ix in inspect(empty).get_indexes("hub_events")}
    _to(empty, "0009", down=True)
    assert not wanted & {ix["name"] for ix in inspect(empty).get_indexes("hub_events")}

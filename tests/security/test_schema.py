"""The audit log is append-only by the database's own rule, on SQLite and PostgreSQL; the migration reverses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, MetaData, delete, inspect, text, update
from sqlalchemy.exc import DatabaseError

from medcom_bridge.security import audit, schema

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _one_entry(engine: Engine) -> None:
    with engine.begin() as conn:
        audit.record(
            conn, audit.Entry(AT, "anne", audit.Action.FLOW_READ, object_type="flow", object_id="f-1")
        )


def test_audit_rows_cannot_be_updated(engine: Engine) -> None:
    _one_entry(engine)
    t = schema.TABLES.audit_log
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(update(t).values(actor="someone else"))
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET action = 'login' WHERE id = 1"))
    with engine.connect() as conn:
        assert [e.actor for e in audit.search(conn, audit.Query())] == ["anne"]


def test_audit_rows_cannot_be_deleted(engine: Engine) -> None:
    _one_entry(engine)
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(delete(schema.TABLES.audit_log))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    with engine.connect() as conn:
        assert len(audit.search(conn, audit.Query())) == 1


def test_appending_still_works_after_a_refused_change(engine: Engine) -> None:
    _one_entry(engine)
    with pytest.raises(DatabaseError), engine.begin() as conn:
        conn.execute(delete(schema.TABLES.audit_log))
    _one_entry(engine)
    with engine.connect() as conn:
        assert [e.id for e in audit.search(conn, audit.Query())] == [2, 1]


def test_downgrade_removes_tables_and_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        schema.downgrade(conn)
    assert not {"api_tokens", "audit_log"} & set(inspect(engine).get_table_names())
    with engine.begin() as conn:  # and the upgrade runs again on the emptied database, twice
        schema.upgrade(conn)
        schema.upgrade(conn)
    _one_entry(engine)
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(delete(schema.TABLES.audit_log))


def test_add_tables_to_another_metadata() -> None:
    metadata = MetaData()
    tables = schema.add_tables(metadata)
    assert set(metadata.tables) == {"api_tokens", "audit_log"}
    assert {c.name for c in tables.audit_log.c} >= {
        "at",
        "actor",
        "role",
        "remote",
        "action",
        "object_id",
        "details",
    }
    with pytest.raises(ValueError, match="mysql"):
        schema.append_only_ddl("mysql")

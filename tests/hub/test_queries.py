"""The flow list's receipt outcomes are read by the page's flow ids (one indexed lookup per flow), never by the
event kind across the whole log (bench/operations.py: a (flow_event, at) index lured SQLite into that)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from medcom_bridge.hub.queries import receipt_events
from medcom_bridge.hub.store import Store


def test_receipt_outcomes_are_read_by_flow_id(tmp_path: Path) -> None:
    """On SQLite, which plans without statistics (PostgreSQL plans from its own; the query's result is
    covered by the flow list's tests on both)."""
    store = Store.open(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", seen)
    with store.engine.connect() as conn:
        assert receipt_events(conn, [f"flow-{i}" for i in range(50)]) == {}  # a page of 50
    event.remove(store.engine, "before_cursor_execute", seen)
    [(statement, parameters)] = [(s, p) for s, p in statements if s.lstrip().startswith("SELECT")]
    with store.engine.connect() as conn:
        plan = " | ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "(flow_id=?)" in plan, plan
    assert "flow_event" not in plan, plan
    store.close()

"""The alert round's database facts read indexed ranges only: a round runs every minute, so it must not walk the
whole event log (bench/operations.py found the last day's receipts read in receiver order over every event)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from medcom_bridge.hub.alerts import facts
from medcom_bridge.hub.alerts.config import Rules
from medcom_bridge.hub.store import Store

NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def test_no_statement_of_an_alert_round_scans_the_event_log(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", seen)
    with store.engine.connect() as conn:
        facts.gather(conn, Rules(), NOW)
    event.remove(store.engine, "before_cursor_execute", seen)
    reads = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]
    assert any("hub_events" in s for s, _ in reads)
    with store.engine.connect() as conn:
        for statement, parameters in reads:
            plan = " | ".join(
                row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert "SCAN hub_events" not in plan, (statement, plan)
    store.close()

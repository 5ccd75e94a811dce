"""`/health/live` and `/health/ready`: public, yes-or-no per check, 503 with the list of what failed; a real
database that cannot be reached (no mock), a schema behind the code, a spool that is gone, a wedged loop."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store
from medcom_bridge.web import create_app
from medcom_bridge.web.app import LoopStatus
from medcom_bridge.web.probes import LIVE_AFTER
from tests.web.conftest import api_client
from tests.web.test_intake import dead_store

__all__ = ["dead_store"]  # the fixture: PostgreSQL on a closed port, an SQLite file that is a folder


def test_ready_when_database_schema_and_spool_are_fine(hub: Hub) -> None:
    hub.spool.root.mkdir(parents=True, exist_ok=True)
    answer = api_client(create_app(hub), None).get("/health/ready")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": True, "schema": True, "spool": True},
        "failed": [],
    }
    assert not [p for p in hub.spool.root.iterdir() if p.name.startswith(".ready")]  # the probe file is gone


def test_not_ready_while_the_database_is_unreachable(dead_store: Store) -> None:
    answer = api_client(create_app(dead_store), None).get("/health/ready")
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    body = answer.json()
    assert body["status"] == "not-ready" and body["failed"] == ["database", "schema"]
    assert "Error" not in answer.text and "127.0.0.1" not in answer.text and "/" not in answer.text


def test_not_ready_when_the_schema_is_not_at_head(hub: Hub) -> None:
    hub.spool.root.mkdir(parents=True, exist_ok=True)
    with hub.store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        answer = api_client(create_app(hub), None).get("/health/ready")
        assert answer.status_code == 503 and answer.json()["failed"] == ["schema"]
    finally:
        from medcom_bridge.hub.store import schema_heads

        with hub.store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": min(schema_heads())})


def test_not_ready_without_a_usable_spool(hub: Hub, tmp_path: Path, clock: ManualClock) -> None:
    hub.spool = Spool(tmp_path / "gone")  # a spool whose folder does not exist (an unmounted share)
    answer = api_client(create_app(hub), None).get("/health/ready")
    assert answer.status_code == 503 and answer.json()["failed"] == ["spool"]
    assert str(tmp_path) not in answer.text
    (tmp_path / "gone").mkdir()
    assert api_client(create_app(hub), None).get("/health/ready").status_code == 200
    shutil.rmtree(tmp_path / "gone")


def test_live_follows_the_loop(hub: Hub) -> None:
    now = datetime.now(UTC)

    def live(loop: LoopStatus | None) -> int:
        return api_client(create_app(hub, loop=loop), None).get("/health/live").status_code

    assert live(None) == 200  # no loop in this app: the process answers, that is all there is
    assert live(LoopStatus(running=True, started=now)) == 200  # first round still running
    assert live(LoopStatus(running=True, started=now, last_run=now - timedelta(seconds=5))) == 200
    stuck = LoopStatus(running=True, started=now - 2 * LIVE_AFTER, last_run=now - LIVE_AFTER * 2)
    assert live(stuck) == 503
    assert live(LoopStatus(running=False, last_run=now)) == 503  # the loop thread died
    body = api_client(create_app(hub, loop=stuck), None).get("/health/live").json()
    assert body == {"status": "not-live", "checks": {"loop": False}, "failed": ["loop"]}


def test_live_does_not_need_the_database(dead_store: Store) -> None:
    """A database outage is a readiness matter: restarting the process would not cure it."""
    loop = LoopStatus(running=True, started=datetime.now(UTC), last_run=datetime.now(UTC))
    assert api_client(create_app(dead_store, loop=loop), None).get("/health/live").status_code == 200

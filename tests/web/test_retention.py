"""Retention: payloads past the policy are gone from disk and database; flows, events, statistics and the
duplicate keys stay, so a letter sent again is still a duplicate; `medcom-bridge prune` and the daily run."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from medcom_bridge.hub import retention
from medcom_bridge.hub import schema as t
from medcom_bridge.hub.blobs import BlobStore
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.spool import QUARANTINE, Spool
from medcom_bridge.hub.store import Store, make_engine
from medcom_bridge.hub.wiring import BLOB_FOLDER, build_hub
from medcom_bridge.web import create_app
from medcom_bridge.web.serve import HubLoop
from tests.web.conftest import EDI, SOR, START, api_client, envelope, letter, token_for
from tests.web.test_serve import REPO

XML = {"content-type": "application/xml"}


@pytest.fixture(params=["blobs", "rows"])
def store_hub(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock, parts: Hub
) -> Iterator[Hub]:
    """A hub on SQLite whose payloads are in the blob store (as `serve` has it) or in the database rows."""
    spool = tmp_path / "spool"
    blobs = BlobStore(spool / BLOB_FOLDER) if request.param == "blobs" else None
    # inline_max=0: every payload in the blob store, however small (the default keeps small ones in their row)
    store = Store(make_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}"), blobs=blobs, inline_max=0)
    from medcom_bridge.hub.store import migrate

    migrate(store.engine)
    yield Hub(
        Spool(spool),
        store,
        clock,
        parts.identifier,
        parts.router,
        converter=parts.converter,
        answers=parts.answers,
    )
    store.close()


def payload_rows(hub: Hub) -> list[tuple[str, bytes | None, datetime | None]]:
    p = t.payloads.c
    with hub.store.engine.connect() as conn:
        return [(r.sha256, r.data, r.pruned_at) for r in conn.execute(select(p.sha256, p.data, p.pruned_at))]


def database_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("hub.sqlite*"))


def test_pruned_payloads_are_gone_and_duplicates_still_found(
    store_hub: Hub, clock: ManualClock, tmp_path: Path
) -> None:
    hub = store_hub
    client = api_client(create_app(hub), token_for(hub.store, "admin"))
    header_id = str(uuid.uuid4())
    posted = client.post("/envelopes", content=envelope(letter(header_id)), headers=XML).json()
    flow_id = posted["flow_id"]
    hub.run_once()
    flow = client.get(f"/flows/{flow_id}").json()
    message = flow["messages"][0]
    data = client.get(message["download"]).content

    clock.advance(days=200)
    young = client.post("/envelopes", content=envelope(letter(str(uuid.uuid4()))), headers=XML).json()
    hub.run_once()
    young_flow = client.get(f"/flows/{young['flow_id']}").json()
    young_data = [client.get(m["download"]).content for m in young_flow["messages"]]
    # A piece of the first letter that no message of the young flow has (both are MedCom's flow-3 letter).
    sample = next(
        data[i : i + 48]
        for i in range(0, len(data) - 48, 16)
        if not any(data[i : i + 48] in other for other in young_data)
    )
    if hub.store.blobs is None:
        assert sample in database_bytes(tmp_path)  # the bytes are in the database file: the check can fail
    else:
        assert any(sample in p.read_bytes() for p in hub.store.blobs.root.rglob("*") if p.is_file())
    clock.advance(days=230)  # 430 days after the first flow: past 13 months; the young one is 230 days old
    hub.run_once()  # timers (closing after 3 months) fire
    events_before = client.get(f"/flows/{flow_id}/events").json()["events"]
    stats_before = client.get("/stats/monthly").json()
    done = hub_service_prune(hub, clock.now())
    assert done.payloads >= 2 and done.bytes >= len(data)

    rows = payload_rows(hub)
    pruned = [r for r in rows if r[2] is not None]
    assert pruned and all(data_ is None for _, data_, _ in pruned)
    for digest, _, _ in pruned:
        if hub.store.blobs is not None:
            assert not hub.store.blobs.exists(digest)  # gone from disk
    assert sample not in database_bytes(tmp_path)  # and from the database file (free pages, WAL)
    if hub.store.blobs is not None:
        assert not any(sample in p.read_bytes() for p in hub.store.blobs.root.rglob("*") if p.is_file())

    gone = client.get(message["download"])
    assert gone.status_code == 410 and gone.json()["error"] == "payload-pruned"
    assert client.get(f"/ui/flows/{flow_id}/messages/{message['id']}/render").status_code == 410
    assert client.get(f"/flows/{flow_id}/events").json()["events"] == events_before  # the trace stays
    assert client.get("/stats/monthly").json() == stats_before
    assert all(
        client.get(m["download"]).status_code == 200 for m in young_flow["messages"]
    )  # younger than 13 months

    # The same letter again (a new envelope, the same letter id): still recognised as a duplicate.
    again = client.post("/envelopes", content=envelope(letter(header_id)), headers=XML).json()
    assert again["outcome"] == "duplicate"
    hub.run_once()
    assert hub_service_prune(hub, clock.now()).payloads == 0  # nothing more to do: idempotent


def hub_service_prune(hub: Hub, now: datetime) -> retention.Pruned:
    from medcom_bridge.hub.service import HubService

    return HubService(hub.store).prune(now, retention.DEFAULT, spool_root=hub.spool.root)


def test_quarantined_originals_and_orphan_blobs_go_too(store_hub: Hub, clock: ManualClock) -> None:
    hub = store_hub
    outbox = hub.spool.root / "5790001382445" / "out"
    outbox.mkdir(parents=True)
    (outbox / "garbage.xml").write_bytes(b"not xml at all")
    hub.run_once()
    quarantine = hub.spool.root / QUARANTINE
    assert any(not p.name.endswith(".reason.txt") for p in quarantine.iterdir())
    orphan = None
    if hub.store.blobs is not None:
        orphan = hub.store.blobs.put(b"a payload whose transaction rolled back").digest
    later = datetime.now(UTC) + timedelta(days=500)  # the files carry the real clock's times
    done = retention.prune(hub.store, later, spool_root=hub.spool.root)
    assert done.quarantined == 1 and list(quarantine.iterdir()) == []
    if orphan is not None:
        assert done.orphan_blobs >= 1 and hub.store.blobs is not None and not hub.store.blobs.exists(orphan)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13m", retention.Age(months=13)),
        ("1y", retention.Age(months=12)),
        ("400d", retention.Age(days=400)),
        ("14w", retention.Age(days=98)),
        (" 3M ", retention.Age(months=3)),
    ],
)
def test_ages(text: str, expected: retention.Age) -> None:
    assert retention.parse_age(text) == expected


@pytest.mark.parametrize("text", ["2m", "30d", "12w", "", "13", "13 months", "-1y", "1.5y"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(retention.BadAge):
        retention.parse_age(text)


def test_months_clamp_at_month_ends() -> None:
    assert retention.Age(months=1).before(datetime(2026, 3, 31, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert retention.Age(months=13).before(datetime(2026, 1, 20, tzinfo=UTC)) == datetime(
        2024, 12, 20, tzinfo=UTC
    )


def test_the_daily_run_inside_serve(store_hub: Hub, clock: ManualClock) -> None:
    loop = HubLoop(store_hub, retention_age=retention.DEFAULT)
    loop.prune_if_due()
    first = loop.next_prune
    assert first == clock.now() + timedelta(days=1)
    clock.advance(hours=23)
    loop.prune_if_due()
    assert loop.next_prune == first  # not again within the day
    clock.advance(hours=2)
    loop.run_once()  # the loop's step runs it when due
    assert loop.next_prune == clock.now() + timedelta(days=1)


def test_prune_command(tmp_path: Path) -> None:
    edi = tmp_path / "edi.csv"
    edi.write_text(EDI)
    spool = tmp_path / "spool"
    clock = ManualClock(START)
    hub = build_hub(spool, SOR, edi, None, clock)
    hub.store.inline_max = 0  # every payload in the blob store, however small
    taken = hub.ingest(envelope(letter(str(uuid.uuid4()))), "5790001382445", name="x.xml")
    assert taken.flow_id is not None
    hub.run_once()
    clock.advance(days=100)  # the flow closes (3 months): nothing waits for its payloads any more
    hub.run_once()
    hub.close()
    blobs = [p for p in (spool / BLOB_FOLDER).rglob("*") if p.is_file() and p.parent.name != "tmp"]
    assert blobs

    def prune(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "medcom_bridge", "prune", *args]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)

    assert prune("--spool", str(spool), "--older-than", "30d").returncode == 2
    assert prune().returncode == 2
    assert prune("--spool", str(tmp_path / "nowhere")).returncode == 2
    assert prune("--spool", str(spool), "--now", "soon").returncode == 2
    kept = prune("--spool", str(spool), "--json", "--now", "2027-02-01")  # the default 13 months: younger
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["payloads"] == 0
    done = prune("--spool", str(spool), "--older-than", "3m", "--json", "--now", "2026-06-01T00:00:00Z")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["payloads"] >= 2
    assert not any(p.exists() for p in blobs)
    text = prune("--spool", str(spool), "--older-than", "3m", "--now", "2026-06-01")
    assert text.returncode == 0 and "0 payloads" in text.stdout

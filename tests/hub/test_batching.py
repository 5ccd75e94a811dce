"""Group commit (issue 6, performance): batches of files, conversions and deliveries per transaction, the
folder fsync once per batch, and the per-transaction caches of `Tx` — with the crash rules unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from medcom_bridge.hub import spool as spool_module
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.engine import transition
from medcom_bridge.hub.events import Step
from medcom_bridge.hub.flow import Event, State
from medcom_bridge.hub.pipeline import Inbound, RouteOutcome
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import FlowInfo, Store
from tests.hub.test_runner import (
    FHIR_ONLY,
    A,
    B,
    CapabilityRouter,
    JsonAnswers,
    JsonIdentifier,
    RecordingConverter,
    inbox,
    message,
    send,
    state_of,
    steps,
)


def batch_hub(spool: Spool, store: Store, clock: ManualClock, batch: int, **kw: Any) -> Hub:
    return Hub(
        spool, store, clock, JsonIdentifier(), CapabilityRouter(), answers=JsonAnswers(), batch=batch, **kw
    )


def count_commits(store: Store) -> list[int]:
    commits = [0]

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    event.listen(store.engine, "commit", on_commit)
    return commits


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool")


def test_a_batch_of_files_is_one_commit_and_each_file_is_handled_as_alone(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = batch_hub(spool, store, clock, batch=64)
    for i in range(10):
        send(spool, A, f"m{i}.xml", message(kind="xdis91", to=B, env=f"env-{i}", letter=f"L{i}"))
    send(spool, A, "m-again.xml", message(kind="xdis91", to=B, env="env-3", letter="L3"))  # same ids
    commits = count_commits(store)
    files = spool.waiting()
    done = Summary()
    hub.take_all(files, done)
    assert commits[0] == 1  # eleven files, one durable commit
    assert done.taken == 11 and spool.waiting() == []
    assert done.duplicates + done.already_taken == 1  # the copy in the same batch is recognised
    hub.deliver_pending(done)
    assert done.delivered == 10 and len(inbox(spool, B)) == 10
    assert commits[0] == 1 + 2  # one commit claims, writes and marks the batch delivered; one finds no more


def test_batches_are_cut_at_the_batch_size(spool: Spool, store: Store, clock: ManualClock) -> None:
    hub = batch_hub(spool, store, clock, batch=4)
    for i in range(10):
        send(spool, A, f"m{i}.xml", message(kind="xdis91", to=B, env=f"env-{i}", letter=f"L{i}"))
    commits = count_commits(store)
    done = Summary()
    hub.take_all(spool.waiting(), done)
    assert commits[0] == 3 and done.taken == 10  # 4 + 4 + 2


def test_a_file_that_breaks_the_hub_is_quarantined_alone_and_the_rest_of_its_batch_goes_through(
    spool: Spool, store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = batch_hub(spool, store, clock, batch=64)
    real = hub.router.route

    def broken_for_l3(inbound: Inbound) -> RouteOutcome:
        if inbound.letter_id == "L3":
            raise RuntimeError("bug")
        return real(inbound)

    monkeypatch.setattr(hub.router, "route", broken_for_l3)
    for i in range(6):
        send(spool, A, f"m{i}.xml", message(kind="xdis91", to=B, env=f"env-{i}", letter=f"L{i}"))
    summary = hub.run_once()
    assert summary.taken == 6 and summary.quarantined == 1 and spool.waiting() == []
    assert sorted(m["letter"] for m in inbox(spool, B)) == ["L0", "L1", "L2", "L4", "L5"]
    [(_, reason)] = spool.quarantined()
    assert "hub-error" in reason


def test_a_crash_after_the_batch_commit_leaves_the_files_to_be_recognised(
    spool: Spool, store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = batch_hub(spool, store, clock, batch=64)
    for i in range(5):
        send(spool, A, f"m{i}.xml", message(kind="xdis91", to=B, env=f"env-{i}", letter=f"L{i}"))
    original = spool.taken
    removed: list[str] = []

    def crash_after_two(file: Any) -> None:
        if len(removed) == 2:
            raise KeyboardInterrupt("power cut")
        removed.append(file.name)
        original(file)

    monkeypatch.setattr(spool, "taken", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        hub.run_once()
    assert len(spool.waiting()) == 3  # committed, not yet removed: still there
    monkeypatch.setattr(spool, "taken", original)
    summary = hub.run_once()
    assert summary.already_taken == 3 and spool.waiting() == []
    assert sorted(m["letter"] for m in inbox(spool, B)) == [f"L{i}" for i in range(5)]  # each once


def test_a_crash_before_the_delivery_commit_delivers_the_same_files_again_as_a_no_op(
    spool: Spool, store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = batch_hub(spool, store, clock, batch=64)
    for i in range(4):
        send(spool, A, f"m{i}.xml", message(kind="xdis91", to=B, env=f"env-{i}", letter=f"L{i}"))
    real = hub._after_delivery

    def power_cut(*args: Any) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(hub, "_after_delivery", power_cut)
    with pytest.raises(KeyboardInterrupt):
        hub.run_once()
    assert len(inbox(spool, B)) == 4  # written (and synced) before the commit that failed
    monkeypatch.setattr(hub, "_after_delivery", real)
    summary = hub.run_once()
    assert summary.delivered == 4 and len(inbox(spool, B)) == 4  # the same bytes again: nothing doubled
    with store.transaction() as tx:
        assert tx.claim_pending_outputs(limit=100, max_bytes=1 << 30) == []


def test_conversions_of_a_batch_commit_together(spool: Spool, store: Store, clock: ManualClock) -> None:
    converter = RecordingConverter()
    hub = batch_hub(spool, store, clock, batch=64, converter=converter)
    for i in range(3):
        send(spool, A, f"x{i}.xml", message(kind="xdis91", to=FHIR_ONLY, env=f"e{i}", letter=f"X{i}"))
    summary = hub.run_once()
    assert summary.converted == 3 and len(converter.calls) == 3
    assert len(inbox(spool, FHIR_ONLY)) == 3


def test_deferred_sync_fsyncs_each_folder_once_after_the_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real = spool_module._fsync_dir

    def recording(folder: Path) -> None:
        synced.append(folder)
        real(folder)

    monkeypatch.setattr(spool_module, "_fsync_dir", recording)
    spool = Spool(tmp_path)
    with spool.deferred_sync():
        for i in range(5):
            spool.deliver(B, f"m{i}.xml", b"<v/>")
        spool.deliver(A, "m.xml", b"<v/>")
        assert synced == []  # postponed ...
    assert sorted(synced) == sorted(
        [tmp_path / A / "in", tmp_path / B / "in"]
    )  # ... and done once per folder
    synced.clear()
    spool.deliver(B, "single.xml", b"<w/>")
    assert synced == [tmp_path / B / "in"]  # outside a block: at once, as before


def test_tx_caches_follow_their_own_writes(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as tx:
        flow = tx.create_flow(now, FlowInfo(sender_gln=A, receiver_gln=B))
        digest = tx.put_payload(b"<letter/>", now)
        message_id = tx.add_message(flow.id, direction="out", role="letter", payload_sha256=digest, now=now)
        assert [m.id for m in tx.messages(flow.id)] == [message_id]
        transition(tx, flow.id, Event.PASS_THROUGH, now)
        tx.update_info(flow.id, bundle_id="b-1")
        assert tx.flow_row(flow.id)["bundle_id"] == "b-1"
        assert tx.flow(flow.id).state is State.DELIVERING
        tx.mark_delivered(message_id, now, "m.xml")
        assert tx.messages(flow.id)[0].delivered_at is not None
        assert tx.payload(digest) == b"<letter/>"
    with store.transaction() as tx:  # a new transaction reads what the first one committed
        assert tx.flow(flow.id).state is State.DELIVERING
        assert tx.flow_row(flow.id)["bundle_id"] == "b-1"
        [stored] = tx.messages(flow.id)
        assert stored.file_name == "m.xml" and stored.delivered_at is not None
        tx.record(flow.id, now, Step.DELIVERED)
    with store.transaction() as tx:
        assert [e.seq for e in tx.events(flow.id)] == [1, 2, 3]  # no gap, no clash across transactions
    assert state_of(store, flow.id) is State.DELIVERING
    assert steps(store, flow.id)[-1] == "delivered"

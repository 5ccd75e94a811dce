"""The store tells its commit listeners what committed, once, after the commit: never a rolled-back attempt,
a retried one twice, or the events of a savepoint that was rolled back (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from medcom_bridge.hub.events import Step
from medcom_bridge.hub.observe import Committed
from medcom_bridge.hub.store import ConcurrentUpdate, Store, Tx

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def told(store: Store) -> list[Committed]:
    heard: list[Committed] = []

    def listen(events: Sequence[Committed]) -> None:
        heard.extend(events)

    store.listeners.append(listen)
    return heard


def test_a_commit_is_told_after_it_with_the_flows_creation_time(store: Store, told: list[Committed]) -> None:
    with store.transaction() as tx:
        flow = tx.create_flow(NOW)
        assert told == []  # not yet committed
    [created] = told
    assert created.event.flow_id == flow.id and created.event.step is Step.RECEIVED
    assert created.flow_created_at == NOW


def test_a_rolled_back_transaction_is_never_told(store: Store, told: list[Committed]) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.create_flow(NOW)
        raise RuntimeError("the work failed")
    assert told == []


def test_a_retried_unit_of_work_is_told_once(store: Store, told: list[Committed]) -> None:
    attempts = []

    def work(tx: Tx) -> str:
        flow = tx.create_flow(NOW)
        attempts.append(flow.id)
        if len(attempts) == 1:
            raise ConcurrentUpdate(flow.id)  # transient: Store.run starts again
        return flow.id

    flow_id = store.run(work)
    assert len(attempts) == 2
    assert [c.event.flow_id for c in told] == [flow_id]


def test_events_of_a_rolled_back_savepoint_are_not_told(store: Store, told: list[Committed]) -> None:
    with store.transaction() as tx:
        kept = tx.create_flow(NOW)
        try:
            with tx.conn.begin_nested():
                dropped = tx.create_flow(NOW)
                raise RuntimeError("a converter bug")
        except RuntimeError:
            tx.forget(dropped.id)
    assert {c.event.flow_id for c in told} == {kept.id}


def test_a_failing_listener_does_not_undo_the_commit(store: Store) -> None:
    def broken(events: Sequence[Committed]) -> None:
        raise ValueError("an observer bug")

    store.listeners.append(broken)
    with store.transaction() as tx:
        flow = tx.create_flow(NOW)
    with store.transaction() as tx:
        assert tx.flow(flow.id, lock=False).id == flow.id
        assert [e.flow_event for e in tx.events(flow.id)] == [None]

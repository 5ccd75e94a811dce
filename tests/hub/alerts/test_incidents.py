"""Open once, suppress repeats, resolve once: the pure incident table, and any sequence of firing sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge.hub.alerts.incidents import Change, Incident, step
from medcom_bridge.hub.alerts.rules import DATABASE_FREE, Condition, Rule

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
A = Condition(Rule.MISSING_RECEIPTS, "5790000123456", "2 flow(s) ...")
B = Condition(Rule.HEARTBEAT, "files", "the hub is not taking files")


def test_open_then_suppress_then_resolve() -> None:
    first = step({}, {A.key: A}, T0)
    assert [(e.change, e.incident.key) for e in first.events] == [(Change.OPENED, A.key)]
    again = step(
        first.open, {A.key: Condition(A.rule, A.subject, "3 flow(s) ...")}, T0 + timedelta(minutes=1)
    )
    assert again.events == () and again.open[A.key].summary == "3 flow(s) ..."
    assert again.open[A.key].opened_at == T0 and again.open[A.key].last_seen == T0 + timedelta(minutes=1)
    done = step(again.open, {}, T0 + timedelta(minutes=2))
    assert [(e.change, e.incident.key) for e in done.events] == [(Change.RESOLVED, A.key)]
    assert done.events[0].incident.resolved_at == T0 + timedelta(minutes=2) and done.open == {}


def test_an_unevaluated_rule_neither_opens_nor_resolves() -> None:
    open_ = {A.key: Incident.of(A, T0)}
    kept = step(open_, {B.key: B}, T0, DATABASE_FREE)  # the database was not read: A is unknown, not healthy
    assert [(e.change, e.incident.key) for e in kept.events] == [(Change.OPENED, B.key)]
    assert set(kept.open) == {A.key, B.key}
    assert step({}, {A.key: A}, T0, DATABASE_FREE).events == ()


KEYS = [A, B, Condition(Rule.STUCK, "converting", "..."), Condition(Rule.DATABASE, "hub", "...")]


@given(st.lists(st.sets(st.sampled_from(range(len(KEYS)))), max_size=30))
def test_each_episode_opens_once_and_resolves_once(rounds: list[set[int]]) -> None:
    open_: dict[str, Incident] = {}
    previous: set[str] = set()
    opened: dict[str, int] = {}
    resolved: dict[str, int] = {}
    for n, chosen in enumerate(rounds):
        firing = {KEYS[i].key: KEYS[i] for i in chosen}
        result = step(open_, firing, T0 + timedelta(minutes=n))
        for event in result.events:
            counts = opened if event.change is Change.OPENED else resolved
            counts[event.incident.key] = counts.get(event.incident.key, 0) + 1
        now = set(firing)
        # An event exactly at an edge of the firing set: opened when it starts, resolved when it stops.
        assert {e.incident.key for e in result.events if e.change is Change.OPENED} == now - previous
        assert {e.incident.key for e in result.events if e.change is Change.RESOLVED} == previous - now
        assert set(result.open) == now
        open_, previous = result.open, now
    for condition in KEYS:
        key = condition.key
        episodes = sum(
            1
            for n, chosen in enumerate(rounds)
            if KEYS.index(condition) in chosen and (n == 0 or KEYS.index(condition) not in rounds[n - 1])
        )
        assert opened.get(key, 0) == episodes
        assert resolved.get(key, 0) == episodes - (1 if key in previous else 0)

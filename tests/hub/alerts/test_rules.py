"""Pure rule evaluation: facts + rules -> firing conditions with stable keys."""

from __future__ import annotations

from datetime import timedelta

from medcom_bridge.hub.alerts.config import NegativeRate, QuarantineGrowth, Rules
from medcom_bridge.hub.alerts.rules import DATABASE_FREE, Facts, Receipts, Rule, evaluate, evaluated_rules

GLN = "5790000123456"
QUIET = Facts(overdue_receipts={}, receipts={}, quarantined=0, overdue_timers={}, stalled={})


def test_quiet_facts_fire_nothing() -> None:
    assert evaluate(QUIET, Rules()) == {}
    assert evaluate(Facts(), Rules()) == {}


def test_missing_receipts_per_receiver_with_its_name() -> None:
    facts = Facts(overdue_receipts={GLN: 2, "5790000999999": 0}, names={GLN: "Aarhus Kommune"})
    fired = evaluate(facts, Rules())
    assert list(fired) == [f"missing_receipts:{GLN}"]
    assert "2 flow(s)" in fired[f"missing_receipts:{GLN}"].summary
    assert "Aarhus Kommune" in fired[f"missing_receipts:{GLN}"].summary
    assert evaluate(facts, Rules(missing_receipts=False)) == {}


def test_negative_rate_needs_enough_letters_and_a_rate_above_the_threshold() -> None:
    rule = Rules(negative_rate=NegativeRate(threshold=0.05, min_letters=20))
    assert evaluate(Facts(receipts={GLN: Receipts(19, 19)}), rule) == {}  # too few letters to judge
    assert evaluate(Facts(receipts={GLN: Receipts(20, 1)}), rule) == {}  # 5 % is not above 5 %
    fired = evaluate(Facts(receipts={GLN: Receipts(40, 7)}), rule)
    assert list(fired) == [f"negative_rate:{GLN}"]
    assert (
        "7 of 40" in fired[f"negative_rate:{GLN}"].summary
        and "17.5%" in fired[f"negative_rate:{GLN}"].summary
    )
    assert evaluate(Facts(receipts={GLN: Receipts(40, 7)}), Rules(negative_rate=None)) == {}


def test_quarantine_growth_above_the_limit() -> None:
    rule = Rules(quarantine_growth=QuarantineGrowth(above=10))
    assert evaluate(Facts(quarantined=10), rule) == {}
    assert list(evaluate(Facts(quarantined=11), rule)) == ["quarantine_growth:quarantine"]


def test_stuck_by_timer_and_by_busy_state() -> None:
    fired = evaluate(Facts(overdue_timers={"pairing": 1}, stalled={"converting": 3}), Rules())
    assert set(fired) == {"stuck:timer-pairing", "stuck:converting"}
    assert "state converting" in fired["stuck:converting"].summary
    assert evaluate(Facts(overdue_timers={"pairing": 1}), Rules(stuck=None)) == {}


def test_heartbeat_by_waiting_file_and_by_loop() -> None:
    rule = Rules(heartbeat=timedelta(minutes=15))
    assert evaluate(Facts(oldest_waiting_file=timedelta(minutes=15)), rule) == {}
    fired = evaluate(Facts(oldest_waiting_file=timedelta(minutes=16), loop_idle=timedelta(hours=1)), rule)
    assert set(fired) == {"heartbeat:files", "heartbeat:loop"}
    assert "16 min" in fired["heartbeat:files"].summary


def test_database_and_broker_unreachable() -> None:
    fired = evaluate(
        Facts(database_problem="OperationalError", broker_problem="AMQPConnectionError"), Rules()
    )
    assert set(fired) == {"database:hub", "broker:hub"}
    assert evaluate(Facts(database_problem="X"), Rules(database=False)) == {}


def test_without_the_database_only_its_free_rules_are_decided() -> None:
    assert evaluated_rules(Facts()) == DATABASE_FREE
    assert evaluated_rules(QUIET) == frozenset(Rule)

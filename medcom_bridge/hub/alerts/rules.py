"""Which alert conditions fire, from a snapshot of facts: pure (facts + rules in, conditions out).

A condition carries a stable key, `rule:subject` (`negative_rate:5790000123456`, `stuck:converting`), that
`incidents` uses to open an incident once per episode. Summaries carry counts, location numbers, party names
and state names only: never patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from medcom_bridge.hub.alerts.config import Rules


class Rule(StrEnum):
    MISSING_RECEIPTS = "missing_receipts"
    NEGATIVE_RATE = "negative_rate"
    QUARANTINE_GROWTH = "quarantine_growth"
    STUCK = "stuck"
    HEARTBEAT = "heartbeat"
    DATABASE = "database"
    BROKER = "broker"


DATABASE_FREE = frozenset({Rule.HEARTBEAT, Rule.DATABASE, Rule.BROKER})
"""Rules whose facts do not come from the database (evaluated even while it is unreachable)."""


@dataclass(frozen=True, slots=True)
class Condition:
    rule: Rule
    subject: str
    summary: str

    @property
    def key(self) -> str:
        return f"{self.rule.value}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Receipts:
    """A receiver's letters that got a receipt within the window, and how many of them a negative one."""

    letters: int
    negative: int


@dataclass(frozen=True, slots=True)
class Facts:
    """What one evaluation looks at. The database part is None when the database could not be read."""

    overdue_receipts: Mapping[str, int] | None = None
    """Receiver GLN -> flows delivered to it and still without a receipt past 120 minutes."""
    receipts: Mapping[str, Receipts] | None = None
    """Receiver GLN -> its receipts within the negative-rate window."""
    quarantined: int | None = None
    """Inputs quarantined within the quarantine-growth window."""
    overdue_timers: Mapping[str, int] | None = None
    """Timer kind -> pending timers due longer ago than the stuck limit (the flow is stuck past its timer)."""
    stalled: Mapping[str, int] | None = None
    """Busy state (received, converting, delivering) -> flows unchanged for longer than the stuck limit."""
    oldest_waiting_file: timedelta | None = None
    """Age of the oldest file waiting in a party's out/ folder (None: none waiting or no spool here)."""
    loop_idle: timedelta | None = None
    """Time since the hub loop of this process last finished a run (None: no loop in this process)."""
    database_problem: str | None = None
    broker_problem: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    """GLN -> party name from the register, for readable summaries."""

    @property
    def database_read(self) -> bool:
        return self.overdue_receipts is not None


def evaluated_rules(facts: Facts) -> frozenset[Rule]:
    """The rules this snapshot can decide about: an incident of another rule neither opens nor resolves."""
    return frozenset(Rule) if facts.database_read else DATABASE_FREE


def evaluate(facts: Facts, rules: Rules) -> dict[str, Condition]:
    """Every condition that fires, by key."""
    found: list[Condition] = []
    party = _party(facts.names)
    if rules.missing_receipts and facts.overdue_receipts:
        for gln, n in sorted(facts.overdue_receipts.items()):
            if n > 0:
                found.append(
                    Condition(
                        Rule.MISSING_RECEIPTS,
                        gln,
                        f"{n} flow(s) delivered to {party(gln)} still without a receipt past 120 minutes",
                    )
                )
    negative = rules.negative_rate
    if negative is not None and facts.receipts:
        for gln, r in sorted(facts.receipts.items()):
            if r.letters >= negative.min_letters and r.negative > negative.threshold * r.letters:
                found.append(
                    Condition(
                        Rule.NEGATIVE_RATE,
                        gln,
                        f"{party(gln)} answered {r.negative} of {r.letters} letters negatively "
                        f"({r.negative / r.letters:.1%}) in the last {_span(negative.window)}; "
                        f"threshold {negative.threshold:.1%}",
                    )
                )
    growth = rules.quarantine_growth
    if growth is not None and facts.quarantined is not None and facts.quarantined > growth.above:
        found.append(
            Condition(
                Rule.QUARANTINE_GROWTH,
                "quarantine",
                f"{facts.quarantined} inputs quarantined in the last {_span(growth.window)} "
                f"(more than {growth.above})",
            )
        )
    if rules.stuck is not None:
        for kind, n in sorted((facts.overdue_timers or {}).items()):
            if n > 0:
                found.append(
                    Condition(
                        Rule.STUCK,
                        f"timer-{kind}",
                        f"{n} flow(s) past their {kind} timer by more than {_span(rules.stuck)} "
                        "(the timer has not fired)",
                    )
                )
        for state, n in sorted((facts.stalled or {}).items()):
            if n > 0:
                found.append(
                    Condition(
                        Rule.STUCK,
                        state,
                        f"{n} flow(s) in state {state} unchanged for over {_span(rules.stuck)}",
                    )
                )
    if rules.heartbeat is not None:
        oldest = facts.oldest_waiting_file
        if oldest is not None and oldest > rules.heartbeat:
            found.append(
                Condition(
                    Rule.HEARTBEAT,
                    "files",
                    f"the hub is not taking files: the oldest waiting in an out/ folder is {_span(oldest)} old "
                    f"(limit {_span(rules.heartbeat)})",
                )
            )
        if facts.loop_idle is not None and facts.loop_idle > rules.heartbeat:
            found.append(
                Condition(
                    Rule.HEARTBEAT,
                    "loop",
                    f"the hub loop last finished a run {_span(facts.loop_idle)} ago (limit {_span(rules.heartbeat)})",
                )
            )
    if rules.database and facts.database_problem is not None:
        found.append(
            Condition(Rule.DATABASE, "hub", f"the hub database is unreachable ({facts.database_problem})")
        )
    if rules.broker and facts.broker_problem is not None:
        found.append(
            Condition(Rule.BROKER, "hub", f"the message broker is unreachable ({facts.broker_problem})")
        )
    return {c.key: c for c in found}


def _party(names: Mapping[str, str]) -> Callable[[str], str]:
    return lambda gln: f"{gln} ({names[gln]})" if gln in names else gln


def _span(d: timedelta) -> str:
    """A duration as people say it: 90 s, 15 min, 2 h 5 min, 1 d."""
    seconds = int(d.total_seconds())
    if seconds < 60 or (seconds < 120 and seconds % 60):
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")

"""One alert round (the shell): gather the facts, decide, store the incidents, send their notices.

`serve` runs `Alerter.check` every `[alerts] interval` in its own thread (a slow mail server never delays the
hub loop); `medcom-bridge alerts check` runs it once. A round never raises: a failing rule source or channel
is logged (masked) and tried again next round.

When the database is unreachable the round cannot store anything: the "database unreachable" incident lives
in this process's memory (opened once, repeats suppressed, resolved with a notice when the database answers
again), and its notices are sent straight from memory, retried each round until accepted. Two processes
that both see the database down each send their own notice; the database incidents do not appear in
`hub_incidents` (nothing else is lost: the other rules neither open nor resolve while their facts are unknown).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from medcom_bridge.hub.alerts import delivery
from medcom_bridge.hub.alerts.config import AlertConfig
from medcom_bridge.hub.alerts.incidents import Incident, IncidentEvent, step
from medcom_bridge.hub.alerts.notice import Notice, notice
from medcom_bridge.hub.alerts.rules import Facts, Rule, evaluate, evaluated_rules
from medcom_bridge.hub.clock import Clock
from medcom_bridge.hub.service import HubService
from medcom_bridge.hub.spool import Spool

log = logging.getLogger(__name__)

Sender = Callable[[AlertConfig, str, Notice], str | None]

MEMORY_RULES = frozenset({Rule.DATABASE})
"""Rules whose incidents are kept in memory, not in the database (it is the thing that is down)."""


@dataclass
class Report:
    """What a round did: the open incidents after it, the changes it made, the notices it sent or not."""

    open: list[Incident] = field(default_factory=list)
    events: list[IncidentEvent] = field(default_factory=list)
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    stored: bool = True
    """False when the database could not be read or written this round."""


@dataclass
class _Pending:
    event: IncidentEvent
    channel: str


class Alerter:
    def __init__(
        self,
        service: HubService,
        config: AlertConfig,
        clock: Clock,
        *,
        spool: Spool | None = None,
        loop_last_run: Callable[[], datetime | None] | None = None,
        names: Callable[[str], str | None] | None = None,
        hub_name: str = "medcom-bridge",
        sender: Sender = delivery.send,
    ) -> None:
        self.service = service
        self.config = config
        self.clock = clock
        self.spool = spool
        self.loop_last_run = loop_last_run
        self.names = names
        self.hub_name = hub_name
        self.sender = sender
        self.memory: dict[str, Incident] = {}
        self._memory_outbox: list[_Pending] = []

    # -- facts ---------------------------------------------------------------------------------------------
    def facts(self, now: datetime) -> Facts:
        problem = self.service.database_problem()
        stored = Facts()
        if problem is None:
            try:
                stored = self.service.alert_facts(self.config.rules, now)
            except Exception as exc:  # the database went away between the probe and the read
                problem = type(exc).__name__
                log.warning("alert facts: database read failed (%s)", problem)
        broker_problem = None
        if self.config.rules.broker:
            health = self.service.broker_health()
            if health is not None and not health.get("ok"):
                broker_problem = str(health.get("error") or "unreachable")
        names: dict[str, str] = {}
        if self.names is not None:
            for gln in {*(stored.overdue_receipts or {}), *(stored.receipts or {})}:
                name = self.names(gln)
                if name:
                    names[gln] = name
        last = self.loop_last_run() if self.loop_last_run is not None else None
        return Facts(
            overdue_receipts=stored.overdue_receipts,
            receipts=stored.receipts,
            quarantined=stored.quarantined,
            overdue_timers=stored.overdue_timers,
            stalled=stored.stalled,
            oldest_waiting_file=self._oldest_waiting(now),
            loop_idle=now - last if last is not None else None,
            database_problem=problem,
            broker_problem=broker_problem,
            names=names,
        )

    def _oldest_waiting(self, now: datetime) -> timedelta | None:
        if self.spool is None:
            return None
        try:
            for file in self.spool.waiting():  # oldest first
                try:
                    mtime = file.path.lstat().st_mtime
                except FileNotFoundError:  # taken meanwhile
                    continue
                return max(now - datetime.fromtimestamp(mtime, UTC), timedelta(0))
        except OSError as exc:
            log.warning("alert facts: cannot list the spool (%s)", type(exc).__name__)
        return None

    # -- the round -----------------------------------------------------------------------------------------
    def check(self) -> Report:
        now = self.clock.now()
        report = Report()
        try:
            facts = self.facts(now)
        except Exception:  # a rule source that fails must not stop alerting on the others
            log.exception("alert facts could not be gathered")
            return report
        firing = evaluate(facts, self.config.rules)
        evaluated = evaluated_rules(facts)
        channels = self.config.channels

        in_memory = {k: c for k, c in firing.items() if c.rule in MEMORY_RULES}
        remembered = step(self.memory, in_memory, now, MEMORY_RULES & evaluated)
        self.memory = remembered.open
        report.events.extend(remembered.events)
        self._memory_outbox.extend(_Pending(e, c) for e in remembered.events for c in channels)

        if facts.database_read:
            stored = {k: c for k, c in firing.items() if c.rule not in MEMORY_RULES}
            try:
                done = self.service.record_incidents(stored, now, evaluated - MEMORY_RULES, channels)
                if done is not None:
                    report.events.extend(done.events)
                self._send_stored(now, report)
                report.open = self.service.open_incidents()
            except Exception as exc:
                report.stored = False
                log.warning(
                    "alert incidents could not be stored (%s); next round tries again", type(exc).__name__
                )
        else:
            report.stored = False
        self._send_memory(report)
        report.open = sorted([*report.open, *self.memory.values()], key=lambda i: (i.opened_at, i.key))
        for event in report.events:
            log.info("incident %s %s: %s", event.change.value, event.incident.key, event.incident.summary)
        return report

    def _send_stored(self, now: datetime, report: Report) -> None:
        known = set(self.config.channels)
        for pending in self.service.claim_notices(now):
            if pending.channel not in known:
                self.service.drop_notice(pending, now)
                continue
            error = self.sender(self.config, pending.channel, notice(pending.event, self.hub_name))
            self.service.finish_notice(pending, self.clock.now(), error)
            if error is None:
                report.sent += 1
            else:
                report.failed.append(error)

    def _send_memory(self, report: Report) -> None:
        left: list[_Pending] = []
        for pending in self._memory_outbox:
            error = self.sender(self.config, pending.channel, notice(pending.event, self.hub_name))
            if error is None:
                report.sent += 1
            else:
                report.failed.append(error)
                left.append(pending)
        self._memory_outbox = left


def names_of(directory: object) -> Callable[[str], str | None] | None:
    """Party names from a hub's register directory (None without one)."""
    party = getattr(directory, "party", None)
    if party is None:
        return None

    def name(gln: str) -> str | None:
        found = party(gln)
        return getattr(found, "name", None) if found is not None else None

    return name

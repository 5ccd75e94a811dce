"""What the hub tells an observer (the metrics) while it works, without the core knowing who listens.

Two doors, both in the shell:
* `Store` hands each committed transaction's trace events to its listeners *after* the commit (a rolled-back
  attempt, or one retried after a transient database error, is never reported), so a count derived from them
  counts each effect once, in the process that committed it. Each event comes with its flow's creation time
  when the transaction knew it (it always does for a state change: the flow row was locked), which is what
  the intake-to-delivered latency needs.
* `Hub` (the runner) reports how long a conversion and a delivery write took, in wall time measured around
  the work itself. An attempt redone after a transient database error is measured again: it was done again.

Events carry ids and enum values only (no patient data); an observer must keep it that way in its labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from medcom_bridge.hub.events import TraceEvent
from medcom_bridge.hub.flow import Route


@dataclass(frozen=True, slots=True)
class Committed:
    """One trace event that is now durable, with its flow's creation time (None when not known)."""

    event: TraceEvent
    flow_created_at: datetime | None = None


class Observer(Protocol):
    def committed(self, events: Sequence[Committed]) -> None:
        """A transaction committed these events (called after the commit, in the committing thread)."""

    def conversion(self, route: Route | None, seconds: float) -> None:
        """One conversion (successful or not) took `seconds` of wall time."""

    def delivery(self, seconds: float, ok: bool) -> None:
        """One output file was written into its receiver's in/ folder (or failed to be) in `seconds`."""


class Unobserved:
    """The default: nobody listens (`process`, tests that do not look at metrics)."""

    def committed(self, events: Sequence[Committed]) -> None:
        pass

    def conversion(self, route: Route | None, seconds: float) -> None:
        pass

    def delivery(self, seconds: float, ok: bool) -> None:
        pass


UNOBSERVED = Unobserved()

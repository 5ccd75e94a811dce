"""Work between the hub's steps as it travels through the broker (issue 10): pure values, no I/O.

A message is a hint, "there is work at step S for key K" (a flow id, or `EAN/name` of a spool file). The
database stays the system of record: a worker that receives a hint runs the step's own work list (rows taken
with FOR UPDATE SKIP LOCKED and a state check), so a hint delivered twice, late or for work another worker has
done already changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum


class WorkStep(StrEnum):
    INTAKE = "intake"
    """A file waiting in a mailbox's out/ (published by the one worker that watches the spool)."""
    CONVERT = "convert"
    """A flow entered `converting`."""
    DELIVER = "deliver"
    """A flow has outputs to deliver (letters, answers, negative receipts, forwarded messages)."""


class BadHint(ValueError):
    """A broker message that is not a hint of ours: dead-lettered at once."""


@dataclass(frozen=True, slots=True)
class Hint:
    step: WorkStep
    key: str
    """The flow id (convert, deliver) or `EAN/file name` (intake)."""

    def encode(self) -> bytes:
        return json.dumps({"step": self.step.value, "key": self.key}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> Hint:
        try:
            data = json.loads(body)
            step, key = WorkStep(data["step"]), data["key"]
        except (ValueError, TypeError, KeyError) as exc:
            raise BadHint(f"not a hub hint ({type(exc).__name__})") from None
        if not isinstance(key, str) or not key or len(key) > 512:
            raise BadHint("not a hub hint (key)")
        return cls(step, key)

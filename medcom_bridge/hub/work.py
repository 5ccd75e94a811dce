"""Work between the hub's steps as it travels through the broker (issue 10): pure values, no I/O.

A message is a hint, "there is work at step S for keys K..." (flow ids, or `EAN/name` of spool files; up to
`KEYS_PER_HINT` in one message, because each message costs the broker a confirmed, replicated write). The
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


KEYS_PER_HINT = 16
_MAX_KEYS = 256
_MAX_KEY = 512


class BadHint(ValueError):
    """A broker message that is not a hint of ours: dead-lettered at once."""


@dataclass(frozen=True, slots=True)
class Hint:
    step: WorkStep
    keys: tuple[str, ...]
    """Flow ids (convert, deliver) or `EAN/file name`s (intake)."""

    def encode(self) -> bytes:
        return json.dumps({"step": self.step.value, "keys": list(self.keys)}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> Hint:
        try:
            data = json.loads(body)
            step, keys = WorkStep(data["step"]), data["keys"]
        except (ValueError, TypeError, KeyError) as exc:
            raise BadHint(f"not a hub hint ({type(exc).__name__})") from None
        if (
            not isinstance(keys, list)
            or not 0 < len(keys) <= _MAX_KEYS
            or not all(isinstance(k, str) and 0 < len(k) <= _MAX_KEY for k in keys)
        ):
            raise BadHint("not a hub hint (keys)")
        return cls(step, tuple(keys))


def hints(step: WorkStep, keys: list[str], per_hint: int = KEYS_PER_HINT) -> list[Hint]:
    """`keys` of one step as few messages as `per_hint` allows."""
    return [Hint(step, tuple(keys[i : i + per_hint])) for i in range(0, len(keys), per_hint)]

"""HTTP intake: a POSTed VANSEnvelope goes through exactly the path of a spool file.

The body is written into the sender's `SPOOL/<EAN>/out/` (atomically) and taken by the hub's own
`Hub.take()` there and then, under the lock the hub loop holds while it runs. So the HTTP door has the spool's
rules by construction: the same intake key (content hash + envelope id) makes a repeated POST idempotent, the
same dedup answers duplicates, the same quarantine keeps unreadable input with its reason. And if the server
dies between the write and the commit, the loop takes the file on its next run: the client, which got no
answer, posts again and is told the flow id.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass

from medcom_bridge.envelope.vans import read as read_envelope
from medcom_bridge.hub.events import Place
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.runner import INTAKE, Hub, Summary
from medcom_bridge.hub.spool import SpoolFile, intake_key

MAX_BODY = 64 * 1024 * 1024
"""Far above any real letter (XBIN01 attachments included); larger bodies get 413 before any parsing."""
_EAN = re.compile(r"^[0-9]{1,18}$")


class IntakeRefused(ValueError):
    """The request cannot become a spool file at all (no sender mailbox, empty, too big)."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.status = status
        self.rule = rule
        self.message = message


@dataclass(frozen=True, slots=True)
class IntakeResult:
    flow_id: str
    state: str
    outcome: str
    """accepted | already-taken (same file again) | duplicate (letter id seen before) | rejected | quarantined"""
    reason: str | None = None
    failure: str | None = None

    @property
    def refused(self) -> bool:
        return self.outcome in ("rejected", "quarantined")

    def to_json(self) -> dict[str, str | None]:
        return {
            "flow_id": self.flow_id,
            "state": self.state,
            "outcome": self.outcome,
            "reason": self.reason,
            "failure": self.failure,
            "flow": f"/flows/{self.flow_id}",
        }


@dataclass(frozen=True, slots=True)
class _Peek:
    """What the envelope header says before the hub reads it properly (sender mailbox, envelope id)."""

    sender: str | None
    envelope_id: str | None
    problem: str


def _peek(data: bytes) -> _Peek:
    reading = read_envelope(data)
    envelope = reading.envelope
    problem = next((str(f) for f in reading.findings if f.severity == "error"), "no SenderID location number")
    if envelope is None:
        return _Peek(None, None, problem)
    sender = envelope.sender.value if _EAN.match(envelope.sender.value) else None
    return _Peek(sender, envelope.envelope_id, problem)


def sender_mailbox(peek: _Peek, mailbox: str | None) -> str:
    """The mailbox the envelope is posted from: `mailbox` if given, else the envelope's SenderID."""
    if mailbox is not None:
        if not _EAN.match(mailbox):
            raise IntakeRefused(
                400, "http-mailbox", f"mailbox {mailbox!r} must be a location number (1-18 digits)"
            )
        return mailbox
    if peek.sender is not None:
        return peek.sender
    raise IntakeRefused(
        400,
        "http-sender-unknown",
        f"cannot tell which mailbox this comes from ({peek.problem}); send a VANSEnvelope with an EAN "
        "SenderID or add ?mailbox=<EAN>",
    )


def take_envelope(hub: Hub, lock: threading.Lock, data: bytes, *, mailbox: str | None = None) -> IntakeResult:
    """Store `data` as intake from `mailbox` (or the envelope's sender) and say what became of it."""
    if not data.strip():
        raise IntakeRefused(400, "http-empty", "the body is empty; POST one VANSEnvelope XML document")
    if len(data) > MAX_BODY:
        raise IntakeRefused(413, "http-too-large", f"the body has {len(data)} bytes; the limit is {MAX_BODY}")
    peek = _peek(data)
    ean = sender_mailbox(peek, mailbox)
    # The hub keys intake by content + the envelope id its identifier read, or + nothing when it could not
    # read one; the header peek gives the same id without running the (costly) identification twice.
    keys = [intake_key(data, peek.envelope_id)] if peek.envelope_id else []
    keys.append(intake_key(data, None))
    with lock:
        owner = _owner(hub, keys)
        if owner is None:
            file = _write_out(hub, ean, data)
            summary = Summary()
            hub.take(file, summary)
            outcome = "duplicate" if summary.duplicates else "accepted"
            owner = _owner(hub, keys)
            if owner is None:  # pragma: no cover - take() always claims the intake key or raises
                raise RuntimeError("the hub took the envelope but recorded no intake key")
        else:
            outcome = "already-taken"
        with hub.store.transaction() as tx:
            state = State(tx.flow_row(owner)["state"])
            events = tx.events(owner)
    flow_id = owner
    failed = next((e for e in reversed(events) if e.failed), None)
    if outcome == "accepted" and state in (State.REJECTED, State.QUARANTINED):
        outcome = "rejected" if state is State.REJECTED else "quarantined"
    if outcome == "accepted" and failed is not None and failed.failure is Place.INPUT:
        outcome = "rejected"  # e.g. an invalid partner XBIN01 in a flow that goes on without it
    return IntakeResult(
        flow_id,
        state.value,
        outcome,
        failed.reason if failed is not None and outcome != "accepted" else None,
        failed.failure.value if failed is not None and failed.failure and outcome != "accepted" else None,
    )


def _owner(hub: Hub, keys: list[str]) -> str | None:
    with hub.store.transaction() as tx:
        for key in keys:
            owner = tx.find_key(INTAKE, key)
            if owner is not None:
                return owner
    return None


def _write_out(hub: Hub, ean: str, data: bytes) -> SpoolFile:
    """Write the body where the sender's files wait (tmp + rename, so no one ever reads half a file).

    No fsync: the client's 202 rests on the store's commit inside `take()`, not on this file. If the server
    dies before that commit, the client has no answer and posts again; a file that survived is taken by the
    loop and recognised by its intake key either way.
    """
    folder = hub.spool.ensure_party(ean) / "out"
    path = folder / f"http-{hashlib.sha256(data).hexdigest()[:32]}.xml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return SpoolFile(ean, path)

"""HTTP intake: a POSTed VANSEnvelope goes through exactly the path of a spool file.

The request body is received in pieces with the size limit enforced while reading (`receive_body`): a body over
the limit is refused after reading just past the limit, never held whole; a body within it lives in a
`Body` (memory up to a small threshold, a temporary file beyond). `take_envelope` hands it to the hub's service
door, `Hub.ingest(bytes, mailbox)`, which takes it exactly as a spool file from that mailbox's out/ is taken, in
one transaction, with nothing written to out/ first. So the HTTP door has the spool's rules by construction:
the same intake key (content hash + envelope id) makes a repeated POST idempotent, the same dedup answers
duplicates, the same quarantine keeps unreadable input with its reason. A client that got no answer (the server
died before the commit) posts again and is told the flow id.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
import threading
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO

from medcom_bridge.envelope.vans import read as read_envelope
from medcom_bridge.hub import durable
from medcom_bridge.hub.events import Place
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.runner import Hub
from medcom_bridge.identifiers import gln_ok
from medcom_bridge.xmlsafe import DEFAULT_MAX_BYTES

MAX_BODY = DEFAULT_MAX_BYTES
"""Default limit of a POSTed envelope: MedCom's 100 MB letter, base64 in a VANSEnvelope, with room to spare
(the same limit the spool and the XML parser apply)."""
MEMORY_THRESHOLD = 1024 * 1024
"""A body up to this size stays in memory; a larger one goes to a temporary file while it is received."""
_EAN = re.compile(r"^[0-9]{1,18}$")
_XML_SYNTAX = "xml-syntax"


class IntakeRefused(ValueError):
    """The request cannot become a spool file at all (no sender mailbox, empty, too big, not XML)."""

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


class Body:
    """A request body received within the limit: its size, its SHA-256, and its bytes in a spooled temporary
    file (memory up to `MEMORY_THRESHOLD`, disk beyond). Close it (or use `with`) when done."""

    def __init__(self, file: IO[bytes], size: int, sha256: str) -> None:
        self._file = file
        self.size = size
        self.sha256 = sha256

    @classmethod
    def of(cls, data: bytes) -> Body:
        """A body from bytes already in memory (tests, a caller that has them anyway)."""
        return cls(io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest())  # shares, not copies, data

    def chunks(self, chunk: int = durable.CHUNK) -> Iterator[bytes]:
        self._file.seek(0)
        while piece := self._file.read(chunk):
            yield piece

    def read(self) -> bytes:
        """The whole body as bytes (one copy; the temporary file is not in memory beyond the threshold)."""
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Body:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def check_mailbox(mailbox: str | None) -> str | None:
    """The `mailbox` query parameter, if given, must be a location number: refused before anything is read."""
    if mailbox is not None and not gln_ok(mailbox):
        raise IntakeRefused(
            400,
            "http-mailbox",
            f"query parameter 'mailbox' must be the sender's location number: a 13-digit GLN with a valid "
            f"GS1 check digit, e.g. 5790000121526; got {mailbox[:40]!r}",
        )
    return mailbox


def check_declared_length(content_length: str | None, limit: int) -> None:
    """Refuse a body whose declared Content-Length is over the limit before reading any of it."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise IntakeRefused(
            413, "http-too-large", f"the body has {content_length} bytes; the limit is {limit}"
        )


async def receive_body(
    stream: AsyncIterable[bytes], limit: int = MAX_BODY, *, threshold: int = MEMORY_THRESHOLD
) -> Body:
    """Receive a request body piece by piece, refusing it (413) as soon as it passes `limit` bytes: what was
    read is discarded and the rest is never read. Within the limit: a `Body`, hashed on the way in."""
    file = tempfile.SpooledTemporaryFile(max_size=threshold)  # noqa: SIM115 - the Body returned owns it
    digest, size = hashlib.sha256(), 0
    try:
        async for piece in stream:
            size += len(piece)
            if size > limit:
                raise IntakeRefused(
                    413, "http-too-large", f"the body has more than {limit} bytes; the limit is {limit}"
                )
            digest.update(piece)
            file.write(piece)
    except BaseException:
        file.close()
        raise
    return Body(file, size, digest.hexdigest())


@dataclass(frozen=True, slots=True)
class _Peek:
    """What the envelope header says before the hub reads it properly (sender mailbox, envelope id)."""

    sender: str | None
    envelope_id: str | None
    problem: str
    not_xml: bool


def _peek(data: bytes) -> _Peek:
    reading = read_envelope(data)
    envelope = reading.envelope
    error = next((f for f in reading.findings if f.severity == "error"), None)
    problem = str(error) if error is not None else "no SenderID location number"
    if envelope is None:
        return _Peek(None, None, problem, error is not None and error.rule == _XML_SYNTAX)
    sender = envelope.sender.value if _EAN.match(envelope.sender.value) else None
    return _Peek(sender, envelope.envelope_id, problem, False)


def sender_mailbox(peek: _Peek, mailbox: str | None) -> str:
    """The mailbox the envelope is posted from: `mailbox` if given, else the envelope's SenderID."""
    if mailbox is not None:
        return mailbox
    if peek.sender is not None:
        return peek.sender
    if peek.not_xml:
        raise IntakeRefused(
            400,
            "http-not-xml",
            f"the body is not well-formed XML ({peek.problem}); POST one VANSEnvelope XML document",
        )
    raise IntakeRefused(
        400,
        "http-sender-unknown",
        f"cannot tell which mailbox this comes from ({peek.problem}); send a VANSEnvelope with an EAN "
        "SenderID or add ?mailbox=<EAN>",
    )


def take_envelope(
    hub: Hub,
    lock: threading.Lock,
    body: Body | bytes,
    *,
    mailbox: str | None = None,
    senders: frozenset[str] | None = None,
) -> IntakeResult:
    """Store `body` as intake from `mailbox` (or the envelope's sender) and say what became of it.
    `senders` (an organisation's EANs; None: anyone) limits the mailbox and the envelope's SenderID."""
    if isinstance(body, bytes):
        with Body.of(body) as received:
            return take_envelope(hub, lock, received, mailbox=mailbox, senders=senders)
    mailbox = check_mailbox(mailbox)
    peek = _peek_body(body)
    ean = sender_mailbox(peek, mailbox)
    if senders is not None:
        check_sender(senders, ean, peek.sender)
    # The hub keys intake by content + the envelope id its identifier read, or + nothing when it could not
    # read one; the header peek gives the same id without running the (costly) identification twice.
    with lock:
        ingested = hub.ingest(body.read(), ean, name=f"http-{body.sha256[:32]}.xml")
    if ingested.busy or ingested.flow_id is None or ingested.state is None:
        raise IntakeRefused(503, "http-busy", "the same envelope is being taken right now; post it again")
    outcome = {(True, False): "already-taken", (True, True): "already-taken", (False, True): "duplicate"}.get(
        (ingested.already_taken, ingested.duplicate), "accepted"
    )
    flow_id, state, failed = ingested.flow_id, ingested.state, ingested.failed
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


def check_sender(senders: frozenset[str], mailbox: str, sender_id: str | None) -> None:
    """An organisation posts from its own mailbox, as its own SenderID (issue 11): 403 otherwise."""
    for what, value in (("mailbox", mailbox), ("SenderID", sender_id)):
        if value is not None and value not in senders:
            raise IntakeRefused(
                403,
                "http-sender-forbidden",
                f"the envelope's {what} {value} is not one of your location numbers "
                f"({', '.join(sorted(senders))}); post only envelopes you send",
            )


def _peek_body(body: Body) -> _Peek:
    """Read the header from the whole body; the bytes are dropped again before the hub reads its own copy."""
    data = body.read()
    if not data or data.isspace():
        raise IntakeRefused(400, "http-empty", "the body is empty; POST one VANSEnvelope XML document")
    return _peek(data)

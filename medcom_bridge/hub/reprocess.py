"""Reprocess: an operator sends refused input through the hub again, once, with a new envelope id.

Typical reasons: the register was fixed (the receiver is now registered), a converter bug was fixed, or a
quarantined file that was half-written is now complete. What may be reprocessed:

* a flow in `rejected` (the hub refused it and the sender got a negative receipt) or `quarantined` (the hub
  could not read it) whose original bytes are still stored;
* a regular file in `SPOOL/quarantine/` (by name), read within the spool's size limit. A quarantined link,
  FIFO, socket or device is never opened; a file that became a quarantined flow is reprocessed as that flow.

The reprocessed input is the original VANSEnvelope with a **new EnvelopeIdentifier and SentDateTime** and
nothing else changed: the letter keeps its own ids (OIOXML Letter/Identifier, FHIR MessageHeader.id and
Bundle.id inside the payload). That is MedCom's rule for a resend of an unchanged message
(`oioxml-legacy.md`, VANSEnvelope GOV 032: "Resending an unchanged message = new EnvelopeIdentifier + new
SentDateTime, same MetaInformation/Identifier"; `fhir-carecommunication.md` §8, MR7: a resend keeps
MessageHeader.id; the envelope id is new on every transmission and never reused). The payload is left
byte-for-byte as the sender made it, so what the receiver gets is exactly the sender's letter.

It goes in through the hub's normal door (`Hub.take_in`: identify, dedup, route, convert, deliver), so every
rule applies again; it may be rejected again, which then is a new rejected flow that can itself be reprocessed.
The letter id was seen before (on the refused flow), so reliable messaging would call the reprocess a resend
and answer it with the first (negative) answer. Deliberately, the old flow first hands its letter, receipt
and pairing keys over (`RELEASED_KEYS`): from then on the letter lives in the new flow, a later resend by the
sender is a duplicate of the new flow, and the receiver's receipt correlates with the new flow. The old
flow keeps its envelope and intake keys, so its own file arriving again is still recognised.

Idempotent: each reprocess claims the key `reprocess` = `flow:<old id>` (or `file:<sha256>`) in the same
transaction that makes the new flow, its lineage row and the trace events on both flows. Two clicks, or two
processes at once, make one new flow: the second finds the claim (PostgreSQL: it waits on the old flow's row
lock, then reads the committed claim; a lost insert race rolls back and is done again) and is answered with
the first one's flow. Dying before the commit leaves nothing; the file of a file reprocess leaves quarantine
only after the commit, and a repeat after a crash in between finishes that removal.

The old flow keeps its state: it *was* refused and its sender was told so (the statistics count that), the
state machine has no transition out of a refusal, and the lineage says what became of it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from lxml import etree

from medcom_bridge.envelope.vans import VANS_NS, format_datetime, peek_header
from medcom_bridge.hub import lineage
from medcom_bridge.hub.engine import IN_ATTACHMENT, IN_INVALID, IN_LETTER, IN_UNREADABLE
from medcom_bridge.hub.events import Step
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.runner import ACK_TARGET, ATTACHMENT, Hub
from medcom_bridge.hub.spool import QUARANTINE
from medcom_bridge.hub.store import Note, StoredMessage, Tx, UnknownFlow
from medcom_bridge.privacy import scrub
from medcom_bridge.xmlsafe import XmlError, parse_xml

REPROCESS = "reprocess"
"""The `hub_keys` namespace of reprocess claims: `flow:<old flow id>` or `file:<sha256 of the file>`."""
REPROCESSABLE = frozenset({State.REJECTED, State.QUARANTINED})
ORIGINAL_ROLES = (IN_LETTER, IN_ATTACHMENT, IN_INVALID, IN_UNREADABLE)
"""The inbound messages that make up what the sender sent (not duplicates, late parts or receipts)."""
RELEASED_KEYS = (ACK_TARGET, ATTACHMENT)
RELEASED_PREFIXES = ("letter:",)
"""Keys the old flow hands over to its reprocess (see the module text); intake and envelope keys stay."""
MAX_BULK = 500
"""The most flows one bulk reprocess takes on; more need another request (and a look at why so many)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class Refusal(StrEnum):
    """Why a reprocess was not done; the value is the rule id answered to the operator."""

    UNKNOWN = "reprocess-unknown"
    STATE = "reprocess-state"
    NO_ORIGINAL = "reprocess-no-original"
    NOT_ENVELOPE = "reprocess-not-envelope"
    NOT_REGULAR = "reprocess-not-regular"
    TOO_LARGE = "reprocess-too-large"
    NO_MAILBOX = "reprocess-no-mailbox"


@dataclass(frozen=True, slots=True)
class Refused:
    rule: Refusal
    message: str


@dataclass(frozen=True, slots=True)
class Original:
    """One message the sender sent, as stored (or as read from quarantine): its bytes and sender mailbox."""

    data: bytes | None
    """None when the bytes are gone (retention) or were never read (a refused link, FIFO, oversized file)."""
    mailbox: str | None


@dataclass(frozen=True, slots=True)
class Resend:
    """One input to take again: the original envelope with a new envelope id and send time."""

    data: bytes
    mailbox: str
    envelope_id: str


@dataclass(frozen=True, slots=True)
class Plan:
    resends: tuple[Resend, ...]


@dataclass(frozen=True, slots=True)
class Already:
    """Reprocessed before (a double click, a second operator, a retry): the flow it became."""

    new_flow_id: str


Decision = Plan | Already | Refused


@dataclass(frozen=True, slots=True)
class Reprocessed:
    """What a reprocess request came to: the new flow (also when it was done before: `already`)."""

    old_flow_id: str | None
    new_flow_id: str
    state: str
    envelope_id: str | None
    already: bool = False
    source_file: str | None = None

    def to_json(self) -> dict[str, str | bool | None]:
        return {
            "old_flow_id": self.old_flow_id,
            "source_file": self.source_file,
            "new_flow_id": self.new_flow_id,
            "state": self.state,
            "envelope_id": self.envelope_id,
            "already": self.already,
            "flow": f"/flows/{self.new_flow_id}",
        }


Result = Reprocessed | Refused


# ------------------------------------------------------------------------------------------ the pure core
def decide(
    state: State | None,
    already: str | None,
    originals: Iterable[Original],
    *,
    now: datetime,
    ids: Callable[[], str],
    what: str,
) -> Decision:
    """May `what` (a flow in `state`, or a quarantined file: state None) be reprocessed, and with which
    inputs? A claim found (`already`) answers with that flow, whatever the state now."""
    if already is not None:
        return Already(already)
    if state is not None and state not in REPROCESSABLE:
        allowed = " or ".join(sorted(s.value for s in REPROCESSABLE))
        return Refused(Refusal.STATE, f"{what} is {state.value}; only {allowed} input can be reprocessed")
    resends: list[Resend] = []
    for original in originals:
        if original.data is None:
            return Refused(
                Refusal.NO_ORIGINAL,
                f"{what}: the original bytes are not stored (past retention, or a quarantined entry the hub "
                "never read); reprocess the quarantined file by name if it is a regular file",
            )
        if not original.mailbox:
            return Refused(Refusal.NO_MAILBOX, f"{what}: the sender's mailbox (location number) is unknown")
        envelope_id = ids()
        renewed = renew_envelope(original.data, envelope_id, now)
        if renewed is None:
            return Refused(
                Refusal.NOT_ENVELOPE,
                f"{what} is still not a readable VANSEnvelope, so it cannot be sent again with a new envelope "
                "id; fix the file in quarantine and reprocess it by name",
            )
        resends.append(Resend(renewed, original.mailbox, envelope_id))
    if not resends:
        return Refused(Refusal.NO_ORIGINAL, f"{what} holds no original input to reprocess")
    return Plan(tuple(resends))


def renew_envelope(data: bytes, envelope_id: str, sent: datetime) -> bytes | None:
    """The VANSEnvelope `data` with EnvelopeIdentifier `envelope_id` and SentDateTime `sent`, everything else
    as it was (GOV 032: a resend of an unchanged message); None when `data` is no readable VANSEnvelope."""
    try:
        root = parse_xml(data)
    except XmlError:
        return None
    if root.tag != f"{{{VANS_NS}}}VANSEnvelope":
        return None
    identifier = root.find(f"{{{VANS_NS}}}EnvelopeIdentifier")
    sent_at = root.find(f"{{{VANS_NS}}}SentDateTime")
    if identifier is None or sent_at is None:
        return None
    identifier.text = envelope_id
    sent_at.text = format_datetime(sent.replace(microsecond=0))
    encoding = root.getroottree().docinfo.encoding or "UTF-8"
    written = etree.tostring(root.getroottree(), xml_declaration=True, encoding=encoding)
    return written if isinstance(written, bytes) else written.encode(encoding)


def mailbox_of(reason_text: str, data: bytes) -> str | None:
    """The sender of a quarantined file: the `from:` line of its reason, else the envelope's SenderID."""
    for line in reason_text.splitlines():
        if line.startswith("from:"):
            value = line.removeprefix("from:").strip()
            if value.isdigit():
                return value
    header = peek_header(data)
    return header.sender if header is not None and header.sender.isdigit() else None


# ------------------------------------------------------------------------------------------ the shell
class Reprocessor:
    """Carries out reprocess decisions on a hub: each request one transaction (claim, take in, lineage)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @property
    def _quarantine(self) -> Path:
        return self.hub.spool.root / QUARANTINE

    def flow(self, flow_id: str, actor: str) -> Result:
        """Reprocess one rejected or quarantined flow (idempotent: again, it answers the same new flow)."""
        now = self.hub.clock.now()

        def work(tx: Tx) -> Result:
            try:
                state = State(tx.flow_row(flow_id, lock=True)["state"])  # two at once: the second waits here
            except UnknownFlow:
                return Refused(Refusal.UNKNOWN, f"no flow {flow_id!r}")
            key = f"flow:{flow_id}"
            already = tx.find_key(REPROCESS, key)
            originals = [_original(tx, m) for m in _originals(tx.messages(flow_id))]
            decision = decide(state, already, originals, now=now, ids=self.hub.ids, what=f"flow {flow_id}")
            return self._carry_out(tx, decision, key, flow_id, None, actor, now)

        result = self.hub.store.run(work)
        if isinstance(result, Reprocessed) and not result.already:
            self._drop_quarantined_copies(flow_id)
        return result

    def file(self, name: str, actor: str) -> Result:
        """Reprocess a file in SPOOL/quarantine/ by name: a regular file only, never followed or opened when
        it is a link or special file. Its bytes go in with a new envelope id; it leaves quarantine after the
        commit. A file that is a quarantined flow's original is reprocessed as that flow."""
        if not _NAME.match(name) or name.endswith(".reason.txt"):
            return Refused(Refusal.UNKNOWN, f"{scrub(name)!r} is not the name of a quarantined file")
        path = self._quarantine / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return self._file_gone(name)
        if not stat.S_ISREG(mode):
            return Refused(
                Refusal.NOT_REGULAR,
                f"quarantined {name} is not a regular file (a link, FIFO or device is never opened)",
            )
        read = self._read(path)
        if isinstance(read, Refused):
            return read
        data = read
        reason_path = path.with_name(name + ".reason.txt")
        reason = reason_path.read_text("utf-8", "replace") if reason_path.is_file() else ""
        digest = hashlib.sha256(data).hexdigest()
        now = self.hub.clock.now()

        def work(tx: Tx) -> Result:
            owner = lineage.flow_holding(tx.conn, digest, IN_UNREADABLE, State.QUARANTINED.value)
            if owner is not None:  # the flow it became: reprocess that flow (one claim for both doors)
                tx.flow_row(owner, lock=True)
                key, old = f"flow:{owner}", owner
            else:
                key, old = f"file:{digest}", None
            already = tx.find_key(REPROCESS, key)
            decision = decide(
                None,
                already,
                [Original(data, mailbox_of(reason, data))],
                now=now,
                ids=self.hub.ids,
                what=f"quarantined {name}",
            )
            return self._carry_out(tx, decision, key, old, name, actor, now)

        result = self.hub.store.run(work)
        if isinstance(result, Reprocessed):
            _remove_if_same(path, digest)
            reason_path.unlink(missing_ok=True)
        return result

    def _file_gone(self, name: str) -> Result:
        with self.hub.store.transaction() as tx:
            done = lineage.of_file(tx.conn, name)
            if done is None:
                # the name as asked for: quarantined names are masked, a CPR-shaped one is no file of ours
                return Refused(Refusal.UNKNOWN, f"no quarantined file {scrub(name)!r}")
            state = tx.flow_row(done.new_flow_id)["state"]
        return Reprocessed(
            done.old_flow_id, done.new_flow_id, state, done.envelope_id, already=True, source_file=name
        )

    def _read(self, path: Path) -> bytes | Refused:
        limit = self.hub.spool.max_bytes
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            return Refused(Refusal.NOT_REGULAR, f"quarantined {path.name} cannot be opened: {exc.strerror}")
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped after lstat: still not opened
                return Refused(Refusal.NOT_REGULAR, f"quarantined {path.name} is not a regular file")
            data = handle.read(limit + 1)
        if len(data) > limit:
            return Refused(
                Refusal.TOO_LARGE,
                f"quarantined {path.name} is larger than the spool's limit of {limit} bytes",
            )
        return data

    def _carry_out(
        self,
        tx: Tx,
        decision: Decision,
        key: str,
        old: str | None,
        source_file: str | None,
        actor: str,
        now: datetime,
    ) -> Result:
        if isinstance(decision, Refused):
            return decision
        if isinstance(decision, Already):
            done = next(
                (k for k in lineage.of_flow(tx.conn, decision.new_flow_id) if k.old_flow_id == old), None
            )
            state = tx.flow_row(decision.new_flow_id)["state"]
            envelope_id = done.envelope_id if done is not None else None
            return Reprocessed(old, decision.new_flow_id, state, envelope_id, True, source_file)
        if old is not None:
            tx.release_keys(old, RELEASED_KEYS, RELEASED_PREFIXES)
        made: list[str] = []
        for resend in decision.resends:
            ingested = self.hub.take_in(
                tx, resend.data, resend.mailbox, now, name=f"reprocess-{resend.envelope_id}.xml"
            )
            if ingested.flow_id is not None and ingested.flow_id not in made:
                made.append(ingested.flow_id)
        if not made or old in made:  # pragma: no cover - the keys were handed over: a new flow it is
            raise RuntimeError(f"reprocess of {old or source_file} made no new flow")
        new = made[0]
        first = decision.resends[0]
        # Contested: a concurrent reprocess that committed first makes this transaction roll back and run
        # again, and then it finds that claim and answers with its flow.
        tx.claim_keys([(REPROCESS, key)], new, now, contested={(REPROCESS, key)})
        source = old or f"quarantined file {source_file}"
        for flow_id in made:
            lineage.add(tx.conn, lineage.Link(old, source_file, flow_id, first.envelope_id, actor, now))
            tx.record(
                flow_id,
                now,
                Step.REPROCESS_OF,
                Note(reason=f"reprocess of {source} by {actor}", envelope_id=first.envelope_id),
            )
        if old is not None:
            tx.record(old, now, Step.REPROCESSED, Note(reason=f"reprocessed as {new} by {actor}"))
        state = tx.flow_row(new)["state"]
        return Reprocessed(old, new, state, first.envelope_id, False, source_file)

    def _drop_quarantined_copies(self, flow_id: str) -> None:
        """After a quarantined flow was reprocessed: its original's copy in quarantine/ is done with too."""
        with self.hub.store.transaction() as tx:
            digests = {
                m.payload_sha256
                for m in tx.messages(flow_id)
                if m.direction == "in" and m.role == IN_UNREADABLE
            }
        folder = self._quarantine
        if not digests or not folder.is_dir():
            return
        for entry in os.scandir(folder):
            if entry.name.endswith(".reason.txt") or not entry.is_file(follow_symlinks=False):
                continue
            for digest in digests:
                if _remove_if_same(Path(entry.path), digest):
                    Path(entry.path + ".reason.txt").unlink(missing_ok=True)


def _originals(messages: list[StoredMessage]) -> list[StoredMessage]:
    return [m for m in messages if m.direction == "in" and m.role in ORIGINAL_ROLES]


def _original(tx: Tx, message: StoredMessage) -> Original:
    try:
        data: bytes | None = tx.payload(message.payload_sha256)
    except LookupError:
        data = None
    return Original(data, message.sender_gln)


def _remove_if_same(path: Path, digest: str) -> bool:
    """Remove a quarantined file if it still holds exactly the bytes with `digest` (an operator may have put
    another file under the name meanwhile: that one stays)."""
    try:
        with path.open("rb") as handle:
            same = hashlib.file_digest(handle, "sha256").hexdigest() == digest
    except OSError:
        return False
    if same:
        path.unlink(missing_ok=True)
    return same

"""The hub's imperative shell: take files from the spool, drive flows through the state table, deliver.

`Hub.run_once()` is what `medcom-bridge process` does (and what `serve` repeats): deliver what is due, fire
due timers, take every waiting file, run due conversions, deliver again. Each inbound file is handled in one
transaction (flow state, keys, payload, trace event, outputs) and leaves `out/` only after the commit; each
delivery writes the file first (idempotent, atomic) and then commits "delivered". A crash at any point
therefore repeats at most an idempotent step.

The domain work is plugged in through `medcom_bridge.hub.pipeline` (identify, route, convert, answer). With no
converter plugged in, flows that need conversion wait in `converting`: nothing is faked.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from medcom_bridge.envelope import vans
from medcom_bridge.hub import decide
from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.clock import Clock
from medcom_bridge.hub.dedup import Verdict, classify, envelope_namespace, letter_namespace
from medcom_bridge.hub.engine import (
    IN_ATTACHMENT,
    IN_CORRELATION,
    IN_DUPLICATE,
    IN_INVALID,
    IN_LETTER,
    IN_RECEIPT,
    IN_UNREADABLE,
    OUT_ANSWER,
    OUT_FORWARD,
    OUT_LETTER,
    OUT_NEGATIVE,
    OUT_REPEAT,
    Cause,
    Engine,
    transition,
)
from medcom_bridge.hub.events import Place, ReceiptVerdict, Step, TraceEvent
from medcom_bridge.hub.flow import Event, State
from medcom_bridge.hub.observe import UNOBSERVED, Observer
from medcom_bridge.hub.pipeline import (
    ATTACHMENT_KINDS,
    LETTER_KINDS,
    Answers,
    Converter,
    Inbound,
    Output,
    Part,
    Router,
    Unreadable,
)
from medcom_bridge.hub.pipeline import Identifier as IdentifierProtocol
from medcom_bridge.hub.spool import Gone, Refused, Spool, SpoolFile, intake_key
from medcom_bridge.hub.store import (
    FlowInfo,
    Note,
    Store,
    StoredMessage,
    StoreUnavailable,
    Tx,
    is_transient,
    new_id,
)
from medcom_bridge.privacy import mask_patient, patient_identity

log = logging.getLogger(__name__)

INTAKE = "intake"
ACK_TARGET = "ack-target"
ATTACHMENT = "attachment"
#: Keys two workers may race for: the loser's transaction gives up and is done again (then it sees the
#: winner's flow). Receipt-correlation keys keep their first owner instead.
CONTESTED = frozenset(
    {INTAKE, ATTACHMENT, envelope_namespace()}
    | {letter_namespace(k) for k in LETTER_KINDS | ATTACHMENT_KINDS}
)
#: A client waits for HTTP intake: a short outage is retried a few times, a longer one is a 503 at once.
INGEST_ATTEMPTS = 4
#: Safety bound on the batches of one step in one round (each batch makes progress or ends the step).
MAX_BATCHES = 10_000

_SAFE = re.compile(r"[^A-Za-z0-9._-]")

#: Files, conversions, deliveries or timers per transaction (group commit). Each commit with
#: `synchronous=FULL` costs an fsync, so the durable cost is shared by the batch; a larger batch mostly adds
#: latency for the first file of a burst and work repeated after a crash.
BATCH = 64
#: At most this many payload bytes are held by one delivery batch (a batch has at least one output).
BATCH_BYTES = 64 * 1024 * 1024


@dataclass
class Summary:
    """What one run did; printed by the CLI, asserted by tests."""

    taken: int = 0
    already_taken: int = 0
    quarantined: int = 0
    duplicates: int = 0
    delivered: int = 0
    delivery_failures: int = 0
    timers_fired: int = 0
    converted: int = 0
    waiting_for_converter: int = 0
    errors: list[str] = field(default_factory=list)
    store_unavailable: bool = False


@dataclass(frozen=True, slots=True)
class Source:
    """Where an inbound message came from: a spool file in `ean`'s out/, or an HTTP body posted for `ean`."""

    ean: str
    name: str
    lock: str
    """What two workers taking the same input lock on (advisory, until their transaction ends)."""
    file: SpoolFile | None = None
    """The spool file, removed from out/ after the commit; None for HTTP intake."""

    @classmethod
    def of(cls, file: SpoolFile) -> Source:
        return cls(file.ean, file.name, _lock_name(file), file)

    @property
    def where(self) -> str:
        return str(self.file.path) if self.file is not None else f"HTTP intake for {self.ean} ({self.name})"


@dataclass(frozen=True, slots=True)
class Ingested:
    """What became of one HTTP-posted envelope: its flow, and whether it was the same input again or a
    duplicate letter (reliable messaging)."""

    flow_id: str | None
    duplicate: bool = False
    already_taken: bool = False
    busy: bool = False
    """Another worker is taking the same body right now: ask again."""
    state: State | None = None
    failed: TraceEvent | None = None
    """The flow's latest failed event (why it was refused), if any."""


@dataclass(frozen=True, slots=True)
class _Taken:
    """A waiting file or posted body, read and identified (outside any transaction)."""

    file: Source
    data: bytes
    inbound: Inbound | None
    problem: Unreadable | None
    key: str


class Hub:
    def __init__(
        self,
        spool: Spool,
        store: Store,
        clock: Clock,
        identifier: IdentifierProtocol,
        router: Router,
        *,
        converter: Converter | None = None,
        answers: Answers | None = None,
        ids: Callable[[], str] = new_id,
        batch: int = BATCH,
    ) -> None:
        self.spool = spool
        self.store = store
        self.clock = clock
        self.identifier = identifier
        self.router = router
        self.converter = converter
        self.answers = answers
        self.ids = ids
        self.batch = max(1, batch)
        self.on_taken: Callable[[int], None] | None = None
        """Told how many spool files each batch handled (the CLI's progress bar); None: nobody listens."""
        self.engine = Engine(spool, answers, ids)
        self.observer: Observer = UNOBSERVED
        self._closers: list[Callable[[], None]] = []
        self._skipped_reported: set[tuple[str, str]] = set()

    def observe(self, observer: Observer) -> None:
        """Report to `observer` (the metrics): committed events through the store, durations from here."""
        self.observer = observer
        self.store.listeners.append(observer.committed)

    def on_close(self, release: Callable[[], None]) -> None:
        self._closers.append(release)

    def close(self) -> None:
        """Close the store and let go of what the hub holds (the SQLite runner lock)."""
        self.store.close()
        while self._closers:
            self._closers.pop()()

    # -- the loop ----------------------------------------------------------------------------------------------
    def run_once(self) -> Summary:
        """One round of every step. The database being unreachable through all retries ends the round early
        (recorded in `Summary.errors`); nothing is decided from a failed database call."""
        summary = Summary()
        try:
            self.deliver_pending(summary)
            self.fire_timers(summary)
            self.take_all(self.spool.waiting(), summary)
            self.report_skipped()
            self.convert_due(summary)
            self.deliver_pending(summary)
        except StoreUnavailable as exc:
            log.error("store unavailable: %s", exc)
            summary.errors.append(f"store unavailable: {exc}")
            summary.store_unavailable = True
        return summary

    def report_skipped(self) -> None:
        """Log each name the hub does not take (`.tmp`, hidden, `.XML`, a dangling link ...) once it has stayed
        an hour in an out/ folder; once per name, again only if it comes back after it was gone."""
        found = {(e.ean, e.name): e for e in self.spool.skipped(self.clock.now())}
        for key in found.keys() - self._skipped_reported:
            log.warning("spool: %s", found[key].describe())
        self._skipped_reported = set(found)

    def fire_timers(self, summary: Summary) -> None:
        """Fire due timers with their actions (e.g. S1.A3: forward the lone XBIN01), a batch per transaction.
        Each batch takes only timers no other worker holds, and each timer fires once (claimed by update)."""
        now = self.clock.now()
        for _ in range(MAX_BATCHES):
            fired = self.store.run(lambda tx: self._fire_batch(tx, now))
            if fired is None:
                return
            summary.timers_fired += fired

    def _fire_batch(self, tx: Tx, now: datetime) -> int | None:
        due = tx.claim_due_timers(now, limit=self.batch)
        if not due:
            return None
        fired = 0
        for timer in due:
            fired += self.engine.fire(tx, timer, now)
        return fired

    # -- intake ------------------------------------------------------------------------------------------------
    def take_all(self, files: list[SpoolFile], summary: Summary) -> None:
        """Take waiting files, up to `batch` per transaction (group commit: one durable commit and one folder
        fsync per batch instead of per file). A file leaves out/ only after the commit that holds its effects."""
        for chunk in _chunks_by_bytes(files, self.batch, BATCH_BYTES):
            if len(chunk) == 1:
                self.take(chunk[0], summary)
            else:
                self._take_batch(chunk, summary)
            if self.on_taken is not None:
                self.on_taken(len(chunk))

    def _read(self, file: SpoolFile, summary: Summary) -> _Taken | None:
        """Read and identify one waiting file (pure work, outside any transaction); None when it is gone
        (another worker took it), was refused by the spool (a link, FIFO, device or an oversized file: moved
        to quarantine unread and recorded as a flow), or cannot be read now (kept for the next round)."""
        now = self.clock.now()
        try:
            reading = self.spool.load(file, now=now)
        except OSError as exc:  # unreadable now: try again next run, never lose it silently
            summary.errors.append(f"{file.path}: cannot read: {exc.strerror or type(exc).__name__}")
            return None
        if isinstance(reading, Gone):
            return None  # taken by another worker between listing and reading: not an error
        if isinstance(reading, Refused):
            self.store.run(lambda tx: self._refused(tx, reading, now))
            summary.quarantined += 1
            return None
        return self._identify(Source.of(file), reading.data)

    def _identify(self, source: Source, data: bytes) -> _Taken:
        """Identify once: the identification travels with the bytes to every later step."""
        try:
            inbound: Inbound | None = self.identifier.identify(data, mailbox=source.ean)
            problem = None
        except Unreadable as exc:
            inbound, problem = None, exc
        return _Taken(
            source, data, inbound, problem, intake_key(data, inbound.envelope_id if inbound else None)
        )

    # -- the service door for HTTP intake ---------------------------------------------------------------------
    def ingest(
        self, data: bytes, mailbox: str, *, name: str = "http", attempts: int = INGEST_ATTEMPTS
    ) -> Ingested:
        """Take one posted VANSEnvelope from `mailbox` exactly as a spool file from its out/ would be taken,
        in one transaction, without writing it anywhere first. Idempotent: the same body again is recognised
        by its intake key (content + envelope id) and answered with the flow it made the first time."""
        taken = self._identify(Source(mailbox, name, f"http:{intake_key(data, None)}"), data)
        now = self.clock.now()
        summary = Summary()

        def work(tx: Tx) -> Ingested:
            if not tx.try_lock(taken.file.lock):
                return Ingested(None, busy=True)
            return self._take_in_one(tx, taken, now)

        try:
            return self.store.run(work, attempts=attempts)
        except StoreUnavailable:
            raise  # nothing stored: the client is told to come back (503), never a negative receipt
        except Exception as exc:  # a hub bug: quarantine the body as hub-error, as for a spool file
            log.exception("hub error on HTTP intake for %s; quarantining it", mailbox)
            summary.errors.append(f"{taken.file.where}: hub error: {type(exc).__name__}")
            hub_error = Unreadable(
                RejectCause.HUB_ERROR.value,
                f"the hub failed on this input ({type(exc).__name__}); see the log",
            )
            self.store.run(lambda tx: self._quarantine_hub_error(tx, taken, hub_error, now))
            return self.store.run(lambda tx: _ingested(tx, tx.find_key(INTAKE, taken.key), False, False))

    def take_in(self, tx: Tx, data: bytes, mailbox: str, now: datetime, *, name: str) -> Ingested:
        """Take `data` from `mailbox` inside the caller's transaction by the same rules as `ingest` (identify,
        dedup, route, reject, quarantine): a reprocess, whose idempotency claim and lineage must commit
        together with the new flow or not at all."""
        taken = self._identify(Source(mailbox, name, f"reprocess:{intake_key(data, None)}"), data)
        return self._take_in_one(tx, taken, now)

    def _take_in_one(self, tx: Tx, taken: _Taken, now: datetime) -> Ingested:
        """One input taken in the caller's transaction, answered as `ingest` answers."""
        done = Summary()
        duplicate = self._take_in(tx, taken, now, done)
        return _ingested(tx, tx.find_key(INTAKE, taken.key), duplicate, bool(done.already_taken))

    def _refused(self, tx: Tx, refused: Refused, now: datetime) -> None:
        """A spool entry the hub would not read: a quarantined flow with the reason, so operators see it."""
        flow = tx.create_flow(now, FlowInfo(sender_gln=refused.file.ean, receipt_expected=False))
        cause = Cause(
            None,
            refused.head,
            refused.file.ean,
            "",
            refused.file.name,
            reason=refused.reason,
            reject=RejectCause.UNREADABLE,
            quarantined=True,
        )
        note = Note(reason=refused.reason, cause=refused.cause.value)
        self.engine.transition(tx, flow.id, Event.INPUT_UNREADABLE, now, cause, note)

    def _take_batch(self, files: list[SpoolFile], summary: Summary) -> None:
        ready = [taken for file in files if (taken := self._read(file, summary)) is not None]
        now = self.clock.now()

        def work(tx: Tx) -> tuple[Summary, list[_Taken]]:
            done, kept = Summary(), []
            for taken in ready:
                if not tx.try_lock(taken.file.lock):
                    continue  # another worker holds this file right now; it decides, we skip it
                done.duplicates += self._take_in(tx, taken, now, done)
                kept.append(taken)
            return done, kept

        try:
            done, kept = self.store.run(work)
        except StoreUnavailable:
            raise
        except Exception:
            # Nothing of the batch was committed. Take its files one at a time, so that a file that makes the
            # hub fail is quarantined as `hub-error` on its own and the others go through (lesson 15).
            log.warning("a batch of %d files failed; taking them one at a time", len(ready), exc_info=True)
            for taken in ready:
                self._take_one(taken, summary)
            return
        with self.spool.deferred_sync():  # after the commit: one folder fsync per mailbox for the whole batch
            for taken in kept:
                if taken.file.file is not None:
                    self.spool.taken(taken.file.file)
        summary.taken += len(kept)
        summary.duplicates += done.duplicates
        summary.already_taken += done.already_taken
        summary.quarantined += done.quarantined

    def take(self, file: SpoolFile, summary: Summary) -> None:
        """Handle one waiting file in one transaction; remove it from out/ only after the commit."""
        taken = self._read(file, summary)
        if taken is not None:
            self._take_one(taken, summary)

    def _take_one(self, taken: _Taken, summary: Summary) -> None:
        now = self.clock.now()

        def work(tx: Tx) -> Summary | None:
            if not tx.try_lock(taken.file.lock):
                return None
            done = Summary()
            done.duplicates += self._take_in(tx, taken, now, done)
            return done

        try:
            done = self.store.run(work)
        except StoreUnavailable:
            raise  # the file stays in out/: nothing was decided about it
        except Exception as exc:  # a hub bug must not make a poison file that is re-read forever (lesson 15)
            log.exception("hub error on %s; quarantining it", taken.file.name)
            summary.errors.append(f"{taken.file.where}: hub error: {type(exc).__name__}")
            hub_error = Unreadable(
                RejectCause.HUB_ERROR.value,
                f"the hub failed on this file ({type(exc).__name__}); see the log",
            )
            done = self.store.run(lambda tx: self._quarantine_hub_error(tx, taken, hub_error, now))
        if done is None:
            return  # another worker is taking it
        if taken.file.file is not None:
            self.spool.taken(taken.file.file)
        summary.taken += 1
        summary.duplicates += done.duplicates
        summary.already_taken += done.already_taken
        summary.quarantined += done.quarantined

    def _quarantine_hub_error(self, tx: Tx, taken: _Taken, problem: Unreadable, now: datetime) -> Summary:
        done = Summary(quarantined=1)
        owner = tx.find_key(INTAKE, taken.key)
        if owner is None:
            self._unreadable(tx, taken.file, taken.data, problem, taken.key, now)
        return done

    def _take_in(self, tx: Tx, taken: _Taken, now: datetime, summary: Summary) -> bool:
        """Decide one identified file inside `tx`; True when it was a duplicate."""
        file, data, inbound, problem, key = taken.file, taken.data, taken.inbound, taken.problem, taken.key
        wanted = [(INTAKE, key)]
        if inbound is not None:  # the dedup keys too, in the same query
            wanted.append((envelope_namespace(), inbound.envelope_id))
            if inbound.letter_id:
                wanted.append((letter_namespace(inbound.kind), inbound.letter_id))
            if inbound.kind in decide.PAIRING_KINDS:
                wanted += [(ATTACHMENT, _pair_key(inbound, o)) for o in inbound.attachment_ids]
        found = tx.find_keys(wanted)
        owner = found.get((INTAKE, key))
        if owner is not None:
            note = Note(reason=f"file {file.name} taken again (same content and envelope id)")
            tx.record(owner, now, Step.DUPLICATE, note)
            summary.already_taken += 1
            return False
        if inbound is None:
            assert problem is not None
            self._unreadable(tx, file, data, problem, key, now)
            summary.quarantined += 1
            return False
        return self._inbound(tx, file, data, inbound, key, now, found)

    def _unreadable(
        self, tx: Tx, file: Source, data: bytes, problem: Unreadable, key: str, now: datetime
    ) -> None:
        flow = tx.create_flow(now, FlowInfo(sender_gln=file.ean, receipt_expected=False))
        tx.claim_keys([(INTAKE, key)], flow.id, now, contested={(INTAKE, key)})
        message_id = self.engine.store_in(tx, flow.id, data, now, role=IN_UNREADABLE, sender=file.ean)
        context = Cause(
            None,
            data,
            file.ean,
            message_id,
            file.name,
            reason=f"{problem.rule}: {problem.message}",
            reject=RejectCause.HUB_ERROR
            if problem.rule == RejectCause.HUB_ERROR.value
            else RejectCause.UNREADABLE,
        )
        self.engine.transition(
            tx, flow.id, Event.INPUT_UNREADABLE, now, context, Note(reason=context.reason, cause=problem.rule)
        )

    def _inbound(
        self,
        tx: Tx,
        file: Source,
        data: bytes,
        inbound: Inbound,
        key: str,
        now: datetime,
        found: dict[tuple[str, str], str],
    ) -> bool:
        """Route one identified message; returns True when it was a duplicate."""
        verdict, owner = self._dedup(inbound, found)
        if verdict.duplicate and owner is not None:
            message_id = self.engine.store_in(tx, owner, data, now, role=IN_DUPLICATE, inbound=inbound)
            tx.claim_keys([(INTAKE, key)], owner, now, message_id, contested={(INTAKE, key)})
            context = Cause(inbound, data, file.ean, message_id, file.name)
            note = _note(inbound, reason=f"{verdict.value}: letter id seen before", cause=verdict.value)
            self.engine.transition(tx, owner, Event.DUPLICATE, now, context, note)  # allowed in every state
            return True
        if inbound.is_receipt:
            self._receipt(tx, file, data, inbound, key, now, found)
            return False
        route = self.router.route(inbound)
        partner_id = self._partner(inbound, found)
        partner = tx.flow(partner_id) if partner_id is not None else None
        outcome = decide.letter(inbound, verdict, route, partner)
        event = outcome.event
        flow_id = partner_id if decide.joins_partner(outcome, partner) else None
        expects = decide.expects_receipt(inbound, route)
        if flow_id is None:
            flow_id = tx.create_flow(now, _info(replace(inbound, receipt_requested=expects))).id
        elif inbound.kind in decide.PAIRED_LETTER_KINDS and inbound.valid:
            # The flow began with its XBIN01: from now on it is known by the letter (ids, receipt request).
            tx.update_info(
                flow_id,
                letter_id=inbound.letter_id,
                envelope_id=inbound.envelope_id,
                kind=inbound.kind,
                receipt_expected=expects,
            )
        message_id = self.engine.store_in(
            tx, flow_id, data, now, role=_part_role(inbound, event), inbound=inbound
        )
        self._claim(tx, flow_id, inbound, key, message_id, now, found)
        context = Cause(
            inbound,
            data,
            file.ean,
            message_id,
            file.name,
            reason=outcome.reason,
            reject=outcome.cause,
            route=outcome.route,
        )
        note = _note(inbound, reason=outcome.reason, cause=outcome.trace_cause)
        self.engine.transition(tx, flow_id, event, now, context, note)
        return False

    def _dedup(self, inbound: Inbound, found: dict[tuple[str, str], str]) -> tuple[Verdict, str | None]:
        envelope_owner = found.get((envelope_namespace(), inbound.envelope_id))
        letter_owner = (
            found.get((letter_namespace(inbound.kind), inbound.letter_id)) if inbound.letter_id else None
        )
        return classify(envelope_owner is not None, letter_owner is not None), letter_owner

    def _partner(self, inbound: Inbound, found: dict[tuple[str, str], str]) -> str | None:
        if inbound.kind not in decide.PAIRING_KINDS:
            return None
        for object_id in inbound.attachment_ids:
            owner = found.get((ATTACHMENT, _pair_key(inbound, object_id)))
            if owner is not None:
                return owner
        return None

    def _claim(
        self,
        tx: Tx,
        flow_id: str,
        inbound: Inbound,
        key: str,
        message_id: str,
        now: datetime,
        found: dict[tuple[str, str], str],
    ) -> None:
        """Claim the message's keys for `flow_id`. Those it was decided on as free must be won: if another
        worker committed one meanwhile, this transaction gives up (`ClaimLost`) and is done again."""
        claims = [(INTAKE, key), (envelope_namespace(), inbound.envelope_id)]
        if inbound.letter_id:
            claims.append((letter_namespace(inbound.kind), inbound.letter_id))
            # The receiver's receipt names this letter (and, in XCTL01, perhaps only the envelope).
            claims.append((ACK_TARGET, f"{inbound.receiver_gln}:L:{inbound.letter_id}"))
        if inbound.message_envelope_id:
            claims.append((ACK_TARGET, f"{inbound.receiver_gln}:E:{inbound.message_envelope_id}"))
        for object_id in inbound.attachment_ids:
            claims.append((ATTACHMENT, _pair_key(inbound, object_id)))
        contested = {c for c in claims if c[0] in CONTESTED and c not in found}
        tx.claim_keys(claims, flow_id, now, message_id, contested=contested)

    # -- receipts ------------------------------------------------------------------------------------------------
    def _receipt(
        self,
        tx: Tx,
        file: Source,
        data: bytes,
        inbound: Inbound,
        key: str,
        now: datetime,
        found: dict[tuple[str, str], str],
    ) -> None:
        flow_id = self._answered_flow(tx, inbound)
        flow = tx.flow(flow_id) if flow_id else None
        said = inbound.receipt_text
        if said and flow is not None:
            said = mask_patient(said, _letter_patient(tx, flow.id))
        note = _note(inbound, cause=inbound.receipt_code, receipt=inbound.receipt, reason=said)
        path = decide.receipt_path(flow)
        if flow is None or path == decide.ReceiptPath.ORPHAN:
            # No correlation left (or none ever): forwarded unconverted in a flow of its own (§7).
            orphan = tx.create_flow(now, _info(inbound))
            message_id = self.engine.store_in(tx, orphan.id, data, now, role=IN_RECEIPT, inbound=inbound)
            self._claim(tx, orphan.id, inbound, key, message_id, now, found)
            context = Cause(inbound, data, file.ean, message_id, file.name)
            self.engine.transition(tx, orphan.id, Event.PASS_THROUGH, now, context, note)
            return
        message_id = self.engine.store_in(tx, flow.id, data, now, role=IN_RECEIPT, inbound=inbound)
        self._claim(tx, flow.id, inbound, key, message_id, now, found)
        context = Cause(inbound, data, file.ean, message_id, file.name)
        if path == decide.ReceiptPath.FORWARD:
            self.engine.transition(tx, flow.id, Event.RECEIPT_FORWARDED, now, context, note)
            return
        if path == decide.ReceiptPath.PASS_THROUGH:
            event = decide.receipt_event(inbound.receipt)
            answer = Output(
                inbound.receiver_gln, data, inbound.kind, inbound.envelope_id, inbound.letter_id, OUT_ANSWER
            )
            self.engine.transition(tx, flow.id, event, now, context.with_answers((answer,)), note)
            return
        if self.converter is None:
            self.engine.transition(
                tx,
                flow.id,
                Event.RECEIPT_PARTIAL,
                now,
                context,
                _note(inbound, reason="no converter plugged in"),
            )
            return
        stored = tx.messages(flow.id)
        receipts = [
            Part(_inbound_of(m), tx.payload(m.payload_sha256)) for m in stored if m.role == IN_RECEIPT
        ]
        records = [m for m in stored if m.role == IN_CORRELATION]
        outcome = self.converter.answer(
            flow.id,
            _with_known(receipts, inbound, data),
            tx.correlations(flow_id=flow.id),
            now=now,
            new_id=self.ids,
            record=tx.payload(records[-1].payload_sha256) if records else None,
        )
        event = decide.receipt_event(outcome.verdict, outcome.complete)
        self.engine.transition(tx, flow.id, event, now, context.with_answers(outcome.outputs), note)

    def _answered_flow(self, tx: Tx, inbound: Inbound) -> str | None:
        for kind, value in (("L", inbound.acknowledges), ("E", inbound.acknowledges_envelope)):
            if value:
                owner = tx.find_key(ACK_TARGET, f"{inbound.sender_gln}:{kind}:{value}")
                if owner is not None:
                    return owner
        return None

    # -- conversion --------------------------------------------------------------------------------------------
    def convert_due(self, summary: Summary) -> None:
        """Convert flows in `converting`, a batch per transaction. Each batch locks only flows no other worker
        holds (SKIP LOCKED), so several workers convert different flows side by side."""
        if self.converter is None:
            with self.store.transaction() as tx:
                summary.waiting_for_converter += len(tx.find_flows(state=State.CONVERTING.value))
            return
        for _ in range(MAX_BATCHES):
            converted = self.store.run(self._convert_batch)
            if converted is None:
                return
            summary.converted += converted

    def _convert_batch(self, tx: Tx) -> int | None:
        now = self.clock.now()
        chunk = tx.claim_flows(State.CONVERTING.value, limit=self.batch)
        if not chunk:
            return None
        tx.preload(chunk)
        done = Summary()
        for flow_id in chunk:
            try:
                with tx.conn.begin_nested():
                    self._convert(tx, flow_id, now, done)
            except Exception as exc:
                if is_transient(exc):
                    raise
                # A converter bug must not leave the flow in `converting` for every worker to fail on again.
                log.exception("hub error converting flow %s", flow_id)
                tx.forget(flow_id)
                reason = f"conversion failed: the hub failed on this flow ({type(exc).__name__}); see the log"
                first = next(m for m in tx.messages(flow_id) if m.direction == "in")
                cause = Cause(None, tx.payload(first.payload_sha256), first.sender_gln or "", first.id, "")
                cause = replace(cause, reason=reason, reject=RejectCause.CONVERSION)
                note = Note(reason=reason, cause=RejectCause.HUB_ERROR.value)
                self.engine.transition(tx, flow_id, Event.CONVERSION_FAILED, now, cause, note)
        return done.converted

    def _convert(self, tx: Tx, flow_id: str, now: datetime, summary: Summary) -> None:
        assert self.converter is not None
        if tx.flow(flow_id).state is not State.CONVERTING:
            return
        messages = tx.messages(flow_id)
        parts = [
            Part(_inbound_of(m), tx.payload(m.payload_sha256))
            for m in messages
            if m.direction == "in" and m.role in (IN_LETTER, IN_ATTACHMENT)
        ]
        route = tx.flow(flow_id).route
        started = time.perf_counter()
        outcome = self.converter.convert(flow_id, parts, now=now, new_id=self.ids, route=route)
        self.observer.conversion(route, time.perf_counter() - started)
        first = next((m for m in messages if m.role == IN_LETTER), messages[0])
        context = Cause(None, tx.payload(first.payload_sha256), first.sender_gln or "", first.id, "")
        if not outcome.ok:
            errors = [str(f) for f in outcome.findings if f.severity == "error"] or ["no output"]
            reason = f"conversion failed: {errors[0]}"
            context = replace(context, reason=reason, reject=RejectCause.CONVERSION)
            note = Note(reason=reason, cause=RejectCause.CONVERSION.value)
            self.engine.transition(tx, flow_id, Event.CONVERSION_FAILED, now, context, note)
            return
        claims: list[tuple[str, str]] = []
        for output in outcome.outputs:
            self.engine.store_out(tx, flow_id, output, now, role=OUT_LETTER)
            if output.letter_id:
                claims.append((ACK_TARGET, f"{output.receiver_gln}:L:{output.letter_id}"))
            claims.append((ACK_TARGET, f"{output.receiver_gln}:E:{output.envelope_id}"))
        tx.claim_keys(claims, flow_id, now)
        for correlation in outcome.correlations:
            tx.add_correlation(correlation, now)
        if outcome.record is not None:
            self.engine.store_in(tx, flow_id, outcome.record, now, role=IN_CORRELATION)
        if outcome.bundle_id:
            tx.update_info(flow_id, bundle_id=outcome.bundle_id)
        self.engine.transition(tx, flow_id, Event.CONVERTED, now, context, Note(message_id=outcome.bundle_id))
        summary.converted += 1

    # -- delivery ----------------------------------------------------------------------------------------------
    def deliver_pending(self, summary: Summary) -> None:
        """Deliver undelivered outputs a batch at a time, bounded in count and bytes. The batch's rows are
        locked for this worker (SKIP LOCKED: another worker delivers other outputs, never the same file twice);
        every file is written (each fsynced before its rename), each receiving folder fsynced once, and only
        then is "delivered" committed in the same transaction. A crash before that commit delivers the same
        bytes again under the same name: a no-op."""
        failed: set[str] = set()
        for _ in range(MAX_BATCHES):
            done = self.store.run(lambda tx: self._deliver_batch(tx, frozenset(failed)))
            if done is None:
                return
            delivered, failures = done
            summary.delivered += delivered
            summary.delivery_failures += len(failures)
            failed.update(failures)  # retried next round, not in a loop now

    def _deliver_batch(self, tx: Tx, failed: frozenset[str]) -> tuple[int, list[str]] | None:
        chunk = tx.claim_pending_outputs(limit=self.batch, max_bytes=BATCH_BYTES, exclude=failed)
        if not chunk:
            return None
        payloads = tx.payloads([m.payload_sha256 for m in chunk])
        written: list[tuple[StoredMessage, str]] = []
        failures: list[tuple[StoredMessage, str]] = []
        with self.spool.deferred_sync():
            for message in chunk:
                name, problem = self._write(message, payloads[message.payload_sha256])
                if name is not None:
                    written.append((message, name))
                else:
                    failures.append((message, problem or "spool-write"))
        now = self.clock.now()
        tx.preload(sorted({message.flow_id for message, _ in written + failures}))
        for message, name in written:
            tx.mark_delivered(message.id, now, name)
            self._after_delivery(tx, message.flow_id, message.role, message.kind, message.envelope_id, now)
        for message, problem in failures:
            note = Note(reason=f"spool-write: {problem}", cause="spool-write", failure=Place.NETWORK)
            if tx.flow(message.flow_id).state is State.DELIVERING:
                transition(tx, message.flow_id, Event.DELIVERY_FAILED, now, note)
            else:
                tx.record(message.flow_id, now, Step.DELIVERY_FAILED, note)
        return len(written), [message.id for message, _ in failures]

    def _write(self, message: StoredMessage, data: bytes) -> tuple[str | None, str | None]:
        """Put one output into its receiver's in/: its file name, or None and why it failed."""
        receiver = message.receiver_gln or ""
        name = _file_name(message.envelope_id, message.id)
        started = time.perf_counter()
        try:
            try:
                self.spool.deliver(receiver, name, data)
            except FileExistsError:  # another message owns that name: fall back to our own id
                name = _file_name(None, message.id)
                self.spool.deliver(receiver, name, data)
        except (OSError, ValueError) as exc:
            self.observer.delivery(time.perf_counter() - started, ok=False)
            return None, str(exc)
        self.observer.delivery(time.perf_counter() - started, ok=True)
        return name, None

    def _after_delivery(
        self, tx: Tx, flow_id: str, role: str, kind: str | None, envelope_id: str | None, now: datetime
    ) -> None:
        flow = tx.flow(flow_id)
        note = Note(envelope_id=envelope_id, message_type=kind)
        still_pending = any(m.direction == "out" and m.delivered_at is None for m in tx.messages(flow_id))
        expected = bool(tx.flow_row(flow_id)["receipt_expected"])
        event = decide.delivery_event(flow, still_pending=still_pending, receipt_expected=expected)
        if event is not None:
            transition(tx, flow_id, event, now, note)
            return
        step = {
            OUT_FORWARD: Step.FORWARDED_UNCONVERTED,
            OUT_ANSWER: Step.RECEIPT_SENT,
            OUT_NEGATIVE: Step.NEGATIVE_RECEIPT_SENT,
            OUT_REPEAT: Step.RECEIPT_SENT,
        }.get(role, Step.DELIVERED)
        tx.record(flow_id, now, step, note)


def _ingested(tx: Tx, flow_id: str | None, duplicate: bool, already_taken: bool) -> Ingested:
    if flow_id is None:
        return Ingested(None)
    state = State(tx.flow_row(flow_id)["state"])
    failed = next((e for e in reversed(tx.events(flow_id)) if e.failed), None)
    return Ingested(flow_id, duplicate, already_taken, state=state, failed=failed)


def _chunks_by_bytes(files: list[SpoolFile], count: int, size: int) -> Iterator[list[SpoolFile]]:
    """Batches of at most `count` files and `size` bytes (a larger file is a batch of its own), so a batch
    of large letters never holds more than one batch's worth of bytes in memory."""
    chunk: list[SpoolFile] = []
    total = 0
    for file in files:
        try:
            length = file.path.lstat().st_size
        except OSError:
            length = 0  # gone, or not ours to measure: the read decides
        if chunk and (len(chunk) >= count or total + length > size):
            yield chunk
            chunk, total = [], 0
        chunk.append(file)
        total += length
    if chunk:
        yield chunk


def _lock_name(file: SpoolFile) -> str:
    """The name two workers taking the same spool file lock on: the file's path. (Advisory locks are per
    database, not per schema; machines that mount the shared spool at different paths do not share this
    lock, and then the intake key's claim alone keeps the file from being taken twice.)"""
    return f"spool:{file.path}"


def _pair_key(inbound: Inbound, object_id: str) -> str:
    return f"{inbound.sender_gln}:{inbound.receiver_gln}:{object_id.replace('-', '').lower()}"


def _part_role(inbound: Inbound, event: Event) -> str:
    if not inbound.valid or event in (Event.INPUT_INVALID, Event.ROUTE_FAILED):
        return IN_INVALID
    return IN_ATTACHMENT if inbound.kind in ATTACHMENT_KINDS else IN_LETTER


def _info(inbound: Inbound) -> FlowInfo:
    fhir = inbound.kind in ("carecommunication", "acknowledgement")
    return FlowInfo(
        sender_gln=inbound.sender_gln,
        receiver_gln=inbound.receiver_gln,
        letter_id=inbound.letter_id,
        envelope_id=inbound.envelope_id,
        bundle_id=inbound.message_envelope_id if fhir else None,
        kind=inbound.kind,
        receipt_expected=inbound.receipt_requested and not inbound.is_receipt,
    )


def _letter_patient(tx: Tx, flow_id: str) -> frozenset[str]:
    """The names and identifiers of the patient of the flow's letter (as received and as delivered): a
    receiver's refusal text quotes them freely, the trace keeps it with them masked (`privacy.mask_patient`)."""
    found: set[str] = set()
    for message in tx.messages(flow_id):
        if message.role not in (IN_LETTER, OUT_LETTER):
            continue
        data = tx.payload(message.payload_sha256)
        found |= patient_identity(vans.read(data).payload or data)
    return frozenset(found)


def _note(
    inbound: Inbound,
    *,
    reason: str | None = None,
    cause: str | None = None,
    receipt: ReceiptVerdict | None = None,
) -> Note:
    return Note(
        reason=reason,
        cause=cause,
        receipt=receipt,
        message_id=inbound.letter_id,
        envelope_id=inbound.envelope_id,
        orig_message_id=inbound.acknowledges,
        message_type=inbound.kind,
        message_version=inbound.version,
    )


def _inbound_of(message: StoredMessage) -> Inbound:
    """A stored message as the converter sees it (ids only; the converter re-reads the bytes)."""
    return Inbound(
        kind=message.kind or "",
        sender_gln=message.sender_gln or "",
        receiver_gln=message.receiver_gln or "",
        envelope_id=message.envelope_id or "",
        letter_id=message.letter_id,
    )


def _with_known(receipts: list[Part], inbound: Inbound, data: bytes) -> list[Part]:
    """The stored receipts, with the one just taken carrying its full identification."""
    return [p for p in receipts if p.data != data] + [Part(inbound, data)]


def _file_name(envelope_id: str | None, message_id: str) -> str:
    base = _SAFE.sub("_", envelope_id)[:120] if envelope_id else f"hub-{message_id}"
    return f"{base}.xml"

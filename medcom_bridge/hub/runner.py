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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

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
    Cause,
    Engine,
    transition,
)
from medcom_bridge.hub.events import Place, ReceiptVerdict, Step
from medcom_bridge.hub.flow import Event, State
from medcom_bridge.hub.pipeline import (
    ATTACHMENT_KINDS,
    Answers,
    Converter,
    Inbound,
    Output,
    Part,
    Router,
    Unreadable,
)
from medcom_bridge.hub.pipeline import Identifier as IdentifierProtocol
from medcom_bridge.hub.spool import Spool, SpoolFile, intake_key
from medcom_bridge.hub.store import FlowInfo, Note, Store, StoredMessage, Tx, new_id

log = logging.getLogger(__name__)

INTAKE = "intake"
ACK_TARGET = "ack-target"
ATTACHMENT = "attachment"

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_T = TypeVar("_T")

#: Files, conversions, deliveries or timers per transaction (group commit). Each commit with
#: `synchronous=FULL` costs an fsync, so the durable cost is shared by the batch; a larger batch mostly adds
#: latency for the first file of a burst and work repeated after a crash.
BATCH = 64


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
        self.engine = Engine(spool, answers, ids)

    # -- the loop ----------------------------------------------------------------------------------------------
    def run_once(self) -> Summary:
        summary = Summary()
        self.deliver_pending(summary)
        self.fire_timers(summary)
        self.take_all(self.spool.waiting(), summary)
        self.convert_due(summary)
        self.deliver_pending(summary)
        return summary

    def fire_timers(self, summary: Summary) -> None:
        """Fire due timers with their actions (e.g. S1.A3: forward the lone XBIN01), a batch per transaction."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            due = tx.due_timers(now)
        for chunk in _chunks(due, self.batch):
            fired_here = 0
            with self.store.transaction() as tx:
                for timer in chunk:
                    fired_here += self.engine.fire(tx, timer, now)
            summary.timers_fired += fired_here

    # -- intake ------------------------------------------------------------------------------------------------
    def take_all(self, files: list[SpoolFile], summary: Summary) -> None:
        """Take waiting files, up to `batch` per transaction (group commit: one durable commit and one folder
        fsync per batch instead of per file). A file leaves out/ only after the commit that holds its effects."""
        for chunk in _chunks(files, self.batch):
            if len(chunk) == 1:
                self.take(chunk[0], summary)
            else:
                self._take_batch(chunk, summary)

    def _take_batch(self, files: list[SpoolFile], summary: Summary) -> None:
        ready: list[tuple[SpoolFile, bytes, Inbound | None, Unreadable | None, str]] = []
        for file in files:
            try:
                data = self.spool.read(file)
            except OSError as exc:  # vanished or unreadable: try again next run, never lose it silently
                summary.errors.append(f"{file.path}: cannot read: {exc}")
                continue
            try:
                inbound: Inbound | None = self.identifier.identify(data, mailbox=file.ean)
                problem = None
            except Unreadable as exc:
                inbound, problem = None, exc
            ready.append(
                (file, data, inbound, problem, intake_key(data, inbound.envelope_id if inbound else None))
            )
        now = self.clock.now()
        done = Summary()
        duplicates = 0
        try:
            with self.store.transaction() as tx:
                for file, data, inbound, problem, key in ready:
                    duplicates += self._take_in(tx, file, data, inbound, problem, key, now, done)
        except Exception:
            # Nothing of the batch was committed. Take its files one at a time, so that a file that makes the
            # hub fail is quarantined as `hub-error` on its own and the others go through (lesson 15).
            log.warning("a batch of %d files failed; taking them one at a time", len(ready), exc_info=True)
            for file, *_ in ready:
                self.take(file, summary)
            return
        with self.spool.deferred_sync():  # after the commit: one folder fsync per mailbox for the whole batch
            for file, *_ in ready:
                self.spool.taken(file)
        summary.taken += len(ready)
        summary.duplicates += duplicates
        summary.already_taken += done.already_taken
        summary.quarantined += done.quarantined

    def take(self, file: SpoolFile, summary: Summary) -> None:
        """Handle one waiting file in one transaction; remove it from out/ only after the commit."""
        try:
            data = self.spool.read(file)
        except OSError as exc:  # vanished or unreadable: try again next run, never lose it silently
            summary.errors.append(f"{file.path}: cannot read: {exc}")
            return
        now = self.clock.now()
        try:
            inbound: Inbound | None = self.identifier.identify(data, mailbox=file.ean)
            problem = None
        except Unreadable as exc:
            inbound, problem = None, exc
        key = intake_key(data, inbound.envelope_id if inbound else None)
        try:
            duplicate = self._take(file, data, inbound, problem, key, now, summary)
        except Exception as exc:  # a hub bug must not make a poison file that is re-read forever (lesson 15)
            log.exception("hub error on %s; quarantining it", file.name)
            summary.errors.append(f"{file.path}: hub error: {type(exc).__name__}")
            with self.store.transaction() as tx:
                hub_error = Unreadable(
                    "hub-error", f"the hub failed on this file ({type(exc).__name__}); see the log"
                )
                self._unreadable(tx, file, data, hub_error, key, now)
            summary.quarantined += 1
            duplicate = False
        self.spool.taken(file)
        summary.taken += 1
        summary.duplicates += int(duplicate)

    def _take(
        self,
        file: SpoolFile,
        data: bytes,
        inbound: Inbound | None,
        problem: Unreadable | None,
        key: str,
        now: datetime,
        summary: Summary,
    ) -> bool:
        with self.store.transaction() as tx:
            return self._take_in(tx, file, data, inbound, problem, key, now, summary)

    def _take_in(
        self,
        tx: Tx,
        file: SpoolFile,
        data: bytes,
        inbound: Inbound | None,
        problem: Unreadable | None,
        key: str,
        now: datetime,
        summary: Summary,
    ) -> bool:
        wanted = [(INTAKE, key)]
        if inbound is not None:  # the dedup keys too, in the same query
            wanted.append((envelope_namespace(), inbound.envelope_id))
            if inbound.letter_id:
                wanted.append((letter_namespace(inbound.kind), inbound.letter_id))
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
        self, tx: Tx, file: SpoolFile, data: bytes, problem: Unreadable, key: str, now: datetime
    ) -> None:
        flow = tx.create_flow(now, FlowInfo(sender_gln=file.ean, receipt_expected=False))
        tx.claim_key(INTAKE, key, flow.id, now)
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
        file: SpoolFile,
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
            tx.claim_key(INTAKE, key, owner, now, message_id)
            context = Cause(inbound, data, file.ean, message_id, file.name)
            note = _note(inbound, reason=f"{verdict.value}: letter id seen before", cause=verdict.value)
            self.engine.transition(tx, owner, Event.DUPLICATE, now, context, note)  # allowed in every state
            return True
        if inbound.is_receipt:
            self._receipt(tx, file, data, inbound, key, now)
            return False
        route = self.router.route(inbound)
        partner_id = self._partner(tx, inbound)
        partner = tx.flow(partner_id) if partner_id is not None else None
        outcome = decide.letter(inbound, verdict, route, partner)
        event = outcome.event
        flow_id = partner_id if decide.joins_partner(outcome, partner) else None
        expects = decide.expects_receipt(inbound, route)
        if flow_id is None:
            flow_id = tx.create_flow(now, _info(replace(inbound, receipt_requested=expects))).id
        elif inbound.kind == "xdis91" and inbound.valid:
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
        self._claim(tx, flow_id, inbound, key, message_id, now)
        context = Cause(
            inbound, data, file.ean, message_id, file.name, reason=outcome.reason, reject=outcome.cause
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

    def _partner(self, tx: Tx, inbound: Inbound) -> str | None:
        if inbound.kind not in ("xdis91", "xbin01"):
            return None
        for object_id in inbound.attachment_ids:
            owner = tx.find_key(ATTACHMENT, _pair_key(inbound, object_id))
            if owner is not None:
                return owner
        return None

    def _claim(
        self, tx: Tx, flow_id: str, inbound: Inbound, key: str, message_id: str, now: datetime
    ) -> None:
        claims = [(INTAKE, key), (envelope_namespace(), inbound.envelope_id)]
        if inbound.letter_id:
            claims.append((letter_namespace(inbound.kind), inbound.letter_id))
            # The receiver's receipt names this letter (and, in XCTL01, perhaps only the envelope).
            claims.append((ACK_TARGET, f"{inbound.receiver_gln}:L:{inbound.letter_id}"))
        if inbound.message_envelope_id:
            claims.append((ACK_TARGET, f"{inbound.receiver_gln}:E:{inbound.message_envelope_id}"))
        for object_id in inbound.attachment_ids:
            claims.append((ATTACHMENT, _pair_key(inbound, object_id)))
        tx.claim_keys(claims, flow_id, now, message_id)

    # -- receipts ------------------------------------------------------------------------------------------------
    def _receipt(
        self, tx: Tx, file: SpoolFile, data: bytes, inbound: Inbound, key: str, now: datetime
    ) -> None:
        flow_id = self._answered_flow(tx, inbound)
        flow = tx.flow(flow_id) if flow_id else None
        note = _note(inbound, cause=inbound.receipt_code, receipt=inbound.receipt)
        path = decide.receipt_path(flow)
        if flow is None or path == decide.ReceiptPath.ORPHAN:
            # No correlation left (or none ever): forwarded unconverted in a flow of its own (§7).
            orphan = tx.create_flow(now, _info(inbound))
            message_id = self.engine.store_in(tx, orphan.id, data, now, role=IN_RECEIPT, inbound=inbound)
            self._claim(tx, orphan.id, inbound, key, message_id, now)
            context = Cause(inbound, data, file.ean, message_id, file.name)
            self.engine.transition(tx, orphan.id, Event.PASS_THROUGH, now, context, note)
            return
        message_id = self.engine.store_in(tx, flow.id, data, now, role=IN_RECEIPT, inbound=inbound)
        self._claim(tx, flow.id, inbound, key, message_id, now)
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
        with self.store.transaction() as tx:
            due = tx.find_flows(state=State.CONVERTING.value)
        if self.converter is None:
            summary.waiting_for_converter += len(due)
            return
        for chunk in _chunks(due, self.batch):
            now = self.clock.now()
            converted = Summary()
            with self.store.transaction() as tx:  # a batch of conversions, one commit
                tx.preload(chunk)
                tx.payloads([m.payload_sha256 for f in chunk for m in tx.messages(f) if m.direction == "in"])
                for flow_id in chunk:
                    self._convert(tx, flow_id, now, converted)
            summary.converted += converted.converted

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
        outcome = self.converter.convert(flow_id, parts, now=now, new_id=self.ids)
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
        """Deliver undelivered outputs a batch at a time: write every file of the batch (each fsynced before
        its rename), fsync each receiving folder once, and only then commit "delivered" for the whole batch in
        one transaction. A crash before that commit delivers the same bytes again under the same name: a no-op."""
        with self.store.transaction() as tx:
            pending = tx.pending_outputs()
        for chunk in _chunks(pending, self.batch):
            with self.store.transaction() as tx:
                payloads = tx.payloads([m.payload_sha256 for m in chunk])
            written: list[tuple[StoredMessage, str]] = []
            with self.spool.deferred_sync():
                for message in chunk:
                    name = self._write(message, payloads[message.payload_sha256], summary)
                    if name is not None:
                        written.append((message, name))
            if not written:
                continue
            now = self.clock.now()
            with self.store.transaction() as tx:
                tx.preload([message.flow_id for message, _ in written])
                for message, name in written:
                    tx.mark_delivered(message.id, now, name)
                    self._after_delivery(
                        tx, message.flow_id, message.role, message.kind, message.envelope_id, now
                    )
            summary.delivered += len(written)

    def _write(self, message: StoredMessage, data: bytes, summary: Summary) -> str | None:
        """Put one output into its receiver's in/; its file name, or None when it failed (recorded)."""
        receiver = message.receiver_gln or ""
        name = _file_name(message.envelope_id, message.id)
        try:
            try:
                self.spool.deliver(receiver, name, data)
            except FileExistsError:  # another message owns that name: fall back to our own id
                name = _file_name(None, message.id)
                self.spool.deliver(receiver, name, data)
        except (OSError, ValueError) as exc:
            summary.delivery_failures += 1
            now = self.clock.now()
            with self.store.transaction() as tx:
                note = Note(reason=f"spool-write: {exc}", cause="spool-write", failure=Place.NETWORK)
                if tx.flow(message.flow_id).state is State.DELIVERING:
                    transition(tx, message.flow_id, Event.DELIVERY_FAILED, now, note)
                else:
                    tx.record(message.flow_id, now, Step.DELIVERY_FAILED, note)
            return None
        return name

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
        }.get(role, Step.DELIVERED)
        tx.record(flow_id, now, step, note)


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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

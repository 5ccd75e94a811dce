"""The hub's engine: one transition at a time, applied whole inside the caller's transaction.

A transition is: lock the flow row, `flow.step` (pure: new state and effects as data), save it
(version-checked) with its trace event, start and cancel its timers, and carry out its actions (store the
outputs to deliver, the negative receipt, the forwarded original, the repeated answer). Everything lands in
the same database transaction, so a crash leaves either all of it or none. The engine decides nothing
(`hub.decide` and `hub.flow` do) and stores nothing itself (`hub.store` does); it only applies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.events import Step
from medcom_bridge.hub.flow import (
    TIMER_EVENT,
    Action,
    CancelTimer,
    Do,
    Event,
    Flow,
    ImpossibleTransition,
    Route,
    StartTimer,
    step,
)
from medcom_bridge.hub.pipeline import Answers, Inbound, Output
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import DueTimer, Note, Store, Tx

log = logging.getLogger(__name__)

# Roles of stored messages. Inbound: the flow's parts and what else arrived; outbound: what the hub sends.
IN_CORRELATION = "correlation"  # the converter's correlation record (§6), newest last
IN_LETTER, IN_ATTACHMENT, IN_RECEIPT, IN_LATE, IN_INVALID, IN_DUPLICATE, IN_UNREADABLE = (
    "letter",
    "attachment",
    "receipt",
    "late",
    "invalid",
    "duplicate",
    "unreadable",
)
OUT_LETTER, OUT_FORWARD, OUT_ANSWER, OUT_NEGATIVE = "letter", "forward", "answer", "negative_receipt"
OUT_REPEAT = "repeated_answer"
"""A first answer sent again for a duplicate (§8). Never itself repeated: each duplicate gets the first
answers once, not every repeat made so far."""
_ANSWER_ROLES = (OUT_ANSWER, OUT_NEGATIVE)


@dataclass(frozen=True, slots=True)
class Cause:
    """The inbound message that caused a transition, for carrying out its actions."""

    inbound: Inbound | None
    data: bytes
    mailbox: str
    message_id: str
    file_name: str
    reason: str | None = None
    reject: RejectCause | None = None
    answer_outputs: tuple[Output, ...] = ()
    quarantined: bool = False
    """The spool already moved the original to quarantine (a link, FIFO, device or oversized file)."""
    route: Route | None = None
    """The direction a routing decision chose (`decide.Outcome.route`); None: the event's default."""

    def with_answers(self, outputs: tuple[Output, ...]) -> Cause:
        return replace(self, answer_outputs=outputs)


NO_CAUSE = Cause(None, b"", "", "", "")
NO_NOTE = Note()


def transition(
    tx: Tx, flow_id: str, event: Event, now: datetime, note: Note = NO_NOTE, route: Route | None = None
) -> tuple[Flow, tuple[Action, ...]]:
    """Lock, step, save (version-checked), timers, trace; returns the new flow and the actions to carry out.
    Raises `ImpossibleTransition` (nothing written) when the state does not allow the event."""
    flow = tx.flow(flow_id, lock=True)
    new, effects = step(flow, event, now, route)
    tx.save_transition(flow_id, flow, new, event, now, note)
    actions: list[Action] = []
    for effect in effects:
        if isinstance(effect, StartTimer):
            tx.set_timer(flow_id, effect.timer, effect.due, now)
        elif isinstance(effect, CancelTimer):
            tx.cancel_timer(flow_id, effect.timer, now)
        elif isinstance(effect, Do):
            actions.append(effect.action)
    return new, tuple(actions)


def fire_timer(tx: Tx, timer: DueTimer, now: datetime) -> tuple[Flow, tuple[Action, ...]] | None:
    """Fire one due timer: its event on its flow. None when another worker took it first, or when the timer
    is stale (its event no longer allowed: a transition should have cancelled it); a stale timer is retired
    with a log line rather than stopping the hub."""
    if not tx.claim_timer(timer, now):
        return None
    event = TIMER_EVENT[timer.timer]
    try:
        with tx.conn.begin_nested():
            return transition(
                tx,
                timer.flow_id,
                event,
                now,
                Note(reason=f"{timer.timer.value} timer due {timer.due_at.isoformat()}"),
            )
    except ImpossibleTransition as exc:
        log.warning("stale timer %s on flow %s: %s", timer.timer.value, timer.flow_id, exc)
        tx.retire_timer(timer)
        return None


@dataclass(frozen=True, slots=True)
class Fired:
    """A timer that came due: the flow after its event and the actions to carry out; `flow` is None when the
    timer was stale (already handled, or its event no longer allowed)."""

    timer: DueTimer
    flow: Flow | None
    actions: tuple[Action, ...] = ()


def fire_due_timers(store: Store, now: datetime, *, limit: int = 1000) -> list[Fired]:
    """Fire every timer due at `now`, each in its own transaction, and say what happened to each (the
    actions are not carried out: for tests and tools that look at the state machine alone)."""
    with store.transaction() as tx:
        due = tx.claim_due_timers(now, limit=limit)
    fired: list[Fired] = []
    for timer in due:
        with store.transaction() as tx:
            result = fire_timer(tx, timer, now)
        fired.append(Fired(timer, *result) if result is not None else Fired(timer, None))
    return fired


class Engine:
    """Applies transitions and carries out their actions; what to do with files is the spool's, what to
    answer is `Answers`' (pure builders)."""

    def __init__(self, spool: Spool, answers: Answers | None, ids: Callable[[], str]) -> None:
        self.spool = spool
        self.answers = answers
        self.ids = ids

    def transition(self, tx: Tx, flow_id: str, event: Event, now: datetime, cause: Cause, note: Note) -> Flow:
        flow, actions = transition(tx, flow_id, event, now, note, cause.route)
        for action in actions:
            self.carry_out(tx, flow, action, now, cause)
        return flow

    def fire(self, tx: Tx, timer: DueTimer, now: datetime) -> bool:
        fired = fire_timer(tx, timer, now)
        if fired is None:
            return False
        flow, actions = fired
        for action in actions:
            self.carry_out(tx, flow, action, now, NO_CAUSE)
        return True

    def carry_out(self, tx: Tx, flow: Flow, action: Action, now: datetime, cause: Cause) -> None:
        if action is Action.DELIVER:
            self._forward_parts(tx, flow, now)
        elif action is Action.FORWARD_UNCONVERTED:
            inbound = cause.inbound
            if inbound is not None:
                tx.set_message_role(cause.message_id, IN_LATE)
                self.store_out(tx, flow.id, _copy(inbound, cause.data, OUT_FORWARD), now, role=OUT_FORWARD)
        elif action is Action.ANSWER_SENDER:
            for output in cause.answer_outputs:
                self.store_out(tx, flow.id, output, now, role=OUT_ANSWER)
        elif action is Action.NEGATIVE_VANS_RECEIPT:
            if cause.inbound is not None and not cause.inbound.valid:
                tx.set_message_role(cause.message_id, IN_INVALID)
            self._negative_receipt(tx, flow, now, cause)
        elif action is Action.QUARANTINE and not cause.quarantined:
            self.spool.quarantine(
                cause.file_name or f"{cause.message_id}.xml",
                cause.data,
                cause.reason or "unreadable",
                ean=cause.mailbox,
                now=now,
            )
        elif action is Action.REPEAT_ANSWER:
            self._repeat_answer(tx, flow, now, cause)
        elif action is Action.ALERT:
            log.warning("flow %s: receipts missing 120 minutes after delivery", flow.id)
        # CONVERT: flows in `converting` are the conversion step's work list. STORE_RECEIPT: stored on intake.

    def _forward_parts(self, tx: Tx, flow: Flow, now: datetime) -> None:
        """Pass-through, or an XBIN01 whose XDIS91 is late or invalid (S1.A3): deliver the originals as they are."""
        if flow.route is not Route.PASS_THROUGH and flow.has_letter:
            return  # converted outputs are stored by the conversion step
        messages = tx.messages(flow.id)
        sent = {m.payload_sha256 for m in messages if m.direction == "out"}
        for m in messages:
            if (
                m.direction == "in"
                and m.role in (IN_LETTER, IN_ATTACHMENT, IN_RECEIPT)
                and m.payload_sha256 not in sent
            ):
                output = Output(
                    m.receiver_gln or "",
                    tx.payload(m.payload_sha256),
                    m.kind or "",
                    m.envelope_id or m.id,
                    m.letter_id,
                )
                self.store_out(tx, flow.id, output, now, role=OUT_FORWARD)
                sent.add(m.payload_sha256)
                if flow.route is not Route.PASS_THROUGH:
                    # S1.A3: a late XDIS91 is converted with an empty attachment payload, not with this XBIN01.
                    tx.set_message_role(m.id, IN_LATE)

    def _negative_receipt(self, tx: Tx, flow: Flow, now: datetime, cause: Cause) -> None:
        if self.answers is None:
            tx.record(
                flow.id,
                now,
                Step.REJECTED,
                Note(reason="negative VANS receipt not sent: no receipt builder plugged in"),
            )
            return
        try:
            output = self.answers.negative_vans_receipt(
                cause.inbound,
                cause.data,
                cause.reject or RejectCause.INVALID,
                cause.reason or "rejected",
                mailbox=cause.mailbox,
                now=now,
                new_id=self.ids,
            )
        except Exception as exc:
            log.warning("flow %s: no negative receipt could be built (%s)", flow.id, type(exc).__name__)
            output, why = None, f"cannot be built for this input ({type(exc).__name__})"
        else:
            why = "sender not addressable"
        if output is None:
            tx.record(flow.id, now, Step.REJECTED, Note(reason=f"negative VANS receipt not sent: {why}"))
            return
        self.store_out(tx, flow.id, output, now, role=OUT_NEGATIVE)

    def _repeat_answer(self, tx: Tx, flow: Flow, now: datetime, cause: Cause) -> None:
        sender = cause.inbound.sender_gln if cause.inbound else cause.mailbox
        answers = [
            m
            for m in tx.messages(flow.id)
            if m.direction == "out" and m.role in _ANSWER_ROLES and m.receiver_gln == sender
        ]
        if not answers:
            return  # no answer yet: the first one will come when the receipts do (§8)
        if self.answers is None:
            tx.record(
                flow.id,
                now,
                Step.DUPLICATE,
                Note(reason="first answer not repeated: no receipt builder plugged in"),
            )
            return
        for m in answers:
            try:
                first = tx.payload(m.payload_sha256)
            except LookupError:  # pruned, or a database shared with another spool's blob store
                tx.record(
                    flow.id,
                    now,
                    Step.DUPLICATE,
                    Note(reason="first answer not repeated: its payload is gone"),
                )
                continue
            data = self.answers.repeat(first, now=now, new_id=self.ids)
            output = Output(sender, data, m.kind or "", self.ids(), m.letter_id, OUT_REPEAT)
            self.store_out(tx, flow.id, output, now, role=OUT_REPEAT)

    # -- storage helpers ---------------------------------------------------------------------------------------
    def store_in(
        self,
        tx: Tx,
        flow_id: str,
        data: bytes,
        now: datetime,
        *,
        role: str,
        inbound: Inbound | None = None,
        sender: str | None = None,
    ) -> str:
        digest = tx.put_payload(data, now)
        return tx.add_message(
            flow_id,
            direction="in",
            role=role,
            payload_sha256=digest,
            now=now,
            kind=inbound.kind if inbound else None,
            envelope_id=inbound.envelope_id if inbound else None,
            letter_id=inbound.letter_id if inbound else None,
            sender_gln=inbound.sender_gln if inbound else sender,
            receiver_gln=inbound.receiver_gln if inbound else None,
            version=inbound.version if inbound else None,
            valid=inbound.valid if inbound else None,
            rules=",".join(dict.fromkeys(f.rule for f in inbound.findings if f.severity == "error"))
            if inbound
            else None,
        )

    def store_out(self, tx: Tx, flow_id: str, output: Output, now: datetime, *, role: str) -> str:
        digest = tx.put_payload(output.data, now)
        return tx.add_message(
            flow_id,
            direction="out",
            role=role,
            payload_sha256=digest,
            now=now,
            kind=output.kind,
            envelope_id=output.envelope_id,
            letter_id=output.letter_id,
            receiver_gln=output.receiver_gln,
        )


def _copy(inbound: Inbound, data: bytes, role: str) -> Output:
    return Output(inbound.receiver_gln, data, inbound.kind, inbound.envelope_id, inbound.letter_id, role)

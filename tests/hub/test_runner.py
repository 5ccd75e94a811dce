"""The hub shell end to end over a real spool and a real store, with the domain seams played by small
test implementations (a JSON stand-in for the VANSEnvelope, a capability table for the register, a converter
that only records which parts it got). What is tested is the hub: flows, dedup, timers, delivery, crash safety.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from medcom_bridge.findings import error
from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.events import ReceiptVerdict, Step
from medcom_bridge.hub.flow import Route, State
from medcom_bridge.hub.pipeline import (
    ConversionOutcome,
    Decision,
    IdFactory,
    Inbound,
    Output,
    Part,
    ReceiptOutcome,
    RouteOutcome,
    Unreadable,
)
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Correlation, Store, make_engine

A, B, DNHF = "5790000000017", "5790000000024", "5790000000031"
FHIR_ONLY = "5790000000048"
NOWHERE = "5790000000055"


def message(**fields: Any) -> bytes:
    return json.dumps(fields, sort_keys=True).encode()


class JsonIdentifier:
    def identify(self, data: bytes, *, mailbox: str) -> Inbound:
        try:
            doc = json.loads(data)
        except ValueError:
            raise Unreadable("xml-syntax", "not a VANSEnvelope") from None
        verdict = doc.get("verdict")
        return Inbound(
            kind=doc["kind"],
            sender_gln=doc.get("from", mailbox),
            receiver_gln=doc["to"],
            envelope_id=doc["env"],
            letter_id=doc.get("letter"),
            attachment_ids=tuple(doc.get("att", ())),
            acknowledges=doc.get("ack"),
            receipt=ReceiptVerdict(verdict) if verdict else None,
            receipt_code=doc.get("code"),
            receipt_requested=doc.get("requested", True),
            findings=(error("xdis91-schema", "/Emessage", "invalid"),) if doc.get("invalid") else (),
        )


class CapabilityRouter:
    """Who takes what: A and B speak OIOXML, FHIR_ONLY takes only FHIR, NOWHERE is unknown."""

    def route(self, inbound: Inbound) -> RouteOutcome:
        if inbound.receiver_gln == NOWHERE:
            return RouteOutcome(None, "register: receiver 5790000000055 not in SOR-EDI")
        referral = inbound.sender_gln == DNHF
        if inbound.receiver_gln == FHIR_ONLY and inbound.kind in ("xdis91", "xbin01"):
            return RouteOutcome(Decision.TO_FHIR, referral_hub=referral)
        return RouteOutcome(Decision.PASS_THROUGH, referral_hub=referral)


class RecordingConverter:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def convert(
        self,
        flow_id: str,
        parts: Sequence[Part],
        *,
        now: datetime,
        new_id: IdFactory,
        route: Route | None = None,
    ) -> ConversionOutcome:
        kinds = sorted(p.inbound.kind for p in parts)
        self.calls.append(kinds)
        letter = next(p.inbound for p in parts if p.inbound.kind == "xdis91")
        out = message(kind="carecommunication", converted_from=kinds, letter=letter.letter_id)
        correlations = tuple(
            Correlation(
                flow_id, p.inbound.kind, p.inbound.envelope_id, p.inbound.letter_id, None, "bundle-1", "mh-1"
            )
            for p in parts
        )
        return ConversionOutcome(
            (Output(letter.receiver_gln, out, "carecommunication", "bundle-1", "mh-1"),),
            correlations,
            (),
            "bundle-1",
        )

    def answer(
        self,
        flow_id: str,
        receipts: Sequence[Part],
        correlations: Sequence[Correlation],
        *,
        now: datetime,
        new_id: IdFactory,
        record: bytes | None = None,
    ) -> ReceiptOutcome:
        ack = receipts[-1].inbound
        outputs = tuple(
            Output(A, message(kind="xctl03", to=A, ack=c.oioxml_letter_id), "xctl03", f"ctl-{c.oioxml_kind}")
            for c in correlations
        )
        return ReceiptOutcome(outputs, complete=True, verdict=ack.receipt)


class JsonAnswers:
    def negative_vans_receipt(
        self,
        inbound: Inbound | None,
        data: bytes,
        cause: RejectCause,
        reason: str,
        *,
        mailbox: str,
        now: datetime,
        new_id: IdFactory,
    ) -> Output | None:
        sender = inbound.sender_gln if inbound else mailbox
        env = f"neg-{inbound.envelope_id if inbound else 'unreadable'}"
        return Output(sender, message(kind="xctl01", to=sender, reason=cause.value), "xctl01", env)

    def repeat(self, answer: bytes, *, now: datetime, new_id: IdFactory) -> bytes:
        return answer  # the test answers carry no envelope id of their own


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool")


def make_hub(spool: Spool, store: Store, clock: ManualClock, *, converter: Any = None) -> Hub:
    return Hub(
        spool, store, clock, JsonIdentifier(), CapabilityRouter(), converter=converter, answers=JsonAnswers()
    )


def send(spool: Spool, mailbox: str, name: str, data: bytes) -> None:
    out = spool.root / mailbox / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(data)


def inbox(spool: Spool, mailbox: str) -> list[dict[str, Any]]:
    folder = spool.root / mailbox / "in"
    if not folder.is_dir():
        return []
    return [json.loads(p.read_bytes()) for p in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)]


def only_flow(store: Store) -> str:
    with store.transaction() as tx:
        [flow_id] = tx.find_flows()
    return flow_id


def state_of(store: Store, flow_id: str) -> State:
    with store.transaction() as tx:
        return tx.flow(flow_id, lock=False).state


def steps(store: Store, flow_id: str) -> list[str]:
    with store.transaction() as tx:
        return [e.step.value for e in tx.events(flow_id)]


LETTER = message(kind="xdis91", to=B, env="env-1", letter="L1")


def test_pass_through_and_its_receipt(spool: Spool, store: Store, clock: ManualClock) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "m1.xml", LETTER)
    send(spool, A, "m2.tmp", b"half written")
    summary = hub.run_once()
    assert (summary.taken, summary.delivered) == (1, 1)
    assert inbox(spool, B) == [json.loads(LETTER)]
    assert [f.name for f in spool.waiting()] == [] and (spool.root / A / "out" / "m2.tmp").exists()
    flow_id = only_flow(store)
    assert state_of(store, flow_id) is State.AWAITING_RECEIPTS

    receipt = message(kind="xctl03", to=A, env="env-r1", letter="R1", ack="L1", verdict="positive")
    send(spool, B, "r1.xml", receipt)
    hub.run_once()
    assert inbox(spool, A) == [json.loads(receipt)]
    assert state_of(store, flow_id) is State.COMPLETED
    assert steps(store, flow_id) == ["received", "routed", "delivered", "receipt_aggregated", "receipt_sent"]


def test_crash_between_commit_and_removal_neither_loses_nor_duplicates(
    spool: Spool, store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "m1.xml", LETTER)
    original = spool.taken

    def crash(file: object) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(spool, "taken", crash)
    with pytest.raises(KeyboardInterrupt):
        hub.run_once()
    assert len(spool.waiting()) == 1  # still there: nothing lost
    monkeypatch.setattr(spool, "taken", original)
    summary = hub.run_once()
    assert summary.already_taken == 1 and spool.waiting() == []
    assert inbox(spool, B) == [json.loads(LETTER)]  # delivered exactly once
    assert steps(store, only_flow(store)).count("duplicate") == 1


def test_delivery_failure_is_retried(
    spool: Spool, store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "m1.xml", LETTER)
    real = spool.deliver

    def full(ean: str, name: str, data: bytes) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool, "deliver", full)
    summary = hub.run_once()
    assert summary.delivery_failures == 1 and inbox(spool, B) == []
    flow_id = only_flow(store)
    assert state_of(store, flow_id) is State.DELIVERING
    monkeypatch.setattr(spool, "deliver", real)
    assert hub.run_once().delivered == 1
    assert state_of(store, flow_id) is State.AWAITING_RECEIPTS
    assert "delivery_failed" in steps(store, flow_id)


def test_duplicates_are_not_delivered_again_and_get_the_first_answer(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "m1.xml", LETTER)
    hub.run_once()
    resend = message(kind="xdis91", to=B, env="env-2", letter="L1")  # new envelope, same letter (MR7)
    send(spool, A, "m1-resend.xml", resend)
    assert hub.run_once().duplicates == 1
    assert len(inbox(spool, B)) == 1 and inbox(spool, A) == []  # no answer yet: nothing to repeat
    receipt = message(kind="xctl03", to=A, env="env-r1", letter="R1", ack="L1", verdict="positive")
    send(spool, B, "r1.xml", receipt)
    hub.run_once()
    send(spool, A, "m1-again.xml", message(kind="xdis91", to=B, env="env-3", letter="L1"))
    hub.run_once()
    assert len(inbox(spool, B)) == 1
    assert inbox(spool, A) == [json.loads(receipt), json.loads(receipt)]  # the first answer, repeated
    assert state_of(store, only_flow(store)) is State.COMPLETED


def test_envelope_id_reused_for_another_letter_is_rejected(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "m1.xml", LETTER)
    hub.run_once()
    send(spool, A, "m2.xml", message(kind="xdis91", to=B, env="env-1", letter="L2"))
    hub.run_once()
    with store.transaction() as tx:
        [first] = tx.find_flows(letter_id="L1")
        [second] = tx.find_flows(letter_id="L2")
    assert state_of(store, second) is State.REJECTED
    assert state_of(store, first) is State.AWAITING_RECEIPTS
    assert inbox(spool, A) == [{"kind": "xctl01", "to": A, "reason": "envelope-reused"}]


def test_unreadable_input_goes_to_quarantine_with_a_negative_receipt(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "garbage.xml", b"<<< not a message")
    summary = hub.run_once()
    assert summary.quarantined == 1 and spool.waiting() == []
    [(path, reason)] = spool.quarantined()
    assert path.read_bytes() == b"<<< not a message" and "xml-syntax" in reason
    assert inbox(spool, A) == [{"kind": "xctl01", "to": A, "reason": "unreadable"}]
    flow_id = only_flow(store)
    assert state_of(store, flow_id) is State.QUARANTINED
    assert steps(store, flow_id) == ["received", "quarantined", "negative_receipt_sent"]


def test_invalid_input_and_unroutable_receiver_are_rejected(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "bad.xml", message(kind="xdis91", to=B, env="env-9", letter="L9", invalid=True))
    send(spool, A, "lost.xml", message(kind="xdis91", to=NOWHERE, env="env-8", letter="L8"))
    hub.run_once()
    with store.transaction() as tx:
        flows = tx.find_flows()
        assert {tx.flow(f).state for f in flows} == {State.REJECTED}
        events = [e for f in flows for e in tx.events(f) if e.step is Step.REJECTED]
    assert {(e.failure.value if e.failure else None, e.cause) for e in events} == {
        ("input", "xdis91-schema"),
        ("register", "route"),
    }
    assert inbox(spool, B) == [] and len(inbox(spool, A)) == 2


def test_s1_pairing_in_time(spool: Spool, store: Store, clock: ManualClock) -> None:
    converter = RecordingConverter()
    hub = make_hub(spool, store, clock, converter=converter)
    send(spool, A, "x.xml", message(kind="xdis91", to=FHIR_ONLY, env="e1", letter="L1", att=["ab-cd"]))
    hub.run_once()
    flow_id = only_flow(store)
    assert state_of(store, flow_id) is State.AWAITING_ATTACHMENT and inbox(spool, FHIR_ONLY) == []
    clock.advance(minutes=59)
    send(spool, A, "b.xml", message(kind="xbin01", to=FHIR_ONLY, env="e2", letter="B1", att=["ABCD"]))
    hub.run_once()
    assert converter.calls == [["xbin01", "xdis91"]]
    [delivered] = inbox(spool, FHIR_ONLY)
    assert delivered["converted_from"] == ["xbin01", "xdis91"]
    assert state_of(store, flow_id) is State.AWAITING_RECEIPTS
    # the FHIR receiver's Acknowledgement becomes an XCTL03 for each OIOXML part (§7)
    send(
        spool,
        FHIR_ONLY,
        "ack.xml",
        message(kind="acknowledgement", to=A, env="e3", letter="A1", ack="mh-1", verdict="positive"),
    )
    hub.run_once()
    assert sorted(m["ack"] for m in inbox(spool, A)) == ["B1", "L1"]
    assert state_of(store, flow_id) is State.COMPLETED
    clock.advance(hours=3)
    assert hub.run_once().timers_fired == 0  # the receipt alert was cancelled by the receipt


def test_s1a2_xbin01_late_is_forwarded_unconverted(spool: Spool, store: Store, clock: ManualClock) -> None:
    converter = RecordingConverter()
    hub = make_hub(spool, store, clock, converter=converter)
    send(spool, A, "x.xml", message(kind="xdis91", to=FHIR_ONLY, env="e1", letter="L1", att=["abcd"]))
    hub.run_once()
    clock.advance(minutes=60)
    summary = hub.run_once()
    assert summary.timers_fired == 1 and converter.calls == [["xdis91"]]  # empty attachment payload
    send(spool, A, "b.xml", message(kind="xbin01", to=FHIR_ONLY, env="e2", letter="B1", att=["abcd"]))
    hub.run_once()
    kinds = [m["kind"] for m in inbox(spool, FHIR_ONLY)]
    assert kinds == ["carecommunication", "xbin01"] and converter.calls == [["xdis91"]]
    flow_id = only_flow(store)
    assert "forwarded_unconverted" in steps(store, flow_id)


def test_s1a3_xbin01_alone_goes_unconverted_then_late_xdis91_is_converted(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    converter = RecordingConverter()
    hub = make_hub(spool, store, clock, converter=converter)
    send(spool, A, "b.xml", message(kind="xbin01", to=FHIR_ONLY, env="e2", letter="B1", att=["abcd"]))
    hub.run_once()
    flow_id = only_flow(store)
    assert state_of(store, flow_id) is State.AWAITING_LETTER
    clock.advance(minutes=61)
    hub.run_once()
    assert [m["kind"] for m in inbox(spool, FHIR_ONLY)] == ["xbin01"]
    assert state_of(store, flow_id) is State.COMPLETED  # no receipt expected for a forwarded XBIN01
    send(spool, A, "x.xml", message(kind="xdis91", to=FHIR_ONLY, env="e1", letter="L1", att=["abcd"]))
    hub.run_once()
    assert converter.calls == [["xdis91"]]
    assert [m["kind"] for m in inbox(spool, FHIR_ONLY)] == ["xbin01", "carecommunication"]
    assert state_of(store, flow_id) is State.AWAITING_RECEIPTS


def test_s1a3_invalid_xdis91_then_xbin01_forwarded(spool: Spool, store: Store, clock: ManualClock) -> None:
    hub = make_hub(spool, store, clock, converter=RecordingConverter())
    send(
        spool,
        A,
        "x.xml",
        message(kind="xdis91", to=FHIR_ONLY, env="e1", letter="L1", att=["abcd"], invalid=True),
    )
    hub.run_once()
    flow_id = only_flow(store)
    assert state_of(store, flow_id) is State.REJECTED and len(inbox(spool, A)) == 1
    send(spool, A, "b.xml", message(kind="xbin01", to=FHIR_ONLY, env="e2", letter="B1", att=["abcd"]))
    hub.run_once()
    assert [m["kind"] for m in inbox(spool, FHIR_ONLY)] == ["xbin01"]
    assert only_flow(store) == flow_id


def test_attachments_from_the_referral_hub_are_not_held(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock, converter=RecordingConverter())
    send(spool, DNHF, "b.xml", message(kind="xbin01", to=FHIR_ONLY, env="e2", letter="B1", att=["abcd"]))
    hub.run_once()
    assert [m["kind"] for m in inbox(spool, FHIR_ONLY)] == ["xbin01"]


def test_without_a_converter_flows_wait_and_nothing_is_faked(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "x.xml", message(kind="xdis91", to=FHIR_ONLY, env="e1", letter="L1"))
    summary = hub.run_once()
    assert summary.waiting_for_converter == 1 and inbox(spool, FHIR_ONLY) == []
    assert state_of(store, only_flow(store)) is State.CONVERTING


def test_receipt_without_correlation_is_forwarded_unconverted(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock)
    receipt = message(kind="xctl02", to=A, env="env-r9", letter="R9", ack="unknown", verdict="negative")
    send(spool, B, "r.xml", receipt)
    hub.run_once()
    assert inbox(spool, A) == [json.loads(receipt)]
    assert state_of(store, only_flow(store)) is State.COMPLETED


def test_receipt_after_closing_is_forwarded_unconverted(
    spool: Spool, store: Store, clock: ManualClock
) -> None:
    hub = make_hub(spool, store, clock)
    send(spool, A, "m1.xml", LETTER)
    hub.run_once()
    clock.advance(days=93)
    summary = hub.run_once()
    assert summary.timers_fired == 2  # the 120-minute alert, then the 3-month closing
    flow_id = only_flow(store)
    assert state_of(store, flow_id) is State.CLOSED
    receipt = message(kind="xctl03", to=A, env="env-r1", letter="R1", ack="L1", verdict="positive")
    send(spool, B, "r1.xml", receipt)
    hub.run_once()
    assert inbox(spool, A) == [json.loads(receipt)]
    assert steps(store, flow_id)[-2:] == ["forwarded_unconverted", "forwarded_unconverted"]


def test_a_hub_error_quarantines_instead_of_looping(
    spool: Spool, store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = make_hub(spool, store, clock)

    def broken(inbound: Inbound) -> RouteOutcome:
        raise RuntimeError("bug")

    monkeypatch.setattr(hub.router, "route", broken)
    send(spool, A, "m1.xml", LETTER)
    summary: Summary = hub.run_once()
    assert summary.quarantined == 1 and summary.errors and spool.waiting() == []
    [(_, reason)] = spool.quarantined()
    assert "hub-error" in reason and "RuntimeError" in reason


def test_a_flows_history_exports_as_audit_events(spool: Spool, store: Store, clock: ManualClock) -> None:
    from fhir.resources.R4B.auditevent import AuditEvent

    from medcom_bridge.hub.events import to_audit_event

    hub = make_hub(spool, store, clock)
    send(spool, A, "m1.xml", LETTER)
    hub.run_once()
    send(
        spool,
        B,
        "r1.xml",
        message(kind="xctl02", to=A, env="env-r1", letter="R1", ack="L1", verdict="negative"),
    )
    hub.run_once()
    with store.transaction() as tx:
        history = tx.events(only_flow(store))
    exported = [to_audit_event(e) for e in history]
    for doc in exported:
        AuditEvent.model_validate(doc)
        assert doc["agent"][0]["extension"][0]["valueIdentifier"]["value"] == A
    assert [d["subtype"][0]["code"] for d in exported] == [
        "msg-received",
        "msg-received",
        "msg-sent",
        "msg-created",
        "msg-sent",
    ]
    assert [d["outcome"] for d in exported] == ["0", "0", "0", "8", "0"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    order=st.permutations(["xdis91", "xbin01", "wait", "wait", "wait"]),
    run_between=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_pairing_never_loses_or_doubles_an_attachment(
    sqlite_template: Path, order: list[str], run_between: list[bool]
) -> None:
    """Whatever the arrival order and timing: one CareCommunication, and the XBIN01 either inside it (paired in
    time) or forwarded unconverted (late) — never both, never neither."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copyfile(sqlite_template, root / "hub.sqlite")
        store = Store(make_engine(f"sqlite:///{root / 'hub.sqlite'}"))
        spool, clock, converter = Spool(root / "spool"), ManualClock(), RecordingConverter()
        hub = make_hub(spool, store, clock, converter=converter)
        for what, run_now in zip(order, run_between, strict=True):
            if what == "wait":
                clock.advance(minutes=25)
            else:
                env, letter = ("e1", "L1") if what == "xdis91" else ("e2", "B1")
                send(
                    spool,
                    A,
                    f"{what}.xml",
                    message(kind=what, to=FHIR_ONLY, env=env, letter=letter, att=["abcd"]),
                )
            if run_now:
                hub.run_once()
        hub.run_once()
        clock.advance(minutes=61)
        hub.run_once()
        store.close()
        kinds = [m["kind"] for m in inbox(spool, FHIR_ONLY)]
        assert kinds.count("carecommunication") == 1
        paired = converter.calls == [["xbin01", "xdis91"]]
        event("paired in time" if paired else "partner late")
        assert converter.calls in ([["xbin01", "xdis91"]], [["xdis91"]])
        assert kinds.count("xbin01") == (0 if paired else 1)

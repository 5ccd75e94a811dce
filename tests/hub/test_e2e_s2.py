"""Use cases S2, R1.A1 and S3 (conversion-solution.md §5, §7): FHIR sender, OIOXML-only receiver.

A builder-made CareCommunication becomes XDIS91 + one XBIN01 (each valid against MedCom's schema, each in its
own VANSEnvelope); every row of the 2-XCTL -> 1-Acknowledgement table; missing receipts raise the 120-minute
alert; after 3 months the flow closes and a late receipt is forwarded unconverted.
"""

from __future__ import annotations

import pytest

from medcom_bridge.documents import validate_as
from medcom_bridge.hub.events import Step
from medcom_bridge.hub.stats import missing_receipts
from tests.hub.e2e import FHIR, NOXBIN, OIO, World, fhir_of, header, kinds

RECEIPT_TABLE = [  # (XCTL for XDIS91, XCTL for XBIN01) -> Acknowledgement code, None = nothing sent
    ("xctl03", "xctl03", "ok"),
    ("xctl03", "xctl02", "fatal-error"),
    ("xctl02", "xctl03", "fatal-error"),
    ("xctl02", "xctl02", "fatal-error"),
    ("xctl03", None, None),
    ("xctl02", None, None),
    (None, "xctl03", None),
    (None, "xctl02", None),
    (None, None, None),
]


def deliver_letter(world: World, receiver: str = OIO.ean) -> tuple[str, dict[str, object]]:
    letter = world.carecommunication(FHIR, OIO if receiver == OIO.ean else NOXBIN)
    world.send(FHIR.ean, receiver, letter)
    world.run()
    [flow] = world.flows()
    return flow, {"letter": letter}


def test_carecommunication_becomes_a_valid_xdis91_and_xbin01(world: World) -> None:
    flow, _ = deliver_letter(world)
    delivered = world.inbox(OIO)
    assert kinds(delivered) == ["xbin01", "xdis91"]
    envelope_ids = {r.envelope.envelope_id for r in delivered}
    assert len(envelope_ids) == 2  # each in its own, new VANSEnvelope
    for received in delivered:
        assert received.envelope.sender.value == FHIR.ean and received.envelope.receiver.value == OIO.ean
        report = validate_as(received.kind, received.envelope.payload)
        assert report.valid, [str(f) for f in report.errors]
    assert world.state(flow) == "awaiting_receipts"
    routed = [e for e in world.events(flow) if e.step is Step.ROUTED]
    assert routed and routed[0].reason and "convert fhir -> oioxml" in routed[0].reason


@pytest.mark.parametrize(("for_xdis91", "for_xbin01", "expected"), RECEIPT_TABLE)
def test_two_xctls_become_one_acknowledgement(
    world: World, for_xdis91: str | None, for_xbin01: str | None, expected: str | None
) -> None:
    flow, _ = deliver_letter(world)
    delivered = {r.kind: r for r in world.inbox(OIO)}
    world.advance(minutes=10)
    for kind, answer in (("xdis91", for_xdis91), ("xbin01", for_xbin01)):
        if answer is not None:
            world.answer(OIO, delivered[kind], negative=answer == "xctl02")
    world.run()
    got = world.inbox(FHIR)
    if expected is None:
        assert got == []  # table 4: nothing is sent; the sender resends after its timeout
        assert world.state(flow) == "awaiting_receipts"
        return
    [ack] = got
    assert ack.kind == "acknowledgement" and ack.envelope.sender.value == OIO.ean
    report = validate_as("acknowledgement", ack.envelope.payload)
    assert report.valid, [str(f) for f in report.errors]
    response = header(fhir_of(ack))["response"]
    assert response["code"] == expected
    assert world.state(flow) == "completed"


def test_receiver_not_approved_for_xbin01_still_gets_both_and_its_rejection_is_negative(world: World) -> None:
    flow, _ = deliver_letter(world, NOXBIN.ean)
    delivered = {r.kind: r for r in world.inbox(NOXBIN)}
    assert sorted(delivered) == ["xbin01", "xdis91"]  # R1.A1: converted and delivered anyway
    reasons = " ".join(e.reason or "" for e in world.events(flow))
    assert "NOT approved for XBIN01" in reasons
    world.answer(NOXBIN, delivered["xdis91"])
    world.answer(NOXBIN, delivered["xbin01"], negative=True)
    world.run()
    [ack] = world.inbox(FHIR)
    assert header(fhir_of(ack))["response"]["code"] == "fatal-error"


def test_missing_receipts_raise_one_alert_after_120_minutes(world: World) -> None:
    flow, _ = deliver_letter(world)
    world.inbox(OIO)
    world.advance(minutes=119)
    world.run()
    assert not any(e.step is Step.TIMER_FIRED for e in world.events(flow))
    world.advance(minutes=2)
    world.run()
    world.advance(minutes=60)
    world.run()
    alerts = [e for e in world.events(flow) if e.flow_event == "receipt_alert"]
    assert len(alerts) == 1
    assert world.state(flow) == "awaiting_receipts" and world.inbox(FHIR) == []
    with world.hub.store.engine.connect() as conn:
        [missing] = missing_receipts(conn)
    assert missing.flows == 1 and missing.receiver_gln == OIO.ean


def test_three_month_closing_and_a_late_receipt_is_forwarded_unconverted(world: World) -> None:
    flow, _ = deliver_letter(world)
    delivered = {r.kind: r for r in world.inbox(OIO)}
    world.advance(days=93)
    world.run()
    assert world.state(flow) == "closed"
    world.answer(OIO, delivered["xdis91"])
    world.run()
    [late] = world.inbox(FHIR)
    assert late.kind == "xctl03"  # no correlation is used any more: forwarded as it came
    assert any(e.flow_event == "receipt_forwarded" for e in world.events(flow))

"""Issue 13, the hub part: receivers that speak only EDIFACT (SOR-EDI DIS91/BIN01/CTL0n), and EDIFACT senders.

A FHIR letter to an EDIFACT-only receiver goes CareCommunication -> XDIS91 + XBIN01 -> DIS91 + BIN01, and
the receiver's two CTLs come back as one Acknowledgement (table 4, as XCTLs do). An XDIS91 to an EDIFACT-only
receiver and a DIS91 to an XML-only receiver are converted message by message as a VANS converts them, their
receipts too. A DIS91 + BIN01 to a FHIR-only receiver is paired (S1) and converted through OIOXML; the
Acknowledgement goes back as a CTL03 (or CTL02) per message. Every EDIFACT message delivered is checked by our
EDIFACT validator, every OIOXML one against MedCom's schema, every FHIR one by the FHIR validator.
"""

from __future__ import annotations

import pytest

from medcom_bridge import demo
from medcom_bridge.demo import Received
from medcom_bridge.documents import validate_as
from medcom_bridge.edifact import read_facts
from medcom_bridge.hub.events import Step
from medcom_bridge.hub.stats import conversions, negative_receipts
from medcom_bridge.oioxml.model import PositiveReceipt
from tests.hub.e2e import (
    EDI,
    FHIR,
    OIO,
    UNKNOWN,
    Pair,
    World,
    edifact_pair,
    fhir_of,
    header,
    kinds,
    oioxml_of,
)


def valid(kind: str, payload: bytes) -> None:
    report = validate_as(kind, payload)
    assert report.valid, [str(f) for f in report.errors]


def deliver_fhir_letter(world: World) -> tuple[str, dict[str, Received]]:
    world.send(FHIR.ean, EDI.ean, world.carecommunication(FHIR, EDI))
    world.run()
    [flow] = world.flows()
    return flow, {r.kind: r for r in world.inbox(EDI)}


def test_fhir_letter_reaches_an_edifact_only_receiver_as_dis91_and_bin01(world: World) -> None:
    flow, delivered = deliver_fhir_letter(world)
    assert sorted(delivered) == ["bin01", "dis91"]
    for kind, received in delivered.items():
        envelope = received.envelope
        assert envelope.message is not None
        document = envelope.message.meta.document
        assert (document.format, document.name) == ("EDIFACT", f"MCM:{kind.upper()}")
        assert document.version == {"dis91": "D9134L", "bin01": "B0131X"}[kind]
        assert envelope.sender.value == FHIR.ean and envelope.receiver.value == EDI.ean
        valid(kind, envelope.payload)  # our EDIFACT validator (which also reads it back into OIOXML)
    dis91 = read_facts(delivered["dis91"].envelope.payload)
    bin01 = read_facts(delivered["bin01"].envelope.payload)
    assert dis91.referenced_objects == bin01.contained_objects != ()  # the pair holds together
    assert world.state(flow) == "awaiting_receipts"
    routed = [e for e in world.events(flow) if e.step is Step.ROUTED]
    assert routed and "convert fhir -> edifact" in (routed[0].reason or "")


@pytest.mark.parametrize(
    ("for_dis91", "for_bin01", "expected"),
    [(False, False, "ok"), (True, False, "fatal-error"), (False, True, "fatal-error")],
)
def test_two_ctls_become_one_acknowledgement(
    world: World, for_dis91: bool, for_bin01: bool, expected: str
) -> None:
    flow, delivered = deliver_fhir_letter(world)
    world.advance(minutes=10)
    world.answer(EDI, delivered["dis91"], negative=for_dis91)
    world.run()
    assert world.inbox(FHIR) == []  # table 4: the partner receipt is awaited
    world.answer(EDI, delivered["bin01"], negative=for_bin01)
    world.run()
    [ack] = world.inbox(FHIR)
    assert ack.kind == "acknowledgement" and ack.envelope.sender.value == EDI.ean
    valid("acknowledgement", ack.envelope.payload)
    assert header(fhir_of(ack))["response"]["code"] == expected
    assert world.state(flow) == "completed"
    with world.hub.store.engine.connect() as conn:
        counted = {(c.route, c.count) for c in conversions(conn)}
        negatives = negative_receipts(conn)
    assert counted == {("fhir_to_edifact", 1)}
    if expected != "ok":  # the receiver's CTL02 is counted by its refuse code (FTX+NC), like an XCTL02
        assert [(n.cause, n.count) for n in negatives] == [("ikke_specificeret", 1)]
        said = [e for e in world.events(flow) if e.receipt is not None and e.message_type == "ctl02"]
        assert [(e.cause, e.reason) for e in said] == [
            ("ikke_specificeret", "Modtager kan ikke behandle meddelelsen")
        ]
    else:
        assert negatives == []


def test_xdis91_to_an_edifact_only_receiver_arrives_as_dis91_and_its_ctl03_as_xctl03(world: World) -> None:
    pair = world.pair(OIO, EDI)
    world.send(OIO.ean, EDI.ean, pair.xdis91)
    world.send(OIO.ean, EDI.ean, pair.xbin01)
    world.run()
    delivered = {r.kind: r for r in world.inbox(EDI)}
    assert sorted(delivered) == ["bin01", "dis91"]  # each converted on its own, no pairing wait
    for kind, received in delivered.items():
        valid(kind, received.envelope.payload)
    dis91 = read_facts(delivered["dis91"].envelope.payload)
    assert dis91.letter_id == pair.xdis_letter and dis91.sender_ean == OIO.ean
    world.answer(EDI, delivered["dis91"])
    world.run()
    [back] = world.inbox(OIO)
    assert back.kind == "xctl03" and back.envelope.sender.value == EDI.ean
    valid("xctl03", back.envelope.payload)
    body = oioxml_of(back).body
    assert isinstance(body, PositiveReceipt)
    assert [ol.original_letter_identifier for ol in body.original_emessage.original_letter] == [
        pair.xdis_letter
    ]
    # Flow1's XBIN01 asks for no positive receipt, so its flow is complete once delivered; the receiver's
    # refusal is converted all the same, as a VANS converts every CTL.
    [bin01_flow] = [f for f in world.flows() if world.state(f) == "completed" and f != _flow_of(world, pair)]
    world.answer(EDI, delivered["bin01"], negative=True)
    world.run()
    [refusal] = world.inbox(OIO)
    assert refusal.kind == "xctl02"
    valid("xctl02", refusal.envelope.payload)
    refused = oioxml_of(refusal).body.original_emessage.original_letter
    assert [ol.original_letter_identifier for ol in refused] == [pair.xbin_letter]
    assert world.state(bin01_flow) == "completed"
    with world.hub.store.engine.connect() as conn:
        assert {(c.route, c.count) for c in conversions(conn)} == {("xml_to_edifact", 2)}


def _flow_of(world: World, pair: Pair) -> str:
    with world.hub.store.transaction() as tx:
        [flow] = [f for f in tx.find_flows() if tx.flow_row(f)["letter_id"] == pair.xdis_letter]
    return flow


def test_dis91_to_an_xml_only_receiver_arrives_as_xdis91_and_its_xctl02_as_ctl02(world: World) -> None:
    dis91, _ = edifact_pair(world.pair(EDI, OIO))
    world.send(EDI.ean, OIO.ean, dis91)
    world.run()
    [xdis91] = world.inbox(OIO)
    assert xdis91.kind == "xdis91" and xdis91.envelope.sender.value == EDI.ean
    valid("xdis91", xdis91.envelope.payload)
    world.answer(OIO, xdis91, negative=True)
    world.run()
    [back] = world.inbox(EDI)
    assert back.kind == "ctl02"
    valid("ctl02", back.envelope.payload)
    acknowledged = read_facts(back.envelope.payload).acknowledges
    assert acknowledged is not None and not acknowledged.positive
    assert acknowledged.letter_ids == (read_facts(dis91).letter_id,)
    with world.hub.store.engine.connect() as conn:
        assert {(c.route, c.count) for c in conversions(conn)} == {("edifact_to_xml", 1)}


@pytest.mark.parametrize("code", ["ok", "fatal-error"])
def test_dis91_and_bin01_to_a_fhir_only_receiver_and_the_acknowledgement_back_as_ctls(
    world: World, code: str
) -> None:
    pair = world.pair(EDI, FHIR)
    dis91, bin01 = edifact_pair(pair)
    world.send(EDI.ean, FHIR.ean, bin01)  # the attachment first: paired as XBIN01s are (S1)
    world.run()
    assert world.inbox(FHIR) == []
    world.advance(minutes=5)
    world.send(EDI.ean, FHIR.ean, dis91)
    world.run()
    [cc] = world.inbox(FHIR)
    assert cc.kind == "carecommunication" and cc.envelope.sender.value == EDI.ean
    valid("carecommunication", cc.envelope.payload)
    communication = next(
        e["resource"] for e in fhir_of(cc)["entry"] if e["resource"]["resourceType"] == "Communication"
    )
    assert any(p.get("contentAttachment", {}).get("data") for p in communication["payload"])
    world.answer(FHIR, cc, negative=code != "ok")
    world.run()
    back = world.inbox(EDI)
    expected = "ctl03" if code == "ok" else "ctl02"
    assert kinds(back) == [expected, expected]  # one for the DIS91, one for the BIN01 (table 3)
    answered = set()
    for receipt in back:
        valid(expected, receipt.envelope.payload)
        assert receipt.envelope.message is not None
        document = receipt.envelope.message.meta.document
        assert (document.format, document.name, document.version) == (
            "EDIFACT",
            f"MCM:{expected.upper()}",
            {"ctl03": "C0330Q", "ctl02": "C0230Q"}[expected],
        )
        acknowledged = read_facts(receipt.envelope.payload).acknowledges
        assert acknowledged is not None and acknowledged.positive is (code == "ok")
        answered |= set(acknowledged.letter_ids)
    assert answered == {pair.xdis_letter, pair.xbin_letter}
    [flow] = world.flows()
    assert world.state(flow) == "completed"
    with world.hub.store.engine.connect() as conn:
        assert {(c.route, c.count) for c in conversions(conn)} == {("edifact_to_fhir", 1)}


def test_invalid_dis91_gets_a_ctl01(world: World) -> None:
    dis91, _ = edifact_pair(world.pair(EDI, OIO))
    broken = dis91.replace(b"UNT+", b"UNT+9", 1)  # a wrong segment count
    world.send(EDI.ean, OIO.ean, broken)
    world.run()
    assert world.inbox(OIO) == []
    [ctl01] = world.inbox(EDI)
    assert ctl01.kind == "ctl01"
    valid("ctl01", ctl01.envelope.payload)
    acknowledged = read_facts(ctl01.envelope.payload).acknowledges
    assert acknowledged is not None and acknowledged.refuse_code == "syntaksfejl"


def test_two_negative_ctls_become_a_fatal_error_acknowledgement_with_the_receivers_text(world: World) -> None:
    _, delivered = deliver_fhir_letter(world)
    for kind in ("dis91", "bin01"):
        world.answer(EDI, delivered[kind], negative=True)
    world.run()
    [ack] = world.inbox(FHIR)
    assert header(fhir_of(ack))["response"]["code"] == "fatal-error"
    assert "Modtager kan ikke behandle meddelelsen" in ack.envelope.payload.decode()


def test_a_dis91_sent_again_is_not_converted_again_and_gets_the_same_ctl(world: World) -> None:
    dis91, _ = edifact_pair(world.pair(EDI, OIO))
    world.send(EDI.ean, OIO.ean, dis91)
    world.run()
    [xdis91] = world.inbox(OIO)
    world.answer(OIO, xdis91)
    world.run()
    [first] = world.inbox(EDI)
    world.send(EDI.ean, OIO.ean, dis91)  # the sender's resend: same letter, new VANSEnvelope (§8)
    world.run()
    assert world.inbox(OIO) == []
    [again] = world.inbox(EDI)
    assert again.kind == first.kind == "ctl03"
    assert again.envelope.payload == first.envelope.payload  # same content, a new envelope
    assert again.envelope.envelope_id != first.envelope.envelope_id
    assert len(world.flows()) == 1


def long_letter(world: World, lines: int) -> bytes:
    text = "\n".join(f"Linje {i}: " + "ord " * 20 for i in range(lines))
    return demo.carecommunication(FHIR, EDI, now=world.clock.now(), new_id=world.ids, text=text)


def test_a_long_fhir_letter_reaches_an_edifact_only_receiver_in_several_s14_groups(world: World) -> None:
    world.send(FHIR.ean, EDI.ean, long_letter(world, 60))
    world.run()
    delivered = {r.kind: r for r in world.inbox(EDI)}
    dis91 = delivered["dis91"].envelope.payload
    valid("dis91", dis91)
    assert dis91.count(b"'S14+14'") == 4  # three text groups and the references' group


def test_a_fhir_letter_too_long_for_a_dis91_gets_a_fatal_error_acknowledgement(world: World) -> None:
    world.send(FHIR.ean, EDI.ean, long_letter(world, 400))
    world.run()
    assert world.inbox(EDI) == []
    [ack] = world.inbox(FHIR)
    assert header(fhir_of(ack))["response"]["code"] == "fatal-error"
    [flow] = world.flows()
    assert world.state(flow) == "rejected"
    assert any("edifact-ftx-limit" in (e.reason or "") for e in world.events(flow))


def test_a_dis91_to_an_unknown_receiver_gets_a_ctl01_naming_the_unknown_location_number(world: World) -> None:
    dis91, _ = edifact_pair(world.pair(EDI, OIO))
    world.send(EDI.ean, UNKNOWN, dis91.replace(OIO.ean.encode(), UNKNOWN.encode()))
    world.run()
    [ctl01] = world.inbox(EDI)
    assert ctl01.kind == "ctl01"
    valid("ctl01", ctl01.envelope.payload)
    acknowledged = read_facts(ctl01.envelope.payload).acknowledges
    assert acknowledged is not None and acknowledged.refuse_code == "ukendt_lokationsnummer"
    assert acknowledged.receiver_ean == UNKNOWN

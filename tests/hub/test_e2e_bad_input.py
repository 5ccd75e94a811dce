"""Unreadable, invalid and unroutable input (conversion-solution.md §8, architecture.md §4): never a crash, never
a silent drop — quarantine with the reason, and a negative receipt (XCTL01 or a fatal-error Acknowledgement)
to the sender wherever the sender can be addressed."""

from __future__ import annotations

from medcom_bridge.documents import validate_as
from medcom_bridge.oioxml.model import NegativeVansReceipt
from medcom_bridge.oioxml.receipts import SYNTAKSFEJL, UKENDT_LOKATIONSNUMMER
from tests.hub.e2e import FHIR, OIO, OIO2, UNKNOWN, World, fhir_of, header, oioxml_of


def test_bytes_that_are_no_message_go_to_quarantine_with_their_reason(world: World) -> None:
    world.drop(OIO.ean, b"\x00\x01 not xml at all")
    world.drop(
        OIO.ean, b"<VANSEnvelope xmlns='urn:oio:medcom:vans-envelope:1.0.4'><Nonsense/></VANSEnvelope>"
    )
    summary = world.run()
    assert summary.quarantined == 2 and not summary.errors
    found = world.quarantined()
    assert len(found) == 2 and all(reason.strip() for _, reason in found)
    assert {p.read_bytes()[:4] for p, _ in found} == {b"\x00\x01 n", b"<VAN"}
    assert not list((world.spool / OIO.ean / "out").glob("*.xml"))
    assert world.inbox(OIO) == []  # nobody to address: no receipt
    for flow in world.flows():
        assert world.state(flow) == "quarantined"


def test_readable_but_invalid_xdis91_gets_xctl01_and_is_not_delivered(world: World) -> None:
    pair = world.pair(OIO, OIO2)
    bad = pair.xdis91.replace(b"<MedicalSpecialityCode>ikkeklassificeret<", b"<MedicalSpecialityCode>bogus<")
    world.send(OIO.ean, OIO2.ean, bad)
    world.run()
    assert world.inbox(OIO2) == []
    [receipt] = world.inbox(OIO)
    assert receipt.kind == "xctl01" and validate_as("xctl01", receipt.envelope.payload).valid
    body = oioxml_of(receipt).body
    assert isinstance(body, NegativeVansReceipt)
    refusal = body.original_emessage.original_letter[0]
    assert refusal.original_letter_identifier == pair.xdis_letter and refusal.refuse_code == SYNTAKSFEJL
    [flow] = world.flows()
    assert world.state(flow) == "rejected"
    assert any(e.reason and "xdis91-medical-speciality-code" in e.reason for e in world.events(flow))


def test_invalid_carecommunication_gets_a_fatal_error_acknowledgement(world: World) -> None:
    letter = world.carecommunication(FHIR, OIO).replace(b"2509479989", b"25094799")
    world.send(FHIR.ean, OIO.ean, letter)
    world.run()
    assert world.inbox(OIO) == []
    [ack] = world.inbox(FHIR)
    assert ack.kind == "acknowledgement" and ack.envelope.sender.value == OIO.ean
    assert validate_as("acknowledgement", ack.envelope.payload).valid
    assert header(fhir_of(ack))["response"]["code"] == "fatal-error"


def test_unknown_receiver_gets_a_negative_receipt_naming_the_location_number(world: World) -> None:
    pair = world.pair(OIO, OIO2)
    world.send(OIO.ean, UNKNOWN, pair.xdis91.replace(OIO2.ean.encode(), UNKNOWN.encode()))
    letter = world.carecommunication(FHIR, OIO)
    world.send(FHIR.ean, UNKNOWN, letter)
    world.run()
    [xctl01] = world.inbox(OIO)
    body = oioxml_of(xctl01).body
    assert body.original_emessage.original_letter[0].refuse_code == UKENDT_LOKATIONSNUMMER
    [ack] = world.inbox(FHIR)
    assert header(fhir_of(ack))["response"]["code"] == "fatal-error"
    assert not (world.spool / UNKNOWN).exists() or not list((world.spool / UNKNOWN / "in").glob("*.xml"))


def test_a_letter_in_another_partys_mailbox_is_refused(world: World) -> None:
    pair = world.pair(OIO, OIO2)
    envelope_from_oio = world.send(OIO.ean, OIO2.ean, pair.xdis91)
    for sent in (world.spool / OIO.ean / "out").glob("*.xml"):
        sent.unlink()
    world.drop(OIO2.ean, envelope_from_oio)  # in OIO2's out/, but the envelope says it is from OIO
    world.run()
    [receipt] = world.inbox(OIO2)  # the answer goes back to the mailbox it came from; nothing is delivered
    assert receipt.kind == "xctl01"
    assert world.inbox(OIO) == []
    [flow] = world.flows()
    assert any(e.reason and "hub-sender-mailbox" in e.reason for e in world.events(flow))


def test_a_malformed_receiver_id_never_stops_the_hub(world: World) -> None:
    """Issue 9: an envelope whose ReceiverID is 12 digits made building the negative receipt raise, the file
    stayed in out/ and every later run failed. Now: refused (quarantined or rejected), and the next file goes on."""
    pair = world.pair(OIO, OIO2)
    envelope = world.send(OIO.ean, OIO2.ean, pair.xdis91)
    for sent in (world.spool / OIO.ean / "out").glob("*.xml"):
        sent.unlink()
    world.drop(OIO.ean, envelope.replace(f"{OIO2.ean}</ReceiverID>".encode(), b"579000012144</ReceiverID>"))
    good = world.pair(OIO, OIO2)
    world.send(OIO.ean, OIO2.ean, good.xdis91)
    summary = world.run()
    assert summary.errors == [] and not list((world.spool / OIO.ean / "out").glob("*.xml"))
    assert [r.kind for r in world.inbox(OIO2)] == ["xdis91"]  # the good letter went through
    states = sorted(world.state(f) for f in world.flows())
    assert states in (["awaiting_receipts", "rejected"], ["awaiting_receipts", "quarantined"]), states
    assert world.run().errors == []  # and the next run is clean too
    [receipt] = world.inbox(OIO)  # the sender is readable: it is told, in a receipt its system can read
    assert receipt.kind == "xctl01" and validate_as("xctl01", receipt.envelope.payload).valid


def test_a_half_written_envelope_is_quarantined_and_its_sender_told(world: World) -> None:
    """Issue 9: a truncated file whose header names the sender got no receipt. Now: quarantined, and the sender
    gets an envelope-level NegativeVans receipt (valid for MedCom's VANSEnvelope schema)."""
    from lxml import etree

    from medcom_bridge.envelope import vans
    from tests.envelope.helpers import schema

    pair = world.pair(OIO, OIO2)
    whole = world.send(OIO.ean, OIO2.ean, pair.xdis91)
    for sent in (world.spool / OIO.ean / "out").glob("*.xml"):
        sent.unlink()
    world.drop(OIO.ean, whole[: len(whole) // 2])
    summary = world.run()
    assert summary.quarantined == 1 and summary.errors == []
    [receipt] = list((world.spool / OIO.ean / "in").glob("*.xml"))
    data = receipt.read_bytes()
    assert schema().validate(etree.fromstring(data)), schema().error_log
    envelope = vans.unwrap(data)
    assert envelope.receipt is not None and envelope.receipt.outcome == "NegativeVans"
    assert envelope.receiver.value == OIO.ean and envelope.sender.value == OIO2.ean
    assert envelope.receipt.original_envelope_id == vans.peek_header(whole).envelope_id  # type: ignore[union-attr]
    assert world.inbox(OIO2) == []

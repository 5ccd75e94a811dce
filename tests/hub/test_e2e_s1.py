"""Use cases S1, S1.A1-S1.A3 and S4 (conversion-solution.md §4, §7): OIOXML sender, FHIR-only receiver.

XDIS91 and XBIN01 (MedCom's Flow1 with fresh ids) are paired within 60 minutes in either order; late or
invalid partners, both invalid, attachments from the referral hub (DNHF) without delay; the receiver's one
Acknowledgement becomes an XCTL for the XDIS91 and one for the XBIN01 (table 3).
"""

from __future__ import annotations

from typing import Any

import pytest

from medcom_bridge.documents import validate_as
from medcom_bridge.oioxml.model import NegativeReceipt, NegativeVansReceipt, PositiveReceipt
from medcom_bridge.oioxml.receipts import CONVERSION_FAILED_TEXT
from medcom_bridge.oioxml.text import to_plain_text
from tests.hub.e2e import DNHF, FHIR, OIO, Pair, World, fhir_of, kinds, oioxml_of, without_attachments

BAD_XBIN01 = (b"<ObjectCode>billede<", b"<ObjectCode>bogus<")
BAD_XDIS91 = (b"<MedicalSpecialityCode>ikkeklassificeret<", b"<MedicalSpecialityCode>bogus<")


def attachments(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    comm = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Communication")
    return [p["contentAttachment"] for p in comm["payload"] if "contentAttachment" in p]


def refuse_texts(body: Any) -> list[str]:
    """Refusal texts on either level (OriginalEmessage or OriginalLetter: readers check both)."""
    original = body.original_emessage
    found = [original.refuse_text, *(ol.refuse_text for ol in original.original_letter)]
    return [to_plain_text(t) for t in found if t is not None]


def send_pair(world: World, pair: Pair, order: str) -> None:
    parts = [pair.xdis91, pair.xbin01] if order == "letter-first" else [pair.xbin01, pair.xdis91]
    world.send(OIO.ean, FHIR.ean, parts[0])
    world.run()
    world.advance(minutes=20)
    world.send(OIO.ean, FHIR.ean, parts[1])
    world.run()


@pytest.mark.parametrize("order", ["letter-first", "attachment-first"])
def test_xdis91_and_xbin01_in_either_order_become_one_carecommunication(world: World, order: str) -> None:
    pair = world.pair()
    send_pair(world, pair, order)
    [cc] = world.inbox(FHIR)
    assert cc.kind == "carecommunication" and cc.envelope.sender.value == OIO.ean
    report = validate_as("carecommunication", cc.envelope.payload)
    assert report.valid, [str(f) for f in report.errors]
    [attachment] = attachments(fhir_of(cc))
    assert attachment.get("data")  # the XBIN01's PDF arrived inside the CareCommunication
    [flow] = world.flows()
    steps = [e.step.value for e in world.events(flow)]
    assert "converted" in steps and world.state(flow) == "awaiting_receipts"


@pytest.mark.parametrize("code", ["ok", "fatal-error"])
def test_one_acknowledgement_becomes_two_xctls(world: World, code: str) -> None:
    pair = world.pair()
    send_pair(world, pair, "letter-first")
    [cc] = world.inbox(FHIR)
    world.advance(minutes=10)
    world.answer(FHIR, cc, negative=code != "ok")
    world.run()
    back = world.inbox(OIO)
    expected = "xctl03" if code == "ok" else "xctl02"
    assert kinds(back) == [expected, expected]
    answered = set()
    for receipt in back:
        assert validate_as(expected, receipt.envelope.payload).valid
        message = oioxml_of(receipt)
        body = message.body
        assert isinstance(body, PositiveReceipt if code == "ok" else NegativeReceipt)
        answered |= {ol.original_letter_identifier for ol in body.original_emessage.original_letter}
        if code != "ok":
            assert any("Modtager kan ikke behandle meddelelsen" in t for t in refuse_texts(body))
    assert answered == {pair.xdis_letter, pair.xbin_letter}
    [flow] = world.flows()
    assert world.state(flow) == "completed"


def test_late_xbin01_gives_an_incomplete_letter_and_is_delivered_unconverted(world: World) -> None:
    pair = world.pair()
    world.send(OIO.ean, FHIR.ean, pair.xdis91)
    world.run()
    assert world.inbox(FHIR) == []  # waiting for the partner (60 minutes)
    world.advance(minutes=61)
    world.run()
    [cc] = world.inbox(FHIR)
    [attachment] = attachments(fhir_of(cc))
    assert "data" not in attachment and "title" not in attachment  # S1.A2: deliberately incomplete
    world.advance(minutes=5)
    world.send(OIO.ean, FHIR.ean, pair.xbin01)
    world.run()
    [late] = world.inbox(FHIR)
    assert late.kind == "xbin01"  # delivered unconverted
    # The receiver rejects the incomplete letter: the XCTL02 for the XDIS91 carries the hub's table-5 text
    # (the XBIN01 went unconverted, outside the conversion, so the Acknowledgement does not answer it).
    world.answer(FHIR, cc, negative=True)
    world.run()
    [back] = world.inbox(OIO)
    assert back.kind == "xctl02"
    body = oioxml_of(back).body
    assert body.original_emessage.original_letter[0].original_letter_identifier == pair.xdis_letter
    assert any(CONVERSION_FAILED_TEXT in t for t in refuse_texts(body))


def test_late_xdis91_the_xbin01_goes_unconverted_then_the_letter_with_an_empty_attachment(
    world: World,
) -> None:
    pair = world.pair()
    world.send(OIO.ean, FHIR.ean, pair.xbin01)
    world.run()
    assert world.inbox(FHIR) == []
    world.advance(minutes=61)
    world.run()
    [alone] = world.inbox(FHIR)
    assert alone.kind == "xbin01"
    world.advance(minutes=30)
    world.send(OIO.ean, FHIR.ean, pair.xdis91)
    world.run()
    [cc] = world.inbox(FHIR)
    assert cc.kind == "carecommunication"
    [attachment] = attachments(fhir_of(cc))
    assert "data" not in attachment


def test_invalid_xbin01_gets_xctl01_and_the_letter_goes_without_it(world: World) -> None:
    pair = world.pair()
    world.send(OIO.ean, FHIR.ean, pair.xdis91)
    world.send(OIO.ean, FHIR.ean, pair.xbin01.replace(*BAD_XBIN01))
    world.run()
    [cc] = world.inbox(FHIR)
    assert cc.kind == "carecommunication"
    [attachment] = attachments(fhir_of(cc))
    assert "data" not in attachment
    [xctl01] = world.inbox(OIO)
    body = oioxml_of(xctl01).body
    assert isinstance(body, NegativeVansReceipt)
    assert body.original_emessage.original_letter[0].original_letter_identifier == pair.xbin_letter
    assert validate_as("xctl01", xctl01.envelope.payload).valid


def test_invalid_xdis91_gets_xctl01_and_the_xbin01_goes_unconverted(world: World) -> None:
    pair = world.pair()
    world.send(OIO.ean, FHIR.ean, pair.xbin01)
    world.send(OIO.ean, FHIR.ean, pair.xdis91.replace(*BAD_XDIS91))
    world.run()
    [xbin] = world.inbox(FHIR)
    assert xbin.kind == "xbin01"
    [xctl01] = world.inbox(OIO)
    body = oioxml_of(xctl01).body
    assert isinstance(body, NegativeVansReceipt)
    assert body.original_emessage.original_letter[0].original_letter_identifier == pair.xdis_letter


def test_both_invalid_two_negative_receipts_and_nothing_delivered(world: World) -> None:
    pair = world.pair()
    world.send(OIO.ean, FHIR.ean, pair.xdis91.replace(*BAD_XDIS91))
    world.send(OIO.ean, FHIR.ean, pair.xbin01.replace(*BAD_XBIN01))
    world.run()
    world.advance(minutes=61)
    world.run()
    assert world.inbox(FHIR) == []
    assert kinds(world.inbox(OIO)) == ["xctl01", "xctl01"]


def test_xdis91_without_attachments_is_converted_at_once(world: World) -> None:
    pair = world.pair()
    start = pair.xdis91.index(b"<Reference>")
    end = pair.xdis91.index(b"</Reference>") + len(b"</Reference>")
    world.send(OIO.ean, FHIR.ean, pair.xdis91[:start] + pair.xdis91[end:])
    world.run()
    [cc] = world.inbox(FHIR)
    assert cc.kind == "carecommunication" and attachments(fhir_of(cc)) == []


def test_attachment_from_the_referral_hub_is_not_held(world: World) -> None:
    pair = world.pair(DNHF, FHIR)
    world.send(DNHF.ean, FHIR.ean, pair.xbin01)
    world.run()  # no 60-minute wait: delivered at once, unconverted (§4.5.2)
    [xbin] = world.inbox(FHIR)
    assert xbin.kind == "xbin01"
    [flow] = world.flows()
    assert any(e.reason and "DNHF" in e.reason for e in world.events(flow))


@pytest.mark.parametrize("negative", [False, True])
def test_minuspositivkvitt_letter_gets_only_a_negative_receipt_back(world: World, negative: bool) -> None:
    pair = world.pair()
    letter = without_attachments(pair.xdis91).replace(b"pluspositivkvitt", b"minuspositivkvitt")
    world.send(OIO.ean, FHIR.ean, letter)
    world.run()
    [cc] = world.inbox(FHIR)
    world.answer(FHIR, cc, negative=negative)  # a FHIR receiver acknowledges every message
    world.run()
    back = world.inbox(OIO)
    assert kinds(back) == (["xctl02"] if negative else [])  # never a FHIR Acknowledgement to an OIOXML party
    [flow] = world.flows()
    assert world.state(flow) == "completed"

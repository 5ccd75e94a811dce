from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from medcom_bridge.oioxml.codec import parse, parse_xbin01, parse_xdis91, serialize
from medcom_bridge.oioxml.model import Emessage, NegativeReceipt, NegativeVansReceipt, PositiveReceipt
from medcom_bridge.oioxml.receipts import (
    CONVERSION_FAILED_TEXT,
    PROBLEM_MED_VERSION,
    UKENDT_LOKATIONSNUMMER,
    negative_receipt,
    negative_vans_receipt,
    peek_original,
    positive_receipt,
    wants_positive_receipt,
)
from medcom_bridge.oioxml.validation import validate_bytes, validate_message
from tests.oioxml.mutations import SAMPLES
from tests.oioxml.test_codec import xbin01, xdis91
from tests.oioxml.xsd import xsd_errors, xsd_verdicts

NOW = dt.datetime(2024, 9, 23, 10, 15, 42)

# MedCom's worked flows: (original letter, the XCTL03 answering it). Flow4's XBIN01 receipt names an
# envelope/letter (MEDBIN62530 / 031120PWE62529) that no sample has, so it is compared field by field below.
FLOW_PAIRS = [
    ("XDIS91_medcom_flow1_to_fhir.xml", "XCTL03_medcom_flow2_from_fhir_for_XDIS91.xml"),
    ("XBIN01_medcom_flow1_to_fhir.xml", "XCTL03_medcom_flow2_from_fhir_for_XBIN01.xml"),
    ("XDIS91_medcom_flow3_from_fhir.xml", "XCTL03_medcom_flow4_to_fhir_for_XDIS91.xml"),
]


@pytest.mark.parametrize(("original", "receipt"), FLOW_PAIRS)
def test_positive_receipt_reproduces_medcom_flows(original: str, receipt: str) -> None:
    expected = parse((SAMPLES / receipt).read_bytes())
    letter = parse((SAMPLES / original).read_bytes())
    assert isinstance(expected.body, PositiveReceipt)
    built = positive_receipt(
        letter,  # type: ignore[arg-type]
        now=expected.envelope.sent,
        envelope_identifier=expected.envelope.identifier,
        letter_identifier=expected.body.letter.identifier,
    )
    assert built == expected


def test_flow4_xbin01_receipt_matches_except_medcoms_identifiers() -> None:
    expected = parse((SAMPLES / "XCTL03_medcom_flow4_to_fhir_for_XBIN01.xml").read_bytes())
    assert isinstance(expected.body, PositiveReceipt)
    built = positive_receipt(
        parse_xbin01((SAMPLES / "XBIN01_medcom_flow3_from_fhir.xml").read_bytes()),
        now=expected.envelope.sent,
        envelope_identifier=expected.envelope.identifier,
        letter_identifier=expected.body.letter.identifier,
    )
    assert built.envelope == expected.envelope
    assert (built.body.letter, built.body.sender, built.body.receiver) == (
        expected.body.letter,
        expected.body.sender,
        expected.body.receiver,
    )
    got, want = built.body.original_emessage, expected.body.original_emessage
    assert (got.original_sender, got.original_receiver) == (want.original_sender, want.original_receiver)
    assert got.original_letter[0].original_version_code == want.original_letter[0].original_version_code


@pytest.mark.parametrize("original", [xdis91(), xbin01()], ids=["xdis91", "xbin01"])
def test_all_receipts_are_valid_and_swap_the_parties(original: Emessage) -> None:  # type: ignore[type-arg]
    ids = {"now": NOW, "envelope_identifier": "Kuv00000000001", "letter_identifier": "Brv00000000001"}
    receipts = [
        positive_receipt(original, **ids),  # type: ignore[arg-type]
        negative_receipt(
            original, refuse_code=PROBLEM_MED_VERSION, refuse_text="Forkert version\nXD9133L", **ids
        ),  # type: ignore[arg-type]
        negative_vans_receipt(
            original,
            refuse_code=UKENDT_LOKATIONSNUMMER,
            refuse_text=CONVERSION_FAILED_TEXT,
            **ids,  # type: ignore[arg-type]
        ),
    ]
    for receipt, body_type, kind in zip(
        receipts,
        (PositiveReceipt, NegativeReceipt, NegativeVansReceipt),
        ("xctl03", "xctl02", "xctl01"),
        strict=True,
    ):
        assert isinstance(receipt.body, body_type) and receipt.kind == kind
        assert receipt.envelope.acknowledgement_code == "minuspositivkvitt"
        assert receipt.envelope.sent == dt.datetime(2024, 9, 23, 10, 15)
        assert receipt.body.sender.ean_identifier == original.body.receiver.ean_identifier
        assert receipt.body.receiver.ean_identifier == original.body.sender.ean_identifier
        ol = receipt.body.original_emessage.original_letter[0]
        assert ol.original_letter_identifier == original.body.letter.identifier
        assert ol.original_version_code == original.body.letter.version_code
        report = validate_message(receipt)
        assert report.valid and not report.rules("warning"), report.findings
        data = serialize(receipt)
        assert validate_bytes(data).valid
        assert all(xsd_verdicts(data).values()), xsd_errors(data)
        assert parse(data) == receipt
    negative = receipts[1].body.original_emessage.refusals()
    assert negative[0][0] == PROBLEM_MED_VERSION
    assert negative[0][1] is not None and negative[0][1].to_plain_text() == "Forkert version\nXD9133L"
    assert "udføres".encode("latin-1") in serialize(receipts[2])


def test_receipt_wish_follows_the_envelope() -> None:
    assert wants_positive_receipt(xdis91())
    m = xdis91()
    assert not wants_positive_receipt(
        Emessage(dataclasses.replace(m.envelope, acknowledgement_code="minuspositivkvitt"), m.body)
    )


def test_negative_receipt_for_a_broken_letter() -> None:
    data = serialize(xdis91()).replace(
        b"<VersionCode>XD9134L</VersionCode>", b"<VersionCode>XD9133L</VersionCode>"
    )
    assert not validate_bytes(data).valid
    facts = peek_original(data)
    assert facts is not None and facts.version_code == "XD9133L" and facts.letter_identifier == "BrevNr00777"
    receipt = negative_receipt(
        facts,
        refuse_code=PROBLEM_MED_VERSION,
        refuse_text=None,
        now=NOW,
        envelope_identifier="K1",
        letter_identifier="B1",
    )
    assert validate_message(receipt).valid
    assert peek_original(b"not xml") is None
    assert peek_original(serialize(xdis91()).replace(b"<Identifier>BrevNr00777</Identifier>", b"")) is None


def test_edifact_converter_receipt_samples_have_no_unexpected_findings() -> None:
    for name in (
        "XCTL01_1_edifactconv_pair.xml",
        "XCTL02_1_edifactconv_pair.xml",
        "XCTL02_os2korr_negative_receipt.xml",
    ):
        report = validate_bytes((SAMPLES / name).read_bytes())
        assert report.valid and not report.rules("warning"), (name, report.findings)
    xdis = parse_xdis91((SAMPLES / "XDIS91_1_edifactconv_pair.xml").read_bytes())
    assert not wants_positive_receipt(xdis)

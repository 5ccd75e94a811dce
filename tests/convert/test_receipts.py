"""Receipts across the boundary: use cases §4.3 tables 3 and 4, §4.4 table 5 texts, and the correlation record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from typing import Any

import pytest

from medcom_bridge.convert import texts
from medcom_bridge.convert.context import ConversionError
from medcom_bridge.convert.correlation import CorrelationRecord
from medcom_bridge.convert.fhir_to_oioxml import convert_carecommunication
from medcom_bridge.convert.fhirview import BundleView
from medcom_bridge.convert.oioxml_to_fhir import xdis91_to_carecommunication
from medcom_bridge.convert.receipts import (
    TABLE_4,
    acknowledgement_code_for,
    acknowledgement_to_xctl,
    xctl_to_acknowledgement,
    xctl_type_for,
)
from medcom_bridge.fhir.codec import parse as parse_fhir
from medcom_bridge.oioxml.codec import parse as parse_oioxml
from medcom_bridge.oioxml.codec import parse_xbin01, parse_xdis91
from medcom_bridge.oioxml.model import (
    EanParty,
    Emessage,
    Envelope,
    NegativeReceipt,
    NegativeVansReceipt,
    OriginalEmessage,
    OriginalLetter,
    PositiveReceipt,
    ReceiptLetter,
)
from medcom_bridge.oioxml.text import from_plain_text, to_plain_text
from tests.convert.helpers import FLOWS, flow_context, xsd_errors


def test_table_4_every_row() -> None:
    """Use cases §4.3.2 table 4, rows 1-9."""
    rows = {
        ("positive", "positive"): "ok",
        ("positive", "negative"): "fatal-error",
        ("negative", "positive"): "fatal-error",
        ("negative", "negative"): "fatal-error",
        ("positive", "missing"): None,
        ("negative", "missing"): None,
        ("missing", "positive"): None,
        ("missing", "negative"): None,
        ("missing", "missing"): None,
    }
    assert rows == TABLE_4
    for (xdis, xbin), expected in rows.items():
        assert acknowledgement_code_for(xdis, [xbin]) == expected  # type: ignore[arg-type]
    assert acknowledgement_code_for("positive") == "ok"
    assert acknowledgement_code_for("negative") == "fatal-error"
    assert acknowledgement_code_for("missing") is None
    assert acknowledgement_code_for("positive", ["positive", "negative"]) == "fatal-error"
    assert acknowledgement_code_for("positive", ["positive", "missing"]) is None


def test_table_3_every_row() -> None:
    assert xctl_type_for("ok") == "xctl03"
    assert xctl_type_for("fatal-error") == xctl_type_for("transient-error") == "xctl02"


@pytest.fixture(scope="module")
def oioxml_flow() -> Any:
    """Flow1's XDIS91 + XBIN01 converted: the correlation an Acknowledgement is answered with."""
    xdis = parse_xdis91((FLOWS / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes())
    xbin = parse_xbin01((FLOWS / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes())
    return xdis91_to_carecommunication(xdis, [xbin], context=flow_context())


def ack_for(result: Any, code: str, text: str | None) -> dict[str, Any]:
    ack, _ = parse_fhir((FLOWS / "Acknowledgement_medcom_flow2_to_OIOXML.xml").read_bytes())
    ack["entry"][0]["resource"]["response"] = {
        "identifier": result.correlation.message_header_id,
        "code": code,
    }
    if text is not None:
        ack["entry"].append(
            {
                "fullUrl": "OperationOutcome/oo1",
                "resource": {
                    "resourceType": "OperationOutcome",
                    "id": "oo1",
                    "issue": [{"severity": "error", "code": "invalid", "details": {"text": text}}],
                },
            }
        )
    return ack


@pytest.mark.parametrize("code", ["fatal-error", "transient-error"])
def test_negative_acknowledgement_becomes_two_xctl02_with_the_text(oioxml_flow: Any, code: str) -> None:
    out = acknowledgement_to_xctl(
        ack_for(oioxml_flow, code, "Ukendt patient"), oioxml_flow.correlation, context=flow_context()
    )
    assert [o.kind for o in out.outputs] == ["xctl02", "xctl02"]
    originals = []
    for o in out.outputs:
        assert o.report.valid and xsd_errors(o.data) == []
        receipt = parse_oioxml(o.data)
        assert isinstance(receipt.body, NegativeReceipt)
        original = receipt.body.original_emessage
        assert original.refuse_text is not None and to_plain_text(original.refuse_text) == "Ukendt patient"
        originals.append(
            (original.original_envelope_identifier, original.original_letter[0].original_letter_identifier)
        )
    assert originals == [("KuvNrerwerwe99", "Brevt23400929"), ("MEDBIN62529", "031120PWE62528")]


def test_incomplete_conversion_adds_the_hub_text(oioxml_flow: Any) -> None:
    """Table 5, S1.A2: the receiver's text stays, the hub's text is added to both XCTLs."""
    correlation = dataclasses.replace(oioxml_flow.correlation, incomplete=True)
    out = acknowledgement_to_xctl(
        ack_for(oioxml_flow, "fatal-error", "title mangler" * 60), correlation, context=flow_context()
    )
    for o in out.outputs:
        receipt = parse_oioxml(o.data)
        assert isinstance(receipt.body, NegativeReceipt)
        refuse = receipt.body.original_emessage.refuse_text
        assert refuse is not None
        assert to_plain_text(refuse).startswith("title mangler")
        assert to_plain_text(refuse).endswith(texts.CONVERSION_FAILED_TEXT)


def test_acknowledgement_for_another_message_is_refused(oioxml_flow: Any) -> None:
    ack = ack_for(oioxml_flow, "ok", None)
    ack["entry"][0]["resource"]["response"]["identifier"] = "some-other-message"
    with pytest.raises(ConversionError) as info:
        acknowledgement_to_xctl(ack, oioxml_flow.correlation, context=flow_context())
    assert info.value.rule == "convert-receipt-correlation"


@pytest.fixture(scope="module")
def fhir_flow() -> Any:
    cc, _ = parse_fhir((FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml").read_bytes())
    return convert_carecommunication(cc, context=flow_context())


def receipt(kind: str, letter: Any, text: str | None = None, refuse: str | None = None) -> Any:
    sent = dt.datetime(2023, 11, 22, 12, 40)
    original = OriginalEmessage(
        letter.envelope_id,
        EanParty(letter.sender_ean),
        EanParty(letter.receiver_ean),
        (OriginalLetter(letter.letter_id, letter.version_code),),
        refuse_code=refuse,
        refuse_text=from_plain_text(text) if text else None,
    )
    body_type, version, stat = {
        "xctl01": (NegativeVansReceipt, "XC0130Q", "XCTL01"),
        "xctl02": (NegativeReceipt, "XC0230Q", "XCTL02"),
        "xctl03": (PositiveReceipt, "XC0330Q", "XCTL03"),
    }[kind]
    body = body_type(
        ReceiptLetter("R1", version, stat),
        EanParty(letter.receiver_ean),
        EanParty(letter.sender_ean),
        original,
    )
    return Emessage(Envelope(sent, "RE1", "minuspositivkvitt"), body)


@pytest.mark.parametrize(
    ("xdis", "xbin"), list(itertools.product(["xctl01", "xctl02", "xctl03", None], repeat=2))
)
def test_two_xctl_become_one_acknowledgement(fhir_flow: Any, xdis: str | None, xbin: str | None) -> None:
    corr = fhir_flow.correlation
    r1 = receipt(xdis, corr.xdis91, "XDIS91 afvist", "syntaksfejl") if xdis else None
    r2 = receipt(xbin, corr.xbin01[0], "Filtypen kan ikke modtages") if xbin else None
    result = xctl_to_acknowledgement(r1, [r2], corr, context=flow_context())
    if xdis is None or xbin is None:
        assert result is None  # table 4 rows 5-9: nothing is sent
        return
    assert result is not None and result.report.valid, result.report.errors
    view = BundleView(result.bundle)
    header = view.first("MessageHeader")
    assert header is not None
    expected = "ok" if (xdis, xbin) == ("xctl03", "xctl03") else "fatal-error"
    assert header["response"]["code"] == expected
    assert header["response"]["identifier"] == corr.message_header_id
    outcomes = list(view.of_type("OperationOutcome"))
    assert bool(outcomes) == (expected != "ok")
    if outcomes:
        issue_texts = [i["details"]["text"] for i in outcomes[0]["issue"]]
        if xdis != "xctl03":
            assert any(t.startswith("XDIS91") for t in issue_texts)
        if xbin == "xctl02":
            assert "XBIN01: Filtypen kan ikke modtages" in issue_texts


def test_receipt_for_another_letter_is_refused(fhir_flow: Any) -> None:
    corr = fhir_flow.correlation
    wrong = dataclasses.replace(corr.xdis91, envelope_id="OTHER")
    with pytest.raises(ConversionError):
        xctl_to_acknowledgement(
            receipt("xctl03", wrong), [receipt("xctl03", corr.xbin01[0])], corr, context=flow_context()
        )


def test_correlation_record_json_round_trip(fhir_flow: Any, oioxml_flow: Any) -> None:
    for record in (fhir_flow.correlation, oioxml_flow.correlation):
        stored = json.loads(json.dumps(record.to_json()))
        assert CorrelationRecord.from_json(stored) == record
    assert oioxml_flow.correlation.direction == "oioxml-to-fhir"
    assert fhir_flow.correlation.direction == "fhir-to-oioxml"
    assert [x.version_code for x in fhir_flow.correlation.letters] == ["XD9134L", "XB0131X"]


def test_foreign_file_types_are_converted_and_negative_receipts_get_the_hub_text() -> None:
    """S1.A4 + table 5 (Forudsætning 6): a .doc in the XBIN01 is converted; validation reports the deliberate
    break as information; the receiver's negative Acknowledgement gets the hub's text in both XCTLs."""
    xdis = parse_xdis91((FLOWS / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes())
    xbin = parse_xbin01((FLOWS / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes())
    obj = dataclasses.replace(xbin.body.binary_object[0], object_extension_code="doc", object_code="tekstfil")
    xbin = dataclasses.replace(xbin, body=dataclasses.replace(xbin.body, binary_object=(obj,)))
    ref = xdis.body.reference[0]
    assert ref.bin is not None
    ref = dataclasses.replace(ref, bin=dataclasses.replace(ref.bin, object_extension_code="doc"))
    xdis = dataclasses.replace(xdis, body=dataclasses.replace(xdis.body, reference=(ref,)))
    result = xdis91_to_carecommunication(xdis, [xbin], context=flow_context())
    assert result.report.valid
    assert "binding-attachmentMimeTypes" in result.report.rules("information")
    assert "convert-attachment-type" in result.report.rules("information")
    assert result.correlation is not None and result.correlation.foreign_types
    content = result.bundle["entry"][2]["resource"]["payload"][1]["contentAttachment"]
    assert content["contentType"] == "application/msword"
    out = acknowledgement_to_xctl(
        ack_for(result, "fatal-error", "Filtypen er ikke tilladt"), result.correlation, context=flow_context()
    )
    for o in out.outputs:
        body = parse_oioxml(o.data).body
        assert isinstance(body, NegativeReceipt) and body.original_emessage.refuse_text is not None
        assert (
            to_plain_text(body.original_emessage.refuse_text)
            == f"Filtypen er ikke tilladt {texts.CONVERSION_FAILED_TEXT}"
        )


def test_missing_xbin01_gives_the_deliberately_incomplete_message(oioxml_flow: Any) -> None:
    """S1.A2: the attachment payload without data and title; the break is information, not an error."""
    xdis = parse_xdis91((FLOWS / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes())
    result = xdis91_to_carecommunication(xdis, [], context=flow_context())
    assert result.report.valid
    assert {"convert-attachment-missing", "cardinality"} <= result.report.rules("information")
    content = result.bundle["entry"][2]["resource"]["payload"][1]["contentAttachment"]
    assert content == {"contentType": "application/pdf"}
    assert (
        result.correlation is not None and result.correlation.incomplete and result.correlation.xbin01 == ()
    )

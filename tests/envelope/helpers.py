"""Shared values for the envelope tests: the official schema, real samples and a wrap with fixed ids."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from lxml import etree

from medcom_bridge.envelope import wrap
from tests.conftest import DATA

XSD = DATA / "oioxml" / "xsd" / "vansenvelope" / "VANSEnvelope_1.0.4.xsd"
SAMPLE = DATA / "oioxml" / "samples" / "vansenvelope" / "VANSEnvelope_1.0.4_wrapping_XDIS22_sample.xml"
OIOXML = DATA / "oioxml" / "samples"
FHIR = DATA / "fhir" / "examples"
FLOWS = DATA / "conversion" / "flows"

SENDER = "5790001659592"
RECEIVER = "5790000121526"
ENVELOPE_ID = "3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c41"
MESSAGE_ID = "a1c5e7f9-2b4d-4f6a-8c0e-1d3f5a7b9c2e"
SENT = datetime(2026, 1, 20, 9, 30, 15)

# Every payload we carry, as (file, kind, Document Name, Document Version).
PAYLOADS: list[tuple[Path, str, str, str]] = [
    (OIOXML / "XDIS91_1_edifactconv_pair.xml", "xdis91", "MCM:XDIS91", "XD9134L"),
    (OIOXML / "XDIS91_medcom_flow3_from_fhir.xml", "xdis91", "MCM:XDIS91", "XD9134L"),
    (OIOXML / "XDIS91_os2korr_special_characters.xml", "xdis91", "MCM:XDIS91", "XD9134L"),
    (OIOXML / "XBIN01_5_edifactconv_pair.xml", "xbin01", "MCM:XBIN01", "XB0131X"),
    (OIOXML / "XBIN01_medcom_flow1_to_fhir.xml", "xbin01", "MCM:XBIN01", "XB0131X"),
    (OIOXML / "XCTL01_1_edifactconv_pair.xml", "xctl01", "MCM:XCTL01", "XC0130Q"),
    (OIOXML / "XCTL02_os2korr_negative_receipt.xml", "xctl02", "MCM:XCTL02", "XC0230Q"),
    (OIOXML / "XCTL03_medcom_flow2_from_fhir_for_XDIS91.xml", "xctl03", "MCM:XCTL03", "XC0330Q"),
    (
        FHIR / "send-v5" / "Bundle-S-A-new-1932711d-49d0-4ad7-b1ee-61de711892d2.json",
        "carecommunication",
        "MCM:FDIS91#acute-ambulant",
        "5.0",
    ),
    (
        FHIR / "send-v5" / "Bundle-S-B-new-720f68cf-21bf-4c40-a90c-a113e00e88a8.xml",
        "carecommunication",
        "MCM:FDIS91#regarding-referral",
        "5.0",
    ),
    (
        FHIR / "send-v4" / "CareCommunication_Ex_send-D-new.json",
        "carecommunication",
        "MCM:FDIS91#medicine",
        "4.0.0",
    ),
    (FLOWS / "Acknowledgement_medcom_flow2_to_OIOXML.xml", "acknowledgement", "MCM:FCTL#ok", "2.0.0"),
]


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def assert_schema_valid(envelope: bytes) -> None:
    doc = etree.fromstring(envelope)
    if not schema().validate(doc):
        raise AssertionError(f"not valid against VANSEnvelope_1.0.4.xsd: {schema().error_log}")


def wrapped(payload: bytes, **overrides: object) -> bytes:
    args: dict[str, object] = {
        "sender_ean": SENDER,
        "receiver_ean": RECEIVER,
        "envelope_id": ENVELOPE_ID,
        "message_id": MESSAGE_ID,
        "sent": SENT,
    }
    args.update(overrides)
    return wrap(payload, **args)  # type: ignore[arg-type]


def payload(path: Path) -> bytes:
    return path.read_bytes()


def xdis91() -> bytes:
    return payload(OIOXML / "XDIS91_1_edifactconv_pair.xml")


def fhir_json() -> bytes:
    return payload(PAYLOADS[8][0])


def fhir_xml() -> bytes:
    return payload(PAYLOADS[9][0])

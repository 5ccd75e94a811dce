from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from medcom_bridge.envelope import EnvelopeError
from medcom_bridge.envelope.sbdh import Party, read_sbdh
from tests.conftest import DATA

SBDH = DATA / "sor" / "sbdh"


def test_message_sample() -> None:
    doc = read_sbdh((SBDH / "dk-ehmi-sbdh_20250429_ehmisbdh_sample.xml").read_bytes())
    assert doc.sender == Party("0088:5790000121526", "iso6523-actorid-upis")
    assert doc.sender.gln == "5790000121526" and doc.receiver.gln == "5790000201389"
    assert (doc.standard, doc.type_version, doc.type) == ("homecareobservation-message", "1.2", "Bundle")
    assert doc.instance_identifier == "9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc"
    assert doc.created == datetime(2025, 4, 1, 16, 19, tzinfo=timezone(timedelta(hours=1)))
    assert doc.multiple_type is False and not doc.is_receipt
    assert doc.scope("PROCESSID") == "urn:ehmi:sdn-emergence"
    assert (doc.sender_sor, doc.receiver_sor) == ("8851000016006", "263001000016001")
    # The sample wraps this id over three lines; the value is the id alone.
    assert doc.scope("MESSAGEENVELOPEIDENTIFIER") == "f06c1ac8-6096-5178-a380-2831d2456986"
    assert doc.message_id == "f06c1ac8-6096-5178-a380-2831d2456986"
    assert doc.mime_type == "application/fhir+xml"
    assert doc.payload.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert "0101010227" not in repr(doc)  # the PATIENTID scope (a CPR number) never reaches a log line


def test_acknowledgement_message_sample() -> None:
    doc = read_sbdh((SBDH / "dk-ehmi-sbdh_20250429_ehmisbdh_ack_sample.xml").read_bytes())
    assert doc.standard == "Acknowledgement-message"
    assert doc.scope("ORIGINALMESSAGEIDENTIFIER") == "f06c1ac8-6096-5178-a380-2831d2456986"


def test_envelope_receipt_sample() -> None:
    doc = read_sbdh((SBDH / "dk-ehmi-sbdh_ReceiptAcknowledgement_full.xml").read_bytes())
    assert doc.is_receipt and doc.type == "ReceiptAcknowledgement"
    assert doc.type_version == "ebbp-signals-2.0"
    assert doc.scope("EHMI-ReceiptAcknowledgement") == "Response"
    # This sample puts BinaryContent in the SBDH namespace; it is read all the same.
    assert doc.mime_type == "application/xml"
    assert b"ReceiptAcknowledgement" in doc.payload


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"<VANSEnvelope/>", "sbdh-root"),
        (b"<a", "xml-syntax"),
        (
            b'<StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"/>',
            "sbdh-structure",
        ),
    ],
)
def test_unreadable(data: bytes, rule: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        read_sbdh(data)
    assert info.value.rule == rule


def test_missing_sender_and_bad_base64() -> None:
    data = (SBDH / "dk-ehmi-sbdh_20250429_ehmisbdh_sample.xml").read_bytes()
    with pytest.raises(EnvelopeError) as info:
        read_sbdh(data.replace(b"<Sender>", b"<Sender2>").replace(b"</Sender>", b"</Sender2>"))
    assert info.value.path.endswith("/Sender")
    with pytest.raises(EnvelopeError) as info:
        read_sbdh(data.replace(b">PD94", b">!D94", 1))
    assert info.value.rule == "sbdh-base64"

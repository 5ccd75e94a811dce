"""The receipt's own words (issue 12): what `EnvelopeIdentifier` reads from a receiver's negative receipt for
the trace: the refuse code and text of an XCTL01/02 (either level), an Acknowledgement's response code and
OperationOutcome, CPR numbers masked. MedCom's and OS2korrespondance's XCTL02 examples, read in place."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from medcom_bridge.envelope.vans import wrap
from medcom_bridge.fhir.builder import acknowledgement
from medcom_bridge.fhir.codec import parse, to_json
from medcom_bridge.fhir.content import Issue
from medcom_bridge.hub.adapters import EnvelopeIdentifier
from medcom_bridge.hub.events import ReceiptVerdict
from tests.conftest import DATA

SAMPLES = DATA / "oioxml" / "samples"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def identify(
    payload: bytes, sender: str, receiver: str
) -> tuple[str | None, str | None, ReceiptVerdict | None]:
    data = wrap(
        payload,
        sender_ean=sender,
        receiver_ean=receiver,
        envelope_id=str(uuid.uuid4()),
        message_id=str(uuid.uuid4()),
        sent=NOW,
    )
    inbound = EnvelopeIdentifier().identify(data, mailbox=sender)
    return inbound.receipt_code, inbound.receipt_text, inbound.receipt


def test_an_xctl02_gives_its_refuse_code_and_text_not_its_kind() -> None:
    code, text, verdict = identify(
        (SAMPLES / "XCTL02_os2korr_negative_receipt.xml").read_bytes(), "5790000121441", "5790001382445"
    )
    assert (code, verdict) == ("syntaksfejl", ReceiptVerdict.NEGATIVE)
    assert text is not None and text.startswith("Meddelelsen modtaget kl. 2024-10-25 14:09")
    assert "No declaration found for element 'Break'" in text and "  " not in text


def test_a_refuse_text_with_breaks_reads_as_one_line() -> None:
    code, text, _ = identify(
        (SAMPLES / "XCTL02_1_edifactconv_pair.xml").read_bytes(), "5790000120420", "5790000181872"
    )
    assert code == "problem_med_version"
    assert text is not None and "kan ikke modtage sygehushenvisninger." in text and "\n" not in text


def test_a_cpr_number_in_a_refuse_text_is_masked() -> None:
    sample = (SAMPLES / "XCTL02_os2korr_negative_receipt.xml").read_bytes()
    quoting = sample.replace(b"kunne ikke behandles", b"for 251248-9996 kunne ikke behandles")
    _, text, _ = identify(quoting, "5790000121441", "5790001382445")
    assert text is not None and "251248-9996" not in text and "25xxxx-xxxx" in text


def test_a_positive_receipt_has_no_refusal() -> None:
    code, text, verdict = identify(
        (SAMPLES / "XCTL03_1_edifactconv_pair.xml").read_bytes(), "5790000120420", "5790000181872"
    )
    assert (code, text, verdict) == ("xctl03", None, ReceiptVerdict.POSITIVE)


def test_a_negative_acknowledgement_gives_its_response_code_and_issue() -> None:
    flow3 = DATA / "conversion" / "flows" / "CareCommunication_medcom_flow3_to_OIOXML.xml"
    bundle, _ = parse(flow3.read_bytes())
    issue = Issue(severity="error", code="invalid", text="Ukendt modtager 0101011234")
    ack = acknowledgement(
        bundle, code="fatal-error", issues=[issue], now=NOW, new_id=lambda: str(uuid.uuid4())
    )
    code, text, verdict = identify(to_json(ack), "5790000121441", "5790001382445")
    assert (code, verdict) == ("fatal-error", ReceiptVerdict.NEGATIVE)
    assert text == "invalid: Ukendt modtager 01xxxxxxxx"

"""R1 for EDIFACT (issue 13): which route the register and `decide` give each message kind and receiver, and
what the identifier reads from an EDIFACT message in a VANSEnvelope (ids of its OIOXML twin, what a CTL
acknowledges)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge import demo
from medcom_bridge.documents import validate_as
from medcom_bridge.edifact import edifact_twin, read_facts
from medcom_bridge.envelope import vans
from medcom_bridge.hub import decide
from medcom_bridge.hub.adapters import EnvelopeIdentifier, ReceiptAnswers, RegisterRouter
from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.dedup import Verdict
from medcom_bridge.hub.events import ReceiptVerdict
from medcom_bridge.hub.flow import Event, Route
from medcom_bridge.hub.pipeline import Decision, Inbound, Unreadable
from tests.hub.e2e import EDI, FHIR, OIO, make_pair

REGISTER = {
    OIO.ean: frozenset(demo.OIOXML_TYPES),
    FHIR.ean: frozenset(demo.FHIR_TYPES),
    EDI.ean: frozenset(demo.EDIFACT_TYPES),
}
RECEIVERS = {"oioxml": OIO.ean, "fhir": FHIR.ean, "edifact": EDI.ean}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Register:
    def receives(self, ean: str) -> frozenset[str]:
        return REGISTER.get(ean, frozenset())


ROUTER = RegisterRouter(Register())


@pytest.mark.parametrize(
    ("kind", "receiver", "event", "route"),
    [
        ("carecommunication", "edifact", Event.CONVERT_TO_EDIFACT, Route.FHIR_TO_EDIFACT),
        ("xdis91", "edifact", Event.CONVERT_TO_EDIFACT, Route.OIOXML_TO_EDIFACT),
        ("xbin01", "edifact", Event.CONVERT_TO_EDIFACT, Route.OIOXML_TO_EDIFACT),
        ("dis91", "oioxml", Event.CONVERT_TO_OIOXML, Route.EDIFACT_TO_OIOXML),
        ("bin01", "oioxml", Event.CONVERT_TO_OIOXML, Route.EDIFACT_TO_OIOXML),
        ("dis91", "fhir", Event.AWAIT_ATTACHMENT, Route.EDIFACT_TO_FHIR),
        ("bin01", "fhir", Event.AWAIT_LETTER, Route.EDIFACT_TO_FHIR),
        ("dis91", "edifact", Event.PASS_THROUGH, Route.PASS_THROUGH),
        ("xdis91", "fhir", Event.AWAIT_ATTACHMENT, Route.OIOXML_TO_FHIR),
        ("carecommunication", "oioxml", Event.CONVERT_TO_OIOXML, Route.FHIR_TO_OIOXML),
    ],
)
def test_every_pair_of_formats_is_converted(kind: str, receiver: str, event: Event, route: Route) -> None:
    inbound = Inbound(kind, "5790000000098", RECEIVERS[receiver], "e1", "l1", attachment_ids=("ab",))
    routed = ROUTER.route(inbound)
    assert routed.decision is not None and routed.reason
    outcome = decide.letter(inbound, Verdict.NEW, routed, None)
    assert (outcome.event, outcome.route) == (event, route)


def test_a_dis91_for_a_fhir_receiver_always_awaits_its_acknowledgement() -> None:
    inbound = Inbound("dis91", OIO.ean, FHIR.ean, "e1", "l1", receipt_requested=False)
    assert decide.expects_receipt(inbound, ROUTER.route(inbound))
    to_xml = Inbound("dis91", OIO.ean, OIO.ean, "e1", "l1", receipt_requested=False)
    assert ROUTER.route(to_xml).decision is Decision.TO_OIOXML
    assert not decide.expects_receipt(to_xml, ROUTER.route(to_xml))


def test_an_unregistered_receiver_is_still_unroutable() -> None:
    inbound = Inbound("dis91", OIO.ean, "5790000000098", "e1", "l1")
    outcome = decide.letter(inbound, Verdict.NEW, ROUTER.route(inbound), None)
    assert outcome.event is Event.ROUTE_FAILED and outcome.route is None


def wrapped(payload: bytes, sender: str, receiver: str) -> bytes:
    return vans.wrap(
        payload,
        sender_ean=sender,
        receiver_ean=receiver,
        envelope_id="068dadff-12bb-406d-8c86-083974dc0180",
        message_id="068dadff-12bb-406d-8c86-083974dc0181",
        sent=NOW,
    )


def test_identifier_reads_a_dis91_and_bin01_as_their_oioxml_twins() -> None:
    pair = make_pair(7, "c39ea6b2-6052-45e4-a207-415e0205ab6f", EDI, FHIR)
    identifier = EnvelopeIdentifier()
    dis91 = identifier.identify(wrapped(edifact_twin(pair.xdis91), EDI.ean, FHIR.ean), mailbox=EDI.ean)
    bin01 = identifier.identify(wrapped(edifact_twin(pair.xbin01), EDI.ean, FHIR.ean), mailbox=EDI.ean)
    assert dis91.valid and bin01.valid, (dis91.findings, bin01.findings)
    assert (dis91.kind, dis91.letter_id, dis91.version) == ("dis91", pair.xdis_letter, "D9134L")
    assert dis91.attachment_ids == bin01.attachment_ids == ("c39ea6b2605245e4a207415e0205ab6f",)
    assert bin01.kind == "bin01" and bin01.letter_id == pair.xbin_letter


def test_identifier_reads_what_a_ctl_acknowledges() -> None:
    pair = make_pair(8, "c39ea6b2-6052-45e4-a207-415e0205ab6f", OIO, EDI)
    dis91 = edifact_twin(pair.xdis91)
    received = demo.Received(Path("dis91.xml"), "dis91", vans.unwrap(wrapped(dis91, OIO.ean, EDI.ean)))
    system = demo.EndSystem(Path("spool"), EDI, lambda: str(uuid.uuid4()))
    answers = (
        (False, ReceiptVerdict.POSITIVE, "ctl03", "ctl03", None),
        (
            True,
            ReceiptVerdict.NEGATIVE,
            "ctl02",
            "ikke_specificeret",
            "Modtager kan ikke behandle meddelelsen",
        ),
    )
    for negative, verdict, kind, code, text in answers:
        data = system.receipt_for(received, now=NOW, negative=negative)
        assert data is not None
        ctl = EnvelopeIdentifier().identify(data, mailbox=EDI.ean)
        assert ctl.valid, ctl.findings
        assert (ctl.kind, ctl.receipt, ctl.receipt_code, ctl.receipt_text, ctl.receipt_requested) == (
            kind,
            verdict,
            code,
            text,
            False,
        )
        assert ctl.is_receipt and ctl.acknowledges == pair.xdis_letter
        assert ctl.acknowledges_envelope == read_facts(dis91).envelope_id


_PAIR = make_pair(9, "c39ea6b2-6052-45e4-a207-415e0205ab6f", EDI, OIO)
_SAMPLES = (edifact_twin(_PAIR.xdis91), edifact_twin(_PAIR.xbin01))
_ENVELOPE_OF = {sample: wrapped(sample, EDI.ean, OIO.ean) for sample in _SAMPLES}


@settings(max_examples=150, deadline=None)
@given(
    sample=st.sampled_from(_SAMPLES),
    cut=st.integers(min_value=0, max_value=2000),
    at=st.integers(min_value=0, max_value=2000),
    byte=st.binary(min_size=1, max_size=3),
)
def test_a_damaged_edifact_letter_is_identified_with_findings_never_an_exception(
    sample: bytes, cut: int, at: int, byte: bytes
) -> None:
    damaged = sample[: max(cut, 40)]
    position = 9 + at % (len(damaged) - 9)  # after the UNA: still recognisably EDIFACT
    damaged = damaged[:position] + byte + damaged[position + 1 :]
    envelope = (
        _ENVELOPE_OF[sample]
        .replace(base64.b64encode(sample), base64.b64encode(damaged))
        .replace(f"<SizeInBytes>{len(sample)}<".encode(), f"<SizeInBytes>{len(damaged)}<".encode())
    )
    try:
        inbound = EnvelopeIdentifier().identify(envelope, mailbox=EDI.ean)
    except Unreadable:
        return  # no longer an EDIFACT interchange at all: quarantined
    if inbound.valid:
        return
    assert inbound.first_error
    answer = ReceiptAnswers().negative_vans_receipt(
        inbound,
        envelope,
        RejectCause.INVALID,
        inbound.first_error,
        mailbox=EDI.ean,
        now=NOW,
        new_id=lambda: str(uuid.uuid4()),
    )
    if answer is not None:  # a CTL01 the sender's system can read
        assert answer.kind == "ctl01" and answer.receiver_gln == EDI.ean
        assert validate_as("ctl01", vans.unwrap(answer.data).payload).valid

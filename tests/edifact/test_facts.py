"""The identification facts the hub routes and correlates on, read from MedCom's EDIFACT samples."""

from __future__ import annotations

from medcom_bridge.edifact import Acknowledged, edifact_twin, read_facts
from medcom_bridge.oioxml.codec import parse
from tests.edifact.test_pairs import EDIFACT, OIOXML


def test_dis91_facts() -> None:
    f = read_facts((EDIFACT / "DIS91_1_edifactconv_pair.edi").read_bytes())
    assert (f.kind, f.version, f.sender_ean, f.receiver_ean) == (
        "dis91",
        "D9134L",
        "5790000120400",
        "5790000128700",
    )
    assert (f.envelope_id, f.letter_id, f.ack_requested, f.acknowledges) == (
        "KuvertNr012234",
        "BrevNr00129",
        False,
        None,
    )


def test_referenced_and_contained_objects_match_between_letter_and_attachment() -> None:
    dis91 = read_facts(edifact_twin((OIOXML / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes()))
    bin01 = read_facts(edifact_twin((OIOXML / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes()))
    assert dis91.referenced_objects == bin01.contained_objects == ("C39EA6B2605245E4A207415E0205AB6F",)
    assert dis91.ack_requested


def test_what_a_ctl_acknowledges() -> None:
    ctl01 = read_facts((EDIFACT / "CTL01_1_edifactconv_pair.edi").read_bytes())
    assert ctl01.acknowledges == Acknowledged(
        "MEDREF01095",
        "5790000181872",
        "5790000120420",
        ("1111FRE01095", "1111MAN01095"),
        False,
        "ukendt_lokationsnummer",
        "EDI-kuvert afsendt 11/11 1999 kl 18.46 har ikke kunnet modtages. "
        "Modtagerlokationsnummer har ikke kunnet identificeres.",
    )
    ctl03 = read_facts((EDIFACT / "CTL03_1_edifactconv_pair.edi").read_bytes())
    assert (
        ctl03.acknowledges is not None
        and ctl03.acknowledges.positive
        and ctl03.acknowledges.refuse_code is None
    )


def test_facts_agree_with_the_oioxml_twin() -> None:
    for name in ("XCTL03_medcom_flow4_to_fhir_for_XDIS91", "XDIS91_2_edifactconv_pair"):
        m = parse((OIOXML / f"{name}.xml").read_bytes())
        f = read_facts(edifact_twin(m))
        assert (f.letter_id, f.envelope_id, f.sender_ean) == (
            m.body.letter.identifier,
            m.envelope.identifier,
            m.body.sender.ean_identifier,
        )

"""privacy.py: what a message may quote."""

from __future__ import annotations

import pytest

from medcom_bridge.findings import error
from medcom_bridge.privacy import fhir_path, is_patient_field, mask_cpr, masked, quote, scrub


def test_mask_cpr_keeps_the_shape_only() -> None:
    assert mask_cpr("251248-9996") == "25xxxx-xxxx"
    assert mask_cpr("2512489996") == "25xxxxxxxx"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'251248-9996' is not a CPR number", "'25xxxx-xxxx' is not a CPR number"),
        ("CPR 2512489996, again 251248 9996.", "CPR 25xxxxxxxx, again 25xxxx xxxx."),
        ("X-eCPR 0703921VJ4 and D-eCPR 1206550VK9", "X-eCPR 07xxxxxxxx and D-eCPR 12xxxxxxxx"),
        # Not CPR numbers: an EAN (13 digits), a SOR code, an impossible date, a timestamp, a size.
        ("EAN 5790001987244, SOR 441211000016000", "EAN 5790001987244, SOR 441211000016000"),
        ("3213991234 20240905140000 1234567890", "3213991234 20240905140000 1234567890"),
    ],
)
def test_scrub_masks_cpr_shaped_numbers_only(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_every_finding_is_scrubbed() -> None:
    assert error("r", "p", "found 2512489996").message == "found 25xxxxxxxx"


@pytest.mark.parametrize(
    ("path", "patient"),
    [
        ("ClinicalEmail/Patient/CivilRegistrationNumber", True),
        ("VANSEnvelope/Message/Data/BinaryLetter/Patient/PersonSurnameName", True),
        ("ClinicalEmail/ClinicalInformation[1]/Text01", True),
        ("ClinicalEmail/Reference[2]/RefDescription", True),
        ("NegativeReceipt/OriginalEmessage/OriginalLetter[1]/RefuseText", True),
        ("ClinicalEmail/Sender/OrganisationName", False),
        ("Envelope/Identifier", False),
        ("Patient.name[0].family", True),
        ("RelatedPerson.telecom[0].value", True),
        ("Communication.payload[1].contentString", True),
        ("Communication.category[0].coding[0].code", False),
        ("Organization.text.div", True),
        ("Organization.name", False),
        ("Bundle.entry[1].resource.name", False),  # a bundle path says nothing: use fhir_path first
    ],
)
def test_is_patient_field(path: str, patient: bool) -> None:
    assert is_patient_field(path) is patient


def test_fhir_path_names_the_resource() -> None:
    assert (
        fhir_path("Patient", "Bundle.entry[1].resource", "Bundle.entry[1].resource.name[0]")
        == "Patient.name[0]"
    )
    assert fhir_path("", "Bundle.entry[1].resource", "Bundle.type") == "Bundle.type"


def test_quote() -> None:
    assert quote("superhurtig", "ClinicalEmail/AdditionalInformation/Priority") == "'superhurtig'"
    assert quote("Ann Berggren", "ClinicalEmail/Patient/PersonSurnameName") == "the value"
    assert quote("251248-9996", "ClinicalEmail/Patient/CivilRegistrationNumber") == "'25xxxx-xxxx'"
    assert quote("x" * 80, "Envelope/Identifier") == repr("x" * 60 + "…")
    assert masked(" 2512489996 ") == "'25xxxxxxxx'"


def test_log_filter_masks_messages_arguments_and_tracebacks() -> None:
    import io
    import logging

    from medcom_bridge.privacy import ScrubLogFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubLogFilter())
    logger = logging.getLogger("test-privacy-scrub")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("INSERT ... parameters %s", ("2512489996", "5790001987244"))
        try:
            raise ValueError("bad CPR 251248-9996")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "2512489996" not in out and "251248-9996" not in out
    assert "25xxxxxxxx" in out and "25xxxx-xxxx" in out and "5790001987244" in out

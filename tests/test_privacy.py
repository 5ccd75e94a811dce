"""privacy.py: what a message may quote."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge.findings import error
from medcom_bridge.privacy import (
    PATIENT_MASK,
    fhir_path,
    is_patient_field,
    mask_cpr,
    mask_patient,
    masked,
    patient_identity,
    quote,
    scrub,
)


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


# -- one letter's patient, masked in a receiver's free text ----------------------------------------------------
def test_patient_identity_of_every_letter_format() -> None:
    from medcom_bridge.envelope.vans import unwrap
    from tests.test_privacy_leaks import FHIR_JSON, XDIS91
    from tests.web.conftest import envelope

    flow3 = unwrap(envelope()).payload  # FHIR XML
    assert patient_identity(flow3) == {"Nancy", "Ann Berggren", "2512489996"}
    assert patient_identity(XDIS91.read_bytes()) == {"Nancy", "Ann Berggren", "2512489996"}
    assert patient_identity(FHIR_JSON.read_bytes()) == {"Bruno", "Elmer", "2509479989"}
    for unreadable in (b"", b"{", b"<a><b>", b"UNA:+.? 'UNB+UNOC:3", b'{"entry": 3}', b"[1]"):
        assert patient_identity(unreadable) == frozenset()


def test_mask_patient_masks_whole_names_any_case_and_identifiers() -> None:
    identity = frozenset({"Nancy", "Ann Berggren", "2512489996"})
    said = "Brev om NANCY Ann berggren (2512489996) til Annberggren på Nancyvej kunne ikke læses"
    assert mask_patient(said, identity) == (
        "Brev om [patient] [patient] [patient] (25xxxxxxxx) til Annberggren på Nancyvej kunne ikke læses"
    )
    assert mask_patient(said, frozenset()) == said


_WORD = st.text(st.characters(categories=["L"]), min_size=2, max_size=12)


@given(names=st.lists(_WORD, min_size=1, max_size=3), before=st.text(), after=st.text())
def test_mask_patient_leaves_no_name_word(names: list[str], before: str, after: str) -> None:
    identity = frozenset({" ".join(names)})
    text = mask_patient(f"{before} {' '.join(reversed(names))} {after}", identity)
    for word in names:
        if word.lower() not in PATIENT_MASK:
            assert re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is None, text


_KEYS = ["entry", "resource", "resourceType", "Patient", "name", "family", "given", "identifier", "value"]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.just("Patient"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=12,
)


@given(data=st.binary(max_size=200), tree=_JSON)
def test_patient_identity_of_garbage_is_empty_or_strings_never_an_error(data: bytes, tree: object) -> None:
    import json

    for payload in (data, b"<" + data, json.dumps(tree).encode()):
        assert all(isinstance(v, str) and v for v in patient_identity(payload))

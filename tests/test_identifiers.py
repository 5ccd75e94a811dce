"""One implementation per identifier rule: known values, and every caller agreeing with it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge import identifiers
from medcom_bridge.fhir import rules_identifiers
from medcom_bridge.fhir.parties import BuildError, Organization
from medcom_bridge.registry import gln

# Real location numbers from MedCom's samples and the SOR extracts.
REAL_GLNS = ["5790001382445", "5790000121441", "5790001987244", "5790000209354", "5790001348120"]


def _gs1_from_the_left(body: str) -> int:
    # GS1's own table for GTIN-13/GLN: odd positions (1-based, from the left) weigh 1, even positions 3.
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return -total % 10


def test_gs1_check_digit_of_real_location_numbers() -> None:
    for value in REAL_GLNS:
        assert identifiers.gln_ok(value), value
        assert identifiers.gs1_check_digit(value[:12]) == int(value[12])
    assert not identifiers.gln_ok("5790001382446")
    assert not identifiers.gln_ok("579000138244")
    assert not identifiers.gln_ok("57900013824450")
    assert not identifiers.gln_ok("٥790001382445")  # a non-ASCII digit is not a digit here


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_every_gln_check_agrees(value: str) -> None:
    expected = identifiers.gs1_check_digit(value[:12]) == int(value[12])
    assert expected == (_gs1_from_the_left(value[:12]) == int(value[12]))
    assert identifiers.gln_ok(value) is expected
    assert (rules_identifiers.check_gln(value) is None) is expected
    assert (gln.problem(value) is None) is (expected and value not in gln.PLACEHOLDERS)
    try:
        Organization(sor="441211000016000", ean=value)
        built = True
    except BuildError:
        built = False
    assert built is expected


def test_cvr_modulus_11() -> None:
    for good in ("10150817", "25313763"):
        assert identifiers.cvr_ok(good)
        assert rules_identifiers.check_cvr(good) is None
    assert not identifiers.cvr_ok("10150818")


def test_cpr_patterns_know_the_calendar() -> None:
    assert identifiers.CPR.fullmatch("2902001234")
    assert not identifiers.CPR.fullmatch("3002001234")  # no 30 February
    assert not identifiers.CPR.fullmatch("3104001234")  # no 31 April
    assert identifiers.X_ECPR.fullmatch("0703921VJ4") and not identifiers.X_ECPR.fullmatch("0703922VJ4")
    assert identifiers.D_ECPR.fullmatch("1206550VK9") and not identifiers.D_ECPR.fullmatch("1206551VK9")
    assert identifiers.URN_UUID_V5.fullmatch("urn:uuid:6fb927da-3be1-5b9f-8875-a6326617d20b")
    assert not identifiers.URN_UUID_V5.fullmatch("urn:uuid:6fb927da-3be1-4b9f-8875-a6326617d20b")


def test_phone_syntax_is_shared_by_builder_and_validator() -> None:
    from medcom_bridge.fhir import rules_carecommunication
    from medcom_bridge.fhir.parties import Author

    assert rules_carecommunication.CONTACT_INTENDED is identifiers.PHONE
    assert identifiers.PHONE.fullmatch("+45 38-68 38 68") and not identifiers.PHONE.fullmatch("-38683868")
    assert Author(family="Hansen", role_code="laege", phone="+45 38683868").phone
    with pytest.raises(BuildError) as refused:
        Author(family="Hansen", role_code="laege", phone="ring til mig")
    assert refused.value.rule == "medcom-core-contact"

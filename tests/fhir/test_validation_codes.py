"""The checked-in code and profile tables are what the packages say; identifier checks."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from medcom_bridge.fhir import rules_identifiers as ids
from medcom_bridge.fhir._codes import VALUE_SETS
from tests.conftest import REPO


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "generate_fhir_codes", REPO / "scripts" / "generate_fhir_codes.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_fhir_codes"] = module
    spec.loader.exec_module(module)
    return module


def test_checked_in_tables_match_the_packages() -> None:
    gen = _generator()
    codes, profiles = gen.render()
    assert (REPO / "medcom_bridge" / "fhir" / "_codes.py").read_text("utf-8") == codes
    assert (REPO / "medcom_bridge" / "fhir" / "_profiles.py").read_text("utf-8") == profiles


CATEGORIES = "http://medcomfhir.dk/ig/terminology/ValueSet/medcom-careCommunication-categories"
CATEGORY_CS = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
ROLES = "http://medcomfhir.dk/ig/terminology/ValueSet/medcom-core-PractitionerRoles"
SKS = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ"


def test_terminology_versions_differ_as_documented() -> None:
    v4, v5 = (
        set(VALUE_SETS["1.7.0"][CATEGORIES][CATEGORY_CS]),
        set(VALUE_SETS["2.0.1"][CATEGORIES][CATEGORY_CS]),
    )
    assert len(v4) == 16 and len(v5) == 18
    assert v5 - v4 == {"acute-ambulant", "extended-care-responsibility"}
    roles4, roles5 = set(VALUE_SETS["1.7.0"][ROLES][SKS]), set(VALUE_SETS["2.0.1"][ROLES][SKS])
    assert roles5 - roles4 == {"psykolog", "socialogsundhedsmedhjaelper", "sygeplejesekretaer"}
    encounter = VALUE_SETS["2.0.1"][
        "http://medcomfhir.dk/ig/terminology/ValueSet/medcom-core-encounter-class"
    ]
    assert "OBSENC" not in encounter["http://terminology.hl7.org/CodeSystem/v3-ActCode"]
    assert "AMB" in encounter["http://terminology.hl7.org/CodeSystem/v3-ActCode"]


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (
            ids.check_cpr,
            ["0101011234", "2902001234", "3112991234"],
            ["3002001234", "3104001234", "010101123", "01010112345", "0113011234"],
        ),
        (ids.check_x_ecpr, ["0703921VJ4", "0703927AB0"], ["0703922VJ4", "0703921vj4", "3202921VJ4"]),
        (ids.check_d_ecpr, ["1206550VK9", "1206555AA1", "1206556ZZ0"], ["1206551VK9", "120655OVK9"]),
        (ids.check_sor, ["441211000016000", "12345678901"], ["1234567890", "44121100001600x", ""]),
        (
            ids.check_gln,
            ["5790001987244", "5790000209354", "5790001348120"],
            ["5790001987245", "579000198724", "57900019872440"],
        ),
        (ids.check_cvr, ["10150817", "25313763"], ["10150818", "1015081", "abcdefgh"]),
        (
            ids.check_kombit,
            ["urn:uuid:0e6ae3b5-c4b5-4e58-9c3d-2b2d2a4e6d11"],
            ["0e6ae3b5-c4b5-4e58-9c3d-2b2d2a4e6d11", "urn:uuid:X"],
        ),
    ],
)
def test_identifier_checks(check, good, bad) -> None:  # type: ignore[no-untyped-def]
    for value in good:
        assert check(value) is None, value
    for value in bad:
        assert check(value), value


def test_cpr_messages_never_echo_the_number() -> None:
    message = ids.check_cpr("3102479989")
    assert message is not None and "3102479989" not in message

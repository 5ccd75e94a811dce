"""The code displays everyone shows come from MedCom's CodeSystems (read here straight from the packages)."""

from __future__ import annotations

import json
import tarfile

from medcom_bridge.convert.fhir_to_oioxml import _role_text
from medcom_bridge.fhir import canonical, terminology
from tests.conftest import DATA

TERMINOLOGY_201 = DATA / "fhir" / "packages" / "medcom.fhir.dk.terminology-2.0.1.tgz"


def _code_system(name: str) -> dict:  # type: ignore[type-arg]
    with tarfile.open(TERMINOLOGY_201) as tar:
        handle = tar.extractfile(f"package/CodeSystem-{name}.json")
        assert handle is not None
        return json.load(handle)  # type: ignore[no-any-return]


def test_category_displays_are_the_danish_designations() -> None:
    cs = _code_system("medcom-careCommunication-categoryCodes")
    danish = {
        c["code"]: next(d["value"] for d in c["designation"] if d["language"] == "da") for c in cs["concept"]
    }
    assert danish == terminology.CATEGORIES
    assert list(terminology.CATEGORIES) == [c["code"] for c in cs["concept"]]  # the CodeSystem's order
    assert terminology.CATEGORIES["home-care-assessment"] == "Visitation"


def test_role_displays_are_the_code_systems_displays() -> None:
    sks = _code_system("medcom-core-PractitionerRolesSKSadministrativ")
    assert {c["code"]: c["display"] for c in sks["concept"]} == terminology.ROLES_SKS
    assert terminology.ROLES_AUTH == {
        "ambulancebehandler": "Ambulancebehandler",
        "laege": "Læge",
        "osteopat": "Osteopat",
    }
    assert terminology.ROLE_SYSTEMS["laege"] == canonical.CS_ROLES_AUTH
    assert terminology.ROLE_SYSTEMS["NAVU"] == canonical.CS_NULLFLAVOR
    assert set(terminology.ROLE_DISPLAYS) == set(terminology.ROLE_SYSTEMS)


def test_navu_reads_the_same_in_the_renderer_and_the_xdis91_text() -> None:
    # Before: the converter wrote 'Ikke oplyst', the builder/renderer 'Ikke tilgængelig' (HL7: 'not available').
    assert terminology.ROLE_DISPLAYS["NAVU"] == "Ikke tilgængelig"
    role = {"code": [{"coding": [{"system": canonical.CS_NULLFLAVOR, "code": "NAVU"}]}]}
    assert _role_text(role) == "Ikke tilgængelig"


def test_mime_types_and_encounter_codes_come_from_the_value_sets() -> None:
    assert {
        "application/pdf",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "image/bmp",
    } == terminology.MIME_TYPES
    assert "OBSENC" not in terminology.ENCOUNTER_CLASSES and "other" in terminology.ENCOUNTER_CLASSES
    assert "in-progress" in terminology.ENCOUNTER_STATUSES
    assert terminology.display(canonical.CS_CATEGORY, "other") == "Andet"
    assert terminology.display(canonical.CS_CATEGORY, "no-such-code") is None

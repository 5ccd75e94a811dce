"""MedCom's codes with the texts shown for them: the one door to the generated `_codes.py`.

Categories, practitioner roles and attachment MIME types are facts of MedCom's terminology packages; the
generator (`scripts/generate_fhir_codes.py`) copies them, with their displays, into `_codes.py`, and the
builder, renderer, validator and converter read them here instead of keeping their own lists. A display is
the CodeSystem's Danish designation where it has one (categories), otherwise its display (roles are Danish
already; v3-NullFlavor's NAVU is the one HL7 display, written down in the generator).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir._codes import DISPLAYS, TERMINOLOGY_FOR_STACK, VALUE_SETS

#: The terminology release the builder and converter write: the one CareCommunication 5.0 pins.
TERMINOLOGY: Final = TERMINOLOGY_FOR_STACK["5.0"]


def display(system: str, code: str, terminology: str = TERMINOLOGY) -> str | None:
    """The text shown for `system#code`, or None when the CodeSystem (or code) is not MedCom's to name."""
    return DISPLAYS.get(terminology, {}).get(system, {}).get(code)


def value_set_codes(value_set: str, terminology: str = TERMINOLOGY) -> dict[str, tuple[str, str | None]]:
    """code -> (code system, display) for every code of a ValueSet, in its CodeSystems' order."""
    out: dict[str, tuple[str, str | None]] = {}
    for system, codes in VALUE_SETS[terminology][value_set].items():
        members = set(codes)
        shown = DISPLAYS.get(terminology, {}).get(system, {})
        for code in [c for c in shown if c in members] + [c for c in codes if c not in shown]:
            out[code] = (system, shown.get(code))
    return out


def _displays(codes: Mapping[str, tuple[str, str | None]], system: str) -> dict[str, str]:
    return {code: shown or code for code, (cs, shown) in codes.items() if cs == system}


_ROLES: Final = value_set_codes(url.VS_ROLES)

#: medcom-careCommunication-categories: code -> Danish display (always shown to sender and receiver, §3.1).
CATEGORIES: Final = _displays(value_set_codes(url.VS_CATEGORIES), url.CS_CATEGORY)

#: medcom-core-PractitionerRoles, per CodeSystem: code -> display (§4.3).
ROLES_SKS: Final = _displays(_ROLES, url.CS_ROLES_SKS)
ROLES_AUTH: Final = _displays(_ROLES, url.CS_ROLES_AUTH)
ROLE_NULLFLAVOR: Final = _displays(_ROLES, url.CS_NULLFLAVOR)
ROLE_SYSTEMS: Final = {code: system for code, (system, _) in _ROLES.items()}
ROLE_DISPLAYS: Final = {code: shown or code for code, (_, shown) in _ROLES.items()}

#: medcom-core-encounter-class and R4 encounter-status: what an episode-of-care Encounter may say (§4.4).
ENCOUNTER_CLASSES: Final = frozenset(value_set_codes(url.VS_ENCOUNTER_CLASS))
ENCOUNTER_STATUSES: Final = frozenset(value_set_codes(url.VS_ENCOUNTER_STATUS))

#: medcom-core-attachmentMimeTypes: the types a CareCommunication attachment may have (all must be receivable).
MIME_TYPES: Final = frozenset(
    code for codes in VALUE_SETS[TERMINOLOGY][url.VS_MIME_TYPES].values() for code in codes
)

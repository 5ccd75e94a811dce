"""Danish identifier rules: CPR, X-eCPR, D-eCPR, SOR, GLN (EAN location number), CVR, KOMBIT, UUIDs.

Each check is a pure function `value -> problem or None`; the problem text says what a correct value looks
like. Systems and patterns are from dk-core 3.4.0 and medcom core 3.0.1 (fhir-carecommunication.md §4).
"""

from __future__ import annotations

import re
from collections.abc import Callable

SYSTEM_CPR = "urn:oid:1.2.208.176.1.2"
SYSTEM_X_ECPR = "urn:oid:1.2.208.176.1.6.1.1"
D_ECPR_SYSTEMS = frozenset(
    "urn:oid:1.2.208.176.1.6.1.3" + suffix for suffix in ("", ".177", ".179", ".181", ".183", ".187")
)
SYSTEM_SOR = "urn:oid:1.2.208.176.1.1"
SYSTEM_GLN = "https://www.gs1.org/gln"
SYSTEM_KOMBIT = "https://kombit.dk/sts/organisation"
SYSTEM_CVR = "http://cvr.dk"
SYSTEM_YDERNUMMER = "urn:oid:1.2.208.176.1.4"
# dk-core-organization-mandatory-identifier also accepts this (the HL7 "SOR" OID used by dk-core).
SYSTEM_SOR_ALT = "urn:oid:2.16.840.1.113883.2.24.1.1"
SYSTEM_LPR3 = "https://www.esundhed.dk/Registre/Landspatientregisteret"

# DDMM with the days each month can have (no Feb 30/31), as in dk-core's CPR regex; YY follows.
_DDMM = r"(((0[1-9]|[12][0-9]|3[01])(01|03|05|07|08|10|12))|((0[1-9]|[12][0-9]|30)(04|06|09|11))|((0[1-9]|[12][0-9])02))"
CPR = re.compile(_DDMM + r"[0-9]{6}")
X_ECPR = re.compile(_DDMM + r"[0-9]{2}[17][A-Z]{2}[0-9]")
D_ECPR = re.compile(_DDMM + r"[0-9]{2}[056][A-Z]{2}[0-9]")
SOR = re.compile(r"[0-9]{11,}")
GLN = re.compile(r"[0-9]{13}")
CVR = re.compile(r"[0-9]{8}")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
URN_UUID = re.compile("urn:uuid:" + UUID)
URN_UUID_V5 = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def gs1_check_digit_ok(digits: str) -> bool:
    """GS1 mod-10: weights 3,1,3,1,... from the right, excluding the check digit."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def cvr_ok(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, (2, 7, 6, 5, 4, 3, 2, 1), strict=True)) % 11 == 0


def check_cpr(value: str) -> str | None:
    if CPR.fullmatch(value):
        return None
    return f"{_mask(value)} is not a CPR number; expected 10 digits starting with a valid date DDMMYY, e.g. '0101011234'"


def check_x_ecpr(value: str) -> str | None:
    if X_ECPR.fullmatch(value):
        return None
    return (
        f"{_mask(value)} is not an X-eCPR; expected DDMMYY, '1' or '7', "
        "2 upper-case letters and a digit, e.g. '0703921VJ4'"
    )


def check_d_ecpr(value: str) -> str | None:
    if D_ECPR.fullmatch(value):
        return None
    return (
        f"{_mask(value)} is not a D-eCPR; expected DDMMYY, '0', '5' or '6', "
        "2 upper-case letters and a digit, e.g. '1206550VK9'"
    )


def check_sor(value: str) -> str | None:
    if SOR.fullmatch(value):
        return None
    return f"{value[:40]!r} is not a SOR id; expected at least 11 digits, e.g. '441211000016000'"


def check_gln(value: str) -> str | None:
    if not GLN.fullmatch(value):
        return f"{value[:40]!r} is not a GLN (EAN location number); expected exactly 13 digits"
    if not gs1_check_digit_ok(value):
        return f"{value!r} has a wrong GS1 check digit (last digit); expected {_gln_digit(value)}"
    return None


def check_cvr(value: str) -> str | None:
    if not CVR.fullmatch(value):
        return f"{value[:40]!r} is not a CVR number; expected 8 digits"
    if not cvr_ok(value):
        return f"{value!r} fails the CVR modulus-11 check (weights 2,7,6,5,4,3,2,1)"
    return None


def check_kombit(value: str) -> str | None:
    if URN_UUID.fullmatch(value):
        return None
    return f"{value[:60]!r} is not a KOMBIT organisation id; expected 'urn:uuid:' and a lower-case UUID"


def _gln_digit(value: str) -> str:
    for d in "0123456789":
        if gs1_check_digit_ok(value[:-1] + d):
            return d
    return "?"  # pragma: no cover - one digit always fits


def _mask(value: str) -> str:
    """Never echo a (possibly real) CPR number: logs and reports must not carry patient data."""
    return f"a {len(value)}-character value" if value else "an empty value"


# Organisation identifier systems -> (rule id, check).
ORGANIZATION_CHECKS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    SYSTEM_SOR: ("identifier-sor", check_sor),
    SYSTEM_GLN: ("identifier-gln", check_gln),
    SYSTEM_CVR: ("identifier-cvr", check_cvr),
    SYSTEM_KOMBIT: ("identifier-kombit", check_kombit),
}

# Patient identifier systems -> (rule id, check, fixed `use`).
PATIENT_CHECKS: dict[str, tuple[str, Callable[[str], str | None], str]] = {
    SYSTEM_CPR: ("identifier-cpr", check_cpr, "official"),
    SYSTEM_X_ECPR: ("identifier-x-ecpr", check_x_ecpr, "temp"),
    **{s: ("identifier-d-ecpr", check_d_ecpr, "temp") for s in D_ECPR_SYSTEMS},
}

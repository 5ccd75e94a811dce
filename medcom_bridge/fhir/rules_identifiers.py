"""Danish identifier rules: CPR, X-eCPR, D-eCPR, SOR, GLN (EAN location number), CVR, KOMBIT, UUIDs.

Each check is a pure function `value -> problem or None`; the problem text says what a correct value looks
like. Systems and patterns are from dk-core 3.4.0 and medcom core 3.0.1 (fhir-carecommunication.md §4).
"""

from __future__ import annotations

from collections.abc import Callable

from medcom_bridge import identifiers
from medcom_bridge.fhir import canonical as url
from medcom_bridge.identifiers import CPR, CVR, D_ECPR, GLN, SOR, URN_UUID, X_ECPR, cvr_ok, gs1_check_digit_ok
from medcom_bridge.privacy import masked

SYSTEM_CPR = url.SYS_CPR
SYSTEM_X_ECPR = url.SYS_X_ECPR
D_ECPR_SYSTEMS = url.SYS_D_ECPR_REGIONAL
SYSTEM_SOR = url.SYS_SOR
SYSTEM_GLN = url.SYS_EAN
SYSTEM_KOMBIT = url.SYS_KOMBIT
SYSTEM_CVR = url.SYS_CVR
SYSTEM_YDERNUMMER = url.SYS_YDERNUMMER
SYSTEM_SOR_ALT = url.SYS_SOR_ALT
SYSTEM_LPR3 = url.SYS_LPR3_EPISODE


def check_cpr(value: str) -> str | None:
    if CPR.fullmatch(value):
        return None
    return f"{_mask(value)} is not a CPR number; expected 10 digits starting with a valid date DDMMYY, e.g. 'DDMMYY1234'"


def check_x_ecpr(value: str) -> str | None:
    if X_ECPR.fullmatch(value):
        return None
    return (
        f"{_mask(value)} is not an X-eCPR; expected DDMMYY, '1' or '7', "
        "2 upper-case letters and a digit, e.g. 'DDMMYY1VJ4'"
    )


def check_d_ecpr(value: str) -> str | None:
    if D_ECPR.fullmatch(value):
        return None
    return (
        f"{_mask(value)} is not a D-eCPR; expected DDMMYY, '0', '5' or '6', "
        "2 upper-case letters and a digit, e.g. 'DDMMYY0VK9'"
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
    return str(identifiers.gs1_check_digit(value[:-1]))


def _mask(value: str) -> str:
    """Never echo a (possibly real) CPR number: logs and reports must not carry patient data."""
    return masked(value) if value else "an empty value"


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

"""Danish health identifiers: one implementation of each syntax and check-digit rule.

GLN (EAN location number, GS1 mod-10), CVR (modulus 11), SOR, CPR and the replacement CPR numbers (X-eCPR,
D-eCPR), KOMBIT UUIDs, and the phone number of a signature. Patterns follow dk-core 3.4.0 and MedCom core 3.0.1 (fhir-carecommunication.md §4);
the GS1 rule is the GS1 General Specifications' (the EER profile's FHIRPath version is wrong when the
weighted sum is a multiple of 10, sor-ehmi.md §d).

Dependency-free on purpose: the FHIR validator and builder, the OIOXML and envelope checks and the register
all import it. Callers own their rule ids and messages; this module only answers "is it well-formed".
"""

from __future__ import annotations

import re
from typing import Final

# DDMM with the days each month can have (no Feb 30/31), as in dk-core's CPR regex; YY follows.
_DDMM: Final = (
    r"(?:(?:(?:0[1-9]|[12][0-9]|3[01])(?:01|03|05|07|08|10|12))"
    r"|(?:(?:0[1-9]|[12][0-9]|30)(?:04|06|09|11))|(?:(?:0[1-9]|[12][0-9])02))"
)
#: The first four digits of a CPR number (a day and month that exist), for patterns that look for one in text.
CPR_DDMM: Final = _DDMM
CPR: Final = re.compile(_DDMM + r"[0-9]{6}")
X_ECPR: Final = re.compile(_DDMM + r"[0-9]{2}[17][A-Z]{2}[0-9]")
D_ECPR: Final = re.compile(_DDMM + r"[0-9]{2}[056][A-Z]{2}[0-9]")
SOR: Final = re.compile(r"[0-9]{11,}")
GLN: Final = re.compile(r"[0-9]{13}")
CVR: Final = re.compile(r"[0-9]{8}")
UUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
URN_UUID: Final = re.compile("urn:uuid:" + UUID)
URN_UUID_V5: Final = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)

#: A phone number as the contact extension intends it (MedCom's own regex only asks for one digit somewhere).
PHONE: Final = re.compile(r"\+?[0-9][-0-9 ]*")

_CVR_WEIGHTS: Final = (2, 7, 6, 5, 4, 3, 2, 1)


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the data digits `body`: weights 3,1,3,1,... from the rightmost."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gs1_check_digit_ok(digits: str) -> bool:
    """Whether the last of `digits` (all ASCII digits) is the GS1 check digit of the others."""
    return gs1_check_digit(digits[:-1]) == int(digits[-1])


def gln_ok(value: str) -> bool:
    """A GLN: exactly 13 ASCII digits with a valid GS1 check digit."""
    return GLN.fullmatch(value) is not None and gs1_check_digit_ok(value)


def cvr_ok(digits: str) -> bool:
    """Whether 8 ASCII digits pass the CVR modulus-11 check (weights 2,7,6,5,4,3,2,1)."""
    return sum(int(d) * w for d, w in zip(digits, _CVR_WEIGHTS, strict=True)) % 11 == 0

"""GS1 Global Location Numbers (EAN location numbers, "lokationsnumre").

The EER profile's FHIRPath check-digit invariant is wrong when the weighted sum is a multiple of 10
(sor-ehmi.md §d), so the GS1 rule from the GS1 General Specifications is used (`medcom_bridge.identifiers`).
"""

from __future__ import annotations

from medcom_bridge import identifiers

# Values seen as stand-ins in MedCom's published EER examples; they are not anyone's location number.
PLACEHOLDERS = frozenset({"0000000000000", "9999999999994"})


def check_digit(first12: str) -> int:
    """GS1 mod-10: weights 3,1,3,1... from the rightmost data digit."""
    return identifiers.gs1_check_digit(first12)


def problem(gln: str) -> str | None:
    """Why `gln` is not a usable GLN, or None when it is one (13 digits, right check digit, no placeholder)."""
    if not identifiers.GLN.fullmatch(gln):
        return f"'{gln}' is not a GLN: a GLN has exactly 13 digits"
    expected = check_digit(gln[:12])
    if int(gln[12]) != expected:
        return f"'{gln}' fails the GS1 check digit: the last digit should be {expected}"
    if gln in PLACEHOLDERS:
        return f"'{gln}' is a placeholder, not a real location number"
    return None


def with_check_digit(first12: str) -> str:
    return first12 + str(check_digit(first12))

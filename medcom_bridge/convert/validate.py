"""Every converted message is validated before it is returned (use cases S1 step 5, Forudsætning 7).

FHIR output goes through our CareCommunication/Acknowledgement validator with exactly the rule breaks the use
cases allow reported as information instead of errors:
* an attachment without `data` and `title` because its XBIN01 is missing, late or invalid (S1.A2/S1.A3):
  the `cardinality` finding on that attachment's `title` only;
* attachment types outside the six CareCommunication types (S1.A4): rule `binding-attachmentMimeTypes`.
Every other rule stays enforced. OIOXML output goes through our OIOXML validator (schema rules of the
official XSDs and MedCom's semantic rules). The verdict is merged with the converter's own findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medcom_bridge.findings import Finding, Report

#: The rule the S1.A4 break triggers (see `medcom_bridge.fhir.validation.RULES`).
FOREIGN_TYPE_RULE = "binding-attachmentMimeTypes"
#: The rule and path ending the S1.A2/S1.A3 break triggers (contentAttachment.title is 1..1).
MISSING_TITLE = ("cardinality", "contentAttachment.title")


def _tolerated(finding: Finding, empty_payloads: frozenset[int]) -> bool:
    rule, suffix = MISSING_TITLE
    if finding.severity != "error" or finding.rule != rule or not finding.path.endswith(suffix):
        return False
    return any(f"payload[{i}]" in finding.path for i in empty_payloads)


def validate_fhir_output(
    bundle: dict[str, Any],
    findings: Sequence[Finding],
    *,
    empty_payloads: Sequence[int] = (),
    foreign_types: bool = False,
    enabled: bool = True,
    kind: str = "carecommunication",
) -> Report:
    """The converter's findings plus our FHIR validator's verdict on `bundle`.

    `empty_payloads` are the indexes of Communication.payload entries deliberately left without data/title.
    """
    from medcom_bridge.fhir.validation import validate_resource

    version = "5.0" if kind == "carecommunication" else "2.0"
    if not enabled:
        return Report(kind, version, tuple(findings))
    verdict = validate_resource(bundle, downgrade=(FOREIGN_TYPE_RULE,) if foreign_types else ())
    empty = frozenset(empty_payloads)
    checked = tuple(
        Finding("information", f.rule, f.path, f"{f.message} (tolerated: use cases S1.A2/S1.A3)")
        if _tolerated(f, empty)
        else f
        for f in verdict.findings
    )
    return Report(verdict.kind, verdict.version or version, (*findings, *checked))


def validate_oioxml_output(
    data: bytes, kind: str, findings: Sequence[Finding] = (), *, enabled: bool = True
) -> Report:
    """The converter's findings plus our OIOXML validator's verdict on the serialized document."""
    from medcom_bridge.oioxml.validation import validate_bytes

    if not enabled:
        return Report(kind, None, tuple(findings))
    verdict = validate_bytes(data)
    return Report(verdict.kind, verdict.version, (*findings, *verdict.findings))

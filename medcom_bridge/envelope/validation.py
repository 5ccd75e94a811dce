"""Validate a VANSEnvelope together with its payload (kind `vansenvelope`, architecture.md §3.1).

The envelope's own rules come from `vans.read` (the same pass `unwrap` uses). The payload is then validated
by its own validator through `documents.validate_as`, and its findings are moved under
`VANSEnvelope/Message/Data/...` so a reader sees at once that they belong to the letter inside.

Report.kind stays `vansenvelope` and Report.version is the envelope version `1.0.4`; the payload's kind and
version are given in an information finding `vans-payload` (path `VANSEnvelope/Message/Data`), so the
JSON contract keeps one meaning per field.
"""

from __future__ import annotations

from medcom_bridge.documents import validate_as
from medcom_bridge.envelope.vans import (
    EDIFACT_DOCUMENTS,
    FHIR_NAME_PREFIXES,
    OIOXML_NAMES,
    VANS_VERSION,
    read,
)
from medcom_bridge.findings import Finding, Report, error, information

KIND = "vansenvelope"
DATA_PATH = "VANSEnvelope/Message/Data"


def validate_bytes(data: bytes) -> Report:
    """Every finding on the envelope and on the message it carries; never raises for bad input."""
    reading = read(data)
    findings = list(reading.findings)
    payload = reading.payload
    if payload:
        if reading.payload_kind is None:
            problem = reading.payload_problem or "unknown content"
            if "supported:" not in problem:  # an unknown OIOXML body is already told what is supported
                problem += "; supported payloads: " + ", ".join(
                    [*OIOXML_NAMES, *EDIFACT_DOCUMENTS, *FHIR_NAME_PREFIXES]
                )
            findings.append(
                error("vans-payload-unsupported", DATA_PATH, f"the payload cannot be validated: {problem}")
            )
        elif reading.payload_kind != KIND:
            findings.extend(_payload_findings(reading.payload_kind, payload))
    return Report(KIND, VANS_VERSION if reading.is_envelope else None, tuple(findings))


def _payload_findings(kind: str, payload: bytes) -> list[Finding]:
    try:
        report = validate_as(kind, payload)
    except ImportError as exc:
        return [error("vans-payload-unvalidated", DATA_PATH, f"no validator for {kind} is installed ({exc})")]
    except Exception as exc:  # a validator bug must not hide the envelope findings or crash the CLI
        return [
            error(
                "vans-payload-unvalidated",
                DATA_PATH,
                f"the {kind} validator failed ({type(exc).__name__}); the payload is unchecked",
            )
        ]
    errors = sum(1 for f in report.findings if f.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    summary = information(
        "vans-payload",
        DATA_PATH,
        f"payload: {report.kind}{' ' + report.version if report.version else ''}, "
        f"{'valid' if report.valid else 'invalid'} ({errors} errors, {warnings} warnings)",
    )
    return [summary, *(_repath(f) for f in report.findings)]


def _repath(finding: Finding) -> Finding:
    """Put a payload finding under the envelope's Data element; rule and severity stay the payload's."""
    path = finding.path.strip()
    if path in ("", "/"):
        new_path = DATA_PATH
    elif path.startswith("line "):
        new_path = f"{DATA_PATH} ({path} of the payload)"
    else:
        new_path = f"{DATA_PATH}/{path.lstrip('/')}"
    return Finding(finding.severity, finding.rule, new_path, finding.message)

"""EHMI endpoint register (EER) input: a FHIR Bundle of Organization/Endpoint resources, or the CSV extract.

An Endpoint's `payloadType` list is what its GLN can *receive* (sor-ehmi.md §d); the EER says nothing about
sending. MedCom's published data writes the GLN identifier system three ways (`http://www.gs1.org/gln`,
`https://www.gs1.org/gln` and the malformed `//https://www.gs1.org/gln`); all are read, and a non-canonical
spelling is reported once per file so the publisher can fix it.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from medcom_bridge.fhir import canonical
from medcom_bridge.registry import message_types
from medcom_bridge.registry.csv_input import csv_problem, refuse_binary
from medcom_bridge.registry.model import (
    EerEndpoint,
    EerOrganization,
    ImportIssue,
    RegisterInputError,
    Registration,
)

# EHMI writes GS1 with http (MedCom FHIR messages use https: `canonical.SYS_EAN`).
GLN_SYSTEM = "http://www.gs1.org/gln"
SOR_SYSTEM = canonical.SYS_SOR
_ENDPOINT_CSV_COLUMNS = ("gln", "payload_types")
_ENDPOINTS_HEADER = "gln,...,payload_types"


@dataclass(slots=True)
class EerImport:
    endpoints: list[EerEndpoint] = field(default_factory=list)
    organizations: list[EerOrganization] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)

    def registrations(self) -> list[Registration]:
        """Every payload type of every active endpoint as a `receive` registration."""
        out: list[Registration] = []
        for ep in self.endpoints:
            if ep.status not in (None, "active"):
                continue
            for uri in ep.payload_uris:
                known = message_types.by_uri(uri)
                code = known.code if known else uri
                version = known.version if known else None
                out.append(Registration(ep.gln, code, "receive", "eer", version, uri, ep.line))
        return out


def read_eer(data: bytes) -> EerImport:
    """Read an EER FHIR Bundle (JSON) or the endpoints CSV extract; the content decides which."""
    text = data.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise RegisterInputError("the file is empty; expected an EER Bundle (JSON) or the EER endpoints CSV")
    if text.lstrip().startswith("{"):
        return read_eer_bundle(text)
    refuse_binary(data, _ENDPOINTS_HEADER)
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_endpoints(reader)
    except csv.Error as exc:
        raise csv_problem(exc, reader.reader.line_num, _ENDPOINTS_HEADER) from None


def _is_gln_system(system: object) -> bool:
    return isinstance(system, str) and system.rstrip("/").endswith("gs1.org/gln")


def read_eer_bundle(text: str) -> EerImport:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegisterInputError(f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("resourceType") not in ("Bundle", "Endpoint", "Organization"):
        found = doc.get("resourceType") if isinstance(doc, dict) else type(doc).__name__
        raise RegisterInputError(
            f"resourceType is '{found}'; expected an EER Bundle of Endpoint/Organization"
        )
    resources: list[Any]
    if doc["resourceType"] == "Bundle":
        entries = doc.get("entry") or []
        resources = [e.get("resource") for e in entries if isinstance(e, dict)]
    else:
        resources = [doc]
    result = EerImport()
    systems: Counter[str] = Counter()
    for index, res in enumerate(resources):
        if not isinstance(res, dict):
            continue
        where = f"entry[{index}]"
        kind = res.get("resourceType")
        if kind == "Endpoint":
            _endpoint(res, where, result, systems)
        elif kind == "Organization":
            _organization(res, where, result, systems)
    for system, count in sorted(systems.items()):
        if system != GLN_SYSTEM:
            result.issues.append(
                ImportIssue(
                    "eer-gln-system",
                    "warning",
                    None,
                    f"{count} GLN identifier(s) use system '{system}'; expected '{GLN_SYSTEM}' (read anyway)",
                )
            )
    return result


def _identifiers(res: dict[str, Any]) -> list[dict[str, Any]]:
    ids = res.get("identifier")
    if isinstance(ids, dict):
        return [ids]
    return [i for i in ids if isinstance(i, dict)] if isinstance(ids, list) else []


def _endpoint(res: dict[str, Any], where: str, result: EerImport, systems: Counter[str]) -> None:
    glns = [i for i in _identifiers(res) if _is_gln_system(i.get("system"))]
    if not glns or not isinstance(glns[0].get("value"), str):
        result.issues.append(
            ImportIssue(
                "eer-endpoint",
                "error",
                None,
                f"{where} Endpoint/{res.get('id')}: no GLN identifier (system {GLN_SYSTEM}); endpoint skipped",
            )
        )
        return
    for i in glns:
        systems[str(i.get("system"))] += 1
    uris: list[str] = []
    for payload in res.get("payloadType") or []:
        for coding in (payload or {}).get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                uris.append(coding["code"])
    managing = res.get("managingOrganization") or {}
    ident = managing.get("identifier") if isinstance(managing, dict) else None
    managing_sor = ident.get("value") if isinstance(ident, dict) else None
    period = res.get("period") or {}
    result.endpoints.append(
        EerEndpoint(
            gln=glns[0]["value"].strip(),
            status=res.get("status"),
            managing_sor=managing_sor if isinstance(managing_sor, str) else None,
            period_start=period.get("start") if isinstance(period, dict) else None,
            payload_uris=tuple(uris),
        )
    )


def _organization(res: dict[str, Any], where: str, result: EerImport, systems: Counter[str]) -> None:
    sor = next((i.get("value") for i in _identifiers(res) if i.get("system") == SOR_SYSTEM), None)
    if not isinstance(sor, str):
        result.issues.append(
            ImportIssue(
                "eer-organization",
                "warning",
                None,
                f"{where} Organization/{res.get('id')}: no SOR identifier (system {SOR_SYSTEM}); skipped",
            )
        )
        return
    level = None
    for t in res.get("type") or []:
        for coding in (t or {}).get("coding") or []:
            if isinstance(coding, dict) and str(coding.get("system", "")).endswith(
                "eer-sor-organization-type"
            ):
                level = coding.get("code")
    part_of = res.get("partOf") or {}
    part_ident = part_of.get("identifier") if isinstance(part_of, dict) else None
    glns: list[str] = []
    for ref in res.get("endpoint") or []:
        ident = (ref or {}).get("identifier")
        if (
            isinstance(ident, dict)
            and _is_gln_system(ident.get("system"))
            and isinstance(ident.get("value"), str)
        ):
            systems[str(ident.get("system"))] += 1
            glns.append(ident["value"].strip())
    active = res.get("active")
    result.organizations.append(
        EerOrganization(
            sor=sor.strip(),
            name=res.get("name") if isinstance(res.get("name"), str) else None,
            level=level if isinstance(level, str) else None,
            part_of=part_ident.get("value") if isinstance(part_ident, dict) else None,
            endpoint_glns=tuple(glns),
            active=active if isinstance(active, bool) else None,
        )
    )


def _read_endpoints(reader: csv.DictReader[str]) -> EerImport:
    """The endpoints CSV extracted from MedCom's generated EER data (`payload_types` separated by `|`)."""
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in _ENDPOINT_CSV_COLUMNS if c not in header]
    if missing:
        raise RegisterInputError(
            f"neither an EER Bundle (JSON) nor the EER endpoints CSV: missing column(s) {', '.join(missing)}",
            1,
        )
    result = EerImport()
    for row in reader:
        line = reader.line_num
        gln = (row.get("gln") or "").strip()
        if not gln:
            result.issues.append(ImportIssue("eer-endpoint", "error", line, "empty gln; row skipped"))
            continue
        uris = tuple(u.strip() for u in (row.get("payload_types") or "").split("|") if u.strip())
        result.endpoints.append(
            EerEndpoint(
                gln=gln,
                status=(row.get("status") or "").strip() or None,
                managing_sor=(row.get("sor_id_from_name") or "").strip() or None,
                period_start=(row.get("period_start") or "").strip() or None,
                payload_uris=uris,
                line=line,
            )
        )
    return result

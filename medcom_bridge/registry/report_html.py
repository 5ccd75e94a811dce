"""The SOR-EDI quality report as one self-contained HTML page (inline CSS and script, no external files).

jinja2 with autoescape: SOR names and SOR-EDI cells are data from outside and may contain markup.
Each row carries its region, IT system and EDI administrator so the page can filter without a server.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import jinja2

from medcom_bridge.registry.model import LocationNumber
from medcom_bridge.registry.quality import RULES, QualityFinding, QualityReport
from medcom_bridge.registry.register import Register

# Danish regions by SOR RegionCode.
REGION_NAMES = {
    "1081": "Nordjylland",
    "1082": "Midtjylland",
    "1083": "Syddanmark",
    "1084": "Hovedstaden",
    "1085": "Sjælland",
}
# Rows per rule in the page; the JSON output always has every finding.
MAX_ROWS_PER_RULE = 5000

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("medcom_bridge.registry", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, slots=True)
class _Row:
    finding: QualityFinding
    name: str
    region: str
    system: str
    admin: str


@dataclass(frozen=True, slots=True)
class _Section:
    id: str
    title: str
    severity: str
    total: int
    rows: tuple[_Row, ...]


def render(report: QualityReport, register: Register, *, sources: dict[str, str] | None = None) -> str:
    """Render the report; `sources` names the input files for the page header."""
    grouped: dict[str, list[QualityFinding]] = defaultdict(list)
    for f in report.findings:
        grouped[f.rule].append(f)
    sections: list[_Section] = []
    facets: dict[str, set[str]] = {"region": set(), "system": set(), "admin": set()}
    for rule_id in [*RULES, *sorted(r for r in grouped if r not in RULES)]:
        findings = grouped.get(rule_id, [])
        rule = RULES.get(rule_id)
        if rule is None and not findings:
            continue
        rows = tuple(_row(f, register) for f in findings[:MAX_ROWS_PER_RULE])
        for row in rows:
            facets["region"].add(row.region)
            facets["system"].add(row.system)
            facets["admin"].add(row.admin)
        sections.append(
            _Section(
                rule_id,
                rule.title if rule else "Input problems (rows or elements that could not be read)",
                rule.severity if rule else (findings[0].severity if findings else "warning"),
                len(findings),
                rows,
            )
        )
    template = _ENV.get_template("sor_report.html")
    return template.render(
        report=report,
        sections=sections,
        not_run=[r for r in RULES if r not in report.ran],
        facets={k: sorted(v - {""}) for k, v in facets.items()},
        region_names=REGION_NAMES,
        sources=sources or {},
        units=len(register),
        numbers=sum(1 for _ in register.owned_eans()),
        registered=sum(1 for _ in register.registered_eans()),
        endpoints=len(register.endpoints),
        max_rows=MAX_ROWS_PER_RULE,
    )


def _row(f: QualityFinding, register: Register) -> _Row:
    number: LocationNumber | None = register.location_number(f.ean) if f.ean else None
    unit = register.unit(f.sor) if f.sor else None
    if number is None and unit is not None and unit.effective_ean:
        number = register.location_number(unit.effective_ean)
    if unit is None and f.ean:
        unit = register.owner(f.ean)
    return _Row(
        f,
        unit.name if unit else "",
        (number.region or "") if number else "",
        (number.system_type or "") if number else "",
        (number.edi_administrator or "") if number else "",
    )

"""The SOR-EDI data-quality rules R01-R16 (sor-ehmi.md §g), one function per rule.

Each rule looks at the register as of `today` and yields findings that name the location number (`ean`)
and/or SOR code (`sor`) to fix, and say what was found and what is expected. The rules are written so that
one defect is reported by one rule: where two rules would see the same fact, the narrower rule owns it
(an invalid GLN is R01, not also R04; a child repeating its parent's number is R13, not also R02).
Rules about registrations run only when SOR-EDI or EER input was given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from medcom_bridge.findings import Severity
from medcom_bridge.registry import gln, message_types
from medcom_bridge.registry.message_types import RECEIPTS_EDIFACT, RECEIPTS_OIOXML
from medcom_bridge.registry.model import ImportIssue, Unit
from medcom_bridge.registry.register import Register


@dataclass(frozen=True, slots=True)
class QualityFinding:
    rule: str
    severity: Severity
    ean: str | None
    sor: str | None
    message: str

    def to_json(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "ean": self.ean,
            "sor": self.sor,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    title: str
    check: Callable[[_Context], Iterator[QualityFinding]]
    needs_registrations: bool


# Predecessors a FHIR type replaces (R07). HospitalNotification took over the admission/discharge notices.
SUCCESSORS: dict[str, tuple[str, ...]] = {
    "FDIS91": ("DIS91", "XDIS91"),
    "FDIS20": ("DIS20", "XDIS20", "DIS17", "XDIS17"),
}
# Correspondence is a dialogue: who sends letters must also receive them (R10).
DIALOGUE = frozenset({"DIS91", "XDIS91", "FDIS91"})
# Letter type -> the binary type its attachments travel in (R11).
BINARY_FOR: dict[str, str] = {"DIS91": "BIN01", "XDIS91": "XBIN01"}
# R09: a system type counts as XML-only when at least this many of its numbers carry registrations and at
# most this share of them registers any EDIFACT type (no public system-type table exists; sor-ehmi.md §g).
XML_ONLY_MIN_NUMBERS = 5
XML_ONLY_MAX_EDIFACT_SHARE = 0.1
_LIST_MAX = 5


@dataclass(slots=True)
class _Context:
    register: Register
    today: date
    xml_only_system_types: frozenset[str] | None
    _owner_sor: dict[str, str | None] = field(default_factory=dict)

    def owner_sor(self, ean: str) -> str | None:
        if ean not in self._owner_sor:
            owner = self.register.owner(ean)
            self._owner_sor[ean] = owner.sor if owner else None
        return self._owner_sor[ean]

    def registered(self) -> list[str]:
        return sorted(self.register.registered_eans())


def _f(ctx: _Context, rule: str, ean: str | None, sor: str | None, message: str) -> QualityFinding:
    return QualityFinding(rule, RULES[rule].severity, ean, sor, message)


def _short(items: Iterable[str]) -> str:
    items = list(items)
    head = ", ".join(items[:_LIST_MAX])
    return head + (f" and {len(items) - _LIST_MAX} more" if len(items) > _LIST_MAX else "")


def _unit_label(unit: Unit) -> str:
    return f"{unit.sor} '{unit.name}'"


def r01_gln_check_digit(ctx: _Context) -> Iterator[QualityFinding]:
    """R01 (error): a GLN has 13 digits and passes the GS1 mod-10 check."""
    reg = ctx.register
    seen: dict[str, tuple[str | None, str]] = {}
    for ean in reg.owned_eans():
        seen.setdefault(ean, (ctx.owner_sor(ean), "SOR EanLocationCodeEntity"))
    for ean in reg.registered_eans():
        seen.setdefault(ean, (None, "a SOR-EDI/EER registration"))
    for ep in reg.endpoints:
        seen.setdefault(ep.gln, (ep.managing_sor, "an EER Endpoint"))
    for ean in sorted(seen):
        problem = gln.problem(ean)
        if problem:
            sor, where = seen[ean]
            yield _f(ctx, "R01", ean, sor, f"{problem} (found in {where}); correct the location number")


def r02_gln_unique_owner(ctx: _Context) -> Iterator[QualityFinding]:
    """R02 (error): a GLN is owned (EanLocationCodeEntity) by at most one active SOR unit."""
    reg = ctx.register
    for ean in sorted(reg.owned_eans()):
        owners = reg.owners(ean)
        if len(owners) < 2:
            continue
        independent = [u for u in owners if u.active(ctx.today) and not _repeats_parent(reg, u)]
        if len(independent) >= 2:
            yield _f(
                ctx,
                "R02",
                ean,
                independent[0].sor,
                f"GLN {ean} is the own location number of {len(independent)} active units "
                f"({_short(_unit_label(u) for u in independent)}); a GLN belongs to one unit, the others should "
                "inherit it (EntityInheritedIndicator=true) or get their own",
            )


def _repeats_parent(reg: Register, unit: Unit) -> bool:
    parent = reg.unit(unit.parent) if unit.parent else None
    return parent is not None and unit.own is not None and parent.effective_ean == unit.own.ean


def r03_provider_unique(ctx: _Context) -> Iterator[QualityFinding]:
    """R03 (error): a ydernummer (ProviderIdentifier) maps to at most one active SOR unit."""
    for provider, units in sorted(ctx.register.providers()):
        active = [u for u in units if u.active(ctx.today)]
        if len(active) >= 2:
            yield _f(
                ctx,
                "R03",
                active[0].effective_ean,
                active[0].sor,
                f"ydernummer {provider} is on {len(active)} active units ({_short(_unit_label(u) for u in active)}); "
                "a ydernummer identifies one unit",
            )


def r04_registration_gln_active(ctx: _Context) -> Iterator[QualityFinding]:
    """R04 (error): a registration references a GLN that exists in SOR and is active."""
    reg = ctx.register
    for ean in ctx.registered():
        if gln.problem(ean):
            continue  # reported by R01
        types = _short(sorted({r.code for r in reg.registrations(ean)}))
        owner = reg.owner(ean)
        if owner is None or owner.own is None:
            yield _f(
                ctx,
                "R04",
                ean,
                None,
                f"GLN {ean} has registrations ({types}) but is no unit's location number in SOR; "
                "register the number in SOR or remove the registrations",
            )
            continue
        number = owner.own
        if number.non_active:
            yield _f(
                ctx,
                "R04",
                ean,
                owner.sor,
                f"GLN {ean} has registrations ({types}) but SOR marks the number NonActiveIndicator=true",
            )
        elif number.closed(ctx.today):
            yield _f(
                ctx,
                "R04",
                ean,
                owner.sor,
                f"GLN {ean} has registrations ({types}) but the number was closed in SOR on {number.to_date}",
            )


def r05_registration_unit_open(ctx: _Context) -> Iterator[QualityFinding]:
    """R05 (error): registrations exist on a GLN whose owning unit is closed or replaced."""
    reg = ctx.register
    for ean in ctx.registered():
        owners = reg.owners(ean)
        if not owners:
            continue  # R04
        active = [u for u in owners if u.active(ctx.today)]
        if not active:
            owner = owners[0]
            yield _f(
                ctx,
                "R05",
                ean,
                owner.sor,
                f"GLN {ean} still has registrations but its unit {_unit_label(owner)} was closed on "
                f"{owner.to_date}; move the registrations to the successor or remove them",
            )
        elif active[0].replaced_by:
            owner = active[0]
            yield _f(
                ctx,
                "R05",
                ean,
                owner.sor,
                f"GLN {ean} still has registrations but its unit {_unit_label(owner)} is replaced by "
                f"{', '.join(owner.replaced_by)}; move the registrations to the successor",
            )


def r06_inherit_from_closed(ctx: _Context) -> Iterator[QualityFinding]:
    """R06 (error): a unit or number is closed but active children still inherit its GLN."""
    reg = ctx.register
    heirs: dict[str, list[Unit]] = defaultdict(list)
    for unit in reg.units():
        if unit.inherits and unit.ean_from and unit.ean_from != unit.sor and unit.active(ctx.today):
            heirs[unit.ean_from].append(unit)
    for source_sor in sorted(heirs):
        source = reg.unit(source_sor)
        if source is None or source.own is None:
            continue
        number = source.own
        if source.closed(ctx.today):
            why = f"unit {_unit_label(source)} was closed on {source.to_date}"
        elif number.non_active:
            why = f"number {number.ean} is marked NonActiveIndicator=true"
        elif number.closed(ctx.today):
            why = f"number {number.ean} was closed on {number.to_date}"
        else:
            continue
        children = heirs[source_sor]
        yield _f(
            ctx,
            "R06",
            number.ean,
            source.sor,
            f"{why}, but {len(children)} active unit(s) still inherit GLN {number.ean} "
            f"({_short(u.sor for u in children)}); give them an active number",
        )


def r07_fhir_with_legacy(ctx: _Context) -> Iterator[QualityFinding]:
    """R07 (warning): a FHIR successor is registered together with its legacy predecessor on the same GLN."""
    for ean in ctx.registered():
        receive = ctx.register.receives(ean)
        for successor, legacy in SUCCESSORS.items():
            both = [c for c in legacy if c in receive]
            if successor in receive and both:
                yield _f(
                    ctx,
                    "R07",
                    ean,
                    ctx.owner_sor(ean),
                    f"GLN {ean} receives {successor} and still {', '.join(both)}; remove the legacy "
                    f"registration(s) after the cut-over to {successor}",
                )


def r08_edifact_and_oioxml(ctx: _Context) -> Iterator[QualityFinding]:
    """R08 (warning): the same message type is registered in EDIFACT and OIOXML form (DIS91 + XDIS91)."""
    for ean in ctx.registered():
        receive = ctx.register.receives(ean)
        pairs = sorted(
            c
            for c in receive
            if c.startswith("X")
            and c[1:] in receive
            and not message_types.is_receipt(c)
            and not message_types.is_binary(c)
        )
        if pairs:
            shown = ", ".join(f"{c[1:]} + {c}" for c in pairs)
            yield _f(
                ctx,
                "R08",
                ean,
                ctx.owner_sor(ean),
                f"GLN {ean} receives {shown}: the same type in EDIFACT and OIOXML; keep the one the system uses",
            )


def r09_edifact_on_xml_system(ctx: _Context) -> Iterator[QualityFinding]:
    """R09 (warning): an EDIFACT type is registered but the unit's IT system (SystemType) is XML-only."""
    reg = ctx.register
    xml_only = ctx.xml_only_system_types
    if xml_only is None:
        xml_only = infer_xml_only_system_types(reg, ctx.today)
    for ean in ctx.registered():
        number = reg.location_number(ean)
        if number is None or number.system_type not in xml_only:
            continue
        edifact = sorted(_edifact_codes(reg, ean))
        if edifact:
            yield _f(
                ctx,
                "R09",
                ean,
                ctx.owner_sor(ean),
                f"GLN {ean} is registered for EDIFACT {', '.join(edifact)} but its system type "
                f"{number.system_type} exchanges XML only; register the OIOXML/FHIR types instead",
            )


def _edifact_codes(reg: Register, ean: str) -> set[str]:
    caps = reg.capabilities(ean)
    return {c for c in caps.receive | caps.send if message_types.family(c) == "edifact"}


def infer_xml_only_system_types(reg: Register, today: date) -> frozenset[str]:
    """System types whose numbers (nearly) never register EDIFACT: the population defines the norm."""
    total: dict[str, int] = defaultdict(int)
    with_edifact: dict[str, int] = defaultdict(int)
    for ean in reg.registered_eans():
        number = reg.location_number(ean)
        if number is None or number.system_type is None or not number.active(today):
            continue
        total[number.system_type] += 1
        if _edifact_codes(reg, ean):
            with_edifact[number.system_type] += 1
    return frozenset(
        st
        for st, n in total.items()
        if n >= XML_ONLY_MIN_NUMBERS and with_edifact[st] / n <= XML_ONLY_MAX_EDIFACT_SHARE
    )


def _receipt_types(code: str) -> tuple[str, frozenset[str]] | None:
    fam = message_types.family(code)
    if fam == "edifact":
        return "CTL01-03", RECEIPTS_EDIFACT
    if fam == "oioxml":
        return "XCTL01-03", RECEIPTS_OIOXML
    if fam == "fhir":
        return "FCTL (Acknowledgement)", frozenset({message_types.FHIR_ACKNOWLEDGEMENT})
    return None


def r10_send_without_receive(ctx: _Context) -> Iterator[QualityFinding]:
    """R10 (warning): a unit can send a type but cannot receive it (dialogue types) or its receipt type."""
    for ean in ctx.registered():
        caps = ctx.register.capabilities(ean)
        problems: list[str] = []
        for code in sorted(caps.send):
            if message_types.is_receipt(code) or message_types.is_binary(code):
                continue
            if code in DIALOGUE and code not in caps.receive:
                problems.append(f"sends {code} but cannot receive {code}")
            receipts = _receipt_types(code)
            if receipts and not (receipts[1] & caps.receive):
                problems.append(f"sends {code} but cannot receive its receipt {receipts[0]}")
        if problems:
            yield _f(ctx, "R10", ean, ctx.owner_sor(ean), f"GLN {ean} {'; '.join(problems)}")


def r11_letter_without_binary(ctx: _Context) -> Iterator[QualityFinding]:
    """R11 (information): a unit can receive a letter type but not its binary attachment type."""
    for ean in ctx.registered():
        receive = ctx.register.receives(ean)
        missing = [
            f"{letter} without {binary}"
            for letter, binary in BINARY_FOR.items()
            if letter in receive and binary not in receive
        ]
        if missing:
            yield _f(
                ctx,
                "R11",
                ean,
                ctx.owner_sor(ean),
                f"GLN {ean} receives {'; '.join(missing)}: attachments to it will be rejected",
            )


def r12_dead_or_internal(ctx: _Context) -> Iterator[QualityFinding]:
    """R12 (warning): an active GLN has no registrations at all, or has them but OnlyInternalIndicator=true."""
    reg = ctx.register
    for ean in sorted(reg.owned_eans()):
        owner = reg.owner(ean)
        if (
            owner is None
            or owner.own is None
            or not owner.active(ctx.today)
            or not owner.own.active(ctx.today)
        ):
            continue
        registrations = reg.registrations(ean)
        if not registrations:
            yield _f(
                ctx,
                "R12",
                ean,
                owner.sor,
                f"GLN {ean} of {_unit_label(owner)} is active but has no message types registered (dead "
                "number); register what it receives and sends or close the number",
            )
        elif owner.own.only_internal:
            yield _f(
                ctx,
                "R12",
                ean,
                owner.sor,
                f"GLN {ean} has {len(registrations)} registration(s) but SOR marks it OnlyInternalIndicator=true "
                "(not for external communication)",
            )


def r13_own_equals_parent(ctx: _Context) -> Iterator[QualityFinding]:
    """R13 (information): a unit has as its own GLN the GLN its parent already has."""
    reg = ctx.register
    for unit in reg.units():
        if unit.own is not None and unit.active(ctx.today) and _repeats_parent(reg, unit):
            yield _f(
                ctx,
                "R13",
                unit.own.ean,
                unit.sor,
                f"{_unit_label(unit)} has GLN {unit.own.ean} as its own number, the same as its parent "
                f"{unit.parent}; use EntityInheritedIndicator=true instead",
            )


def r14_inherit_from_nothing(ctx: _Context) -> Iterator[QualityFinding]:
    """R14 (error): EntityInheritedIndicator=true but no ancestor has an own GLN."""
    for unit in ctx.register.units():
        if unit.inherits and unit.effective_ean is None and unit.active(ctx.today):
            yield _f(
                ctx,
                "R14",
                None,
                unit.sor,
                f"{_unit_label(unit)} inherits its location number (EntityInheritedIndicator=true) but no "
                "ancestor has one; give it or an ancestor an EanLocationCodeEntity",
            )


def r15_unknown_version(ctx: _Context) -> Iterator[QualityFinding]:
    """R15 (warning): a version code that is not current for its type, or a URI/type not in the EHMI list."""
    reg = ctx.register
    for ean in ctx.registered():
        seen: set[tuple[str, str | None, str | None]] = set()
        for r in reg.registrations(ean):
            key = (r.code, r.version, r.uri)
            if key in seen:
                continue
            seen.add(key)
            if r.uri is not None and message_types.by_uri(r.uri) is None:
                message = f"'{r.uri}' is not in the EHMI message-definition list"
            elif not message_types.is_known(r.code):
                message = f"type '{r.code}' is not a MedCom message type in the EHMI list"
            elif r.version is not None and r.version not in message_types.versions(r.code):
                current = "/".join(sorted(message_types.versions(r.code)))
                message = f"{r.code} version '{r.version}' is not current; expected {current}"
            else:
                continue
            where = f" ({r.source} line {r.line})" if r.line else f" ({r.source})"
            yield _f(ctx, "R15", ean, ctx.owner_sor(ean), f"GLN {ean}: {message}{where}")


def r16_eer_vs_sor_edi(ctx: _Context) -> Iterator[QualityFinding]:
    """R16 (warning): EER and SOR-EDI disagree, or an EER Endpoint GLN is not its organisation's SOR GLN."""
    reg = ctx.register
    reported: set[tuple[str, str | None]] = set()
    if reg.has_edi:
        edi_eans = set(reg.registered_eans("edi"))
        for ep in sorted(reg.endpoints, key=lambda e: e.gln):
            if ep.status not in (None, "active") or (ep.gln, "diff") in reported:
                continue
            reported.add((ep.gln, "diff"))
            sor = ctx.owner_sor(ep.gln) or ep.managing_sor
            if ep.gln not in edi_eans:
                yield _f(
                    ctx, "R16", ep.gln, sor, f"GLN {ep.gln} has an EER Endpoint but no SOR-EDI registrations"
                )
                continue
            eer = {c for c in reg.capabilities(ep.gln, "eer").receive if message_types.is_known(c)}
            edi = {c for c in reg.capabilities(ep.gln, "edi").receive if message_types.is_known(c)}
            if eer != edi:
                parts = []
                if eer - edi:
                    parts.append(f"only in EER: {', '.join(sorted(eer - edi))}")
                if edi - eer:
                    parts.append(f"only in SOR-EDI: {', '.join(sorted(edi - eer))}")
                yield _f(
                    ctx,
                    "R16",
                    ep.gln,
                    sor,
                    f"GLN {ep.gln} receives different types in EER and SOR-EDI ({'; '.join(parts)})",
                )
    links = [
        (ep.gln, ep.managing_sor, "Endpoint managingOrganization") for ep in reg.endpoints if ep.managing_sor
    ]
    links += [(g, o.sor, "Organization.endpoint") for o in reg.organizations for g in o.endpoint_glns]
    for gln_value, sor_code, via in sorted(links):
        if sor_code is None or (gln_value, sor_code) in reported:
            continue
        reported.add((gln_value, sor_code))
        unit = reg.unit(sor_code)
        if unit is not None and unit.effective_ean != gln_value:
            yield _f(
                ctx,
                "R16",
                gln_value,
                sor_code,
                f"EER links GLN {gln_value} to {_unit_label(unit)} ({via}) but the unit's SOR location number is "
                f"{unit.effective_ean or 'none'}",
            )


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("R01", "error", "GLN is 13 digits with a valid GS1 check digit", r01_gln_check_digit, False),
        Rule("R02", "error", "GLN owned by at most one active unit", r02_gln_unique_owner, False),
        Rule("R03", "error", "Ydernummer on at most one active unit", r03_provider_unique, False),
        Rule(
            "R04",
            "error",
            "Registrations on a GLN that exists in SOR and is active",
            r04_registration_gln_active,
            True,
        ),
        Rule(
            "R05", "error", "No registrations on a closed or replaced unit", r05_registration_unit_open, True
        ),
        Rule(
            "R06",
            "error",
            "No inheriting children under a closed unit or number",
            r06_inherit_from_closed,
            False,
        ),
        Rule(
            "R07",
            "warning",
            "FHIR successor registered with its legacy predecessor",
            r07_fhir_with_legacy,
            True,
        ),
        Rule("R08", "warning", "Same type in EDIFACT and OIOXML", r08_edifact_and_oioxml, True),
        Rule("R09", "warning", "EDIFACT registered on an XML-only system", r09_edifact_on_xml_system, True),
        Rule(
            "R10",
            "warning",
            "Can send but not receive the type or its receipt",
            r10_send_without_receive,
            True,
        ),
        Rule(
            "R11",
            "information",
            "Receives a letter type but not its binary type",
            r11_letter_without_binary,
            True,
        ),
        Rule(
            "R12", "warning", "Active GLN without registrations, or only internal", r12_dead_or_internal, True
        ),
        Rule("R13", "information", "Own GLN equal to the parent's GLN", r13_own_equals_parent, False),
        Rule("R14", "error", "Inherits a GLN but no ancestor has one", r14_inherit_from_nothing, False),
        Rule(
            "R15",
            "warning",
            "Version not current or type/URI not in the EHMI list",
            r15_unknown_version,
            True,
        ),
        Rule("R16", "warning", "EER and SOR-EDI disagree", r16_eer_vs_sor_edi, True),
    )
}


def check(
    register: Register,
    today: date,
    *,
    rules: Iterable[str] | None = None,
    xml_only_system_types: frozenset[str] | None = None,
) -> list[QualityFinding]:
    """Run the quality rules (all, or the given ids) and return the findings in rule order."""
    ctx = _Context(register, today, xml_only_system_types)
    has_registrations = register.has_edi or register.has_eer
    out: list[QualityFinding] = []
    for rule_id in rules or RULES:
        rule = RULES[rule_id]
        if rule.needs_registrations and not has_registrations:
            continue
        out.extend(rule.check(ctx))
    return out


def issue_findings(issues: Iterable[ImportIssue]) -> list[QualityFinding]:
    """Import problems shown beside the rules, so a skipped row is never silent."""
    return [
        QualityFinding(
            i.rule, i.severity, i.ean, i.sor, f"line {i.line}: {i.message}" if i.line else i.message
        )
        for i in issues
    ]


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The SOR-EDI quality report: when, how many per rule, and every finding (architecture.md §3.1)."""

    generated: str
    today: date
    findings: tuple[QualityFinding, ...]
    ran: tuple[str, ...]

    @property
    def counts(self) -> dict[str, int]:
        counts = {rule: 0 for rule in RULES}
        for f in self.findings:
            counts[f.rule] = counts.get(f.rule, 0) + 1
        return counts

    def to_json(self) -> dict[str, object]:
        return {
            "generated": self.generated,
            "counts": self.counts,
            "findings": [f.to_json() for f in self.findings],
        }


def report(
    register: Register,
    *,
    today: date,
    generated: str,
    xml_only_system_types: frozenset[str] | None = None,
) -> QualityReport:
    """All rules plus the import issues, ordered by rule then location number (import issues last)."""
    has_registrations = register.has_edi or register.has_eer
    ran = tuple(r for r, rule in RULES.items() if has_registrations or not rule.needs_registrations)
    findings = check(register, today, rules=ran, xml_only_system_types=xml_only_system_types)
    findings.sort(key=lambda f: (f.rule, f.ean or "", f.sor or ""))
    return QualityReport(generated, today, (*findings, *issue_findings(register.issues)), ran)

"""Rules R01-R16: each planted defect is found by its rule, and nothing else is reported."""

from __future__ import annotations

from collections import Counter
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.registry.eer import read_eer
from medcom_bridge.registry.quality import RULES, check, report
from medcom_bridge.registry.register import Register
from medcom_bridge.registry.sor_edi import read_sor_edi_csv
from medcom_bridge.registry.sor_xml import read_sor_xml
from medcom_bridge.registry.synthetic import SyntheticData, generate
from tests.registry.conftest import PRAKSIS, TODAY


def load(data: SyntheticData) -> Register:
    return Register.build(read_sor_xml(data.sor_xml), read_sor_edi_csv(data.edi_csv), read_eer(data.eer_json))


def found(data: SyntheticData, today: date = TODAY) -> Counter[tuple[str, str | None, str | None]]:
    result = report(load(data), today=today, generated="t")
    return Counter((f.rule, f.ean, f.sor) for f in result.findings)


def planted(data: SyntheticData) -> Counter[tuple[str, str | None, str | None]]:
    return Counter((p.rule, p.ean, p.sor) for p in data.planted)


def test_every_rule_is_planted(synthetic: SyntheticData) -> None:
    assert synthetic.units >= 2000
    assert {p.rule for p in synthetic.planted} == set(RULES)
    assert Counter(p.rule for p in synthetic.planted)["R01"] == 4  # two copies of two variants


def test_planted_defects_found_and_nothing_else(synthetic: SyntheticData) -> None:
    assert found(synthetic) == planted(synthetic)


def test_severities_follow_the_rule_table(synthetic: SyntheticData) -> None:
    result = report(load(synthetic), today=TODAY, generated="t")
    for f in result.findings:
        assert f.severity == RULES[f.rule].severity
    assert result.counts["R14"] == 2 and set(result.counts) == set(RULES)


def test_clean_data_has_no_findings() -> None:
    data = generate(800, seed=11, today=TODAY, defects_per_rule=0)
    assert data.planted == () and found(data) == Counter()


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.integers(150, 700))
def test_any_seed_and_size(seed: int, units: int) -> None:
    data = generate(units, seed=seed, today=TODAY, defects_per_rule=1)
    assert found(data) == planted(data)


def test_closing_depends_on_today(synthetic: SyntheticData) -> None:
    early = found(synthetic, today=date(2020, 1, 1))  # before the planted closing dates
    r06 = [(p.rule, p.ean, p.sor) for p in synthetic.planted if p.rule == "R06"]
    assert r06 and not any(key in early for key in r06)
    # Open again in 2020, the owner's number without registrations is a dead number instead.
    assert all(("R12", ean, sor) in early for _, ean, sor in r06)


def test_registration_rules_need_registrations() -> None:
    reg = Register.build(read_sor_xml(PRAKSIS.read_bytes()))
    result = report(reg, today=TODAY, generated="t")
    assert result.findings == ()
    assert "R12" not in result.ran and "R01" in result.ran
    with_edi = Register.build(read_sor_xml(PRAKSIS.read_bytes()), read_sor_edi_csv(b"ean,type,direction\n"))
    dead = report(with_edi, today=TODAY, generated="t").findings
    assert [(f.rule, f.ean, f.sor) for f in dead] == [("R12", "5790000141227", "8321000016007")]


def test_r09_with_an_explicit_system_table() -> None:
    edi = b"ean,type,direction\n5790000141227,DIS91,both\n5790000141227,BIN01,receive\n5790000141227,CTL03,receive\n"
    reg = Register.build(read_sor_xml(PRAKSIS.read_bytes()), read_sor_edi_csv(edi))
    assert check(reg, TODAY, rules=["R09"]) == []  # one number is too few to infer a system type's norm
    (finding,) = check(reg, TODAY, rules=["R09"], xml_only_system_types=frozenset({"1611000045003"}))
    assert finding.rule == "R09" and "DIS91" in finding.message and "1611000045003" in finding.message


def test_import_issues_are_reported_not_dropped() -> None:
    reg = Register.build(
        read_sor_xml(PRAKSIS.read_bytes()), read_sor_edi_csv(b"ean,type,direction\n1,XDIS91,x\n")
    )
    rules = [f.rule for f in report(reg, today=TODAY, generated="t").findings]
    assert "edi-csv-row" in rules

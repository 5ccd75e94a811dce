from __future__ import annotations

import io
from datetime import date

import pytest

from medcom_bridge.registry.model import RegisterInputError
from medcom_bridge.registry.sor_xml import read_sor_xml
from tests.registry.conftest import APOTEK, PRAKSIS, SYGEHUS

NS = "urn:oio:sundhedsstyrelsen:organisation:1.0.0"


def tree(body: str, ns: str = NS) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><SorTree xmlns="{ns}"><SnapshotDate>2026-01-01</SnapshotDate>{body}</SorTree>'.encode()


def owner(sor: str, inner: str = "", ean: str | None = None, extra: str = "") -> str:
    number = (
        f"<EanLocationCodeEntity><EanLocationCode>{ean}</EanLocationCode></EanLocationCodeEntity>"
        if ean
        else ""
    )
    return (
        f"<InstitutionOwnerEntity><InstitutionOwner><SorIdentifier>{sor}</SorIdentifier><EntityName>Ejer {sor}</EntityName>"
        f"{number}{extra}</InstitutionOwner>{inner}</InstitutionOwnerEntity>"
    )


def unit(element: str, sor: str, choice: str, inner: str = "", extra: str = "") -> str:
    return (
        f"<{element}Entity><{element}><SorIdentifier>{sor}</SorIdentifier><EntityName>Enhed {sor}</EntityName>"
        f"<OptionalEanLocationCode>{choice}</OptionalEanLocationCode>{extra}</{element}>{inner}</{element}Entity>"
    )


INHERIT = "<EntityInheritedIndicator>true</EntityInheritedIndicator>"
NONE = "<EntityInheritedIndicator>false</EntityInheritedIndicator>"


def own(ean: str) -> str:
    return f"<EanLocationCodeEntity><EanLocationCode>{ean}</EanLocationCode></EanLocationCodeEntity>"


def test_gp_practice_sample() -> None:
    result = read_sor_xml(PRAKSIS.read_bytes())
    assert result.snapshot == date(2010, 1, 26) and result.issues == []
    ie, si, oe = result.units
    assert (ie.sor, ie.level, ie.name, ie.parent) == ("8321000016007", "IE", "Michael Filtenborg", None)
    assert ie.own is not None and ie.own.ean == "5790000141227"
    assert (ie.own.system_type, ie.own.communication_supplier, ie.own.region, ie.own.edi_administrator) == (
        "1611000045003",
        "41000035001",
        "1084",
        "116",
    )
    assert ie.own.from_date == date(1999, 3, 25) and ie.own.to_date is None
    assert (ie.phone, str(ie.postal)) == ("48300204", "Vesterbrogade 21, 3250 Gilleleje")
    assert (si.name, si.type_code, si.parent, si.inherits) == (
        "Michael Filtenborg & co",
        "394761003",
        ie.sor,
        True,
    )
    assert (oe.provider_id, oe.parent, oe.effective_ean, oe.ean_from) == (
        "019062",
        si.sor,
        "5790000141227",
        ie.sor,
    )
    assert oe.phone == "48300204" and oe.phone_inherited


def test_hospital_sample_has_no_numbers_and_nested_units() -> None:
    units = read_sor_xml(SYGEHUS.read_bytes()).units
    assert [u.level for u in units] == ["IE", "SI", "OE", "OE"]
    assert [u.shak for u in units] == [None, "2529", "252901", "2529010"]
    assert units[3].parent == units[2].sor == "347821000016008"
    assert all(u.effective_ean is None for u in units)
    assert [u.inherits for u in units] == [None, False, False, False]
    assert units[2].type_code == "550811000005108" and units[3].type_code == "550851000005109"


def test_pharmacy_sample_from_file_object() -> None:
    with APOTEK.open("rb") as handle:
        units = read_sor_xml(handle).units
    assert units[0].own is not None and units[0].own.ean == "5790000173624"
    assert units[0].own.edi_administrator == "106"
    assert units[2].pharmacy == "362,1" and units[2].effective_ean == "5790000173624"
    assert units[2].name == "Værløse Apotek"


def test_inheritance_skips_an_ancestor_without_a_number() -> None:
    body = owner(
        "1",
        unit(
            "HealthInstitution",
            "2",
            NONE,
            unit("OrganizationalUnit", "3", INHERIT, unit("OrganizationalUnit", "4", own("5790000000005"))),
        ),
        ean="5790000141227",
    )
    units = {u.sor: u for u in read_sor_xml(tree(body)).units}
    assert units["2"].effective_ean is None
    assert (units["3"].effective_ean, units["3"].ean_from) == ("5790000141227", "1")
    assert (units["4"].effective_ean, units["4"].ean_from) == ("5790000000005", "4")


def test_unknown_elements_and_a_newer_namespace_are_tolerated() -> None:
    extra = "<OrganisationalLevelCode>Afsnit</OrganisationalLevelCode><Future><Nested>x</Nested></Future>"
    body = owner("1", unit("HealthInstitution", "2", INHERIT, extra=extra), ean="5790000141227")
    result = read_sor_xml(tree(body, ns="urn:oio:sundhedsstyrelsen:organisation:2.0.0"))
    assert [u.sor for u in result.units] == ["1", "2"]
    assert result.units[1].effective_ean == "5790000141227"
    assert result.issues == []


def test_foreign_namespace_is_read_with_a_warning() -> None:
    result = read_sor_xml(tree(owner("1"), ns="urn:example"))
    assert [i.rule for i in result.issues] == ["sor-xml-namespace"]


def test_doctype_is_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE SorTree [<!ENTITY x "y">]><SorTree xmlns="' + NS.encode() + b'"/>'
    with pytest.raises(RegisterInputError, match="DOCTYPE"):
        read_sor_xml(data)


def test_not_well_formed_names_the_line() -> None:
    with pytest.raises(RegisterInputError) as info:
        read_sor_xml(b'<SorTree xmlns="x">\n<InstitutionOwnerEntity>\n</SorTree>')
    assert info.value.line == 3 and "well-formed" in info.value.message


def test_wrong_root_and_empty_file() -> None:
    with pytest.raises(RegisterInputError, match="expected 'SorTree'"):
        read_sor_xml(b"<Bundle/>")
    with pytest.raises(RegisterInputError, match="empty"):
        read_sor_xml(b"")


def test_size_limit() -> None:
    with pytest.raises(RegisterInputError, match="larger than the limit"):
        read_sor_xml(tree(owner("1")), max_bytes=10)


def test_bad_values_become_issues_and_the_rest_is_read() -> None:
    bad_unit = unit("HealthInstitution", "abc", INHERIT)
    status = "<SorStatus><FromDate>yesterday</FromDate></SorStatus>"
    body = owner(
        "1",
        bad_unit
        + unit(
            "HealthInstitution",
            "3",
            "<EntityInheritedIndicator>maybe</EntityInheritedIndicator>",
            extra=status,
        ),
    )
    result = read_sor_xml(tree(body))
    assert [u.sor for u in result.units] == ["1", "3"]
    rules = sorted(i.rule for i in result.issues)
    assert rules == ["sor-xml-identifier", "sor-xml-value", "sor-xml-value"]
    assert any("line" in str(i.line) or i.line for i in result.issues)


def test_streaming_keeps_document_order_over_many_chunks() -> None:
    owners = "".join(
        owner(str(i), unit("HealthInstitution", f"9{i}", INHERIT), ean="5790000141227")
        for i in range(1, 3000)
    )
    data = tree(owners)
    assert len(data) > 1024 * 1024  # more than one parser chunk
    units = read_sor_xml(io.BytesIO(data)).units
    assert len(units) == 2 * 2999
    assert units[-1].parent == "2999" and units[-1].effective_ean == "5790000141227"


def test_duplicate_sor_codes_are_reported_by_the_register() -> None:
    from medcom_bridge.registry.register import Register

    result = read_sor_xml(tree(owner("1", ean="5790000141227") + owner("1")))
    reg = Register.build(result)
    assert len(reg) == 1
    assert [(i.rule, i.sor) for i in reg.issues] == [("sor-xml-duplicate", "1")]

"""SOR-EDI CSV, EER bundle/CSV, message-type catalogue and GLN check digits."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.registry import message_types
from medcom_bridge.registry.eer import read_eer
from medcom_bridge.registry.gln import check_digit, problem, with_check_digit
from medcom_bridge.registry.model import RegisterInputError
from medcom_bridge.registry.sor_edi import read_sor_edi_csv
from tests.conftest import DATA
from tests.registry.conftest import EER_BUNDLE, EER_ENDPOINTS


def test_edi_csv_expands_both_and_ignores_extra_columns() -> None:
    data = b"\xef\xbb\xbfean,type,direction,comment\n5790000141227,xdis91,both,hej\n5790000141227,FCTL,receive,\n\n"
    result = read_sor_edi_csv(data)
    assert result.issues == []
    assert [(r.code, r.direction, r.line) for r in result.registrations] == [
        ("XDIS91", "receive", 2),
        ("XDIS91", "send", 2),
        ("FCTL", "receive", 3),
    ]


def test_edi_csv_semicolons_versions_uris_and_aliases() -> None:
    uri = "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medbin:xbin01:xb0131x"
    data = f"EAN;Type;Direction;Version\n1;CareCommunication;send;\n1;{uri};receive;\n1;XDIS91;receive;xd9131l\n".encode()
    regs = read_sor_edi_csv(data).registrations
    assert [(r.code, r.version, r.uri) for r in regs] == [
        ("FDIS91", None, None),
        ("XBIN01", "XB0131X", uri),
        ("XDIS91", "XD9131L", None),
    ]


def test_edi_csv_bad_rows_are_issues_with_lines() -> None:
    result = read_sor_edi_csv(
        b"ean,type,direction\n1,XDIS91,sometimes\n,XDIS91,send\n1,,send\n1,XCTL03,send\n"
    )
    assert [(i.line, i.rule) for i in result.issues] == [
        (2, "edi-csv-row"),
        (3, "edi-csv-row"),
        (4, "edi-csv-row"),
    ]
    assert "expected receive, send or both" in result.issues[0].message
    assert len(result.registrations) == 1


def test_edi_csv_without_required_columns_is_refused() -> None:
    with pytest.raises(RegisterInputError, match="missing column"):
        read_sor_edi_csv(b"gln,kind\n1,2\n")
    with pytest.raises(RegisterInputError, match="empty"):
        read_sor_edi_csv(b"")


def test_eer_bundle_reads_the_malformed_gln_system() -> None:
    result = read_eer(EER_BUNDLE.read_bytes())
    (endpoint,) = result.endpoints
    assert (endpoint.gln, endpoint.managing_sor, endpoint.status) == (
        "5790001995669",
        "468851000016000",
        "active",
    )
    assert {o.sor: o.level for o in result.organizations} == {
        "468851000016000": "IE",
        "468861000016002": "SI",
        "468871000016007": "OE",
        "468881000016009": "OE",
    }
    assert all(o.endpoint_glns == ("5790001995669",) for o in result.organizations)
    assert [i.rule for i in result.issues] == ["eer-gln-system"]
    assert "//https://www.gs1.org/gln" in result.issues[0].message
    assert {(r.code, r.version, r.direction) for r in result.registrations()} == {
        ("HomeCareObservation", "1.1", "receive"),
        ("FCTL", "2.0", "receive"),
    }


def test_eer_endpoints_csv() -> None:
    result = read_eer(EER_ENDPOINTS.read_bytes())
    assert len(result.endpoints) == 259 and result.issues == []
    first = result.endpoints[0]
    assert (first.gln, first.managing_sor) == ("5790002619588", "1254731000016003")
    assert len(result.registrations()) == 2 * 259


def test_eer_rejects_other_json_and_other_csv() -> None:
    with pytest.raises(RegisterInputError, match="resourceType"):
        read_eer(b'{"resourceType": "Patient"}')
    with pytest.raises(RegisterInputError, match="JSON"):
        read_eer(b'{"resourceType": ')
    with pytest.raises(RegisterInputError, match="missing column"):
        read_eer(b"a,b\n1,2\n")


def test_every_ehmi_uri_is_in_the_catalogue() -> None:
    path = DATA / "sor" / "terminology" / "ehmi-message-definition-uri.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 109
    for row in rows:
        found = message_types.by_uri(row["uri"])
        assert found is not None, row["uri"]
        if row["medcom_type"]:
            assert (found.code, found.version) == (row["medcom_type"], row["version_code"])
    assert message_types.by_uri(
        "urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:acknowledgement:2.0"
    )
    assert message_types.by_uri("urn:example:nothing") is None
    assert message_types.normalise_code(" acknowledgement ") == "FCTL"


def test_gln_check_digit_of_real_numbers() -> None:
    for gln in ("5790000141227", "5790000173624", "5790001995669", "5790002619588"):
        assert problem(gln) is None
    assert "check digit" in (problem("5790000141228") or "")
    assert "13 digits" in (problem("579000014122") or "")
    assert "placeholder" in (problem("0000000000000") or "")
    assert check_digit("579000014122") == 7


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=12, max_size=12), st.integers(0, 12), st.integers(1, 9))
def test_gln_single_digit_errors_are_caught(first12: str, position: int, delta: int) -> None:
    gln = with_check_digit(first12)
    assert problem(gln) is None or gln in ("0000000000000",)
    mutated = gln[:position] + str((int(gln[position]) + delta) % 10) + gln[position + 1 :]
    assert problem(mutated) is not None

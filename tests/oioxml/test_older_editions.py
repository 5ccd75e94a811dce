"""Issue 14: the older OIOXML editions MedCom's earlier flows use — XDIS91 XD9133L and XBIN01 XB0130X in the
2005/08/07 namespace — are accepted when schema-valid (a warning names the version) and converted; when not
valid, our checker says what the schema says. The official XSDs are the oracle (read here, never at run time)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.documents import validate_document
from medcom_bridge.oioxml.codec import parse
from medcom_bridge.oioxml.model import NS_2005, NS_2006, NS_2012
from medcom_bridge.oioxml.validation import is_semantic, validate_bytes
from tests.convert.helpers import FLOWS, MEDCOM_TESTCENTER, ODENSE, sor_xml
from tests.oioxml.mutations import mutations
from tests.oioxml.xsd import xsd_errors, xsd_verdicts


def _retarget(data: bytes, old_ns: str, old_version: str, new_version: str) -> etree._Element:
    text = data.decode("iso-8859-1" if b"ISO-8859-1" in data[:60] else "utf-8")
    text = text.replace(old_ns, NS_2005).replace(old_version, new_version)
    text = text.split("?>", 1)[1] if text.startswith("<?xml") else text
    return etree.fromstring(text)


def _q(name: str) -> str:
    return f"{{{NS_2005}}}{name}"


def xd9133l() -> bytes:
    """MedCom's flow-1 letter in the 2005/08/07 edition: XD9133L has no AdditionalInformation."""
    root = _retarget((FLOWS / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes(), NS_2006, "XD9134L", "XD9133L")
    for extra in root.iter(_q("AdditionalInformation")):
        extra.getparent().remove(extra)  # type: ignore[union-attr]
    return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")


def xb0130x() -> bytes:
    """Its XBIN01 in the 2005/08/07 edition: XB0130X wants the sender's street, district and post code, and
    its object identifier is any text of 1-35 characters (no UUID type yet)."""
    root = _retarget((FLOWS / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes(), NS_2012, "XB0131X", "XB0130X")
    sender = root.find(f"{_q('BinaryLetter')}/{_q('Sender')}")
    assert sender is not None
    department = sender.find(_q("DepartmentName"))
    assert department is not None
    at = list(sender).index(department) + 1
    for offset, (name, value) in enumerate(
        (("StreetName", "Forskerparken 10"), ("DistrictName", "Odense M"), ("PostCodeIdentifier", "5230"))
    ):
        element = etree.Element(_q(name))
        element.text = value
        sender.insert(at + offset, element)
    for oid in root.iter(_q("ObjectIdentifier")):  # 1-35 characters: the UUID without dashes, as in XDIS91
        oid.text = (oid.text or "").replace("-", "")
    return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")


EDITIONS = [("xdis91", "XD9133L", xd9133l), ("xbin01", "XB0130X", xb0130x)]


@pytest.mark.parametrize(("kind", "version", "build"), EDITIONS)
def test_schema_valid_older_edition_is_accepted_with_a_warning(
    kind: str, version: str, build: object
) -> None:
    data = build()  # type: ignore[operator]
    assert all(xsd_verdicts(data).values()), xsd_errors(data)
    report = validate_document(data)
    assert (report.kind, report.version, report.valid) == (kind, version, True), [
        str(f) for f in report.findings
    ]
    (warning,) = [f for f in report.findings if f.rule == "oioxml-older-edition"]
    assert warning.severity == "warning" and version in warning.message
    message = parse(data)
    assert message.namespace == NS_2005 and message.version_code == version


def test_invalid_older_edition_says_what_the_schema_says() -> None:
    """The XB0130X sender lacks its (in that edition required) street: the schema's reason, not 'unsupported'."""
    data = xb0130x()
    root = etree.fromstring(data)
    street = root.find(f"{_q('BinaryLetter')}/{_q('Sender')}/{_q('StreetName')}")
    assert street is not None
    street.getparent().remove(street)  # type: ignore[union-attr]
    broken = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
    assert not any(xsd_verdicts(broken).values())
    report = validate_bytes(broken)
    assert "oioxml-unsupported" not in report.rules()
    (error,) = report.errors
    assert error.rule == "xbin01-structure" and error.path == "BinaryLetter/Sender"
    assert "StreetName" in error.message


@pytest.mark.parametrize(("kind", "version", "build"), EDITIONS)
def test_mutations_agree_with_the_xsds(kind: str, version: str, build: object) -> None:
    disagreements = []
    for n, (desc, doc) in enumerate(mutations(build())):  # type: ignore[operator]
        if n % 3:  # a fixed third, as for the current editions
            continue
        xsd_ok = any(xsd_verdicts(doc).values())
        ours = not any(
            f.severity == "error" and not is_semantic(f.rule) for f in validate_bytes(doc).findings
        )
        if xsd_ok != ours:
            disagreements.append((desc, xsd_ok))
    assert not disagreements, disagreements[:10]


def test_older_pair_converts_to_a_valid_carecommunication(tmp_path: Path) -> None:
    letter, binary, sor = tmp_path / "xd9133l.xml", tmp_path / "xb0130x.xml", tmp_path / "sor.xml"
    letter.write_bytes(xd9133l())
    binary.write_bytes(xb0130x())
    sor.write_bytes(sor_xml([MEDCOM_TESTCENTER, ODENSE]))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "convert",
            "--to",
            "carecommunication",
            "--sor",
            str(sor),
            "--out-dir",
            str(out),
            str(letter),
            str(binary),
        ],
    )
    assert result.exit_code == 0, result.output
    (written,) = out.iterdir()
    assert validate_document(written.read_bytes()).valid

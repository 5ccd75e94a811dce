from __future__ import annotations

from pathlib import Path

import pytest

from medcom_bridge.documents import UnknownKind, detect_kind
from medcom_bridge.xmlsafe import XmlError
from tests.conftest import DATA

SAMPLES = DATA / "oioxml" / "samples"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("XDIS91_1_edifactconv_pair.xml", "xdis91"),
        ("XBIN01_edifactconv_hello_world.xml", "xbin01"),
        ("XCTL01_1_edifactconv_pair.xml", "xctl01"),
        ("XCTL02_1_edifactconv_pair.xml", "xctl02"),
        ("XCTL03_1_edifactconv_pair.xml", "xctl03"),
        ("vansenvelope/VANSEnvelope_1.0.4_wrapping_XDIS22_sample.xml", "vansenvelope"),
    ],
)
def test_oioxml_kinds(name: str, kind: str) -> None:
    assert detect_kind((SAMPLES / name).read_bytes()) == kind


def test_fhir_kinds() -> None:
    for path in sorted((DATA / "fhir" / "examples").rglob("*")):
        if path.suffix in (".json", ".xml"):
            assert detect_kind(path.read_bytes()) == "carecommunication", path.name
    for path in sorted((DATA / "conversion" / "flows").glob("Acknowledgement_*.xml")):
        assert detect_kind(path.read_bytes()) == "acknowledgement", path.name


def test_unsupported_oioxml_message_is_named() -> None:
    with pytest.raises(UnknownKind, match="EmergencyMunicipalityLetter"):
        detect_kind((SAMPLES / "XDIS22_decoded_from_vansenvelope_sample.xml").read_bytes())


@pytest.mark.parametrize("data", [b"", b"hello", b"<a", b"\x00\x01"])
def test_garbage_is_a_clear_error(data: bytes) -> None:
    with pytest.raises((UnknownKind, XmlError, ValueError)):
        detect_kind(data)


def test_doctype_is_refused(tmp_path: Path) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Emessage>&lol;</Emessage>'
    with pytest.raises(XmlError) as info:
        detect_kind(bomb)
    assert info.value.rule == "xml-doctype-forbidden"

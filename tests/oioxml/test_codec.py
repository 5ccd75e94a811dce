from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcom_bridge.oioxml.codec import OioxmlError, parse, parse_xbin01, parse_xdis91, serialize
from medcom_bridge.oioxml.model import (
    NS_2006,
    AdditionalInformation,
    BinaryLetter,
    BinaryLetterPatient,
    BinaryObject,
    BinReference,
    ClinicalEmail,
    ClinicalInformation,
    Emessage,
    Envelope,
    Letter,
    Patient,
    Receiver,
    Reference,
    Sender,
    uuid_with_dashes,
)
from medcom_bridge.oioxml.text import from_plain_text
from medcom_bridge.oioxml.validation import validate_bytes
from medcom_bridge.xmlsafe import XmlError
from tests.oioxml.mutations import SAMPLES, sample_files

SAMPLE_IDS = [p.name for p in sample_files()]


def xdis91(text: str = "Hej", **letter: object) -> Emessage[ClinicalEmail]:
    """A typical XDIS91 built in code (the converter builds them the same way)."""
    return Emessage(
        Envelope(dt.datetime(2024, 9, 23, 9, 45), "KuvertNr012277", "pluspositivkvitt"),
        ClinicalEmail(
            letter=Letter(
                identifier="BrevNr00777",
                version_code="XD9134L",
                statistical_code="XDIS91",
                authorisation=dt.datetime(2024, 9, 23, 12, 2),
                type_code="XDIS91",
                episode_of_care_identifier=str(letter.get("episode", "6fb927da3be14b9f8875a6326617d20b")),
            ),
            sender=Sender("5790001382445", "5790001382445", "lokationsnummer", "MedCom testcenter"),
            receiver=Receiver("5790000121441", "5790000121441", "lokationsnummer"),
            patient=Patient(
                "Berggren", "inaktiv", civil_registration_number="2512489996", person_given_name="Nancy"
            ),
            additional_information=AdditionalInformation("høj_prioritet", "Forundersøgelse"),
            clinical_information=(ClinicalInformation(from_plain_text(text)),),
            reference=(
                Reference(
                    "BIN",
                    bin=BinReference("c39ea6b2605245e4a207415e0205ab6f", "vektor_grafik", "pdf", 5),
                ),
            ),
        ),
    )


def xbin01() -> Emessage[BinaryLetter]:
    return Emessage(
        Envelope(dt.datetime(2024, 9, 23, 9, 45), "MEDBIN62529"),
        BinaryLetter(
            letter=Letter("031120PWE62528", "XB0131X", "XBIN01", dt.datetime(2024, 9, 23, 9, 45), "XBIN01"),
            sender=Sender("5790001382445", "5790001382445", "lokationsnummer", "MedCom testcenter"),
            receiver=Receiver("5790000121441", "5790000121441", "lokationsnummer"),
            patient=BinaryLetterPatient("Berggren", civil_registration_number="2512489996"),
            binary_object=(
                BinaryObject.from_bytes(
                    uuid_with_dashes("c39ea6b2605245e4a207415e0205ab6f"), "vektor_grafik", "pdf", b"%PDF-"
                ),
            ),
        ),
    )


@pytest.mark.parametrize("name", SAMPLE_IDS)
def test_every_sample_round_trips(name: str) -> None:
    message = parse((SAMPLES / name).read_bytes())
    again = parse(serialize(message))
    assert again == message


def test_sample_fields_are_read() -> None:
    m = parse_xdis91((SAMPLES / "XDIS91_medcom_flow3_from_fhir.xml").read_bytes())
    assert m.envelope.sent == dt.datetime(2023, 11, 22, 12, 32)
    assert m.body.patient.person_surname_name == "Ann Berggren"
    assert m.body.additional_information == AdditionalInformation(
        None, "Vedr. henvisning, Undersøgelser forude for visitation"
    )
    assert m.body.reference[0].bin == BinReference("64d56beb9d2245d48fa0eaaf186bebae", "billede", "pdf", 4297)
    assert m.body.text.startswith("Afdeling A har modtaget en henvisning på ovenstående patient.\nForinden")
    b = parse_xbin01((SAMPLES / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes())
    assert len(b.body.binary_object[0].data) == 4297
    assert b.body.binary_object[0].data.startswith(b"%PDF")


def test_escaped_markup_stays_text() -> None:
    m = parse_xdis91((SAMPLES / "XDIS91_os2korr_escaped_formatted_text.xml").read_bytes())
    assert "<" in m.body.text and "&lt;" not in m.body.text


def test_built_message_round_trips_and_is_latin1_with_declaration() -> None:
    m = xdis91('Citat "x" & <y> æøå ÆØÅ — € 😀\nNy linje')
    data = serialize(m)
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n')
    assert b"\xe6\xf8\xe5" in data  # æøå as Latin-1 bytes
    assert b"&#8212;" in data and b"&#8364;" in data and b"&#128512;" in data  # outside Latin-1
    assert b"&amp;" in data and b"&lt;y&gt;" in data
    assert b"+01:00" not in data and b"<Time>12:02</Time>" in data
    assert parse(data) == m
    assert parse(data).body.text == 'Citat "x" & <y> æøå ÆØÅ — € 😀\nNy linje'  # type: ignore[union-attr]
    b = xbin01()
    assert parse(serialize(b)) == b


def test_seconds_and_timezone_are_not_written() -> None:
    m = xdis91()
    aware = Emessage(Envelope(dt.datetime(2024, 1, 2, 3, 4, 59, tzinfo=dt.UTC), "K"), m.body, m.namespace)
    data = serialize(aware)
    assert b"<Date>2024-01-02</Date>" in data and b"<Time>03:04</Time>" in data


def test_latin1_declaration_over_utf8_bytes_is_read_as_utf8() -> None:
    data = serialize(xdis91("Røntgen")).replace(b"\xf8", "ø".encode())
    assert parse(data).body.text == "Røntgen"  # type: ignore[union-attr]


def test_windows_1252_and_utf8_declarations() -> None:
    m = xdis91("Pris 5 € – færdig")
    text = serialize(m).decode("latin-1")
    utf8 = text.replace("ISO-8859-1", "UTF-8").encode("utf-8")
    cp1252 = text.replace("ISO-8859-1", "windows-1252").encode("cp1252")
    assert parse(utf8) == m
    assert parse(cp1252) == m


def test_serializer_refuses_what_xml_cannot_carry() -> None:
    with pytest.raises(OioxmlError) as info:
        serialize(xdis91("bell \x07"))
    assert info.value.rule == "oioxml-characters"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Emessage xmlns="http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2006/07/01/">&lol3;</Emessage>"""


def test_billion_laughs_and_external_entities_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file://{secret}">]>'
        f'<Emessage xmlns="{NS_2006}"><Envelope>&x;</Envelope></Emessage>'
    ).encode()
    for data in (BILLION_LAUGHS, xxe):
        with pytest.raises(XmlError) as info:
            parse(data)
        assert info.value.rule == "xml-doctype-forbidden"


@pytest.mark.parametrize(
    "name", ["XDIS22_decoded_from_vansenvelope_sample.xml", "XDIS90_edifactconv_pair_srcDIS91_3.xml"]
)
def test_other_message_types_are_unsupported(name: str) -> None:
    with pytest.raises(OioxmlError) as info:
        parse((SAMPLES / name).read_bytes())
    assert info.value.rule == "oioxml-unsupported"
    assert "XDIS91" in info.value.message


def test_wrong_kind_is_reported() -> None:
    with pytest.raises(OioxmlError):
        parse_xbin01(serialize(xdis91()))


_SEED = (SAMPLES / "XDIS91_os2korr_formatted_text.xml").read_bytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_SEED) - 1), st.integers(0, 40), st.binary(max_size=20))
def test_parser_never_crashes_on_damaged_bytes(pos: int, cut: int, insert: bytes) -> None:
    data = _SEED[:pos] + insert + _SEED[pos + cut :]
    report = validate_bytes(data)  # never raises
    try:
        message = parse(data)
    except (XmlError, OioxmlError):
        assert not report.valid or report.kind == "unknown"
        return
    if report.valid:
        assert parse(serialize(message)) == message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([0, 1, 76]))
def test_base64_size_matches_decoding(payload: bytes, wrap: int) -> None:
    import base64

    from medcom_bridge.oioxml.model import base64_size, decode_base64

    text = base64.b64encode(payload).decode()
    if wrap:
        text = "\n".join(text[i : i + wrap] for i in range(0, len(text), wrap))
    assert base64_size(text) == len(decode_base64(text)) == len(payload)
    for broken in (text + "A", text + "!", "=" + text[1:] if text else "=A=="):
        with pytest.raises(ValueError):
            decode_base64(broken)
        with pytest.raises(ValueError):
            base64_size(broken)

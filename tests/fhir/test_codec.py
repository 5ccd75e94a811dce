"""FHIR JSON <-> model <-> FHIR XML: every official example, the tricky corners, findings and fuzzing."""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import string
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from medcom_bridge.fhir import codec
from medcom_bridge.fhir._types import PRIMITIVES, RESOURCES, TYPES
from medcom_bridge.fhir.codec import FhirParseError, FhirSerializeError
from tests.conftest import DATA, REPO
from tests.fhir.examples import json_examples, official_examples, same, xml_examples

SEND_V5 = DATA / "fhir" / "examples" / "send-v5"
FLOWS = DATA / "conversion" / "flows"

ALL = official_examples()
JSON = json_examples()
XML = xml_examples()


def ids(items: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> list[str]:
    return [name for name, _ in items]


def test_the_example_set_is_complete() -> None:
    # 9 + 12 certification sends, 4 flow files, and every package example: a vanished folder must fail.
    assert sum(n.startswith("send-v5/") for n, _ in ALL) == 9
    assert sum(n.startswith("send-v4/") for n, _ in ALL) == 12
    assert sum(n.startswith("flows/") for n, _ in ALL) == 4
    assert len(ALL) > 250


@pytest.mark.parametrize(("name", "data"), ALL, ids=ids(ALL))
def test_every_official_example_parses_cleanly(name: str, data: bytes) -> None:
    resource, findings, fmt = codec.parse_with_findings(data)
    assert fmt == ("json" if name.endswith(".json") else "xml")
    assert isinstance(resource.get("resourceType"), str)
    assert findings == [], [str(f) for f in findings]


@pytest.mark.parametrize(("name", "data"), JSON, ids=ids(JSON))
def test_json_to_xml_to_json_is_lossless(name: str, data: bytes) -> None:
    original = codec.parse_json(data)
    xml = codec.to_xml(original)
    back, findings = codec.parse_xml_with_findings(xml)
    assert findings == []
    assert same(original, back) is None, same(original, back)
    # and the JSON we write reads back to the same model, compact and pretty
    assert same(codec.parse_json(codec.to_json(back)), original) is None
    assert same(codec.parse_json(codec.to_json(back, pretty=True)), original) is None


@pytest.mark.parametrize(("name", "data"), XML, ids=ids(XML))
def test_xml_to_json_to_xml_is_stable(name: str, data: bytes) -> None:
    first = codec.parse_xml(data)
    as_json = codec.to_json(first)
    second = codec.parse_json(as_json)
    xml = codec.to_xml(second)
    third = codec.parse_xml(xml)
    assert same(first, second) is None, same(first, second)
    assert same(first, third) is None, same(first, third)
    assert codec.to_xml(third) == xml  # a fixpoint after one trip
    assert codec.parse_xml(codec.to_xml(third, pretty=True)) == third


def test_the_xml_examples_survive_element_by_element() -> None:
    """The written XML has the same FHIR elements and values as MedCom's own file (XHTML aside)."""
    for name, data in XML:
        theirs = etree.fromstring(data)
        ours = etree.fromstring(codec.to_xml(codec.parse_xml(data)))
        assert _signature(ours) == _signature(theirs), name


def _signature(el: etree._Element) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    out = []
    for node in el.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{http://hl7.org/fhir}"):
            out.append((node.tag, tuple(sorted(node.attrib.items()))))
    return out


# ---------------------------------------------------------------------------------------------------------
# The corners named in the brief


def _v5(name_part: str) -> bytes:
    return next(p.read_bytes() for p in SEND_V5.iterdir() if name_part in p.name)


def test_newlines_travel_as_escape_in_json_and_as_char_ref_in_xml() -> None:
    bundle = codec.parse_xml(_v5("S-Tek-C-new"))
    texts = [
        p["contentString"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Communication"
        for p in e["resource"]["payload"]
        if "contentString" in p
    ]
    assert any("\n" in t for t in texts)
    as_json = codec.to_json(bundle)
    assert b"\\n" in as_json
    xml = codec.to_xml(bundle)
    assert b"&#xA;" in xml and b"&#10;" not in xml
    assert codec.parse_xml(xml) == bundle


def test_json_keeps_danish_letters_and_xml_is_utf8_with_declaration() -> None:
    resource = {"resourceType": "Organization", "name": "Lægehuset Østerbro å"}
    assert "Lægehuset Østerbro å".encode() in codec.to_json(resource)
    xml = codec.to_xml(resource)
    assert xml.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Organization xmlns="http://hl7.org/fhir">'
    )
    assert "Lægehuset Østerbro å".encode() in xml


def test_narrative_div_is_xhtml_in_xml_and_a_string_in_json() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Hej <b>&amp;</b> &lt;ok&gt;</p></div>'
    resource = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    root = etree.fromstring(codec.to_xml(resource))
    found = root.find("{http://hl7.org/fhir}text/{http://www.w3.org/1999/xhtml}div")
    assert found is not None and found.find("{http://www.w3.org/1999/xhtml}p") is not None
    assert codec.parse_xml(codec.to_xml(resource)) == resource
    # A div written without its namespace is put into the XHTML namespace on the way out.
    bare = {"resourceType": "Patient", "text": {"status": "generated", "div": "<div><p>x</p></div>"}}
    assert b'<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>' in codec.to_xml(bare)


def test_extension_url_is_an_attribute_and_element_id_too() -> None:
    resource = {
        "resourceType": "Communication",
        "extension": [
            {"id": "e1", "url": "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-sender-extension",
             "valueReference": {"reference": "PractitionerRole/1"}}
        ],
    }  # fmt: skip
    xml = codec.to_xml(resource)
    assert (
        b'<extension id="e1" url="http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-sender-extension">'
        in xml
    )
    assert codec.parse_xml(xml) == resource


def test_primitive_extensions_and_ids_round_trip() -> None:
    resource = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"given": ["Anne", None, "Bo"], "_given": [None, {"extension": [{"url": "u", "valueCode": "x"}]}, {"id": "g3"}]}],
        "birthDate": "1970-01-02",
        "_birthDate": {"id": "bd", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1970-01-02T03:04:05+01:00"}]},
        "_gender": {"extension": [{"url": "http://example.org/reason", "valueString": "unknown"}]},
    }  # fmt: skip
    xml = codec.to_xml(resource)
    assert b'<birthDate id="bd" value="1970-01-02"><extension' in xml
    assert b"<gender><extension" in xml  # a primitive with only an extension has no value attribute
    back, findings = codec.parse_xml_with_findings(xml)
    assert findings == []
    assert back == resource
    assert codec.parse_json(codec.to_json(back)) == resource


def test_single_repeating_elements_are_lists_and_booleans_and_numbers_are_typed() -> None:
    xml = (
        b'<Patient xmlns="http://hl7.org/fhir"><identifier><value value="1"/></identifier>'
        b'<active value="true"/><deceasedBoolean value="false"/><multipleBirthInteger value="2"/>'
        b'<photo><size value="10"/></photo></Patient>'
    )
    resource = codec.parse_xml(xml)
    assert resource == {
        "resourceType": "Patient",
        "identifier": [{"value": "1"}],
        "active": True,
        "deceasedBoolean": False,
        "multipleBirthInteger": 2,
        "photo": [{"size": 10}],
    }
    assert codec.to_json(resource) == (
        b'{"resourceType":"Patient","identifier":[{"value":"1"}],"active":true,'
        b'"deceasedBoolean":false,"multipleBirthInteger":2,"photo":[{"size":10}]}'
    )


def test_decimals_keep_every_digit() -> None:
    data = b'{"resourceType":"Basic","extension":[{"url":"a","valueDecimal":1.50},{"url":"b","valueDecimal":3},{"url":"c","valueDecimal":0.0000001},{"url":"d","valueDecimal":1e400}]}'
    resource, findings = codec.parse_json_with_findings(data)
    assert findings == []
    values = [e["valueDecimal"] for e in resource["extension"]]
    assert all(isinstance(v, Decimal) for v in values)
    assert str(values[0]) == "1.50"
    xml = codec.to_xml(resource)
    assert (
        b'value="1.50"' in xml
        and b'value="3"' in xml
        and b'value="0.0000001"' in xml
        and b'value="1E+400"' in xml
    )
    assert same(codec.parse_xml(xml), resource) is None
    out = codec.to_json(resource)
    assert b'"valueDecimal":1.50' in out and b'"valueDecimal":0.0000001' in out
    assert same(codec.parse_json(out), resource) is None


def test_a_string_that_looks_like_the_decimal_marker_is_not_mistaken() -> None:
    resource = {"resourceType": "Basic", "extension": [
        {"url": "a", "valueString": "\x000\x00"}, {"url": "b", "valueDecimal": Decimal("2.5")}]}  # fmt: skip
    out = codec.to_json(resource)
    assert json.loads(out)["extension"][0]["valueString"] == "\x000\x00"
    assert b'"valueDecimal":2.5' in out


def test_entry_order_is_kept_whatever_it_is() -> None:
    bundle = codec.parse_json(next(d for n, d in JSON if n.startswith("send-v5/")))
    shuffled = copy.deepcopy(bundle)
    shuffled["entry"] = list(reversed(shuffled["entry"]))
    back = codec.parse_xml(codec.to_xml(shuffled))
    assert [e["fullUrl"] for e in back["entry"]] == [e["fullUrl"] for e in shuffled["entry"]]


def test_xml_is_written_in_fhir_element_order_whatever_the_dict_order() -> None:
    resource = {
        "resourceType": "MessageHeader",
        "definition": "x",
        "eventCoding": {"code": "c", "system": "s"},
        "id": "1",
    }
    xml = codec.to_xml(resource)
    assert xml.index(b"<id ") < xml.index(b"<eventCoding>") < xml.index(b"<definition ")
    assert xml.index(b"<system ") < xml.index(b"<code ")


def test_pretty_output_parses_to_the_same_model() -> None:
    for _, data in ALL[:30]:
        resource, _ = codec.parse(data)
        assert codec.parse_xml(codec.to_xml(resource, pretty=True)) == resource
        assert codec.parse_json(codec.to_json(resource, pretty=True)) == resource


# ---------------------------------------------------------------------------------------------------------
# Lenient but never silent


def _rules(findings: list[Any]) -> list[str]:
    return [f.rule for f in findings]


def test_unknown_json_elements_are_kept_and_reported_with_their_path() -> None:
    data = b'{"resourceType":"Patient","name":[{"family":"A","nickname":"B"}],"hobby":"fhir"}'
    resource, findings = codec.parse_json_with_findings(data)
    assert resource["hobby"] == "fhir" and resource["name"][0]["nickname"] == "B"
    assert {(f.rule, f.path) for f in findings} == {
        ("fhir-unknown-element", "Patient.name[0].nickname"),
        ("fhir-unknown-element", "Patient.hobby"),
    }
    assert all(f.severity == "error" for f in findings)


def test_unknown_xml_elements_are_kept_and_reported_and_written_back() -> None:
    data = b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/><hobby value="fhir"/></Patient>'
    resource, findings = codec.parse_xml_with_findings(data)
    assert resource == {"resourceType": "Patient", "active": True, "hobby": "fhir"}
    assert _rules(findings) == ["fhir-unknown-element"] and findings[0].path == "Patient.hobby"
    assert b'<hobby value="fhir"/>' in codec.to_xml(resource)


@pytest.mark.parametrize(
    ("data", "rule", "path"),
    [
        (b'{"resourceType":"Patient","active":"true"}', "fhir-type", "Patient.active"),
        (b'{"resourceType":"Patient","birthDate":"2020-13-01"}', "fhir-type", "Patient.birthDate"),
        (b'{"resourceType":"Patient","multipleBirthInteger":1.5}', "fhir-type", "Patient.multipleBirthInteger"),
        (b'{"resourceType":"Patient","multipleBirthInteger":true}', "fhir-type", "Patient.multipleBirthInteger"),
        (b'{"resourceType":"Patient","name":{"family":"A"}}', "fhir-json-array-expected", "Patient.name"),
        (b'{"resourceType":"Patient","gender":["male"]}', "fhir-json-array-unexpected", "Patient.gender"),
        (b'{"resourceType":"Patient","gender":""}', "fhir-empty-value", "Patient.gender"),
        (b'{"resourceType":"Patient","identifier":[]}', "fhir-empty-value", "Patient.identifier"),
        (b'{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}', "fhir-choice-multiple", "Patient.deceasedDateTime"),
        (b'{"resourceType":"Patient","gender":"male","gender":"female"}', "json-duplicate-key", "Patient"),
        (b'{"resourceType":"Patient","_identifier":{}}', "fhir-unknown-element", "Patient._identifier"),
        (b'{"resourceType":"Patient","text":{"status":"generated","div":"<div>unclosed"}}', "fhir-xhtml", "Patient.text.div"),
        (b'{"resourceType":"Bundle","entry":[{"resource":{"id":"x"}}]}', "fhir-not-a-resource", "Bundle.entry[0].resource"),
        (b'{"resourceType":"Observation","status":"final"}', "fhir-unsupported-resource-type", "Observation"),
        (b'<Patient xmlns="http://hl7.org/fhir"><gender value="male"/><active value="true"/></Patient>', "fhir-xml-element-order", "Patient.active"),
        (b'<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>', "fhir-type", "Patient.active"),
        (b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/><active value="false"/></Patient>', "fhir-cardinality", "Patient.active"),
        (b'<Patient xmlns="http://hl7.org/fhir">text<active value="true"/></Patient>', "fhir-xml-text", "Patient"),
        (b'<Patient xmlns="http://hl7.org/fhir"><active/></Patient>', "fhir-empty-value", "Patient.active"),
        (b'<Patient xmlns="http://hl7.org/fhir"><active value="true" foo="1"/></Patient>', "fhir-unknown-attribute", "Patient.active/@foo"),
        (b'<Patient xmlns="http://hl7.org/fhir" xmlns:x="urn:x"><x:active value="true"/></Patient>', "fhir-xml-namespace", "Patient.{urn:x}active"),
        (b'<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div><p/></div></text></Patient>', "fhir-xhtml", "Patient.text.div"),
        (b'<Bundle xmlns="http://hl7.org/fhir"><entry><resource/></entry></Bundle>', "fhir-not-a-resource", "Bundle.entry.resource"),
        (b'{"resourceType":"Patient","name":[{"given":["a",null]}]}', "fhir-json-null", "Patient.name[0].given[1]"),
        (b'<Patient xmlns="http://hl7.org/fhir"><contained><name/></contained></Patient>', "fhir-not-a-resource", "Patient.contained"),
        (b'{"resourceType":"Patient","gender":null}', "fhir-type", "Patient.gender"),
    ],
)  # fmt: skip
def test_type_and_shape_problems_are_findings(data: bytes, rule: str, path: str) -> None:
    resource, findings, _ = codec.parse_with_findings(data)
    assert (rule, path) in {(f.rule, f.path) for f in findings}, [str(f) for f in findings]
    assert isinstance(resource, dict)


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "fhir-empty"),
        (b"   \n", "fhir-empty"),
        (b"hello", "fhir-unknown-format"),
        (b"{", "json-syntax"),
        (b'{"resourceType":"Patient","x":NaN}', "json-syntax"),
        (b"[1]", "fhir-not-a-resource"),
        (b'{"id":"x"}', "fhir-not-a-resource"),
        (b'{"resourceType":"Patient","name":"\xff"}', "json-encoding"),
        (b"<Patient xmlns='http://hl7.org/fhir'>", "xml-syntax"),
        (
            b'<!DOCTYPE Patient [<!ENTITY x "y">]><Patient xmlns="http://hl7.org/fhir"/>',
            "xml-doctype-forbidden",
        ),
        (b"<Patient/>", "fhir-not-a-resource"),
        (b'<Patient xmlns="urn:other"/>', "fhir-not-a-resource"),
        (b'<extension xmlns="http://hl7.org/fhir"/>', "fhir-not-a-resource"),
        (b'{"resourceType":"patient"}', "fhir-not-a-resource"),
        (b'{"resourceType":7}', "fhir-not-a-resource"),
        (b'{"resourceType":"Patient","n":' + b"[" * 100000 + b"]" * 100000 + b"}", "json-syntax"),
    ],
)
def test_garbage_raises_fhir_parse_error_with_a_rule(data: bytes, rule: str) -> None:
    with pytest.raises(FhirParseError) as info:
        codec.parse(data)
    assert info.value.rule == rule
    assert info.value.message


@pytest.mark.parametrize(
    "path",
    [
        "sor/eer/eer-configurations_Mads3_sor-derived_bundle.json",
        "sor/eds/eds-pds-primary-flow_rendered-from-fsh.json",
    ],
)
def test_the_ehmi_register_bundles_parse_cleanly_too(path: str) -> None:
    resource, findings, _ = codec.parse_with_findings((DATA / path).read_bytes())
    assert resource["resourceType"] == "Bundle" and findings == []
    assert same(codec.parse_xml(codec.to_xml(resource)), resource) is None


def test_json_nulls_are_not_written_as_empty_xml_elements() -> None:
    xml = codec.to_xml({"resourceType": "Patient", "gender": None, "name": [{"given": ["a", None]}]})
    assert b"<gender" not in xml and xml.count(b"<given") == 1


def test_parse_json_and_parse_xml_refuse_the_other_format() -> None:
    with pytest.raises(FhirParseError):
        codec.parse_json(b'<Patient xmlns="http://hl7.org/fhir"/>')
    with pytest.raises(FhirParseError):
        codec.parse_xml(b'{"resourceType":"Patient"}')


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "active": object()},
        {"resourceType": "Patient", "birthDate": 3.5},
        {"resourceType": "Patient", "text": {"status": "generated", "div": "<div"}},
        {"resourceType": "Patient", "name": [{"family": "a\x01b"}]},
        {"resourceType": "Patient", "contained": [{"id": "no type"}]},
        {"resourceType": "Patient", "name": ["not an object"]},
        {"id": "no resourceType"},
    ],
)
def test_what_fhir_cannot_carry_gives_a_serialize_error(resource: dict[str, Any]) -> None:
    with pytest.raises(FhirSerializeError):
        codec.to_xml(resource)
        codec.to_json(resource)


def test_json_with_a_non_json_value_gives_a_serialize_error() -> None:
    with pytest.raises(FhirSerializeError):
        codec.to_json({"resourceType": "Patient", "active": object()})
    with pytest.raises(FhirSerializeError):
        codec.to_json({"resourceType": "Basic", "extension": [{"url": "a", "valueDecimal": Decimal("NaN")}]})


# ---------------------------------------------------------------------------------------------------------
# The type table


def test_type_table_is_current() -> None:
    """Re-run the generator in memory: the checked-in _types.py must be what it writes today."""
    path = REPO / "scripts" / "generate_fhir_types.py"
    spec = importlib.util.spec_from_file_location("generate_fhir_types", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (REPO / "medcom_bridge" / "fhir" / "_types.py").read_text(encoding="utf-8")
    assert module.generate() == current, "run: .venv/bin/python scripts/generate_fhir_types.py"


def test_type_table_knows_the_medcom_resources_and_r4_facts() -> None:
    for rtype in ("Bundle", "MessageHeader", "Communication", "Patient", "Organization", "Practitioner",
                  "PractitionerRole", "CareTeam", "Encounter", "Provenance", "OperationOutcome", "Endpoint", "Binary"):  # fmt: skip
        assert rtype in RESOURCES and rtype in TYPES
    fields = {e[0]: e for e in TYPES["Communication"]}
    assert (
        fields["recipient"][2] is True
    )  # repeats in R4 (MedCom narrows it to 0..1, the wire keeps the array)
    assert fields["subject"][2] is False
    assert {e[0] for e in TYPES["CommunicationPayload"] if e[3] == "content"} == {
        "contentString", "contentAttachment", "contentReference"}  # fmt: skip
    extension_values = {e[1] for e in TYPES["Extension"] if e[3] == "value"}
    assert "Meta" in extension_values and "CodeableReference" not in extension_values  # R4, not R4B
    assert all(t in PRIMITIVES or t in TYPES for es in TYPES.values() for _, t, _, _ in es)


# ---------------------------------------------------------------------------------------------------------
# Fuzzing: garbage in gives FhirParseError, never another exception


def _parse_or_refuse(data: bytes) -> None:
    try:
        resource, findings, _ = codec.parse_with_findings(data)
    except FhirParseError as exc:
        assert exc.rule and exc.message
        return
    assert isinstance(resource, dict) and isinstance(findings, list)
    for write in (codec.to_json, codec.to_xml):
        with contextlib.suppress(FhirSerializeError):
            write(resource)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    _parse_or_refuse(data)
    _parse_or_refuse(b"{" + data)
    _parse_or_refuse(b'<Patient xmlns="http://hl7.org/fhir">' + data)


_FIELD_NAMES = sorted({e[0] for es in TYPES.values() for e in es})
_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([*sorted(RESOURCES), "Observation", ""]),
    st.dictionaries(
        st.sampled_from(_FIELD_NAMES) | st.text(max_size=6).map(lambda s: "_" + s), _json_values, max_size=6
    ),
)
def test_random_json_never_crashes(rtype: str, body: dict[str, Any]) -> None:
    data = json.dumps({"resourceType": rtype, **body}).encode()
    _parse_or_refuse(data)
    _parse_or_refuse(json.dumps(body).encode())


_xml_names = st.sampled_from([*_FIELD_NAMES, "div", "Patient", "extension", "x"])
_xml_attrs = st.dictionaries(
    st.sampled_from(["value", "id", "url", "foo"]),
    st.text(alphabet=string.ascii_letters + string.digits + " -.:/&<\"'\n", max_size=8),
    max_size=2,
)


def _element(name: str, attrs: dict[str, str], kids: list[str]) -> str:
    escaped = {
        k: v.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;") for k, v in attrs.items()
    }
    attr_text = "".join(f' {k}="{v}"' for k, v in escaped.items())
    return f"<{name}{attr_text}>{''.join(kids)}</{name}>"


_xml_tree = st.recursive(
    st.builds(_element, _xml_names, _xml_attrs, st.just([])),
    lambda kids: st.builds(_element, _xml_names, _xml_attrs, st.lists(kids, max_size=3)),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([*sorted(RESOURCES), "Observation"]), st.lists(_xml_tree, max_size=4))
def test_random_fhir_like_xml_never_crashes(rtype: str, kids: list[str]) -> None:
    _parse_or_refuse(f'<{rtype} xmlns="http://hl7.org/fhir">{"".join(kids)}</{rtype}>'.encode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(range(len(ALL))),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 40), st.binary(max_size=6)), min_size=1, max_size=4),
)
def test_mutated_official_examples_never_crash(which: int, edits: list[tuple[float, int, bytes]]) -> None:
    data = bytearray(ALL[which][1][:20000])
    for where, cut, insert in edits:
        i = int(where * len(data))
        data[i : i + cut] = insert
    _parse_or_refuse(bytes(data))


# ---------------------------------------------------------------------------------------------------------
# Generated resources round-trip (valid FHIR built from the type table)

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff") | st.sampled_from("\n\t\"<>&æøå"),
                min_size=1, max_size=12).filter(lambda s: s.strip() != "")  # fmt: skip
_PRIMITIVE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "boolean": st.booleans(),
    "integer": st.integers(-(2**31), 2**31 - 1),
    "integer64": st.integers(-(2**63), 2**63 - 1),
    "positiveInt": st.integers(1, 2**31 - 1),
    "unsignedInt": st.integers(0, 2**31 - 1),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: -100 <= d.as_tuple().exponent <= 100  # type: ignore[operator]
    ),
    "date": st.sampled_from(["2024", "2024-09", "2024-09-06"]),
    "dateTime": st.sampled_from(["2024-09-06", "2024-09-06T17:15:00+02:00", "2024-09-06T15:15:00.123Z"]),
    "instant": st.sampled_from(["2024-09-06T17:15:00+02:00", "2024-09-06T15:15:00Z"]),
    "time": st.sampled_from(["17:15:00", "08:00:00.5"]),
    "id": st.from_regex(r"[A-Za-z0-9\-\.]{1,20}", fullmatch=True),
    "code": st.from_regex(r"[a-z][a-z\-]{0,10}( [a-z]{1,3})?", fullmatch=True),
}


@st.composite
def _complex(draw: st.DrawFn, owner: str, depth: int) -> dict[str, Any]:
    fields = [e for e in TYPES[owner] if e[1] not in ("Resource", "xhtml")]
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=4, unique=True)) if fields else []
    out: dict[str, Any] = {}
    seen_choices: set[str] = set()
    for name, typ, repeats, choice in chosen:
        if choice and choice in seen_choices:
            continue
        seen_choices.add(choice)
        if typ not in PRIMITIVES and depth >= 2:
            continue
        strategy = _PRIMITIVE_VALUES.get(typ, _TEXT) if typ in PRIMITIVES else _complex(typ, depth + 1)
        count = draw(st.integers(1, 2)) if repeats else 1
        values = [draw(strategy) for _ in range(count)]
        out[name] = values if repeats else values[0]
    if not out:
        out = (
            {"extension": [{"url": "http://example.org/x", "valueString": "x"}]}
            if owner != "Extension"
            else {"url": "u"}
        )
    if owner == "Extension":
        out.setdefault("url", "http://example.org/ext")
    return out


@st.composite
def _resource(draw: st.DrawFn) -> dict[str, Any]:
    rtype = draw(
        st.sampled_from(
            ["Patient", "Organization", "Communication", "MessageHeader", "Provenance", "Encounter"]
        )
    )
    body = draw(_complex(rtype, 0))
    return {"resourceType": rtype, **body}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(_resource())
def test_generated_resources_round_trip_through_both_formats(resource: dict[str, Any]) -> None:
    via_json, json_findings = codec.parse_json_with_findings(codec.to_json(resource))
    via_xml, xml_findings = codec.parse_xml_with_findings(codec.to_xml(resource))
    assert json_findings == [] and xml_findings == []
    assert same(resource, via_json) is None, same(resource, via_json)
    assert same(resource, via_xml) is None, same(resource, via_xml)


def test_bench_script_runs_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("fhir_codec_bench", REPO / "bench" / "fhir_codec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--rounds", "1"])
    out = capsys.readouterr().out
    assert "parse json" in out and "msg/s" in out

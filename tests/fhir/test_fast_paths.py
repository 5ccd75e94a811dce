"""The validator's and codec's shortcuts give exactly the verdict of the general route they skip."""

from __future__ import annotations

import binascii
import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.fhir.codec import has_bad_chars

_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=0, max_size=40),
    st.integers(min_value=0, max_value=600),
    st.sampled_from(["", "\n", "\x07", "\x1f", "\ufffe", "\uffff", "æ", "\t", "\x7f"]),
)
def test_bad_chars_matches_the_regex(head: str, pad: int, tail: str) -> None:
    value = head + "x" * pad + tail  # long values take the per-character route
    assert has_bad_chars(value) == (_BAD.search(value) is not None)


def _strict_ok(raw: bytes) -> bool:
    try:
        binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_B64 + "=\n -_", max_size=24))
def test_base64_shortcut_accepts_only_what_strict_decoding_accepts(text: str) -> None:
    from medcom_bridge.fhir._context import Context
    from medcom_bridge.fhir._structure import _Walker

    walker = _Walker(Context({"resourceType": "Bundle"}, "5.0"), {}, "2.0.1", None)
    ok = walker._base64(text, "x")
    raw = text.encode()
    stripped = re.sub(rb"\s+", b"", raw)
    assert ok == (text == "" or _strict_ok(raw) or _strict_ok(stripped))


def test_base64_shortcut_on_a_big_attachment() -> None:
    from medcom_bridge.fhir._context import Context
    from medcom_bridge.fhir._structure import _Walker

    walker = _Walker(Context({"resourceType": "Bundle"}, "5.0"), {}, "2.0.1", None)
    data = binascii.b2a_base64(bytes(range(256)) * 300, newline=False).decode()
    assert walker._base64(data, "x")
    assert not walker._base64(data[:-1] + "!", "x")
    assert walker.ctx.findings and walker.ctx.findings[0].rule == "datatype"


# -- to_xml: the text writer gives the tree writer's bytes ---------------------------------------------------


_SPECIAL = "<>&\"'\n\r\t aæ\x7f\u2028\U0001f600"


def _both(resource: dict[str, object]) -> tuple[bytes | str, bytes | str]:
    from medcom_bridge.fhir import codec

    def run(fn: object) -> bytes | str:
        try:
            return fn()  # type: ignore[operator, no-any-return]
        except codec.FhirSerializeError as exc:
            return f"error {exc.rule}"

    rtype = str(resource["resourceType"])
    return (
        run(lambda: codec.to_xml(resource)),
        run(lambda: codec._to_xml_tree(resource, rtype, False)),
    )


def test_text_writer_equals_tree_writer_on_the_official_examples() -> None:
    from medcom_bridge.fhir import codec
    from tests.fhir.examples import official_examples

    checked = 0
    for _, data in official_examples():
        model = codec.parse(data)[0]
        fast = codec._XML_DECL + codec._to_xml_text(model, model["resourceType"]).replace(b"&#10;", b"&#xA;")
        assert fast == codec._to_xml_tree(model, model["resourceType"], False)
        checked += 1
    assert checked >= 20


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.one_of(st.sampled_from(list(_SPECIAL)), st.characters()), max_size=30),
    st.one_of(st.none(), st.text(max_size=8)),
    st.lists(st.text(max_size=6), max_size=3),
    st.sampled_from(["family", "_family", "text", "given"]),
)
def test_text_writer_equals_tree_writer_on_odd_values(
    text: str, ext_id: str | None, given_values: list[str], key: str
) -> None:
    name: dict[str, object] = {key: text if key != "given" else given_values or [text]}
    if ext_id is not None:
        name["_given"] = [{"id": ext_id, "extension": [{"url": "http://x", "valueString": text}]}]
    resource = {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "name": [name],
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(text)}</div>',
        },
        "contact": [{"extension": [{"url": text or "u", "valueInteger": len(text)}]}],
    }
    fast, tree = _both(resource)
    assert fast == tree


# -- to_json: a big message is written piecewise, with the same bytes ----------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        # Lone surrogates cannot be UTF-8 at all: test_a_lone_surrogate_is_a_serialize_error covers them.
        st.text(
            alphabet=st.one_of(st.sampled_from(list(_SPECIAL)), st.characters(exclude_categories=("Cs",))),
            max_size=40,
        ),
        max_size=6,
    ),
    st.booleans(),
    st.booleans(),
)
def test_streamed_json_equals_the_plain_text(values: list[str], pretty: bool, collide: bool) -> None:
    from decimal import Decimal

    from medcom_bridge.fhir import codec

    resource: dict[str, object] = {
        "resourceType": "Basic",
        "values": values,
        "nested": [{"data": v * 3, "n": Decimal("1.50")} for v in values],
        "note": "\x00big0\x00" if collide else "plain",
    }
    expected = codec._json_text(resource, pretty).encode("utf-8")
    old = codec._BIG_JSON, codec._BIG_STRING
    codec._BIG_JSON, codec._BIG_STRING = 10, 5  # every value of 5+ characters counts as big here
    try:
        assert codec.to_json(resource, pretty=pretty) == expected
        streamed = codec._to_json_streamed(resource, pretty)
    finally:
        codec._BIG_JSON, codec._BIG_STRING = old
    big = [v for v in values if len(v) >= 5] + [v * 3 for v in values if len(v * 3) >= 5]
    if big and not collide:
        assert streamed == expected  # the piecewise route was taken


def test_a_lone_surrogate_is_a_serialize_error() -> None:
    """JSON input may spell "\\ud800"; writing it must give the codec's own error, not a UnicodeEncodeError."""
    import pytest

    from medcom_bridge.fhir import codec

    resource, _ = codec.parse_json_with_findings(b'{"resourceType":"Basic","language":"a\\ud800"}')
    for write in (codec.to_json, codec.to_xml):
        with pytest.raises(codec.FhirSerializeError):
            write(resource)


def test_a_bundle_with_a_big_attachment_is_streamed_from_the_start() -> None:
    from medcom_bridge.fhir import codec

    data = "QUJD" * 300
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Communication", "payload": [{"contentString": 'æ\n"x"'}]}},
            {
                "resource": {
                    "resourceType": "Communication",
                    "payload": [{"contentAttachment": {"data": data}}],
                }
            },
        ],
    }
    expected = codec._json_text(bundle, False).encode("utf-8")
    old = codec._BIG_STRING
    codec._BIG_STRING = 1000
    try:
        assert codec._has_big_attachment(bundle)
        assert codec.to_json(bundle) == expected
    finally:
        codec._BIG_STRING = old
    assert not codec._has_big_attachment(bundle)

"""The checker's shortcuts must never accept what the full rule rejects.

`schema.compiled` gives every simple type a cheap test (length range, set, regular expression) that
proves a value valid without calling the type's `check`; `check` only runs when the test fails. These
tests hold each shortcut against its `check` on the mutation values and on generated strings, in every
edition, and cover the attribute pre-check's UTF-7 escape hatch.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.oioxml.schema import (
    _IN,
    _LEN,
    _RE,
    BODIES,
    EDITIONS,
    ComplexT,
    Edition,
    SimpleT,
    _fast,
    _only_root_has_attributes,
    emessage_for,
)
from medcom_bridge.oioxml.validation import validate_bytes
from tests.conftest import DATA
from tests.oioxml.mutations import VALUE_MUTATIONS


def _simple_types() -> list[tuple[str, SimpleT, Edition]]:
    found: dict[tuple[int, str], tuple[str, SimpleT, Edition]] = {}

    def walk(t: ComplexT, edition: Edition) -> None:
        for name, d in t.decls.items():
            if isinstance(d.type, SimpleT):
                found.setdefault((id(d.type), edition.name + edition.folder), (name, d.type, edition))
            elif isinstance(d.type, ComplexT):
                walk(d.type, edition)

    for ns, bodies in BODIES.items():
        for edition in EDITIONS[ns]:
            for body in bodies:
                walk(emessage_for(ns, body, edition.local_elements), edition)
    return list(found.values())


SIMPLE_TYPES = _simple_types()


def _fast_ok(kind: int, arg: Any, value: str) -> bool:
    if kind == _LEN:
        return len(value) in arg
    if kind == _IN:
        return value in arg
    if kind == _RE:
        return arg.fullmatch(value) is not None
    return False


def _checked(ty: SimpleT, value: str, edition: Edition) -> str | None:
    return ty.check(" ".join(value.split()) if ty.collapse else value, edition)


def test_every_simple_type_is_covered() -> None:
    assert len(SIMPLE_TYPES) > 40
    # Most types have a shortcut; the ones without simply always call `check`.
    assert sum(ty.fast is not None for _, ty, _ in SIMPLE_TYPES) > 30


def test_shortcuts_agree_with_check_on_the_mutation_values() -> None:
    probes = set(VALUE_MUTATIONS) | {"2024-02-28", "2024-02-29", "0001-01-01", "23:59", "00:00", "7", "01"}
    for name, ty, edition in SIMPLE_TYPES:
        kind, arg = _fast(ty, edition)
        for value in probes:
            if _fast_ok(kind, arg, value):
                assert _checked(ty, value, edition) is None, (name, edition.name, value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789-:+Z tæøå_abcXDIS"), max_size=40))
def test_shortcuts_never_accept_what_check_rejects(value: str) -> None:
    for name, ty, edition in SIMPLE_TYPES:
        kind, arg = _fast(ty, edition)
        if _fast_ok(kind, arg, value):
            assert _checked(ty, value, edition) is None, (name, edition.name, value)


def test_a_code_set_shortcut_accepts_exactly_the_codes() -> None:
    # An enum's shortcut is the edition's code list itself: no code is lost, none is added.
    hits = 0
    for _, ty, edition in SIMPLE_TYPES:
        kind, arg = _fast(ty, edition)
        if ty.fast is not None and ty.fast[0] == "codes" and kind == _IN:
            hits += 1
            assert arg == edition.codes(ty.fast[1])
    assert hits > 5


def test_attribute_hidden_by_utf7_is_still_found() -> None:
    sample = (DATA / "oioxml" / "samples" / "XCTL03_medcom_flow2_from_fhir_for_XDIS91.xml").read_bytes()
    text = sample.decode("iso-8859-1").split("?>", 1)[1]
    letter = text.replace("<Letter>", '<Letter id="1">', 1)
    assert letter != text
    plain = ('<?xml version="1.0" encoding="UTF-7"?>' + letter).encode("utf-7")
    # '=' and '"' written in UTF-7's base64 form: no '=' byte after the root tag at all.
    hidden = plain.replace(b'id="1"', b"id+AD0AIg-1+ACI-")
    assert hidden != plain
    assert not _only_root_has_attributes(hidden)
    report = validate_bytes(hidden)
    assert "xctl03-attribute" in report.rules("error"), report.findings


def test_base64_padding_is_not_taken_for_an_attribute() -> None:
    sample = (DATA / "oioxml" / "samples" / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes()
    assert b"=<" in sample or b"=\n" in sample or b"= " in sample  # the PDF's base64 is padded
    assert _only_root_has_attributes(sample)
    with_attribute = sample.replace(b"<BinaryObject>", b'<BinaryObject id="1">', 1)
    assert not _only_root_has_attributes(with_attribute)
    assert "xbin01-attribute" in validate_bytes(with_attribute).rules("error")

"""The interchange codec: byte-exact round trips, the release character, UNA, binary objects, and hostile
input that must end in a finding (never another exception, never memory beyond a small multiple of the input)."""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.edifact import oioxml_twin
from medcom_bridge.edifact.convert import EdifactConversionError, to_edifact
from medcom_bridge.edifact.syntax import (
    MAX_SEGMENT,
    Delimiters,
    EdifactSyntaxError,
    Interchange,
    Segment,
    parse,
    seg,
    serialize,
)
from medcom_bridge.edifact.validation import validate_bytes
from medcom_bridge.oioxml.model import AnyEmessage
from tests.edifact.strategies import ANY_MESSAGE

SMALL = b"UNA:+.? 'UNB+UNOC:3+5790000121526:14+5790000120314:14+140115:1210+ENV1'UNH+L1+CONTRL:D:93A:ZZ:C0330Q+CTL03'UCI+E0+5790000120314:14+5790000121526:14+7'UCM+L0+MEDDIS:D:93A:UN:D9134L+7'UNT+4+L1'UNZ+1+ENV1'"


def test_release_character_round_trips() -> None:
    ic = Interchange(
        (
            seg("UNB", ("UNOC", "3")),
            seg("FTX", "NC", "P00", "", ("a?b", "c:d", "e'f", "g+h")),
            seg("UNZ", "1"),
        )
    )
    data = serialize(ic)
    assert b"a??b:c?:d:e?'f:g?+h" in data
    assert parse(data) == ic


def test_custom_service_characters_from_una() -> None:
    data = b"UNA|*.# ~UNB*UNOC|3~FTX*a#~b|c~UNZ*1~"
    ic = parse(data)
    assert ic.delimiters == Delimiters("|", "*", ".", "#", " ", "~")
    assert ic.segments[1].elements == (("a~b", "c"),)
    assert serialize(ic) == data


def test_binary_object_is_bytes_and_may_hold_service_characters() -> None:
    payload = bytes(range(256)) + b"'+:?\r\n"
    data = (
        b"UNB+UNOC:3'UNO+1+AID:X+OBJ:TXT:TXT:91+%d:14:1:A'" % len(payload)
        + payload
        + b"UNP+%d+1'UNZ+1'" % len(payload)
    )
    ic = parse(data)
    assert ic.segments[1].payload == payload and ic.segments[2].tag == "UNP"
    assert serialize(ic) == data


def test_line_breaks_between_segments_are_kept() -> None:
    data = SMALL.replace(b"'", b"'\r\n") + b"\r\n"
    assert serialize(parse(data)) == data
    assert parse(data) == parse(SMALL)  # layout is not part of equality


def test_trailing_empty_elements_are_kept() -> None:
    ic = parse(b"UNB+UNOC:3+A:14+B:14+981213:1210+K++++0'UNZ+1+K'")
    assert ic.unb.elements[5:] == (("",), ("",), ("",), ("0",))
    assert ic.acknowledgement_request == "0"


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "edifact-empty"),
        (b"UNA:+", "edifact-una"),
        (b"UNB+UNOC:3'UNH+1", "edifact-unterminated"),
        (b"UNB+UNOC:3'un1+x'", "edifact-segment-tag"),
        (b"UNB-UNOC'", "edifact-syntax"),
        (b"UNB+a?b'", "edifact-release"),
        (b"UNB+UNOC:3'UNO+1+AID:X+OBJ+99:14:1:A'short", "edifact-uno-size"),
        (b"UNB+UNOC:3'UNO+1+AID:X+OBJ+x:14:1:A'", "edifact-uno-size"),
    ],
)
def test_hostile_input_is_a_named_syntax_error(data: bytes, rule: str) -> None:
    with pytest.raises(EdifactSyntaxError) as caught:
        parse(data)
    assert caught.value.rule == rule
    report = validate_bytes(data)
    assert not report.valid and report.findings[0].rule == rule


def test_uno_size_beyond_the_file_is_a_finding_not_an_allocation() -> None:
    data = SMALL[: -len(b"UNZ+1+ENV1'")] + b"UNO+1+AID:X+OBJ:TXT:TXT:91+99999999999:14:1:A'abc"
    report = validate_bytes(data)
    assert [f.rule for f in report.findings] == ["edifact-uno-size"]
    assert "only 3 follow" in report.findings[0].message


def test_100_mb_of_one_segment_is_refused_quickly_with_bounded_memory() -> None:
    data = b"UNA:+.? 'UNB+UNOC:3+" + b"A" * 100_000_000
    tracemalloc.start()
    started = time.perf_counter()
    report = validate_bytes(data)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [f.rule for f in report.findings] == ["edifact-segment-too-long"]
    assert str(MAX_SEGMENT) in report.findings[0].message
    assert peak < 2.5 * len(data)  # the decoded text (one copy), nothing per segment
    assert elapsed < 30  # generous: this is about not being quadratic, not a timing assertion


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_garbage_never_raises_anything_but_a_syntax_error(data: bytes) -> None:
    try:
        ic = parse(data)
    except EdifactSyntaxError:
        pass
    else:
        assert serialize(ic) == data or b"?" in data  # only a needless release character changes bytes
    validate_bytes(data)  # never raises


@settings(max_examples=300)
@given(st.integers(0, len(SMALL) - 1), st.integers(0, 6), st.binary(max_size=6))
def test_damaged_interchanges_give_findings_never_exceptions(pos: int, cut: int, insert: bytes) -> None:
    report = validate_bytes(SMALL[:pos] + insert + SMALL[pos + cut :])
    for f in report.findings:
        assert f.rule.startswith(("edifact-", "kind-")) and f.path


def test_segment_helpers() -> None:
    s = Segment("NAD", (("SSP",), ("123", "", "9")))
    assert s.value(2, 3) == "9" and s.value(2, 4) == "" and s.value(9) == ""
    assert s.has(2, 2) and not s.has(2, 4)


@settings(max_examples=100, deadline=None)
@given(ANY_MESSAGE)
def test_generated_interchanges_round_trip(message: AnyEmessage) -> None:
    try:
        ic = to_edifact(message)
    except EdifactConversionError:
        return
    data = serialize(ic)
    assert parse(data) == ic
    assert serialize(parse(data)) == data
    with_breaks = data.replace(b"'U", b"'\r\nU") if b"UNO+" not in data else data
    assert serialize(parse(with_breaks)) == with_breaks


_SAMPLES = [
    (Path(__file__).resolve().parents[2].parent / "shared/data/edifact" / name).read_bytes()
    for name in (
        "DIS91_2_edifactconv_pair.edi",
        "BIN01_edifactconv_hello_world.edi",
        "CTL02_1_edifactconv_pair.edi",
    )
]
_VALUES = st.sampled_from(
    ["", "X", "?", "99", "²", "000000", "ø" * 80, "UNT", "1:2", "+", "'", "\\\\", ".", "S14"]
)


@settings(max_examples=400)
@given(st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 10_000), _VALUES)
def test_mutated_letters_give_findings_or_conversion_errors_never_other_exceptions(
    sample: int, at: int, length: int, value: str
) -> None:
    data = _SAMPLES[sample]
    start = at % len(data)
    mutated = data[:start] + value.encode("latin-1") + data[start + length % 12 :]
    validate_bytes(mutated)  # never raises
    with contextlib.suppress(EdifactSyntaxError, EdifactConversionError):
        oioxml_twin(mutated)

"""The EDIFACT validator: every rule names its place (`S14/FTX[3]`), what it found and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path

from medcom_bridge.edifact.validation import validate_bytes
from medcom_bridge.findings import Finding

DIS91 = (
    Path(__file__).resolve().parents[2].parent / "shared/data/edifact/DIS91_2_edifactconv_pair.edi"
).read_bytes()


def recount(data: bytes) -> bytes:
    """Set UNT to the real segment count (so a test sees only the finding it is about)."""
    body = data[data.index(b"UNH+") : data.index(b"UNT+")]
    return re.sub(rb"UNT\+[0-9]+\+", b"UNT+%d+" % (body.count(b"'") + 1), data)


def findings(data: bytes) -> list[Finding]:
    return [f for f in validate_bytes(data).findings if f.severity == "error"]


def only(data: bytes) -> Finding:
    found = findings(data)
    assert len(found) == 1, found
    return found[0]


def test_the_sample_is_valid() -> None:
    report = validate_bytes(DIS91)
    assert report.valid and report.kind == "dis91" and report.version == "D9134L"


def test_unt_count() -> None:
    f = only(DIS91.replace(b"UNT+29+", b"UNT+30+"))
    assert (f.rule, f.path) == ("edifact-unt-count", "UNT/0074")
    assert "says '30' segments; the message has 29" in f.message


def test_unz_count_and_reference() -> None:
    assert only(DIS91.replace(b"UNZ+1+", b"UNZ+2+")).rule == "edifact-unz-count"
    assert only(DIS91.replace(b"UNZ+1+12152000000202", b"UNZ+1+X")).rule == "edifact-unz-reference"


def test_overlong_ftx_line_names_the_segment() -> None:
    lines = DIS91.split(b"\n")
    ftx = [i for i, line in enumerate(lines) if line.startswith(b"FTX+NC")]
    lines[ftx[1]] = b"FTX+NC+P00++" + b"x" * 71 + b"'"
    f = only(b"\n".join(lines))
    assert (f.rule, f.path) == ("edifact-ftx-line-length", "S14/FTX[3]/C108/4440[1]")
    assert "71 characters; at most 70" in f.message


def test_too_many_ftx_in_an_s14_group() -> None:
    at = DIS91.index(b"FTX+NC")
    extra = b"FTX+NC+P00++x'\n" * 12
    f = only(recount(DIS91[:at] + extra + DIS91[at:]))
    assert f.rule == "edifact-ftx-limit" and f.path == "S14"
    assert "14 FTX of text; an S14 group holds at most 9 (8 beside the subject FTX+OE)" in f.message


def test_unknown_format_code_and_qualifier() -> None:
    rules = {f.rule for f in findings(DIS91.replace(b"FTX+NC+P00", b"FTX+XX+PQ0", 1))}
    assert rules == {"edifact-ftx-format", "edifact-ftx-qualifier"}


def test_a_code_outside_medcoms_lists_is_the_converters_refusal() -> None:
    f = only(DIS91.replace(b"PAS+POT", b"PAS+XYZ"))
    assert (f.rule, f.path) == ("edifact-code-unknown", "S11/PAS")
    assert "'XYZ' is not a known episode-of-care status" in f.message


def test_missing_group_and_wrong_order() -> None:
    start, end = DIS91.index(b"S11+11"), DIS91.index(b"S14+14")
    assert {(f.rule, f.path) for f in findings(recount(DIS91[:start] + DIS91[end:]))} == {
        ("edifact-group", "S11")
    }
    s01 = DIS91.index(b"S01+01")
    swapped = DIS91[:s01] + DIS91[start:end] + DIS91[s01:start] + DIS91[end:]
    assert ("edifact-group", "/") in {(f.rule, f.path) for f in findings(swapped)}


def test_patient_data_is_not_quoted() -> None:
    data = (
        DIS91.replace(b"UNT+29+", b"UNT+1+")
        .replace(b"PAS+POT", b"PAS+XYZ")
        .replace(b"FO:Nancy", b"FO:N+ancy")
    )
    for f in validate_bytes(data).findings:
        assert "2512484916" not in f.message and "Berggren" not in f.message and "Nancy" not in f.message


def test_unsupported_version() -> None:
    report = validate_bytes(DIS91.replace(b"D9134L", b"D9034L"))
    assert report.kind == "edifact" and any(f.rule == "edifact-message-type" for f in report.findings)


def test_unb_checks() -> None:
    rules = {
        f.rule for f in findings(DIS91.replace(b"UNOC:3", b"UNOA:1").replace(b"140115:1210", b"141315:1210"))
    }
    assert rules == {"edifact-syntax-id", "edifact-unb-date"}

"""Validate an EDIFACT DIS91, BIN01 or CTL01/02/03 interchange: findings with rule ids and segment paths.

Paths name segment groups and segments the way MedCom's manuals count them: `UNB`, `UNH`, `S14/FTX[3]` (the
third FTX of the first S14 group), `S14[2]/FTX[1]`, `S11/UNO[2]`. Each finding says what was found and what
is allowed. Layers, outermost first:

1. syntax (`syntax.parse`): service characters, terminators, UNO sizes; a syntax error stops here;
2. the interchange envelope: UNA, UNB (UNOC:3, EANs, date, acknowledgement request), UNZ (count, reference),
   each UNH/UNT (count, reference), UNO/UNP pairs;
3. the message: the segment groups MedCom's DIS91/BIN01/CTL manuals prescribe, FTX budgets (lines of at most
   70 characters, 5 lines per FTX, 9 FTX per S14, 8 beside the subject), format codes, qualifiers;
4. the conversion to the OIOXML twin (MedCom's code lists: identifier codes, specialities, episode status...):
   a refusal there is a finding with the converter's rule id.

Never raises for bad input; patient data is never quoted (messages give lengths and positions, not text).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence

from medcom_bridge.edifact import codes
from medcom_bridge.edifact.convert import (
    MAX_FTX_FIRST_S14,
    MAX_FTX_S14,
    EdifactConversionError,
    to_oioxml,
)
from medcom_bridge.edifact.ftx import COMPONENTS, KNOWN_FORMATS, MAX_LINE
from medcom_bridge.edifact.syntax import EdifactSyntaxError, Interchange, Segment, is_group, parse
from medcom_bridge.findings import Finding, Report, error, warning
from medcom_bridge.identifiers import gln_ok

# The segment groups of each message, in order (MedCom's DIS91 D9134L and BIN01 B0131X manuals).
_GROUPS = {"dis91": ("S01", "S02", "S07", "S11", "S14"), "bin01": ("S01", "S02", "S07", "S11")}
_REQUIRED_GROUPS = {"dis91": ("S01", "S02", "S07", "S11"), "bin01": ("S01", "S02", "S07")}
_FTX_QUALIFIERS = {"OE", "NC", "BIN", "URL", "SUP"}


def kind_of(ic: Interchange) -> tuple[str, str | None]:
    """(kind, version) of the interchange's first message: 'dis91'..'ctl03', or 'edifact' if unknown."""
    for _, message in ic.messages():
        version = message[0].value(2, 5)
        return codes.KIND_OF_VERSION.get(version, "edifact"), version or None
    return "edifact", None


def validate_bytes(data: bytes) -> Report:
    """Every finding on an EDIFACT interchange; never raises."""
    try:
        ic = parse(data)
    except EdifactSyntaxError as exc:
        return Report(_guess_kind(data), None, (error(exc.rule, exc.path, exc.message),))
    return validate(ic)


def _guess_kind(data: bytes) -> str:
    match = re.search(rb"UNH\+[^+']*\+[A-Z]{6}:[^:']*:[^:']*:[^:']*:([A-Z0-9]{6})", data[:4096])
    return codes.KIND_OF_VERSION.get(match.group(1).decode("ascii"), "edifact") if match else "edifact"


def validate(ic: Interchange) -> Report:
    messages = list(ic.messages())
    version = messages[0][1][0].value(2, 5) or None if messages else None
    kind = codes.KIND_OF_VERSION.get(version or "", "edifact")
    findings = list(_envelope(ic, messages))
    if kind == "edifact":
        findings.append(
            error(
                "edifact-message-type",
                "UNH/S009",
                f"message version {version!r} is not one we read; supported: "
                + ", ".join(f"{v[2]} {v[1]}" for v in codes.KINDS.values()),
            )
        )
    elif len(messages) == 1 and not any(f.severity == "error" for f in findings):
        findings += _message(kind, messages[0][1])
        if not any(f.severity == "error" for f in findings):
            try:
                to_oioxml(ic)
            except EdifactConversionError as exc:
                findings.append(error(exc.cause.value, exc.path, exc.message))
    return Report(kind, version, tuple(findings))


# --------------------------------------------------------------------------------------------- envelope
def _envelope(ic: Interchange, messages: list[tuple[int, tuple[Segment, ...]]]) -> Iterator[Finding]:
    segs = ic.segments
    if not ic.una:
        yield warning("edifact-una", "UNA", "no UNA service string advice; MedCom writes UNA:+.? ' first")
    if segs[0].tag != "UNB":
        yield error("edifact-unb", "UNB", f"the interchange starts with {segs[0].tag}; UNB expected first")
        return
    unb = segs[0]
    if (unb.value(1, 1), unb.value(1, 2)) != ("UNOC", "3"):
        yield error(
            "edifact-syntax-id",
            "UNB/S001",
            f"syntax {unb.value(1, 1)}:{unb.value(1, 2)}; MedCom's messages use UNOC:3 (ISO-8859-1)",
        )
    for n, what in ((2, "sender"), (3, "recipient")):
        ean = unb.value(n)
        if not gln_ok(ean):
            yield warning(
                "edifact-ean",
                f"UNB/S00{n}",
                f"the {what} identification is not a GLN/EAN location number (13 digits ending in a GS1 check digit)",
            )
        elif unb.value(n, 2) != "14":
            yield warning(
                "edifact-ean", f"UNB/S00{n}/0007", f"qualifier {unb.value(n, 2)!r}; 14 (EAN) expected"
            )
    date, time = unb.value(4, 1), unb.value(4, 2)
    if not _valid_date(date, time):
        yield error("edifact-unb-date", "UNB/S004", f"{date!r}:{time!r} is not a date yymmdd and a time hhmm")
    if not unb.value(5):
        yield error("edifact-unb-reference", "UNB/0020", "the interchange reference is empty")
    ack = unb.value(9)
    if ack not in ("", "0", "1"):
        yield error("edifact-ack-request", "UNB/0031", f"{ack!r}; allowed 1 (receipt wanted) or 0")
    if segs[-1].tag != "UNZ":
        yield error("edifact-unz", "UNZ", f"the interchange ends with {segs[-1].tag}; UNZ expected last")
        return
    unz = segs[-1]
    if unz.value(1) != str(len(messages)):
        yield error(
            "edifact-unz-count",
            "UNZ/0036",
            f"says {unz.value(1)!r} messages; the interchange has {len(messages)}",
        )
    if unz.value(2) != unb.value(5):
        yield error("edifact-unz-reference", "UNZ/0020", "differs from the interchange reference in UNB/0020")
    inside = False
    for i, s in enumerate(segs[1:-1], 2):
        if s.tag in ("UNB", "UNZ", "UNA"):
            yield error("edifact-structure", f"segment {i} ({s.tag})", f"{s.tag} inside the interchange")
        elif s.tag == "UNH":
            if inside:
                yield error(
                    "edifact-unt", f"segment {i} (UNH)", "a new UNH before the previous message's UNT"
                )
            inside = True
        elif s.tag == "UNT":
            if not inside:
                yield error("edifact-unh", f"segment {i} (UNT)", "UNT without UNH")
            inside = False
        elif not inside:
            yield error("edifact-structure", f"segment {i} ({s.tag})", "segment outside a message (UNH..UNT)")
    if inside:
        yield error("edifact-unt", "UNT", "the last message has no UNT")
    for n, (_, message) in enumerate(messages, 1):
        unh, unt = message[0], message[-1]
        where = "" if len(messages) == 1 else f"message {n} "
        if unt.value(1) != str(len(message)):
            yield error(
                "edifact-unt-count",
                f"{where}UNT/0074".strip(),
                f"says {unt.value(1)!r} segments; the message has {len(message)} (UNH and UNT included)",
            )
        if unt.value(2) != unh.value(1):
            yield error("edifact-unt-reference", f"{where}UNT/0062".strip(), "differs from UNH/0062")
        if not unh.value(1):
            yield error("edifact-unh-reference", f"{where}UNH/0062".strip(), "the message reference is empty")


def _valid_date(date: str, time: str) -> bool:
    if len(date) != 6 or len(time) != 4 or not (date + time).isdigit() or not (date + time).isascii():
        return False
    try:
        dt.datetime(2000 + int(date[:2]), int(date[2:4]), int(date[4:]), int(time[:2]), int(time[2:]))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------- message
def _paths(segments: Sequence[Segment]) -> list[tuple[str, Segment]]:
    """Each segment of a message body with its path: `BGM`, `S01[2]/NAD`, `S14/FTX[3]`."""
    group_count: dict[str, int] = {}
    out: list[tuple[str, Segment]] = []
    prefix = ""
    in_group: dict[str, int] = {}
    for s in segments:
        if is_group(s.tag):
            group_count[s.tag] = group_count.get(s.tag, 0) + 1
            n = group_count[s.tag]
            prefix = s.tag if n == 1 else f"{s.tag}[{n}]"
            in_group = {}
            out.append((prefix, s))
            continue
        in_group[s.tag] = in_group.get(s.tag, 0) + 1
        index = in_group[s.tag]
        name = f"{s.tag}[{index}]" if index > 1 or s.tag in ("FTX", "UNO", "UNP", "UCM") else s.tag
        out.append((f"{prefix}/{name}" if prefix else name, s))
    return out


def _message(kind: str, message: Sequence[Segment]) -> list[Finding]:
    unh = message[0]
    findings: list[Finding] = []
    msg_type, version, medcom = codes.KINDS[kind]
    if unh.value(2, 1) != msg_type or unh.value(3) != medcom:
        findings.append(
            error(
                "edifact-message-type",
                "UNH/S009",
                f"{unh.value(2, 1)} ... {unh.value(3)}; a {version} message is {msg_type} ... {medcom}",
            )
        )
    body = message[1:-1]
    paths = _paths(body)
    if kind in _GROUPS:
        findings += _groups(kind, body)
        findings += _binary(paths)
    findings += _ftx(kind, paths)
    return findings


def _groups(kind: str, body: Sequence[Segment]) -> list[Finding]:
    findings = []
    tags = [s.tag for s in body if is_group(s.tag)]
    allowed = _GROUPS[kind]
    for t in sorted(set(tags)):
        if t not in allowed:
            findings.append(
                error(
                    "edifact-group", t, f"group {t} is not in a {kind.upper()}; allowed {', '.join(allowed)}"
                )
            )
    for t in _REQUIRED_GROUPS[kind]:
        if t not in tags:
            findings.append(error("edifact-group", t, f"the required segment group {t} is missing"))
    order = [allowed.index(t) for t in tags if t in allowed]
    if order != sorted(order):
        findings.append(
            error(
                "edifact-group",
                "/",
                f"segment groups in order {' '.join(tags)}; expected {' '.join(allowed)}",
            )
        )
    return findings


def _binary(paths: Sequence[tuple[str, Segment]]) -> list[Finding]:
    findings = []
    for i, (path, s) in enumerate(paths):
        if s.tag != "UNO":
            continue
        nxt = paths[i + 1][1] if i + 1 < len(paths) else None
        if nxt is None or nxt.tag != "UNP":
            findings.append(error("edifact-unp", path, "the binary object is not followed by UNP"))
        elif nxt.value(1) != s.value(4, 1) or nxt.value(2) != s.value(1):
            findings.append(
                error(
                    "edifact-unp",
                    paths[i + 1][0],
                    f"UNP+{nxt.value(1)}+{nxt.value(2)} does not close UNO {s.value(1)} of {s.value(4, 1)} bytes",
                )
            )
        uid = s.value(2, 2)
        if not re.fullmatch(r"[0-9A-Fa-f]{32}", uid):
            findings.append(
                error(
                    "edifact-object-id",
                    f"{path}/AID",
                    f"{len(uid)} characters; a UUID of 32 hex digits (no dashes) expected",
                )
            )
    return findings


def _ftx(kind: str, paths: Sequence[tuple[str, Segment]]) -> list[Finding]:
    findings = []
    per_group: dict[str, list[tuple[str, Segment]]] = {}
    for path, s in paths:
        if s.tag != "FTX":
            continue
        group = path.rpartition("/")[0]
        per_group.setdefault(group, []).append((path, s))
        lines = s.elements[3] if len(s.elements) > 3 else ()
        if len(lines) > COMPONENTS:
            findings.append(
                error("edifact-ftx-lines", path, f"{len(lines)} text components; at most {COMPONENTS}")
            )
        for n, line in enumerate(lines, 1):
            if len(line) > MAX_LINE:
                findings.append(
                    error(
                        "edifact-ftx-line-length",
                        f"{path}/C108/4440[{n}]",
                        f"{len(line)} characters; at most {MAX_LINE}",
                    )
                )
        code = s.value(2)
        if code not in KNOWN_FORMATS:
            findings.append(
                error(
                    "edifact-ftx-format",
                    f"{path}/4453",
                    f"format code {code!r}; allowed font P/F + style 0/F/K/U + alignment 0/M/H with one of style "
                    "or alignment 0 (e.g. P00, PF0, F0M)",
                )
            )
        if kind == "dis91" and s.value(1) not in _FTX_QUALIFIERS:
            findings.append(
                error(
                    "edifact-ftx-qualifier",
                    f"{path}/4451",
                    f"{s.value(1)!r}; allowed {', '.join(sorted(_FTX_QUALIFIERS))}",
                )
            )
    if kind == "dis91":
        for n, (group, ftxs) in enumerate(per_group.items()):
            text = [s for _, s in ftxs if s.value(1) not in ("BIN", "URL", "SUP", "OE")]
            has_subject = bool(ftxs) and ftxs[0][1].value(1) == "OE"
            limit = MAX_FTX_FIRST_S14 if n == 0 and has_subject else MAX_FTX_S14
            if text and len(text) > limit:
                findings.append(
                    error(
                        "edifact-ftx-limit",
                        group,
                        f"{len(text)} FTX of text; an S14 group holds at most {MAX_FTX_S14} "
                        f"({MAX_FTX_FIRST_S14} beside the subject FTX+OE)",
                    )
                )
    return findings

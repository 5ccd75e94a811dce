"""SOR-EDI registrations as CSV (architecture.md §3.3): header `ean,type,direction`, extra columns ignored.

No public SOR-EDI file layout exists (sor-ehmi.md §c), so this is the project's own contract. Two optional
columns are understood because the quality rules need them: `version` (MedCom version code, e.g. XD9134L)
and a `type` that is an EHMI message-definition URI instead of a MedCom code.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from medcom_bridge.registry import message_types
from medcom_bridge.registry.csv_input import csv_problem, refuse_binary
from medcom_bridge.registry.model import Direction, ImportIssue, RegisterInputError, Registration

REQUIRED_COLUMNS = ("ean", "type", "direction")
_HEADER = "ean,type,direction"
_DIRECTIONS: dict[str, tuple[Direction, ...]] = {
    "receive": ("receive",),
    "send": ("send",),
    "both": ("receive", "send"),
}


@dataclass(slots=True)
class EdiImport:
    registrations: list[Registration] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)


def read_sor_edi_csv(data: bytes) -> EdiImport:
    """Parse SOR-EDI CSV bytes (UTF-8, with or without BOM; `,` or `;` separated).

    Raises RegisterInputError when the header lacks a required column; bad rows become issues.
    """
    refuse_binary(data, _HEADER)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Excel on Danish Windows saves cp1252
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise RegisterInputError("the file is empty; expected a CSV with header 'ean,type,direction'", 1)
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return _read_rows(reader, delimiter)
    except csv.Error as exc:
        raise csv_problem(exc, reader.line_num, _HEADER) from None


def _read_rows(reader: Any, delimiter: str) -> EdiImport:
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RegisterInputError(
            f"header is '{delimiter.join(header)}'; missing column(s) {', '.join(missing)} "
            "(expected at least 'ean,type,direction')",
            1,
        )
    col = {name: header.index(name) for name in header}
    result = EdiImport()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        ean, raw_type, raw_direction = cell("ean"), cell("type"), cell("direction").lower()
        if not ean:
            result.issues.append(
                ImportIssue("edi-csv-row", "error", line, "the ean column is empty; row skipped")
            )
            continue
        if not raw_type:
            result.issues.append(
                ImportIssue("edi-csv-row", "error", line, "the type column is empty; row skipped", ean=ean)
            )
            continue
        directions = _DIRECTIONS.get(raw_direction)
        if directions is None:
            result.issues.append(
                ImportIssue(
                    "edi-csv-row",
                    "error",
                    line,
                    f"direction is '{raw_direction}'; expected receive, send or both. Row skipped",
                    ean=ean,
                )
            )
            continue
        code, version, uri = _type(raw_type, cell("version"))
        for direction in directions:
            result.registrations.append(Registration(ean, code, direction, "edi", version, uri, line))
    return result


def _type(raw: str, version: str) -> tuple[str, str | None, str | None]:
    """(code, version, uri) for a type cell that holds a MedCom code or an EHMI URI."""
    if raw.lower().startswith("urn:"):
        known = message_types.by_uri(raw)
        if known is None:
            return raw, None, raw
        return known.code, known.version, raw
    return message_types.normalise_code(raw), version.upper() or None, None

"""What the register's CSV readers say about a file that is not CSV text: one line, with the line and what
was expected (architecture.md §3.3), instead of the csv module's line-less error or a traceback."""

from __future__ import annotations

import csv
import re

from medcom_bridge.registry.model import RegisterInputError

# A CSV is text: a NUL or another C0 control byte (other than tab, CR, LF) means a binary file.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def refuse_binary(data: bytes, expected: str) -> None:
    """Raise RegisterInputError naming the line of the first binary byte in the first 64 KiB."""
    match = _BINARY.search(data, 0, 65536)
    if match is not None:
        raise RegisterInputError(
            f"byte 0x{match.group()[0]:02x} at offset {match.start()}: this is a binary file, not a CSV; "
            f"expected UTF-8 text with header '{expected}'",
            data.count(b"\n", 0, match.start()) + 1,
        )


def csv_problem(exc: csv.Error, line: int, expected: str) -> RegisterInputError:
    """The csv module names no line; `line` is the physical line the reader was on when it gave up."""
    if "new-line character" in str(exc):
        message = (
            "a line break (stray carriage return) inside an unquoted field; expected one record per line "
            f"'{expected}' — remove the carriage return or put the field in double quotes"
        )
    else:
        message = f"not readable as CSV ({exc}); expected one record per line '{expected}'"
    return RegisterInputError(message, max(line, 1))

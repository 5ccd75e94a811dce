"""The register's imperative shell: open the files named on the command line and build a `Register`.

Used by `medcom-bridge sor report` and by every command that takes `--sor FILE [--edi FILE] [--eer FILE]`
(convert, serve, process). Any problem becomes a `RegisterLoadError` whose text names the file, the line or
element and what was expected, so a command can print it and exit 2 without a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from medcom_bridge.registry.eer import read_eer
from medcom_bridge.registry.model import RegisterInputError
from medcom_bridge.registry.register import Register
from medcom_bridge.registry.sor_edi import read_sor_edi_csv
from medcom_bridge.registry.sor_xml import read_sor_xml


class RegisterLoadError(Exception):
    """A register input file is unreadable or not in the expected format; str() is the user message."""


class _Counted:
    """A binary file that reports how many bytes each read returned (for a progress bar)."""

    def __init__(self, handle: BinaryIO, on_read: Callable[[int], None]) -> None:
        self._handle = handle
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._on_read(len(data))
        return data


def load_register(
    sor: Path,
    edi: Path | None = None,
    eer: Path | None = None,
    *,
    on_read: Callable[[int], None] | None = None,
) -> Register:
    """The register from its files; `on_read` hears of every chunk of the SOR export read (its bytes)."""
    try:
        with sor.open("rb") as handle:
            sor_import = read_sor_xml(_Counted(handle, on_read) if on_read else handle)  # type: ignore[arg-type]
    except OSError as exc:
        raise RegisterLoadError(f"{sor}: cannot read file: {exc.strerror or exc}") from None
    except RegisterInputError as exc:
        # Most reader messages name the SOR export already; saying it twice reads like a stutter (issue 12).
        named = "SOR" in exc.message or "SorTree" in exc.message
        hint = "" if named else " (expected a SOR XML export, root element SorTree)"
        raise RegisterLoadError(f"{sor}: {exc}{hint}") from None
    edi_import = eer_import = None
    if edi is not None:
        try:
            edi_import = read_sor_edi_csv(_read(edi))
        except RegisterInputError as exc:
            raise RegisterLoadError(f"{edi}: {exc}") from None
    if eer is not None:
        try:
            eer_import = read_eer(_read(eer))
        except RegisterInputError as exc:
            raise RegisterLoadError(f"{eer}: {exc}") from None
    return Register.build(sor_import, edi_import, eer_import)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RegisterLoadError(f"{path}: cannot read file: {exc.strerror or exc}") from None

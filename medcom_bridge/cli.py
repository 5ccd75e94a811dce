"""The `medcom-bridge` command: one entry point over every part (contract: architecture.md §3.1).

Each command is a thin shell: it reads files, calls the pure core, prints and sets the exit code.
Exit codes: 0 all good, 1 at least one input invalid / not convertible, 2 usage error or unreadable file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from medcom_bridge.documents import validate_document
from medcom_bridge.findings import Report

app = typer.Typer(
    name="medcom-bridge",
    help="Validate, convert, render and route MedCom correspondence (FHIR CareCommunication <-> OIOXML XDIS91).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def read_input(path: Path) -> bytes | None:
    """Read a file, or print why it cannot be read and return None (the caller exits 2)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        typer.echo(f"{path}: cannot read file: {exc.strerror or exc}", err=True)
        return None


@app.command()
def validate(
    paths: Annotated[
        list[Path], typer.Argument(help="Message files: FHIR JSON/XML, OIOXML or VANSEnvelope.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file, one per line.")] = False,
) -> None:
    """Detect each file's kind and validate it with MedCom's rules."""
    worst = EXIT_OK
    for path in paths:
        data = read_input(path)
        if data is None:
            worst = EXIT_USAGE
            continue
        report = validate_document(data)
        if as_json:
            typer.echo(json.dumps(report_json(str(path), report), ensure_ascii=False))
        else:
            print_report(str(path), report)
        if not report.valid and worst == EXIT_OK:
            worst = EXIT_INVALID
    raise typer.Exit(worst)


def report_json(file: str, report: Report) -> dict[str, object]:
    return {
        "file": file,
        "kind": report.kind,
        "version": report.version,
        "valid": report.valid,
        "issues": [f.to_json() for f in report.findings],
    }


def print_report(file: str, report: Report) -> None:
    verdict = "valid" if report.valid else "INVALID"
    version = f" {report.version}" if report.version else ""
    counts = {
        s: sum(1 for f in report.findings if f.severity == s) for s in ("error", "warning", "information")
    }
    summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    typer.echo(f"{file}: {report.kind}{version}: {verdict}" + (f" ({summary})" if summary else ""))
    for finding in report.findings:
        typer.echo(f"  {finding}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()

"""`medcom-bridge sor ...`: the register's commands (contract: architecture.md §3.1)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from medcom_bridge.registry.quality import QualityReport
    from medcom_bridge.registry.register import Register

EXIT_OK = 0
EXIT_USAGE = 2

sor_app = typer.Typer(
    help="The SOR / SOR-EDI register: quality report.", no_args_is_help=True, add_completion=False
)


@sor_app.command("report")
def sor_report(
    sor: Annotated[Path, typer.Option("--sor", metavar="FILE", help="SOR XML export (SorTree).")],
    edi: Annotated[
        Path | None,
        typer.Option("--edi", metavar="FILE", help="SOR-EDI registrations CSV (ean,type,direction)."),
    ] = None,
    eer: Annotated[
        Path | None, typer.Option("--eer", metavar="FILE", help="EER FHIR Bundle (JSON) or endpoints CSV.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("-o", "--out", metavar="FILE", help="Write the HTML report to this file.")
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today", metavar="DATE", help="Evaluate validity as of this date (YYYY-MM-DD); default today."
        ),
    ] = None,
) -> None:
    """SOR-EDI quality report (rules R01-R16): JSON with --json, else a self-contained HTML page."""
    # Imported here so that `medcom-bridge validate` does not pay for jinja2 and the register at start-up.
    from medcom_bridge.registry import report_html
    from medcom_bridge.registry.quality import report
    from medcom_bridge.shell.register import RegisterLoadError, load_register

    try:
        as_of = date.fromisoformat(today) if today else datetime.now(UTC).date()
    except ValueError:
        typer.echo(f"--today is '{today}'; expected a date YYYY-MM-DD", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    from medcom_bridge.cli.progress import bar

    try:
        size = sor.stat().st_size
    except OSError:
        size = 0  # load_register says why it cannot read the file
    with bar("reading the SOR export (bytes)", size or None) as progress:
        try:
            register = load_register(sor, edi, eer, on_read=progress.advance)
        except RegisterLoadError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(EXIT_USAGE) from None
        progress.stage("checking rules R01-R16")
        generated = datetime.now(UTC).isoformat(timespec="seconds")
        result = report(register, today=as_of, generated=generated)
        page = None
        if out is not None or not as_json:
            progress.stage("writing the HTML report")
            sources = {k: str(v) for k, v in (("SOR", sor), ("SOR-EDI", edi), ("EER", eer)) if v is not None}
            page = report_html.render(result, register, sources=sources)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    if page is not None:
        if out is None:
            typer.echo(page)
        else:
            try:
                out.write_text(page, encoding="utf-8")
            except OSError as exc:
                typer.echo(f"{out}: cannot write file: {exc.strerror or exc}", err=True)
                raise typer.Exit(EXIT_USAGE) from None
    typer.echo(summary_line(out, register, result), err=True)
    raise typer.Exit(EXIT_OK)


def summary_line(out: Path | None, register: Register, result: QualityReport) -> str:
    """`wrote sor-report.html: 1,234 SOR units, 56 location numbers, 17 findings (3 errors, 14 warnings)`."""
    severities = Counter(str(f.severity) for f in result.findings)
    counted = ", ".join(
        counted_noun(severities[s], s) for s in ("error", "warning", "information") if severities[s]
    )
    where = f"wrote {out}" if out is not None else "SOR-EDI quality report"
    units = counted_noun(len(register), "SOR unit")
    numbers = counted_noun(sum(1 for _ in register.owned_eans()), "location number")
    findings = counted_noun(len(result.findings), "finding")
    return f"{where}: {units}, {numbers}, {findings}" + (f" ({counted})" if counted else "")


def counted_noun(count: int, noun: str) -> str:
    """`1 finding`, `1,234 findings` (English plural by -s; information is uncountable)."""
    plural = "" if count == 1 or noun == "information" else "s"
    return f"{count:,} {noun}{plural}"

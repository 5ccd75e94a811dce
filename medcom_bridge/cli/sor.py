"""`medcom-bridge sor ...`: the register's commands (contract: architecture.md §3.1)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

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
    try:
        register = load_register(sor, edi, eer)
    except RegisterLoadError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    result = report(register, today=as_of, generated=generated)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    if out is not None or not as_json:
        sources = {k: str(v) for k, v in (("SOR", sor), ("SOR-EDI", edi), ("EER", eer)) if v is not None}
        page = report_html.render(result, register, sources=sources)
        if out is None:
            typer.echo(page)
        else:
            try:
                out.write_text(page, encoding="utf-8")
            except OSError as exc:
                typer.echo(f"{out}: cannot write file: {exc.strerror or exc}", err=True)
                raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(EXIT_OK)

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

from medcom_bridge.cli.sor import sor_app
from medcom_bridge.documents import validate_document
from medcom_bridge.findings import Report

app = typer.Typer(
    name="medcom-bridge",
    help="Validate, convert, render and route MedCom correspondence (FHIR CareCommunication <-> OIOXML XDIS91).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sor_app, name="sor")


def _show_version(value: bool) -> None:
    if value:
        from medcom_bridge import __version__

        typer.echo(f"medcom-bridge {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    pass


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
        list[Path],
        typer.Argument(metavar="FILE", help="Message files: FHIR JSON/XML, OIOXML, EDIFACT or VANSEnvelope."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file, one per line.")] = False,
) -> None:
    """Detect each file's kind and validate it with MedCom's rules (exit 0 all valid, 1 at least one invalid,
    2 usage error or unreadable file)."""
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


@app.command()
def render(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="A CareCommunication (FHIR JSON/XML) or an XDIS91.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", metavar="FILE", help="Write the HTML page here instead of to stdout."),
    ] = None,
) -> None:
    """Render a message thread as one self-contained HTML page (exit 0 written, 1 the message is broken,
    2 usage error, unreadable file or a kind without an HTML view)."""
    from medcom_bridge.documents import NotRenderable, UnknownKind, detect_kind, render_document
    from medcom_bridge.xmlsafe import XmlError

    data = read_input(path)
    if data is None:
        raise typer.Exit(EXIT_USAGE)
    try:
        page = render_document(data)
    except XmlError as exc:
        typer.echo(f"{path}: {exc.rule}: {exc.message}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    except (NotRenderable, UnknownKind) as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except ValueError as exc:
        typer.echo(f"{path}: cannot render: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    if out is None:
        typer.echo(page, nl=False)
    else:
        try:
            out.write_text(page, encoding="utf-8")
        except OSError as exc:
            typer.echo(f"{out}: cannot write file: {exc.strerror or exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    # The one line a person reads when it worked (stderr: stdout may be the page itself).
    where = f"wrote {out}" if out is not None else "rendered"
    typer.echo(f"{where}: {path.name} ({detect_kind(data)}), {len(page.encode()):,} bytes of HTML", err=True)


@app.command()
def convert(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE", help="Messages, bare or in VANSEnvelopes (an XDIS91 with its XBIN01)."
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="KIND",
            help="carecommunication, xdis91, acknowledgement, xctl, edifact or oioxml.",
        ),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", metavar="DIR", help="Folder for the converted VANSEnvelope files.")
    ],
    fhir_format: Annotated[
        str, typer.Option("--fhir-format", metavar="FORMAT", help="json or xml.")
    ] = "json",
    sor: Annotated[
        Path | None, typer.Option("--sor", metavar="FILE", help="Official SOR XML export (the register).")
    ] = None,
    edi: Annotated[
        Path | None, typer.Option("--edi", metavar="FILE", help="SOR-EDI registrations CSV.")
    ] = None,
) -> None:
    """Convert between OIOXML and FHIR (XDIS91+XBIN01 <-> CareCommunication, XCTL <-> Acknowledgement)
    and between OIOXML and EDIFACT (DIS91, BIN01, CTL01-03).

    Exit 0 every output written, 1 an input could not be converted (nothing invalid is written), 2 usage
    error or an unreadable message or register file."""
    from medcom_bridge.shell import convert as shell
    from medcom_bridge.shell.register import RegisterLoadError

    if to not in shell.TARGETS or fhir_format not in ("json", "xml"):
        typer.echo(f"--to must be one of {', '.join(shell.TARGETS)}; --fhir-format json or xml", err=True)
        raise typer.Exit(EXIT_USAGE)
    files = [(str(p), read_input(p)) for p in paths]
    if any(d is None for _, d in files):
        raise typer.Exit(EXIT_USAGE)
    try:
        directory = shell.load_directory(sor, edi)
    except RegisterLoadError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    code = shell.run(
        [(name, d) for name, d in files if d is not None], to, fhir_format, directory, out_dir, typer.echo
    )
    raise typer.Exit(code)


@app.command()
def serve(
    spool: Annotated[
        Path, typer.Option("--spool", metavar="DIR", help="Spool folder: SPOOL/<EAN>/out|in, quarantine/.")
    ],
    sor: Annotated[
        Path, typer.Option("--sor", metavar="FILE", help="Official SOR XML export (the register).")
    ],
    edi: Annotated[
        Path | None, typer.Option("--edi", metavar="FILE", help="SOR-EDI registrations CSV.")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL (default: SQLite in SPOOL).")
    ] = None,
    host: Annotated[
        str,
        typer.Option("--host", metavar="HOST", help="Interface to listen on (default: this machine only)."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="TCP port for the API and pages.")
    ] = 8000,
    max_body: Annotated[
        int | None,
        typer.Option(
            "--max-body",
            metavar="BYTES",
            min=1,
            help="Largest POST /envelopes body in bytes (default: MedCom's 100 MB letter in an envelope).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="TOML settings: \\[server], \\[oidc], \\[retention] (docs/security.md), \\[alerts] (docs/alerts.md).",
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            metavar="NAME",
            help="A DNS name the hub is reached by (repeat); localhost and --host always.",
        ),
    ] = None,
    certfile: Annotated[
        Path | None,
        typer.Option(
            "--certfile", metavar="FILE", help="TLS certificate chain (PEM); turns on HTTPS and HSTS."
        ),
    ] = None,
    keyfile: Annotated[
        Path | None, typer.Option("--keyfile", metavar="FILE", help="TLS private key (PEM).")
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            metavar="URL",
            help="RabbitMQ URL amqp://USER:PASS@HOST:PORT/VHOST: the work goes to workers.",
        ),
    ] = None,
) -> None:
    """Run the hub: watch the spool, run timers and daily retention, serve the API (/docs) and the operations
    pages (/ui). Every route but /health needs a token (`medcom-bridge token create`) or single sign-on."""
    from medcom_bridge.web.serve import serve_command

    raise typer.Exit(
        serve_command(
            spool,
            sor,
            edi,
            db,
            host,
            port,
            typer.echo,
            max_body=max_body,
            config=config,
            allowed_hosts=allowed_host,
            certfile=certfile,
            keyfile=keyfile,
            broker=broker,
        )
    )


# The hub's own commands (process, flow show, demo) live beside the hub; see medcom_bridge/cli/hub.py.
from medcom_bridge.cli.hub import demo as _hub_demo  # noqa: E402
from medcom_bridge.cli.hub import flow_app as _hub_flow_app  # noqa: E402
from medcom_bridge.cli.hub import process as _hub_process  # noqa: E402
from medcom_bridge.cli.hub import worker as _hub_worker  # noqa: E402

app.command("process")(_hub_process)
app.command("worker")(_hub_worker)
app.command("demo")(_hub_demo)
app.add_typer(_hub_flow_app, name="flow")

from medcom_bridge.cli.prune import prune as _prune  # noqa: E402
from medcom_bridge.cli.token import token_app  # noqa: E402

app.add_typer(token_app, name="token")

from medcom_bridge.cli.alerts import alerts_app  # noqa: E402

app.add_typer(alerts_app, name="alerts")
app.command("prune")(_prune)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()

"""`medcom-bridge alerts check (--spool DIR | --db URL) --config FILE [--json]`: one alert round.

Evaluates the `[alerts]` rules of the settings file once, opens and resolves incidents, sends their notices
(webhook, e-mail) and prints the open incidents: for cron, beside `process`. With `--spool` the heartbeat
rule also looks at the files waiting in `SPOOL/*/out/`.
Exit codes: 0 no incident open, 1 at least one incident open, 2 usage (options, settings file, no [alerts]),
3 the incidents could not be stored (the database is unreachable; "database unreachable" was still sent).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from medcom_bridge.localtime import shown

EXIT_QUIET, EXIT_OPEN, EXIT_USAGE, EXIT_UNSTORED = 0, 1, 2, 3

alerts_app = typer.Typer(help="Incident alerts: evaluate the [alerts] rules once.", no_args_is_help=True)


@alerts_app.command("check")
def check(
    config: Annotated[Path, typer.Option("--config", metavar="FILE", help="TOML settings with [alerts].")],
    spool: Annotated[
        Path | None,
        typer.Option("--spool", metavar="DIR", help="Spool folder (its default SQLite database)."),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL (instead of --spool).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per open incident.")] = False,
) -> None:
    """Evaluate the alert rules once, store and notify incidents, print the open ones (exit 1 if any)."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from medcom_bridge.hub.alerts.watch import Alerter
    from medcom_bridge.hub.clock import SystemClock
    from medcom_bridge.hub.service import HubService
    from medcom_bridge.hub.spool import Spool
    from medcom_bridge.hub.store import Store, default_url, make_engine, migrate
    from medcom_bridge.privacy import ScrubLogFilter
    from medcom_bridge.web.settings import SettingsError, load

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubLogFilter())
    if (spool is None) == (db is None):
        typer.echo("give exactly one of --spool DIR or --db URL", err=True)
        raise typer.Exit(EXIT_USAGE)
    if spool is not None and not spool.is_dir():
        typer.echo(f"{spool}: no such spool folder", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        settings = load(config)
    except SettingsError as exc:
        typer.echo(f"--config: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if settings.alerts is None:
        typer.echo(f"--config: {config} has no [alerts] section (docs/alerts.md)", err=True)
        raise typer.Exit(EXIT_USAGE)
    url = db or default_url(spool)  # type: ignore[arg-type]  # one of them is set
    try:
        engine = make_engine(url)
    except ArgumentError as exc:
        typer.echo(f"--db: not a database URL: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        try:
            migrate(engine)
        except SQLAlchemyError as exc:  # unreachable: the round still reports "database unreachable"
            logging.getLogger(__name__).warning("database not migrated (%s)", type(exc).__name__)
        alerter = Alerter(
            HubService(Store(engine)),
            settings.alerts,
            SystemClock(),
            spool=Spool(spool) if spool is not None else None,
        )
        report = alerter.check()
    finally:
        engine.dispose()
    for incident in report.open:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "key": incident.key,
                        "rule": incident.rule.value,
                        "subject": incident.subject,
                        "summary": incident.summary,
                        "opened_at": incident.opened_at.isoformat(),
                    }
                )
            )
        else:
            typer.echo(f"open  {shown(incident.opened_at)}  {incident.key}  {incident.summary}")
    if not as_json:
        changes = ", ".join(f"{e.change.value} {e.incident.key}" for e in report.events) or "no changes"
        typer.echo(
            f"{len(report.open)} incident(s) open; {changes}; {report.sent} notice(s) sent"
            + (f", {len(report.failed)} failed (retried next round)" if report.failed else ""),
            err=True,
        )
    if not report.stored:
        raise typer.Exit(EXIT_UNSTORED)
    raise typer.Exit(EXIT_OPEN if report.open else EXIT_QUIET)

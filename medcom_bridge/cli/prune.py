"""`medcom-bridge prune (--spool DIR | --db URL) [--older-than 13m]`: retention run by hand or by cron.

Removes payload bytes (blob files and database rows' data) and quarantined originals past the policy; flows,
events, statistics and duplicate keys stay (`hub.retention`). Written to the audit log by the operating-system
user who ran it. Exit codes: 0 done, 1 the database failed, 2 usage (bad age, no spool or database).
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from medcom_bridge.hub import retention
from medcom_bridge.hub.clock import utc

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def prune(
    spool: Annotated[
        Path | None,
        typer.Option("--spool", metavar="DIR", help="Spool folder (its SQLite database and payload store)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", metavar="URL", help="Database URL; with --spool also for a spool's own payloads."
        ),
    ] = None,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Keep payloads this long: 13m (months, the default), 1y, 400d.",
        ),
    ] = str(retention.DEFAULT),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was removed as one JSON object.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", metavar="WHEN", help="Prune as if it were this time (ISO 8601; no zone = UTC)."
        ),
    ] = None,
) -> None:
    """Remove patient data past the retention policy; duplicate detection and statistics are kept."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from medcom_bridge.hub.blobs import BlobStore
    from medcom_bridge.hub.service import HubService
    from medcom_bridge.hub.store import Store, default_url
    from medcom_bridge.hub.wiring import BLOB_FOLDER
    from medcom_bridge.security import audit

    try:
        age = retention.parse_age(older_than)
    except retention.BadAge as exc:
        typer.echo(f"--older-than: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        moment = utc(datetime.fromisoformat(now.replace("Z", "+00:00"))) if now else datetime.now(UTC)
    except ValueError:
        typer.echo(f"--now: {now!r} is not an ISO 8601 time, e.g. 2027-03-01T00:00:00Z", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if spool is None and db is None:
        typer.echo("give --spool DIR or --db URL", err=True)
        raise typer.Exit(EXIT_USAGE)
    if spool is not None and not spool.is_dir():
        typer.echo(f"{spool}: no such spool folder", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        store = Store.open(
            db or default_url(spool),  # type: ignore[arg-type]  # one of them is set
            blobs=BlobStore(spool / BLOB_FOLDER) if spool is not None else None,
        )
    except ArgumentError as exc:
        typer.echo(f"--db: not a database URL: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except SQLAlchemyError as exc:
        typer.echo(f"cannot open the hub database: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    service = HubService(store)
    try:
        done = service.prune(moment, age, spool_root=spool)
        service.audit(
            audit.Entry(
                at=datetime.now(UTC),
                actor=f"cli:{getpass.getuser()}",
                action=audit.Action.PRUNE,
                via="cli",
                details={"older_than": str(age), "payloads": done.payloads, "quarantined": done.quarantined},
            )
        )
    except SQLAlchemyError as exc:
        typer.echo(f"database error: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(done.to_json()))
    else:
        typer.echo(
            f"pruned payloads older than {age} (before {done.cutoff:%Y-%m-%d %H:%M}): {done.payloads} payloads "
            f"({done.bytes} bytes), {done.blobs + done.orphan_blobs} blob files, {done.quarantined} quarantined files"
        )

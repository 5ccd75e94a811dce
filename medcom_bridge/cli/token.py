"""`medcom-bridge token create|list|revoke` (architecture.md §3.1): API tokens for the hub's HTTP API.

`create` prints the new token as the last line of its output; it is shown this once and stored only as a
digest. Every change is written to the audit log, by the operating-system user who ran the command.
Exit codes: 0 done, 1 refused (a name taken, no such token), 2 usage (bad options, no database).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from medcom_bridge.security import audit, schema, tokens

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)

Spool = Annotated[
    Path | None, typer.Option("--spool", metavar="DIR", help="Spool folder (its default SQLite database).")
]
Db = Annotated[str | None, typer.Option("--db", metavar="URL", help="Database URL (instead of --spool).")]


@contextmanager
def _database(spool: Path | None, db: str | None) -> Iterator[Connection]:
    from medcom_bridge.hub.store import default_url, make_engine, migrate

    if (spool is None) == (db is None):
        typer.echo("give exactly one of --spool DIR or --db URL", err=True)
        raise typer.Exit(EXIT_USAGE)
    if spool is not None and not spool.is_dir():
        typer.echo(f"{spool}: no such spool folder", err=True)
        raise typer.Exit(EXIT_USAGE)
    engine = make_engine(db or default_url(spool))  # type: ignore[arg-type]  # one of them is set
    try:
        migrate(engine)
        with engine.begin() as conn:
            schema.upgrade(conn)  # a no-op once the hub's migrations carry the security tables
            yield conn
    except SQLAlchemyError as exc:
        typer.echo(f"database error: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        engine.dispose()


def _audit(conn: Connection, action: audit.Action, name: str, details: dict[str, audit.Detail]) -> None:
    entry = audit.Entry(
        at=datetime.now(UTC),
        actor=f"cli:{getpass.getuser()}",
        action=action,
        via="cli",
        object_type="token",
        object_id=name,
        details=details,
    )
    audit.record(conn, entry)


@token_app.command("create")
def create(
    name: Annotated[
        str, typer.Option("--name", metavar="NAME", help="A name to list and revoke the token by.")
    ],
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help="admin, operator or organisation.")],
    org: Annotated[
        list[str] | None, typer.Option("--org", metavar="EAN", help="An EAN of the organisation (repeat).")
    ] = None,
    spool: Spool = None,
    db: Db = None,
) -> None:
    """Create a token; it is printed once, as the last line."""
    try:
        tokens.check_grant(name, role, org or ())
    except tokens.TokenError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    with _database(spool, db) as conn:
        try:
            token = tokens.create(conn, name, role, org or (), datetime.now(UTC))
        except tokens.TokenError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        _audit(conn, audit.Action.TOKEN_CREATE, name, {"role": role, "organisations": ",".join(org or ())})
    typer.echo(f"token {name!r} ({role}) created; it is shown only now, store it safely:")
    typer.echo(token)


@token_app.command("list")
def list_(
    spool: Spool = None,
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per token.")] = False,
) -> None:
    """List tokens (names, roles, organisations, dates; never the tokens)."""
    with _database(spool, db) as conn:
        found = tokens.list_tokens(conn)
    for info in found:
        if as_json:
            typer.echo(json.dumps(info.to_json()))
        else:
            state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "live"
            orgs = f" {','.join(info.organisations)}" if info.organisations else ""
            typer.echo(f"{info.name}\t{info.role}{orgs}\tcreated {info.created_at:%Y-%m-%d %H:%M}\t{state}")


@token_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The token's name.")],
    spool: Spool = None,
    db: Db = None,
) -> None:
    """Revoke a token at once: the next request with it answers 401."""
    with _database(spool, db) as conn:
        try:
            tokens.revoke(conn, name, datetime.now(UTC))
        except tokens.TokenError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        _audit(conn, audit.Action.TOKEN_REVOKE, name, {})
    typer.echo(f"token {name!r} revoked")

"""`medcom-bridge token create|list|revoke` on a spool's SQLite database and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.hub.store import default_url, make_engine
from medcom_bridge.security import audit, tokens
from tests.security.conftest import pg_schema

runner = CliRunner()
ODENSE = "5790000121526"


@pytest.fixture(params=["spool", pytest.param("postgres", marks=pytest.mark.postgres)])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """The command-line option naming the database, and an URL to open it with (plus its schema)."""
    if request.param == "spool":
        yield ["--spool", str(tmp_path)], default_url(tmp_path)
        return
    with pg_schema("token_cli") as url:
        yield ["--db", url], url


def test_create_list_revoke(where: tuple[list[str], str]) -> None:
    option, url = where
    made = runner.invoke(
        app, ["token", "create", *option, "--name", "odense", "--role", "organisation", "--org", ODENSE]
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert tokens.looks_like_token(token)
    listed = runner.invoke(app, ["token", "list", *option, "--json"])
    assert listed.exit_code == 0 and token not in listed.stdout
    assert [json.loads(line)["organisations"] for line in listed.stdout.splitlines()] == [[ODENSE]]
    engine = make_engine(url)
    with engine.connect() as conn:
        assert tokens.authenticate(conn, token) is not None
    again = runner.invoke(app, ["token", "create", *option, "--name", "odense", "--role", "admin"])
    assert again.exit_code == 1 and "exists" in again.stderr
    assert runner.invoke(app, ["token", "revoke", "odense", *option]).exit_code == 0
    assert runner.invoke(app, ["token", "revoke", "odense", *option]).exit_code == 1
    with engine.connect() as conn:
        assert tokens.authenticate(conn, token) is None
        trail = audit.search(conn, audit.Query())
    engine.dispose()
    assert [(e.action, e.object_id, e.via) for e in trail] == [
        (audit.Action.TOKEN_REVOKE, "odense", "cli"),
        (audit.Action.TOKEN_CREATE, "odense", "cli"),
    ]
    assert all(e.actor.startswith("cli:") and token not in json.dumps(audit.to_json(e)) for e in trail)


@pytest.mark.parametrize(
    "args",
    [
        ["token", "create", "--name", "x", "--role", "root"],
        ["token", "create", "--name", "x", "--role", "organisation"],
        ["token", "list"],  # neither --spool nor --db
    ],
)
def test_usage_errors(args: list[str], tmp_path: Path) -> None:
    extra = ["--spool", str(tmp_path)] if args[1] == "create" else []
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 2 and result.stderr

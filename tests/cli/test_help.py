"""Every command's `--help` names what an option takes (`--spool DIR`, `--db URL`), never a bare type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from medcom_bridge.cli import app

PLACEHOLDERS = re.compile(
    r"\b(TEXT|PATH|INTEGER|FLOAT|FILENAME)\b|<(str|path|Path|int|float|list\[[^\]]*\])>"
)


def commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from commands(sub, (*path, name))


COMMANDS = list(commands())


def test_every_command_is_checked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"validate", "serve", "process", "flow list", "sor report", "token create", "demo"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "top" for p, _ in COMMANDS])
def test_every_option_and_argument_has_a_readable_metavar(path: tuple[str, ...], command: Any) -> None:
    for param in command.params:
        if getattr(param, "is_flag", False) or param.name == "version":
            continue
        assert param.metavar and param.metavar == param.metavar.upper(), (path, param.name)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "top" for p, _ in COMMANDS])
def test_help_shows_no_type_placeholder_for_an_option(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    options = [line for line in result.stdout.splitlines() if re.match(r"[│|]\s+(\*\s+)?-", line)]
    assert any("--help" in line for line in options)  # the rows were found
    assert all(not PLACEHOLDERS.search(line) for line in options), "\n".join(options)
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert not PLACEHOLDERS.search(usage), usage


def test_square_brackets_in_help_survive_rich_markup() -> None:
    """`[server]` in a help text would be read as rich markup and vanish."""
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "250"})
    assert "[server]" in result.stdout and "[oidc]" in result.stdout


def test_serve_shows_its_main_metavars() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "250"})
    text = " ".join(result.stdout.replace("│", " ").split())
    for option, metavar in (("--spool", "DIR"), ("--sor", "FILE"), ("--db", "URL"), ("--broker", "URL")):
        assert re.search(rf"{option} {metavar}\b", text), option

"""`medcom-bridge flow list` filters, `process --advance` safety and `demo`'s folder rules (issue 12)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medcom_bridge import demo
from medcom_bridge.cli import app
from medcom_bridge.cli.hub import ShiftedClock, ahead_of_time, run_start
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.queries import FILTER_KEYS
from medcom_bridge.hub.store import Store
from medcom_bridge.web import create_app

runner = CliRunner()
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_flow_list_takes_exactly_the_filters_of_get_flows(tmp_path: Path) -> None:
    """The CLI's options and the API's query arguments are both `queries.FILTER_KEYS` (plus paging)."""
    command = typer.main.get_command(app).commands["flow"].commands["list"]  # type: ignore[attr-defined]
    cli = {p.name for p in command.params} - {"spool", "sor", "db", "as_json"}
    store = Store.open(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    try:
        parameters = create_app(store).openapi()["paths"]["/flows"]["get"]["parameters"]
    finally:
        store.close()
    api = {p["name"] for p in parameters}
    assert cli == api == {*FILTER_KEYS, "limit", "cursor"}


def _processed_demo(tmp_path: Path) -> demo.DemoFiles:
    files = demo.build(tmp_path / "d")
    args = ["process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi)]
    assert runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z"]).exit_code == 0
    return files


def _listed(spool: Path, *options: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["flow", "list", "--spool", str(spool), "--json", *options])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_flow_list_filters_by_every_kind_of_key(tmp_path: Path) -> None:
    spool = _processed_demo(tmp_path).spool
    [flow] = _listed(spool)
    assert _listed(spool, "--sender", demo.MUNICIPALITY.ean) == [flow]
    assert _listed(spool, "--receiver-gln", demo.MUNICIPALITY.ean) == []
    assert _listed(spool, "--bundle-id", str(flow["bundle_id"])) == [flow]
    assert _listed(spool, "--since", "2026-01-20", "--until", "2026-01-21") == [flow]
    assert _listed(spool, "--created-from", "2026-01-21") == []
    assert _listed(spool, "--month", "2026-01", "--event", "converted") == [flow]
    assert _listed(spool, "--month", "2026-01", "--route", "pass_through") == []


def test_flow_list_pages_by_cursor_and_refuses_a_foreign_one(tmp_path: Path) -> None:
    files = _processed_demo(tmp_path)
    demo.drop(files.spool, demo.MUNICIPALITY.ean, "second", files.sample.read_bytes())  # a second flow
    args = ["process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi)]
    assert runner.invoke(app, [*args, "--now", "2026-01-20T08:10:00Z"]).exit_code == 0
    every = _listed(files.spool)
    assert len(every) == 2
    first = runner.invoke(app, ["flow", "list", "--spool", str(files.spool), "--limit", "1", "--json"])
    assert "more: --cursor " in first.stderr and "--cursor" not in first.stdout
    cursor = first.stderr.split("more: --cursor ")[1].split()[0]
    assert _listed(files.spool, "--limit", "1", "--cursor", cursor) == every[1:2]
    bad = runner.invoke(app, ["flow", "list", "--spool", str(files.spool), "--cursor", "nonsense"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "cursor" in bad.stderr


def test_flow_list_refuses_a_bad_filter_in_one_line(tmp_path: Path) -> None:
    spool = _processed_demo(tmp_path).spool
    result = runner.invoke(app, ["flow", "list", "--spool", str(spool), "--since", "yesterday"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "created_from" in result.stderr


# -- --advance / --now only where no real flows are --------------------------------------------------------------


def test_a_run_ahead_of_time_is_refused_outside_a_demo_spool() -> None:
    assert ahead_of_time(NOW + timedelta(days=92), NOW, demo_spool=False) is not None
    assert ahead_of_time(NOW + timedelta(days=92), NOW, demo_spool=True) is None
    assert ahead_of_time(NOW - timedelta(days=300), NOW, demo_spool=False) is None  # replays, tests
    assert ahead_of_time(NOW, NOW, demo_spool=False) is None  # --advance 0m


def test_the_start_of_a_run_is_the_shifted_or_fixed_time() -> None:
    assert run_start(ShiftedClock(timedelta(minutes=61)), NOW) == NOW + timedelta(minutes=61)
    assert run_start(ManualClock(NOW - timedelta(days=1)), NOW) == NOW - timedelta(days=1)


def test_process_advance_runs_in_a_demo_spool_and_is_refused_in_another(tmp_path: Path) -> None:
    files = demo.build(tmp_path / "d")
    args = ["process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi)]
    assert runner.invoke(app, [*args, "--advance", "92d"]).exit_code == 0  # README's try-the-timers line

    real = tmp_path / "real"
    (real / demo.MUNICIPALITY.ean / "out").mkdir(parents=True)
    real_args = ["process", "--spool", str(real), "--sor", str(files.sor), "--edi", str(files.edi)]
    refused = runner.invoke(app, [*real_args, "--advance", "92d"])
    assert refused.exit_code == 2, refused.output
    assert "ahead of the clock" in refused.stderr and refused.stderr.count("\n") == 1
    assert not (real / "medcom-bridge.sqlite").exists()  # refused before the database is opened
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert runner.invoke(app, [*real_args, "--now", future]).exit_code == 2
    assert runner.invoke(app, [*real_args, "--now", "2026-01-20T08:00:00Z", "--advance", "2h"]).exit_code == 0
    # a demo spool over another database (which may hold real flows) is no demo
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert runner.invoke(app, [*args, "--db", other, "--advance", "1d"]).exit_code == 2


def test_a_worker_ahead_of_time_is_refused_too(tmp_path: Path) -> None:
    files = demo.build(tmp_path / "d")
    real = tmp_path / "real"
    real.mkdir()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    args = ["worker", "--spool", str(real), "--sor", str(files.sor), "--db", f"sqlite:///{real / 'x.sqlite'}"]
    result = runner.invoke(app, [*args, "--broker", "amqp://guest:guest@127.0.0.1:1/none", "--now", future])
    assert result.exit_code == 2 and "ahead of the clock" in result.stderr


# -- demo and its folder ----------------------------------------------------------------------------------------


def test_demo_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["demo", str(tmp_path)])
    assert result.exit_code == 2 and "not a demo folder" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_demo_uses_an_empty_folder_and_resets_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    assert runner.invoke(app, ["demo", str(folder)]).exit_code == 0
    assert demo.is_demo_spool(folder / "spool") and (folder / demo.SAMPLE_ENVELOPE).is_file()
    (folder / "mine.txt").write_text("kept")
    again = runner.invoke(app, ["demo", str(folder)])
    assert again.exit_code == 0, again.output
    assert "previous demo" in again.stdout and "municipality received  acknowledgement" in again.stdout
    assert (folder / "mine.txt").read_text() == "kept"  # only what the demo wrote is made again


def test_demo_help_says_what_happens_to_an_existing_folder() -> None:
    result = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "reset" in text and "refused" in text and "empty" in text


@pytest.mark.parametrize("kind", ["carecommunication"])
def test_the_sample_envelope_is_valid_and_from_the_municipality(tmp_path: Path, kind: str) -> None:
    files = demo.build(tmp_path)
    result = runner.invoke(app, ["validate", "--json", str(files.sample)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["kind"] == "vansenvelope" and report["valid"]
    from medcom_bridge.envelope import vans

    envelope = vans.unwrap(files.sample.read_bytes())
    assert envelope.payload_kind == kind and envelope.sender.value == demo.MUNICIPALITY.ean

"""The hub's commands: `demo` (the README's one command), `process` (architecture.md §3.1) and `flow show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge import demo
from medcom_bridge.cli import app
from medcom_bridge.cli.hub import make_clock, parse_duration

runner = CliRunner()


def test_demo_shows_a_fhir_letter_reach_an_oioxml_receiver_and_one_acknowledgement_come_back(
    tmp_path: Path,
) -> None:
    result = runner.invoke(app, ["demo", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "hospital received  xdis91" in result.output and "hospital received  xbin01" in result.output
    assert "municipality received  acknowledgement" in result.output and "response.code=ok" in result.output
    assert "receipt_aggregated" in result.output
    spool = tmp_path / "d" / "spool"
    assert len(list((spool / demo.MUNICIPALITY.ean / "read").glob("*.xml"))) == 1
    again = runner.invoke(app, ["demo", str(tmp_path / "d")])
    assert again.exit_code == 0 and "previous demo" in again.output  # a demo folder is made again
    assert len(list((spool / demo.MUNICIPALITY.ean / "read").glob("*.xml"))) == 1  # not two


def test_process_handles_the_spool_fires_timers_and_flow_show_prints_the_events(tmp_path: Path) -> None:
    files = demo.build(tmp_path)
    args = ["process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi)]
    result = runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["taken"] == 1 and summary["converted"] == 1 and summary["delivered"] == 2
    later = runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z", "--advance", "121m", "--json"])
    assert json.loads(later.output)["timers_fired"] == 1  # the 120-minute missing-receipt alert

    assert not list((files.spool / demo.MUNICIPALITY.ean / "out").iterdir())  # taken after its commit
    shown = runner.invoke(app, ["flow", "show", "--spool", str(files.spool), _flow_id(files.spool)])
    assert shown.exit_code == 0, shown.output
    assert "received -> converting" in shown.output and "delivering -> awaiting_receipts" in shown.output
    assert "FAILED at receiver" in shown.output  # the alert: receipts missing, the receiver's side
    as_json = runner.invoke(
        app, ["flow", "show", "--json", "--spool", str(files.spool), _flow_id(files.spool)]
    )
    bundle = json.loads(as_json.output)
    assert bundle["resourceType"] == "Bundle"
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"AuditEvent"}
    missing = runner.invoke(app, ["flow", "show", "--spool", str(files.spool), "no-such-flow"])
    assert missing.exit_code == 1


def test_process_with_an_unreadable_register_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "sor.xml"
    bad.write_text("not a register")
    result = runner.invoke(app, ["process", "--spool", str(tmp_path / "s"), "--sor", str(bad)])
    assert result.exit_code == 2 and "register" in result.output


def _flow_id(spool: Path) -> str:
    from medcom_bridge.hub.store import Store
    from medcom_bridge.hub.wiring import default_db_url

    store = Store.open(default_db_url(spool))
    try:
        with store.transaction() as tx:
            [flow] = tx.find_flows()
        return flow
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "minutes"), [("61m", 61), ("2h", 120), ("1h30m", 90), ("92d", 92 * 24 * 60), ("90min", 90)]
)
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text).total_seconds() == minutes * 60


@pytest.mark.parametrize("text", ["", "soon", "5x"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_now_without_zone_is_utc_and_advance_adds() -> None:
    clock = make_clock("2026-01-20T08:00:00", "61m")
    assert clock.now().isoformat() == "2026-01-20T09:01:00+00:00"


def test_flow_list_shows_each_flows_state_and_receipt_outcome(tmp_path: Path) -> None:
    """architecture.md §3.1: `flow list --json`, newest first, each flow with its receipt outcome."""
    files = demo.build(tmp_path)
    args = ["process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi)]
    assert runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z"]).exit_code == 0
    listed = runner.invoke(app, ["flow", "list", "--spool", str(files.spool), "--json"])
    assert listed.exit_code == 0, listed.output
    [flow] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert flow["state"] == "awaiting_receipts" and flow["receipt"]["outcome"] == "pending"
    runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z", "--advance", "121m"])
    [late] = [
        json.loads(line)
        for line in runner.invoke(
            app, ["flow", "list", "--spool", str(files.spool), "--json"]
        ).stdout.splitlines()
    ]
    assert late["receipt"]["outcome"] == "missing"
    demo.EndSystem(files.spool, demo.HOSPITAL, demo.id_factory("t")).answer_all(now=demo.DEMO_NOW)
    runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z", "--advance", "122m"])
    listed = runner.invoke(app, ["flow", "list", "--spool", str(files.spool), "--json"])
    outcomes = [json.loads(line)["receipt"]["outcome"] for line in listed.stdout.splitlines()]
    assert outcomes[-1] == "ok"  # the letter's flow: the two XCTL03 became one ok Acknowledgement
    plain = runner.invoke(app, ["flow", "list", "--spool", str(files.spool), "--state", "completed"])
    assert plain.exit_code == 0 and " ok " in plain.stdout
    bad = runner.invoke(app, ["flow", "list", "--spool", str(files.spool), "--receipt", "negative"])
    assert bad.exit_code == 2 and "month" in bad.output  # event filters need a month, said in one line


def test_version() -> None:
    from medcom_bridge import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"medcom-bridge {__version__}"


def test_flow_reprocess_sends_a_refused_letter_again_once_the_register_is_fixed(tmp_path: Path) -> None:
    files = demo.build(tmp_path)
    broken = tmp_path / "broken-edi.csv"
    lines = files.edi.read_text().splitlines(keepends=True)
    broken.write_text("".join(line for line in lines if not line.startswith(demo.HOSPITAL.ean)))
    spool = ["--spool", str(files.spool), "--sor", str(files.sor)]
    assert runner.invoke(app, ["process", *spool, "--edi", str(broken)]).exit_code == 0
    old = _flow_id(files.spool)

    wrong = runner.invoke(app, ["flow", "reprocess", *spool, "--state", "completed"])
    assert wrong.exit_code == 2 and "only rejected or quarantined" in wrong.output
    done = runner.invoke(app, ["flow", "reprocess", *spool, "--edi", str(files.edi), "--state", "rejected"])
    assert done.exit_code == 0, done.output
    assert f"flow {old}: reprocessed as " in done.output and "1 reprocessed, 0 refused" in done.output
    again = runner.invoke(app, ["flow", "reprocess", *spool, "--edi", str(files.edi), "--json", old])
    assert again.exit_code == 0, again.output
    answer = json.loads(again.output)
    assert answer["outcome"] == "already" and answer["old_flow_id"] == old
    assert answer["state"] == "awaiting_receipts"  # delivered by the run after the first reprocess
    assert len(list((files.spool / demo.HOSPITAL.ean / "in").glob("*.xml"))) == 2


def test_flow_list_shows_a_negative_receipts_code_text_names_and_copenhagen_time(tmp_path: Path) -> None:
    """Issue 12: the operator reads the receiver's refuse code and text, the parties by name, and the time
    in Copenhagen time, labelled; `--json` keeps the UTC instant and adds the names."""
    files = demo.build(tmp_path)
    args = ["process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi)]
    assert runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z"]).exit_code == 0
    demo.EndSystem(files.spool, demo.HOSPITAL, demo.id_factory("t")).answer_all(
        now=demo.DEMO_NOW, negative=True
    )  # two XCTL02, one for the XDIS91 and one for the XBIN01
    assert runner.invoke(app, [*args, "--now", "2026-01-20T08:00:00Z", "--advance", "10m"]).exit_code == 0
    listing = ["flow", "list", "--spool", str(files.spool), "--sor", str(files.sor)]
    plain = runner.invoke(app, listing)
    assert plain.exit_code == 0, plain.output
    [line] = plain.stdout.splitlines()
    assert line.startswith("2026-01-20 09:00:00 CET ")
    assert ' completed          negative ikke_specificeret "Modtager kan ikke behandle meddelelsen" ' in line
    assert f"({demo.MUNICIPALITY.name})" in line and f"({demo.HOSPITAL.name})" in line
    [flow] = [json.loads(x) for x in runner.invoke(app, [*listing, "--json"]).stdout.splitlines()]
    assert flow["created_at"] == "2026-01-20T08:00:00+00:00"
    assert (flow["sender_name"], flow["receiver_name"]) == (demo.MUNICIPALITY.name, demo.HOSPITAL.name)
    assert flow["receipt"]["code"] == "ikke_specificeret"
    shown = runner.invoke(app, ["flow", "show", flow["id"], "--spool", str(files.spool)])
    assert shown.exit_code == 0 and "receipt negative ikke_specificeret" in shown.stdout
    assert " CET  " in shown.stdout and "UTC" not in shown.stdout
    bad = runner.invoke(app, [*listing[:-1], str(tmp_path / "missing.xml")])
    assert bad.exit_code == 2 and "register" in bad.output and "Traceback" not in bad.output

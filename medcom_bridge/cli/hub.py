"""The hub's commands: `process` (architecture.md §3.1), `flow show` and `demo`.

Thin shells: parse options, build the hub (`wiring.build_hub`), run it, print. Exit codes: 0 ok, 1 the hub
itself failed (a file it could not handle, a database error), 2 usage error or unreadable register file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from medcom_bridge.hub.clock import Clock, ManualClock, SystemClock
from medcom_bridge.hub.events import TraceEvent, to_audit_event
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.outcome import Receipt, ReceiptOutcome, receipt_outcome
from medcom_bridge.hub.queries import Names, flow_json
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.localtime import shown

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INVALID_FLOW = 1  # `flow show`: no such flow
MAX_ROUNDS = 1000
_DURATION = re.compile(r"(\d+)\s*(min|d|h|m|s)?")

flow_app = typer.Typer(help="Track & trace: one flow's delivery-status events.", no_args_is_help=True)


class ShiftedClock:
    """System time plus a fixed offset: `process --advance 61m` runs as if an hour had passed."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset
        self._system = SystemClock()

    def now(self) -> datetime:
        return self._system.now() + self.offset


def parse_duration(text: str) -> timedelta:
    """`61m`, `2h`, `90d`, `30s`, `1h30m`: a duration for `--advance`. Raises ValueError."""
    total = timedelta()
    pos = 0
    text = text.strip().lower()
    while pos < len(text):
        match = _DURATION.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"'{text}' is not a duration; use e.g. 61m, 2h, 90d")
        value, unit = int(match.group(1)), match.group(2) or "s"
        total += {
            "d": timedelta(days=value),
            "h": timedelta(hours=value),
            "m": timedelta(minutes=value),
            "min": timedelta(minutes=value),
            "s": timedelta(seconds=value),
        }[unit]
        pos = match.end()
    if not text:
        raise ValueError("empty duration")
    return total


def make_clock(now: str | None, advance: str | None) -> Clock:
    """`--now` fixes the time (ISO 8601; no zone = UTC) for the whole run; `--advance` adds to it."""
    offset = parse_duration(advance) if advance else timedelta()
    if now is None:
        return ShiftedClock(offset)
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ManualClock(moment + offset)


def run_until_idle(hub: Hub, *, max_rounds: int = MAX_ROUNDS) -> Summary:
    """Repeat `run_once` until a round finds nothing to do; one summary of everything done."""
    total = Summary()
    for _ in range(max_rounds):
        summary = hub.run_once()
        for name in (
            "taken",
            "already_taken",
            "quarantined",
            "duplicates",
            "delivered",
            "delivery_failures",
            "timers_fired",
            "converted",
        ):
            setattr(total, name, getattr(total, name) + getattr(summary, name))
        total.waiting_for_converter = summary.waiting_for_converter
        total.errors += summary.errors
        busy = summary.taken or summary.delivered or summary.timers_fired or summary.converted
        if not busy or summary.delivery_failures:
            break
    return total


def intake_for_workers(hub: Hub, broker: str) -> Summary:
    """`process --broker`: rounds of `BrokerIntake` (spool and timers here, the rest to the workers) until
    nothing is left to take."""
    from medcom_bridge.hub.worker import BrokerIntake

    intake = BrokerIntake(hub, broker)
    total = Summary()
    try:
        for _ in range(MAX_ROUNDS):
            summary = intake.run_once()
            for name in ("taken", "already_taken", "quarantined", "duplicates", "timers_fired"):
                setattr(total, name, getattr(total, name) + getattr(summary, name))
            total.errors += summary.errors
            if summary.errors or not (summary.taken or summary.quarantined or summary.already_taken):
                break
    finally:
        intake.close()
    if intake.relayed is None:
        typer.echo("broker unreachable: the work waits in the outbox for a worker to publish it", err=True)
    return total


def build_hub_or_exit(*args: Any, **kwargs: Any) -> Hub:
    """`wiring.build_hub`, or one line and the exit code: 2 for an unusable register or a busy SQLite
    database, 1 when the store cannot be opened (the hub itself failed)."""
    from medcom_bridge.hub.wiring import HubBusy, build_hub
    from medcom_bridge.shell.register import RegisterLoadError

    try:
        return build_hub(*args, **kwargs)
    except RegisterLoadError as exc:
        typer.echo(f"register: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except HubBusy as exc:
        typer.echo(f"hub: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as exc:  # the store could not be opened: the hub itself failed
        typer.echo(f"hub: cannot open the store: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


def worker(
    spool: Annotated[
        Path, typer.Option("--spool", help="Spool folder: SPOOL/<EAN>/out|in, SPOOL/quarantine.")
    ],
    sor: Annotated[Path, typer.Option("--sor", help="SOR XML export (the register).")],
    db: Annotated[str, typer.Option("--db", help="Database URL (PostgreSQL for more than one process).")],
    broker: Annotated[str, typer.Option("--broker", help="RabbitMQ URL amqp://USER:PASS@HOST:PORT/VHOST.")],
    edi: Annotated[Path | None, typer.Option("--edi", help="SOR-EDI CSV: ean,type,direction.")] = None,
    referral_hub: Annotated[
        list[str] | None,
        typer.Option(
            "--referral-hub", help="Location number of the national referral hub (DNHF); repeatable."
        ),
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Run at this fixed time (ISO 8601; tests and replays).")
    ] = None,
) -> None:
    """Do the hub's steps from the broker until SIGTERM (finishes or hands back what it holds; exit 0)."""
    from medcom_bridge.hub.worker import Worker, stopping_on_signals

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # one line per socket event otherwise
    if not broker.startswith(("amqp://", "amqps://")):
        typer.echo("--broker: give amqp://USER:PASS@HOST:PORT/VHOST", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        clock = make_clock(now, None) if now else SystemClock()
    except ValueError as exc:
        typer.echo(f"--now: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    hub = build_hub_or_exit(
        spool, sor, edi, db, clock, referral_hubs=referral_hub or (), exclusive=True, broker=broker
    )
    runner = Worker(hub, broker)
    try:
        with stopping_on_signals(runner):
            code = runner.run()
    finally:
        hub.close()
    raise typer.Exit(code)


def summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "taken": summary.taken,
        "already_taken": summary.already_taken,
        "quarantined": summary.quarantined,
        "duplicates": summary.duplicates,
        "converted": summary.converted,
        "delivered": summary.delivered,
        "delivery_failures": summary.delivery_failures,
        "timers_fired": summary.timers_fired,
        "errors": summary.errors,
    }


def process(
    spool: Annotated[
        Path, typer.Option("--spool", help="Spool folder: SPOOL/<EAN>/out|in, SPOOL/quarantine.")
    ],
    sor: Annotated[Path, typer.Option("--sor", help="SOR XML export (the register).")],
    edi: Annotated[Path | None, typer.Option("--edi", help="SOR-EDI CSV: ean,type,direction.")] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL; default: SQLite file medcom-bridge.sqlite in the spool."),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="Run at this time (ISO 8601, e.g. 2026-01-20T09:01:00Z) instead of the clock."
        ),
    ] = None,
    advance: Annotated[
        str | None,
        typer.Option(
            "--advance", help="Run as if this much time had passed (e.g. 61m, 121m, 92d): fires timers."
        ),
    ] = None,
    referral_hub: Annotated[
        list[str] | None,
        typer.Option(
            "--referral-hub", help="Location number of the national referral hub (DNHF); repeatable."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="RabbitMQ URL amqp://USER:PASS@HOST:PORT/VHOST: hand conversions and deliveries to workers.",
        ),
    ] = None,
) -> None:
    """Handle everything waiting in the spool, fire due timers, deliver, and exit when idle. With --broker:
    take the spool and fire timers here, and publish the resulting work for `medcom-bridge worker`."""

    try:
        clock = make_clock(now, advance)
    except ValueError as exc:
        typer.echo(f"--now/--advance: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    from medcom_bridge.web.serve import scrubbed_logging

    scrubbed_logging(logging.WARNING, "%(levelname)s %(name)s: %(message)s")
    hub = build_hub_or_exit(
        spool,
        sor,
        edi,
        db,
        clock,
        referral_hubs=referral_hub or (),
        exclusive=True,
        broker=broker,
    )
    try:
        summary = run_until_idle(hub) if broker is None else intake_for_workers(hub, broker)
    except Exception as exc:  # a database or file-system failure: report it, never a traceback
        typer.echo(f"hub failed: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        hub.close()
    if as_json:
        typer.echo(json.dumps(summary_json(summary)))
    else:
        typer.echo(
            f"taken {summary.taken} (duplicates {summary.duplicates}, quarantined {summary.quarantined}), "
            f"converted {summary.converted}, delivered {summary.delivered}, timers fired {summary.timers_fired}"
            + (f", delivery failures {summary.delivery_failures}" if summary.delivery_failures else "")
        )
    for problem in summary.errors:
        typer.echo(problem, err=True)
    raise typer.Exit(EXIT_FAILED if summary.errors else EXIT_OK)


def format_event(event: TraceEvent) -> str:
    """One human-readable line per event: time, step, transition, outcome, reason (ids only, no patient data)."""
    change = (
        f"{event.state_from} -> {event.state_to}"
        if event.state_from and event.state_from != event.state_to
        else event.state_to or ""
    )
    outcome = f"FAILED at {event.failure.value}" if event.failure is not None else "ok"
    parts = [
        shown(event.at, seconds=True, zone=True),
        f"{event.step.value:<22}",
        f"{change:<36}",
        outcome,
    ]
    if event.message_type:
        parts.append(f"{event.message_type}{' ' + event.message_id if event.message_id else ''}")
    if event.receipt is not None:
        parts.append(f"receipt {event.receipt.value}")
    if event.reason:
        parts.append(f"- {event.reason}")
    return "  ".join(parts)


def find_flows(hub_store: Any, key: str) -> list[str]:
    """Flows named by `key`: a flow id, a letter id (MessageHeader.id), an envelope id or a Bundle.id."""
    with hub_store.transaction() as tx:
        for field in ("id", "letter_id", "envelope_id", "bundle_id"):
            found: list[str] = tx.find_flows(**{field: key})
            if found:
                return found
    return []


def _open_store(spool: Path | None, db: str | None) -> Any:
    """The hub's store for the read-only commands, or exit 2 (usage) / 1 (cannot open) with one line."""
    from medcom_bridge.hub.store import Store
    from medcom_bridge.hub.wiring import default_db_url

    if db is None and spool is None:
        typer.echo("give --spool DIR or --db URL", err=True)
        raise typer.Exit(EXIT_USAGE)
    url = db or default_db_url(spool or Path("."))
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        typer.echo(f"no hub database at {url}", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        return Store.open(url)
    except Exception as exc:
        typer.echo(f"hub: cannot open the store: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


@flow_app.command("list")
def flow_list(
    spool: Annotated[
        Path | None,
        typer.Option("--spool", metavar="DIR", help="Spool folder (its medcom-bridge.sqlite is used)."),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL (instead of --spool).")
    ] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="received, converting, awaiting_receipts ...")
    ] = None,
    sender: Annotated[
        str | None, typer.Option("--sender", metavar="GLN", help="Sender location number.")
    ] = None,
    receiver: Annotated[
        str | None, typer.Option("--receiver", metavar="GLN", help="Receiver location number.")
    ] = None,
    letter_id: Annotated[str | None, typer.Option("--letter-id", metavar="ID")] = None,
    envelope_id: Annotated[str | None, typer.Option("--envelope-id", metavar="ID")] = None,
    month: Annotated[
        str | None, typer.Option("--month", metavar="YYYY-MM", help="Needed by the event filters below.")
    ] = None,
    failure: Annotated[
        str | None, typer.Option("--failure", help="input, register, conversion, network, receiver")
    ] = None,
    cause: Annotated[str | None, typer.Option("--cause", help="A refusal cause or receipt code.")] = None,
    receipt: Annotated[str | None, typer.Option("--receipt", help="positive | negative")] = None,
    route: Annotated[str | None, typer.Option("--route", help="pass_through, oioxml_to_fhir ...")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Receipts missing past 120 minutes.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many flows.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per flow, one per line.")] = False,
    sor: Annotated[
        Path | None,
        typer.Option(
            "--sor", metavar="FILE", help="SOR register: show the parties' names beside their GLNs."
        ),
    ] = None,
) -> None:
    """Flows, newest first, each with its state and receipt outcome (ok, negative + refuse code and text,
    missing, pending). Times are Copenhagen time; --json gives ISO 8601 UTC instants."""
    from datetime import UTC

    from medcom_bridge.hub.queries import BadFilter, parse_filter
    from medcom_bridge.hub.service import HubService

    args = {
        "state": state,
        "sender_gln": sender,
        "receiver_gln": receiver,
        "letter_id": letter_id,
        "envelope_id": envelope_id,
        "month": month,
        "failure": failure,
        "cause": cause,
        "receipt": receipt,
        "route": route,
        "overdue": "true" if overdue else None,
    }
    try:
        chosen = parse_filter(args, datetime.now(UTC))
    except BadFilter as exc:
        typer.echo(f"filter: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    party = _party_names(sor)
    store = _open_store(spool, db)
    try:
        service = HubService(store)
        page = service.flows(chosen, limit=limit)
        outcomes = service.receipt_outcomes(page.flows)
    finally:
        store.close()
    for row in page.flows:
        outcome = outcomes[row.id]
        if as_json:
            typer.echo(json.dumps(flow_json(row, outcome, party), ensure_ascii=False))
            continue
        typer.echo(
            f"{shown(row.created_at, seconds=True, zone=True)}  {row.id}  {row.state:18s} "
            f"{receipt_line(outcome)}  {row.kind or '-'}  "
            f"{_party(row.sender_gln, party)} -> {_party(row.receiver_gln, party)}"
        )
    if not as_json:
        more = " (more: raise --limit or narrow the filter)" if page.next_cursor else ""
        typer.echo(f"{len(page.flows)} flow(s){more}", err=True)


def receipt_line(outcome: ReceiptOutcome) -> str:
    """`negative ikke_specificeret "Modtager kan ikke ..."`, `missing`, `ok` ...: the outcome as people read it."""
    if outcome.outcome is not Receipt.NEGATIVE:
        return outcome.outcome.value
    code = f" {outcome.code}" if outcome.code else ""
    text = f" {json.dumps(outcome.text, ensure_ascii=False)}" if outcome.text else ""
    return f"negative{code}{text}"


def _party(gln: str | None, party: Names) -> str:
    if not gln:
        return "-"
    name = party(gln)
    return f"{gln} ({name})" if name else gln


def _party_names(sor: Path | None) -> Names:
    """The register's names (`--sor`), or no names; an unreadable register exits 2 with one line."""
    if sor is None:
        return lambda _: None
    from medcom_bridge.shell.register import RegisterLoadError, load_register

    try:
        register = load_register(sor)
    except RegisterLoadError as exc:
        typer.echo(f"register: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None

    def name(gln: str | None) -> str | None:
        found = register.party(gln) if gln else None
        return found.name if found is not None else None

    return name


@flow_app.command("show")
def flow_show(
    flow_id: Annotated[
        str, typer.Argument(help="Flow id, letter id (MessageHeader.id), envelope id or Bundle.id.")
    ],
    spool: Annotated[
        Path | None, typer.Option("--spool", help="Spool folder (its medcom-bridge.sqlite is used).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (instead of --spool).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="AuditEvent JSON (EHMI delivery-status shape), one Bundle.")
    ] = False,
) -> None:
    """Show every event of one flow, oldest first."""
    store = _open_store(spool, db)
    try:
        flows = find_flows(store, flow_id)
        if not flows:
            typer.echo(f"no flow {flow_id}", err=True)
            raise typer.Exit(EXIT_INVALID_FLOW)
        with store.transaction() as tx:
            events = {f: tx.events(f) for f in flows}
            states = {f: tx.flow(f, lock=False).state.value for f in flows}
            rows = {f: tx.flow_row(f) for f in flows}
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(audit_bundle([e for f in flows for e in events[f]]), ensure_ascii=False))
        return
    for f in flows:
        said = receipt_outcome(State(states[f]), bool(rows[f]["receipt_expected"]), events[f])
        typer.echo(f"flow {f}  state {states[f]}  receipt {receipt_line(said)}")
        for event in events[f]:
            typer.echo("  " + format_event(event))


def audit_bundle(events: list[TraceEvent]) -> dict[str, Any]:
    """The events as a FHIR collection Bundle of AuditEvents (EdsBasicDeliveryStatus shape)."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": to_audit_event(e)} for e in events],
    }


def demo(
    folder: Annotated[
        Path, typer.Argument(help="Folder to build the demo in (created; reused if present).")
    ] = Path("medcom-bridge-demo"),
) -> None:
    """Watch a FHIR letter reach an OIOXML-only receiver and the two XCTL03 receipts come back as one
    Acknowledgement (all data made by our own code)."""
    from medcom_bridge import demo as demo_data
    from medcom_bridge.hub.wiring import build_hub

    echo: Callable[[str], None] = typer.echo
    if (folder / "spool").exists():
        typer.echo(f"{folder}/spool exists already; choose a new folder", err=True)
        raise typer.Exit(EXIT_USAGE)
    files = demo_data.build(folder)
    clock = ManualClock(demo_data.DEMO_NOW)
    hub = build_hub(files.spool, files.sor, files.edi, None, clock)
    ids = demo_data.id_factory("end-systems")
    municipality = demo_data.EndSystem(files.spool, demo_data.MUNICIPALITY, ids)
    hospital = demo_data.EndSystem(files.spool, demo_data.HOSPITAL, ids)
    echo(f"register: {files.sor} and {files.edi}")
    echo(f"  {demo_data.MUNICIPALITY.ean} {demo_data.MUNICIPALITY.name}: FHIR only (FDIS91, FCTL)")
    echo(f"  {demo_data.HOSPITAL.ean} {demo_data.HOSPITAL.name}: OIOXML only (XDIS91, XBIN01, XCTL01-03)")
    echo(f"1. the municipality's CareCommunication waits in {files.spool}/{demo_data.MUNICIPALITY.ean}/out/")
    try:
        summary = run_until_idle(hub)
        echo(f"2. medcom-bridge process: converted {summary.converted}, delivered {summary.delivered}")
        clock.advance(timedelta(minutes=7))
        for received in hospital.pick_up():
            echo(f"   hospital received  {demo_data.describe(received)}")
            receipt = hospital.receipt_for(received, now=clock.now())
            if receipt is not None:
                demo_data.drop(files.spool, demo_data.HOSPITAL.ean, f"receipt-{ids()}", receipt)
        echo("3. the hospital's system answered each with an XCTL03 in its out/")
        clock.advance(timedelta(minutes=1))
        summary = run_until_idle(hub)
        echo(f"4. medcom-bridge process: took {summary.taken} receipts, delivered {summary.delivered}")
        for received in municipality.pick_up():
            echo(f"   municipality received  {demo_data.describe(received)}")
        flows = [f for f in (_first_flow(hub),) if f]
        with hub.store.transaction() as tx:
            for f in flows:
                echo(f"5. medcom-bridge flow show {f} --spool {files.spool}")
                for event in tx.events(f):
                    echo("   " + format_event(event))
    finally:
        hub.close()
    echo(
        f"Try: medcom-bridge process --spool {files.spool} --sor {files.sor} --edi {files.edi} --advance 92d"
    )


def _first_flow(hub: Hub) -> str:
    with hub.store.transaction() as tx:
        flows = tx.find_flows()
    return flows[0] if flows else ""

"""The hub's commands: `process` (architecture.md §3.1), `flow show` and `demo`.

Thin shells: parse options, build the hub (`wiring.build_hub`), run it, print. Exit codes: 0 ok, 1 the hub
itself failed (a file it could not handle, a database error), 2 usage error or unreadable register file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from medcom_bridge.cli.progress import Bar
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


def run_start(clock: Clock, now: datetime) -> datetime:
    """When a run on `clock` begins, measured at real time `now` (a ShiftedClock runs `offset` ahead)."""
    if isinstance(clock, ShiftedClock):
        return now + clock.offset
    return clock.now()


def ahead_of_time(start: datetime, now: datetime, *, demo_spool: bool) -> str | None:
    """Why a run starting at `start` may not run at real time `now`, or None when it may.

    A run ahead of the clock (`--advance`, or a `--now` in the future) writes future times into the flows,
    events and timers it touches; in a database that also holds real flows they would then sort, time out and
    count in the wrong month for as long as they are kept (issue 12). Only a demo spool, whose database holds
    nothing else, may run ahead. A `--now` in the past (tests, replays) is allowed anywhere."""
    from medcom_bridge.localtime import shown

    if start <= now or demo_spool:
        return None
    return (
        f"this run would start at {shown(start, zone=True)}, ahead of the clock, and leave future "
        "times among the real flows of this database; only a spool made by `medcom-bridge demo` (with its own "
        "database) runs ahead of time"
    )


def refuse_ahead_of_time(clock: Clock, spool: Path, db: str | None) -> None:
    """Exit 2 with one line when `clock` runs ahead and the spool is not a demo spool on its own database."""
    from medcom_bridge import demo
    from medcom_bridge.hub.wiring import default_db_url

    own_database = db is None or db == default_db_url(spool)
    reason = ahead_of_time(
        run_start(clock, datetime.now(UTC)),
        datetime.now(UTC),
        demo_spool=own_database and demo.is_demo_spool(spool),
    )
    if reason is not None:
        typer.echo(f"--now/--advance: {reason}", err=True)
        raise typer.Exit(EXIT_USAGE)


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
        Path,
        typer.Option("--spool", metavar="DIR", help="Spool folder: SPOOL/<EAN>/out|in, SPOOL/quarantine."),
    ],
    sor: Annotated[Path, typer.Option("--sor", metavar="FILE", help="SOR XML export (the register).")],
    db: Annotated[
        str, typer.Option("--db", metavar="URL", help="Database URL (PostgreSQL for more than one process).")
    ],
    broker: Annotated[
        str, typer.Option("--broker", metavar="URL", help="RabbitMQ URL amqp://USER:PASS@HOST:PORT/VHOST.")
    ],
    edi: Annotated[
        Path | None, typer.Option("--edi", metavar="FILE", help="SOR-EDI CSV: ean,type,direction.")
    ] = None,
    referral_hub: Annotated[
        list[str] | None,
        typer.Option(
            "--referral-hub",
            metavar="GLN",
            help="Location number of the national referral hub (DNHF); repeatable.",
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="WHEN", help="Run at this fixed time (ISO 8601; tests and replays)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            metavar="PORT",
            help="Serve this worker's counters and latencies as Prometheus text on http://127.0.0.1:PORT/ "
            "(loopback only, no token; docs/metrics.md).",
        ),
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
    refuse_ahead_of_time(clock, spool, db)
    hub = build_hub_or_exit(
        spool, sor, edi, db, clock, referral_hubs=referral_hub or (), exclusive=True, broker=broker
    )
    stop_metrics = serve_worker_metrics(hub, metrics_port) if metrics_port is not None else None
    runner = Worker(hub, broker)
    try:
        with stopping_on_signals(runner):
            code = runner.run()
    finally:
        if stop_metrics is not None:
            stop_metrics()
        hub.close()
    raise typer.Exit(code)


def serve_worker_metrics(hub: Hub, port: int) -> Callable[[], None]:
    """`worker --metrics-port`: the worker's own counters and histograms (what it committed, converted and
    delivered) on 127.0.0.1 only. The database's levels come from `serve`'s /metrics, so that many workers do
    not each ask the database at every scrape. Exits 2 when the port cannot be bound."""
    from prometheus_client import start_http_server

    from medcom_bridge.hub.metrics import HubMetrics

    metrics = HubMetrics()
    try:
        server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    except OSError as exc:
        typer.echo(f"--metrics-port: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", err=True)
        hub.close()
        raise typer.Exit(EXIT_USAGE) from None
    hub.observe(metrics)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


LARGE_SPOOL = 100
"""From this many waiting files on, `process` shows a progress bar (on a terminal; `cli.progress`)."""


@contextmanager
def spool_progress(hub: Hub) -> Iterator[Bar]:
    """Files taken of those waiting, as a bar on stderr when it is a terminal and the spool is large."""
    from medcom_bridge.cli.progress import bar, on_terminal

    waiting = len(hub.spool.waiting()) if on_terminal() else 0
    if waiting < LARGE_SPOOL:
        yield Bar()
        return
    with bar("spool files taken", waiting) as shown:
        yield shown


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
        Path,
        typer.Option("--spool", metavar="DIR", help="Spool folder: SPOOL/<EAN>/out|in, SPOOL/quarantine."),
    ],
    sor: Annotated[Path, typer.Option("--sor", metavar="FILE", help="SOR XML export (the register).")],
    edi: Annotated[
        Path | None, typer.Option("--edi", metavar="FILE", help="SOR-EDI CSV: ean,type,direction.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Database URL; default: SQLite file medcom-bridge.sqlite in the spool.",
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="WHEN",
            help="Run at this time (ISO 8601, e.g. 2026-01-20T09:01:00Z) instead of the clock.",
        ),
    ] = None,
    advance: Annotated[
        str | None,
        typer.Option(
            "--advance",
            metavar="DURATION",
            help="Run as if this much time had passed (e.g. 61m, 121m, 92d): fires timers.",
        ),
    ] = None,
    referral_hub: Annotated[
        list[str] | None,
        typer.Option(
            "--referral-hub",
            metavar="GLN",
            help="Location number of the national referral hub (DNHF); repeatable.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            metavar="URL",
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
    refuse_ahead_of_time(clock, spool, db)
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
        with spool_progress(hub) as progress:
            hub.on_taken = progress.advance
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
    # The filters: exactly the query arguments of GET /flows (queries.FILTER_KEYS; a test holds them equal).
    state: Annotated[
        str | None,
        typer.Option(
            "--state", metavar="STATE", help="received, converting, awaiting_receipts, completed ..."
        ),
    ] = None,
    sender_gln: Annotated[
        str | None, typer.Option("--sender-gln", "--sender", metavar="GLN", help="Sender location number.")
    ] = None,
    receiver_gln: Annotated[
        str | None,
        typer.Option("--receiver-gln", "--receiver", metavar="GLN", help="Receiver location number."),
    ] = None,
    letter_id: Annotated[
        str | None, typer.Option("--letter-id", metavar="ID", help="Letter id (MessageHeader.id).")
    ] = None,
    envelope_id: Annotated[
        str | None, typer.Option("--envelope-id", metavar="ID", help="Envelope id.")
    ] = None,
    bundle_id: Annotated[
        str | None, typer.Option("--bundle-id", metavar="ID", help="FHIR Bundle.id.")
    ] = None,
    created_from: Annotated[
        str | None,
        typer.Option(
            "--created-from", "--since", metavar="WHEN", help="Created at or after (2026-01-20 or ISO 8601)."
        ),
    ] = None,
    created_to: Annotated[
        str | None,
        typer.Option("--created-to", "--until", metavar="WHEN", help="Created before (exclusive)."),
    ] = None,
    month: Annotated[
        str | None,
        typer.Option(
            "--month",
            metavar="YYYY-MM",
            help="Flows with an event in that month; needed by the "
            "event filters --failure, --cause, --receipt, --event, --route.",
        ),
    ] = None,
    failure: Annotated[
        str | None,
        typer.Option("--failure", metavar="PLACE", help="input, register, conversion, network, receiver."),
    ] = None,
    cause: Annotated[
        str | None, typer.Option("--cause", metavar="CODE", help="A refusal cause or receipt code.")
    ] = None,
    receipt: Annotated[
        str | None, typer.Option("--receipt", metavar="VERDICT", help="positive | negative.")
    ] = None,
    event: Annotated[
        str | None,
        typer.Option("--event", metavar="EVENT", help="A flow event, e.g. receipt_alert, converted."),
    ] = None,
    route: Annotated[
        str | None,
        typer.Option("--route", metavar="ROUTE", help="pass_through, oioxml_to_fhir, fhir_to_oioxml ..."),
    ] = None,
    figure: Annotated[
        str | None,
        typer.Option(
            "--figure",
            metavar="FIGURE",
            help="The flows behind a monthly figure: letters, conversions, receiver_negative, hub_refused, "
            "quarantined, missing.",
        ),
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Receipts missing past 120 minutes.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=500, help="At most this many flows.")
    ] = 50,
    cursor: Annotated[
        str | None,
        typer.Option(
            "--cursor", metavar="CURSOR", help="The next page: the cursor the previous page printed."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per flow, one per line.")] = False,
    sor: Annotated[
        Path | None,
        typer.Option(
            "--sor", metavar="FILE", help="SOR register: show the parties' names beside their GLNs."
        ),
    ] = None,
) -> None:
    """Flows, newest first, each with its state and receipt outcome (ok, negative + refuse code and text,
    missing, pending). The filters are those of the API's GET /flows. Times are Copenhagen time; --json gives
    ISO 8601 UTC instants (exit 0 listed, 1 the database failed, 2 a bad filter or no database)."""
    from datetime import UTC

    from medcom_bridge.hub.queries import FILTER_KEYS, BadFilter, parse_filter
    from medcom_bridge.hub.service import HubService

    given = {
        "state": state,
        "sender_gln": sender_gln,
        "receiver_gln": receiver_gln,
        "letter_id": letter_id,
        "envelope_id": envelope_id,
        "bundle_id": bundle_id,
        "created_from": created_from,
        "created_to": created_to,
        "month": month,
        "failure": failure,
        "cause": cause,
        "receipt": receipt,
        "event": event,
        "route": route,
        "figure": figure,
        "overdue": "true" if overdue else None,
    }
    try:
        chosen = parse_filter({key: given[key] for key in FILTER_KEYS}, datetime.now(UTC))
    except BadFilter as exc:
        typer.echo(f"filter: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    party = _party_names(sor)
    store = _open_store(spool, db)
    try:
        service = HubService(store)
        page = service.flows(chosen, limit=limit, cursor=cursor)
        outcomes = service.receipt_outcomes(page.flows)
    except BadFilter as exc:  # a cursor this hub never gave out
        typer.echo(f"--cursor: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
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
        more = f" (more: --cursor {page.next_cursor})" if page.next_cursor else ""
        typer.echo(f"{len(page.flows)} flow(s){more}", err=True)
    elif page.next_cursor:  # stdout stays one JSON object per flow
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)


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
        str,
        typer.Argument(metavar="ID", help="Flow id, letter id (MessageHeader.id), envelope id or Bundle.id."),
    ],
    spool: Annotated[
        Path | None,
        typer.Option("--spool", metavar="DIR", help="Spool folder (its medcom-bridge.sqlite is used)."),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL (instead of --spool).")
    ] = None,
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
        Path,
        typer.Argument(
            metavar="FOLDER",
            help="Folder to build the demo in: created if missing; used if empty; a previous demo's folder is "
            "reset (its spool, register and sample envelope made again; other files stay); any other "
            "non-empty folder is refused (exit 2).",
        ),
    ] = Path("medcom-bridge-demo"),
) -> None:
    """Watch a FHIR letter reach an OIOXML-only receiver and the two XCTL03 receipts come back as one
    Acknowledgement (all data made by our own code). Writes FOLDER/sor.xml, edi.csv, spool/ (marked as a demo
    spool, where `process --advance` may run ahead of time) and sample-envelope.xml for a POST /envelopes."""
    from medcom_bridge import demo as demo_data
    from medcom_bridge.hub.wiring import build_hub

    echo: Callable[[str], None] = typer.echo
    try:
        if demo_data.prepare(folder):
            echo(f"{folder}: a previous demo; made again from the start")
    except (demo_data.NotADemoFolder, OSError) as exc:
        typer.echo(str(exc) if isinstance(exc, demo_data.NotADemoFolder) else f"{folder}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
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
    echo(f"and POST {files.sample} to `medcom-bridge serve` (README, 'Run it as a service')")


def _first_flow(hub: Hub) -> str:
    with hub.store.transaction() as tx:
        flows = tx.find_flows()
    return flows[0] if flows else ""


@flow_app.command("reprocess")
def flow_reprocess(
    flow_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[FLOW_ID]...", help="Rejected or quarantined flows.")
    ] = None,
    spool: Annotated[
        Path,
        typer.Option("--spool", metavar="DIR", help="Spool folder: SPOOL/<EAN>/out|in, SPOOL/quarantine."),
    ] = Path("."),
    sor: Annotated[
        Path | None, typer.Option("--sor", metavar="FILE", help="SOR XML export (the fixed register).")
    ] = None,
    edi: Annotated[
        Path | None, typer.Option("--edi", metavar="FILE", help="SOR-EDI CSV: ean,type,direction.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", metavar="URL", help="Database URL; default: medcom-bridge.sqlite in the spool."),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Instead of FLOW_IDs: every flow in this state (rejected | quarantined).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DATE", help="With --state: flows created at or after (UTC if naive)."
        ),
    ] = None,
    files: Annotated[
        list[str] | None,
        typer.Option("--file", metavar="NAME", help="A file in SPOOL/quarantine/ to reprocess; repeatable."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=500, help="With --state: at most this many.")
    ] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per reprocess, one per line.")
    ] = False,
) -> None:
    """Send rejected or quarantined input through the hub again, once, with a new envelope id (the letter keeps
    its ids). Idempotent: a flow reprocessed before answers with the flow it became. Audited as cli:<user>.
    Exit 0 when everything asked for is (or was) reprocessed, 1 when something was refused, 2 on usage errors."""
    import getpass

    from medcom_bridge.hub.queries import BadFilter, parse_filter
    from medcom_bridge.hub.reprocess import REPROCESSABLE, Refused
    from medcom_bridge.hub.service import HubService
    from medcom_bridge.security import audit

    if sor is None:
        typer.echo("give --sor FILE: the register the reprocessed input is routed with", err=True)
        raise typer.Exit(EXIT_USAGE)
    if bool(flow_ids or files) == bool(state):
        typer.echo("give FLOW_IDs and/or --file NAME, or --state rejected|quarantined (not both)", err=True)
        raise typer.Exit(EXIT_USAGE)
    chosen = None
    if state is not None:
        try:
            chosen = parse_filter({"state": state, "created_from": since}, datetime.now(UTC))
        except BadFilter as exc:
            typer.echo(f"filter: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        if chosen.state not in REPROCESSABLE:
            typer.echo(
                f"--state: only rejected or quarantined flows can be reprocessed, not {state!r}", err=True
            )
            raise typer.Exit(EXIT_USAGE)
    hub = build_hub_or_exit(spool, sor, edi, db, SystemClock())
    actor = f"cli:{getpass.getuser()}"
    service = HubService(hub.store, hub)
    results: list[tuple[str, str, Any]] = []
    try:
        if chosen is not None:
            bulk = service.reprocess_flows(chosen, limit=limit, actor=actor)
            results += [("flow", flow_id, result) for flow_id, result in bulk.results]
            if bulk.more:
                typer.echo(f"more than {limit} flows match: run again for the rest", err=True)
        for flow_id in flow_ids or []:
            results.append(("flow", flow_id, service.reprocess_flow(flow_id, actor)))
        for name in files or []:
            results.append(("quarantine", name, service.reprocess_file(name, actor)))
        for kind, name, result in results:
            refused = isinstance(result, Refused)
            service.audit(
                audit.Entry(
                    at=datetime.now(UTC),
                    actor=actor,
                    action=audit.Action.FLOW_REPROCESS
                    if kind == "flow"
                    else audit.Action.QUARANTINE_REPROCESS,
                    outcome=audit.Outcome.FAILED if refused else audit.Outcome.SUCCESS,
                    via="cli",
                    object_type=kind,
                    object_id=name,
                    details={"refused": result.rule.value}
                    if refused
                    else {"new_flow": result.new_flow_id, "already": result.already},
                )
            )
        run_until_idle(hub)  # deliver what the reprocess made, as `process` would
    finally:
        hub.close()
    failed = 0
    for kind, name, result in results:
        if isinstance(result, Refused):
            failed += 1
            line = {
                "kind": kind,
                "name": name,
                "outcome": "refused",
                "error": result.rule.value,
                "message": result.message,
            }
            text = f"{kind} {name}: refused ({result.rule.value}): {result.message}"
        else:
            line = {
                "kind": kind,
                "name": name,
                "outcome": "already" if result.already else "reprocessed",
                **result.to_json(),
            }
            verb = "reprocessed before as" if result.already else "reprocessed as"
            text = (
                f"{kind} {name}: {verb} {result.new_flow_id} ({result.state}, envelope {result.envelope_id})"
            )
        typer.echo(json.dumps(line, ensure_ascii=False) if as_json else text)
    if not as_json:
        typer.echo(f"{len(results) - failed} reprocessed, {failed} refused", err=True)
    if failed:
        raise typer.Exit(EXIT_FAILED)

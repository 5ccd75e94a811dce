"""`medcom-bridge serve`: the hub loop in a background thread and the API + pages under uvicorn.

The loop repeats `Hub.run_once()` (take spool files, fire due timers, convert, deliver) under the lock that
HTTP intake shares, then sleeps until the next tick or until an HTTP intake wakes it. SIGTERM and SIGINT stop
uvicorn gracefully (it finishes open requests), then the loop finishes the step it is in and the process exits
0. A kill at any other moment is safe too: every hub step is one transaction (docs/hub.md, "Crash safety").
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import uvicorn

from medcom_bridge.hub import retention
from medcom_bridge.hub.alerts.config import AlertConfig
from medcom_bridge.hub.metrics import HubMetrics
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.privacy import ScrubLogFilter, scrub
from medcom_bridge.web.app import LoopStatus, create_app
from medcom_bridge.web.intake import MAX_BODY
from medcom_bridge.web.settings import WebSecurity

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
"""How often the loop looks at the spool and the timers; timers have minute granularity, files want speed."""
PRUNE_EVERY = timedelta(days=1)
"""Retention runs inside `serve` once a day (and once at start)."""


def scrubbed_logging(level: int, format: str) -> None:
    """Configure the root logger with CPR numbers masked in every record, whoever logs it (issue 11)."""
    logging.basicConfig(level=level, format=format)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubLogFilter) for f in handler.filters):
            handler.addFilter(ScrubLogFilter())


class ScrubArgsFilter(logging.Filter):
    """CPR numbers masked in a record's message and each of its arguments, keeping their shape: uvicorn's
    access formatter reads its arguments one by one (`ScrubLogFilter` formats the whole line instead)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        return True


class HubLoop:
    def __init__(
        self,
        hub: Hub,
        *,
        tick: float = TICK_SECONDS,
        retention_age: retention.Age | None = retention.DEFAULT,
        round_: Callable[[], Summary] | None = None,
    ) -> None:
        self.hub = hub
        self.round = round_ or hub.run_once  # with --broker: spool + timers here, the rest by workers
        self.tick = tick
        self.retention_age = retention_age
        self.next_prune: datetime | None = None
        self.lock = threading.Lock()
        self.status = LoopStatus()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-loop", daemon=True)

    def start(self) -> None:
        self.status.running = True
        self.status.started = datetime.now(UTC)
        self._thread.start()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Ask the loop to stop after its current step; True when it did within `timeout` seconds."""
        self.stop.set()
        self.wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def prune_if_due(self) -> None:
        """The daily retention run (under the lock: no intake or hub step runs meanwhile)."""
        now = self.hub.clock.now()
        if self.retention_age is None or (self.next_prune is not None and now < self.next_prune):
            return
        self.next_prune = now + PRUNE_EVERY
        with self.lock:
            done = retention.prune(self.hub.store, now, self.retention_age, spool_root=self.hub.spool.root)
        log.info(
            "retention (%s): %d payloads (%d bytes) and %d quarantined files removed",
            self.retention_age,
            done.payloads,
            done.bytes,
            done.quarantined,
        )

    def run_once(self) -> None:
        try:
            self.prune_if_due()
        except Exception:  # retention must not stop the hub; it is tried again tomorrow
            log.exception("retention run failed")
        with self.lock:
            summary = self.round()
        self.status.runs += 1
        self.status.last_run = datetime.now(UTC)
        self.status.last_error = "; ".join(summary.errors[:3]) or None
        if summary.taken or summary.delivered or summary.timers_fired or summary.converted:
            log.info(
                "hub run: taken=%d duplicates=%d quarantined=%d converted=%d delivered=%d timers=%d",
                summary.taken,
                summary.duplicates,
                summary.quarantined,
                summary.converted,
                summary.delivered,
                summary.timers_fired,
            )

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.run_once()
                except Exception as exc:  # the store may be down for a while: report, wait, retry
                    log.exception("hub run failed")
                    self.status.last_error = f"hub run failed: {type(exc).__name__}"
                self.wake.wait(self.tick)
                self.wake.clear()
        finally:
            self.status.running = False


class AlertLoop:
    """`[alerts]`: one alert round every `interval` in its own thread, so that a slow webhook or mail server
    never delays the hub loop; a failing round is logged and the next one runs as planned."""

    def __init__(self, hub: Hub, config: AlertConfig, status: LoopStatus) -> None:
        from medcom_bridge.hub.alerts.watch import Alerter, names_of
        from medcom_bridge.hub.service import HubService

        started = datetime.now(UTC)
        self.interval = config.interval.total_seconds()
        self.alerter = Alerter(
            HubService(hub.store),
            config,
            hub.clock,
            spool=hub.spool,
            # Before the first run ends, the loop counts as last seen at start: a first run that hangs alerts.
            loop_last_run=lambda: status.last_run or started,
            names=names_of(getattr(hub.converter, "directory", None)),
        )
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.alerter.check()
            except Exception:  # never fatal: alerting is tried again next interval
                log.exception("alert round failed")
            self.stop.wait(self.interval)


def serve(
    hub: Hub,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tick: float = TICK_SECONDS,
    max_body: int = MAX_BODY,
    security: WebSecurity | None = None,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    broker: str | None = None,
    listening: socket.socket | None = None,
) -> int:
    """Run the hub and its HTTP server until SIGTERM/SIGINT; returns the exit code. With `certfile` (and
    `keyfile`) the server speaks TLS only, and `security.tls` turns HSTS on. `listening` is a socket already
    bound to host and port (`listen`), so a busy port is known before anything is announced."""
    security = security or WebSecurity()
    from medcom_bridge.hub.worker import BrokerIntake

    round_ = BrokerIntake(hub, broker).run_once if broker else None
    loop = HubLoop(hub, tick=tick, retention_age=security.retention, round_=round_)
    metrics = HubMetrics()
    hub.observe(metrics)  # the loop's and the HTTP intake's commits, conversions and deliveries (/metrics)
    app = create_app(
        hub,
        lock=loop.lock,
        loop=loop.status,
        wake=loop.wake,
        max_body=max_body,
        security=security,
        metrics=metrics,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        lifespan="off",
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        server_header=False,
    )
    server = uvicorn.Server(config)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's own handlers (an access line
        for log_handler in logging.getLogger(name).handlers:  # quotes the query string) mask CPR numbers too
            log_handler.addFilter(ScrubArgsFilter())

    def stop(signum: int, _frame: FrameType | None) -> None:
        # uvicorn re-raises the signal that stopped it once it is done; this handler makes that a clean exit.
        log.info("signal %d: stopping the hub loop", signum)
        server.should_exit = True
        loop.stop.set()
        loop.wake.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    alerts = AlertLoop(hub, security.alerts, loop.status) if security.alerts is not None else None
    loop.start()
    if alerts is not None:
        alerts.start()
    try:
        server.run(sockets=[listening] if listening is not None else None)
    finally:
        if alerts is not None:
            alerts.shutdown()
        stopped = loop.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        hub.close()
    if not stopped:
        log.error("the hub loop did not stop within 30 s; exiting anyway (its step is crash-safe)")
        return 1
    return 0 if server.started else 1


class PortBusy(Exception):
    """The address cannot be listened on; str() is the one line the operator reads."""


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) and listening, or PortBusy saying why not. Bound before the hub
    announces its URL: a second `serve` on a taken port fails with one line instead of printing the page
    address and a uvicorn error afterwards (issue 12)."""
    # The family as uvicorn chooses it (`Config.bind_socket`): IPv6 for an address with a colon, else IPv4, so
    # `localhost` is 127.0.0.1 as before.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, family, socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise PortBusy(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a port in TIME_WAIT after a restart is free; one another process listens on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortBusy(
                f"port {port} on {host} is in use by another program (another serve?); stop it or give --port"
            ) from None
        raise PortBusy(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve_command(
    spool: Path,
    sor: Path,
    edi: Path | None,
    db: str | None,
    host: str,
    port: int,
    echo: Callable[..., None],
    *,
    max_body: int | None = None,
    config: Path | None = None,
    allowed_hosts: list[str] | None = None,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    broker: str | None = None,
) -> int:
    """The CLI's `serve`: 2 for an unusable register, database URL, settings file or TLS files, 1 if the hub
    or server failed."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from medcom_bridge.hub.clock import SystemClock
    from medcom_bridge.hub.wiring import HubBusy, build_hub
    from medcom_bridge.shell.register import RegisterLoadError
    from medcom_bridge.web.settings import SettingsError, load

    scrubbed_logging(logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (certfile is None) != (keyfile is None):
        echo(
            "--certfile and --keyfile go together (the server's certificate chain and its private key)",
            err=True,
        )
        return 2
    for tls_file in (certfile, keyfile):
        if tls_file is not None and not tls_file.is_file():
            echo(f"{tls_file}: no such file", err=True)
            return 2
    try:
        security = load(config, bind_host=host, extra_hosts=allowed_hosts or (), tls=certfile is not None)
    except SettingsError as exc:
        echo(f"--config: {exc}", err=True)
        return 2
    try:
        listening = listen(host, port)
    except PortBusy as exc:
        echo(str(exc), err=True)
        return 2
    try:
        hub = build_hub(spool, sor, edi, db, SystemClock(), exclusive=True, broker=broker)
    except (HubBusy, RegisterLoadError, ArgumentError, SQLAlchemyError, OSError) as exc:
        listening.close()
        return _cannot_build(exc, spool, echo)
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    echo(
        f"medcom-bridge hub: spool {spool}, pages {scheme}://{shown}:{port}/ui, API {scheme}://{shown}:{port}/docs"
    )
    if host not in ("127.0.0.1", "localhost", "::1") and certfile is None:
        echo(
            f"warning: listening on {host} without TLS; give --certfile/--keyfile on a shared network",
            err=True,
        )
    return serve(
        hub,
        host=host,
        port=port,
        max_body=max_body or MAX_BODY,
        security=security,
        certfile=certfile,
        keyfile=keyfile,
        broker=broker,
        listening=listening,
    )


def _cannot_build(exc: Exception, spool: Path, echo: Callable[..., None]) -> int:
    """One line and the exit code for a hub that cannot be built: 2 for what the operator gave, 1 for a
    database that fails."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from medcom_bridge.hub.wiring import HubBusy
    from medcom_bridge.shell.register import RegisterLoadError

    if isinstance(exc, HubBusy):
        echo(f"hub: {exc}", err=True)
    elif isinstance(exc, RegisterLoadError):
        echo(f"cannot load the register: {exc}", err=True)
    elif isinstance(exc, ArgumentError):
        echo(f"--db: not a database URL: {exc}", err=True)
    elif isinstance(exc, SQLAlchemyError):
        echo(f"cannot open the hub database: {type(exc).__name__}: {exc}", err=True)
        return 1
    else:
        assert isinstance(exc, OSError)
        echo(f"{spool}: cannot use the spool folder: {exc.strerror or exc}", err=True)
    return 2

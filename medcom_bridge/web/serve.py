"""`medcom-bridge serve`: the hub loop in a background thread and the API + pages under uvicorn.

The loop repeats `Hub.run_once()` (take spool files, fire due timers, convert, deliver) under the lock that
HTTP intake shares, then sleeps until the next tick or until an HTTP intake wakes it. SIGTERM and SIGINT stop
uvicorn gracefully (it finishes open requests), then the loop finishes the step it is in and the process exits
0. A kill at any other moment is safe too: every hub step is one transaction (docs/hub.md, "Crash safety").
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import uvicorn

from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.web.app import LoopStatus, create_app
from medcom_bridge.web.intake import MAX_BODY

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
"""How often the loop looks at the spool and the timers; timers have minute granularity, files want speed."""


class HubLoop:
    def __init__(
        self, hub: Hub, *, tick: float = TICK_SECONDS, round_: Callable[[], Summary] | None = None
    ) -> None:
        self.hub = hub
        self.round = round_ or hub.run_once  # with --broker: spool + timers here, the rest by workers
        self.tick = tick
        self.lock = threading.Lock()
        self.status = LoopStatus()
        self.stop = threading.Event()
        self.wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-loop", daemon=True)

    def start(self) -> None:
        self.status.running = True
        self._thread.start()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Ask the loop to stop after its current step; True when it did within `timeout` seconds."""
        self.stop.set()
        self.wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def run_once(self) -> None:
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


def serve(
    hub: Hub,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tick: float = TICK_SECONDS,
    max_body: int = MAX_BODY,
    broker: str | None = None,
) -> int:
    """Run the hub and its HTTP server until SIGTERM/SIGINT; returns the exit code."""
    from medcom_bridge.hub.worker import BrokerIntake

    loop = HubLoop(hub, tick=tick, round_=BrokerIntake(hub, broker).run_once if broker else None)
    app = create_app(hub, lock=loop.lock, loop=loop.status, wake=loop.wake, max_body=max_body)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="off"))

    def stop(signum: int, _frame: FrameType | None) -> None:
        # uvicorn re-raises the signal that stopped it once it is done; this handler makes that a clean exit.
        log.info("signal %d: stopping the hub loop", signum)
        server.should_exit = True
        loop.stop.set()
        loop.wake.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    loop.start()
    try:
        server.run()
    finally:
        stopped = loop.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        hub.close()
    if not stopped:
        log.error("the hub loop did not stop within 30 s; exiting anyway (its step is crash-safe)")
        return 1
    return 0 if server.started else 1


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
    broker: str | None = None,
) -> int:
    """The CLI's `serve`: 2 for an unusable register or database URL, 1 if the hub or server failed."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from medcom_bridge.hub.clock import SystemClock
    from medcom_bridge.hub.wiring import HubBusy, build_hub
    from medcom_bridge.shell.register import RegisterLoadError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        hub = build_hub(spool, sor, edi, db, SystemClock(), exclusive=True, broker=broker)
    except HubBusy as exc:
        echo(f"hub: {exc}", err=True)
        return 2
    except RegisterLoadError as exc:
        echo(f"cannot load the register: {exc}", err=True)
        return 2
    except ArgumentError as exc:
        echo(f"--db: not a database URL: {exc}", err=True)
        return 2
    except SQLAlchemyError as exc:
        echo(f"cannot open the hub database: {type(exc).__name__}: {exc}", err=True)
        return 1
    except OSError as exc:
        echo(f"{spool}: cannot use the spool folder: {exc.strerror or exc}", err=True)
        return 2
    echo(f"medcom-bridge hub: spool {spool}, pages http://{host}:{port}/ui, API http://{host}:{port}/docs")
    return serve(hub, host=host, port=port, max_body=max_body or MAX_BODY, broker=broker)

"""`medcom-bridge worker`: the hub's steps driven by the broker (issue 10).

A worker consumes hints (work.py) from the step queues, a batch at a time, and runs the step's own work list
through the runner (`Hub.take_all`, `convert_due`, `deliver_pending`): every row is claimed with FOR UPDATE
SKIP LOCKED and a state check, so a hint repeated, late, or for work another worker did already changes
nothing, and the letters of one flow stay in order because each step locks the flow row. Messages are acked
only after the transactions of their step committed and the new work they made was relayed.

One worker leads (a PostgreSQL session advisory lock; another takes over when its connection goes): it
watches the spool and publishes a hint per waiting file, fires due timers (each fires once anyway), and every
`sweep` seconds runs the convert and deliver work lists itself, the database-polling safety net behind lost
hints. While the broker is down every worker polls the database (the leader the whole round, intake included),
reconnecting with backoff; the outbox keeps the work meanwhile, so nothing is lost.

SIGTERM: the worker finishes the batch it holds (or, when the database is away, hands it back), closes the
connection and returns 0.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from medcom_bridge.hub.broker import BROKER_ERRORS, PREFIX, Broker, Delivery, dead_queue, redact
from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.events import Step
from medcom_bridge.hub.outbox import relay
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.hub.spool import SpoolFile
from medcom_bridge.hub.store import Note, StoreUnavailable, Tx, UnknownFlow
from medcom_bridge.hub.work import BadHint, Hint, WorkStep, hints

log = logging.getLogger(__name__)

#: What may keep a stopping worker from finishing its batch: the batch then goes back with the connection.
STOP_ERRORS: tuple[type[Exception], ...] = (StoreUnavailable, *BROKER_ERRORS)
PREFETCH = 4
"""Messages a worker holds at once: 4 hints of up to 16 keys, a batch of the runner's size (64)."""
POLL = 0.2
SWEEP = 10.0
"""Seconds between the leader's database-polling sweeps (safety net) while the broker works."""
REPUBLISH = 60.0
"""A spool file still waiting this long after its hint is hinted again (its first hint may be lost)."""
LEADER_CHECK = 2.0
LEAD_EVERY = 0.5
"""Seconds between the leader's looks at the spool and the timers."""
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 15.0


class Leadership:
    """Whether this process is the one that watches the spool and fires timers: a PostgreSQL session advisory
    lock held on a connection of its own (released when that connection or the process dies). SQLite has one
    process anyway."""

    def __init__(self, hub: Hub, name: str) -> None:
        self.engine = hub.store.engine
        self.name = name
        self._conn: Connection | None = None
        self._checked = 0.0
        self._held = self.engine.dialect.name != "postgresql"

    def held(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        now = time.monotonic()
        if now - self._checked < LEADER_CHECK:
            return self._held
        self._checked = now
        try:
            if self._conn is None:
                conn = self.engine.connect()
                schema = conn.execute(text("SELECT current_schema()")).scalar()
                digest = hashlib.sha256(f"medcom-bridge:leader:{schema}:{self.name}".encode()).digest()
                key = int.from_bytes(digest[:8], "big", signed=True)
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
                conn.commit()
                if got:
                    self._conn = conn
                    log.info("this worker now leads (spool watch, timers, sweeps)")
                else:
                    conn.close()
            else:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
        except DBAPIError:
            self.release()
        self._held = self._conn is not None
        return self._held

    def release(self) -> None:
        if self._conn is not None:
            with suppress(DBAPIError):
                self._conn.close()
            self._conn = None
        self._held = False


class Worker:
    def __init__(
        self,
        hub: Hub,
        url: str,
        *,
        prefix: str = PREFIX,
        prefetch: int = PREFETCH,
        sweep: float = SWEEP,
        republish: float = REPUBLISH,
    ) -> None:
        self.hub = hub
        self.url = url
        self.prefix = prefix
        self.prefetch = prefetch
        self.sweep = sweep
        self.republish = republish
        self.stop = threading.Event()
        self.summary = Summary()
        self.dead_lettered = 0
        self._broker: Broker | None = None
        self._pending: list[Delivery] = []
        self._hinted: dict[str, float] = {}
        self._last_sweep = 0.0
        self._last_lead = 0.0
        # Named by the virtual host and prefix, not the host name: machines may reach one broker by
        # different names, and must still agree on one leader.
        self._leader = Leadership(hub, f"{urlsplit(url).path}/{prefix}")

    # -- the loop ----------------------------------------------------------------------------------------------
    def run(self) -> int:
        backoff = BACKOFF_FIRST
        try:
            while not self.stop.is_set():
                if self._broker is None and not self._connect():
                    self._poll_database()
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                backoff = BACKOFF_FIRST
                try:
                    self._round()
                except BROKER_ERRORS as exc:
                    log.warning("broker connection lost (%s); reconnecting", type(exc).__name__)
                    self._disconnect()
                except StoreUnavailable as exc:
                    log.error("store unavailable (%s); holding %d messages", exc, len(self._pending))
                    self.stop.wait(BACKOFF_MAX)
                except Exception:  # e.g. the spool's file system away for a moment: report, pause, go on
                    log.exception("worker round failed; trying again")
                    self.stop.wait(BACKOFF_FIRST)
            if self._broker is not None and self._pending:
                try:
                    self._handle()  # finish what we hold; what we cannot finish goes back with the connection
                except STOP_ERRORS:
                    log.warning("stopping with %d messages handed back", len(self._pending))
        finally:
            self._disconnect()
            self._leader.release()
        return 0

    def _connect(self) -> bool:
        try:
            broker = Broker(self.url, prefix=self.prefix)
            broker.consume(self.prefetch, self._received)
        except BROKER_ERRORS as exc:
            log.warning(
                "broker %s unreachable (%s); polling the database", redact(self.url), type(exc).__name__
            )
            return False
        log.info("connected to broker %s", redact(self.url))
        self._broker = broker
        self._hinted.clear()
        return True

    def _received(self, delivery: Delivery) -> None:
        self._pending.append(delivery)  # not a bound `append`: `_handle` replaces the list

    def _disconnect(self) -> None:
        if self._broker is not None:
            self._broker.close()
            self._broker = None
        self._pending.clear()  # unacked: the broker hands them to another consumer

    def _round(self) -> None:
        assert self._broker is not None
        self._broker.pump(0 if self._pending else POLL)
        if self._pending:
            self._handle()
        if self._leader.held():
            self._lead()
        self._relay()

    def _relay(self) -> None:
        assert self._broker is not None
        relay(self.hub.store, self._broker.publish)

    # -- a batch of messages -----------------------------------------------------------------------------------
    def _handle(self) -> None:
        broker = self._broker
        assert broker is not None
        batch, self._pending = self._pending, []
        hints: list[tuple[Delivery, Hint]] = []
        for delivery in batch:
            try:
                hint = Hint.decode(delivery.body)
            except BadHint as exc:
                if delivery.queue == dead_queue(self.prefix):
                    log.error("dead-lettered message that is not a hub hint (%d bytes)", len(delivery.body))
                    broker.ack(delivery.tag)
                else:
                    log.error("rejecting a message on %s: %s", delivery.queue, exc)
                    broker.reject(delivery.tag)
                continue
            hints.append((delivery, hint))
        dead = [(d, h) for d, h in hints if d.queue == dead_queue(self.prefix)]
        live = [(d, h) for d, h in hints if d.queue != dead_queue(self.prefix)]
        try:
            for delivery, hint in dead:
                self._dead_letter(hint, delivery)
            intake = [k for _, h in live if h.step is WorkStep.INTAKE for k in h.keys]
            self._work({h.step for _, h in live}, intake)
            self._relay()  # the next step's hints go out before this step's messages are acked
        except StoreUnavailable:
            self._pending = batch + self._pending  # held, tried again when the database is back
            raise
        except BROKER_ERRORS:
            raise
        except Exception:
            log.exception("a batch of %d hints failed; handing them back", len(live))
            for delivery, _ in live:
                broker.hand_back(delivery.tag)
            for delivery, _ in dead:
                broker.ack(delivery.tag)
            return
        for delivery, _ in hints:
            broker.ack(delivery.tag)

    def _work(self, steps: set[WorkStep], intake: list[str]) -> None:
        """Run the hinted steps' work lists in the pipeline's order: intake, convert, deliver."""
        taken = self.summary.taken
        if WorkStep.INTAKE in steps:
            files = [f for key in dict.fromkeys(intake) if (f := self._waiting(key)) is not None]
            self.hub.take_all(files, self.summary)
        # Work this batch's intake made is done here at once (its hints then find nothing left to do).
        fresh = self.summary.taken > taken
        if WorkStep.CONVERT in steps or fresh:
            self.hub.convert_due(self.summary)
        if steps & {WorkStep.CONVERT, WorkStep.DELIVER} or fresh:
            self.hub.deliver_pending(self.summary)

    def _waiting(self, key: str) -> SpoolFile | None:
        """The spool file an intake hint names, if it is still waiting (another worker may have taken it)."""
        ean, _, name = key.partition("/")
        if not ean.isdigit() or not name or "/" in name or name.startswith("."):
            log.error("intake hint with a malformed key ignored")
            return None
        path = self.hub.spool.root / ean / "out" / name
        return SpoolFile(ean, path) if path.is_symlink() or path.exists() else None

    def _dead_letter(self, hint: Hint, delivery: Delivery) -> None:
        """A message the workers gave up on: a visible failure (log + trace event on its flow), not a loop.
        The work itself stays in the database, where the leader's sweep still finds it."""
        self.dead_lettered += 1
        log.error(
            "dead-lettered hint: step %s, keys %s (%d deliveries)", hint.step, hint.keys, delivery.count
        )
        if hint.step is WorkStep.INTAKE:
            return
        now = self.hub.clock.now()
        reason = f"broker: the {hint.step} message for this flow was dead-lettered after repeated failures"

        def record(tx: Tx) -> None:
            for flow_id in hint.keys:
                try:
                    tx.flow_row(flow_id)
                except UnknownFlow:
                    continue
                tx.record(flow_id, now, Step.ALERT, Note(reason=reason, cause=RejectCause.HUB_ERROR.value))

        self.hub.store.run(record)

    # -- the leader's duties -------------------------------------------------------------------------------------
    def _lead(self) -> None:
        broker = self._broker
        assert broker is not None
        now = time.monotonic()
        if now - self._last_lead < LEAD_EVERY:
            return  # listing a full spool after every batch would cost the leader its share of the work
        self._last_lead = now
        waiting = {f"{f.ean}/{f.name}" for f in self.hub.spool.waiting()}
        self._hinted = {k: t for k, t in self._hinted.items() if k in waiting}
        due = [k for k in sorted(waiting) if now - self._hinted.get(k, -self.republish) >= self.republish]
        for hint in hints(WorkStep.INTAKE, due):
            broker.publish(hint)
            self._hinted.update(dict.fromkeys(hint.keys, now))
        self.hub.fire_timers(self.summary)
        if now - self._last_sweep >= self.sweep:
            self._last_sweep = now
            self.hub.convert_due(self.summary)
            self.hub.deliver_pending(self.summary)

    def _poll_database(self) -> None:
        """No broker: make progress from the database (the leader also takes the spool and fires timers)."""
        try:
            if self._leader.held():
                self.hub.run_once()
            else:
                self.hub.convert_due(self.summary)
                self.hub.deliver_pending(self.summary)
        except StoreUnavailable as exc:
            log.error("store unavailable: %s", exc)


class BrokerIntake:
    """What `process --broker` and `serve --broker` do each round: take the waiting files and fire due timers
    here (their effects commit with their outbox rows), then publish that work for the workers. A broker
    that cannot be reached is no failure of the round: the work waits in the outbox (`relayed` is None)."""

    def __init__(self, hub: Hub, url: str, *, prefix: str = PREFIX) -> None:
        self.hub = hub
        self.url = url
        self.prefix = prefix
        self.relayed: int | None = 0
        self._broker: Broker | None = None

    def run_once(self) -> Summary:
        summary = Summary()
        try:
            self.hub.fire_timers(summary)
            self.hub.take_all(self.hub.spool.waiting(), summary)
        except StoreUnavailable as exc:
            log.error("store unavailable: %s", exc)
            summary.errors.append(f"store unavailable: {exc}")
            summary.store_unavailable = True
            return summary
        self.relayed = self._relay()
        return summary

    def _relay(self) -> int | None:
        try:
            if self._broker is None:
                self._broker = Broker(self.url, prefix=self.prefix)
            return relay(self.hub.store, self._broker.publish)
        except BROKER_ERRORS as exc:
            log.warning(
                "broker %s unreachable (%s); the work stays in the outbox",
                redact(self.url),
                type(exc).__name__,
            )
            self.close()
            return None

    def close(self) -> None:
        if self._broker is not None:
            self._broker.close()
            self._broker = None


@contextmanager
def stopping_on_signals(worker: Worker) -> Iterator[None]:
    """SIGTERM / SIGINT ask the worker to stop after the batch it holds."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        worker.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

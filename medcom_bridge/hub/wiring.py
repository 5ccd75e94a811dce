"""Assemble a working hub: spool folders, store, clock, and the real parts behind the seams.

`build_hub` is what `medcom-bridge process` and `serve` call; tests call it too, with a `ManualClock`.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from medcom_bridge.hub.adapters import EnvelopeIdentifier, HubConverter, ReceiptAnswers, RegisterRouter
from medcom_bridge.hub.blobs import BlobStore
from medcom_bridge.hub.clock import Clock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store, default_url
from medcom_bridge.shell.register import load_register

DB_FILE = "medcom-bridge.sqlite"
#: Payload bytes (content-addressed, `hub.blobs`): inside the spool, so every process that shares the spool
#: (on one machine or several) shares them too. The spool never lists it as a mailbox.
BLOB_FOLDER = ".payloads"


def default_db_url(spool: Path) -> str:
    """architecture.md §3.1: `--db` defaults to an SQLite file inside the spool directory (`DB_FILE`)."""
    return default_url(spool)


class HubBusy(RuntimeError):
    """Another process already runs the hub on this SQLite database."""


class RunnerLock:
    """One hub process per SQLite database: SQLite has a single writer, and the hub's work lists are safe for
    several processes only on PostgreSQL (row locks with SKIP LOCKED). Held until `release()` or exit."""

    def __init__(self, db_url: str) -> None:
        self.fd: int | None = None
        url = make_url(db_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return
        path = Path(url.database).resolve()
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise HubBusy(
                f"another medcom-bridge process runs the hub on {path}; one process per SQLite database "
                "(use PostgreSQL, --db postgresql+psycopg://..., for several)"
            ) from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def build_hub(
    spool: Path,
    sor: Path,
    edi: Path | None,
    db_url: str | None,
    clock: Clock,
    *,
    referral_hubs: Iterable[str] = (),
    schema: str | None = None,
    exclusive: bool = False,
    broker: str | None = None,
) -> Hub:
    """A hub over `spool` with the register from `sor` (+ `edi`), its store at `db_url` (migrated).

    Raises `shell.register.RegisterLoadError` for an unreadable register and SQLAlchemy errors for a store
    that cannot be opened. `referral_hubs` are the location numbers of the national referral hub (DNHF),
    whose attachments are never held for pairing. `schema` puts the tables in a PostgreSQL schema (tests).
    `exclusive` (the `process` and `serve` commands) refuses with `HubBusy` when another process already
    runs the hub on the same SQLite database; `Hub.close()` lets go. With a `broker` URL (`--broker`)
    every transaction writes the work it creates for a later step to the outbox (`hub.outbox`).
    """
    register = load_register(sor, edi)
    spool.mkdir(parents=True, exist_ok=True)
    url = db_url or default_db_url(spool)
    lock = RunnerLock(url) if exclusive else None
    try:
        blobs = BlobStore(spool / BLOB_FOLDER, deferred=True)
        store = Store.open(url, schema=schema, blobs=blobs, outbox=broker is not None)
        store.broker = broker
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    hub = Hub(
        Spool(spool),
        store,
        clock,
        EnvelopeIdentifier(),
        RegisterRouter(register, referral_hubs),
        converter=HubConverter(register),
        answers=ReceiptAnswers(),
    )
    if lock is not None:
        hub.on_close(lock.release)
    return hub

"""Assemble a working hub: spool folders, store, clock, and the real parts behind the seams.

`build_hub` is what `medcom-bridge process` and `serve` call; tests call it too, with a `ManualClock`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from medcom_bridge.hub.adapters import EnvelopeIdentifier, HubConverter, ReceiptAnswers, RegisterRouter
from medcom_bridge.hub.clock import Clock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store, default_url
from medcom_bridge.shell.register import load_register

DB_FILE = "medcom-bridge.sqlite"


def default_db_url(spool: Path) -> str:
    """architecture.md §3.1: `--db` defaults to an SQLite file inside the spool directory (`DB_FILE`)."""
    return default_url(spool)


def build_hub(
    spool: Path,
    sor: Path,
    edi: Path | None,
    db_url: str | None,
    clock: Clock,
    *,
    referral_hubs: Iterable[str] = (),
    schema: str | None = None,
) -> Hub:
    """A hub over `spool` with the register from `sor` (+ `edi`), its store at `db_url` (migrated).

    Raises `shell.register.RegisterLoadError` for an unreadable register and SQLAlchemy errors for a store
    that cannot be opened. `referral_hubs` are the location numbers of the national referral hub (DNHF),
    whose attachments are never held for pairing. `schema` puts the tables in a PostgreSQL schema (tests).
    """
    register = load_register(sor, edi)
    spool.mkdir(parents=True, exist_ok=True)
    store = Store.open(db_url or default_db_url(spool), schema=schema)
    return Hub(
        Spool(spool),
        store,
        clock,
        EnvelopeIdentifier(),
        RegisterRouter(register, referral_hubs),
        converter=HubConverter(register),
        answers=ReceiptAnswers(),
    )

"""Retention (issue 11): payloads with patient data are kept for a policy's time, then removed for good.

What goes: the bytes of a payload (its blob file in the blob store, or `hub_payloads.data`) once the payload
is older than the policy (default 13 months) and no message that needs it is younger, undelivered, or in a
flow that still waits for something. Quarantined originals in the spool go after the same time.
What stays: flows, messages (ids, parties, digest and size), events, statistics and the duplicate keys
(`hub_keys`), so a letter sent again is still recognised as a duplicate, whatever its age, and a flow's trace
still tells its story. A pruned payload row keeps `pruned_at`; asking for its bytes gives `LookupError`.

The policy may not be shorter than `MINIMUM` (3 months): within MedCom's 3-month window a redelivered letter
gets its first answer repeated, which needs that answer's payload.

On SQLite the update runs with `secure_delete` and the write-ahead log is truncated afterwards, so the bytes
are not left in free pages of the database file; on PostgreSQL the table is vacuumed (the space is freed
for reuse; `VACUUM FULL` in a maintenance window rewrites it).
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, and_, exists, or_, select, update

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.queries import WAITING_STATES
from medcom_bridge.hub.spool import QUARANTINE
from medcom_bridge.hub.store import Store

BATCH = 500
ORPHAN_GRACE = timedelta(days=1)
"""A blob file no row names (a writer's transaction rolled back) is removed once it is this old."""
_AGE = re.compile(r"^\s*(\d{1,4})\s*(y|m|w|d)\s*$", re.IGNORECASE)


class BadAge(ValueError):
    """A retention age that cannot be used; the message says what a correct value looks like."""


@dataclass(frozen=True, slots=True, order=True)
class Age:
    """A retention age in calendar months plus days (`13m` is 13 months, `400d` is 400 days)."""

    months: int = 0
    days: int = 0

    def before(self, now: datetime) -> datetime:
        """The moment `self` before `now` (month ends clamp: 31 March - 1 month = 28/29 February)."""
        year, month = divmod(now.year * 12 + now.month - 1 - self.months, 12)
        day = min(now.day, calendar.monthrange(year, month + 1)[1])
        return now.replace(year=year, month=month + 1, day=day) - timedelta(days=self.days)

    def __str__(self) -> str:
        parts = ([f"{self.months}m"] if self.months else []) + ([f"{self.days}d"] if self.days else [])
        return "".join(parts) or "0d"


DEFAULT = Age(months=13)
MINIMUM = Age(months=3)


def parse_age(text: str) -> Age:
    """`13m` (months), `1y`, `60w`, `400d`: an age no shorter than `MINIMUM`. Raises BadAge."""
    match = _AGE.match(text)
    if match is None:
        raise BadAge(f"{text!r} is not a retention age; use a number and a unit: 13m (months), 1y, 400d, 60w")
    value, unit = int(match.group(1)), match.group(2).lower()
    age = {
        "y": Age(months=12 * value),
        "m": Age(months=value),
        "w": Age(days=7 * value),
        "d": Age(days=value),
    }[unit]
    reference = datetime(
        2001, 1, 1
    )  # compare by what each age means on one date (months have no fixed length)
    if age.before(reference) > MINIMUM.before(reference):
        raise BadAge(
            f"{text!r} is shorter than the 3-month window in which a repeated letter gets its first answer "
            "again; keep payloads at least 3m"
        )
    return age


@dataclass(frozen=True, slots=True)
class Pruned:
    cutoff: datetime
    payloads: int = 0
    bytes: int = 0
    blobs: int = 0
    orphan_blobs: int = 0
    quarantined: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "payloads": self.payloads,
            "bytes": self.bytes,
            "blobs": self.blobs,
            "orphan_blobs": self.orphan_blobs,
            "quarantined": self.quarantined,
        }


def prune(
    store: Store, now: datetime, age: Age = DEFAULT, *, spool_root: Path | None = None, batch: int = BATCH
) -> Pruned:
    """Remove the bytes of every payload past `age` at `now` that nothing needs any more (see module doc)."""
    cutoff = age.before(now)
    payloads = size = blobs = 0
    sqlite = store.engine.dialect.name == "sqlite"
    while True:
        with store.engine.connect() as conn:
            if (
                sqlite
            ):  # freed pages are zeroed, not left behind (outside a transaction: a connection setting)
                _sqlite_pragma(conn, "PRAGMA secure_delete = ON")
            with conn.begin():
                due = _due(conn, cutoff, batch)
                if due:
                    conn.execute(
                        update(t.payloads)
                        .where(t.payloads.c.sha256.in_([digest for digest, _ in due]))
                        .values(data=None, pruned_at=now)
                    )
        if not due:
            break
        payloads += len(due)
        size += sum(n for _, n in due)
        if store.blobs is not None:  # after the commit: a crash in between leaves a file the sweep removes
            blobs += sum(store.blobs.delete(digest) for digest, _ in due)
    orphans = _sweep_blobs(store, now) if store.blobs is not None else 0
    _compact(store)
    quarantined = _prune_quarantine(spool_root / QUARANTINE, cutoff) if spool_root is not None else 0
    return Pruned(cutoff, payloads, size, blobs, orphans, quarantined)


def _due(conn: Connection, cutoff: datetime, limit: int) -> list[tuple[str, int]]:
    p, m, f = t.payloads.c, t.messages.c, t.flows.c
    needed = exists().where(
        m.payload_sha256 == p.sha256,
        or_(
            m.created_at >= cutoff,
            and_(m.direction == "out", m.delivered_at.is_(None)),
            m.flow_id.in_(select(f.id).where(f.state.in_([s.value for s in WAITING_STATES]))),
        ),
    )
    rows = conn.execute(
        select(p.sha256, p.size)
        .where(p.pruned_at.is_(None), p.created_at < cutoff, ~needed)
        .order_by(p.created_at)
        .limit(limit)
    )
    return [(digest, int(n)) for digest, n in rows]


def _blob_files(root: Path) -> Iterator[Path]:
    """Every installed blob file (two fan-out levels), never the temporary folder."""
    for first in _folders(root):
        if first.name == "tmp":
            continue
        for second in _folders(first):
            with os.scandir(second) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        yield Path(entry.path)


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    with os.scandir(root) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and len(e.name) == 2)


def _sweep_blobs(store: Store, now: datetime) -> int:
    """Remove blob files no live row names (pruned rows, rolled-back writes) once past the grace time."""
    assert store.blobs is not None
    store.blobs.sweep_tmp(timedelta(hours=1), now)
    removed = 0
    candidates: list[Path] = []
    old = (now - ORPHAN_GRACE).timestamp()

    def settle() -> int:
        digests = [path.name for path in candidates]
        with store.engine.connect() as conn:
            live = {
                d
                for (d,) in conn.execute(
                    select(t.payloads.c.sha256).where(
                        t.payloads.c.sha256.in_(digests), t.payloads.c.pruned_at.is_(None)
                    )
                )
            }
        gone = 0
        for path in candidates:
            if path.name not in live and store.blobs is not None and store.blobs.delete(path.name):
                gone += 1
        candidates.clear()
        return gone

    for path in _blob_files(store.blobs.root):
        try:
            if path.lstat().st_mtime >= old:
                continue
        except FileNotFoundError:
            continue
        candidates.append(path)
        if len(candidates) >= BATCH:
            removed += settle()
    if candidates:
        removed += settle()
    return removed


def _compact(store: Store) -> None:
    """Make the removed bytes unreadable in the database files too, not only unreferenced."""
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            _sqlite_pragma(conn, "PRAGMA wal_checkpoint(TRUNCATE)")
        elif store.engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM {t.payloads.name}")


def _sqlite_pragma(conn: Connection, statement: str) -> None:
    """Run a pragma on the driver connection itself, outside any transaction (the store's SQLite connections
    are in autocommit mode and say BEGIN themselves)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(statement)
        cursor.fetchall()
    finally:
        cursor.close()


def _prune_quarantine(folder: Path, cutoff: datetime) -> int:
    """Quarantined originals (unreadable input, perhaps with patient data) and their reasons, past `cutoff`."""
    if not folder.is_dir():
        return 0
    removed = 0
    limit = cutoff.timestamp()
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or entry.name.endswith(".reason.txt"):
                continue
            if entry.stat(follow_symlinks=False).st_mtime >= limit:
                continue
            for path in (Path(entry.path), Path(entry.path + ".reason.txt")):
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
            removed += 1
    return removed

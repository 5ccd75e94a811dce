"""The spool: VANS mailboxes as folders (architecture.md §3.2, a fixed contract).

```
SPOOL/<EAN>/out/      files the party with location number EAN sends: one VANSEnvelope XML per file
SPOOL/<EAN>/in/       files the hub delivers to that party: one VANSEnvelope XML per file
SPOOL/quarantine/     input the hub cannot read, each next to a .reason.txt
```

Crash safety (users.md lesson 15):
* only complete files are taken: `name.xml`, never `name.tmp` (writers rename when done);
* every write here is tmp + fsync + rename + fsync of the folder, so a reader never sees half a file;
* a taken file leaves `out/` only through `taken()`, which the hub calls after the file's effects are
  committed. If the hub dies in between, the file is read again and recognised by `intake_key` (content hash +
  envelope id, not the file name), so it is neither lost nor processed twice.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

QUARANTINE = "quarantine"
_EAN = re.compile(r"^[0-9]{1,18}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.xml$")


@dataclass(frozen=True, slots=True)
class SpoolFile:
    """A complete file waiting in a party's `out/` folder."""

    ean: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def intake_key(data: bytes, envelope_id: str | None) -> str:
    """The idempotency key of a taken file: content hash plus envelope id (never the file name)."""
    return f"{hashlib.sha256(data).hexdigest()}:{envelope_id or '-'}"


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._unsynced: set[Path] | None = None

    @contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Group commit for folders: inside this block the folder fsync after each rename or unlink is postponed
        and done once per folder on leaving it. Every file's data is still fsynced before its rename, so the
        caller only has to leave the block before it commits what depends on the folder entries (a delivery
        is committed after the block; a removal from out/ happens after the commit anyway)."""
        if self._unsynced is not None:  # nested: the outer block syncs
            yield
            return
        self._unsynced = set()
        try:
            yield
        finally:
            folders, self._unsynced = self._unsynced, None
            for folder in sorted(folders):
                _fsync_dir(folder)

    def _sync_dir(self, folder: Path) -> None:
        if self._unsynced is None:
            _fsync_dir(folder)
        else:
            self._unsynced.add(folder)

    def parties(self) -> list[str]:
        """Location numbers that have a mailbox folder."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _EAN.match(p.name))

    def ensure_party(self, ean: str) -> Path:
        _check_ean(ean)
        for sub in ("out", "in"):
            (self.root / ean / sub).mkdir(parents=True, exist_ok=True)
        return self.root / ean

    def waiting(self) -> list[SpoolFile]:
        """Every complete file in every `out/`, oldest first (modification time, then name)."""
        found: list[tuple[int, str, SpoolFile]] = []
        for ean in self.parties():
            out = self.root / ean / "out"
            if not out.is_dir():
                continue
            for entry in os.scandir(out):
                if entry.is_file() and entry.name.endswith(".xml") and not entry.name.startswith("."):
                    found.append((entry.stat().st_mtime_ns, entry.name, SpoolFile(ean, Path(entry.path))))
        return [f for _, _, f in sorted(found, key=lambda x: (x[0], x[1]))]

    def read(self, file: SpoolFile) -> bytes:
        return file.path.read_bytes()

    def taken(self, file: SpoolFile) -> None:
        """Remove a file from `out/` once its effects are committed (its bytes live on in the store)."""
        try:
            file.path.unlink()
        except FileNotFoundError:  # already removed by an earlier run that died before noting it
            return
        self._sync_dir(file.path.parent)

    def deliver(self, ean: str, name: str, data: bytes) -> Path:
        """Put `data` into the party's `in/` as `name` (atomic). Delivering the same bytes again is a no-op;
        different bytes under an existing name are refused rather than overwritten."""
        _check_name(name)
        folder = self.ensure_party(ean) / "in"
        return _write_once(folder / name, data, self._sync_dir)

    def quarantine(
        self, name: str, data: bytes, reason: str, *, ean: str | None = None, now: datetime | None = None
    ) -> Path:
        """Keep unreadable input in `quarantine/` next to `<file>.reason.txt`; returns the quarantined path."""
        folder = self.root / QUARANTINE
        folder.mkdir(parents=True, exist_ok=True)
        base = _safe_base(name)
        stem = f"{ean}-{base}" if ean else base
        target = folder / stem
        if target.exists() and target.read_bytes() != data:
            target = folder / f"{hashlib.sha256(data).hexdigest()[:12]}-{stem}"
        _write_once(target, data)
        when = f"time: {now.isoformat()}\n" if now else ""
        text = f"file: {name}\nfrom: {ean or 'unknown'}\n{when}reason: {reason}\n"
        reason_path = target.with_name(target.name + ".reason.txt")
        _write_atomic(reason_path, text.encode("utf-8"))
        return target

    def quarantined(self) -> list[tuple[Path, str]]:
        """Quarantined files with their reasons (for the operations page and tests)."""
        folder = self.root / QUARANTINE
        if not folder.is_dir():
            return []
        result = []
        for path in sorted(folder.iterdir()):
            if path.name.endswith(".reason.txt") or path.name.endswith(".tmp"):
                continue
            reason = path.with_name(path.name + ".reason.txt")
            result.append((path, reason.read_text("utf-8") if reason.exists() else ""))
        return result


def _check_ean(ean: str) -> None:
    if not _EAN.match(ean):
        raise ValueError(f"not a location number: {ean!r} (1-18 digits expected)")


def _check_name(name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise ValueError(
            f"unsafe spool file name {name!r}: letters, digits, '.', '_', '-' and '.xml' expected"
        )


def _safe_base(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[:200] or "unnamed"
    return base if base.endswith(".xml") else base + ".xml"


def _write_once(path: Path, data: bytes, sync_dir: Callable[[Path], None] | None = None) -> Path:
    if path.exists():
        if path.read_bytes() == data:
            return path
        raise FileExistsError(f"{path} exists with different content; refusing to overwrite")
    _write_atomic(path, data, sync_dir)
    return path


def _write_atomic(path: Path, data: bytes, sync_dir: Callable[[Path], None] | None = None) -> None:
    """tmp + fsync + rename + fsync(dir): readers see the whole file or none of it, even after a crash."""
    tmp = path.with_name(path.stem + ".tmp") if path.suffix == ".xml" else path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    (sync_dir or _fsync_dir)(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

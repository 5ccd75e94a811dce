"""The spool: VANS mailboxes as folders (architecture.md §3.2, a fixed contract).

```
SPOOL/<EAN>/out/      files the party with location number EAN sends: one VANSEnvelope XML per file
SPOOL/<EAN>/in/       files the hub delivers to that party: one VANSEnvelope XML per file
SPOOL/quarantine/     input the hub cannot read, each next to a .reason.txt
```

Crash safety (users.md lesson 15):
* only complete files are taken: `name.xml`, never `name.tmp`, `name.part` or a hidden name (writers rename
  when done); names the hub skips are listed by `skipped()` so that none sits there unnoticed;
* only regular files are taken: a symbolic link (also a dangling one), FIFO, socket or device named like a
  letter is never opened or followed; its directory entry is moved to `quarantine/` as what it is, with a reason
  (a party that can write its `out/` must not make the hub read any other file);
* a file is read in pieces up to a size limit, so a huge file costs no more memory than the limit, and one over
  the limit is quarantined without being read;
* a file another process took between listing and reading is `Gone`, not an error;
* every write here goes through `durable`: a temporary name of its own, fsync, an install that never replaces
  another writer's file, fsync of the folder; so any number of hub processes may deliver at once;
* a taken file leaves `out/` only through `taken()`, which the hub calls after the file's effects are
  committed. If the hub dies in between, the file is read again and recognised by `intake_key` (content hash +
  envelope id, not the file name), so it is neither lost nor processed twice.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from medcom_bridge.hub import durable
from medcom_bridge.privacy import scrub
from medcom_bridge.xmlsafe import DEFAULT_MAX_BYTES

QUARANTINE = "quarantine"
SKIPPED_AFTER = timedelta(hours=1)
"""A skipped name older than this is worth an operator's look (architecture.md §3.2)."""
HEAD_BYTES = 64 * 1024
"""How much of a refused oversized file is kept in `Refused.head`: enough for the envelope header."""
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


class EntryType(StrEnum):
    """What a folder entry is (as the entry itself: a link is never followed)."""

    REGULAR = "regular file"
    FOLDER = "folder"
    SYMLINK = "symbolic link"
    DANGLING_SYMLINK = "dangling symbolic link"
    FIFO = "FIFO"
    SOCKET = "socket"
    CHAR_DEVICE = "character device"
    BLOCK_DEVICE = "block device"
    OTHER = "special file"


class Refusal(StrEnum):
    """Why the spool refused a waiting file; the value starts the quarantine reason."""

    NOT_REGULAR = "spool-not-regular"
    """A link, FIFO, socket or device where a letter should be: moved to quarantine unopened."""
    TOO_LARGE = "spool-too-large"
    """Larger than the spool's `max_bytes`: moved to quarantine without being read."""


class SkipReason(StrEnum):
    """Why a name in `out/` is not taken (see `skipped()`)."""

    TEMPORARY = "temporary"
    """`.tmp` or `.part`: a writer has not finished (or died before renaming)."""
    HIDDEN = "hidden"
    """Starts with a dot."""
    NOT_XML = "not-xml"
    """Does not end in `.xml` (lower case), e.g. `.XML` or no extension."""
    FOLDER = "folder"
    """A folder inside `out/`."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """A waiting file's bytes, read whole within the size limit."""

    file: SpoolFile
    data: bytes


@dataclass(frozen=True, slots=True)
class Gone:
    """The file vanished between listing and reading: another process took it. Skip it silently."""

    file: SpoolFile


@dataclass(frozen=True, slots=True)
class Refused:
    """The file was not read; its directory entry is in quarantine (`quarantined`) next to the reason."""

    file: SpoolFile
    cause: Refusal
    detail: str
    quarantined: Path
    head: bytes = b""
    """For TOO_LARGE: the first `HEAD_BYTES` (the envelope header, so that the sender can be answered)."""

    @property
    def reason(self) -> str:
        return f"{self.cause.value}: {self.detail}"


Reading = Loaded | Gone | Refused


class TooLarge(ValueError):
    """A file grew past the limit while it was being streamed (it was within the limit when opened)."""

    def __init__(self, file: SpoolFile, limit: int) -> None:
        super().__init__(f"{file.name} has more than {limit} bytes")
        self.file = file
        self.limit = limit


class SpoolRefusedError(OSError):
    """`Spool.read` could not give bytes: the file was refused and moved to quarantine."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(errno.EINVAL, refused.reason, str(refused.file.path))
        self.refused = refused


class Opened:
    """A waiting regular file, opened without following links; read it with `chunks()` or `read()`.

    Use as a context manager (or call `close()`): it owns a file descriptor."""

    def __init__(self, file: SpoolFile, fd: int, size: int, limit: int) -> None:
        self.file = file
        self.size = size
        """The size when it was opened (a writer that keeps appending is caught by the limit)."""
        self.limit = limit
        self._fd: int | None = fd

    def _descriptor(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.file.name}: read after close")
        return self._fd

    def chunks(self, chunk: int = durable.CHUNK) -> Iterator[bytes]:
        """The file in pieces; raises TooLarge as soon as more than `limit` bytes were read."""
        fd, total = self._descriptor(), 0
        while piece := os.read(fd, min(chunk, self.limit + 1 - total)):
            total += len(piece)
            if total > self.limit:
                raise TooLarge(self.file, self.limit)
            yield piece

    def read(self) -> bytes:
        """The whole file as one bytes object, allocated once in the common case (size unchanged)."""
        data = durable.read_whole(self._descriptor(), self.limit)
        if data is None:
            raise TooLarge(self.file, self.limit)
        return data

    def head(self, size: int = HEAD_BYTES) -> bytes:
        """The first `size` bytes, wherever reading stands."""
        return os.pread(self._descriptor(), size, 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Opened:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """A name in a party's `out/` that the hub does not take, and how long it has been there."""

    ean: str
    name: str
    path: Path
    why: SkipReason
    what: EntryType
    age: timedelta

    @property
    def shown_name(self) -> str:
        """The name as pages and logs show it: a sender may name a file after a CPR number (masked)."""
        return scrub(self.name)

    def describe(self) -> str:
        """One log line (ids and file names only)."""
        hours = self.age.total_seconds() / 3600
        return f"{self.ean}/out/{self.shown_name}: skipped ({self.why.value}, {self.what.value}) for {hours:.1f} h"


def intake_key(data: bytes, envelope_id: str | None) -> str:
    """The idempotency key of a taken file: content hash plus envelope id (never the file name)."""
    return intake_key_of(hashlib.sha256(data).hexdigest(), envelope_id)


def intake_key_of(sha256: str, envelope_id: str | None) -> str:
    """`intake_key` from a content hash computed elsewhere (e.g. while a body was streamed in)."""
    return f"{sha256}:{envelope_id or '-'}"


def entry_type(path: Path) -> EntryType | None:
    """What the entry `path` is, without following it; None when there is no such entry."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return EntryType.SYMLINK if os.path.exists(path) else EntryType.DANGLING_SYMLINK
    return _type_of_mode(mode)


def skip_reason(name: str) -> SkipReason | None:
    """Why a file name in `out/` is not taken, or None for a name that is (`<name>.xml`, not hidden)."""
    lower = name.lower()
    if lower.endswith((".tmp", ".part")):
        return SkipReason.TEMPORARY
    if name.startswith("."):
        return SkipReason.HIDDEN
    if not name.endswith(".xml"):
        return SkipReason.NOT_XML
    return None


class Spool:
    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        """The largest file taken from `out/` (default: MedCom's 100 MB letter as base64 in an envelope)."""
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

    def _outboxes(self) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
        for ean in self.parties():
            try:
                with os.scandir(self.root / ean / "out") as entries:
                    listed = list(entries)
            except (FileNotFoundError, NotADirectoryError):
                continue
            yield ean, listed

    def waiting(self) -> list[SpoolFile]:
        """Every entry with a taken name (`<name>.xml`, not hidden) in every `out/`, oldest first (modification
        time, then name). Links and other non-regular entries are listed too: `open`/`load` quarantine them."""
        found: list[tuple[int, str, SpoolFile]] = []
        for ean, entries in self._outboxes():
            for entry in entries:
                if skip_reason(entry.name) is not None:
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    continue
                found.append((info.st_mtime_ns, entry.name, SpoolFile(ean, Path(entry.path))))
        return [f for _, _, f in sorted(found, key=lambda x: (x[0], x[1]))]

    def skipped(self, now: datetime, older_than: timedelta = SKIPPED_AFTER) -> list[SkippedEntry]:
        """Entries in `out/` the hub does not take and that are older than `older_than` at `now` (oldest
        first), so the hub can log them and the operations pages show them."""
        found: list[SkippedEntry] = []
        for ean, entries in self._outboxes():
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                why = SkipReason.FOLDER if stat.S_ISDIR(info.st_mode) else skip_reason(entry.name)
                if why is None:
                    continue
                age = now - datetime.fromtimestamp(info.st_mtime, UTC)
                if age <= older_than:
                    continue
                what = entry_type(Path(entry.path)) or _type_of_mode(info.st_mode)
                found.append(SkippedEntry(ean, entry.name, Path(entry.path), why, what, age))
        return sorted(found, key=lambda e: (-e.age, e.ean, e.name))

    def open(self, file: SpoolFile, *, now: datetime | None = None) -> Opened | Gone | Refused:
        """Open a waiting file for streaming. Only a regular file is opened; anything else is moved to
        quarantine unopened (`Refused`); a file over the size limit too. A vanished file is `Gone`."""
        try:
            info = os.lstat(file.path)
        except FileNotFoundError:
            return Gone(file)
        if not stat.S_ISREG(info.st_mode):
            return self._refuse_not_regular(file, now)
        try:
            fd = durable.open_regular(file.path)
        except FileNotFoundError:
            return Gone(file)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EINVAL):
                raise
            return self._refuse_not_regular(file, now)  # swapped for a link or FIFO since the lstat
        size = os.fstat(fd).st_size
        if size > self.max_bytes:
            with Opened(file, fd, size, self.max_bytes) as opened:
                head = opened.head()
            return self._refuse_too_large(file, size, head, now)
        return Opened(file, fd, size, self.max_bytes)

    def load(self, file: SpoolFile, *, now: datetime | None = None) -> Reading:
        """A waiting file's bytes (`Loaded`), or `Gone`, or `Refused` (already moved to quarantine)."""
        opened = self.open(file, now=now)
        if not isinstance(opened, Opened):
            return opened
        with opened:
            try:
                data = opened.read()
            except TooLarge:
                head = opened.head()
                opened.close()
                return self._refuse_too_large(file, None, head, now)
        return Loaded(file, data)

    def read(self, file: SpoolFile) -> bytes:
        """A waiting file's bytes; raises FileNotFoundError when it is gone and SpoolRefusedError when it was
        refused (and quarantined). Prefer `load`, which says the same without exceptions."""
        reading = self.load(file)
        if isinstance(reading, Gone):
            raise FileNotFoundError(errno.ENOENT, "taken by another process", str(file.path))
        if isinstance(reading, Refused):
            raise SpoolRefusedError(reading)
        return reading.data

    def _refuse_not_regular(self, file: SpoolFile, now: datetime | None) -> Gone | Refused:
        what = entry_type(file.path)
        if what is None:
            return Gone(file)
        detail = what.value
        if what is EntryType.REGULAR:  # replaced by a regular file in the meantime: take it next run
            return Gone(file)
        moved = self.quarantine_entry(file, f"{Refusal.NOT_REGULAR.value}: {detail}", now=now)
        return Gone(file) if moved is None else Refused(file, Refusal.NOT_REGULAR, detail, moved)

    def _refuse_too_large(
        self, file: SpoolFile, size: int | None, head: bytes, now: datetime | None
    ) -> Gone | Refused:
        has = f"{size} bytes" if size is not None else "it grew while being read"
        detail = f"{has}; the limit is {self.max_bytes} bytes"
        moved = self.quarantine_entry(file, f"{Refusal.TOO_LARGE.value}: {detail}", now=now)
        return Gone(file) if moved is None else Refused(file, Refusal.TOO_LARGE, detail, moved, head)

    def taken(self, file: SpoolFile) -> None:
        """Remove a file from `out/` once its effects are committed (its bytes live on in the store)."""
        try:
            file.path.unlink()
        except FileNotFoundError:  # already removed by an earlier run that died before noting it
            return
        self._sync_dir(file.path.parent)

    def deliver(self, ean: str, name: str, data: bytes | Iterable[bytes]) -> Path:
        """Put `data` (bytes, or pieces of them) into the party's `in/` as `name` (atomic). Delivering the same
        bytes again is a no-op; different bytes under an existing name are refused rather than overwritten,
        also when two processes deliver that name at the same moment."""
        _check_name(name)
        folder = self.ensure_party(ean) / "in"
        return _write_once(folder / name, data, self._sync_dir)

    def quarantine(
        self,
        name: str,
        data: bytes | Iterable[bytes],
        reason: str,
        *,
        ean: str | None = None,
        now: datetime | None = None,
    ) -> Path:
        """Keep unreadable input in `quarantine/` next to `<file>.reason.txt`; returns the quarantined path.
        The same bytes under the same name again are a no-op; other bytes are kept beside, never overwritten."""
        folder = self._quarantine_folder()
        stem = _quarantine_stem(name, ean)
        digest = hashlib.sha256()
        tmp = durable.write_tmp(folder, stem, _hashing(data, digest))
        target = folder / stem
        for candidate in (target, folder / f"{digest.hexdigest()[:12]}-{stem}"):
            target = candidate
            if durable.install_new(tmp, target):
                break
            if durable.same_content(target, tmp):
                tmp.unlink()
                break
        else:  # pragma: no cover - a SHA-256 prefix collision under the same name
            tmp.unlink()
            raise FileExistsError(f"{target} exists with different content")
        self._write_reason(target, name, ean, reason, now)
        durable.fsync_dir(folder)
        return target

    def quarantine_entry(self, file: SpoolFile, reason: str, *, now: datetime | None = None) -> Path | None:
        """Move a waiting entry itself (a link stays a link, a FIFO a FIFO; nothing is opened or copied) into
        `quarantine/` next to its reason; the new path, or None when the entry was gone already."""
        folder = self._quarantine_folder()
        # A random part makes the name unique, so no two moves can ever replace each other's entry.
        target = folder / f"{secrets.token_hex(4)}-{_quarantine_stem(file.name, file.ean)}"
        try:
            os.rename(file.path, target)
        except FileNotFoundError:
            return None
        self._write_reason(target, file.name, file.ean, reason, now)
        durable.fsync_dir(folder)
        durable.fsync_dir(file.path.parent)
        return target

    def _quarantine_folder(self) -> Path:
        folder = self.root / QUARANTINE
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _write_reason(
        self, target: Path, name: str, ean: str | None, reason: str, now: datetime | None
    ) -> None:
        when = f"time: {now.isoformat()}\n" if now else ""
        text = f"file: {scrub(name)}\nfrom: {ean or 'unknown'}\n{when}reason: {reason}\n"
        reason_path = target.with_name(target.name + ".reason.txt")
        tmp = durable.write_tmp(reason_path.parent, reason_path.name, [text.encode("utf-8")])
        os.replace(tmp, reason_path)

    def quarantined(self) -> list[tuple[Path, str]]:
        """Quarantined entries with their reasons (for the operations page and tests)."""
        folder = self.root / QUARANTINE
        if not folder.is_dir():
            return []
        result = []
        for path in sorted(folder.iterdir()):
            if path.name.endswith(".reason.txt") or path.name.startswith("."):
                continue
            reason = path.with_name(path.name + ".reason.txt")
            result.append((path, reason.read_text("utf-8") if reason.is_file() else ""))
        return result

    def quarantine_size(self) -> tuple[int, int]:
        """How many entries lie in quarantine and their bytes (reasons and our temporary files not counted;
        a link counts as itself): one listing, no file opened, for /metrics."""
        count = size = 0
        try:
            with os.scandir(self.root / QUARANTINE) as entries:
                for entry in entries:
                    if entry.name.endswith(".reason.txt") or entry.name.startswith("."):
                        continue
                    try:
                        size += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue  # removed meanwhile (retention, reprocess)
                    count += 1
        except (FileNotFoundError, NotADirectoryError):
            pass
        return count, size

    def sweep_tmp(self, now: datetime, older_than: timedelta = SKIPPED_AFTER) -> list[Path]:
        """Remove our own temporary files (`.<name>.<random>.tmp`) left in `in/` and `quarantine/` by a
        writer that died, once older than `older_than`; the removed paths. `out/` belongs to the senders."""
        folders = [self.root / QUARANTINE, *(self.root / ean / "in" for ean in self.parties())]
        return durable.sweep_tmp(folders, older_than, now)


def _fsync_dir(folder: Path) -> None:
    durable.fsync_dir(folder)


def _type_of_mode(mode: int) -> EntryType:
    for test, kind in (
        (stat.S_ISREG, EntryType.REGULAR),
        (stat.S_ISDIR, EntryType.FOLDER),
        (stat.S_ISLNK, EntryType.SYMLINK),
        (stat.S_ISFIFO, EntryType.FIFO),
        (stat.S_ISSOCK, EntryType.SOCKET),
        (stat.S_ISCHR, EntryType.CHAR_DEVICE),
        (stat.S_ISBLK, EntryType.BLOCK_DEVICE),
    ):
        if test(mode):
            return kind
    return EntryType.OTHER  # pragma: no cover - door files and the like


def _hashing(data: bytes | Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for piece in [data] if isinstance(data, bytes) else data:
        digest.update(piece)
        yield piece


def _check_ean(ean: str) -> None:
    if not _EAN.match(ean):
        raise ValueError(f"not a location number: {ean!r} (1-18 digits expected)")


def _check_name(name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise ValueError(
            f"unsafe spool file name {name!r}: letters, digits, '.', '_', '-' and '.xml' expected"
        )


def _quarantine_stem(name: str, ean: str | None) -> str:
    # short enough that a random prefix, ".reason.txt" and a temporary name still fit in 255 bytes. A sender
    # may name a file after the patient's CPR number: the quarantined name (shown on the overview, kept in
    # lineage, audit entries and reprocess answers) has it masked; same-name collisions are kept beside.
    base = re.sub(r"[^A-Za-z0-9._-]", "_", scrub(Path(name).name))[:160] or "unnamed"
    base = base if base.endswith(".xml") else base + ".xml"
    base = base.lstrip(".") or "unnamed.xml"  # never hidden
    return f"{ean}-{base}" if ean else base


def _write_once(
    path: Path, data: bytes | Iterable[bytes], sync_dir: Callable[[Path], None] = _fsync_dir
) -> Path:
    if isinstance(data, bytes) and os.path.lexists(path):  # the common repeat: compare without writing
        if durable.same_content(path, data):
            return path
        raise FileExistsError(f"{path} exists with different content; refusing to overwrite")
    tmp = durable.write_tmp(path.parent, path.name, [data] if isinstance(data, bytes) else data)
    if not durable.install_new(tmp, path):  # another writer was first: fine if it wrote the same bytes
        same = durable.same_content(path, tmp)
        tmp.unlink()
        if not same:
            raise FileExistsError(f"{path} exists with different content; refusing to overwrite")
        return path
    sync_dir(path.parent)
    return path

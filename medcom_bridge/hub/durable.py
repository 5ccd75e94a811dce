"""Durable file writes that any number of processes may do at once (the spool and the blob store share them).

Every write goes to its own temporary file `.<name>.<random>.tmp` in the target's folder (created with
`O_EXCL`, so two writers never share one), is fsynced, and is then installed under its name without ever
replacing what another writer installed first: a hard link is an atomic "create if absent", which a rename is
not. Whoever loses that race compares contents: the same bytes are a no-op, different bytes are refused. The
folder is fsynced last, so a crash leaves either the whole file or, at worst, a stale temporary file that
`is_tmp_name` recognises for sweeping.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path

CHUNK = 1024 * 1024
"""Reads and copies go in pieces of this size, so no step holds a second copy of a large payload."""

_TMP = re.compile(r"^\..+\.[0-9a-f]{16}\.tmp$")
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}


def tmp_name(name: str) -> str:
    """A temporary name no other writer uses: `.<name>.<16 hex>.tmp` (hidden, so readers skip it)."""
    return f".{name}.{secrets.token_hex(8)}.tmp"


def is_tmp_name(name: str) -> bool:
    """Whether `name` is one of our own temporary files (only those are ever swept)."""
    return _TMP.match(name) is not None


def write_tmp(folder: Path, name: str, chunks: Iterable[bytes | memoryview], *, sync: bool = True) -> Path:
    """Write `chunks` into a new temporary file beside `folder/name` and fsync it; returns its path.

    The temporary file is removed again if writing fails, so an error leaves nothing behind."""
    tmp = folder / tmp_name(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb", buffering=0, closefd=True) as handle:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:  # an unbuffered write may be partial
                    written = handle.write(view)
                    view = view[written or 0 :]
            if sync:
                os.fsync(handle.fileno())
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return tmp


def install_new(tmp: Path, target: Path) -> bool:
    """Give the fsynced `tmp` the name `target` unless that name exists. True: this call created `target` and
    `tmp` is gone. False: `target` was there first and `tmp` is left for the caller (to compare, to install
    under another name, to remove). The caller fsyncs the folder."""
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # A file system without hard links: a rename after a check. Two writers of the same new name can
        # then both succeed, which for equal content (every caller's case) is harmless.
        if os.path.lexists(target):
            return False
        os.replace(tmp, target)
        return True
    tmp.unlink()
    return True


def open_regular(path: Path) -> int:
    """Open `path` for reading only if it is a regular file (never following a link, never blocking on a
    FIFO); a file descriptor. Raises FileNotFoundError, or OSError(ELOOP/EINVAL) for anything else."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def fd_chunks(fd: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """The rest of an open file in pieces of at most `chunk` bytes."""
    while piece := os.read(fd, chunk):
        yield piece


def read_whole(fd: int, limit: int | None = None) -> bytes | None:
    """The rest of an open regular file as one bytes object, or None once it has more than `limit` bytes.

    Sized from fstat, so the common case (a file that does not change while read) is a single allocation and
    the content is held in memory once, not once in pieces and again joined."""
    size = os.fstat(fd).st_size - os.lseek(fd, 0, os.SEEK_CUR)
    budget = limit if limit is not None else max(size, 0)
    first = os.read(fd, min(max(size, 0), budget) + 1)
    pieces, total = [first], len(first)
    while limit is None or total <= limit:
        piece = os.read(fd, CHUNK if limit is None else min(CHUNK, limit + 1 - total))
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
    if limit is not None and total > limit:
        return None
    return first if len(pieces) == 1 else b"".join(pieces)


def sweep_tmp(folders: Iterable[Path], older_than: timedelta, now: datetime) -> list[Path]:
    """Remove our own temporary files (`is_tmp_name`) older than `older_than` from `folders`: what writers
    that died before installing left behind. Returns the removed paths."""
    limit = (now - older_than).timestamp()
    removed: list[Path] = []
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                listed = [entry for entry in entries if is_tmp_name(entry.name)]
        except FileNotFoundError:
            continue
        for entry in listed:
            with suppress(FileNotFoundError):
                if entry.stat(follow_symlinks=False).st_mtime < limit:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def same_content(path: Path, other: Path | bytes) -> bool:
    """Whether the regular file `path` holds exactly `other` (a file or bytes), compared piecewise."""
    try:
        fd = open_regular(path)
    except OSError:
        return False
    try:
        if isinstance(other, bytes):
            if os.fstat(fd).st_size != len(other):
                return False
            offset = 0
            for piece in fd_chunks(fd):
                if other[offset : offset + len(piece)] != piece:
                    return False
                offset += len(piece)
            return offset == len(other)
        other_fd = open_regular(other)
        try:
            if os.fstat(fd).st_size != os.fstat(other_fd).st_size:
                return False
            while True:
                mine, theirs = os.read(fd, CHUNK), os.read(other_fd, CHUNK)
                if mine != theirs:
                    return False
                if not mine:
                    return True
        finally:
            os.close(other_fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a rename, link or unlink) durable."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(folder: Path) -> None:
    """Make everything written to `folder`'s file system durable with one call (Linux `syncfs`): the group
    commit of many small files whose writers skipped their own fsync. Elsewhere, fsync of the folder only
    after a full `os.sync()`."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _syncfs is None or _syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_syncfs = _load_syncfs()

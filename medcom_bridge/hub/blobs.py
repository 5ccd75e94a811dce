"""Payloads on disk, named by their SHA-256: a content-addressed blob store, free of the database.

```
BLOBS/ab/cd/abcd...      one file per distinct payload (64 hex digits), two fan-out levels
BLOBS/tmp/               writes in progress: `.blob.<random>.tmp`, swept by `sweep_tmp`
```

A payload is written from pieces (an iterator of chunks or a file object) into its own temporary file while it
is hashed, fsynced, and only then installed under its digest; so a blob of 100 MB is never held in memory by
the store, and a crash leaves at most a temporary file. Storing a digest that exists is a no-op, so any number
of processes may store the same payload at once. Every read checks the digest: a blob damaged on disk is
reported (`BlobCorrupt`), never handed on as if it were the payload.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from medcom_bridge.hub import durable

TMP = "tmp"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")

Source = bytes | Iterable[bytes] | BinaryIO


@dataclass(frozen=True, slots=True)
class Blob:
    digest: str
    """SHA-256 of the content, 64 lower-case hex digits."""
    size: int
    created: bool
    """False when the store had this content already (the call was a no-op)."""


class BlobMissing(LookupError):
    """No blob with that digest (never stored, or deleted by retention)."""

    def __init__(self, digest: str) -> None:
        super().__init__(f"no blob {digest}")
        self.digest = digest


class BlobCorrupt(ValueError):
    """A stored blob's content no longer has its digest (damaged on disk)."""

    def __init__(self, digest: str, path: Path, actual: str) -> None:
        super().__init__(f"blob {digest} is corrupt: {path} now hashes to {actual}")
        self.digest = digest
        self.path = path
        self.actual = actual


class BlobStore:
    """Content-addressed payload files. With `deferred=True` a `put` skips its own fsyncs and the caller
    makes the whole batch durable with one `flush()` before it commits anything that names the blobs (the
    store does this at every commit): one file-system sync per transaction instead of two per payload."""

    def __init__(self, root: Path, *, chunk: int = durable.CHUNK, deferred: bool = False) -> None:
        self.root = root
        self.chunk = chunk
        self.deferred = deferred
        self._unsynced = False

    def flush(self) -> None:
        """Make every blob written since the last flush durable (deferred mode); a no-op otherwise."""
        if self._unsynced:
            durable.sync_filesystem(self.root)
            self._unsynced = False

    def path(self, digest: str) -> Path:
        """Where the blob `digest` lives: `ab/cd/abcd...`."""
        if not _DIGEST.match(digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r} (64 lower-case hex digits expected)")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, source: Source) -> Blob:
        """Store `source` (bytes, an iterable of chunks, or a binary file object read in chunks)."""
        digest, size = hashlib.sha256(), 0

        def hashed() -> Iterator[bytes | memoryview]:
            nonlocal size
            for piece in self._pieces(source):
                digest.update(piece)
                size += len(piece)
                yield piece

        folder = self.root / TMP
        _make_folders(folder)
        tmp = durable.write_tmp(folder, "blob", hashed(), sync=not self.deferred)
        target = self.path(digest.hexdigest())
        existing = _regular_size(target)
        if existing == size:  # stored before (possibly by another process a moment ago)
            tmp.unlink()
            return Blob(target.name, size, created=False)
        _make_folders(target.parent)
        if existing is not None:  # a truncated or otherwise damaged copy: ours is whole, so it replaces it
            os.replace(tmp, target)
            created = True
        else:
            created = durable.install_new(tmp, target)
            if not created:
                tmp.unlink()
        if self.deferred:
            self._unsynced = True
        else:
            durable.fsync_dir(target.parent)
        return Blob(target.name, size, created)

    def _pieces(self, source: Source) -> Iterator[bytes | memoryview]:
        if isinstance(source, bytes):
            view = memoryview(source)
            for start in range(0, len(view), self.chunk):  # slices of a view: no copies
                yield view[start : start + self.chunk]
        elif hasattr(source, "read"):
            yield from iter(lambda: source.read(self.chunk), b"")
        else:
            yield from source

    def exists(self, digest: str) -> bool:
        return _regular_size(self.path(digest)) is not None

    def size(self, digest: str) -> int:
        size = _regular_size(self.path(digest))
        if size is None:
            raise BlobMissing(digest)
        return size

    def chunks(self, digest: str) -> Iterator[bytes]:
        """The blob in pieces (streaming read). The digest is checked at the end: BlobCorrupt is raised
        instead of the end of the iteration, so a consumer that commits only after the last piece never
        commits damaged content."""
        path = self.path(digest)
        fd = self._open(digest)
        try:
            check = hashlib.sha256()
            for piece in durable.fd_chunks(fd, self.chunk):
                check.update(piece)
                yield piece
        finally:
            os.close(fd)
        if check.hexdigest() != digest:
            raise BlobCorrupt(digest, path, check.hexdigest())

    def read(self, digest: str) -> bytes:
        """The whole blob, checked; allocated once (the size is known), so it is held in memory once."""
        path = self.path(digest)
        fd = self._open(digest)
        try:
            data = durable.read_whole(fd)
        finally:
            os.close(fd)
        assert data is not None  # no limit
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise BlobCorrupt(digest, path, actual)
        return data

    def verify(self, digest: str) -> None:
        """Raise BlobCorrupt (or BlobMissing) unless the blob is whole; reads it in pieces."""
        for _ in self.chunks(digest):
            pass

    def delete(self, digest: str) -> bool:
        """Remove a blob (retention); False when it was not there."""
        path = self.path(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        durable.fsync_dir(path.parent)
        return True

    def sweep_tmp(self, older_than: timedelta, now: datetime | None = None) -> list[Path]:
        """Remove temporary files older than `older_than` (left by a writer that died before installing its
        blob); the removed paths. Use an age well above the longest write, e.g. an hour."""
        folder = self.root / TMP
        removed = durable.sweep_tmp([folder], older_than, now or datetime.now(UTC))
        if removed:
            durable.fsync_dir(folder)
        return removed

    def _open(self, digest: str) -> int:
        try:
            return durable.open_regular(self.path(digest))
        except FileNotFoundError:
            raise BlobMissing(digest) from None


def _regular_size(path: Path) -> int | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _make_folders(folder: Path) -> None:
    """Create `folder` and its missing parents, each made durable in its parent."""
    if folder.is_dir():
        return
    _make_folders(folder.parent)
    with suppress(FileExistsError):
        folder.mkdir()
        durable.fsync_dir(folder.parent)

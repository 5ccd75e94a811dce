"""The content-addressed blob store: streaming writes named by SHA-256, no-op repeats, several processes storing
the same payload at once, a crash before the install leaving only a temporary file that is swept, damaged blobs
detected on read, and memory held at most once."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge.hub.blobs import TMP, Blob, BlobCorrupt, BlobMissing, BlobStore

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if not p.is_dir())


def test_a_blob_is_named_by_its_sha256_in_fan_out_folders(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"<VANSEnvelope/>"
    blob = store.put(data)
    digest = sha(data)
    assert blob == Blob(digest, len(data), created=True)
    assert store.path(digest) == tmp_path / digest[:2] / digest[2:4] / digest
    assert files_under(tmp_path) == [store.path(digest)]  # no temporary file left
    assert store.exists(digest) and store.size(digest) == len(data)
    assert store.read(digest) == data
    assert b"".join(store.chunks(digest)) == data


def test_storing_the_same_content_again_is_a_no_op(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first = store.put(b"abc")
    mtime = store.path(first.digest).stat().st_mtime_ns
    assert store.put(iter([b"a", b"bc"])) == Blob(first.digest, 3, created=False)
    assert store.put(io.BytesIO(b"abc")) == Blob(first.digest, 3, created=False)
    assert store.path(first.digest).stat().st_mtime_ns == mtime
    assert len(files_under(tmp_path)) == 1


def test_chunks_files_and_bytes_give_the_same_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, chunk=7)
    data = os.urandom(1000)
    from_file = store.put(io.BytesIO(data))
    assert from_file.created and from_file.digest == sha(data)
    assert list(store.chunks(from_file.digest)) == [data[i : i + 7] for i in range(0, 1000, 7)]
    other = BlobStore(tmp_path / "other", chunk=7)
    assert other.put(data).digest == other.put(iter([data[:10], data[10:]])).digest == sha(data)


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_split_round_trips(pieces: list[bytes]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = BlobStore(Path(folder), chunk=64)
        blob = store.put(iter(pieces))
        whole = b"".join(pieces)
        assert (blob.digest, blob.size) == (sha(whole), len(whole))
        assert store.read(blob.digest) == whole == b"".join(store.chunks(blob.digest))


def test_the_empty_payload_is_a_blob_too(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob = store.put(b"")
    assert store.read(blob.digest) == b"" and store.size(blob.digest) == 0


def test_missing_blobs_and_bad_digests(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    digest = sha(b"never stored")
    assert not store.exists(digest)
    with pytest.raises(BlobMissing, match=digest):
        store.read(digest)
    with pytest.raises(BlobMissing):
        list(store.chunks(digest))
    with pytest.raises(BlobMissing):
        store.size(digest)
    assert store.delete(digest) is False
    for bad in ("../../etc/passwd", digest.upper(), digest[:-1], ""):
        with pytest.raises(ValueError, match="not a SHA-256 digest"):
            store.path(bad)


def test_delete_removes_a_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    blob = store.put(b"old letter")
    assert store.delete(blob.digest) is True
    assert not store.exists(blob.digest)
    assert store.put(b"old letter").created  # and it can come back


def test_a_damaged_blob_is_detected_on_every_read(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, chunk=4)
    data = b"<letter>payload</letter>"
    blob = store.put(data)
    path = store.path(blob.digest)
    path.write_bytes(b"<letter>PAYLOAD</letter>")  # same size, other bytes: a bit rot or a careless edit
    with pytest.raises(BlobCorrupt, match=f"blob {blob.digest} is corrupt") as caught:
        store.read(blob.digest)
    assert caught.value.path == path and caught.value.actual == sha(b"<letter>PAYLOAD</letter>")
    pieces = store.chunks(blob.digest)
    assert next(pieces) == b"<let"  # streaming gives pieces, and refuses to end as if all was well
    with pytest.raises(BlobCorrupt):
        list(pieces)
    with pytest.raises(BlobCorrupt):
        store.verify(blob.digest)
    assert store.put(data).created is False  # same size: the store cannot tell without reading


def test_a_truncated_blob_is_replaced_by_the_next_whole_copy(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"x" * 1000
    blob = store.put(data)
    store.path(blob.digest).write_bytes(data[:10])
    assert store.put(data).created is True
    store.verify(blob.digest)
    assert store.read(blob.digest) == data


def test_a_link_is_never_taken_for_a_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    digest = sha(b"secret")
    store.path(digest).parent.mkdir(parents=True)
    os.symlink(secret, store.path(digest))
    assert not store.exists(digest)
    with pytest.raises(OSError, match="symbolic links"):
        store.read(digest)


def _put_same(root: str, seed: int, start: object) -> tuple[str, int]:
    data = bytes(range(256)) * 4096 * 8  # 8 MB, in pieces, so the writers overlap
    start.wait()  # type: ignore[attr-defined]
    blob = BlobStore(Path(root)).put(data[i : i + 65536] for i in range(0, len(data), 65536))
    return blob.digest, int(blob.created)


def test_processes_storing_the_same_payload_at_once_store_it_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start = context.Manager().Event()
    with context.Pool(4) as pool:
        pending = [pool.apply_async(_put_same, (str(tmp_path), n, start)) for n in range(4)]
        start.set()
        results = [p.get(timeout=120) for p in pending]
    data = bytes(range(256)) * 4096 * 8
    assert {digest for digest, _ in results} == {sha(data)}
    assert sum(created for _, created in results) >= 1
    store = BlobStore(tmp_path)
    assert files_under(tmp_path) == [store.path(sha(data))]  # one blob, no temporary files
    assert store.read(sha(data)) == data


_CRASH = """
import os, signal, sys
from pathlib import Path
from medcom_bridge.hub import durable
from medcom_bridge.hub.blobs import BlobStore

def die(tmp, target):  # the power goes between the fsynced temporary file and its install
    os.kill(os.getpid(), signal.SIGKILL)

durable.install_new = die
BlobStore(Path(sys.argv[1])).put(iter([b"half of a ", b"letter"]))
"""


def test_a_crash_before_the_install_leaves_only_a_temporary_file_that_is_swept(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path)], capture_output=True)
    assert result.returncode == -9, result.stderr
    store = BlobStore(tmp_path)
    digest = sha(b"half of a letter")
    assert not store.exists(digest)
    [tmp] = files_under(tmp_path)
    assert tmp.parent == tmp_path / TMP and tmp.read_bytes() == b"half of a letter"
    assert store.sweep_tmp(timedelta(hours=1), now=NOW) == []  # young: maybe a writer still at work
    old = int((NOW - timedelta(hours=2)).timestamp())
    os.utime(tmp, (old, old))
    assert store.sweep_tmp(timedelta(hours=1), now=NOW) == [tmp]
    assert files_under(tmp_path) == []
    assert store.put(b"half of a letter").created  # the next attempt stores it normally


_MEMORY = """
import resource, sys
from pathlib import Path
from medcom_bridge.hub.blobs import BlobStore

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

size = int(sys.argv[2])
store = BlobStore(Path(sys.argv[1]))
base = peak()
blob = store.put(bytes([n % 251]) * (1 << 20) for n in range(size >> 20))
streamed = peak() - base
for _ in store.chunks(blob.digest):
    pass
streamed = max(streamed, peak() - base)
data = store.read(blob.digest)
read = peak() - base
base = peak()
store.put(data)
again = peak() - base
print(streamed, read, again)
"""


def test_memory_is_bounded_streaming_and_a_whole_read_holds_the_blob_once(tmp_path: Path) -> None:
    size = 64 << 20
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(tmp_path), str(size)], capture_output=True, text=True, check=True
    )
    streamed, read, again = (int(n) for n in result.stdout.split())
    assert streamed < 16 << 20, f"a streamed 64 MB put and read grew the peak by {streamed} bytes"
    assert read < 1.3 * size, f"reading 64 MB grew the peak by {read} bytes (held twice?)"
    assert again < 16 << 20, f"storing 64 MB already in memory grew the peak by {again} bytes"

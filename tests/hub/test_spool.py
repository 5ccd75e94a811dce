"""The spool transport: complete regular files only, links and FIFOs quarantined unopened, bounded reads, files
taken by another process, atomic writes under unique temporary names (also from several processes at once),
quarantine with reasons, skipped names reported, crash-safe taking."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge.envelope import vans
from medcom_bridge.hub import durable
from medcom_bridge.hub.spool import (
    EntryType,
    Gone,
    Loaded,
    Opened,
    Refusal,
    Refused,
    SkipReason,
    Spool,
    SpoolRefusedError,
    TooLarge,
    intake_key,
)
from tests.hub.e2e import FHIR, OIO, World

EAN = "5790001659592"
OTHER = "5790000121526"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def drop(spool: Path, ean: str, name: str, data: bytes, mtime: int | None = None) -> Path:
    out = spool / ean / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


def outbox(spool: Path, ean: str = EAN) -> Path:
    out = spool / ean / "out"
    out.mkdir(parents=True, exist_ok=True)
    return out


def age(path: Path, hours: float) -> None:
    """Set the entry's (not a link target's) modification time `hours` before NOW."""
    when = int((NOW - timedelta(hours=hours)).timestamp() * 1e9)
    os.utime(path, ns=(when, when), follow_symlinks=False)


def test_only_complete_xml_files_are_taken(tmp_path: Path) -> None:
    drop(tmp_path, EAN, "b.xml", b"<b/>", mtime=2_000_000_000)
    drop(tmp_path, EAN, "a.xml", b"<a/>", mtime=1_000_000_000)
    drop(tmp_path, EAN, "c.tmp", b"<half")
    drop(tmp_path, EAN, "d.xml.part", b"<half")
    drop(tmp_path, EAN, "e.XML", b"<e/>")
    drop(tmp_path, EAN, ".hidden.xml", b"<h/>")
    (outbox(tmp_path) / "folder.xml").mkdir()
    drop(tmp_path, OTHER, "z.xml", b"<z/>", mtime=1_500_000_000)
    (tmp_path / "quarantine").mkdir()
    (tmp_path / "not-an-ean").mkdir()
    spool = Spool(tmp_path)
    assert spool.parties() == [OTHER, EAN]
    waiting = spool.waiting()
    assert [(f.ean, f.name) for f in waiting] == [(EAN, "a.xml"), (OTHER, "z.xml"), (EAN, "b.xml")]
    assert spool.read(waiting[0]) == b"<a/>"
    assert spool.load(waiting[0]) == Loaded(waiting[0], b"<a/>")


def test_taken_removes_the_file_and_tolerates_a_repeat(tmp_path: Path) -> None:
    drop(tmp_path, EAN, "a.xml", b"<a/>")
    spool = Spool(tmp_path)
    [file] = spool.waiting()
    spool.taken(file)
    spool.taken(file)  # a second run after a crash between commit and removal
    assert spool.waiting() == []


# -- only regular files --------------------------------------------------------------------------------------
def assert_quarantined_as(spool: Spool, reading: object, what: EntryType) -> Path:
    assert isinstance(reading, Refused), reading
    assert reading.cause is Refusal.NOT_REGULAR and reading.detail == what.value
    assert reading.reason == f"spool-not-regular: {what.value}"
    assert not os.path.lexists(reading.file.path)  # out/ no longer has it
    [(path, reason)] = spool.quarantined()
    assert path == reading.quarantined
    assert f"reason: spool-not-regular: {what.value}\n" in reason
    assert f"from: {reading.file.ean}" in reason and f"file: {reading.file.name}" in reason
    return path


def test_a_symbolic_link_is_moved_to_quarantine_as_the_link_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0")
    os.symlink(secret, outbox(tmp_path / "spool") / "passwd.xml")
    spool = Spool(tmp_path / "spool")
    [file] = spool.waiting()
    reading = spool.load(file, now=NOW)
    path = assert_quarantined_as(spool, reading, EntryType.SYMLINK)
    assert path.is_symlink() and os.readlink(path) == str(secret)  # the link itself, not a copy of its target
    assert secret.read_bytes() == b"root:x:0:0"
    assert "root:x" not in path.with_name(path.name + ".reason.txt").read_text()
    assert spool.waiting() == []


def test_a_dangling_link_is_quarantined_too(tmp_path: Path) -> None:
    os.symlink(tmp_path / "nowhere", outbox(tmp_path) / "a.xml")
    spool = Spool(tmp_path)
    [file] = spool.waiting()  # listed although it points nowhere, so it does not stay unnoticed
    assert_quarantined_as(spool, spool.load(file), EntryType.DANGLING_SYMLINK)


def test_a_link_to_a_folder_is_quarantined_not_listed_as_a_folder(tmp_path: Path) -> None:
    os.symlink(tmp_path, outbox(tmp_path / "spool") / "up.xml")
    spool = Spool(tmp_path / "spool")
    [file] = spool.waiting()
    assert_quarantined_as(spool, spool.load(file), EntryType.SYMLINK)


def in_thread(action: Callable[[], object]) -> object:
    """Run `action` with a deadline, so that a FIFO opened by mistake fails the test instead of hanging it."""
    result: list[object] = []

    def run() -> None:
        try:
            result.append(action())
        except Exception as exc:
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the spool blocked on a special file"
    if isinstance(result[0], Exception):
        raise result[0]
    return result[0]


def test_a_fifo_is_quarantined_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(outbox(tmp_path) / "pipe.xml")
    spool = Spool(tmp_path)
    [file] = spool.waiting()
    path = assert_quarantined_as(spool, in_thread(lambda: spool.load(file)), EntryType.FIFO)
    assert path.is_fifo()


def test_a_socket_is_quarantined(tmp_path: Path) -> None:
    folder = outbox(tmp_path)
    server = socket.socket(socket.AF_UNIX)
    cwd = os.getcwd()
    os.chdir(folder)  # socket paths are limited to ~100 characters
    try:
        server.bind("s.xml")
    finally:
        os.chdir(cwd)
    try:
        spool = Spool(tmp_path)
        [file] = spool.waiting()
        assert_quarantined_as(spool, in_thread(lambda: spool.load(file)), EntryType.SOCKET)
    finally:
        server.close()


def test_a_device_is_quarantined(tmp_path: Path) -> None:
    try:
        os.mknod(outbox(tmp_path) / "null.xml", 0o600 | 0o020000, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    spool = Spool(tmp_path)
    [file] = spool.waiting()
    assert_quarantined_as(spool, in_thread(lambda: spool.load(file)), EntryType.CHAR_DEVICE)


def test_read_raises_a_refusal_with_its_reason(tmp_path: Path) -> None:
    os.symlink("/etc/passwd", outbox(tmp_path) / "a.xml")
    spool = Spool(tmp_path)
    with pytest.raises(SpoolRefusedError, match="spool-not-regular: symbolic link") as caught:
        spool.read(spool.waiting()[0])
    assert caught.value.refused.quarantined.is_symlink()


def test_opening_never_follows_a_link_or_blocks_on_a_fifo(tmp_path: Path) -> None:
    """The second line of defence, for an entry swapped between listing and opening."""
    target = tmp_path / "t"
    target.write_bytes(b"x")
    os.symlink(target, tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        durable.open_regular(tmp_path / "link")
    with pytest.raises(OSError, match="not a regular file"):
        in_thread(lambda: durable.open_regular(tmp_path / "fifo"))


def test_two_links_with_the_same_name_are_both_kept_in_quarantine(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for target in ("/one", "/two"):
        os.symlink(target, outbox(tmp_path) / "a.xml")
        spool.load(spool.waiting()[0])
    assert sorted(os.readlink(path) for path, _ in spool.quarantined()) == ["/one", "/two"]


# -- files taken by someone else, size limits, streaming -----------------------------------------------------
def test_a_file_taken_by_another_process_is_gone_not_an_error(tmp_path: Path) -> None:
    drop(tmp_path, EAN, "a.xml", b"<a/>")
    spool = Spool(tmp_path)
    [file] = spool.waiting()
    file.path.unlink()  # another hub process took it after our listing
    assert spool.load(file) == Gone(file)
    assert spool.open(file) == Gone(file)
    with pytest.raises(FileNotFoundError):
        spool.read(file)
    assert spool.quarantined() == []


def test_a_file_over_the_limit_is_quarantined_unread_with_its_header_kept(tmp_path: Path) -> None:
    drop(tmp_path, EAN, "big.xml", b"<VANSEnvelope>" + b"A" * 200)
    drop(tmp_path, EAN, "fits.xml", b"B" * 100, mtime=1)
    spool = Spool(tmp_path, max_bytes=100)
    fits, big = spool.waiting()
    assert spool.load(fits) == Loaded(fits, b"B" * 100)  # exactly the limit is fine
    reading = spool.load(big, now=NOW)
    assert isinstance(reading, Refused) and reading.cause is Refusal.TOO_LARGE
    assert reading.reason == "spool-too-large: 214 bytes; the limit is 100 bytes"
    assert reading.head.startswith(b"<VANSEnvelope>")
    [(path, reason)] = spool.quarantined()
    assert path == reading.quarantined and path.stat().st_size == 214
    assert "reason: spool-too-large: 214 bytes; the limit is 100 bytes" in reason
    assert f"time: {NOW.isoformat()}" in reason


def test_the_default_limit_is_medcoms_100_mb_letter_in_an_envelope(tmp_path: Path) -> None:
    assert Spool(tmp_path).max_bytes >= 100 * 1024 * 1024 * 4 // 3


def opened(spool: Spool) -> Opened:
    [file] = spool.waiting()
    result = spool.open(file)
    assert isinstance(result, Opened), result
    return result


def test_streaming_reads_pieces_and_stops_a_file_that_grows_past_the_limit(tmp_path: Path) -> None:
    path = drop(tmp_path, EAN, "a.xml", b"0123456789" * 5)
    spool = Spool(tmp_path, max_bytes=100)
    with opened(spool) as reader:
        assert reader.size == 50
        assert list(reader.chunks(chunk=20)) == [b"0123456789" * 2, b"0123456789" * 2, b"0123456789"]
    with opened(spool) as reader:
        with path.open("ab") as writer:  # a sender that keeps writing after its rename
            writer.write(b"x" * 100)
        with pytest.raises(TooLarge):
            list(reader.chunks(chunk=16))
    path.write_bytes(b"y" * 100)
    with opened(spool) as reader:
        with path.open("ab") as writer:
            writer.write(b"x")
        with pytest.raises(TooLarge):
            reader.read()
    with pytest.raises(ValueError, match="after close"):
        reader.read()


_MEASURE = """
import resource, sys
from pathlib import Path
from medcom_bridge.hub.spool import Spool, Loaded
spool = Spool(Path(sys.argv[1]))
[file] = spool.waiting()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
reading = spool.load(file)
assert isinstance(reading, Loaded) and len(reading.data) == int(sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_loading_a_large_file_holds_it_in_memory_once(tmp_path: Path) -> None:
    size = 48 * 1024 * 1024
    drop(tmp_path, EAN, "big.xml", os.urandom(1024) * (size // 1024))
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path), str(size)], capture_output=True, text=True, check=True
    )
    grew_kib = int(result.stdout)
    assert grew_kib < 1.3 * size / 1024, f"reading {size} bytes grew the peak RSS by {grew_kib} KiB"


# -- writes ----------------------------------------------------------------------------------------------------
def test_deliver_is_atomic_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.deliver(OTHER, "068dadff-12bb-406d-8c86-083974dc0180.xml", b"<v/>")
    assert path == tmp_path / OTHER / "in" / "068dadff-12bb-406d-8c86-083974dc0180.xml"
    assert path.read_bytes() == b"<v/>"
    assert list((tmp_path / OTHER / "in").iterdir()) == [path]  # no .tmp left behind
    assert spool.deliver(OTHER, path.name, b"<v/>") == path
    assert spool.deliver(OTHER, path.name, iter([b"<v", b"/>"])) == path  # pieces: the same bytes
    with pytest.raises(FileExistsError):
        spool.deliver(OTHER, path.name, b"<different/>")
    with pytest.raises(FileExistsError):
        spool.deliver(OTHER, path.name, iter([b"<w/>"]))
    assert path.read_bytes() == b"<v/>"
    assert list((tmp_path / OTHER / "in").iterdir()) == [path]


def test_deliver_streams_pieces(tmp_path: Path) -> None:
    pieces = [bytes([i]) * 1000 for i in range(50)]
    path = Spool(tmp_path).deliver(OTHER, "a.xml", iter(pieces))
    assert path.read_bytes() == b"".join(pieces)


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    def broken() -> list[bytes]:
        raise RuntimeError("the source failed")

    def pieces():  # type: ignore[no-untyped-def]
        yield b"<half"
        broken()

    spool = Spool(tmp_path)
    with pytest.raises(RuntimeError):
        spool.deliver(OTHER, "a.xml", pieces())
    assert list((tmp_path / OTHER / "in").iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.xml", "a/b.xml", "x.txt", "", ".xml"])
def test_deliver_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path).deliver(OTHER, name, b"<v/>")


def test_deliver_refuses_a_bad_location_number(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path).deliver("../x", "a.xml", b"<v/>")


def test_temporary_names_are_unique_hidden_and_recognised() -> None:
    names = {durable.tmp_name("m.xml") for _ in range(1000)}
    assert len(names) == 1000
    assert all(n.startswith(".m.xml.") and n.endswith(".tmp") and durable.is_tmp_name(n) for n in names)
    assert not durable.is_tmp_name("m.tmp") and not durable.is_tmp_name(".m.xml.tmp")


def test_a_crashed_writers_temporary_file_neither_blocks_delivery_nor_stays(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    folder = spool.ensure_party(OTHER) / "in"
    stale = folder / durable.tmp_name("m.xml")
    stale.write_bytes(b"<partial")
    fresh = folder / durable.tmp_name("n.xml")
    fresh.write_bytes(b"<in progress")
    senders = drop(tmp_path, OTHER, "x.tmp", b"<the sender's own")
    age(stale, 2)
    age(senders, 2)
    spool.deliver(OTHER, "m.xml", b"<whole/>")
    assert (folder / "m.xml").read_bytes() == b"<whole/>"
    assert spool.sweep_tmp(NOW) == [stale]
    assert sorted(p.name for p in folder.iterdir()) == sorted(["m.xml", fresh.name])
    assert senders.exists()  # out/ belongs to the sender


def _deliver_many(root: str, names: list[str], data: bytes, start: object) -> list[str]:
    spool = Spool(Path(root))
    start.wait()  # type: ignore[attr-defined]
    outcomes = []
    for name in names:
        try:
            spool.deliver(OTHER, name, data)
            outcomes.append("ok")
        except FileExistsError:
            outcomes.append("refused")
    return outcomes


def run_processes(tmp_path: Path, datas: list[bytes], names: list[str]) -> list[list[str]]:
    context = multiprocessing.get_context("fork")
    start = context.Manager().Event()
    with context.Pool(len(datas)) as pool:
        pending = [pool.apply_async(_deliver_many, (str(tmp_path), names, d, start)) for d in datas]
        start.set()
        return [p.get(timeout=120) for p in pending]


def test_processes_delivering_the_same_files_at_once_leave_each_whole_once(tmp_path: Path) -> None:
    data = os.urandom(256 * 1024)
    names = [f"m{i}.xml" for i in range(40)]
    outcomes = run_processes(tmp_path, [data] * 4, names)
    assert all(o == ["ok"] * len(names) for o in outcomes)  # the same bytes again: a no-op for everyone
    folder = tmp_path / OTHER / "in"
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)  # no temporary file left
    assert all((folder / n).read_bytes() == data for n in names)


def test_processes_delivering_different_bytes_under_one_name_never_mix_them(tmp_path: Path) -> None:
    datas = [bytes([i]) * (256 * 1024) for i in range(4)]
    names = [f"m{i}.xml" for i in range(40)]
    outcomes = run_processes(tmp_path, datas, names)
    folder = tmp_path / OTHER / "in"
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for i, name in enumerate(names):
        winners = [n for n, o in enumerate(outcomes) if o[i] == "ok"]
        assert len(winners) == 1, (name, winners)  # exactly one writer got its file in; the rest were told
        assert (folder / name).read_bytes() == datas[winners[0]]


@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_same_content_is_byte_equality(left: bytes, right: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a"
        path.write_bytes(left)
        other = Path(folder) / "b"
        other.write_bytes(right)
        assert durable.same_content(path, right) is (left == right)
        assert durable.same_content(path, other) is (left == right)


# -- quarantine --------------------------------------------------------------------------------------------------
def test_quarantine_keeps_the_original_with_its_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.quarantine("bad.xml", b"\x00garbage", "xml-syntax: not well-formed XML", ean=EAN)
    assert path.read_bytes() == b"\x00garbage"
    [(qpath, reason)] = spool.quarantined()
    assert qpath == path and f"from: {EAN}" in reason and "xml-syntax" in reason
    # the same bytes again: idempotent; other bytes under the same name: kept beside, not overwritten
    assert spool.quarantine("bad.xml", b"\x00garbage", "again", ean=EAN) == path
    other = spool.quarantine("bad.xml", b"other", "xml-syntax", ean=EAN)
    assert other != path and other.read_bytes() == b"other" and path.read_bytes() == b"\x00garbage"
    assert len(spool.quarantined()) == 2
    assert not [p for p in (tmp_path / "quarantine").iterdir() if p.name.endswith(".tmp")]


def test_quarantine_never_reads_through_a_quarantined_link(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    secret = tmp_path / "secret"
    secret.write_bytes(b"same")
    folder = tmp_path / "quarantine"
    folder.mkdir()
    os.symlink(secret, folder / f"{EAN}-a.xml")  # a link that sits where a quarantined file would go
    path = spool.quarantine("a.xml", b"same", "why", ean=EAN)
    assert path != folder / f"{EAN}-a.xml" and path.read_bytes() == b"same" and not path.is_symlink()


def test_threads_quarantining_one_name_keep_every_version(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    datas = [bytes([i]) * 100_000 for i in range(6)] * 2
    barrier = threading.Barrier(len(datas))

    def put(data: bytes) -> None:
        barrier.wait()
        spool.quarantine("bad.xml", data, "xml-syntax", ean=EAN)

    workers = [threading.Thread(target=put, args=(d,)) for d in datas]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    kept = sorted(path.read_bytes()[:1] for path, _ in spool.quarantined())
    assert kept == [bytes([i]) for i in range(6)]
    assert all(reason for _, reason in spool.quarantined())


def test_quarantining_an_entry_that_is_gone_is_none(tmp_path: Path) -> None:
    drop(tmp_path, EAN, "a.xml", b"<a/>")
    spool = Spool(tmp_path)
    [file] = spool.waiting()
    file.path.unlink()
    assert spool.quarantine_entry(file, "why") is None


# -- skipped names -------------------------------------------------------------------------------------------------
def test_skipped_names_older_than_an_hour_are_listed_with_age_mailbox_and_kind(tmp_path: Path) -> None:
    out = outbox(tmp_path)
    for name in (".hidden.xml", "a.tmp", "b.xml.part", "c.XML", "noext", "taken.xml"):
        (out / name).write_bytes(b"<x/>")
        age(out / name, 2)
    os.symlink(tmp_path / "nowhere", out / "d.part")
    age(out / "d.part", 3)
    (out / "sub").mkdir()
    age(out / "sub", 5)
    (out / "young.tmp").write_bytes(b"<x/>")
    age(out / "young.tmp", 0.5)
    drop(tmp_path, OTHER, "e.XML", b"<x/>")
    age(tmp_path / OTHER / "out" / "e.XML", 1.5)

    skipped = Spool(tmp_path).skipped(NOW)
    got = [(e.ean, e.name, e.why, e.what, round(e.age.total_seconds() / 3600, 1)) for e in skipped]
    assert got == [
        (EAN, "sub", SkipReason.FOLDER, EntryType.FOLDER, 5.0),
        (EAN, "d.part", SkipReason.TEMPORARY, EntryType.DANGLING_SYMLINK, 3.0),
        (EAN, ".hidden.xml", SkipReason.HIDDEN, EntryType.REGULAR, 2.0),
        (EAN, "a.tmp", SkipReason.TEMPORARY, EntryType.REGULAR, 2.0),
        (EAN, "b.xml.part", SkipReason.TEMPORARY, EntryType.REGULAR, 2.0),
        (EAN, "c.XML", SkipReason.NOT_XML, EntryType.REGULAR, 2.0),
        (EAN, "noext", SkipReason.NOT_XML, EntryType.REGULAR, 2.0),
        (OTHER, "e.XML", SkipReason.NOT_XML, EntryType.REGULAR, 1.5),
    ]
    assert skipped[1].describe() == f"{EAN}/out/d.part: skipped (temporary, dangling symbolic link) for 3.0 h"
    assert [e.name for e in Spool(tmp_path).skipped(NOW, older_than=timedelta(hours=4))] == ["sub"]
    assert {e.name for e in Spool(tmp_path).skipped(NOW, older_than=timedelta(0))} >= {"young.tmp"}


def test_every_entry_is_either_waiting_or_skipped(tmp_path: Path) -> None:
    out = outbox(tmp_path)
    names = ["a.xml", "b.XML", ".c.xml", "d.tmp", "e.xml.part", "f", "g.xml.tmp", "h.xm", "i.PART", "j..xml"]
    for name in names:
        (out / name).write_bytes(b"<x/>")
        age(out / name, 2)
    spool = Spool(tmp_path)
    waiting = {f.name for f in spool.waiting()}
    skipped = {e.name for e in spool.skipped(NOW)}
    assert waiting == {"a.xml", "j..xml"}
    assert waiting | skipped == set(names) and not waiting & skipped


def test_intake_key_is_content_and_envelope_not_file_name() -> None:
    assert intake_key(b"<a/>", "env-1") == intake_key(b"<a/>", "env-1")
    assert intake_key(b"<a/>", "env-1") != intake_key(b"<a/>", "env-2")
    assert intake_key(b"<a/>", "env-1") != intake_key(b"<b/>", "env-1")
    assert intake_key(b"<a/>", None).endswith(":-")


def test_the_hub_never_takes_a_letter_through_a_link(world: World, tmp_path: Path) -> None:
    """A party that can write its out/ must not make the hub read another file (issue 9: /etc/passwd)."""
    letter = vans.wrap(
        world.carecommunication(),
        sender_ean=FHIR.ean,
        receiver_ean=OIO.ean,
        envelope_id=world.ids(),
        message_id=world.ids(),
        sent=world.clock.now(),
    )
    elsewhere = tmp_path / "elsewhere.xml"
    elsewhere.write_bytes(letter)  # a perfectly good letter, so following the link would be visible
    out = world.spool / FHIR.ean / "out"
    out.mkdir(parents=True, exist_ok=True)
    os.symlink(elsewhere, out / "letter.xml")
    assert world.run().errors == []
    [refused] = world.flows()  # recorded, so the operator sees it, but nothing read and nothing delivered
    assert world.state(refused) == "quarantined" and world.inbox(OIO) == []
    assert any(e.reason and "spool-not-regular: symbolic link" in e.reason for e in world.events(refused))
    [(path, reason)] = world.quarantined()
    assert path.is_symlink() and "reason: spool-not-regular: symbolic link" in reason
    assert elsewhere.read_bytes() == letter
    world.drop(FHIR.ean, letter)  # the same bytes as a regular file are taken as usual
    world.run()
    assert len(world.flows()) == 2 and sorted(r.kind for r in world.inbox(OIO)) == ["xbin01", "xdis91"]


def test_long_names_still_fit_in_quarantine(tmp_path: Path) -> None:
    name = "x" * 200 + ".xml"
    spool = Spool(tmp_path)
    spool.quarantine(name, b"<a", "why", ean=EAN)
    spool.quarantine(name, b"<b", "why", ean=EAN)  # beside it, with a hash prefix
    os.symlink("/nowhere", outbox(tmp_path) / name)
    spool.load(spool.waiting()[0])
    assert len(spool.quarantined()) == 3 and all(reason for _, reason in spool.quarantined())


def test_the_loop_logs_a_skipped_name_once_after_an_hour(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    out = world.spool / FHIR.ean / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "letter.part").write_bytes(b"half")
    old = (world.clock.now() - timedelta(hours=2)).timestamp()
    os.utime(out / "letter.part", (old, old))
    with caplog.at_level("WARNING", logger="medcom_bridge.hub.runner"):
        world.run()
        world.run()
    lines = [r.getMessage() for r in caplog.records if "letter.part" in r.getMessage()]
    assert len(lines) == 1 and "skipped" in lines[0] and FHIR.ean in lines[0]


def test_a_file_named_after_a_cpr_number_is_quarantined_under_a_masked_name(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    kept = spool.quarantine("brev-070761-4285.xml", b"one", "xml-syntax", ean="5790001382445", now=NOW)
    other = spool.quarantine("brev-070761-4286.xml", b"two", "xml-syntax", ean="5790001382445", now=NOW)
    moved = spool.quarantine("0707614285.xml", b"one", "xml-syntax")
    assert kept.name == "5790001382445-brev-07xxxx-xxxx.xml" and moved.name == "07xxxxxxxx.xml"
    assert other != kept and other.read_bytes() == b"two"  # same masked name, other bytes: kept beside
    for path in (kept, other, moved):
        reason = path.with_name(path.name + ".reason.txt").read_text()
        assert "4285" not in reason and "4286" not in reason and "file: " in reason

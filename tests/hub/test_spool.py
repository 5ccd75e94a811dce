"""The spool transport: complete files only, atomic writes, quarantine with reasons, crash-safe taking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medcom_bridge.hub.spool import Spool, intake_key

EAN = "5790001659592"
OTHER = "5790000121526"


def drop(spool: Path, ean: str, name: str, data: bytes, mtime: int | None = None) -> Path:
    out = spool / ean / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


def test_only_complete_xml_files_are_taken(tmp_path: Path) -> None:
    drop(tmp_path, EAN, "b.xml", b"<b/>", mtime=2_000_000_000)
    drop(tmp_path, EAN, "a.xml", b"<a/>", mtime=1_000_000_000)
    drop(tmp_path, EAN, "c.tmp", b"<half")
    drop(tmp_path, EAN, ".hidden.xml", b"<h/>")
    drop(tmp_path, OTHER, "z.xml", b"<z/>", mtime=1_500_000_000)
    (tmp_path / "quarantine").mkdir()
    (tmp_path / "not-an-ean").mkdir()
    spool = Spool(tmp_path)
    assert spool.parties() == [OTHER, EAN]
    waiting = spool.waiting()
    assert [(f.ean, f.name) for f in waiting] == [(EAN, "a.xml"), (OTHER, "z.xml"), (EAN, "b.xml")]
    assert spool.read(waiting[0]) == b"<a/>"


def test_taken_removes_the_file_and_tolerates_a_repeat(tmp_path: Path) -> None:
    drop(tmp_path, EAN, "a.xml", b"<a/>")
    spool = Spool(tmp_path)
    [file] = spool.waiting()
    spool.taken(file)
    spool.taken(file)  # a second run after a crash between commit and removal
    assert spool.waiting() == []


def test_deliver_is_atomic_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.deliver(OTHER, "068dadff-12bb-406d-8c86-083974dc0180.xml", b"<v/>")
    assert path == tmp_path / OTHER / "in" / "068dadff-12bb-406d-8c86-083974dc0180.xml"
    assert path.read_bytes() == b"<v/>"
    assert list((tmp_path / OTHER / "in").iterdir()) == [path]  # no .tmp left behind
    assert spool.deliver(OTHER, path.name, b"<v/>") == path
    with pytest.raises(FileExistsError):
        spool.deliver(OTHER, path.name, b"<different/>")
    assert path.read_bytes() == b"<v/>"


@pytest.mark.parametrize("name", ["../evil.xml", "a/b.xml", "x.txt", "", ".xml"])
def test_deliver_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path).deliver(OTHER, name, b"<v/>")


def test_deliver_refuses_a_bad_location_number(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path).deliver("../x", "a.xml", b"<v/>")


def test_a_stale_tmp_file_from_a_crashed_writer_is_replaced(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    folder = spool.ensure_party(OTHER) / "in"
    (folder / "m.tmp").write_bytes(b"<partial")
    spool.deliver(OTHER, "m.xml", b"<whole/>")
    assert sorted(p.name for p in folder.iterdir()) == ["m.xml"]


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


def test_intake_key_is_content_and_envelope_not_file_name() -> None:
    assert intake_key(b"<a/>", "env-1") == intake_key(b"<a/>", "env-1")
    assert intake_key(b"<a/>", "env-1") != intake_key(b"<a/>", "env-2")
    assert intake_key(b"<a/>", "env-1") != intake_key(b"<b/>", "env-1")
    assert intake_key(b"<a/>", None).endswith(":-")

"""The crash test (issue 6): `medcom-bridge process` is SIGKILLed at random moments while it works through 200
flows (100 CareCommunications to an OIOXML receiver, 100 XDIS91 to a FHIR receiver), restarted until idle; then
the receivers answer every letter and the same happens to their 300 receipts (200 XCTL03 that become 100
Acknowledgements, 100 Acknowledgements that become 100 XCTL03). Invariant: nothing lost, nothing
delivered twice — every expected output exactly once in the `in/` folders, every input gone from `out/`,
nothing quarantined.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from medcom_bridge import demo
from medcom_bridge.envelope import vans
from medcom_bridge.fhir import codec as fhir_codec
from medcom_bridge.oioxml import codec as oio_codec
from tests.hub.e2e import FHIR, OIO, START, counter_ids, make_pair, register_files, without_attachments

FLOWS_EACH_WAY = 100
KILLS_PER_PHASE = 5
MAX_KILL_DELAY = 0.6  # seconds after the first visible progress
SEED = int(os.environ.get("HUB_CRASH_SEED", "20260302"))
REPO = Path(__file__).resolve().parents[2]


def process(spool: Path, sor: Path, edi: Path, now: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "medcom_bridge", "process", "--spool", str(spool), "--sor", str(sor)]
    return subprocess.Popen(
        [*command, "--edi", str(edi), "--now", now, "--json"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def progress(spool: Path) -> tuple[int, int]:
    """(files waiting in out/, files delivered to in/): changes as soon as the hub works."""
    return sum(1 for _ in spool.glob("*/out/*.xml")), sum(1 for _ in spool.glob("*/in/*.xml"))


def crash_and_recover(spool: Path, sor: Path, edi: Path, now: str, rng: random.Random) -> list[float]:
    """Kill `process` KILLS_PER_PHASE times at random moments while it works, then let it finish.

    Start-up (imports, migrations) takes seconds on a loaded machine, so each kill is timed from the moment the
    process has begun taking or delivering files: a random 0-0.6 s later, in the middle of intake, conversion or delivery.
    (With group commit the first visible progress comes after a whole batch, and a phase's work takes only a
    few seconds, so a longer window would let the hub finish before any kill lands.)
    Returns those delays.
    """
    kills = []
    for _ in range(KILLS_PER_PHASE):
        before = progress(spool)
        proc = process(spool, sor, edi, now)
        deadline = time.monotonic() + 60
        while proc.poll() is None and progress(spool) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        delay = rng.uniform(0.0, MAX_KILL_DELAY)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append(round(delay, 2))
        else:
            proc.communicate()
    assert kills, "no kill landed while the hub was working"
    for _ in range(3):  # the first complete run finishes the work; the next must find nothing to do
        proc = process(spool, sor, edi, now)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        summary = json.loads(out.decode().strip().splitlines()[-1])
        assert summary["errors"] == [] and summary["quarantined"] == 0, summary
        if summary["taken"] == summary["delivered"] == summary["converted"] == 0:
            break
    else:
        raise AssertionError("the hub did not become idle")
    return kills


def in_folder(spool: Path, ean: str) -> list[vans.Envelope]:
    return [vans.unwrap(p.read_bytes()) for p in sorted((spool / ean / "in").glob("*.xml"))]


def assert_outboxes_empty(spool: Path) -> None:
    left = [p for p in spool.glob("*/out/*") if p.is_file()]
    assert left == [], f"{len(left)} inputs left in out/"
    assert not (spool / "quarantine").exists() or not any((spool / "quarantine").iterdir())


def test_sigkill_at_random_moments_loses_nothing_and_delivers_nothing_twice(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    spool = tmp_path / "spool"
    sor, edi = register_files(tmp_path)
    ids = counter_ids("crash")
    letters_cc, letters_xdis = set(), set()
    for k in range(FLOWS_EACH_WAY):
        cc = demo.carecommunication(FHIR, OIO, now=START, new_id=ids)
        letters_cc.add(fhir_codec.parse(cc)[0]["entry"][0]["resource"]["id"])
        demo.drop(spool, FHIR.ean, f"cc{k:04d}", demo.wrap(cc, FHIR.ean, OIO.ean, now=START, new_id=ids))
        pair = make_pair(k + 1, ids(), OIO, FHIR)
        letters_xdis.add(pair.xdis_letter)
        xdis = without_attachments(pair.xdis91)
        demo.drop(spool, OIO.ean, f"x{k:04d}", demo.wrap(xdis, OIO.ean, FHIR.ean, now=START, new_id=ids))

    kills = crash_and_recover(spool, sor, edi, "2026-03-02T09:00:00Z", rng)
    assert_outboxes_empty(spool)
    to_oio = in_folder(spool, OIO.ean)
    to_fhir = in_folder(spool, FHIR.ean)
    assert Counter(e.payload_kind for e in to_oio) == {"xdis91": FLOWS_EACH_WAY, "xbin01": FLOWS_EACH_WAY}
    assert Counter(e.payload_kind for e in to_fhir) == {"carecommunication": FLOWS_EACH_WAY}

    # Phase 2: the receivers answer every letter; the hub turns 300 receipts into 100 Acks + 200 XCTL03.
    now = START.replace(minute=30)
    oio_system = demo.EndSystem(spool, OIO, ids)
    fhir_system = demo.EndSystem(spool, FHIR, ids)
    for system in (oio_system, fhir_system):
        system.answer_all(now=now)
    kills += crash_and_recover(spool, sor, edi, "2026-03-02T09:30:00Z", rng)
    assert_outboxes_empty(spool)
    acks = in_folder(spool, FHIR.ean)
    xctls = in_folder(spool, OIO.ean)
    acknowledged = Counter(
        fhir_codec.parse(e.payload)[0]["entry"][0]["resource"]["response"]["identifier"] for e in acks
    )
    assert set(acknowledged) == letters_cc and set(acknowledged.values()) == {1}  # one Ack per letter
    answered = Counter(
        oio_codec.parse(e.payload).body.original_emessage.original_letter[0].original_letter_identifier  # type: ignore[union-attr]
        for e in xctls
    )
    assert set(answered) == letters_xdis and set(answered.values()) == {1}  # one XCTL03 per letter
    print(f"seed {SEED}, kills after {kills} s")

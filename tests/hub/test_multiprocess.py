"""Three `process` workers on one PostgreSQL database and one spool, with SIGKILLs and terminated database
connections: every letter taken, converted and delivered exactly once (issue 9). `bench/hub_crash.py` runs
the same scenario over 1,000 flows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hub.multiprocess import run

SEED = int(os.environ.get("HUB_MP_SEED", "20261205"))


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_with_kills_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    report = run(tmp_path, flows_each_way=40, workers=3, kills=2, connection_kills=2, seed=SEED)
    print(report)
    assert report.missing == {} and report.duplicates == {}, report
    assert report.kills == 4 and report.connection_kills >= 1

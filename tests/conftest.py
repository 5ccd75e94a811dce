"""Shared fixtures: the reference data in ../shared/data is read in place, never copied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"

if not DATA.is_dir():  # pragma: no cover - environment problem, not a test outcome
    raise RuntimeError(f"reference data not found at {DATA}; clone the repository next to shared/")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


# CI runs are reproducible: the same examples every time, so a red build is never a coin toss. Local runs keep
# hypothesis' random exploration, and whatever it finds becomes a fix (and often an @example).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

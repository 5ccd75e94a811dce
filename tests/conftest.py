"""Shared fixtures: the reference data in ../shared/data is read in place, never copied."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"

if not DATA.is_dir():  # pragma: no cover - environment problem, not a test outcome
    raise RuntimeError(f"reference data not found at {DATA}; clone the repository next to shared/")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA

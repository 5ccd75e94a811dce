"""Shared register fixtures: real SOR samples read in place, and one small synthetic national-style set."""

from __future__ import annotations

from datetime import date

import pytest

from medcom_bridge.registry.synthetic import SyntheticData, generate
from tests.conftest import DATA

SOR = DATA / "sor" / "sor-xml"
EER = DATA / "sor" / "eer"
PRAKSIS = SOR / "trifork-sdm_ONE_PRAKSIS.xml"
SYGEHUS = SOR / "trifork-sdm_ONE_SYGEHUS.xml"
APOTEK = SOR / "trifork-sdm_ONE_APOTEK.xml"
EER_BUNDLE = EER / "eer-configurations_Mads3_sor-derived_bundle.json"
EER_ENDPOINTS = EER / "eer-configurations_sor-derived_endpoints.csv"
TODAY = date(2026, 11, 21)


@pytest.fixture(scope="session")
def synthetic() -> SyntheticData:
    return generate(2000, seed=7, today=TODAY)

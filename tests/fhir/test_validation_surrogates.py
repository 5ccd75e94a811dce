"""JSON can spell a lone UTF-16 surrogate ("\\ud800"): the validator refuses it with a path, never crashes later."""

from __future__ import annotations

import re

from medcom_bridge.fhir.validation import RULES, validate_bytes
from tests.conftest import DATA

EXAMPLE = DATA / "fhir/examples/send-v5/Bundle-S-A-new-1932711d-49d0-4ad7-b1ee-61de711892d2.json"


def _with_text_prefix(prefix: bytes) -> bytes:
    return re.sub(rb'("contentString"\s*:\s*")', rb"\1" + prefix, EXAMPLE.read_bytes(), count=1)


def test_a_lone_surrogate_is_an_error_at_its_path() -> None:
    report = validate_bytes(_with_text_prefix(rb"\\ud800"))
    assert not report.valid
    assert [(f.rule, f.path) for f in report.errors] == [
        ("fhir-string", "Bundle.entry[2].resource.payload[0].contentString")
    ]
    assert "fhir-string" in RULES


def test_a_surrogate_pair_is_an_ordinary_character() -> None:
    assert validate_bytes(_with_text_prefix(rb"\\ud83d\\ude00")).valid

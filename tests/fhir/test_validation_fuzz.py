"""Garbage in gives findings, never an exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcom_bridge.fhir.validation import validate_bytes, validate_resource
from tests.fhir.validation_data import example

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    report = validate_bytes(data)
    assert not report.valid
    assert "internal-error" not in report.rules()


@SETTINGS
@given(json_values)
def test_random_json(value: Any) -> None:
    report = validate_bytes(json.dumps(value).encode())
    assert not report.valid
    assert "internal-error" not in report.rules()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found.extend(_paths(child, (*prefix, i)))
    return found


BASE = example("send-v5/Bundle-S-A-new")
BASE_PATHS = [p for p in _paths(BASE) if p]


@SETTINGS
@given(st.sampled_from(BASE_PATHS), json_values)
def test_replace_any_element_of_a_valid_message(path: tuple[Any, ...], value: Any) -> None:
    bundle = example("send-v5/Bundle-S-A-new")
    target: Any = bundle
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    report = validate_resource(bundle)  # must not raise
    for finding in report.findings:
        assert finding.rule != "internal-error", finding
        assert finding.rule and finding.message


@SETTINGS
@given(st.sampled_from(BASE_PATHS))
def test_delete_any_element_of_a_valid_message(path: tuple[Any, ...]) -> None:
    bundle = example("send-v5/Bundle-S-A-new")
    target: Any = bundle
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    assert "internal-error" not in validate_resource(bundle).rules()


def test_parse_errors_are_findings() -> None:
    assert validate_bytes(b"").rules() <= {"fhir-empty", "parse", "fhir-unknown-format"}
    assert validate_bytes(b"{").rules() == {"json-syntax"}
    assert validate_bytes(b'{"a": 1, "a": 2}').rules() == {"json-duplicate-key"}
    assert validate_bytes(b"\xff{}").rules() != set()
    assert validate_bytes('{"resourceType": "Bundle"}'.encode("utf-16")).rules() != set()
    assert validate_bytes(b'{"x": NaN}').rules() == {"json-syntax"}
    assert not validate_bytes(b"[1, 2]").valid
    assert validate_bytes(b'{"resourceType": "Patient"}').rules() == {"message-kind"}
    assert validate_bytes(b"<Bundle xmlns='urn:nope'/>").rules() != set()
    deep = b"[" * 100_000 + b"]" * 100_000
    assert not validate_bytes(deep).valid

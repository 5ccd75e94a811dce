"""Hints as they travel through the broker (pure): round trip, chunking, and what is not a hint."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge.hub.work import KEYS_PER_HINT, BadHint, Hint, WorkStep, hints

_KEY = st.text(min_size=1, max_size=64)


@given(st.sampled_from(list(WorkStep)), st.lists(_KEY, min_size=1, max_size=40))
def test_hints_round_trip_and_carry_every_key_once_in_order(step: WorkStep, keys: list[str]) -> None:
    made = hints(step, keys)
    assert all(0 < len(h.keys) <= KEYS_PER_HINT for h in made)
    assert [k for h in made for k in h.keys] == keys
    assert [Hint.decode(h.encode()) for h in made] == made


@pytest.mark.parametrize(
    "body",
    [
        b"\x00 not a hint",
        b"{}",
        b'{"step": "explode", "keys": ["f"]}',
        b'{"step": "convert", "keys": []}',
        b'{"step": "convert", "keys": [""]}',
        b'{"step": "convert", "keys": "f"}',
        b'{"step": "convert", "keys": [1]}',
        b"[1, 2]",
    ],
)
def test_anything_else_is_a_bad_hint(body: bytes) -> None:
    with pytest.raises(BadHint):
        Hint.decode(body)


@given(st.binary(max_size=200))
def test_garbage_never_raises_anything_but_bad_hint(body: bytes) -> None:
    with contextlib.suppress(BadHint):
        Hint.decode(body)

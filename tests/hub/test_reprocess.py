"""The pure part of reprocess: may it be done, with which input (a new envelope id, nothing else changed)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge.envelope.vans import unwrap
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.reprocess import (
    Already,
    Decision,
    Original,
    Plan,
    Refusal,
    Refused,
    decide,
    mailbox_of,
    renew_envelope,
)
from tests.web.conftest import envelope

NOW = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def official_envelope() -> bytes:
    """MedCom's flow-3 CareCommunication (../shared/data) in a VANSEnvelope."""
    return envelope()


def fixed_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def plan(state: State | None, already: str | None, originals: list[Original]) -> Decision:
    return decide(state, already, originals, now=NOW, ids=fixed_ids(), what="flow F")


def test_a_rejected_or_quarantined_flow_gets_a_plan_with_a_new_envelope_id() -> None:
    data = official_envelope()
    for state in (State.REJECTED, State.QUARANTINED, None):
        result = plan(state, None, [Original(data, "5790001382445")])
        assert isinstance(result, Plan)
        [resend] = result.resends
        assert resend.envelope_id == "00000000-0000-4000-8000-000000000001"
        renewed, original = unwrap(resend.data), unwrap(data)
        assert renewed.envelope_id == resend.envelope_id != original.envelope_id
        assert renewed.sent == NOW.replace(microsecond=0)
        # The letter is the sender's, untouched: same MetaInformation/Identifier, same payload bytes.
        assert renewed.message == original.message
        assert resend.mailbox == "5790001382445"


def test_a_claim_answers_with_its_flow_whatever_the_state() -> None:
    assert plan(State.AWAITING_RECEIPTS, "new-flow", []) == Already("new-flow")


@pytest.mark.parametrize("state", [s for s in State if s not in (State.REJECTED, State.QUARANTINED)])
def test_other_states_are_refused(state: State) -> None:
    result = plan(state, None, [Original(official_envelope(), "5790001382445")])
    assert isinstance(result, Refused) and result.rule is Refusal.STATE
    assert state.value in result.message and "quarantined or rejected" in result.message


@pytest.mark.parametrize(
    ("originals", "rule"),
    [
        ([], Refusal.NO_ORIGINAL),
        ([Original(None, "5790001382445")], Refusal.NO_ORIGINAL),
        ([Original(b"<VANSEnvelope><broken", "5790001382445")], Refusal.NOT_ENVELOPE),
        ([Original(b"<Letter/>", "5790001382445")], Refusal.NOT_ENVELOPE),
        ([Original(b"x", None)], Refusal.NO_MAILBOX),
    ],
)
def test_what_cannot_be_sent_again_is_refused_with_the_reason(
    originals: list[Original], rule: Refusal
) -> None:
    result = plan(State.REJECTED, None, originals)
    assert isinstance(result, Refused) and result.rule is rule and "flow F" in result.message


@given(st.binary(max_size=300))
def test_garbage_is_never_renewed_and_never_raises(data: bytes) -> None:
    assert renew_envelope(data, str(uuid.uuid4()), NOW) is None


@given(st.uuids(version=4))
def test_renewing_round_trips_with_any_new_id(new: uuid.UUID) -> None:
    data = official_envelope()
    renewed = renew_envelope(data, str(new), NOW)
    assert renewed is not None
    again = renew_envelope(renewed, unwrap(data).envelope_id, unwrap(data).sent)
    assert again is not None and unwrap(again) == unwrap(data)


def test_the_mailbox_of_a_quarantined_file() -> None:
    data = official_envelope()
    assert mailbox_of("file: a.xml\nfrom: 5790000121441\nreason: x\n", data) == "5790000121441"
    assert mailbox_of("", data) == "5790001382445"  # the envelope's SenderID
    assert mailbox_of("from: unknown\n", b"<broken") is None

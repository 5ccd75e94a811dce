"""Trace events are immutable values and export as EDS-shaped AuditEvent JSON."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from medcom_bridge.hub.events import (
    CS_SUBTYPES,
    EDS_OTHER_ID,
    EDS_PROFILE_BASIC,
    EXT_FAILURE,
    EXT_STEP,
    Outcome,
    Place,
    Step,
    Subtype,
    TraceEvent,
    default_subtype,
    to_audit_event,
)

AT = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)


def sample(**changes: object) -> TraceEvent:
    base = TraceEvent(
        id="2f0c7c44-4c4e-4e5a-9b1e-0d6a9a7b1c01",
        flow_id="flow-1",
        at=AT,
        step=Step.CONVERTED,
        subtype=Subtype.MSG_CREATED,
        route="oioxml_to_fhir",
        sender_gln="5790001659592",
        receiver_gln="5790000121526",
        sender_sor="937961000016000",
        receiver_sor="698141000016008",
        message_id="XBf0SM4TxFovQF",
        envelope_id="068dadff-12bb-406d-8c86-083974dc0180",
        message_type="xdis91",
        message_version="XD9134L",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_events_are_immutable() -> None:
    event = sample()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.step = Step.DELIVERED  # type: ignore[misc]


def test_failure_and_place_go_together() -> None:
    with pytest.raises(ValueError, match="failure"):
        sample(outcome=Outcome.FAILURE)
    with pytest.raises(ValueError, match="failure"):
        sample(failure=Place.CONVERSION)
    with pytest.raises(ValueError, match="aware"):
        sample(at=datetime(2026, 1, 1))
    assert sample(outcome=Outcome.FAILURE, failure=Place.RECEIVER).failed


def test_every_step_has_an_eds_subtype() -> None:
    for step in Step:
        assert default_subtype(step) in Subtype


def test_audit_event_shape() -> None:
    doc = to_audit_event(sample(outcome=Outcome.FAILURE, failure=Place.CONVERSION, reason="conv-1: x"))
    assert doc["resourceType"] == "AuditEvent"
    assert doc["meta"]["profile"] == [EDS_PROFILE_BASIC]
    assert doc["type"]["code"] == "ehmiMessaging" and doc["action"] == "C"
    assert doc["subtype"] == [{"system": CS_SUBTYPES, "code": "msg-created"}]
    assert doc["outcome"] == "8"
    assert doc["recorded"] == "2026-01-20T09:30:00.000+00:00"
    sender, receiver = doc["agent"]
    assert sender["type"]["coding"][0]["code"] == "ehmiSender" and sender["requestor"] is True
    assert sender["who"]["identifier"]["value"] == "937961000016000"
    assert sender["extension"][0]["url"] == EDS_OTHER_ID
    assert sender["extension"][0]["valueIdentifier"]["value"] == "5790001659592"
    assert receiver["type"]["coding"][0]["code"] == "ehmiReceiver"
    entities = {e["type"]["code"]: e for e in doc["entity"]}
    assert entities["ehmiMessage"]["what"]["identifier"]["value"] == "XBf0SM4TxFovQF"
    assert {"type": "ehmiMessageType", "valueString": "xdis91"} in entities["ehmiMessage"]["detail"]
    assert entities["ehmiMessageEnvelope"]["what"]["identifier"]["value"].startswith("068dadff")
    extensions = {x["url"]: x for x in doc["extension"]}
    assert extensions[EXT_STEP]["valueCode"] == "converted"
    assert extensions[EXT_FAILURE]["valueCode"] == "conversion"
    # EDS prohibits these
    assert "period" not in doc and "outcomeDesc" not in doc and "purposeOfEvent" not in doc


def test_audit_event_is_a_valid_fhir_resource() -> None:
    for event in (sample(), sample(sender_sor=None, receiver_gln=None, orig_message_id="abc", reason=None)):
        doc = to_audit_event(event)
        parsed = AuditEvent.model_validate(json.loads(json.dumps(doc)))
        assert parsed.id == event.id


def test_unknown_sor_is_not_invented() -> None:
    doc = to_audit_event(sample(sender_sor=None))
    assert "identifier" not in doc["agent"][0]["who"]
    assert doc["agent"][0]["extension"][0]["valueIdentifier"]["value"] == "5790001659592"

"""Track & trace: the append-only history of a flow, one small immutable value per step.

The values are shaped like EHMI Delivery Status events (`sor-ehmi.md` §(e), FHIR AuditEvent profiles
EdsBasicDeliveryStatus): a subtype (msg-received, msg-sent, msg-created, msg-finalized ...), an outcome
(0 success, 8 serious failure), sender and receiver (SOR code and GLN) and the message ids. Our own steps
(paired, converted, validated, receipt aggregated, timer fired ...) and, on failure, *where* it failed (input,
conversion, register, receiver, network) ride along, and `to_audit_event()` exports an AuditEvent-compatible
JSON object with those extras as extensions.

Events never carry patient data: no CPR, no names, no letter text. `reason` is a rule id plus a message that
the producers keep free of content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

EDS_PROFILE_BASIC = "http://medcomehmi.dk/ig/eds/StructureDefinition/EdsBasicDeliveryStatus"
EDS_OTHER_ID = "http://medcomehmi.dk/ig/eds/StructureDefinition/eds-otherId"
_TERM = "http://medcomehmi.dk/ig/terminology/CodeSystem/"
CS_TYPES = _TERM + "ehmi-delivery-status-types"
CS_SUBTYPES = _TERM + "ehmi-delivery-status-sub-types"
CS_ROLES = _TERM + "ehmi-delivery-status-participationroletype"
CS_AGENT_ID = _TERM + "ehmi-delivery-status-agent-who-identifier-types"
CS_SOURCE = _TERM + "ehmi-delivery-status-source-type"
CS_ENTITY = _TERM + "ehmi-delivery-status-entity-type"
CS_OUTCOME = "http://hl7.org/fhir/audit-event-outcome"
# Our own additions. EDS prohibits outcomeDesc and period, so the hub step and failure place are extensions.
EXT_STEP = "urn:medcom-bridge:eds:hub-step"
EXT_FAILURE = "urn:medcom-bridge:eds:failure-place"
EXT_REASON = "urn:medcom-bridge:eds:reason"
EXT_FLOW = "urn:medcom-bridge:eds:flow"
EXT_STATE = "urn:medcom-bridge:eds:state-change"
HUB_DEVICE_ID = "medcom-bridge-hub"


class Subtype(StrEnum):
    """EDS delivery-status subtypes (code system ehmi-delivery-status-sub-types)."""

    MSG_CREATED = "msg-created"
    MSG_CREATED_AND_SENT = "msg-created-and-sent"
    MSG_SENT = "msg-sent"
    MSG_RECEIVED = "msg-received"
    MSG_RECEIVED_AND_FINALIZED = "msg-received-and-finalized"
    MSG_FINALIZED = "msg-finalized"


class Outcome(StrEnum):
    """audit-event-outcome codes allowed by EDS (4 and 12 are excluded)."""

    SUCCESS = "0"
    FAILURE = "8"


class Step(StrEnum):
    """The hub's own steps, finer than the EDS subtypes."""

    RECEIVED = "received"
    DUPLICATE = "duplicate"
    ROUTED = "routed"
    PAIRED = "paired"
    CONVERTED = "converted"
    VALIDATED = "validated"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    PASSED_THROUGH = "passed_through"
    FORWARDED_UNCONVERTED = "forwarded_unconverted"
    RECEIPT_RECEIVED = "receipt_received"
    RECEIPT_AGGREGATED = "receipt_aggregated"
    RECEIPT_SENT = "receipt_sent"
    NEGATIVE_RECEIPT_SENT = "negative_receipt_sent"
    TIMER_FIRED = "timer_fired"
    ALERT = "alert"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"
    CLOSED = "closed"
    REPROCESSED = "reprocessed"
    """An operator reprocessed this (rejected or quarantined) flow: the reason names the new flow."""
    REPROCESS_OF = "reprocess_of"
    """This flow is the reprocess of an earlier one (or of a quarantined file): the reason names it."""


class Place(StrEnum):
    """Where a failure sits, so an operator sees at once whose problem it is (use cases §10)."""

    INPUT = "input"
    CONVERSION = "conversion"
    REGISTER = "register"
    RECEIVER = "receiver"
    NETWORK = "network"


class ReceiptVerdict(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


_DEFAULT_SUBTYPE: dict[Step, Subtype] = {
    Step.RECEIVED: Subtype.MSG_RECEIVED,
    Step.DUPLICATE: Subtype.MSG_RECEIVED,
    Step.ROUTED: Subtype.MSG_RECEIVED,
    Step.PAIRED: Subtype.MSG_RECEIVED,
    Step.CONVERTED: Subtype.MSG_CREATED,
    Step.VALIDATED: Subtype.MSG_CREATED,
    Step.DELIVERED: Subtype.MSG_SENT,
    Step.DELIVERY_FAILED: Subtype.MSG_SENT,
    Step.PASSED_THROUGH: Subtype.MSG_SENT,
    Step.FORWARDED_UNCONVERTED: Subtype.MSG_SENT,
    Step.RECEIPT_RECEIVED: Subtype.MSG_RECEIVED,
    Step.RECEIPT_AGGREGATED: Subtype.MSG_CREATED,
    Step.RECEIPT_SENT: Subtype.MSG_SENT,
    Step.NEGATIVE_RECEIPT_SENT: Subtype.MSG_CREATED_AND_SENT,
    Step.TIMER_FIRED: Subtype.MSG_FINALIZED,
    Step.ALERT: Subtype.MSG_FINALIZED,
    Step.REJECTED: Subtype.MSG_RECEIVED_AND_FINALIZED,
    Step.QUARANTINED: Subtype.MSG_RECEIVED_AND_FINALIZED,
    Step.CLOSED: Subtype.MSG_FINALIZED,
    Step.REPROCESSED: Subtype.MSG_FINALIZED,
    Step.REPROCESS_OF: Subtype.MSG_RECEIVED,
}


def default_subtype(step: Step) -> Subtype:
    return _DEFAULT_SUBTYPE[step]


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One delivery-status event of one flow. `seq` orders a flow's events (assigned by the store)."""

    id: str
    flow_id: str
    at: datetime
    step: Step
    subtype: Subtype
    outcome: Outcome = Outcome.SUCCESS
    failure: Place | None = None
    reason: str | None = None
    """Rule id and short message, e.g. `pairing-timeout: XBIN01 not received within 60 minutes`."""
    cause: str | None = None
    """A stable code to group statistics by: a rule id, an Acknowledgement response code, an XCTL type."""
    receipt: ReceiptVerdict | None = None
    """Set when the event is a receipt (received from the receiver or sent to the sender)."""
    route: str | None = None
    flow_event: str | None = None
    """The state-machine event (`medcom_bridge.hub.flow.Event`) this step recorded, if any."""
    sender_gln: str | None = None
    receiver_gln: str | None = None
    sender_sor: str | None = None
    receiver_sor: str | None = None
    message_id: str | None = None
    """The letter id (OIOXML Letter/Identifier, FHIR MessageHeader.id) the event is about."""
    envelope_id: str | None = None
    """The envelope id (VANSEnvelope EnvelopeIdentifier, OIOXML Envelope/Identifier, Bundle.id)."""
    orig_message_id: str | None = None
    """For receipts: the letter id being acknowledged."""
    message_type: str | None = None
    """The document kind (xdis91, carecommunication, xctl03 ...)."""
    message_version: str | None = None
    state_from: str | None = None
    state_to: str | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("TraceEvent.at must be timezone-aware")
        if (self.outcome is Outcome.FAILURE) != (self.failure is not None):
            raise ValueError("a failure event names its place (and only a failure event does)")

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILURE


def to_audit_event(event: TraceEvent, *, observer: str = HUB_DEVICE_ID) -> dict[str, Any]:
    """The event as an AuditEvent JSON object in the EdsBasicDeliveryStatus shape (no patient entity).

    `who.identifier` carries the SOR code as EDS wants; when the register did not know it, only the GLN
    (eds-otherId) is given rather than inventing a value.
    """
    extensions: list[dict[str, Any]] = [
        {"url": EXT_FLOW, "valueString": event.flow_id},
        {"url": EXT_STEP, "valueCode": event.step.value},
    ]
    if event.failure is not None:
        extensions.append({"url": EXT_FAILURE, "valueCode": event.failure.value})
    if event.reason:
        extensions.append({"url": EXT_REASON, "valueString": event.reason})
    if event.state_from or event.state_to:
        extensions.append(
            {"url": EXT_STATE, "valueString": f"{event.state_from or ''}->{event.state_to or ''}"}
        )
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event.id,
        "meta": {"profile": [EDS_PROFILE_BASIC]},
        "contained": [
            {
                "resourceType": "Device",
                "id": observer,
                "identifier": [{"value": observer}],
                "type": {"coding": [{"system": CS_SOURCE, "code": "MSH"}]},
            }
        ],
        "extension": extensions,
        "type": {"system": CS_TYPES, "code": "ehmiMessaging", "display": "EHMI messaging event"},
        "subtype": [{"system": CS_SUBTYPES, "code": event.subtype.value}],
        "action": "C",
        "recorded": event.at.isoformat(timespec="milliseconds"),
        "outcome": event.outcome.value,
        "agent": [
            _agent("ehmiSender", "Sender", event.sender_sor, event.sender_gln, requestor=True),
            _agent("ehmiReceiver", "Receiver", event.receiver_sor, event.receiver_gln, requestor=False),
        ],
        "source": {
            "observer": {"reference": f"#{observer}"},
            "type": [{"system": CS_SOURCE, "code": "MSH", "display": "MSH (Message Service Handler)"}],
        },
        "entity": _entities(event),
    }
    return resource


def _agent(code: str, display: str, sor: str | None, gln: str | None, *, requestor: bool) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": CS_ROLES, "code": code, "display": display}]},
        "requestor": requestor,
    }
    if gln:
        agent["extension"] = [
            {
                "url": EDS_OTHER_ID,
                "valueIdentifier": {
                    "type": {"coding": [{"system": CS_AGENT_ID, "code": "GLN"}]},
                    "value": gln,
                },
            }
        ]
    agent["who"] = {"identifier": {"value": sor}} if sor else {"display": f"GLN {gln}" if gln else "unknown"}
    return agent


def _entity(code: str, display: str, value: str, details: list[tuple[str, str]]) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "what": {"identifier": {"value": value}},
        "type": {"system": CS_ENTITY, "code": code, "display": display},
    }
    if details:
        entity["detail"] = [{"type": t, "valueString": v} for t, v in details]
    return entity


def _entities(event: TraceEvent) -> list[dict[str, Any]]:
    details = [("ehmiMessageType", event.message_type)] if event.message_type else []
    if event.message_version:
        details.append(("ehmiMessageVersion", event.message_version))
    entities = [_entity("ehmiMessage", "Message", event.message_id or event.flow_id, details)]
    if event.envelope_id:
        entities.append(_entity("ehmiMessageEnvelope", "Message Envelope", event.envelope_id, []))
    if event.orig_message_id:
        entities.append(_entity("ehmiOrigMessage", "Original Message", event.orig_message_id, []))
    return entities

"""Monthly statistics, computed from the append-only event log (never from counters that reset).

MedCom follows negative receipts and missing positive receipts month by month as the signals of the
transition (use cases §10; users.md lesson 8). Because every figure here is a query over `hub_events`, a
report for a past month gives the same answer after restarts and can be reproduced at any time. Months are
calendar months in UTC (the `month` column written with each event).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, distinct, func, select

from medcom_bridge.hub.events import ReceiptVerdict, Step
from medcom_bridge.hub.flow import Event, Route
from medcom_bridge.hub.schema import events


@dataclass(frozen=True, slots=True)
class NegativeReceipts:
    month: str
    sender_gln: str | None
    receiver_gln: str | None
    cause: str | None
    place: str | None
    count: int


@dataclass(frozen=True, slots=True)
class MissingReceipts:
    month: str
    sender_gln: str | None
    receiver_gln: str | None
    flows: int


@dataclass(frozen=True, slots=True)
class Conversions:
    month: str
    route: str
    count: int


def negative_receipts(conn: Connection, month: str | None = None) -> list[NegativeReceipts]:
    """Negative receipts per month, sender, receiver and cause: the receivers' (aggregated) negative receipts
    and the hub's own negative VANS receipts for input it could not read, route or convert."""
    e = events.c
    query = (
        select(e.month, e.sender_gln, e.receiver_gln, e.cause, e.failure, func.count())
        .where(e.receipt == ReceiptVerdict.NEGATIVE.value)
        .group_by(e.month, e.sender_gln, e.receiver_gln, e.cause, e.failure)
        .order_by(e.month, e.sender_gln, e.receiver_gln, e.cause, e.failure)
    )
    if month is not None:
        query = query.where(e.month == month)
    return [NegativeReceipts(*row) for row in conn.execute(query)]


def missing_receipts(conn: Connection, month: str | None = None) -> list[MissingReceipts]:
    """Flows whose receipts were still missing 120 minutes after delivery, by month of the alert."""
    e = events.c
    query = (
        select(e.month, e.sender_gln, e.receiver_gln, func.count(distinct(e.flow_id)))
        .where(e.flow_event == Event.RECEIPT_ALERT.value)
        .group_by(e.month, e.sender_gln, e.receiver_gln)
        .order_by(e.month, e.sender_gln, e.receiver_gln)
    )
    if month is not None:
        query = query.where(e.month == month)
    return [MissingReceipts(*row) for row in conn.execute(query)]


def conversions(conn: Connection, month: str | None = None) -> list[Conversions]:
    """Successful conversions per month and direction: a `flow.Route` value (oioxml_to_fhir, fhir_to_oioxml,
    and for EDIFACT fhir_to_edifact, edifact_to_fhir, xml_to_edifact, edifact_to_xml). A flow converted message
    by message between OIOXML and EDIFACT counts each message (an XDIS91 and its XBIN01 are two)."""
    e = events.c
    query = (
        select(e.month, e.route, func.count())
        .where(e.step == Step.CONVERTED.value, e.flow_event == Event.CONVERTED.value)
        .group_by(e.month, e.route)
        .order_by(e.month, e.route)
    )
    if month is not None:
        query = query.where(e.month == month)
    return [Conversions(*row) for row in conn.execute(query)]


def pass_throughs(conn: Connection, month: str | None = None) -> dict[str, int]:
    """Messages passed through unchanged (the receiver takes the sender's format), per month."""
    e = events.c
    query = (
        select(e.month, func.count())
        .where(e.flow_event == Event.PASS_THROUGH.value, e.route == Route.PASS_THROUGH.value)
        .group_by(e.month)
        .order_by(e.month)
    )
    if month is not None:
        query = query.where(e.month == month)
    return {m: n for m, n in conn.execute(query)}

"""Property tests: unwrap never crashes on any input, and every model we can build round-trips schema-valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcom_bridge.envelope import (
    EndPoint,
    Envelope,
    EnvelopeError,
    Message,
    MetaInformation,
    Processing,
    ServiceTag,
    Transport,
    document_for,
    serialize,
    unwrap,
)
from medcom_bridge.envelope.validation import validate_bytes
from medcom_bridge.registry.gln import PLACEHOLDERS, with_check_digit
from tests.envelope.helpers import PAYLOADS, assert_schema_valid, wrapped, xdis91

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = wrapped(xdis91())
PAYLOAD_BYTES = [(kind, path.read_bytes()) for path, kind, _, _ in PAYLOADS]


@FUZZ
@given(st.binary(max_size=2000))
def test_unwrap_random_bytes(data: bytes) -> None:
    try:
        unwrap(data)
    except EnvelopeError as exc:
        assert exc.rule and exc.path and exc.message


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.sampled_from([b"<", b">", b"&", b"=", b"\x00", b"<Extra/>", b"A", b"\xc3"]))
        else:
            del data[i : i + draw(st.integers(1, 40))]
    return bytes(data)


@FUZZ
@given(mutated())
def test_unwrap_and_validate_mutated_envelopes(data: bytes) -> None:
    try:
        envelope = unwrap(data)
    except EnvelopeError as exc:
        assert exc.rule.startswith(("vans-", "xml-")), exc.rule
    else:
        # Whatever survives a mutation must still be a consistent envelope.
        assert envelope.message is not None
        assert envelope.message.meta.document.size_in_bytes == len(envelope.payload)
    report = validate_bytes(data)
    assert report.kind == "vansenvelope"
    assert all(f.rule and f.path and f.message for f in report.findings)


glns = (
    st.text("0123456789", min_size=12, max_size=12)
    .map(with_check_digit)
    .filter(lambda g: g not in PLACEHOLDERS)
)
uuids = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
xml_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff").filter(
        lambda c: c in "\t\n\r" or ord(c) >= 0x20
    ),
    min_size=1,
    max_size=70,
)
tokens = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=18)
zones = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=3, minutes=30))])


@st.composite
def endpoints(draw: st.DrawFn) -> EndPoint:
    kind = draw(st.sampled_from(["EAN", "CVR", "VANS"]))
    return EndPoint(draw(glns) if kind == "EAN" else draw(tokens), kind)  # type: ignore[arg-type]


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    kind, payload = draw(st.sampled_from(PAYLOAD_BYTES))
    tags = draw(st.lists(st.builds(ServiceTag, xml_text, xml_text), max_size=4))
    if kind in ("carecommunication", "acknowledgement"):
        mime = "application/fhir+json" if payload.lstrip()[:1] == b"{" else "application/fhir+xml"
        tags.insert(0, ServiceTag("MCM:MIME", mime))
    transport = Transport(draw(st.sampled_from(["reliable", None])), draw(st.booleans()), tuple(tags))
    meta = MetaInformation(
        draw(uuids),
        document_for(kind, payload),
        draw(st.none() | st.builds(Processing, xml_text, xml_text)),
        transport,
    )
    sent = draw(st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=zones))
    return Envelope(draw(endpoints()), draw(endpoints()), draw(uuids), sent, Message(meta, payload))


@FUZZ
@given(envelopes())
def test_every_model_round_trips_schema_valid(envelope: Envelope) -> None:
    data = serialize(envelope)
    assert_schema_valid(data)
    assert unwrap(data) == envelope

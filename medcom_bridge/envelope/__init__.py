"""Transport envelopes around MedCom messages: the VANSEnvelope 1.0.4 (`vans`) and its validator.

Pure code: bytes and values in, bytes and values out. Identifiers and the send time are passed in by the
caller (the hub or the CLI), never invented here.
"""

from medcom_bridge.envelope.vans import (
    VANS_NS,
    Document,
    EndPoint,
    Envelope,
    EnvelopeError,
    ErrorInfo,
    Message,
    MetaInformation,
    Processing,
    Receipt,
    ServiceTag,
    Transport,
    acknowledge,
    document_for,
    kind_for_name,
    make_envelope,
    serialize,
    unwrap,
    wrap,
)

__all__ = [
    "VANS_NS",
    "Document",
    "EndPoint",
    "Envelope",
    "EnvelopeError",
    "ErrorInfo",
    "Message",
    "MetaInformation",
    "Processing",
    "Receipt",
    "ServiceTag",
    "Transport",
    "acknowledge",
    "document_for",
    "kind_for_name",
    "make_envelope",
    "serialize",
    "unwrap",
    "wrap",
]

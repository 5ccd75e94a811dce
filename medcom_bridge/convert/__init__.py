"""The converter: pure functions implementing MedCom's conversion use cases (3.1.0) and mapping tables (v5.0.0).

Public API (bytes/models and values in, values out; ids, register and time are passed in via `Context`):

* `xdis91_to_carecommunication(xdis91, xbin01s, context=...) -> FhirResult` (use cases S1, S1.A1-S1.A4)
* `carecommunication_to_oioxml(bundle, context=...) -> OioxmlMessages` (typed) and
  `convert_carecommunication(bundle, context=...) -> OioxmlResult` (serialized + validated) (S2, S2.A1, S2.A2)
* `acknowledgement_to_xctl(ack, correlation, context=...) -> OioxmlResult` (S4, table 3)
* `xctl_to_acknowledgement(xdis91_receipt, xbin01_receipts, correlation, context=...) -> FhirResult | None` (S3,
  table 4; None = nothing is sent yet)
* `CorrelationRecord` (use cases §4.1): what the hub stores per conversion (`to_json`/`from_json`).
"""

from medcom_bridge.convert.context import (
    Context,
    ConversionError,
    FhirResult,
    OioxmlOutput,
    OioxmlResult,
)
from medcom_bridge.convert.correlation import CorrelationRecord, FhirParty, OioxmlLetter
from medcom_bridge.convert.fhir_to_oioxml import (
    OioxmlMessages,
    carecommunication_to_oioxml,
    convert_carecommunication,
)
from medcom_bridge.convert.oioxml_to_fhir import xdis91_to_carecommunication
from medcom_bridge.convert.receipts import (
    acknowledgement_code_for,
    acknowledgement_to_xctl,
    correlation_from_oioxml,
    correlation_from_xctls,
    receipt_outcome,
    xctl_to_acknowledgement,
    xctl_type_for,
)

__all__ = [
    "Context",
    "ConversionError",
    "CorrelationRecord",
    "FhirParty",
    "FhirResult",
    "OioxmlLetter",
    "OioxmlMessages",
    "OioxmlOutput",
    "OioxmlResult",
    "acknowledgement_code_for",
    "acknowledgement_to_xctl",
    "carecommunication_to_oioxml",
    "convert_carecommunication",
    "correlation_from_oioxml",
    "correlation_from_xctls",
    "receipt_outcome",
    "xctl_to_acknowledgement",
    "xctl_type_for",
    "xdis91_to_carecommunication",
]

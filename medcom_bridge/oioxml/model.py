"""Typed model of the legacy OIOXML messages: XDIS91, XBIN01 and the receipts XCTL01/02/03.

One frozen dataclass per OIOXML element group; field names are the element names in snake_case
(`EpisodeOfCareStatusCode` -> `episode_of_care_status_code`). Optional elements are `None` (never empty
strings: empty elements are invalid in OIOXML), repeated elements are tuples. Code values are kept as the
literal strings of the schema (`høj_prioritet`, `vektor_grafik` ...) so that a model read from a faulty
message can still be inspected and validated; the allowed values are in `codes.py`.

Times: OIOXML carries local Danish wall-clock time with minute precision and no timezone, so the model
uses naive `datetime` values (seconds are dropped when writing). A date read from the older schema edition
may carry a timezone; it is then kept as an aware `datetime` (the serializer writes no timezone).

Formatted text (`Text01`, `RefuseText`) is a `text.FormattedText` tree, normalised on construction
(adjacent strings merged, empty ones dropped) so that `parse(serialize(m)) == m` for every model with
naive, whole-minute datetimes and characters XML can carry.

The model is the contract with the converter: extend it, never rename.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from medcom_bridge.oioxml.text import FormattedText

# Namespaces (schema release dates) of the messages we read and write.
NS_2005 = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"  # receipts XCTL01/02/03
NS_2006 = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2006/07/01/"  # XDIS91 XD9134L
NS_2012 = "http://rep.oio.dk/medcom.dk/xml/schemas/2012/03/28/"  # XBIN01 XB0131X
NS_2020 = "http://rep.oio.dk/medcom.dk/xml/schemas/2020/05/06/"  # later copy of the receipt schemas

XDIS91_VERSION = "XD9134L"
XBIN01_VERSION = "XB0131X"
XCTL01_VERSION = "XC0130Q"
XCTL02_VERSION = "XC0230Q"
XCTL03_VERSION = "XC0330Q"

PLUS_POSITIVE_RECEIPT = "pluspositivkvitt"  # a positive receipt (XCTL03) is requested
MINUS_POSITIVE_RECEIPT = "minuspositivkvitt"  # no positive receipt requested; receipts carry this


# --------------------------------------------------------------------------------------------- envelope
@dataclass(frozen=True, slots=True)
class Envelope:
    """`Envelope`: when the Emessage was sent, its id ("KuvertNr", 1-14) and whether XCTL03 is wanted."""

    sent: dt.datetime
    identifier: str
    acknowledgement_code: str = PLUS_POSITIVE_RECEIPT


# --------------------------------------------------------------------------------------------- letters
@dataclass(frozen=True, slots=True)
class Letter:
    """`Letter` of XDIS91/XBIN01 (LetterType). `episode_of_care_identifier` exists only in XDIS91."""

    identifier: str
    version_code: str
    statistical_code: str
    authorisation: dt.datetime
    type_code: str
    status_code: str = "nytbrev"
    episode_of_care_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class Sender:
    """`Sender` of XDIS91 (SenderNoContactType) and XBIN01 (BinaryLetterSenderType): same fields."""

    ean_identifier: str
    identifier: str
    identifier_code: str
    organisation_name: str
    department_name: str | None = None
    unit_name: str | None = None
    street_name: str | None = None
    suburb_name: str | None = None
    district_name: str | None = None
    post_code_identifier: str | None = None
    telephone_subscriber_identifier: str | None = None
    medical_speciality_code: str | None = None


@dataclass(frozen=True, slots=True)
class Receiver:
    """`Receiver` (ReceiverType) of XDIS91 and XBIN01."""

    ean_identifier: str
    identifier: str
    identifier_code: str
    organisation_name: str | None = None
    department_name: str | None = None
    unit_name: str | None = None
    street_name: str | None = None
    suburb_name: str | None = None
    district_name: str | None = None
    post_code_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class CCReceiver:
    """`CCReceiver` (CCReceiverType). XD9134L does not allow it: the parser keeps it so that the validator
    can say so (rule xdis91-ccreceiver); the serializer refuses to write it."""

    identifier: str
    identifier_code: str
    organisation_name: str | None = None
    department_name: str | None = None
    unit_name: str | None = None
    street_name: str | None = None
    suburb_name: str | None = None
    district_name: str | None = None
    post_code_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    """`Patient` of XDIS91: exactly one of `civil_registration_number` (CPR, 10 digits) and
    `alternative_identifier` (10 characters) is set."""

    person_surname_name: str
    episode_of_care_status_code: str
    civil_registration_number: str | None = None
    alternative_identifier: str | None = None
    person_given_name: str | None = None
    street_name: str | None = None
    suburb_name: str | None = None
    district_name: str | None = None
    post_code_identifier: str | None = None
    occupancy_text: str | None = None


@dataclass(frozen=True, slots=True)
class BinaryLetterPatient:
    """`Patient` of XBIN01 (BinaryLetterPatientType): identifier and names only."""

    person_surname_name: str
    civil_registration_number: str | None = None
    alternative_identifier: str | None = None
    person_given_name: str | None = None


@dataclass(frozen=True, slots=True)
class AdditionalInformation:
    """`AdditionalInformation`: `priority` is `rutine` or `høj_prioritet`; `subject` 1-70 characters."""

    priority: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class ClinicalInformation:
    """`ClinicalInformation` of XDIS91: one `Text01`."""

    text01: FormattedText


@dataclass(frozen=True, slots=True)
class BinReference:
    """`Reference/BIN`: points at an XBIN01 object; `object_identifier` is its UUID without dashes."""

    object_identifier: str
    object_code: str
    object_extension_code: str
    original_object_size: int


@dataclass(frozen=True, slots=True)
class Reference:
    """`Reference`: a label and exactly one of `url`, `sup` (True = sent by other means) or `bin`."""

    ref_description: str
    url: str | None = None
    sup: bool = False
    bin: BinReference | None = None


@dataclass(frozen=True, slots=True)
class ClinicalEmail:
    """XDIS91 (`ClinicalEmail`, XD9134L)."""

    letter: Letter
    sender: Sender
    receiver: Receiver
    patient: Patient
    additional_information: AdditionalInformation | None = None
    clinical_information: tuple[ClinicalInformation, ...] = ()
    reference: tuple[Reference, ...] = ()
    cc_receiver: CCReceiver | None = None

    @property
    def text(self) -> str:
        """All `Text01` blocks as plain text, blocks joined by a newline."""
        return "\n".join(ci.text01.to_plain_text() for ci in self.clinical_information)


@dataclass(frozen=True, slots=True)
class BinaryObject:
    """`BinaryObject` of XBIN01. `object_identifier` is a dashed UUID; `object_base64_encoded` is the
    element text as read (line breaks allowed); `data` decodes it."""

    object_identifier: str
    object_code: str
    object_extension_code: str
    original_object_size: int
    object_base64_encoded: str

    @property
    def data(self) -> bytes:
        """The decoded bytes; raises ValueError with a clear message for invalid base64."""
        return decode_base64(self.object_base64_encoded)

    @classmethod
    def from_bytes(
        cls, object_identifier: str, object_code: str, object_extension_code: str, data: bytes
    ) -> BinaryObject:
        """Build an object from file bytes: size and base64 are computed (76-character lines)."""
        return cls(
            object_identifier=object_identifier,
            object_code=object_code,
            object_extension_code=object_extension_code,
            original_object_size=len(data),
            object_base64_encoded=base64.encodebytes(data).decode("ascii").rstrip("\n"),
        )


@dataclass(frozen=True, slots=True)
class BinaryLetter:
    """XBIN01 (`BinaryLetter`, XB0131X). Either `patient` or `system_information` (with `contents`)."""

    letter: Letter
    sender: Sender
    receiver: Receiver
    patient: BinaryLetterPatient | None
    binary_object: tuple[BinaryObject, ...]
    system_information: bool = False
    contents: str | None = None


# --------------------------------------------------------------------------------------------- receipts
@dataclass(frozen=True, slots=True)
class ReceiptLetter:
    """`Letter` of a receipt: no Authorisation, TypeCode or StatusCode."""

    identifier: str
    version_code: str
    statistical_code: str


@dataclass(frozen=True, slots=True)
class EanParty:
    """`Sender`, `Receiver`, `OriginalSender`, `OriginalReceiver` of a receipt: an EAN/GLN only."""

    ean_identifier: str


@dataclass(frozen=True, slots=True)
class OriginalLetter:
    """`OriginalLetter`: which letter the receipt answers; refuse fields only in negative receipts."""

    original_letter_identifier: str
    original_version_code: str
    refuse_code: str | None = None
    refuse_text: FormattedText | None = None


@dataclass(frozen=True, slots=True)
class OriginalEmessage:
    """`OriginalEmessage`: the answered Emessage. Negative receipts may carry the refusal here or on each
    `OriginalLetter` (readers must look at both; see `refusals`)."""

    original_envelope_identifier: str
    original_sender: EanParty
    original_receiver: EanParty
    original_letter: tuple[OriginalLetter, ...] = ()
    refuse_code: str | None = None
    refuse_text: FormattedText | None = None

    def refusals(self) -> tuple[tuple[str | None, FormattedText | None], ...]:
        """Every (refuse_code, refuse_text) pair given on either level, envelope level first."""
        pairs = [(self.refuse_code, self.refuse_text)] + [
            (ol.refuse_code, ol.refuse_text) for ol in self.original_letter
        ]
        return tuple(p for p in pairs if p != (None, None))


@dataclass(frozen=True, slots=True)
class PositiveReceipt:
    """XCTL03 (`PositiveReceipt`, XC0330Q): letter received OK."""

    letter: ReceiptLetter
    sender: EanParty
    receiver: EanParty
    original_emessage: OriginalEmessage


@dataclass(frozen=True, slots=True)
class NegativeReceipt:
    """XCTL02 (`NegativeReceipt`, XC0230Q): the receiving system rejected the letter."""

    letter: ReceiptLetter
    sender: EanParty
    receiver: EanParty
    original_emessage: OriginalEmessage


@dataclass(frozen=True, slots=True)
class NegativeVansReceipt:
    """XCTL01 (`NegativeVansReceipt`, XC0130Q): the network (VANS) could not deliver the letter."""

    letter: ReceiptLetter
    sender: EanParty
    receiver: EanParty
    original_emessage: OriginalEmessage


Receipt = PositiveReceipt | NegativeReceipt | NegativeVansReceipt
Body = ClinicalEmail | BinaryLetter | PositiveReceipt | NegativeReceipt | NegativeVansReceipt

B = TypeVar("B", ClinicalEmail, BinaryLetter, PositiveReceipt, NegativeReceipt, NegativeVansReceipt)

# The element name, message kind and default namespace of each body type.
BODY_ELEMENT: dict[type, str] = {
    ClinicalEmail: "ClinicalEmail",
    BinaryLetter: "BinaryLetter",
    PositiveReceipt: "PositiveReceipt",
    NegativeReceipt: "NegativeReceipt",
    NegativeVansReceipt: "NegativeVansReceipt",
}
BODY_KIND: dict[type, str] = {
    ClinicalEmail: "xdis91",
    BinaryLetter: "xbin01",
    NegativeVansReceipt: "xctl01",
    NegativeReceipt: "xctl02",
    PositiveReceipt: "xctl03",
}
DEFAULT_NAMESPACE: dict[type, str] = {
    ClinicalEmail: NS_2006,
    BinaryLetter: NS_2012,
    PositiveReceipt: NS_2005,
    NegativeReceipt: NS_2005,
    NegativeVansReceipt: NS_2005,
}


@dataclass(frozen=True, slots=True)
class Emessage(Generic[B]):
    """`Emessage`: the envelope and one letter (MedCom sends one letter per Emessage).

    `namespace` is the schema release the message was read from (or is written in); left empty it
    becomes the standard one for the body type. `local_elements` is the serialized `Local_Elements`
    element if one was present (kept, not interpreted).
    """

    envelope: Envelope
    body: B
    namespace: str = ""
    local_elements: bytes | None = field(default=None, compare=True)

    def __post_init__(self) -> None:
        if not self.namespace:
            object.__setattr__(self, "namespace", DEFAULT_NAMESPACE[type(self.body)])

    @property
    def kind(self) -> str:
        """`xdis91`, `xbin01`, `xctl01`, `xctl02` or `xctl03`."""
        return BODY_KIND[type(self.body)]

    @property
    def version_code(self) -> str:
        return self.body.letter.version_code


Xdis91 = Emessage[ClinicalEmail]
Xbin01 = Emessage[BinaryLetter]
AnyEmessage = (
    Emessage[ClinicalEmail]
    | Emessage[BinaryLetter]
    | Emessage[PositiveReceipt]
    | Emessage[NegativeReceipt]
    | Emessage[NegativeVansReceipt]
)


# --------------------------------------------------------------------------------------------- helpers
_WHITESPACE = str.maketrans("", "", " \t\r\n")


def _base64_chars_ok(text: str) -> bool:
    """Only base64 characters and blanks, with at most two '=' among the trailing blanks (the regex
    `[A-Za-z0-9+/ \\t\\r\\n]*(?:=[ \\t\\r\\n]*){0,2}`, at C speed: a regex scans a 10 MB object slowly)."""
    body = text.rstrip("= \t\r\n")
    return (
        text.isascii()
        and text.count("=", len(body)) <= 2
        and not body.encode("ascii").translate(None, _BASE64_BODY)
    )


_BASE64_BODY = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ \t\r\n"


def _compact(text: str) -> str:
    """`text` without blanks; most base64 has none, and `in` finds that at memchr speed."""
    if " " in text or "\n" in text or "\r" in text or "\t" in text:
        return text.translate(_WHITESPACE)
    return text


def decode_base64(text: str) -> bytes:
    """Decode standard base64 allowing XML whitespace/line breaks; ValueError names what is wrong."""
    compact = _compact(text)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not valid base64: {exc}") from None


def base64_size(text: str) -> int:
    """The number of bytes `text` decodes to, without decoding (the XBIN01 size check on big files);
    ValueError (same wording as `decode_base64`) when it is not standard base64."""
    if not _base64_chars_ok(text):
        raise ValueError(
            "not valid base64: only A-Z, a-z, 0-9, '+', '/', '=' padding and line breaks are allowed"
        )
    compact = _compact(text)
    if len(compact) % 4:
        raise ValueError(f"not valid base64: {len(compact)} characters is not a multiple of 4")
    if "=" in compact[:-2]:
        raise ValueError("not valid base64: '=' padding inside the data")
    return len(compact) // 4 * 3 - compact.count("=", len(compact) - 2)


def uuid_without_dashes(uuid: str) -> str:
    """XBIN01 object UUID -> the XDIS91 `Reference/BIN/ObjectIdentifier` form (32 hex, no dashes)."""
    return uuid.replace("-", "")


def uuid_with_dashes(hex32: str) -> str:
    """XDIS91 object id (32 hex) -> dashed 8-4-4-4-12 form used in XBIN01; other input is returned as is."""
    h = hex32.replace("-", "")
    if len(h) != 32:
        return hex32
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def same_object_id(a: str, b: str) -> bool:
    """Whether two object ids (dashed or not, any case) name the same XBIN01 object."""
    return uuid_without_dashes(a).lower() == uuid_without_dashes(b).lower()

"""What a CareCommunication says: text segments, attachments, category/topic/priority, acknowledgement issues.

Typed, frozen inputs for the builder; each checks its MedCom rule when made (`fhir-carecommunication.md`
§3, §7) and raises `BuildError` with the rule id and an example of a correct value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir.parties import Author, BuildError
from medcom_bridge.fhir.terminology import CATEGORIES, MIME_TYPES

# request-priority as MedCom restricts it, with the Danish we show (our wording: HL7 has no Danish).
PRIORITIES: Final = {"routine": "Rutine", "asap": "Hurtigst muligt (ASAP)"}

Priority = Literal["routine", "asap"]


def fhir_datetime(value: datetime, what: str) -> str:
    """A FHIR dateTime/instant with timezone (GOV: every dateTime carries one)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BuildError(
            "medcom-datetime-timezone", f"{what} must be timezone-aware (e.g. 2024-09-05T14:00:00+02:00)"
        )
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def clean_text(text: str, what: str) -> str:
    """Plain text for a FHIR string: line breaks as '\\n' (5.0 rule), no other control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = sorted(
        {f"U+{ord(c):04X}" for c in text if (ord(c) < 32 and c not in "\n\t") or 0xD800 <= ord(c) <= 0xDFFF}
    )
    if bad:
        raise BuildError(
            "fhir-string", f"{what} contains characters FHIR strings cannot carry: {', '.join(bad)}"
        )
    if not text.strip():
        raise BuildError("fhir-string", f"{what} must not be empty")
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class TextSegment:
    """One message text with its signature (payload:string, §3.3). `date` defaults to the build's `now`."""

    text: str
    author: Author
    date: datetime | None = None

    def __post_init__(self) -> None:
        # Frozen, but normalised once here so every later use sees '\n' line breaks.
        object.__setattr__(self, "text", clean_text(self.text, "text segment"))
        if self.date is not None:
            fhir_datetime(self.date, "segment date")


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """One file (base64 `data`) or web link (`url`) segment (payload:attachment, §3.3).

    `title` is sent exactly as given: MedCom forbids appending a file-type suffix automatically.
    """

    title: str
    content_type: str | None = None
    data: bytes | None = None
    url: str | None = None
    creation: datetime | None = None
    author: Author | None = None
    date: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", clean_text(self.title, "attachment title"))
        if (self.data is None) == (self.url is None):
            raise BuildError(
                "medcom-careCommunication-attachment",
                "an attachment is either an embedded file (data) or a link to a web page (url), exactly one",
            )
        if self.data is not None and not self.data:
            raise BuildError("medcom-careCommunication-attachment", "an embedded file must not be empty")
        if self.data is not None and self.content_type not in MIME_TYPES:
            raise BuildError(
                "medcom-core-attachmentMimeTypes",
                f"content type {self.content_type!r} is not allowed; use one of {sorted(MIME_TYPES)}",
            )
        if self.url is not None:
            if not re.match(r"https?://[^\s]+$", self.url):
                raise BuildError("medcom-careCommunication-attachment-url", "a link must be an http(s) URL")
            if self.content_type is not None and self.content_type not in MIME_TYPES:
                raise BuildError(
                    "medcom-core-attachmentMimeTypes",
                    f"content type {self.content_type!r} is not allowed; use one of {sorted(MIME_TYPES)}",
                )
        if self.creation is not None:
            fhir_datetime(self.creation, "attachment creation")
        if self.date is not None:
            fhir_datetime(self.date, "attachment date")


@dataclass(frozen=True, slots=True, kw_only=True)
class Classification:
    """Category (always shown), topic (free text, 'emne') and priority of a message (§3, inv-5, inv-6)."""

    category: str
    topic: str | None = None
    priority: Priority | None = None

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise BuildError(
                "medcom-careCommunication-categories",
                f"category {self.category!r} is unknown; use one of {', '.join(CATEGORIES)}",
            )
        if self.priority is not None:
            if self.priority not in PRIORITIES:
                raise BuildError(
                    "medcom-careCommunication-requestPriority", "priority must be 'routine' or 'asap'"
                )
            if self.category != "regarding-referral":
                raise BuildError(
                    "medcom-careCommunication-5",
                    "priority is only allowed with category 'regarding-referral'",
                )
        if self.topic is not None:
            object.__setattr__(self, "topic", clean_text(self.topic, "topic"))
        elif self.category == "other":
            raise BuildError("medcom-careCommunication-6", "category 'other' requires a topic")


# Acknowledgement (§7).
AckCode = Literal["ok", "transient-error", "fatal-error"]
ACK_CODES: Final = ("ok", "transient-error", "fatal-error")
ISSUE_SEVERITIES: Final = frozenset({"fatal", "error", "warning", "information"})
ISSUE_TYPES: Final = frozenset(
    {
        "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown", "expired",
        "forbidden", "suppressed", "processing", "not-supported", "duplicate", "multiple-matches", "not-found",
        "deleted", "too-long", "code-invalid", "extension", "too-costly", "business-rule", "conflict",
        "transient", "lock-error", "no-store", "exception", "timeout", "incomplete", "throttled",
        "informational",
    }
)  # fmt: skip
ISSUE_DETAILS_HL7: Final = frozenset(
    {
        "MSG_ID_INVALID", "MSG_ID_TOO_LONG", "MSG_BAD_FORMAT", "MSG_BAD_SYNTAX", "MSG_DATE_FORMAT",
        "MSG_DUPLICATE_ID", "MSG_INVALID_ID", "MSG_JSON_OBJECT", "MSG_LOCAL_FAIL", "MSG_NO_MATCH", "MSG_NO_EXIST",
        "MSG_NO_SUMMARY", "MSG_PARAM_INVALID", "MSG_PARAM_NO_REPEAT", "MSG_PARAM_UNKNOWN",
        "MSG_RESOURCE_ID_MISMATCH", "MSG_RESOURCE_ID_FAIL", "MSG_RESOURCE_ID_MISSING", "MSG_RESOURCE_NOT_ALLOWED",
        "MSG_RESOURCE_REQUIRED", "MSG_RESOURCE_TYPE_MISMATCH", "MSG_TRANSACTION_DUPLICATE_ID",
        "MSG_TRANSACTION_MISSING_ID", "MSG_UNKNOWN_TYPE", "MSG_VERSION_AWARE", "MSG_VERSION_AWARE_CONFLICT",
        "MSG_VERSION_AWARE_URL", "MSG_WRONG_NS",
    }
)  # fmt: skip
ISSUE_DETAILS_MEDCOM: Final = frozenset(
    {
        "MSG_Receiver_Identifier_UNKNOWN", "MSG_Receiver_Identifier_MISSING",
        "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE", "MSG_VALUESET_VALUE_UNKNOWN", "MSG_CodeSystem_VALUE_UNKNOWN",
        "MSG_Element_To_Long", "MSG_Datatype_Wrong", "MSG_Mailbox_Out_Of_Operation", "MSG_Damaged_durin_transport",
    }
)  # fmt: skip


def issue_detail_system(code: str) -> str:
    return url.CS_ACK_ERRORS if code in ISSUE_DETAILS_MEDCOM else url.CS_OPERATION_OUTCOME_ACK


@dataclass(frozen=True, slots=True, kw_only=True)
class Issue:
    """One OperationOutcome issue of a negative (or informative) acknowledgement.

    `detail` is a code from medcom-acknowledgement-issue-details; governance also allows a self-defined
    description, which goes in `text` (details.text).
    """

    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    detail: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in ISSUE_SEVERITIES:
            raise BuildError(
                "medcom-acknowledgement-issue", f"severity {self.severity!r} is not an issue severity"
            )
        if self.code not in ISSUE_TYPES:
            raise BuildError(
                "medcom-acknowledgement-issue",
                f"issue code {self.code!r} is not an R4 IssueType (e.g. 'structure')",
            )
        if self.detail is None and self.text is None:
            raise BuildError("medcom-acknowledgement-issue", "an issue needs a detail code or a text")
        if self.detail is not None and self.detail not in ISSUE_DETAILS_HL7 | ISSUE_DETAILS_MEDCOM:
            raise BuildError(
                "medcom-acknowledgement-issue-details",
                f"{self.detail!r} is not in medcom-acknowledgement-issue-details; e.g. 'MSG_VALUESET_VALUE_UNKNOWN',"
                " or describe the problem in `text`",
            )
        if self.text is not None:
            object.__setattr__(self, "text", clean_text(self.text, "issue text"))

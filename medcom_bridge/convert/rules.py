"""One function per mapping rule that is more than a copy. Each docstring names its sheet row or use-case section.

All functions are pure: strings and small values in, strings and small values out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from medcom_bridge.convert import tables, texts
from medcom_bridge.fhir import terminology
from medcom_bridge.localtime import COPENHAGEN

DANISH_TIME = COPENHAGEN  # MedCom's OIOXML times are Danish wall-clock time
_UUID32 = re.compile(r"^[0-9a-fA-F]{32}$")
_UUID36 = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --- Time ------------------------------------------------------------------------------------------------------
def fhir_datetime(local: datetime) -> str:
    """Rows "Date/Time for Message sent", "Authorisation date/time": OIOXML time -> FHIR dateTime.

    OIOXML has no timezone field; its times are Danish wall-clock time, so the offset (+01:00 or +02:00) is
    that of Europe/Copenhagen on that day. (An aware value read from the older schema edition is converted.)
    """
    moment = local.replace(tzinfo=DANISH_TIME) if local.tzinfo is None else local.astimezone(DANISH_TIME)
    return moment.replace(second=0, microsecond=0).isoformat(timespec="seconds")


def oioxml_datetime(value: str) -> datetime:
    """Rows "Date/Time for Message sent" (FHIR -> OIOXML): a FHIR dateTime/instant -> naive Danish local time.

    The newer schema edition takes dates without timezone and times as hh:mm; a value without an offset is
    taken as Danish time already, a date without time as midnight.
    """
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(DANISH_TIME).replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0)


# --- Identifiers -----------------------------------------------------------------------------------------------
def replacement_cpr_system(value: str) -> str:
    """Row "Patient alternative id": 7th character '1' or '7' is an X-eCPR, anything else a D-eCPR."""
    return tables.SYSTEM_X_ECPR if len(value) >= 7 and value[6] in "17" else tables.SYSTEM_D_ECPR


def uuid_with_dashes(value: str) -> str:
    """Rows "attachment id" and "Episode of care identifier": OIOXML carries UUIDs without dashes."""
    if _UUID32.match(value):
        v = value.lower()
        return f"{v[0:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:32]}"
    return value


def uuid_without_dashes(value: str) -> str:
    """Rows "attachment id" and "Episode of care identifier" (FHIR -> OIOXML): strip `urn:uuid:` and dashes."""
    bare = value.removeprefix("urn:uuid:")
    if _UUID36.match(bare):
        return bare.replace("-", "").lower()
    return bare


def is_uuid(value: str) -> bool:
    return bool(_UUID36.match(value.removeprefix("urn:uuid:")))


@dataclass(frozen=True, slots=True)
class PatientIds:
    """The identifiers that fit XDIS91's Patient segment, and those that must go into the text."""

    cpr: str | None
    alternative: str | None
    in_text: tuple[str, ...]


def choose_patient_identifiers(identifiers: Sequence[tuple[str, str]]) -> PatientIds:
    """Sheet "CareCommunication -> XDIS91", row "Patient id", and use case S2 remark 2.

    A CPR number wins the Patient segment and every replacement CPR goes into the text. Without a CPR, the
    national X-eCPR wins (it goes to AlternativeIdentifier) and the D-eCPR goes into the text. With a single
    replacement CPR it is the AlternativeIdentifier and nothing goes into the text.
    """
    cprs = [v for s, v in identifiers if s == tables.SYSTEM_CPR]
    x_ecprs = [v for s, v in identifiers if s == tables.SYSTEM_X_ECPR]
    d_ecprs = [v for s, v in identifiers if s.startswith(tables.SYSTEM_D_ECPR)]
    replacements = x_ecprs + d_ecprs
    if cprs:
        return PatientIds(cprs[0], None, tuple(cprs[1:] + replacements))
    if replacements:
        return PatientIds(None, replacements[0], tuple(replacements[1:]))
    return PatientIds(None, None, ())


def pick_episode_identifier(identifiers: Sequence[tuple[str, str]]) -> str | None:
    """Sheet "CareCommunication -> XDIS91", row "Episode of care identifier".

    With several identifiers, the LPR3 one is carried over, otherwise the first in the file; the value goes
    without dashes (and without `urn:uuid:`) into the 35-character EpisodeOfCareIdentifier.
    """
    if not identifiers:
        return None
    lpr3 = [v for s, v in identifiers if s == tables.SYSTEM_LPR3]
    return uuid_without_dashes(lpr3[0] if lpr3 else identifiers[0][1])


def episode_identifier_to_fhir(value: str, sender_endpoint: str | None) -> tuple[str, str]:
    """Row "Episode of care identifier" (XDIS91 -> FHIR): add the dashes back and choose the system.

    A UUID of version 5 is the national LPR3 identifier (`urn:uuid:` form); any other id is local to the
    sender, whose SOR endpoint is the recommended system (core IG, Encounter).
    """
    dashed = uuid_with_dashes(value)
    if is_uuid(dashed) and dashed[14] == "5" and dashed[19] in "89abAB":
        return tables.SYSTEM_LPR3, f"urn:uuid:{dashed}"
    return sender_endpoint or tables.SYSTEM_SOR, dashed


# --- Episode of care status (use cases §4.2) -------------------------------------------------------------------
def episode_status_to_fhir(code: str) -> tuple[str, str, bool]:
    """Use cases §4.2.1: EpisodeOfCareStatusCode -> (Encounter.class, Encounter.status, Patient.deceased)."""
    return tables.EPISODE_STATUS_TO_FHIR.get(code, tables.EPISODE_STATUS_TO_FHIR["inaktiv"])


def episode_status_from_fhir(encounter_class: str | None, status: str | None, deceased: bool) -> str:
    """Use cases §4.2.2: the table read backwards.

    `doed` needs Patient.deceased (the mapping sheet: "Hvis 'true', bør Episode of care status = doed");
    every combination not in the table, including no Encounter at all, maps to `inaktiv`;
    `ambulant_roentgen` cannot be produced (AMB/in-progress is `ambulant`).
    """
    if deceased:
        return "doed"
    if status == "in-progress" and encounter_class == "IMP":
        return "indlagt"
    if status == "in-progress" and encounter_class == "AMB":
        return "ambulant"
    return "inaktiv"


# --- Subject, topic, priority ------------------------------------------------------------------------------------
SUBJECT_MAX = 70


def topic_from_subject(subject: str | None) -> str:
    """Row "Subject" (XDIS91 -> FHIR): Subject, or `Ukendt emne` when it is missing or blank."""
    return subject.strip() if subject and subject.strip() else texts.UNKNOWN_TOPIC


def subject_from_category_and_topic(category: str | None, topic: str | None) -> str | None:
    """Row "Category" (FHIR -> XDIS91): category and topic comma-separated into Subject, at most 70 characters.

    The category is written as its Danish display (as MedCom's Flow3: "Vedr. henvisning, Undersøgelser ...").
    Our choice: category `other` ("Andet") carries no information and is the default the reverse direction
    inserts, so it is left out; a Subject is then the topic alone, and an XDIS91 Subject survives a round trip.
    """
    parts: list[str] = []
    if category and category != "other":
        parts.append(terminology.CATEGORIES.get(category, category))
    if topic and topic.strip():
        parts.append(" ".join(topic.split()))  # Subject is one line
    if not parts:
        return None
    return truncate(", ".join(parts), SUBJECT_MAX)


def priority_sentence(priority: str | None) -> str | None:
    """Row "Priority" (XDIS91 -> FHIR): priority is only allowed with category regarding-referral, and the
    converted message has category `other`; a high priority therefore becomes a sentence in the text."""
    return texts.HIGH_PRIORITY_SENTENCE if priority == "høj_prioritet" else None


def priority_to_oioxml(category: str | None, priority: str | None) -> str | None:
    """Row "Priority" (FHIR -> XDIS91): only with category regarding-referral; asap is høj_prioritet."""
    if category != "regarding-referral" or priority is None:
        return None
    return {"asap": "høj_prioritet", "routine": "rutine"}.get(priority)


# --- Organisation and contact ----------------------------------------------------------------------------------
def organisation_name(*parts: str | None) -> str | None:
    """Rows "Sender organization name/department/unit": the names go into one Organization.name."""
    names = [p.strip() for p in parts if p and p.strip()]
    return ", ".join(names) if names else None


def author_contact(letter_phone: str | None, register_phone: str | None) -> str:
    """Row "Sender telephone": the letter's phone, else the one in SOR, else `0000 0000` (use case S1 remark 3)."""
    for phone in (letter_phone, register_phone):
        if phone and phone.strip():
            return phone.strip()
    return texts.PHONE_FALLBACK


def identifier_code_for_system(system: str) -> str | None:
    """Row "Receiver identifier type": SOR -> sorkode, KOMBIT-ORG-ID -> kommunenummer, Ydernummer -> ydernummer."""
    return {
        tables.SYSTEM_SOR: "sorkode",
        tables.SYSTEM_KOMBIT: "kommunenummer",
        tables.SYSTEM_YDERNUMMER: "ydernummer",
    }.get(system)


# --- Attachments -----------------------------------------------------------------------------------------------
def content_type_for_extension(extension: str | None) -> str:
    """Row "attachment extension code" (XDIS91/XBIN01 -> FHIR): ObjectExtensionCode -> contentType."""
    return tables.EXTENSION_TO_MIME.get((extension or "").lower(), "application/octet-stream")


def extension_for_content_type(content_type: str | None, *, xdis91: bool = False) -> str:
    """Row "attachment extension code" (FHIR -> XDIS91/XBIN01): contentType -> ObjectExtensionCode."""
    mime = (content_type or "").split(";")[0].strip().lower()
    ext = tables.MIME_TO_EXTENSION.get(mime, tables.FALLBACK_EXTENSION)
    if xdis91 and ext not in tables.XDIS91_EXTENSIONS:
        return tables.FALLBACK_EXTENSION
    return ext


def object_code_for_extension(extension: str) -> str:
    """Use cases §4.6.2 (ObjectCode): image types -> billede, application/pdf -> vektor_grafik; the other XBIN01
    extensions as OS2korrespondance classifies them."""
    return tables.EXTENSION_TO_OBJECT_CODE.get(extension, "proprietaert_indhold")


def decoded_size(base64_text: str) -> int:
    """Use cases §4.6.1: the size of the decoded attachment, computed from the base64 text without decoding it."""
    n = len(base64_text)
    if "\n" in base64_text or "\r" in base64_text or " " in base64_text:  # `in` is far cheaper than count
        n -= base64_text.count("\n") + base64_text.count("\r") + base64_text.count(" ")
    if n <= 0:
        return 0
    padding = 2 if base64_text.rstrip().endswith("==") else 1 if base64_text.rstrip().endswith("=") else 0
    return (n // 4) * 3 - padding


# --- Receipts --------------------------------------------------------------------------------------------------
def negative_receipt_text(
    original: str | None, hub_text: str | None, limit: int = tables.REFUSE_TEXT_MAX
) -> str:
    """Use cases §4.4: the hub's reason is added to the receiver's text; when too long, the receiver's text is
    shortened, never the hub's."""
    original = (original or "").strip()
    if not hub_text:
        return truncate(original, limit)
    room = limit - len(hub_text) - 1
    if not original:
        return hub_text
    if room <= 0:
        return hub_text[:limit]
    return f"{truncate(original, room)} {hub_text}"


# --- Small helpers ---------------------------------------------------------------------------------------------
def truncate(value: str, limit: int) -> str:
    """Cut to the schema's maximum length (callers report a warning when they truncate)."""
    return value if len(value) <= limit else value[:limit].rstrip()

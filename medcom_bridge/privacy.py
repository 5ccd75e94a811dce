"""Patient data out of messages: the one place that decides what a finding may quote.

Findings, failure reasons and logs say which rule failed, where, and what was expected; they quote the value
found only when it cannot be patient data. Patient data is a CPR number (or replacement CPR), a name, an
address, a phone number or text a clinician wrote. Two defences, both pure:

* `quote(value, path)`: how a validator shows a found value. Under a patient field (`is_patient_field`) the
  value is never shown: a CPR-like value keeps only its shape (`25xxxx-xxxx`, so "no dash" stays
  explainable), anything else becomes "the value".
* `scrub(text)`: masks every CPR-shaped number in a text, wherever it came from (an identifier someone filled
  with a CPR number, an exception message). The finding constructors apply it to every message.

Names and letter text cannot be recognised in free text, so `quote` at the source is the defence for them;
`scrub` is the net for CPR numbers that turn up where no one expected them.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from medcom_bridge.identifiers import CPR_DDMM

# DDMMYY, an optional dash or space, then the four digits of a CPR number or the tail of a replacement CPR
# (X-eCPR/D-eCPR: a digit, two capitals, a digit). Not part of a longer number: EANs (13 digits), SOR codes and
# timestamps stay readable.
_CPR_SHAPED: Final = re.compile(
    rf"(?<![0-9])({CPR_DDMM}[0-9]{{2}})([- ]?)([0-9]{{4}}|[0-9][A-Z]{{2}}[0-9])(?![0-9])"
)
_SIX_DIGITS: Final = re.compile(r"[0-9]{6}")
# A value a CPR field may hold or almost hold: digits with separators, short.
_CPR_LIKE: Final = re.compile(r"[0-9][0-9 \-]{0,19}")

# OIOXML elements (a step of a slash path) whose content is patient data or free clinical text.
_OIOXML_PATIENT_STEPS: Final = frozenset(
    {
        "Patient",  # CPR, alternative identifier, names, address, occupancy
        "Relative",
        "ClinicalInformation",  # the letter text (Text01)
        "Text01",
        "RefDescription",  # an attachment's description, written by the clinician
        "Subject",  # the letter's subject line
        "RefuseText",  # a receipt's free text, which may quote the letter
    }
)
# FHIR resources that are the patient (every element is patient data).
_FHIR_PATIENT_RESOURCES: Final = frozenset({"Patient", "RelatedPerson"})
# FHIR elements with clinical free text, by the resource they belong to.
_FHIR_TEXT_ELEMENTS: Final = {
    "Communication": ("payload", "note", "topic"),
}
_STEP_INDEX: Final = re.compile(r"\[[0-9]+\]")

THE_VALUE: Final = "the value"


def mask_cpr(value: str) -> str:
    """The shape of a CPR-like value without the person: the first two digits (the day of the month) stay,
    every other letter or digit becomes `x`; separators stay. `'251248-9996'` -> `'25xxxx-xxxx'`."""
    head, tail = value[:2], value[2:]
    return head + "".join("x" if c.isalnum() else c for c in tail)


def scrub(text: str) -> str:
    """`text` with every CPR-shaped number (or replacement CPR) masked as by `mask_cpr`."""
    if _SIX_DIGITS.search(text) is None:  # the common case, and 3-5x cheaper than the full pattern
        return text
    return _CPR_SHAPED.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    return mask_cpr(match.group(1)) + match.group(2) + "x" * len(match.group(3))


def is_patient_field(path: str) -> bool:
    """Whether the element at `path` holds patient data or clinical free text.

    Paths are OIOXML slash paths (`ClinicalEmail/Patient/CivilRegistrationNumber`, with or without the
    envelope's `VANSEnvelope/Message/Data/` in front) or FHIR paths starting with the resource type
    (`Patient.name[0].family`, `Communication.payload[1].contentString`); `fhir_path` turns a bundle path
    into the latter. Any resource's narrative (`text.div`) counts: generated narratives repeat the patient.
    """
    if "/" in path or "." not in path:
        return any(_STEP_INDEX.sub("", step) in _OIOXML_PATIENT_STEPS for step in path.split("/"))
    steps = [_STEP_INDEX.sub("", step) for step in path.split(".")]
    resource, rest = steps[0], steps[1:]
    if resource in _FHIR_PATIENT_RESOURCES:
        return True
    if rest[:1] == ["text"]:
        return True
    return bool(rest) and rest[0] in _FHIR_TEXT_ELEMENTS.get(resource, ())


def fhir_path(resource_type: str, entry_path: str, path: str) -> str:
    """A bundle path (`Bundle.entry[1].resource.name[0]`) as `is_patient_field` reads it (`Patient.name[0]`)."""
    if resource_type and path.startswith(entry_path):
        return resource_type + path[len(entry_path) :]
    return path


def quote(value: str, path: str, limit: int = 60) -> str:
    """How a message shows a found value: quoted (and shortened) unless `path` is a patient field; there a
    CPR-like value shows its masked shape and anything else is "the value"."""
    if is_patient_field(path):
        return masked(value)
    shown = value if len(value) <= limit else value[:limit] + "…"
    return repr(scrub(shown))


def masked(value: str) -> str:
    """A patient value as a message may show it: its CPR shape, or "the value"."""
    if _CPR_LIKE.fullmatch(value.strip()):
        return repr(mask_cpr(value.strip()))
    return THE_VALUE


class ScrubLogFilter(logging.Filter):
    """A logging filter that masks CPR numbers in every record (message and arguments, formatted once).

    Install it on the handlers of a process that handles letters (`handler.addFilter(ScrubLogFilter())`):
    a library's log line (a database driver quoting parameters, an exception text) then cannot carry one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as it always does
            return True
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


# -- one letter's patient ----------------------------------------------------------------------------------
# Names cannot be recognised in free text in general, but a receiver's refusal answers one known letter: its
# patient's names and identifiers can be masked in what the receiver wrote (`mask_patient`).
_OIOXML_IDENTITY: Final = frozenset(
    {"PersonSurnameName", "PersonGivenName", "CivilRegistrationNumber", "AlternativeIdentifier"}
)
_FHIR_IDENTITY: Final = frozenset({"family", "given"})
PATIENT_MASK: Final = "[patient]"


def patient_identity(payload: bytes) -> frozenset[str]:
    """The patient's names and identifiers in a letter (OIOXML XDIS91/XBIN01, FHIR XML or JSON; the payload
    without its envelope). Anything unreadable has none: this only ever adds masking."""
    from medcom_bridge.xmlsafe import XmlError, local_name, parse_xml

    found: list[str] = []
    if payload.lstrip()[:1] == b"{":
        import json

        try:
            bundle = json.loads(payload)
        except ValueError:
            return frozenset()
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
                found += _fhir_json_identity(resource)
    else:
        try:
            root = parse_xml(payload)
        except XmlError:
            return frozenset()
        for patient in root.iter("{*}Patient"):
            for element in patient.iter():
                name = local_name(element.tag)
                if name in _OIOXML_IDENTITY and element.text:
                    found.append(element.text)
                elif name in _FHIR_IDENTITY or (
                    name == "value" and local_name(getattr(element.getparent(), "tag", None)) == "identifier"
                ):
                    found.append(element.get("value") or "")
    return frozenset(v.strip() for v in found if v and v.strip())


def _fhir_json_identity(patient: dict[str, object]) -> list[str]:
    found: list[str] = []
    for name in _list(patient.get("name")):
        if isinstance(name, dict):
            found += [name["family"]] if isinstance(name.get("family"), str) else []
            found += [g for g in _list(name.get("given")) if isinstance(g, str)]
    for identifier in _list(patient.get("identifier")):
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            found.append(identifier["value"])
    return found


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def mask_patient(text: str, identity: frozenset[str]) -> str:
    """`text` with each word of the patient's names (as a whole word, any case) replaced by `[patient]` and
    each identifier masked as by `mask_cpr`."""
    words = {w for value in identity for w in value.split() if len(w) > 1 and not w.isdigit()}
    numbers = {value for value in identity if any(c.isdigit() for c in value) and len(value) >= 4}
    for number in sorted(numbers, key=len, reverse=True):
        text = text.replace(number, mask_cpr(number))
    if not words:
        return text
    pattern = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", PATIENT_MASK, text, flags=re.IGNORECASE)

"""Validate XDIS91, XBIN01 and XCTL01/02/03: MedCom's schemas restated in our code, plus the rule book.

Two layers, one report:
* schema rules (`schema.py`): everything the official XSDs reject, with the element path and the
  expected value. A namespace with two schema editions (current os2korrespondance, older EDIFACT
  converter 2015) is judged by the current one first; a document valid only under the older edition is
  accepted with warnings naming what the current edition would reject (oioxml-legacy.md decisions:
  "accept input valid against either").
* semantic rules (this module): the MedCom conventions the XSD cannot express — statistical codes,
  the XDIS91 <-> XBIN01 object-id format, object sizes, GLN check digits, no CCReceiver, one letter per
  Emessage, receipts without receipt request, the 31,150-character text limit (a warning only).

Rule ids: `<kind>-<element>` for a bad value, `<kind>-structure` for elements, `<kind>-text` for stray
text, `encoding-mismatch`, `oioxml-*` for message-level problems.
"""

from __future__ import annotations

import re

from lxml import etree

from medcom_bridge.findings import Finding, Report, error, information, warning
from medcom_bridge.identifiers import gln_ok
from medcom_bridge.oioxml.codec import (
    OioxmlError,
    build_message,
    build_tree,
    read_root,
    unsupported_message,
)
from medcom_bridge.oioxml.model import (
    AnyEmessage,
    BinaryLetter,
    ClinicalEmail,
    Emessage,
    NegativeReceipt,
    NegativeVansReceipt,
    PositiveReceipt,
    base64_size,
    same_object_id,
    uuid_without_dashes,
)
from medcom_bridge.oioxml.schema import BODIES, EDITIONS, OLDER_EDITIONS, Checker, Values, emessage_for
from medcom_bridge.oioxml.text import length_bound, plain_length
from medcom_bridge.xmlsafe import XmlError

TEXT_LIMIT = 31_150  # 2,800 + 9 x 3,150: the EDIFACT-derived letter limit (oioxml-legacy.md a.2)

# Rules that are MedCom conventions beyond the XSD (kept apart when comparing with lxml XMLSchema).
SEMANTIC_RULES = frozenset(
    {
        "encoding-mismatch",
        "oioxml-one-letter",
        "xdis91-xbin01-pair",
        "xdis91-statistical-code-convention",
        "xdis91-ean",
        "xdis91-ccreceiver",
        "xdis91-episode-of-care-dashes",
        "xdis91-bin-object-identifier",
        "xdis91-duplicate-object",
        "xdis91-text-length",
        "xbin01-statistical-code-convention",
        "xbin01-ean",
        "xbin01-duplicate-object",
        "xbin01-base64",
        "xbin01-object-size",
    }
    | {
        f"xctl0{n}-{rule}"
        for n in (1, 2, 3)
        for rule in ("statistical-code-convention", "acknowledgement", "refuse")
    }
)

_KIND_OF_BODY = {"ClinicalEmail": "xdis91", "BinaryLetter": "xbin01"}
_HEX32 = re.compile(r"[0-9A-Fa-f]{32}")


def is_semantic(rule: str) -> bool:
    return rule in SEMANTIC_RULES


def validate_bytes(data: bytes) -> Report:
    """Validate one OIOXML document; never raises for bad input."""
    try:
        root, notes = read_root(data)
    except XmlError as exc:
        return Report(
            "unknown", None, (error(exc.rule, f"line {exc.line}" if exc.line else "/", exc.message),)
        )
    return validate_element(root, notes, data)


def validate_element(
    root: etree._Element, notes: tuple[Finding, ...] = (), data: bytes | None = None
) -> Report:
    """Validate a parsed document; `data` (its bytes) only speeds up the attribute check."""
    tag = root.tag if isinstance(root.tag, str) else ""
    ns = tag[1:].partition("}")[0] if tag.startswith("{") else ""
    root_name = _local(tag)
    body = _body_name(root)
    kind = _kind(ns, body)
    if root_name != "Emessage":
        return Report(
            kind,
            _version(root),
            (*notes, error("oioxml-root", "/", f"root element is {root_name!r}; expected Emessage")),
        )
    if ns not in BODIES or body not in BODIES[ns]:
        return Report(
            kind,
            _version(root),
            (*notes, error("oioxml-unsupported", body or "Emessage", unsupported_message(ns, body))),
        )
    schema_findings, values = check_schema(root, ns, body, kind, data)
    letter = values.get(body, {}).get("Letter") if isinstance(values.get(body), dict) else None
    version = letter.get("VersionCode") if isinstance(letter, dict) else _version(root)
    findings = list(notes) + older_edition(ns, body) + schema_findings
    if not any(f.severity == "error" for f in schema_findings):
        extra_letters = [name for name, _ in values.get("#extra", ()) if name == body]
        if extra_letters:
            findings.append(
                error(
                    "oioxml-one-letter",
                    "Emessage",
                    f"the Emessage holds {len(extra_letters) + 1} letters; MedCom sends one letter per Emessage "
                    "and so do we — split them into separate Emessages",
                )
            )
            return Report(kind, version, tuple(findings))
        try:
            message = build_message(ns, body, values)
        except OioxmlError as exc:
            findings.append(error(exc.rule, exc.path, exc.message))
        else:
            findings += semantic_findings(message)
    return Report(kind, version, tuple(findings))


def check_schema(
    root: etree._Element, ns: str, body: str, kind: str, data: bytes | None = None
) -> tuple[list[Finding], Values]:
    """Schema findings under the strictest edition that accepts the document (see module docstring),
    and the values collected on the way."""
    first: list[Finding] | None = None
    first_values: Values = {}
    for edition in EDITIONS[ns]:
        checker = Checker(kind, ns, edition)
        checker.check_attributes(root, data)
        values = checker.complex(root, emessage_for(ns, body, edition.local_elements), "")
        found = checker.findings
        if first is None:
            first, first_values = found, values
        if not found:
            if found is first:
                return [], values
            label = edition.label
            return [
                warning(
                    f.rule, f.path, f"{f.message} — accepted only because the {label} of the schema allows it"
                )
                for f in first
            ], values
    return first or [], first_values


def older_edition(ns: str, body: str) -> list[Finding]:
    """A warning naming the version when the letter is in an edition older than the one we write."""
    if (ns, body) not in OLDER_EDITIONS:
        return []
    version, current = OLDER_EDITIONS[ns, body]
    return [
        warning(
            "oioxml-older-edition",
            f"{body}/Letter/VersionCode",
            f"{_KIND_OF_BODY[body].upper()} {version} (namespace {ns}) is an older edition: checked against "
            f"its own schema and converted like {current}, the current edition (the one medcom-bridge writes)",
        )
    ]


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _body_name(root: etree._Element) -> str:
    for child in root:
        name = _local(child.tag)
        if name and name not in ("Envelope", "Local_Elements"):
            return name
    return ""


def _kind(ns: str, body: str) -> str:
    if body in _KIND_OF_BODY:
        return _KIND_OF_BODY[body]
    for bodies in BODIES.values():
        if body in bodies:
            return bodies[body][0]
    return "unknown"


def _version(root: etree._Element) -> str | None:
    for child in root:
        name = _local(child.tag)
        if name and name not in ("Envelope", "Local_Elements"):
            for letter in child:
                if _local(letter.tag) == "Letter":
                    for v in letter:
                        if _local(v.tag) == "VersionCode":
                            return (v.text or "").strip() or None
            return None
    return None


def validate_message(message: AnyEmessage) -> Report:
    """Validate a model (e.g. one we are about to send): schema rules on its XML form, then semantic rules."""
    kind = message.kind
    try:
        root = build_tree(message)
    except OioxmlError as exc:
        return Report(kind, message.version_code, (error(exc.rule, exc.path, exc.message),))
    body = _body_name(root)
    findings: list[Finding]
    if message.namespace in BODIES and body in BODIES[message.namespace]:
        findings = (
            older_edition(message.namespace, body) + check_schema(root, message.namespace, body, kind)[0]
        )
    else:
        findings = [error("oioxml-unsupported", body, unsupported_message(message.namespace, body))]
    findings += semantic_findings(message)
    return Report(kind, message.version_code, tuple(findings))


# ------------------------------------------------------------------------------------ semantic rules
def semantic_findings(message: AnyEmessage) -> list[Finding]:
    body = message.body
    if isinstance(body, ClinicalEmail):
        return _xdis91_rules(body)
    if isinstance(body, BinaryLetter):
        return _xbin01_rules(body)
    return _receipt_rules(message.kind, message.envelope.acknowledgement_code, body)


def _statistical_code(kind: str, path: str, value: str) -> list[Finding]:
    expected = kind.upper()
    if value != expected:
        return [
            warning(
                f"{kind}-statistical-code-convention",
                path,
                f"{value!r} is not the usual statistical code; MedCom's {expected} letters carry {expected!r}",
            )
        ]
    return []


def _ean_rules(kind: str, path: str, ean: str) -> list[Finding]:
    if gln_ok(ean):
        return []
    return [
        information(
            f"{kind}-ean",
            path,
            f"{ean!r} is not a 13-digit location number (GLN) with a valid check digit; "
            "VANS routes on it, check the SOR-EDI registration",
        )
    ]


def _xdis91_rules(m: ClinicalEmail) -> list[Finding]:
    out = _statistical_code("xdis91", "ClinicalEmail/Letter/StatisticalCode", m.letter.statistical_code)
    out += _ean_rules("xdis91", "ClinicalEmail/Sender/EANIdentifier", m.sender.ean_identifier)
    out += _ean_rules("xdis91", "ClinicalEmail/Receiver/EANIdentifier", m.receiver.ean_identifier)
    if m.cc_receiver is not None:
        out.append(
            error(
                "xdis91-ccreceiver",
                "ClinicalEmail/CCReceiver",
                "XD9134L has no CCReceiver; send a separate letter to the copy receiver",
            )
        )
    episode = m.letter.episode_of_care_identifier
    if episode is not None and "-" in episode:
        out.append(
            warning(
                "xdis91-episode-of-care-dashes",
                "ClinicalEmail/Letter/EpisodeOfCareIdentifier",
                f"{episode!r} contains dashes; XDIS91 conveys the episode-of-care UUID without dashes "
                f"({episode.replace('-', '')!r})",
            )
        )
    seen: set[str] = set()
    for i, ref in enumerate(m.reference, 1):
        if ref.bin is None:
            continue
        path = f"ClinicalEmail/Reference[{i}]/BIN/ObjectIdentifier"
        oid = ref.bin.object_identifier
        if _HEX32.fullmatch(oid) is None:
            out.append(
                warning(
                    "xdis91-bin-object-identifier",
                    path,
                    f"{oid!r} is not a UUID without dashes (32 hex digits); the XBIN01 object it points at "
                    "cannot be matched (XBIN01 ObjectIdentifier = this id with dashes)",
                )
            )
        key = uuid_without_dashes(oid).lower()
        if key in seen:
            out.append(warning("xdis91-duplicate-object", path, f"{oid!r} is referenced twice"))
        seen.add(key)
    bound = sum(length_bound(ci.text01.content) for ci in m.clinical_information)
    length = sum(plain_length(ci.text01) for ci in m.clinical_information) if bound > TEXT_LIMIT else bound
    if length > TEXT_LIMIT:
        out.append(
            warning(
                "xdis91-text-length",
                "ClinicalEmail/ClinicalInformation",
                f"the letter text has {length:,} characters, above the EDIFACT-derived limit of {TEXT_LIMIT:,}; "
                "receivers agreed to accept it during the conversion period, but an EDIFACT receiver may cut it",
            )
        )
    return out


def _xbin01_rules(m: BinaryLetter) -> list[Finding]:
    out = _statistical_code("xbin01", "BinaryLetter/Letter/StatisticalCode", m.letter.statistical_code)
    out += _ean_rules("xbin01", "BinaryLetter/Sender/EANIdentifier", m.sender.ean_identifier)
    out += _ean_rules("xbin01", "BinaryLetter/Receiver/EANIdentifier", m.receiver.ean_identifier)
    seen: set[str] = set()
    for i, o in enumerate(m.binary_object, 1):
        path = f"BinaryLetter/BinaryObject[{i}]"
        key = uuid_without_dashes(o.object_identifier).lower()
        if key in seen:
            out.append(
                error(
                    "xbin01-duplicate-object",
                    f"{path}/ObjectIdentifier",
                    f"{o.object_identifier!r} occurs twice",
                )
            )
        seen.add(key)
        try:
            size = base64_size(o.object_base64_encoded)
        except ValueError as exc:
            out.append(
                error("xbin01-base64", f"{path}/Object_Base64Encoded", f"{exc}; expected standard base64")
            )
            continue
        if size != o.original_object_size:
            out.append(
                error(
                    "xbin01-object-size",
                    f"{path}/OriginalObjectSize",
                    f"{o.original_object_size} does not match the {size} bytes in Object_Base64Encoded; "
                    f"write {size}",
                )
            )
    return out


def _receipt_rules(
    kind: str, ack: str, m: PositiveReceipt | NegativeReceipt | NegativeVansReceipt
) -> list[Finding]:
    name = type(m).__name__
    out = _statistical_code(kind, f"{name}/Letter/StatisticalCode", m.letter.statistical_code)
    if ack != "minuspositivkvitt":
        out.append(
            warning(
                f"{kind}-acknowledgement",
                "Envelope/AcknowledgementCode",
                f"{ack!r}: a receipt must not ask for a receipt; use 'minuspositivkvitt'",
            )
        )
    if not isinstance(m, PositiveReceipt) and not m.original_emessage.refusals():
        out.append(
            information(
                f"{kind}-refuse",
                f"{name}/OriginalEmessage",
                "no RefuseCode on the OriginalEmessage or any OriginalLetter; read as 'ikke_specificeret'",
            )
        )
    return out


def validate_pair(xdis91: Emessage[ClinicalEmail], xbin01: Emessage[BinaryLetter]) -> Report:
    """Check that an XBIN01 carries exactly the objects its XDIS91 references (rule xdis91-xbin01-pair)."""
    findings: list[Finding] = []
    rule = "xdis91-xbin01-pair"
    refs = [(i, r.bin) for i, r in enumerate(xdis91.body.reference, 1) if r.bin is not None]
    objects = list(enumerate(xbin01.body.binary_object, 1))
    for i, ref in refs:
        match = next(
            (o for _, o in objects if same_object_id(o.object_identifier, ref.object_identifier)), None
        )
        path = f"ClinicalEmail/Reference[{i}]/BIN"
        if match is None:
            findings.append(error(rule, path, f"object {ref.object_identifier!r} is not in the XBIN01"))
            continue
        for field_name in ("object_code", "object_extension_code", "original_object_size"):
            a, b = getattr(ref, field_name), getattr(match, field_name)
            if a != b:
                findings.append(
                    warning(rule, f"{path}", f"{field_name} is {a!r} in the XDIS91 but {b!r} in the XBIN01")
                )
    for j, o in objects:
        if not any(same_object_id(o.object_identifier, r.object_identifier) for _, r in refs):
            findings.append(
                error(
                    rule,
                    f"BinaryLetter/BinaryObject[{j}]",
                    f"object {o.object_identifier!r} is not referenced by the XDIS91",
                )
            )
    p, q = xdis91.body.patient, xbin01.body.patient
    if q is not None and (p.civil_registration_number, p.alternative_identifier) != (
        q.civil_registration_number,
        q.alternative_identifier,
    ):
        findings.append(error(rule, "BinaryLetter/Patient", "the patient differs from the XDIS91's"))
    if xdis91.body.sender.ean_identifier != xbin01.body.sender.ean_identifier:
        findings.append(
            error(rule, "BinaryLetter/Sender/EANIdentifier", "the sender differs from the XDIS91's")
        )
    if xdis91.body.receiver.ean_identifier != xbin01.body.receiver.ean_identifier:
        findings.append(
            error(rule, "BinaryLetter/Receiver/EANIdentifier", "the receiver differs from the XDIS91's")
        )
    return Report("xdis91", xdis91.version_code, tuple(findings))

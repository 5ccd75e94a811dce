"""CareCommunication (4.0 or 5.0; new, reply or forward) -> XDIS91 + one XBIN01 holding all attachments
(use cases S2, S2.A1, S2.A2; sheets "CareCommunication -> XDIS91" and "CareCommunicat -> XDIS91+MedBin").

`carecommunication_to_oioxml` is pure: the Bundle (JSON object model), a register and id factories in; the
typed OIOXML messages, the correlation record and findings out. `convert_carecommunication` adds
serialization and validation of every produced document.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medcom_bridge.convert import rules, tables, texts
from medcom_bridge.convert.context import Context, ConversionError, OioxmlOutput, OioxmlResult
from medcom_bridge.convert.correlation import CorrelationRecord, FhirParty, OioxmlLetter
from medcom_bridge.convert.fhirview import (
    BundleView,
    as_dict,
    as_list,
    code_of,
    extension_value,
    human_name,
    identifier,
    identifiers,
)
from medcom_bridge.convert.plaintext import formatted
from medcom_bridge.convert.validate import validate_oioxml_output
from medcom_bridge.fhir import terminology
from medcom_bridge.findings import Finding, Report, information, warning
from medcom_bridge.oioxml.codec import serialize
from medcom_bridge.oioxml.model import (
    AdditionalInformation,
    BinaryLetter,
    BinaryLetterPatient,
    BinaryObject,
    BinReference,
    ClinicalEmail,
    ClinicalInformation,
    Emessage,
    Envelope,
    Letter,
    Patient,
    Receiver,
    Reference,
    Sender,
)

Json = dict[str, Any]

#: Schema limits (oioxml-legacy.md a.1, b): references per XDIS91 and objects per XBIN01.
MAX_REFERENCES = 10
MAX_OBJECTS = 10


@dataclass(frozen=True, slots=True)
class OioxmlMessages:
    """The typed result of the mapping, before serialization."""

    xdis91: Emessage[ClinicalEmail]
    xbin01: tuple[Emessage[BinaryLetter], ...]
    correlation: CorrelationRecord
    findings: tuple[Finding, ...]


@dataclass(slots=True)
class _Segment:
    when: str
    text: str
    author: str | None
    role: str | None
    phone: str | None
    sender: str | None
    identifier: str | None


def _fit(value: str | None, limit: int, path: str, findings: list[Finding]) -> str | None:
    """Schema maximum lengths: cut and say so (never silently)."""
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > limit:
        findings.append(
            warning(
                "convert-truncated", path, f"{len(value)} characters cut to the schema's maximum of {limit}"
            )
        )
        return rules.truncate(value, limit)
    return value


def _activity(view: BundleView, header_id: str | None) -> tuple[str, Json | None]:
    """Row "Message status/activity": the activity of the Provenance that targets this message."""
    current: Json | None = None
    for prov in view.of_type("Provenance"):
        for target in as_list(prov.get("target")):
            ref = as_dict(target).get("reference")
            if isinstance(ref, str) and header_id and ref.rstrip("/").endswith(f"MessageHeader/{header_id}"):
                current = prov
    if current is None:
        return "new-message", None
    code, _, _ = code_of([current.get("activity")])
    return code or "new-message", current


def _role_text(role: Json | None) -> str | None:
    if role is None:
        return None
    code, display, text = code_of(role.get("code"))
    if code:
        return terminology.ROLE_DISPLAYS.get(code, display or code)
    return text


def _segments(view: BundleView, communication: Json) -> list[_Segment]:
    out: list[_Segment] = []
    for payload in as_list(communication.get("payload")):
        payload = as_dict(payload)
        content = payload.get("contentString")
        if not isinstance(content, str):
            continue
        role = view.resolve(extension_value(payload, tables.EXT_AUTHOR, "valueReference"))
        practitioner = view.resolve(as_dict(role).get("practitioner")) if role else None
        contact = as_dict(extension_value(payload, tables.EXT_CONTACT, "valueContactPoint"))
        ident = as_dict(extension_value(payload, tables.EXT_IDENTIFIER, "valueIdentifier"))
        assigner = view.resolve(ident.get("assigner"))
        when = extension_value(payload, tables.EXT_DATE, "valueDateTime")
        out.append(
            _Segment(
                when=when if isinstance(when, str) else "",
                text=content,
                author=human_name(practitioner),
                role=_role_text(role),
                phone=contact.get("value") if isinstance(contact.get("value"), str) else None,
                sender=as_dict(assigner).get("name") if assigner else None,
                identifier=ident.get("value") if isinstance(ident.get("value"), str) else None,
            )
        )
    return out


def _when_text(value: str) -> str:
    try:
        local = rules.oioxml_datetime(value)
    except ValueError:
        return value
    return local.strftime("%d.%m.%Y %H:%M")


def _specific(view: BundleView, reference: object) -> str | None:
    """Rows "Specific sender"/"Specific recipient": PractitionerRole (name, role) or CareTeam (name)."""
    target = view.resolve(reference)
    if target is None:
        return None
    if target.get("resourceType") == "CareTeam":
        name = target.get("name")
        org = view.resolve(target.get("managingOrganization"))
        org_name = as_dict(org).get("name")
        return ", ".join(p for p in (name, org_name) if isinstance(p, str)) or None
    practitioner = view.resolve(target.get("practitioner"))
    parts = [p for p in (human_name(practitioner), _role_text(target)) if p]
    return ", ".join(parts) or None


def _sort_key(segment: _Segment) -> datetime:
    try:
        moment = datetime.fromisoformat(segment.when.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=rules.DANISH_TIME)
    return moment if moment.tzinfo else moment.replace(tzinfo=rules.DANISH_TIME)


def _text01(
    view: BundleView,
    communication: Json,
    segments: list[_Segment],
    activity: str,
    extra_ids: tuple[str, ...],
    notes: list[str],
) -> str:
    """Row "Text" plus every row the sheet sends "into Text01": author, specific sender/recipient, the
    reply/forward remark (S2.A2), extra (e)CPR numbers (S2 remark 2) and attachments that cannot travel."""
    lines: list[str] = []
    if activity == "reply-message":
        lines += [texts.REPLY_REMARK, ""]
    elif activity == "forward-message":
        lines += [texts.FORWARD_REMARK, ""]
    specific_sender = _specific(view, extension_value(communication, tables.EXT_SENDER, "valueReference"))
    specific_recipient = _specific(view, communication.get("recipient"))
    if specific_sender:
        lines.append(f"{texts.SPECIFIC_SENDER_LABEL}: {specific_sender}")
    if specific_recipient:
        lines.append(f"{texts.SPECIFIC_RECIPIENT_LABEL}: {specific_recipient}")
    if specific_sender or specific_recipient:
        lines.append("")
    # Newest segment first: the letter opens with what this message says; the thread follows below it.
    ordered = sorted(segments, key=_sort_key, reverse=True)
    for index, seg in enumerate(ordered):
        if index:
            lines += [
                "",
                texts.EARLIER_SEGMENT_HEADER.format(sender=seg.sender or "-", when=_when_text(seg.when)),
            ]
        lines.append(seg.text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n"))
        if seg.author:
            lines.append(f"{texts.AUTHOR_LABEL}: {seg.author}")
        if seg.role:
            lines.append(f"{texts.ROLE_LABEL}: {seg.role}")
    if extra_ids:
        lines += ["", f"{texts.EXTRA_CPR_SENTENCE}: {', '.join(extra_ids)}"]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def _attachment_uuid(value: object, context: Context) -> str:
    if isinstance(value, str) and rules.is_uuid(value):
        return str(uuidlib.UUID(value.removeprefix("urn:uuid:")))
    return context.new_uuid()


def carecommunication_to_oioxml(bundle: Json, *, context: Context) -> OioxmlMessages:
    """Map a CareCommunication to one XDIS91 and the XBIN01(s) holding its attachments (typed model).

    One XBIN01 holds all attachments (use cases §4.5.2); the schemas allow 10 references per XDIS91 and 10
    objects per XBIN01, so more than 10 attachments go into further XBIN01s and the ones the XDIS91 cannot
    reference are named in the text. Raises ConversionError when the message lacks what XDIS91 requires.
    """
    findings: list[Finding] = []
    view = BundleView(bundle)
    header = view.first("MessageHeader")
    if header is None:
        raise ConversionError(
            "convert-input-kind", "Bundle.entry", "no MessageHeader: not a CareCommunication"
        )
    communication = next(
        (r for r in (view.resolve(f) for f in as_list(header.get("focus"))) if r is not None), None
    ) or view.first("Communication")
    if communication is None:
        raise ConversionError(
            "convert-missing-element", "MessageHeader.focus", "no Communication in the bundle"
        )
    patient = view.resolve(communication.get("subject")) or view.first("Patient")
    if patient is None:
        raise ConversionError("convert-missing-element", "Communication.subject", "no Patient in the bundle")
    sender_org = view.resolve(header.get("sender"))
    destinations = [as_dict(d) for d in as_list(header.get("destination"))]
    receiver_org = view.resolve(destinations[0].get("receiver")) if destinations else None

    sender_ean = identifier(sender_org, tables.SYSTEM_GLN, tables.SYSTEM_GLN_OLD)
    receiver_ean = identifier(receiver_org, tables.SYSTEM_GLN, tables.SYSTEM_GLN_OLD)
    if not sender_ean:
        raise ConversionError(
            "convert-sender-ean", "MessageHeader.sender", "the sender organisation has no GLN/EAN"
        )
    if not receiver_ean:
        raise ConversionError(
            "convert-receiver-ean",
            "MessageHeader.destination.receiver",
            "the receiver organisation has no GLN/EAN",
        )
    sender_reg = context.directory.party(sender_ean)
    receiver_reg = context.directory.party(receiver_ean)
    sender_sor = identifier(sender_org, tables.SYSTEM_SOR) or (sender_reg.sor if sender_reg else None)
    receiver_sor = identifier(receiver_org, tables.SYSTEM_SOR) or (receiver_reg.sor if receiver_reg else None)
    sender_name_full = (
        as_dict(sender_org).get("name")
        or (sender_reg.name if sender_reg else None)
        or texts.UNKNOWN_ORGANISATION.format(ean=sender_ean)
    )
    receiver_name_full = as_dict(receiver_org).get("name") or (receiver_reg.name if receiver_reg else None)

    raw_id = header.get("id")
    header_id = raw_id if isinstance(raw_id, str) else ""
    activity, current_provenance = _activity(view, header_id)
    segments = _segments(view, communication)
    own_ids = {
        as_dict(as_dict(e).get("what")).get("identifier", {}).get("value")
        for e in as_list(as_dict(current_provenance).get("entity"))
        if as_dict(e).get("role") == "source"
    }
    own = [s for s in segments if s.identifier in own_ids] or sorted(segments, key=_sort_key)[-1:]
    newest_own = max(own, key=_sort_key) if own else None

    # Rows "Date/Time for Message sent" and "Authorisation date/time".
    timestamp = bundle.get("timestamp")
    if not isinstance(timestamp, str):
        raise ConversionError("convert-missing-element", "Bundle.timestamp", "Bundle.timestamp is required")
    sent = rules.oioxml_datetime(timestamp)
    authorised = rules.oioxml_datetime(newest_own.when) if newest_own and newest_own.when else sent

    # Row "Author contact" -> Sender TelephoneSubscriberIdentifier.
    phone = (newest_own.phone if newest_own else None) or (sender_reg.phone if sender_reg else None)
    sender = Sender(
        ean_identifier=sender_ean,
        identifier=sender_sor or sender_ean,
        identifier_code="sorkode" if sender_sor else "lokationsnummer",
        organisation_name=_fit(sender_name_full, 35, "ClinicalEmail/Sender/OrganisationName", findings)
        or "-",
        telephone_subscriber_identifier=_fit(
            phone, 25, "ClinicalEmail/Sender/TelephoneSubscriberIdentifier", findings
        ),
    )
    receiver_id, receiver_code = receiver_sor, "sorkode"
    if not receiver_id:
        for system, value in identifiers(receiver_org):
            if (code := rules.identifier_code_for_system(system)) and len(value) <= 17:
                receiver_id, receiver_code = value, code
                break
    receiver = Receiver(
        ean_identifier=receiver_ean,
        identifier=receiver_id or receiver_ean,
        identifier_code=receiver_code if receiver_id else "lokationsnummer",
        organisation_name=_fit(receiver_name_full, 35, "ClinicalEmail/Receiver/OrganisationName", findings),
    )

    # Rows "Patient id", "Patient alternative id", names, address; use case S2 remark 2.
    chosen = rules.choose_patient_identifiers(identifiers(patient))
    if not chosen.cpr and not chosen.alternative:
        raise ConversionError(
            "convert-patient-identifier",
            "Patient.identifier",
            "the patient has neither a CPR nor a replacement CPR",
        )
    names = [as_dict(n) for n in as_list(patient.get("name"))]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    family = official.get("family") if isinstance(official.get("family"), str) else None
    given = " ".join(g for g in as_list(official.get("given")) if isinstance(g, str)) or None
    if not family:
        findings.append(
            warning(
                "convert-patient-family",
                "Patient.name.family",
                f"no family name; PersonSurnameName (mandatory) is set to {texts.UNKNOWN_SURNAME!r}",
            )
        )
        family = texts.UNKNOWN_SURNAME
    address = as_dict(as_list(patient.get("address"))[0]) if as_list(patient.get("address")) else {}
    line = next((x for x in as_list(address.get("line")) if isinstance(x, str)), None)
    city = address.get("city") if isinstance(address.get("city"), str) else None
    postal = address.get("postalCode") if isinstance(address.get("postalCode"), str) else None

    # Rows "Episode of care identifier/status" (use cases §4.2.2).
    encounter = view.resolve(communication.get("encounter")) or view.first("Encounter")
    episode_ids = [
        (
            as_dict(as_dict(e).get("identifier")).get("system") or "",
            as_dict(as_dict(e).get("identifier")).get("value"),
        )
        for e in as_list(as_dict(encounter).get("episodeOfCare"))
    ]
    episode = rules.pick_episode_identifier([(s, v) for s, v in episode_ids if isinstance(v, str)])
    status_code = rules.episode_status_from_fhir(
        as_dict(as_dict(encounter).get("class")).get("code"),
        as_dict(encounter).get("status"),
        patient.get("deceasedBoolean") is True or isinstance(patient.get("deceasedDateTime"), str),
    )

    # Rows "Category", "Subject", "Priority".
    category, _, _ = code_of(communication.get("category"))
    topic = as_dict(communication.get("topic")).get("text")
    subject = rules.subject_from_category_and_topic(category, topic if isinstance(topic, str) else None)
    if category and topic and len(f"{terminology.CATEGORIES.get(category, category)}, {topic}") > 70:
        findings.append(
            information(
                "convert-subject-cut", "AdditionalInformation/Subject", "category and topic cut to 70"
            )
        )
    priority = rules.priority_to_oioxml(category, communication.get("priority"))

    # Attachments (rows "attachment ...", "URL ...").
    notes: list[str] = []
    references: list[Reference] = []
    objects: list[BinaryObject] = []
    attachment_ids: list[str] = []
    for index, payload in enumerate(as_list(communication.get("payload"))):
        payload = as_dict(payload)
        attachment = as_dict(payload.get("contentAttachment"))
        if not attachment:
            continue
        path = f"Communication.payload[{index}].contentAttachment"
        ident = as_dict(extension_value(payload, tables.EXT_IDENTIFIER, "valueIdentifier")).get("value")
        title = attachment.get("title") if isinstance(attachment.get("title"), str) else None
        data = attachment.get("data") if isinstance(attachment.get("data"), str) else None
        url = attachment.get("url") if isinstance(attachment.get("url"), str) else None
        if data:
            object_id = _attachment_uuid(ident, context)
            attachment_ids.append(f"urn:uuid:{object_id}")
            ext_bin = rules.extension_for_content_type(attachment.get("contentType"))
            object_code = rules.object_code_for_extension(ext_bin)
            size = rules.decoded_size(data)
            if size <= 0:
                findings.append(
                    warning("convert-attachment-empty", f"{path}.data", "attachment has no content")
                )
                size = 1
            objects.append(BinaryObject(object_id, object_code, ext_bin, size, data))
            if len(references) < MAX_REFERENCES:
                references.append(
                    Reference(
                        ref_description=_fit(title, 70, f"{path}.title", findings) or object_code,
                        bin=BinReference(
                            rules.uuid_without_dashes(object_id),
                            object_code,
                            rules.extension_for_content_type(attachment.get("contentType"), xdis91=True),
                            size,
                        ),
                    )
                )
            else:
                notes.append(
                    texts.ATTACHMENT_OVERFLOW.format(
                        number=len(objects), title=title or object_code, identifier=object_id
                    )
                )
        elif url:
            if len(references) < MAX_REFERENCES and len(url) <= 350:
                references.append(
                    Reference(ref_description=_fit(title, 70, f"{path}.title", findings) or "URL", url=url)
                )
            else:
                notes.append(f"{title or 'Link'}: {url}")
        else:
            notes.append(texts.ATTACHMENT_SENT_EARLIER.format(title=title or "-", identifier=ident or "-"))
    if len(objects) > MAX_REFERENCES:
        findings.append(
            information(
                "convert-attachments-over-10",
                "Communication.payload",
                f"{len(objects)} attachments: XDIS91 can reference 10 and an XBIN01 hold 10; the others travel in "
                "further XBIN01s and are named in the text (use cases: more than 10 are still delivered)",
            )
        )

    text = _text01(view, communication, segments, activity, chosen.in_text, notes)
    email = ClinicalEmail(
        letter=Letter(
            identifier=context.new_letter_id(),
            version_code=tables.XDIS91_VERSION,
            statistical_code="XDIS91",
            authorisation=authorised,
            type_code="XDIS91",
            status_code="nytbrev",
            episode_of_care_identifier=episode if episode and len(episode) <= 35 else None,
        ),
        sender=sender,
        receiver=receiver,
        patient=Patient(
            person_surname_name=_fit(family, 70, "ClinicalEmail/Patient/PersonSurnameName", findings) or "-",
            episode_of_care_status_code=status_code,
            civil_registration_number=chosen.cpr,
            alternative_identifier=chosen.alternative,
            person_given_name=_fit(given, 70, "ClinicalEmail/Patient/PersonGivenName", findings),
            street_name=_fit(line, 35, "ClinicalEmail/Patient/StreetName", findings),
            district_name=_fit(city, 35, "ClinicalEmail/Patient/DistrictName", findings),
            post_code_identifier=_fit(postal, 9, "ClinicalEmail/Patient/PostCodeIdentifier", findings),
        ),
        additional_information=AdditionalInformation(priority=priority, subject=subject)
        if priority or subject
        else None,
        clinical_information=(ClinicalInformation(formatted(text)),),
        reference=tuple(references),
    )
    xdis91 = Emessage(Envelope(sent, context.new_letter_id(), tables.ACK_REQUESTED), email)
    xbin01s: list[Emessage[BinaryLetter]] = []
    for start in range(0, len(objects), MAX_OBJECTS):
        xbin01s.append(
            Emessage(
                Envelope(sent, context.new_letter_id(), tables.ACK_REQUESTED),
                BinaryLetter(
                    letter=Letter(
                        identifier=context.new_letter_id(),
                        version_code=tables.XBIN01_VERSION,
                        statistical_code="XBIN01",
                        authorisation=authorised,
                        type_code="XBIN01",
                        status_code="nytbrev",
                    ),
                    sender=sender,
                    receiver=receiver,
                    patient=BinaryLetterPatient(
                        person_surname_name=email.patient.person_surname_name,
                        civil_registration_number=chosen.cpr,
                        alternative_identifier=chosen.alternative,
                        person_given_name=email.patient.person_given_name,
                    ),
                    binary_object=tuple(objects[start : start + MAX_OBJECTS]),
                ),
            )
        )

    def letter(em: Emessage[ClinicalEmail] | Emessage[BinaryLetter], kind: str) -> OioxmlLetter:
        return OioxmlLetter(
            "xdis91" if kind == "xdis91" else "xbin01",
            em.envelope.identifier,
            em.body.letter.identifier,
            em.body.letter.version_code,
            sender_ean,
            receiver_ean,
        )

    correlation = CorrelationRecord(
        direction="fhir-to-oioxml",
        bundle_id=str(bundle.get("id", "")),
        message_header_id=header_id,
        xdis91=letter(xdis91, "xdis91"),
        xbin01=tuple(letter(x, "xbin01") for x in xbin01s),
        fhir_sender=FhirParty(sender_ean, sender_sor, as_dict(sender_org).get("name")),
        fhir_receiver=FhirParty(receiver_ean, receiver_sor, receiver_name_full),
        provenance=_provenance_copy(current_provenance),
        attachment_ids=tuple(attachment_ids),
    )
    return OioxmlMessages(xdis91, tuple(xbin01s), correlation, tuple(findings))


def _provenance_copy(provenance: Json | None) -> Json | None:
    if provenance is None:
        return None
    return {
        k: v for k, v in provenance.items() if k in ("target", "occurredDateTime", "recorded", "activity")
    }


def convert_carecommunication(bundle: Json, *, context: Context, validate: bool = True) -> OioxmlResult:
    """Map, serialize (ISO-8859-1) and validate: the XDIS91 first, then its XBIN01(s)."""
    messages = carecommunication_to_oioxml(bundle, context=context)
    outputs: list[OioxmlOutput] = []
    documents: list[tuple[str, Emessage[ClinicalEmail] | Emessage[BinaryLetter]]] = [
        ("xdis91", messages.xdis91)
    ]
    documents += [("xbin01", x) for x in messages.xbin01]
    for kind, em in documents:
        data = serialize(em)
        report = validate_oioxml_output(data, kind, enabled=validate)
        outputs.append(OioxmlOutput(kind, data, em.envelope.identifier, em.body.letter.identifier, report))
    all_findings = [*messages.findings, *(f for o in outputs for f in o.report.findings)]
    return OioxmlResult(
        tuple(outputs), Report("xdis91", tables.XDIS91_VERSION, tuple(all_findings)), messages.correlation
    )

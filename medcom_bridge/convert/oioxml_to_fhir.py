"""XDIS91 (+ XBIN01) -> CareCommunication 5.0 (use cases S1, S1.A1-S1.A4; sheets "XDIS91 -> CareCommunication"
and "XDIS91+MedBin -> CareCommunicat").

`xdis91_to_carecommunication` is pure: the typed OIOXML model, a register and an id factory in; the FHIR
Bundle (JSON object model), its validation report and the correlation record out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medcom_bridge.convert import rules, tables, texts
from medcom_bridge.convert.context import Context, ConversionError, FhirResult
from medcom_bridge.convert.correlation import CorrelationRecord, FhirParty, OioxmlLetter
from medcom_bridge.convert.narrative import add_narratives
from medcom_bridge.convert.plaintext import plain
from medcom_bridge.convert.validate import validate_fhir_output
from medcom_bridge.directory import Party
from medcom_bridge.fhir import terminology
from medcom_bridge.findings import Finding, information, warning
from medcom_bridge.oioxml.model import BinaryLetter, BinaryObject, ClinicalEmail, Emessage, Receiver, Sender

Json = dict[str, Any]


@dataclass(slots=True)
class _Ids:
    """Hands out one new UUID per named resource, so related references agree."""

    ctx: Context
    made: dict[str, str] = field(default_factory=dict)

    def __call__(self, key: str) -> str:
        if key not in self.made:
            self.made[key] = self.ctx.new_uuid()
        return self.made[key]


def _letter(em: Emessage[ClinicalEmail] | Emessage[BinaryLetter]) -> OioxmlLetter:
    body = em.body
    return OioxmlLetter(
        "xdis91" if isinstance(body, ClinicalEmail) else "xbin01",
        em.envelope.identifier,
        body.letter.identifier,
        body.letter.version_code,
        body.sender.ean_identifier,
        body.receiver.ean_identifier,
    )


def _party(context: Context, who: Sender | Receiver) -> Party | None:
    """Rows "Sender SOR"/"Receiver SOR": looked up in SOR by EAN. An XDIS91 that names its party by `sorkode`
    already carries the SOR code; we use it when the register does not know the location number."""
    party = context.directory.party(who.ean_identifier)
    if party and party.sor:
        return party
    if who.identifier_code == "sorkode" and who.identifier:
        return Party(
            who.ean_identifier, who.identifier, party.name if party else None, party.phone if party else None
        )
    return party


def organization(org_id: str, ean: str, sor: str | None, name: str | None) -> Json:
    """A MedComMessagingOrganization: GLN always, SOR when the register knows it (sheet rows Sender/Receiver)."""
    identifiers = [{"system": tables.SYSTEM_GLN, "value": ean}]
    if sor:
        identifiers.append({"system": tables.SYSTEM_SOR, "value": sor})
    org: Json = {
        "resourceType": "Organization",
        "id": org_id,
        "meta": {"profile": [tables.PROFILE_MSG_ORGANIZATION]},
        "identifier": identifiers,
    }
    if name:
        org["name"] = name
    return org


def ref(resource: Json) -> Json:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def entry(resource: Json) -> Json:
    return {
        "fullUrl": f"{tables.FULLURL_BASE}{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }


def _segment_extensions(when: str, identifier: str, assigner: Json) -> list[Json]:
    return [
        {"url": tables.EXT_DATE, "valueDateTime": when},
        {"url": tables.EXT_IDENTIFIER, "valueIdentifier": {"value": identifier, "assigner": ref(assigner)}},
    ]


def _attachment_payload(when: str, identifier: str, assigner: Json, attachment: Json) -> Json:
    return {"extension": _segment_extensions(when, identifier, assigner), "contentAttachment": attachment}


def xdis91_to_carecommunication(
    xdis91: Emessage[ClinicalEmail],
    xbin01: Sequence[Emessage[BinaryLetter]] = (),
    *,
    context: Context,
    validate: bool = True,
) -> FhirResult:
    """Map one XDIS91 and its XBIN01(s) to one CareCommunication 5.0 (JSON object model).

    Referenced attachments whose XBIN01 is missing (late or invalid partner, S1.A2/S1.A3) become attachment
    payloads without `data` and `title`; XBIN01 objects the XDIS91 does not reference are still converted (never
    dropped) and reported. Attachment types outside the six CareCommunication types are converted (S1.A4).
    Both deliberate rule breaks are reported as information, not errors (Forudsætning 7).
    """
    findings: list[Finding] = []
    email = xdis91.body
    if not isinstance(email, ClinicalEmail):
        raise ConversionError("convert-input-kind", "Emessage", "expected an XDIS91 (ClinicalEmail)")
    ids = _Ids(context)
    xdis_letter = _letter(xdis91)
    xbin_letters = tuple(_letter(x) for x in xbin01)
    for letter in xbin_letters:
        if (letter.sender_ean, letter.receiver_ean) != (xdis_letter.sender_ean, xdis_letter.receiver_ean):
            findings.append(
                warning(
                    "convert-xbin01-parties",
                    "BinaryLetter/Sender/EANIdentifier",
                    f"XBIN01 {letter.letter_id} has other sender/receiver EANs than XDIS91 {xdis_letter.letter_id}",
                )
            )

    # Rows "Date/Time for Message sent" (-> Bundle.timestamp, Provenance) and "Authorisation date/time".
    sent = rules.fhir_datetime(xdis91.envelope.sent)
    authorised = rules.fhir_datetime(email.letter.authorisation)

    # Sender and receiver: EAN from the letter; SOR code, name and phone from the register.
    sender_party = _party(context, email.sender)
    receiver_party = _party(context, email.receiver)
    for element, who, party in (
        ("Sender", email.sender, sender_party),
        ("Receiver", email.receiver, receiver_party),
    ):
        if party is None or not party.sor:
            findings.append(
                warning(
                    "convert-sor-unknown",
                    f"ClinicalEmail/{element}/EANIdentifier",
                    f"location number {who.ean_identifier} has no SOR code in the register; the "
                    "CareCommunication needs one (Organization SOR-ID and the SOR endpoint)",
                )
            )
    sender_name = rules.organisation_name(
        email.sender.organisation_name, email.sender.department_name, email.sender.unit_name
    ) or (sender_party.name if sender_party else None)
    receiver_name = rules.organisation_name(
        email.receiver.organisation_name, email.receiver.department_name, email.receiver.unit_name
    ) or (receiver_party.name if receiver_party else None)
    sender_org = organization(
        ids("sender"), xdis_letter.sender_ean, sender_party.sor if sender_party else None, sender_name
    )
    receiver_org = organization(
        ids("receiver"),
        xdis_letter.receiver_ean,
        receiver_party.sor if receiver_party else None,
        receiver_name,
    )
    phone = rules.author_contact(
        email.sender.telephone_subscriber_identifier, sender_party.phone if sender_party else None
    )

    patient = _patient(ids("patient"), email)
    encounter_class, encounter_status, deceased = rules.episode_status_to_fhir(
        email.patient.episode_of_care_status_code
    )
    if deceased:
        patient["deceasedBoolean"] = True

    # Rows "Author role" / "Author name": not in XDIS91; the sheet's defaults.
    practitioner: Json = {
        "resourceType": "Practitioner",
        "id": ids("practitioner"),
        "meta": {"profile": [tables.PROFILE_PRACTITIONER]},
        "name": [{"text": sender_name or xdis_letter.sender_ean}],
    }
    role: Json = {
        "resourceType": "PractitionerRole",
        "id": ids("role"),
        "meta": {"profile": [tables.PROFILE_PRACTITIONER_ROLE]},
        "practitioner": ref(practitioner),
        "code": [{"text": texts.UNKNOWN_AUTHOR_ROLE}],
    }

    # Rows "Text" and "Priority".
    blocks = (
        ["\n".join(plain(ci.text01) for ci in email.clinical_information)]
        if email.clinical_information
        else []
    )
    blocks += [
        texts.SUPPLEMENT_SENT_OTHERWISE.format(description=r.ref_description)
        for r in email.reference
        if r.sup
    ]
    body = "\n".join(blocks)
    priority = email.additional_information.priority if email.additional_information else None
    sentence = rules.priority_sentence(priority)
    if sentence:
        body = f"{sentence} {body}" if body else sentence
    if not body.strip():
        # A FHIR string cannot be empty and a CareCommunication needs a text segment (payload:string 1..*).
        findings.append(
            information(
                "convert-text-empty",
                "ClinicalEmail/ClinicalInformation/Text01",
                f"the letter has no text; the CareCommunication says {texts.EMPTY_TEXT!r}",
            )
        )
        body = texts.EMPTY_TEXT
    text_id = f"urn:uuid:{ids('text-segment')}"
    text_extensions = [
        *_segment_extensions(authorised, text_id, sender_org),
        {"url": tables.EXT_AUTHOR, "valueReference": ref(role)},
        {"url": tables.EXT_CONTACT, "valueContactPoint": {"system": "phone", "value": phone}},
    ]
    payloads: list[Json] = [{"extension": text_extensions, "contentString": body}]
    segment_ids = [text_id]

    # Rows "attachment id/code/extension code/content" and "url".
    objects = {
        rules.uuid_without_dashes(o.object_identifier.lower()): o
        for x in xbin01
        for o in x.body.binary_object
    }
    used: set[str] = set()
    empty_payloads: list[int] = []
    for index, reference in enumerate(email.reference):
        path = f"ClinicalEmail/Reference[{index + 1}]"
        if reference.bin is not None:
            key = rules.uuid_without_dashes(reference.bin.object_identifier.lower())
            identifier = f"urn:uuid:{rules.uuid_with_dashes(key)}"
            attachment: Json = {
                "contentType": rules.content_type_for_extension(reference.bin.object_extension_code)
            }
            found = objects.get(key)
            if found is not None:
                used.add(key)
                attachment["data"] = _base64(found)
                attachment["title"] = reference.ref_description
            else:
                empty_payloads.append(len(payloads))
                findings.append(
                    information(
                        "convert-attachment-missing",
                        f"{path}/BIN/ObjectIdentifier",
                        f"XBIN01 object {reference.bin.object_identifier} was not received (late or invalid "
                        "partner message, use cases S1.A2/S1.A3): the attachment is sent without data and title",
                    )
                )
        elif reference.url is not None:
            identifier = f"urn:uuid:{ids(path)}"
            attachment = {"url": reference.url, "title": reference.ref_description}
        else:
            continue  # SUP: written into the text above
        payloads.append(_attachment_payload(authorised, identifier, sender_org, attachment))
        segment_ids.append(identifier)
    for key, obj in objects.items():
        if key in used:
            continue
        findings.append(
            information(
                "convert-attachment-unreferenced",
                "BinaryLetter/BinaryObject/ObjectIdentifier",
                f"XBIN01 object {obj.object_identifier} is not referenced by the XDIS91; converted anyway",
            )
        )
        identifier = f"urn:uuid:{rules.uuid_with_dashes(key)}"
        attachment = {
            "contentType": rules.content_type_for_extension(obj.object_extension_code),
            "data": _base64(obj),
            "title": obj.object_code,
        }
        payloads.append(_attachment_payload(authorised, identifier, sender_org, attachment))
        segment_ids.append(identifier)
    foreign = sorted(
        {
            p["contentAttachment"]["contentType"]
            for p in payloads[1:]
            if "data" in p["contentAttachment"] or "url" not in p["contentAttachment"]
        }
        - terminology.MIME_TYPES
    )
    if foreign:
        findings.append(
            information(
                "convert-attachment-type",
                "Communication.payload.contentAttachment.contentType",
                f"{', '.join(foreign)} is not one of the six CareCommunication types; converted anyway "
                "(use case S1.A4), the receiver decides",
            )
        )

    subject = email.additional_information.subject if email.additional_information else None
    communication: Json = {
        "resourceType": "Communication",
        "id": ids("communication"),
        "meta": {"profile": [tables.PROFILE_CC_COMMUNICATION]},
        "identifier": [{"value": f"urn:uuid:{ids('thread')}"}],
        "status": "unknown",
        "category": [{"coding": [{"system": tables.SYSTEM_CATEGORY, "code": "other"}]}],
        "subject": ref(patient),
        "topic": {"text": rules.topic_from_subject(subject)},
    }
    # Row "Episode of care identifier/status": an Encounter only with an identifier (inv-9 and inv-15 forbid
    # an Encounter without one); the status still reaches Patient.deceased above.
    encounter: Json | None = None
    if email.letter.episode_of_care_identifier:
        system, value = rules.episode_identifier_to_fhir(
            email.letter.episode_of_care_identifier, sender_party.endpoint if sender_party else None
        )
        encounter = {
            "resourceType": "Encounter",
            "id": ids("encounter"),
            "meta": {"profile": [tables.PROFILE_ENCOUNTER]},
            "status": encounter_status,
            "class": {
                "system": tables.SYSTEM_ENCOUNTER_OTHER
                if encounter_class == "other"
                else tables.SYSTEM_ACT_CODE,
                "code": encounter_class,
            },
            "subject": ref(patient),
            "episodeOfCare": [{"identifier": {"system": system, "value": value}}],
        }
        communication["encounter"] = ref(encounter)
    elif encounter_status == "in-progress":
        findings.append(
            information(
                "convert-episode-status",
                "ClinicalEmail/Patient/EpisodeOfCareStatusCode",
                f"status {email.patient.episode_of_care_status_code!r} has no place in a CareCommunication without "
                "an episode-of-care identifier (an Encounter needs one, inv-9/inv-15); it is not carried over",
            )
        )
    communication["payload"] = payloads

    destination: Json = {
        "extension": [
            {
                "url": tables.EXT_DESTINATION_USE,
                "valueCoding": {"system": tables.SYSTEM_DESTINATION_USE, "code": "primary"},
            }
        ]
    }
    if receiver_party and receiver_party.endpoint:
        destination["endpoint"] = receiver_party.endpoint
    destination["receiver"] = ref(receiver_org)
    header: Json = {
        "resourceType": "MessageHeader",
        "id": ids("header"),
        "meta": {"profile": [tables.PROFILE_CC_HEADER]},
        "eventCoding": {"system": tables.SYSTEM_EVENT, "code": "care-communication-message"},
        "destination": [destination],
        "sender": ref(sender_org),
        "source": {"endpoint": sender_party.endpoint} if sender_party and sender_party.endpoint else {},
        "focus": [ref(communication)],
        "definition": tables.DEFINITION_CC_50,
    }
    # Row "Message status/activity": XD9134L has only nytbrev/rettetbrev; neither is a reply or forward, and
    # modified-message is not allowed in CareCommunication, so both are new-message.
    provenance: Json = {
        "resourceType": "Provenance",
        "id": ids("provenance"),
        "meta": {"profile": [tables.PROFILE_CC_PROVENANCE]},
        "target": [ref(header)],
        "occurredDateTime": sent,
        "recorded": sent,
        "activity": {"coding": [{"system": tables.SYSTEM_ACTIVITY, "code": "new-message"}]},
        "agent": [{"who": ref(sender_org)}],
        "entity": [{"role": "source", "what": {"identifier": {"value": sid}}} for sid in segment_ids],
    }
    resources = [header, patient, communication, role, practitioner, receiver_org, sender_org, provenance]
    if encounter is not None:
        resources.insert(3, encounter)
    bundle: Json = {
        "resourceType": "Bundle",
        "id": ids("bundle"),
        "meta": {"profile": [tables.PROFILE_CC_MESSAGE]},
        "type": "message",
        "timestamp": sent,
        "entry": [entry(r) for r in resources],
    }
    add_narratives(bundle)
    correlation = CorrelationRecord(
        direction="oioxml-to-fhir",
        bundle_id=bundle["id"],
        message_header_id=header["id"],
        xdis91=xdis_letter,
        xbin01=xbin_letters,
        fhir_sender=FhirParty(
            xdis_letter.sender_ean, sender_party.sor if sender_party else None, sender_name
        ),
        fhir_receiver=FhirParty(
            xdis_letter.receiver_ean, receiver_party.sor if receiver_party else None, receiver_name
        ),
        provenance={k: provenance[k] for k in ("target", "occurredDateTime", "recorded", "activity")},
        incomplete=bool(empty_payloads),
        foreign_types=bool(foreign),
        attachment_ids=tuple(segment_ids[1:]),
    )
    report = validate_fhir_output(
        bundle, findings, empty_payloads=empty_payloads, foreign_types=bool(foreign), enabled=validate
    )
    return FhirResult(bundle=bundle, report=report, correlation=correlation)


def _patient(patient_id: str, email: ClinicalEmail) -> Json:
    """Rows "Patient id", "Patient alternative id", "Patient family name", "Patient name", "Patient street name",
    "Patient city name", "Patient post code" (SuburbName and OccupancyText have no FHIR counterpart)."""
    p = email.patient
    patient: Json = {
        "resourceType": "Patient",
        "id": patient_id,
        "meta": {"profile": [tables.PROFILE_PATIENT]},
    }
    if p.civil_registration_number:
        patient["identifier"] = [{"system": tables.SYSTEM_CPR, "value": p.civil_registration_number}]
    elif p.alternative_identifier:
        system = rules.replacement_cpr_system(p.alternative_identifier)
        patient["identifier"] = [{"system": system, "value": p.alternative_identifier}]
    else:
        raise ConversionError(
            "convert-patient-identifier",
            "ClinicalEmail/Patient/CivilRegistrationNumber",
            "the patient has neither CivilRegistrationNumber nor AlternativeIdentifier",
        )
    name: Json = {"use": "official", "family": p.person_surname_name}
    if p.person_given_name:
        name["given"] = p.person_given_name.split()
    patient["name"] = [name]
    address: Json = {}
    if p.street_name:
        address["line"] = [p.street_name]
    if p.district_name:
        address["city"] = p.district_name
    if p.post_code_identifier:
        address["postalCode"] = p.post_code_identifier
    if address:
        patient["address"] = [address]
    return patient


def _base64(obj: BinaryObject) -> str:
    """The object's base64 without line breaks (FHIR base64Binary); no decode/encode round trip for speed."""
    raw = obj.object_base64_encoded
    return "".join(raw.split()) if any(c in raw for c in " \r\n\t") else raw

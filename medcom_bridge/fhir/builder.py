"""Build CareCommunication 5.0 messages (new, reply, forward) and Acknowledgement 2.0.3 messages.

The model is the FHIR JSON object model as plain dicts. Everything here is pure: the caller passes the
clock (`now`, timezone-aware) and the id factory (`new_id`, returning lower-case UUID strings such as
`str(uuid.uuid4())`), so the same inputs always give the same bundle.

Threading rules (`fhir-carecommunication.md` §3.3, §5, §7):
* reply: thread id (Communication.identifier) kept; every earlier segment carried; attachments repeated
  without data and url; the received Provenances kept unchanged plus one new `reply-message` Provenance whose
  `revision` entity points at the received MessageHeader; the received specific sender becomes the recipient
  (GOV medcom-carecommunication-7); the received episode-of-care identifier is returned (GOV 080).
* forward: a new thread id; earlier segments carried with their attachment data; a new `forward-message`
  Provenance.
* acknowledgement: the received message's latest Provenance plus a new `acknowledgement` Provenance.
"""

from __future__ import annotations

import base64
import copy
import html
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir import model
from medcom_bridge.fhir.content import (
    ACK_CODES,
    AckCode,
    Attachment,
    Classification,
    Issue,
    TextSegment,
    clean_text,
    fhir_datetime,
    issue_detail_system,
)
from medcom_bridge.fhir.parties import (
    Author,
    BuildError,
    CareTeam,
    EpisodeOfCare,
    Organization,
    Patient,
    Person,
    SpecificParty,
)
from medcom_bridge.fhir.terminology import ROLE_SYSTEMS

JsonDict = dict[str, Any]
IdFactory = Callable[[], str]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Resource types never carried from a received message into a new one: each message has its own.
_NOT_CARRIED = frozenset({"MessageHeader", "Communication", "Bundle", "OperationOutcome"})


# --------------------------------------------------------------------------------------------------------
# Reading a received bundle: tolerant of the broken input an acknowledgement must still answer


class _Received:
    """A received bundle seen through `model.Bundle` (the same reference resolution as the validator)."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
            raise BuildError("bundle", "the received message is not a FHIR Bundle")
        self.view = model.Bundle(dict(bundle))

    def resolve(self, reference: Any) -> JsonDict | None:
        hit = self.view.resolve_reference(reference)
        return hit[1] if hit else None

    def of_type(self, rtype: str) -> list[JsonDict]:
        return [resource for _, resource in self.view.resources(rtype)]

    def header(self) -> JsonDict:
        headers = self.of_type("MessageHeader")
        if not headers:
            raise BuildError("medcom-careCommunication-1", "the received bundle has no MessageHeader")
        return headers[0]

    def event(self) -> str | None:
        coding = self.header().get("eventCoding")
        code = coding.get("code") if isinstance(coding, dict) else None
        return code if isinstance(code, str) else None

    def primary_destination(self) -> JsonDict:
        raw = self.header().get("destination")
        dests: list[JsonDict] = [d for d in raw if isinstance(d, dict)] if isinstance(raw, list) else []
        for dest in dests:
            for ext in dest.get("extension") or []:
                value = ext.get("valueCoding") if isinstance(ext, dict) else None
                if isinstance(value, dict) and value.get("code") == "primary":
                    return dest
        if dests:
            return dests[0]
        raise BuildError("medcom-messaging-destination", "the received MessageHeader has no destination")

    def sender_org(self) -> JsonDict:
        org = self.resolve(self.header().get("sender"))
        if org is None:
            raise BuildError("medcom-messaging-sender", "the received MessageHeader.sender does not resolve")
        return org

    def receiver_org(self) -> JsonDict:
        org = self.resolve(self.primary_destination().get("receiver"))
        if org is None:
            raise BuildError(
                "medcom-messaging-receiver", "the received destination receiver does not resolve"
            )
        return org

    def communication(self) -> JsonDict:
        focus = self.header().get("focus")
        comm = self.resolve(focus[0]) if isinstance(focus, list) and focus else None
        if comm is None:
            comms = self.of_type("Communication")
            comm = comms[0] if comms else None
        if comm is None:
            raise BuildError("medcom-careCommunication-focus", "the received message has no Communication")
        return comm

    def closure(self, roots: Iterable[Any]) -> list[JsonDict]:
        """Every received resource reachable by reference from `roots` (a message's own resources excluded)."""
        seen: dict[int, JsonDict] = {}
        stack = list(roots)
        while stack:
            for ref in _references(stack.pop()):
                found = self.resolve({"reference": ref})
                if found is None or found.get("resourceType") in _NOT_CARRIED or id(found) in seen:
                    continue
                seen[id(found)] = found
                stack.append(found)
        return list(seen.values())


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _ref_key(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _ext(node: Mapping[str, Any], ext_url: str) -> Any:
    for ext in node.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == ext_url:
            return ext
    return None


def _identifier_value(node: Mapping[str, Any], system: str) -> str | None:
    for ident in node.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == system and isinstance(ident.get("value"), str):
            return str(ident["value"])
    return None


# --------------------------------------------------------------------------------------------------------
# Narrative: MedCom requires one in every resource ("SHALL always be included")


def _esc(value: str) -> str:
    # Text content only (never attributes): escaping just &, < and > is also lxml's canonical form, so a
    # narrative survives a JSON/XML round trip unchanged.
    return html.escape(value, quote=False)


def _narrative(title: str, rows: Iterable[tuple[str, str | None]]) -> JsonDict:
    body = "".join(f"<tr><th>{_esc(label)}</th><td>{_esc(value)}</td></tr>" for label, value in rows if value)
    table = f"<table>{body}</table>" if body else ""
    return {
        "status": "generated",
        "div": f'<div xmlns="{url.XHTML_NS}"><p><b>{_esc(title)}</b></p>{table}</div>',
    }


def _name_text(given: Sequence[str], family: str | None) -> str:
    return " ".join([*given, family or ""]).strip()


# --------------------------------------------------------------------------------------------------------
# Assembling a bundle


@dataclass(frozen=True, slots=True)
class _Ids:
    """Wraps the caller's id factory: resource ids must be FHIR ids, identifiers lower-case UUIDs."""

    new_id: IdFactory

    def resource(self) -> str:
        value = self.new_id()
        if not _FHIR_ID.fullmatch(value):
            raise BuildError("fhir-id", f"id factory returned {value!r}, not a FHIR id [A-Za-z0-9-.]{{1,64}}")
        return value

    def uuid_urn(self) -> str:
        value = self.new_id()
        if not _UUID.fullmatch(value):
            raise BuildError(
                "medcom-uuidv4", f"id factory returned {value!r}; it must return lower-case UUIDs"
            )
        return f"urn:uuid:{value}"


class _Assembly:
    """Entries of the bundle being built, MessageHeader first (bdl-12), each resource once."""

    def __init__(self, ids: _Ids, base: str) -> None:
        self.ids = ids
        self.base = base
        self.header: JsonDict | None = None
        self.entries: list[JsonDict] = []
        self.keys: set[str] = set()

    def add(self, resource: JsonDict) -> str:
        key = _ref_key(resource)
        if key not in self.keys:
            self.keys.add(key)
            self.entries.append(resource)
        elif all(r != resource for r in self.entries if _ref_key(r) == key):
            raise BuildError(
                "bundle-unique-ids",
                f"two different resources would share the id {key}; the id factory repeated an id",
            )
        return key

    def bundle(self, profile: str, now: datetime) -> JsonDict:
        assert self.header is not None
        resources = [self.header, *self.entries]
        return {
            "resourceType": "Bundle",
            "id": self.ids.resource(),
            "meta": {"profile": [profile]},
            "type": "message",
            "timestamp": fhir_datetime(now, "now"),
            "entry": [
                {"fullUrl": f"{self.base}{r['resourceType']}/{r['id']}", "resource": r} for r in resources
            ],
        }


def _primary_destination(endpoint: str | None, receiver_key: str) -> JsonDict:
    """MessageHeader.destination:primary (the only destination MedCom allows: no cc)."""
    return {
        "extension": [
            {
                "url": url.EXT_DESTINATION_USE,
                "valueCoding": {"system": url.CS_DESTINATION_USE, "code": "primary"},
            }
        ],
        "endpoint": endpoint,
        "receiver": _ref(receiver_key),
    }


def _ref(key: str) -> JsonDict:
    return {"reference": key}


def _organization_resource(org: Organization, rid: str) -> JsonDict:
    identifiers = [
        {"use": "official", "system": url.SYS_EAN, "value": org.ean},
        {"use": "official", "system": url.SYS_SOR, "value": org.sor},
    ]
    if org.cvr:
        identifiers.append({"system": url.SYS_CVR, "value": org.cvr})
    resource: JsonDict = {
        "resourceType": "Organization",
        "id": rid,
        "meta": {"profile": [url.PROFILE_MESSAGING_ORGANIZATION]},
        "text": _narrative(
            f"Organization {org.name or ''}".strip(),
            [("Name", org.name), ("SOR", org.sor), ("EAN", org.ean), ("CVR", org.cvr)],
        ),
        "identifier": identifiers,
    }
    if org.name:
        resource["name"] = org.name
    return resource


def _patient_resource(patient: Patient, rid: str) -> JsonDict:
    identifiers: list[JsonDict] = []
    if patient.cpr:
        identifiers.append({"use": "official", "system": url.SYS_CPR, "value": patient.cpr})
    if patient.x_ecpr:
        identifiers.append({"use": "temp", "system": url.SYS_X_ECPR, "value": patient.x_ecpr})
    if patient.d_ecpr:
        identifiers.append({"use": "temp", "system": patient.d_ecpr_system, "value": patient.d_ecpr})
    name: JsonDict = {"use": "official"}
    if patient.family:
        name["family"] = patient.family
    if patient.given:
        name["given"] = list(patient.given)
    resource: JsonDict = {
        "resourceType": "Patient",
        "id": rid,
        "meta": {"profile": [url.PROFILE_PATIENT]},
        "text": _narrative(
            "Patient",
            [
                ("Name", _name_text(patient.given, patient.family)),
                ("CPR", patient.cpr),
                ("X-eCPR", patient.x_ecpr),
                ("D-eCPR", patient.d_ecpr),
                ("Deceased", None if patient.deceased is None else ("yes" if patient.deceased else "no")),
            ],
        ),
        "identifier": identifiers,
        "name": [name],
    }
    if patient.deceased is not None:
        resource["deceasedBoolean"] = patient.deceased
    return resource


def _person_resources(person: Person, org_key: str | None, ids: _Ids) -> tuple[JsonDict, JsonDict]:
    """PractitionerRole + Practitioner for an author or a specific sender/recipient."""
    practitioner_id, role_id = ids.resource(), ids.resource()
    human: JsonDict = {}
    if person.family.strip():
        human["family"] = person.family
    if person.given:
        human["given"] = list(person.given)
    practitioner = {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "meta": {"profile": [url.PROFILE_PRACTITIONER]},
        "text": _narrative("Practitioner", [("Name", _name_text(person.given, person.family))]),
        "name": [human],
    }
    if person.role_code is not None:
        code: JsonDict = {"coding": [{"system": ROLE_SYSTEMS[person.role_code], "code": person.role_code}]}
    else:
        code = {"text": person.role_text}
    role: JsonDict = {
        "resourceType": "PractitionerRole",
        "id": role_id,
        "meta": {"profile": [url.PROFILE_PRACTITIONER_ROLE]},
        "text": _narrative(
            "PractitionerRole",
            [
                ("Practitioner", _name_text(person.given, person.family)),
                ("Role", person.role_code or person.role_text),
            ],
        ),
        "practitioner": _ref(f"Practitioner/{practitioner_id}"),
    }
    if org_key:
        role["organization"] = _ref(org_key)
    role["code"] = [code]
    return role, practitioner


def _careteam_resource(team: CareTeam, org_key: str, ids: _Ids) -> JsonDict:
    return {
        "resourceType": "CareTeam",
        "id": ids.resource(),
        "meta": {"profile": [url.PROFILE_CARETEAM]},
        "text": _narrative("CareTeam", [("Name", team.name), ("Managing organization", org_key)]),
        "name": team.name,
        "managingOrganization": [_ref(org_key)],
    }


def _encounter_resource(episode: EpisodeOfCare, patient_key: str, ids: _Ids) -> JsonDict:
    system = (
        url.CS_ENCOUNTER_CLASS
        if episode.encounter_class != "other"
        else url.TERM + "medcom-core-encounter-act-codes"
    )
    return {
        "resourceType": "Encounter",
        "id": ids.resource(),
        "meta": {"profile": [url.PROFILE_ENCOUNTER]},
        "text": _narrative(
            "Encounter",
            [("Episode of care", f"{episode.value} ({episode.system})"), ("Status", episode.status)],
        ),
        "status": episode.status,
        "class": {"system": system, "code": episode.encounter_class},
        "subject": _ref(patient_key),
        "episodeOfCare": [{"identifier": {"system": episode.system, "value": episode.value}}],
    }


class _Authors:
    """One PractitionerRole per distinct author value within one message."""

    def __init__(self, assembly: _Assembly, org_key: str) -> None:
        self.assembly = assembly
        self.org_key = org_key
        self.keys: dict[Author, str] = {}

    def key(self, author: Author) -> str:
        if author not in self.keys:
            role, practitioner = _person_resources(author, self.org_key, self.assembly.ids)
            self.keys[author] = self.assembly.add(role)
            self.assembly.add(practitioner)
        return self.keys[author]


def _segment_extensions(
    date: str, ident: str, assigner_key: str, author_key: str | None, phone: str | None
) -> list[JsonDict]:
    exts: list[JsonDict] = [
        {"url": url.EXT_DATE, "valueDateTime": date},
        {"url": url.EXT_IDENTIFIER, "valueIdentifier": {"value": ident, "assigner": _ref(assigner_key)}},
    ]
    if author_key is not None:
        exts.append({"url": url.EXT_AUTHOR, "valueReference": _ref(author_key)})
    if phone is not None:
        exts.append({"url": url.EXT_CONTACT, "valueContactPoint": {"system": "phone", "value": phone}})
    return exts


def _new_payloads(
    texts: Sequence[TextSegment],
    attachments: Sequence[Attachment],
    *,
    now: datetime,
    sender_key: str,
    authors: _Authors,
    ids: _Ids,
) -> tuple[list[JsonDict], list[str]]:
    """The segments this message adds, and their identifiers (for the new Provenance's payload entities)."""
    if not texts:
        raise BuildError(
            "medcom-careCommunication-payload-string", "every message needs at least one text segment"
        )
    payloads: list[JsonDict] = []
    idents: list[str] = []
    for seg in texts:
        ident = ids.uuid_urn()
        idents.append(ident)
        payloads.append(
            {
                "extension": _segment_extensions(
                    fhir_datetime(seg.date or now, "segment date"),
                    ident,
                    sender_key,
                    authors.key(seg.author),
                    seg.author.phone,
                ),
                "contentString": clean_text(seg.text, "text segment"),
            }
        )
    for att in attachments:
        ident = ids.uuid_urn()
        idents.append(ident)
        content: JsonDict = {}
        if att.content_type:
            content["contentType"] = att.content_type
        if att.data is not None:
            content["data"] = base64.b64encode(att.data).decode("ascii")
        if att.url is not None:
            content["url"] = att.url
        content["title"] = clean_text(att.title, "attachment title")
        if att.creation is not None:
            content["creation"] = fhir_datetime(att.creation, "attachment creation")
        payloads.append(
            {
                "extension": _segment_extensions(
                    fhir_datetime(att.date or now, "attachment date"),
                    ident,
                    sender_key,
                    authors.key(att.author) if att.author else None,
                    att.author.phone if att.author else None,
                ),
                "contentAttachment": content,
            }
        )
    return payloads, idents


def _specific(party: SpecificParty, org_key: str, assembly: _Assembly) -> str:
    if isinstance(party, CareTeam):
        return assembly.add(_careteam_resource(party, org_key, assembly.ids))
    role, practitioner = _person_resources(party, org_key, assembly.ids)
    assembly.add(practitioner)
    return assembly.add(role)


@dataclass(frozen=True, slots=True)
class _Header:
    sender_key: str
    receiver_key: str
    sender_endpoint: str
    receiver_endpoint: str


def _cc_header(mh_id: str, head: _Header, comm_key: str) -> JsonDict:
    return {
        "resourceType": "MessageHeader",
        "id": mh_id,
        "meta": {"profile": [url.PROFILE_CC_HEADER]},
        "text": _narrative(
            f"MessageHeader {mh_id}",
            [
                ("Id", mh_id),
                ("Event", "care-communication-message"),
                ("Destination use", "primary"),
                ("Destination endpoint", head.receiver_endpoint),
                ("Receiver", head.receiver_key),
                ("Sender", head.sender_key),
                ("Source endpoint", head.sender_endpoint),
                ("Focus", comm_key),
            ],
        ),
        "eventCoding": {"system": url.CS_EVENT, "code": "care-communication-message"},
        "destination": [_primary_destination(head.receiver_endpoint, head.receiver_key)],
        "sender": _ref(head.sender_key),
        "source": {"endpoint": head.sender_endpoint},
        "focus": [_ref(comm_key)],
        "definition": url.CC_DEFINITION_5_0,
    }


def _communication(
    cid: str,
    *,
    thread_id: str,
    classification: Classification,
    patient_key: str,
    payloads: list[JsonDict],
    sender_ext_key: str | None,
    recipient_key: str | None,
    encounter_key: str | None,
) -> JsonDict:
    rows: list[tuple[str, str | None]] = [
        ("Thread id", thread_id),
        ("Status", "unknown"),
        ("Category", classification.category),
        ("Priority", classification.priority),
        ("Topic", classification.topic),
        ("Subject", patient_key),
        ("Encounter", encounter_key),
        ("Specific sender", sender_ext_key),
        ("Recipient", recipient_key),
    ]
    for n, p in enumerate(payloads, 1):
        if "contentString" in p:
            rows.append((f"Segment {n}", p["contentString"]))
        else:
            rows.append((f"Segment {n} (attachment)", p["contentAttachment"].get("title")))
    comm: JsonDict = {
        "resourceType": "Communication",
        "id": cid,
        "meta": {"profile": [url.PROFILE_CC_COMMUNICATION]},
        "text": _narrative("Communication", rows),
    }
    if sender_ext_key:
        comm["extension"] = [{"url": url.EXT_SENDER, "valueReference": _ref(sender_ext_key)}]
    comm["identifier"] = [{"value": thread_id}]
    comm["status"] = "unknown"
    comm["category"] = [{"coding": [{"system": url.CS_CATEGORY, "code": classification.category}]}]
    if classification.priority:
        comm["priority"] = classification.priority
    comm["subject"] = _ref(patient_key)
    if classification.topic is not None:
        comm["topic"] = {"text": clean_text(classification.topic, "topic")}
    if encounter_key:
        comm["encounter"] = _ref(encounter_key)
    if recipient_key:
        comm["recipient"] = [_ref(recipient_key)]
    comm["payload"] = payloads
    return comm


def _provenance(
    pid: str,
    *,
    profile: str,
    target_key: str,
    now: datetime,
    activity: str,
    agent_key: str,
    sources: Sequence[str],
    revision_of: str | None,
) -> JsonDict:
    entity: list[JsonDict] = [{"role": "source", "what": {"identifier": {"value": s}}} for s in sources]
    if revision_of:
        entity.append({"role": "revision", "what": _ref(revision_of)})
    when = fhir_datetime(now, "now")
    resource: JsonDict = {
        "resourceType": "Provenance",
        "id": pid,
        "meta": {"profile": [profile]},
        "text": _narrative(
            f"Provenance: {activity}",
            [
                ("Target", target_key),
                ("Occurred", when),
                ("Activity", activity),
                ("Agent", agent_key),
                ("Payload", ", ".join(sources)),
                ("Preceding message", revision_of),
            ],
        ),
        "target": [_ref(target_key)],
        "occurredDateTime": when,
        "recorded": when,
        "activity": {"coding": [{"system": url.CS_ACTIVITY, "code": activity}]},
        "agent": [{"who": _ref(agent_key)}],
    }
    if entity:
        resource["entity"] = entity
    return resource


def _as_texts(text: TextSegment | Sequence[TextSegment]) -> list[TextSegment]:
    return [text] if isinstance(text, TextSegment) else list(text)


# --------------------------------------------------------------------------------------------------------
# Public API


def new_message(
    *,
    sender: Organization,
    receiver: Organization,
    patient: Patient,
    classification: Classification,
    text: TextSegment | Sequence[TextSegment],
    now: datetime,
    new_id: IdFactory,
    attachments: Sequence[Attachment] = (),
    episode_of_care: EpisodeOfCare | None = None,
    specific_sender: SpecificParty | None = None,
    recipient: SpecificParty | None = None,
) -> JsonDict:
    """A new CareCommunication starting a new thread (Provenance activity `new-message`)."""
    ids = _Ids(new_id)
    assembly = _Assembly(ids, url.FULLURL_CC)
    if (sender.sor, sender.ean) == (receiver.sor, receiver.ean):
        raise BuildError("medcom-messaging-receiver", "sender and receiver are the same organisation")
    sender_key = assembly.add(_organization_resource(sender, ids.resource()))
    receiver_key = assembly.add(_organization_resource(receiver, ids.resource()))
    patient_key = assembly.add(_patient_resource(patient, ids.resource()))
    head = _Header(sender_key, receiver_key, sender.sor_endpoint, receiver.sor_endpoint)
    return _finish(
        assembly,
        head=head,
        now=now,
        thread_id=ids.uuid_urn(),
        classification=classification,
        patient_key=patient_key,
        carried_payloads=[],
        texts=_as_texts(text),
        attachments=attachments,
        encounter_key=(
            assembly.add(_encounter_resource(episode_of_care, patient_key, ids)) if episode_of_care else None
        ),
        sender_ext_key=_specific(specific_sender, sender_key, assembly) if specific_sender else None,
        recipient_key=_specific(recipient, receiver_key, assembly) if recipient else None,
        activity="new-message",
        revision_of=None,
    )


def _finish(
    assembly: _Assembly,
    *,
    head: _Header,
    now: datetime,
    thread_id: str,
    classification: Classification,
    patient_key: str,
    carried_payloads: list[JsonDict],
    texts: Sequence[TextSegment],
    attachments: Sequence[Attachment],
    encounter_key: str | None,
    sender_ext_key: str | None,
    recipient_key: str | None,
    activity: str,
    revision_of: str | None,
) -> JsonDict:
    ids = assembly.ids
    fhir_datetime(now, "now")
    new_payloads, sources = _new_payloads(
        texts,
        attachments,
        now=now,
        sender_key=head.sender_key,
        authors=_Authors(assembly, head.sender_key),
        ids=ids,
    )
    mh_id, comm_id = ids.resource(), ids.resource()
    comm_key = f"Communication/{comm_id}"
    assembly.header = _cc_header(mh_id, head, comm_key)
    assembly.add(
        _communication(
            comm_id,
            thread_id=thread_id,
            classification=classification,
            patient_key=patient_key,
            payloads=carried_payloads + new_payloads,
            sender_ext_key=sender_ext_key,
            recipient_key=recipient_key,
            encounter_key=encounter_key,
        )
    )
    assembly.add(
        _provenance(
            ids.resource(),
            profile=url.PROFILE_CC_PROVENANCE,
            target_key=f"MessageHeader/{mh_id}",
            now=now,
            activity=activity,
            agent_key=head.sender_key,
            sources=sources,
            revision_of=revision_of,
        )
    )
    return assembly.bundle(url.PROFILE_CC_MESSAGE, now)


def _received_classification(comm: Mapping[str, Any]) -> Classification:
    """Category, topic and priority pre-filled from the received message (GOV: the user may change them)."""
    category = None
    for concept in comm.get("category") or []:
        for coding in concept.get("coding") or [] if isinstance(concept, dict) else []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                category = coding["code"]
    if category is None:
        raise BuildError(
            "medcom-careCommunication-category", "the received message has no category; pass one"
        )
    topic = comm.get("topic")
    topic_text = topic.get("text") if isinstance(topic, dict) else None
    priority = comm.get("priority")
    return Classification(
        category=category,
        topic=topic_text if isinstance(topic_text, str) else None,
        priority=priority if priority in ("routine", "asap") and category == "regarding-referral" else None,
    )


def _with_narrative(resource: JsonDict) -> JsonDict:
    """A carried resource, with a generated narrative only if it arrived without one (MedCom: always)."""
    if isinstance(resource.get("text"), dict):
        return resource
    out = copy.deepcopy(resource)
    out["text"] = _narrative(str(resource.get("resourceType")), [("Id", str(resource.get("id")))])
    return out


def _endpoint(node: Mapping[str, Any] | None, fallback: str | None) -> str:
    value = node.get("endpoint") if isinstance(node, Mapping) else None
    if isinstance(value, str) and value:
        return value
    if fallback:
        return fallback
    raise BuildError("medcom-messaging-endpoint", "no endpoint known; pass it explicitly")


def _org_endpoint(org: Mapping[str, Any]) -> str | None:
    sor = _identifier_value(org, url.SYS_SOR)
    return f"{url.SOR_ENDPOINT_PREFIX}{sor}" if sor else None


def _carry(
    received: _Received, assembly: _Assembly, roots: Sequence[Any], extra: Sequence[JsonDict] = ()
) -> None:
    """Copy the given received resources and everything they reference (unchanged, ids kept)."""
    for resource in [*extra, *received.closure([*roots, *extra])]:
        if resource.get("resourceType") == "Provenance":
            assembly.add(copy.deepcopy(resource))  # historic Provenances travel unchanged
        else:
            assembly.add(_with_narrative(copy.deepcopy(resource)))


def _thread_start(received: _Received) -> tuple[JsonDict, JsonDict, JsonDict, list[JsonDict]]:
    if received.event() != "care-communication-message":
        raise BuildError(
            "medcom-careCommunication-event", "only a CareCommunication can be replied to or forwarded"
        )
    comm = received.communication()
    patient = received.resolve(comm.get("subject"))
    if patient is None:
        raise BuildError("medcom-careCommunication-2", "the received Communication.subject does not resolve")
    payloads = comm.get("payload")
    if not isinstance(payloads, list) or not payloads:
        raise BuildError("medcom-careCommunication-payload", "the received Communication has no payload")
    return received.header(), comm, patient, [p for p in payloads if isinstance(p, dict)]


def reply(
    received_bundle: Mapping[str, Any],
    *,
    text: TextSegment | Sequence[TextSegment],
    now: datetime,
    new_id: IdFactory,
    attachments: Sequence[Attachment] = (),
    classification: Classification | None = None,
    episode_of_care: EpisodeOfCare | None = None,
    specific_sender: SpecificParty | None = None,
    recipient: SpecificParty | None = None,
    sender_endpoint: str | None = None,
) -> JsonDict:
    """A reply to the received (latest) message of a thread (Provenance activity `reply-message`).

    We are the received message's receiver. Defaults follow MedCom's rules: category/topic/priority
    pre-filled from the received message; recipient = the received specific sender (GOV
    medcom-carecommunication-7); the received episode-of-care identifier returned (GOV 080) unless another
    is given. Earlier attachments are repeated without data and url.
    """
    received = _Received(received_bundle)
    mh, comm, patient, payloads = _thread_start(received)
    thread = comm.get("identifier")
    thread_id = (
        thread[0].get("value")
        if isinstance(thread, list) and thread and isinstance(thread[0], dict)
        else None
    )
    if not isinstance(thread_id, str):
        raise BuildError("medcom-uuidv4", "the received Communication has no identifier (thread id) to keep")
    ids = _Ids(new_id)
    assembly = _Assembly(ids, url.FULLURL_CC)
    ours, theirs = received.receiver_org(), received.sender_org()
    carried = [_attachment_stub(p) for p in payloads]
    roots: list[Any] = [carried]
    extra = [ours, theirs, patient, *received.of_type("Provenance")]

    received_sender_ext = _ext(comm, url.EXT_SENDER)
    recipient_key: str | None = None
    if recipient is None and received_sender_ext is not None:
        target = received.resolve(received_sender_ext.get("valueReference"))
        if target is not None:
            extra.append(target)
            recipient_key = _ref_key(target)
    encounter_key: str | None = None
    received_encounter = received.resolve(comm.get("encounter"))
    if episode_of_care is None and received_encounter is not None:
        extra.append(received_encounter)
        encounter_key = _ref_key(received_encounter)
    _carry(received, assembly, roots, extra)

    ours_key, theirs_key, patient_key = _ref_key(ours), _ref_key(theirs), _ref_key(patient)
    if recipient is not None:
        recipient_key = _specific(recipient, theirs_key, assembly)
    if episode_of_care is not None:
        encounter_key = assembly.add(_encounter_resource(episode_of_care, patient_key, ids))
    head = _Header(
        ours_key,
        theirs_key,
        sender_endpoint or _endpoint(received.primary_destination(), _org_endpoint(ours)),
        _endpoint(mh.get("source"), _org_endpoint(theirs)),
    )
    return _finish(
        assembly,
        head=head,
        now=now,
        thread_id=thread_id,
        classification=classification or _received_classification(comm),
        patient_key=patient_key,
        carried_payloads=carried,
        texts=_as_texts(text),
        attachments=attachments,
        encounter_key=encounter_key,
        sender_ext_key=_specific(specific_sender, ours_key, assembly) if specific_sender else None,
        recipient_key=recipient_key,
        activity="reply-message",
        revision_of=f"MessageHeader/{mh.get('id')}",
    )


def _attachment_stub(payload: JsonDict) -> JsonDict:
    """A reply repeats an earlier attachment without `data` and `url`; identifier, date, title stay (§3.3)."""
    out = copy.deepcopy(payload)
    content = out.get("contentAttachment")
    if isinstance(content, dict):
        content.pop("data", None)
        content.pop("url", None)
    return out


def _segment_id(payload: Mapping[str, Any]) -> str | None:
    ext = _ext(payload, url.EXT_IDENTIFIER)
    ident = ext.get("valueIdentifier") if isinstance(ext, dict) else None
    value = ident.get("value") if isinstance(ident, dict) else None
    return value if isinstance(value, str) else None


def _restore_attachment(payload: JsonDict, earlier: Mapping[str, Attachment]) -> JsonDict:
    """A forward sends every attachment's content again; a stub is filled from `earlier` (keyed by segment id)."""
    content = payload.get("contentAttachment")
    if not isinstance(content, dict) or "data" in content or "url" in content:
        return payload
    seg_id = _segment_id(payload)
    source = earlier.get(seg_id) if seg_id else None
    if source is None:
        raise BuildError(
            "medcom-careCommunication-forward-attachment",
            f"attachment {content.get('title')!r} ({seg_id}) arrived without its content (sent earlier); "
            "a forward must include it: pass it in earlier_attachments keyed by its segment identifier",
        )
    out = copy.deepcopy(payload)
    filled = out["contentAttachment"]
    if source.data is not None:
        filled["data"] = base64.b64encode(source.data).decode("ascii")
        filled.setdefault("contentType", source.content_type)
    else:
        filled["url"] = source.url
    # Keep FHIR element order (contentType, data, url, title, creation) for readable JSON.
    order = ("contentType", "language", "data", "url", "size", "hash", "title", "creation")
    out["contentAttachment"] = {k: filled[k] for k in order if k in filled} | {
        k: v for k, v in filled.items() if k not in order
    }
    return out


def forward(
    received_bundle: Mapping[str, Any],
    *,
    to: Organization,
    text: TextSegment | Sequence[TextSegment],
    now: datetime,
    new_id: IdFactory,
    attachments: Sequence[Attachment] = (),
    classification: Classification | None = None,
    episode_of_care: EpisodeOfCare | None = None,
    specific_sender: SpecificParty | None = None,
    recipient: SpecificParty | None = None,
    earlier_attachments: Mapping[str, Attachment] | None = None,
    sender_endpoint: str | None = None,
) -> JsonDict:
    """Forward the received message to a third party `to` (Provenance activity `forward-message`).

    A forward starts a new thread (new Communication.identifier) and carries every earlier segment and
    Provenance; attachment content is sent again. Attachments that reached us as stubs (a reply repeats
    them without data) must be supplied in `earlier_attachments`, keyed by segment identifier
    (`urn:uuid:...`). The received episode-of-care identifier belongs to the original pair of parties and is
    not forwarded unless given as `episode_of_care`.
    """
    received = _Received(received_bundle)
    mh, comm, patient, payloads = _thread_start(received)
    ids = _Ids(new_id)
    assembly = _Assembly(ids, url.FULLURL_CC)
    ours = received.receiver_org()
    earlier = earlier_attachments or {}
    carried = [_restore_attachment(copy.deepcopy(p), earlier) for p in payloads]
    _carry(received, assembly, [carried], [ours, patient, *received.of_type("Provenance")])
    ours_key, patient_key = _ref_key(ours), _ref_key(patient)

    existing = [
        r
        for r in assembly.entries
        if r.get("resourceType") == "Organization"
        and _identifier_value(r, url.SYS_SOR) == to.sor
        and _identifier_value(r, url.SYS_EAN) == to.ean
    ]
    if existing and _ref_key(existing[0]) == ours_key:
        raise BuildError("medcom-messaging-receiver", "a message cannot be forwarded to its own sender")
    to_key = _ref_key(existing[0]) if existing else assembly.add(_organization_resource(to, ids.resource()))
    head = _Header(
        ours_key,
        to_key,
        sender_endpoint or _endpoint(received.primary_destination(), _org_endpoint(ours)),
        to.sor_endpoint,
    )
    return _finish(
        assembly,
        head=head,
        now=now,
        thread_id=ids.uuid_urn(),
        classification=classification or _received_classification(comm),
        patient_key=patient_key,
        carried_payloads=carried,
        texts=_as_texts(text),
        attachments=attachments,
        encounter_key=(
            assembly.add(_encounter_resource(episode_of_care, patient_key, ids)) if episode_of_care else None
        ),
        sender_ext_key=_specific(specific_sender, ours_key, assembly) if specific_sender else None,
        recipient_key=_specific(recipient, to_key, assembly) if recipient else None,
        activity="forward-message",
        revision_of=f"MessageHeader/{mh.get('id')}",
    )


def _latest_provenance(received: _Received, mh_id: str) -> JsonDict | None:
    """The Provenance of the acknowledged message itself: the one whose target is its MessageHeader."""
    for prov in received.of_type("Provenance"):
        for target in prov.get("target") or []:
            ref = target.get("reference") if isinstance(target, dict) else None
            if isinstance(ref, str) and (
                ref == f"MessageHeader/{mh_id}" or ref.endswith(f"/MessageHeader/{mh_id}")
            ):
                return prov
    return None


def _outcome(oid: str, issues: Sequence[Issue]) -> JsonDict:
    issue_list: list[JsonDict] = []
    for issue in issues:
        entry: JsonDict = {"severity": issue.severity, "code": issue.code}
        details: JsonDict = {}
        if issue.detail:
            details["coding"] = [{"system": issue_detail_system(issue.detail), "code": issue.detail}]
        if issue.text:
            details["text"] = issue.text
        entry["details"] = details
        issue_list.append(entry)
    return {
        "resourceType": "OperationOutcome",
        "id": oid,
        "meta": {"profile": [url.PROFILE_ACK_OUTCOME]},
        "text": _narrative(
            "OperationOutcome",
            [
                (f"Issue {n} ({i.severity}, {i.code})", " - ".join(x for x in (i.detail, i.text) if x))
                for n, i in enumerate(issues, 1)
            ],
        ),
        "issue": issue_list,
    }


def acknowledgement(
    received_bundle: Mapping[str, Any],
    *,
    code: AckCode = "ok",
    issues: Sequence[Issue] = (),
    now: datetime,
    new_id: IdFactory,
    sender: Organization | None = None,
    receiver: Organization | None = None,
    sender_endpoint: str | None = None,
    receiver_endpoint: str | None = None,
) -> JsonDict:
    """An Acknowledgement 2.0.3 of the received message (§7): `ok`, `transient-error` or `fatal-error`.

    We are the received message's receiver and answer its sender. For a message too broken to name its
    parties, pass `sender` (us) and `receiver` (them) from the register. A negative code needs `issues`
    (medcom-acknowledgement-1). The bundle holds the received message's latest Provenance unchanged and
    a new `acknowledgement` Provenance whose `revision` is the acknowledged MessageHeader.
    """
    if code not in ACK_CODES:
        raise BuildError("medcom-acknowledgement-code", f"response code {code!r}; use one of {ACK_CODES}")
    if code != "ok" and not issues:
        raise BuildError(
            "medcom-acknowledgement-1",
            f"a '{code}' acknowledgement needs at least one issue (OperationOutcome)",
        )
    received = _Received(received_bundle)
    mh = received.header()
    if received.event() == "acknowledgement-message":
        raise BuildError(
            "medcom-acknowledgement-never-acknowledged", "an acknowledgement is never acknowledged"
        )
    mh_id = mh.get("id")
    if not isinstance(mh_id, str) or not _FHIR_ID.fullmatch(mh_id):
        raise BuildError(
            "medcom-acknowledgement-response", "the received MessageHeader has no usable id to acknowledge"
        )
    ids = _Ids(new_id)
    fhir_datetime(now, "now")
    assembly = _Assembly(ids, url.FULLURL_ACK)

    latest = _latest_provenance(received, mh_id)
    ours_org = None if sender else received.receiver_org()
    theirs_org = None if receiver else received.sender_org()
    ours_key = (
        assembly.add(_organization_resource(sender, ids.resource()))
        if sender
        else assembly.add(_with_narrative(copy.deepcopy(ours_org or {})))
    )
    theirs_key = (
        assembly.add(_organization_resource(receiver, ids.resource()))
        if receiver
        else assembly.add(_with_narrative(copy.deepcopy(theirs_org or {})))
    )
    if latest is not None:
        _carry(received, assembly, [], [latest])

    outcome_key = assembly.add(_outcome(ids.resource(), issues)) if issues else None
    ack_id = ids.resource()
    try:
        dest = received.primary_destination()
    except BuildError:
        dest = {}
    our_endpoint = sender_endpoint or _endpoint(
        dest, sender.sor_endpoint if sender else _org_endpoint(ours_org or {})
    )
    their_endpoint = receiver_endpoint or _endpoint(
        mh.get("source"), receiver.sor_endpoint if receiver else _org_endpoint(theirs_org or {})
    )
    response: JsonDict = {"identifier": mh_id, "code": code}
    if outcome_key:
        response["details"] = _ref(outcome_key)
    assembly.header = {
        "resourceType": "MessageHeader",
        "id": ack_id,
        "meta": {"profile": [url.PROFILE_ACK_HEADER]},
        "text": _narrative(
            f"Acknowledgement {ack_id}",
            [
                ("Id", ack_id),
                ("Event", "acknowledgement-message"),
                ("Destination endpoint", their_endpoint),
                ("Receiver", theirs_key),
                ("Sender", ours_key),
                ("Source endpoint", our_endpoint),
                ("Acknowledged message", mh_id),
                ("Response", code),
            ],
        ),
        "eventCoding": {"system": url.CS_EVENT, "code": "acknowledgement-message"},
        "destination": [_primary_destination(their_endpoint, theirs_key)],
        "sender": _ref(ours_key),
        "source": {"endpoint": our_endpoint},
        "response": response,
    }
    assembly.add(
        _provenance(
            ids.resource(),
            profile=url.PROFILE_MESSAGING_PROVENANCE,
            target_key=f"MessageHeader/{ack_id}",
            now=now,
            activity="acknowledgement",
            agent_key=ours_key,
            sources=(),
            revision_of=f"MessageHeader/{mh_id}",
        )
    )
    return assembly.bundle(url.PROFILE_ACK_MESSAGE, now)

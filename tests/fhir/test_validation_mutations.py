"""Mutation tests: take a valid official example, break exactly one rule, expect exactly that rule id."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from medcom_bridge.fhir.validation import RULES, validate_resource
from tests.fhir.validation_data import entry_of, example, one, ref, resources

Bundle = dict[str, Any]
CS_SKS = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ"
EXT_IDENTIFIER = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-identifier-extension"
EXT_DATE = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-datetime-extension"
EXT_CONTACT = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-contact-extension"
SOR = "urn:oid:1.2.208.176.1.1"
GLN = "https://www.gs1.org/gln"

# Bases: S-A (specific sender CareTeam + recipient PractitionerRole), S-Tek-B (Encounter), S-Tek-CPR (eCPRs),
# 4.0 example A, and the 'ok' acknowledgement of the Acknowledgement IG.
A = "send-v5/Bundle-S-A-new"
ENC = "send-v5/Bundle-S-Tek-B"
ECPR = "send-v5/Bundle-S-Tek-CPR"
V4 = "send-v4/CareCommunication_Ex_send-A-new"
ACK_OK = "ack/Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json"
ACK_FATAL = "ack/Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json"


def mh(b: Bundle) -> dict[str, Any]:
    return one(b, "MessageHeader")


def comm(b: Bundle) -> dict[str, Any]:
    return one(b, "Communication")


def author_role(b: Bundle) -> dict[str, Any]:
    author = next(
        e for e in comm(b)["payload"][0]["extension"] if e["url"].endswith("practitioner-extension")
    )
    rid = author["valueReference"]["reference"].split("/")[1]
    return next(r for r in resources(b, "PractitionerRole") if r["id"] == rid)


def recipient_role(b: Bundle) -> dict[str, Any]:
    rid = comm(b)["recipient"][0]["reference"].split("/")[1]
    return next(r for r in resources(b, "PractitionerRole") if r["id"] == rid)


def practitioner_of(b: Bundle, role: dict[str, Any]) -> dict[str, Any]:
    pid = role["practitioner"]["reference"].split("/")[1]
    return next(r for r in resources(b, "Practitioner") if r["id"] == pid)


def sender_org(b: Bundle) -> dict[str, Any]:
    oid = mh(b)["sender"]["reference"].split("/")[1]
    return next(r for r in resources(b, "Organization") if r["id"] == oid)


def receiver_org(b: Bundle) -> dict[str, Any]:
    oid = mh(b)["destination"][0]["receiver"]["reference"].split("/")[1]
    return next(r for r in resources(b, "Organization") if r["id"] == oid)


def ident(resource: dict[str, Any], system: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in resource["identifier"] if i["system"] == system)
    return found


def segment_ext(b: Bundle, url: str, payload: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in comm(b)["payload"][payload]["extension"] if e["url"] == url)
    return found


def add_copy(b: Bundle, resource: dict[str, Any], new_id: str) -> dict[str, Any]:
    twin = copy.deepcopy(resource)
    twin["id"] = new_id
    base = entry_of(b, resource)["fullUrl"].rsplit("/", 1)[0]
    b["entry"].append({"fullUrl": f"{base}/{new_id}", "resource": twin})
    return twin


def attachment_payload(b: Bundle, **content: Any) -> dict[str, Any]:
    payload = {
        "extension": [
            {"url": EXT_DATE, "valueDateTime": "2024-09-05T14:00:00+02:00"},
            {
                "url": EXT_IDENTIFIER,
                "valueIdentifier": {
                    "value": "urn:uuid:0d3f5b6e-7c1a-4d2b-9e8f-1a2b3c4d5e6f",
                    "assigner": ref(sender_org(b)),
                },
            },
        ],
        "contentAttachment": {"title": "Svar", **content},
    }
    comm(b)["payload"].append(payload)
    return payload


def _move_header_last(b: Bundle) -> None:
    b["entry"].append(b["entry"].pop(0))


def _drop_provenances(b: Bundle) -> None:
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "Provenance"]


def _second_header(b: Bundle) -> None:
    add_copy(b, mh(b), "0ebb6284-0000-4000-8000-000000000001")


def _set(path_fn: Callable[[Bundle], dict[str, Any]], key: str, value: Any) -> Callable[[Bundle], None]:
    def mutate(b: Bundle) -> None:
        path_fn(b)[key] = value

    return mutate


def _delete(path_fn: Callable[[Bundle], dict[str, Any]], key: str) -> Callable[[Bundle], None]:
    def mutate(b: Bundle) -> None:
        del path_fn(b)[key]

    return mutate


def _both(*fns: Callable[[Bundle], None]) -> Callable[[Bundle], None]:
    def mutate(b: Bundle) -> None:
        for fn in fns:
            fn(b)

    return mutate


def _core_org_without_mandatory_identifier(b: Bundle) -> None:
    org = add_copy(b, sender_org(b), "c0de0000-0000-4000-8000-000000000002")
    org["meta"]["profile"] = ["http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-organization"]
    org["identifier"] = [i for i in org["identifier"] if i["system"] == GLN]


def _provenance(b: Bundle) -> dict[str, Any]:
    return one(b, "Provenance")


def _add_basic(b: Bundle) -> None:
    b["entry"].append(
        {
            "fullUrl": "urn:uuid:5e0b6a6e-1d2c-4b3a-9f8e-7d6c5b4a3f2e",
            "resource": {"resourceType": "Basic", "id": "x"},
        }
    )


def _entity(b: Bundle) -> dict[str, Any]:
    found: dict[str, Any] = _provenance(b)["entity"][0]
    return found


def _oo(b: Bundle) -> dict[str, Any]:
    return one(b, "OperationOutcome")


# rule id -> (base example, mutation, severity of the expected finding)
MUTATIONS: dict[str, tuple[str, Callable[[Bundle], None], str]] = {
    "bdl-12": (A, _move_header_last, "error"),
    "bdl-7": (A, lambda b: b["entry"][-1].__setitem__("fullUrl", b["entry"][1]["fullUrl"]), "error"),
    "bdl-5": (
        A,
        lambda b: b["entry"].append({"fullUrl": "urn:uuid:9b7d1c1e-3f7a-4e39-9d5b-0a8f1c2e3d4b"}),
        "error",
    ),
    "medcom-messaging-2": (A, _drop_provenances, "error"),
    "medcom-careCommunication-1": (
        A,
        lambda b: mh(b)["meta"].__setitem__(
            "profile",
            ["http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-messageHeader"],
        ),
        "error",
    ),
    "medcom-careCommunication-2": (A, lambda b: add_copy(b, one(b, "Patient"), "second-patient"), "error"),
    "medcom-careCommunication-3": (
        A,
        lambda b: _provenance(b)["meta"].__setitem__(
            "profile", ["http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance"]
        ),
        "error",
    ),
    "medcom-careCommunication-4": (A, lambda b: practitioner_of(b, recipient_role(b)).pop("name"), "error"),
    "medcom-careCommunication-5": (A, _set(comm, "priority", "asap"), "error"),
    "medcom-careCommunication-6": (
        A,
        _both(
            lambda b: comm(b)["category"][0]["coding"][0].__setitem__("code", "other"),
            _delete(comm, "topic"),
        ),
        "error",
    ),
    "medcom-careCommunication-7": (
        A,
        lambda b: author_role(b)["code"][0].__setitem__("text", "Visitator"),
        "error",
    ),
    "medcom-careCommunication-9": (ENC, _delete(lambda b: one(b, "Encounter"), "episodeOfCare"), "error"),
    "medcom-careCommunication-11": (
        A,
        lambda b: one(b, "CareTeam").__setitem__("managingOrganization", [ref(receiver_org(b))]),
        "error",
    ),
    "medcom-careCommunication-12": (
        A,
        lambda b: recipient_role(b).__setitem__("organization", ref(sender_org(b))),
        "error",
    ),
    "medcom-careCommunication-13": (A, _delete(lambda b: recipient_role(b), "practitioner"), "error"),
    "medcom-careCommunication-15": (ENC, _delete(comm, "encounter"), "error"),
    "medcom-carecommunication-definition-url": (
        A,
        _set(
            mh,
            "definition",
            "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComCareCommunicationMessageDefinition|6.0",
        ),
        "error",
    ),
    "medcom-uuidv4": (
        A,
        lambda b: comm(b)["identifier"][0].__setitem__(
            "value", "urn:uuid:B2EB3D0E-5DE5-4DE9-B2A3-0FF321AD1C3A"
        ),
        "error",
    ),
    "medcom-core-contact": (
        A,
        lambda b: segment_ext(b, EXT_CONTACT)["valueContactPoint"].__setitem__("value", "ring"),
        "error",
    ),
    "dk-core-organization-mandatory-identifier": (A, _core_org_without_mandatory_identifier, "error"),
    "cardinality": (A, _delete(comm, "subject"), "error"),
    "json-array": (A, lambda b: comm(b).__setitem__("category", comm(b)["category"][0]), "error"),
    "unknown-element": (A, _set(lambda b: one(b, "Patient"), "favouriteColour", "blue"), "error"),
    "datatype": (A, _set(lambda b: one(b, "Patient"), "deceasedBoolean", "yes"), "error"),
    "datetime-timezone": (A, lambda b: b.__setitem__("timestamp", "2024-09-05T14:00:00"), "error"),
    "fhir-id": (A, _set(comm, "id", "not a valid id!"), "error"),
    "fixed-value": (A, _set(comm, "status", "completed"), "error"),
    "narrative": (A, _delete(lambda b: one(b, "Patient"), "text"), "error"),
    "meta-profile": (A, _delete(lambda b: one(b, "Patient"), "meta"), "warning"),
    "narrative-content": (
        A,
        lambda b: mh(b)["text"].__setitem__("div", '<div xmlns="http://www.w3.org/1999/xhtml">Besked</div>'),
        "warning",
    ),
    "reference-resolves": (A, _set(comm, "subject", {"reference": "Patient/does-not-exist"}), "error"),
    "reference-target": (A, lambda b: comm(b).__setitem__("subject", ref(sender_org(b))), "error"),
    "entry-fullurl": (A, lambda b: b["entry"][1].pop("fullUrl"), "warning"),
    "resource-unexpected": (A, _add_basic, "warning"),
    "bundle-messageheader": (A, _second_header, "error"),
    "bundle-communication": (A, lambda b: add_copy(b, comm(b), "second-communication"), "error"),
    "message-kind": (
        A,
        lambda b: mh(b)["eventCoding"].__setitem__("code", "hospital-notification-message"),
        "error",
    ),
    "destination-use": (A, lambda b: mh(b)["destination"][0].pop("extension"), "error"),
    "destination-primary": (
        A,
        lambda b: mh(b)["destination"].append(copy.deepcopy(mh(b)["destination"][0])),
        "error",
    ),
    "destination-cc": (
        A,
        lambda b: mh(b)["destination"].append(
            {
                **copy.deepcopy(mh(b)["destination"][0]),
                "extension": [
                    {
                        **mh(b)["destination"][0]["extension"][0],
                        "valueCoding": {
                            "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse",
                            "code": "cc",
                        },
                    }
                ],
            }
        ),
        "error",
    ),
    "binding-destinationUse": (
        A,
        lambda b: mh(b)["destination"][0]["extension"][0]["valueCoding"].__setitem__("code", "bcc"),
        "error",
    ),
    "messageheader-response": (A, _set(mh, "response", {"identifier": "abc", "code": "ok"}), "warning"),
    "payload-string": (
        A,
        lambda b: (
            comm(b)["payload"][0].update(
                {"contentAttachment": {"contentType": "application/pdf", "data": "JVBERi0=", "title": "Brev"}}
            )
            or comm(b)["payload"][0].pop("contentString")
        ),
        "error",
    ),
    "payload-extension": (
        A,
        lambda b: comm(b)["payload"][0].__setitem__(
            "extension", [e for e in comm(b)["payload"][0]["extension"] if e["url"] != EXT_CONTACT]
        ),
        "error",
    ),
    "payload-reference": (
        A,
        lambda b: comm(b)["payload"].append({"contentReference": ref(one(b, "Patient"))}),
        "warning",
    ),
    "attachment-empty": (A, lambda b: attachment_payload(b, contentType="application/pdf", data=""), "error"),
    "att-1": (A, lambda b: attachment_payload(b, data="JVBERi0="), "error"),
    "binding-attachmentMimeTypes": (
        A,
        lambda b: attachment_payload(b, contentType="video/mp4", data="AAAA"),
        "error",
    ),
    "provenance-entity": (A, lambda b: _entity(b).__setitem__("role", "removal"), "error"),
    "provenance-revision": (
        A,
        lambda b: _provenance(b)["activity"]["coding"][0].__setitem__("code", "reply-message"),
        "error",
    ),
    "provenance-current": (
        A,
        lambda b: _provenance(b).__setitem__("target", [{"reference": "MessageHeader/some-earlier-message"}]),
        "error",
    ),
    "provenance-payload-ids": (
        A,
        lambda b: _entity(b)["what"]["identifier"].__setitem__(
            "value", "urn:uuid:6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
        ),
        "warning",
    ),
    "identifier-cpr": (
        A,
        lambda b: one(b, "Patient")["identifier"][0].__setitem__("value", "3102479989"),
        "error",
    ),
    "identifier-x-ecpr": (
        ECPR,
        lambda b: one(b, "Patient")["identifier"][0].__setitem__("value", "070392AVJ6"),
        "error",
    ),
    "identifier-d-ecpr": (
        ECPR,
        lambda b: one(b, "Patient")["identifier"][1].__setitem__("value", "1206551VK9"),
        "error",
    ),
    "identifier-sor": (A, lambda b: ident(sender_org(b), SOR).__setitem__("value", "4412110"), "error"),
    "identifier-gln": (A, lambda b: ident(sender_org(b), GLN).__setitem__("value", "5790001987245"), "error"),
    "identifier-cvr": (
        A,
        lambda b: sender_org(b)["identifier"].append({"system": "http://cvr.dk", "value": "12345678"}),
        "error",
    ),
    "identifier-kombit": (
        A,
        lambda b: sender_org(b)["identifier"].append(
            {"system": "https://kombit.dk/sts/organisation", "value": "kombit-1"}
        ),
        "error",
    ),
    "identifier-lpr3": (
        ENC,
        lambda b: one(b, "Encounter")["episodeOfCare"].append(
            {
                "identifier": {
                    "system": "https://www.esundhed.dk/Registre/Landspatientregisteret",
                    "value": "urn:uuid:39e3e169-9ece-4ba4-bd24-2e0fbeebc333",
                }
            }
        ),
        "error",
    ),
    "identifier-use": (A, lambda b: ident(sender_org(b), SOR).__setitem__("use", "usual"), "error"),
    "patient-name": (A, lambda b: one(b, "Patient")["name"][0].__setitem__("use", "usual"), "error"),
    "patient-family-name": (A, lambda b: one(b, "Patient")["name"][0].pop("family"), "error"),
    "binding-categories": (
        A,
        lambda b: comm(b)["category"][0]["coding"][0].__setitem__("code", "superhurtig"),
        "error",
    ),
    "binding-requestPriority": (
        A,
        _both(
            lambda b: comm(b)["category"][0]["coding"][0].__setitem__("code", "regarding-referral"),
            _set(comm, "priority", "superhurtig"),
        ),
        "error",
    ),
    "binding-messagingActivities": (
        A,
        lambda b: _provenance(b)["activity"]["coding"][0].__setitem__("code", "modified-message"),
        "error",
    ),
    "binding-encounter-class": (
        ENC,
        lambda b: one(b, "Encounter")["class"].__setitem__("code", "XYZ"),
        "error",
    ),
    "binding-PractitionerRoles": (
        A,
        lambda b: author_role(b).__setitem__("code", [{"coding": [{"system": CS_SKS, "code": "kok"}]}]),
        "information",
    ),
    "binding-narrative-status": (
        A,
        lambda b: one(b, "Patient")["text"].__setitem__("status", "pretty"),
        "error",
    ),
    "binding-identifier-use": (A, lambda b: comm(b)["identifier"][0].__setitem__("use", "forever"), "error"),
    # Acknowledgement.
    "medcom-acknowledgement-1": (
        ACK_OK,
        lambda b: mh(b)["response"].__setitem__("code", "fatal-error"),
        "error",
    ),
    "medcom-acknowledgement-2": (ACK_OK, _delete(mh, "meta"), "error"),
    "medcom-messaging-3": (ACK_OK, _delete(_provenance, "meta"), "error"),
    "binding-response-code": (ACK_FATAL, lambda b: mh(b)["response"].__setitem__("code", "maybe"), "error"),
    "binding-issue-type": (ACK_FATAL, lambda b: _oo(b)["issue"][0].__setitem__("code", "oops"), "error"),
    "binding-issue-severity": (
        ACK_FATAL,
        lambda b: _oo(b)["issue"][0].__setitem__("severity", "bad"),
        "error",
    ),
    "binding-acknowledgement-issue-details": (
        ACK_FATAL,
        lambda b: _oo(b)["issue"][0].__setitem__(
            "details",
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/operation-outcome", "code": "MSG_OOPS"}
                ]
            },
        ),
        "error",
    ),
    "binding-activityCodes": (
        ACK_OK,
        lambda b: _provenance(b)["activity"]["coding"][0].__setitem__("code", "no-such-activity"),
        "error",
    ),
}

# Rules a single mutation cannot isolate, with the reason (they are covered by the tests named).
NOT_ISOLATED = {
    "medcom-careCommunication-8": "an author without a name also breaks inv-4; see test_author_without_name",
    "acknowledgement-event": "another event code makes the bundle no acknowledgement; see test_ack_event_system",
    "binding-messageTypes": "covered by message-kind / fixed-value; see test_ack_event_system",
    "acknowledgement-provenance": "official IG examples show it; see test_ack_provenance_warning",
    "message-size": "needs a 50 MB message; see test_message_size",
    "parse": "see test_validation_fuzz",
    "json-syntax": "see test_validation_fuzz",
    "json-encoding": "see test_validation_fuzz",
    "json-duplicate-key": "see test_validation_fuzz",
    "json-too-large": "needs a 140 MB document; the limit is the shared XML limit",
    "internal-error": "a safety net; the fuzz tests assert it never fires",
    "bdl-8": "see test_history_full_url",
    "fhir-string": "only JSON bytes can carry a lone surrogate escape; see test_validation_surrogates",
    "binding-event-status": "Communication.status is also fixed: fixed-value reports it",
    "binding-encounter-status": "see test_encounter_status",
    "binding-name-use": "see test_name_use",
    "binding-provenance-entity-role": "the closed entity slicing (provenance-entity) reports an unknown role",
    "binding-bundle-type": "Bundle.type is also fixed: fixed-value reports it",
}


def test_every_rule_has_a_mutation_or_a_reason() -> None:
    # Bindings added to the catalogue from the snapshots use the mechanism the binding-* mutations test.
    generated = {r for r, text in RULES.items() if text.startswith("required binding to ValueSet")}
    assert set(RULES) - generated == set(MUTATIONS) | set(NOT_ISOLATED)
    assert generated and all(r.startswith("binding-") for r in generated)


@pytest.mark.parametrize("rule", sorted(MUTATIONS))
def test_mutation_breaks_exactly_one_rule(rule: str) -> None:
    base, mutate, severity = MUTATIONS[rule]
    bundle = example(base)
    assert validate_resource(bundle).rules(severity) == set(), "the base example must be clean"
    mutate(bundle)
    report = validate_resource(bundle)
    found = {(f.severity, f.rule) for f in report.findings if (f.severity, f.rule) not in _baseline(base)}
    assert found == {(severity, rule)}, [str(f) for f in report.findings]
    assert report.rules() <= set(RULES), "every rule id we emit is in the public catalogue"
    for finding in report.findings:
        assert finding.path.startswith("Bundle"), finding
        assert finding.message


def _baseline(base: str) -> set[tuple[str, str]]:
    return {(f.severity, f.rule) for f in validate_resource(example(base)).findings}


def test_downgrade_turns_errors_into_information() -> None:
    bundle = example(A)
    attachment_payload(bundle, contentType="video/mp4", data="")
    report = validate_resource(bundle, downgrade={"attachment-empty", "binding-attachmentMimeTypes"})
    assert report.valid
    assert report.rules("information") >= {"attachment-empty", "binding-attachmentMimeTypes"}


def test_author_without_name() -> None:
    bundle = example(A)
    practitioner_of(bundle, author_role(bundle)).pop("name")
    assert validate_resource(bundle).rules() == {"medcom-careCommunication-4", "medcom-careCommunication-8"}


def test_ack_event_system() -> None:
    bundle = example(ACK_OK)
    mh(bundle)["eventCoding"]["system"] = "http://example.org/events"
    assert validate_resource(bundle).rules() == {"acknowledgement-event", "binding-messageTypes"}


def test_ack_provenance_warning() -> None:
    bundle = example(ACK_FATAL)
    report = validate_resource(bundle)
    assert report.valid and report.rules("warning") == {"acknowledgement-provenance"}


def test_message_size() -> None:
    report = validate_resource(example(A), size=60 * 1024 * 1024)
    assert report.rules() == {"message-size"} and report.valid


def test_history_full_url() -> None:
    bundle = example(A)
    bundle["entry"][1]["fullUrl"] += "/_history/2"
    assert "bdl-8" in validate_resource(bundle).rules("error")


def test_encounter_status() -> None:
    bundle = example(ENC)
    one(bundle, "Encounter")["status"] = "sleeping"
    assert validate_resource(bundle).rules() == {"binding-encounter-status"}


def test_name_use() -> None:
    bundle = example(A)
    practitioner_of(bundle, author_role(bundle))["name"][0]["use"] = "nick"
    assert validate_resource(bundle).rules() == {"binding-name-use"}


def test_uuid_version_nibble_is_a_warning() -> None:
    bundle = example(A)
    comm(bundle)["identifier"][0]["value"] = "urn:uuid:b2eb3d0e-5de5-1de9-b2a3-0ff321ad1c3a"
    report = validate_resource(bundle)
    assert report.valid and report.rules("warning") == {"medcom-uuidv4"}


def test_patient_only_replacement_cpr_without_family_name_is_a_warning() -> None:
    bundle = example(ECPR)
    one(bundle, "Patient")["name"][0].pop("family")
    report = validate_resource(bundle)
    assert report.valid and report.rules("warning") == {"patient-family-name"}


def test_finding_names_what_is_allowed() -> None:
    bundle = example(A)
    comm(bundle)["category"][0]["coding"][0]["code"] = "regarding-referral"
    comm(bundle)["priority"] = "superhurtig"
    (finding,) = validate_resource(bundle).findings
    assert finding.path == "Bundle.entry[2].resource.priority"
    assert "'superhurtig' is not an allowed priority" in finding.message
    assert "'asap'" in finding.message and "'routine'" in finding.message


def test_v4_rules_differ() -> None:
    # 4.0: invariant 7 wants a code; 5.0 accepts free text ...
    bundle = example(V4)
    role = author_role(bundle)
    role["code"] = [{"text": "Visitator"}]
    # ... but MedCom's own 4.0 examples use free text, so it is a warning naming what 4.0.3 asked for.
    report = validate_resource(bundle)
    found = [f for f in report.findings if f.rule == "medcom-careCommunication-7"]
    assert report.valid and found and {f.severity for f in found} == {"warning"}
    assert all("4.0.3 asks for code.coding.code" in f.message for f in found)
    role["code"] = [{"id": "empty"}]
    assert validate_resource(bundle).rules("error") == {"medcom-careCommunication-7"}
    # 4.0: inv-3 needs only one Provenance with the profile; 15 does not exist.
    bundle = example(V4)
    enc_less = validate_resource(bundle)
    assert enc_less.version == "4.0" and enc_less.valid
    add_copy(bundle, one(bundle, "Provenance"), "4c9a0000-0000-4000-8000-000000000003")["meta"]["profile"] = [
        "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance"
    ]
    assert validate_resource(bundle).valid


def test_intended_definition_regex() -> None:
    bundle = example(A)
    # The 5.0.2 package's unescaped '|' would accept this; the intended rule does not.
    mh(bundle)["definition"] = "5.0"
    report = validate_resource(bundle)
    assert report.rules("error") == {"medcom-carecommunication-definition-url"} and report.version is None
    mh(bundle)["definition"] = (
        "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComCareCommunicationMessageDefinition|5.12"
    )
    report = validate_resource(bundle)
    assert report.valid and report.version == "5.12"


def test_absent_segment_assigner_is_tolerated_in_4_0_only() -> None:
    """IG 4.0.3 bundle d11968f5 leaves out the Organization that first sent an earlier segment."""
    for base, severity in ((V4, "warning"), (A, "error")):
        bundle = example(base)
        segment_ext(bundle, EXT_IDENTIFIER)["valueIdentifier"]["assigner"] = {
            "reference": "Organization/487ac745-fd11-4879-9b59-c08c7d47260e"
        }
        before = validate_resource(example(base)).findings
        new = [f for f in validate_resource(bundle).findings if f not in before]
        assert [(f.rule, f.severity) for f in new] == [("reference-resolves", severity)], base

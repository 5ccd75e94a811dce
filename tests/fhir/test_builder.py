"""The builder: new/reply/forward CareCommunication 5.0 and Acknowledgement 2.0.3 (spec §3.3, §5, §7)."""

from __future__ import annotations

import base64
import copy
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir.builder import acknowledgement, forward, new_message, reply
from medcom_bridge.fhir.content import Attachment, Classification, Issue, TextSegment
from medcom_bridge.fhir.parties import (
    Author,
    BuildError,
    CareTeam,
    EpisodeOfCare,
    Organization,
    Patient,
    Person,
)
from medcom_bridge.fhir.render import render_thread
from tests.fhir.builder_helpers import (
    ACK_PACKAGE,
    CC_PACKAGE,
    CLINIC,
    GP,
    MUNICIPALITY,
    NOW,
    NURSE,
    PATIENT,
    RESULTS,
    SEND_V5,
    VISITATOR,
    activity,
    assert_valid,
    assert_well_formed,
    communication,
    header,
    id_factory,
    load,
    package_examples,
    resolve,
    resources,
    segment_id,
    text,
)

PDF = b"%PDF-1.4\n% test\n"
S_A = SEND_V5 / "Bundle-S-A-new-1932711d-49d0-4ad7-b1ee-61de711892d2.json"
S_E = SEND_V5 / "Bundle-S-E-forward-77c771ca-05d6-4efb-9a74-2fc513787f3a.json"
S_TEK_B = SEND_V5 / "Bundle-S-Tek-B-new-episodeOfCare-98eb081e-a66f-41a2-b2f7-c455782563b0.json"
CC_EXAMPLES = package_examples(CC_PACKAGE)
SEND_EXAMPLES = sorted(SEND_V5.iterdir())


def build_new(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "sender": CLINIC,
        "receiver": MUNICIPALITY,
        "patient": PATIENT,
        "classification": RESULTS,
        "text": text(),
        "now": NOW,
        "new_id": id_factory(),
    }
    args.update(overrides)
    return new_message(**args)


# ------------------------------------------------------------------------------------------ new message


def test_new_message_has_the_profiled_shape() -> None:
    bundle = build_new(
        attachments=[
            Attachment(title="Blodprøvesvar", content_type="application/pdf", data=PDF, creation=NOW)
        ]
    )
    assert_well_formed(bundle)
    assert_valid(bundle)
    mh, comm = header(bundle), communication(bundle)
    assert mh["definition"] == url.CC_DEFINITION_5_0
    assert mh["destination"][0]["endpoint"] == "https://sor2.sum.dsdn.dk/#id=330461000016004"
    assert mh["source"]["endpoint"] == "https://sor2.sum.dsdn.dk/#id=441211000016000"
    assert comm["identifier"][0]["value"].startswith("urn:uuid:")
    assert comm["category"][0]["coding"][0]["code"] == "examination-results"
    assert comm["topic"] == {"text": "Blodprøver"}
    assert comm["payload"][0]["contentString"] == "Hej.\nVenlig hilsen"
    attachment = comm["payload"][1]["contentAttachment"]
    assert base64.b64decode(attachment["data"]) == PDF
    assert attachment["title"] == "Blodprøvesvar"  # no file-type suffix added
    [prov] = resources(bundle, "Provenance")
    assert activity(prov) == "new-message"
    assert prov["target"] == [{"reference": f"MessageHeader/{mh['id']}"}]
    assert [e["what"]["identifier"]["value"] for e in prov["entity"]] == [
        segment_id(p) for p in comm["payload"]
    ]
    assert not any(e["role"] == "revision" for e in prov["entity"])
    assert len(resources(bundle, "Organization")) == 2


def test_new_message_is_pure() -> None:
    assert build_new() == build_new()


def test_new_message_with_specific_parties_priority_and_episode() -> None:
    episode = EpisodeOfCare(
        system="https://sor2.sum.dsdn.dk/#id=441211000016000",
        value="urn:uuid:39e3e169-9ece-4ba4-bd24-2e0fbeebc333",
        encounter_class="IMP",
    )
    bundle = build_new(
        classification=Classification(category="regarding-referral", priority="asap"),
        episode_of_care=episode,
        specific_sender=CareTeam(name="Team +80 år"),
        recipient=Person(family="Berggren", given=("Birgit",), role_text="Visitator"),
    )
    assert_well_formed(bundle)
    assert_valid(bundle)
    comm = communication(bundle)
    assert comm["priority"] == "asap"
    team = resolve(bundle, comm["extension"][0]["valueReference"]["reference"])
    assert team is not None and team["managingOrganization"] == [header(bundle)["sender"]]
    role = resolve(bundle, comm["recipient"][0]["reference"])
    assert role is not None and role["organization"] == header(bundle)["destination"][0]["receiver"]
    encounter = resolve(bundle, comm["encounter"]["reference"])
    assert encounter is not None
    assert encounter["episodeOfCare"][0]["identifier"]["value"] == episode.value


def test_patient_with_replacement_cpr_only() -> None:
    patient = Patient(x_ecpr="0703921VJ4", d_ecpr="1206550VK9", given=("Ukendt",))
    bundle = build_new(patient=patient)
    assert_valid(bundle)
    [res] = resources(bundle, "Patient")
    assert [i["system"] for i in res["identifier"]] == [url.SYS_X_ECPR, url.SYS_D_ECPR]


def test_line_breaks_are_newlines() -> None:
    bundle = build_new(text=text("linje 1\r\nlinje 2\rlinje 3"))
    assert communication(bundle)["payload"][0]["contentString"] == "linje 1\nlinje 2\nlinje 3"


# ------------------------------------------------------------------------------------------ reply


def test_reply_to_the_S_A_example() -> None:
    received = load(S_A)
    bundle = reply(received, text=text("Tak, vi ser på det.", VISITATOR), now=NOW, new_id=id_factory())
    assert_well_formed(bundle)
    assert_valid(bundle)
    old_mh, mh = header(received), header(bundle)
    old_comm, comm = communication(received), communication(bundle)
    assert mh["id"] != old_mh["id"] and bundle["id"] != received["id"]
    # We answer the sender, from the receiver, at the endpoints the received message named.
    assert mh["sender"] == old_mh["destination"][0]["receiver"]
    assert mh["destination"][0]["receiver"] == old_mh["sender"]
    assert mh["destination"][0]["endpoint"] == old_mh["source"]["endpoint"]
    assert mh["source"]["endpoint"] == old_mh["destination"][0]["endpoint"]
    # Thread kept, category/topic pre-filled, earlier segment carried unchanged.
    assert comm["identifier"] == old_comm["identifier"]
    assert comm["category"] == old_comm["category"] and comm["topic"] == old_comm["topic"]
    assert comm["payload"][0] == old_comm["payload"][0]
    assert len(comm["payload"]) == 2
    # GOV medcom-carecommunication-7: the received specific sender (a CareTeam) is now the recipient.
    assert comm["recipient"] == [old_comm["extension"][0]["valueReference"]]
    assert "extension" not in comm
    # One Provenance per message: the historic one unchanged plus a reply-message one.
    old_prov = resources(received, "Provenance")
    provs = resources(bundle, "Provenance")
    assert len(provs) == 2 and provs[0] == old_prov[0]
    new = provs[-1]
    assert activity(new) == "reply-message"
    assert {"role": "revision", "what": {"reference": f"MessageHeader/{old_mh['id']}"}} in new["entity"]
    assert [e["what"]["identifier"]["value"] for e in new["entity"] if e["role"] == "source"] == [
        segment_id(comm["payload"][1])
    ]
    assert new["agent"] == [{"who": mh["sender"]}]


def test_reply_repeats_attachments_without_data_or_url() -> None:
    received = CC_EXAMPLES["Bundle-gfd00bc2-9c26-4174-934e-f6e4360845de.json"]  # a PDF and a web link
    bundle = reply(received, text=text(), now=NOW, new_id=id_factory())
    assert_valid(bundle)
    old = communication(received)["payload"]
    new = communication(bundle)["payload"]
    for before, after in zip(old, new, strict=False):
        assert segment_id(before) == segment_id(after)
        assert after["extension"] == before["extension"]
        if "contentAttachment" in before:
            assert "data" not in after["contentAttachment"] and "url" not in after["contentAttachment"]
            assert after["contentAttachment"]["title"] == before["contentAttachment"]["title"]
    assert sum("contentAttachment" in p for p in new) == 2
    # The received message carried priority 'asap' with regarding-referral: pre-filled too.
    assert communication(bundle)["priority"] == "asap"


def test_reply_returns_the_episode_of_care_identifier() -> None:
    received = load(S_TEK_B)
    bundle = reply(received, text=text(), now=NOW, new_id=id_factory())
    assert_valid(bundle)
    old_enc = resolve(received, communication(received)["encounter"]["reference"])
    enc = resolve(bundle, communication(bundle)["encounter"]["reference"])
    assert old_enc is not None and enc is not None
    assert enc["episodeOfCare"] == old_enc["episodeOfCare"]


def test_reply_to_a_reply_keeps_the_whole_chain() -> None:
    ids = id_factory()  # one factory for the whole thread, like uuid4 in production
    first = build_new(
        attachments=[Attachment(title="Svar", content_type="image/png", data=b"\x89PNG....")],
        specific_sender=Person(family="Burns", role_code="laege"),
        new_id=ids,
    )
    second = reply(first, text=text("Svar 1", VISITATOR), now=NOW + timedelta(hours=1), new_id=ids)
    third = reply(second, text=text("Svar 2"), now=NOW + timedelta(hours=2), new_id=ids)
    for bundle in (second, third):
        assert_well_formed(bundle)
        assert_valid(bundle)
    assert [activity(p) for p in resources(third, "Provenance")] == [
        "new-message",
        "reply-message",
        "reply-message",
    ]
    assert communication(third)["identifier"] == communication(first)["identifier"]
    assert [segment_id(p) for p in communication(third)["payload"]][:3] == [
        segment_id(p) for p in communication(second)["payload"]
    ]
    # The second message had no specific sender, so the third names no specific recipient.
    assert "recipient" in communication(second) and "recipient" not in communication(third)


def test_reply_may_change_category_and_drops_an_impossible_priority() -> None:
    received = CC_EXAMPLES["Bundle-gfd00bc2-9c26-4174-934e-f6e4360845de.json"]
    bundle = reply(
        received,
        text=text(),
        now=NOW,
        new_id=id_factory(),
        classification=Classification(category="other", topic="Nyt emne"),
    )
    assert_valid(bundle)
    assert "priority" not in communication(bundle)


# ------------------------------------------------------------------------------------------ forward


def test_forward_the_S_E_forward() -> None:
    received = load(S_E)
    bundle = forward(received, to=CLINIC, text=text("Til orientering."), now=NOW, new_id=id_factory())
    assert_well_formed(bundle)
    assert_valid(bundle)
    old_comm, comm = communication(received), communication(bundle)
    assert comm["identifier"] != old_comm["identifier"]  # a forward starts a new thread
    assert comm["payload"][:2] == old_comm["payload"]
    old_provs, provs = resources(received, "Provenance"), resources(bundle, "Provenance")
    assert provs[:2] == old_provs
    assert [activity(p) for p in provs] == ["new-message", "forward-message", "forward-message"]
    assert {"role": "revision", "what": {"reference": f"MessageHeader/{header(received)['id']}"}} in provs[
        -1
    ]["entity"]
    receiver = resolve(bundle, header(bundle)["destination"][0]["receiver"]["reference"])
    assert receiver is not None and receiver["name"] == CLINIC.name
    # Every organisation named by a historic segment or Provenance travels with the message.
    assert len(resources(bundle, "Organization")) == 4


def test_forward_reuses_a_known_organisation() -> None:
    ids = id_factory()
    first = build_new(new_id=ids)
    answer = reply(first, text=text(), now=NOW, new_id=ids)
    # CLINIC receives the reply and forwards it to GP; then GP forwards back to MUNICIPALITY (known already).
    fwd = forward(answer, to=GP, text=text(), now=NOW, new_id=ids)
    back = forward(fwd, to=MUNICIPALITY, text=text(), now=NOW, new_id=ids)
    assert_valid(back)
    assert len(resources(back, "Organization")) == 3


def test_forward_sends_attachment_data_again() -> None:
    with_data = CC_EXAMPLES["Bundle-b56549f7-ed10-422d-8088-f7222b686e46.json"]
    bundle = forward(with_data, to=GP, text=text(), now=NOW, new_id=id_factory())
    assert_valid(bundle)
    [att] = [p for p in communication(bundle)["payload"] if "contentAttachment" in p]
    [old] = [p for p in communication(with_data)["payload"] if "contentAttachment" in p]
    assert att["contentAttachment"]["data"] == old["contentAttachment"]["data"]


def test_forward_of_a_stub_needs_the_earlier_content() -> None:
    stubbed = CC_EXAMPLES[
        "Bundle-3dcb5618-3055-406a-9034-1b8fc8de0fea.json"
    ]  # a reply: attachment without data
    with pytest.raises(BuildError) as err:
        forward(stubbed, to=GP, text=text(), now=NOW, new_id=id_factory())
    assert err.value.rule == "medcom-careCommunication-forward-attachment"
    seg = "urn:uuid:cd422e42-5bad-11ed-9b6a-0242ac120002"
    earlier = {seg: Attachment(title="Blodprøveresultater", content_type="application/pdf", data=PDF)}
    bundle = forward(stubbed, to=GP, text=text(), now=NOW, new_id=id_factory(), earlier_attachments=earlier)
    assert_valid(bundle)
    [att] = [p for p in communication(bundle)["payload"] if "contentAttachment" in p]
    assert segment_id(att) == seg and base64.b64decode(att["contentAttachment"]["data"]) == PDF
    assert list(att["contentAttachment"]) == ["contentType", "data", "title", "creation"]


def test_forward_to_own_sender_is_refused() -> None:
    received = build_new()
    with pytest.raises(BuildError):
        forward(received, to=MUNICIPALITY, text=text(), now=NOW, new_id=id_factory())


@pytest.mark.parametrize("name", sorted(CC_EXAMPLES))
def test_reply_and_forward_every_package_example(name: str) -> None:
    received = CC_EXAMPLES[name]
    answer = reply(received, text=text(), now=NOW, new_id=id_factory())
    assert_well_formed(answer)
    assert_valid(answer)
    assert len(resources(answer, "Provenance")) == len(resources(received, "Provenance")) + 1
    stubs = {
        segment_id(p): Attachment(title="x", content_type="application/pdf", data=PDF)
        for p in communication(received)["payload"]
        if "contentAttachment" in p
    }
    fwd = forward(received, to=GP, text=text(), now=NOW, new_id=id_factory(), earlier_attachments=stubs)
    assert_valid(fwd)


@pytest.mark.parametrize("path", SEND_EXAMPLES, ids=lambda p: p.name[:20])
def test_reply_forward_and_ack_every_certification_example(path: Any) -> None:
    received = load(path)
    for bundle in (
        reply(received, text=text(), now=NOW, new_id=id_factory()),
        forward(received, to=GP, text=text(), now=NOW, new_id=id_factory())
        if header(received)["destination"][0]["endpoint"] != GP.sor_endpoint
        else None,
        acknowledgement(received, now=NOW, new_id=id_factory()),
    ):
        if bundle is not None:
            assert_valid(bundle)


# ------------------------------------------------------------------------------------------ acknowledgement


def test_positive_acknowledgement_of_the_S_A_example() -> None:
    received = load(S_A)
    ack = acknowledgement(received, now=NOW, new_id=id_factory())
    assert_well_formed(ack)
    assert_valid(ack)
    old_mh, mh = header(received), header(ack)
    assert mh["meta"]["profile"] == [url.PROFILE_ACK_HEADER]
    assert mh["eventCoding"]["code"] == "acknowledgement-message"
    assert mh["response"] == {"identifier": old_mh["id"], "code": "ok"}
    assert mh["sender"] == old_mh["destination"][0]["receiver"]
    assert mh["destination"][0]["receiver"] == old_mh["sender"]
    assert mh["destination"][0]["endpoint"] == old_mh["source"]["endpoint"]
    latest, new = resources(ack, "Provenance")
    assert latest == resources(received, "Provenance")[0]
    assert activity(new) == "acknowledgement"
    assert new["entity"] == [{"role": "revision", "what": {"reference": f"MessageHeader/{old_mh['id']}"}}]
    assert new["agent"] == [{"who": mh["sender"]}]
    assert not resources(ack, "OperationOutcome")
    assert not resources(ack, "Patient") and not resources(ack, "Communication")


def test_negative_acknowledgement_carries_the_issue() -> None:
    received = load(S_E)
    issue = Issue(
        severity="error", code="structure", detail="MSG_VALUESET_VALUE_UNKNOWN", text="Ukendt kategori"
    )
    ack = acknowledgement(received, code="fatal-error", issues=[issue], now=NOW, new_id=id_factory())
    assert_valid(ack)
    [outcome] = resources(ack, "OperationOutcome")
    assert header(ack)["response"]["details"] == {"reference": f"OperationOutcome/{outcome['id']}"}
    assert outcome["issue"][0]["details"] == {
        "coding": [{"system": url.CS_ACK_ERRORS, "code": "MSG_VALUESET_VALUE_UNKNOWN"}],
        "text": "Ukendt kategori",
    }
    # The copied Provenance is the latest one: the forward that the acknowledgement answers.
    assert activity(resources(ack, "Provenance")[0]) == "forward-message"


def test_transient_error_with_hl7_detail_code() -> None:
    issue = Issue(severity="error", code="transient", detail="MSG_LOCAL_FAIL")
    ack = acknowledgement(build_new(), code="transient-error", issues=[issue], now=NOW, new_id=id_factory())
    assert_valid(ack)
    [outcome] = resources(ack, "OperationOutcome")
    assert outcome["issue"][0]["details"]["coding"][0]["system"] == url.CS_OPERATION_OUTCOME_ACK


@pytest.mark.parametrize("name", sorted(CC_EXAMPLES))
def test_acknowledge_every_package_example(name: str) -> None:
    ack = acknowledgement(CC_EXAMPLES[name], now=NOW, new_id=id_factory())
    assert_valid(ack)
    assert len(resources(ack, "Provenance")) == 2


def test_acknowledgement_rules() -> None:
    received = build_new()
    with pytest.raises(BuildError) as err:
        acknowledgement(received, code="fatal-error", now=NOW, new_id=id_factory())
    assert err.value.rule == "medcom-acknowledgement-1"
    ack = acknowledgement(received, now=NOW, new_id=id_factory())
    with pytest.raises(BuildError) as err:
        acknowledgement(ack, now=NOW, new_id=id_factory())
    assert err.value.rule == "medcom-acknowledgement-never-acknowledged"
    acks = [
        b
        for b in package_examples(ACK_PACKAGE).values()
        if header(b)["eventCoding"]["code"] == "acknowledgement-message"
    ]
    assert len(acks) == 3
    for ack_example in acks:
        with pytest.raises(BuildError):
            acknowledgement(ack_example, now=NOW, new_id=id_factory())


def test_acknowledgement_of_a_broken_message_uses_the_register() -> None:
    broken = copy.deepcopy(build_new())
    broken["entry"] = [e for e in broken["entry"] if e["resource"]["resourceType"] != "Organization"]
    with pytest.raises(BuildError):
        acknowledgement(
            broken,
            code="fatal-error",
            issues=[Issue(severity="error", code="invalid", text="x")],
            now=NOW,
            new_id=id_factory(),
        )
    ack = acknowledgement(
        broken,
        code="fatal-error",
        issues=[Issue(severity="error", code="required", detail="MSG_Receiver_Identifier_MISSING")],
        now=NOW,
        new_id=id_factory(),
        sender=MUNICIPALITY,
        receiver=CLINIC,
    )
    assert_valid(ack)


# ------------------------------------------------------------------------------------------ inputs


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda: Organization(sor="123", ean="5790001987244"), "medcom-messaging-organization-sor"),
        (
            lambda: Organization(sor="441211000016000", ean="5790001987245"),
            "medcom-messaging-organization-ean",
        ),
        (
            lambda: Organization(sor="441211000016000", ean="5790001987244", cvr="12345678"),
            "dk-core-cvr-identifier",
        ),
        (lambda: Patient(cpr="3102479989", family="X"), "dk-core-cpr-identifier"),
        (lambda: Patient(x_ecpr="0703921XJ4"[:-1]), "dk-core-x-ecpr-identifier"),
        (lambda: Patient(cpr="2509479989"), "medcom-core-patient-name"),
        (lambda: Patient(), "medcom-core-patient-identifier"),
        (
            lambda: Author(family="A", role_code="laege", role_text="Læge", phone="1"),
            "medcom-careCommunication-7",
        ),
        (lambda: Author(family="A", role_code="kok", phone="1"), "medcom-careCommunication-7"),
        (lambda: Author(family="A", role_code="laege", phone="ring mig"), "medcom-core-contact"),
        (
            lambda: Classification(category="examination-results", priority="asap"),
            "medcom-careCommunication-5",
        ),
        (lambda: Classification(category="other"), "medcom-careCommunication-6"),
        (lambda: Classification(category="unknown"), "medcom-careCommunication-categories"),
        (
            lambda: Attachment(title="a", content_type="video/mp4", data=b"x"),
            "medcom-core-attachmentMimeTypes",
        ),
        (lambda: Attachment(title="a", data=b"x", url="https://x.dk"), "medcom-careCommunication-attachment"),
        (
            lambda: Attachment(title="a", content_type="image/png", data=b""),
            "medcom-careCommunication-attachment",
        ),
        (lambda: Attachment(title="a", url="javascript:alert(1)"), "medcom-careCommunication-attachment-url"),
        (lambda: TextSegment(text=" \n ", author=NURSE), "fhir-string"),
        (lambda: TextSegment(text="a\x00b", author=NURSE), "fhir-string"),
        (lambda: TextSegment(text="a", author=NURSE, date=datetime(2026, 1, 1)), "medcom-datetime-timezone"),
        (
            lambda: Issue(severity="error", code="structure", detail="MSG_MADE_UP"),
            "medcom-acknowledgement-issue-details",
        ),
        (
            lambda: EpisodeOfCare(system=url.SYS_LPR3_EPISODE, value="urn:uuid:x", encounter_class="IMP"),
            "medcom-core-encounter-lpr3",
        ),
    ],
)
def test_bad_inputs_are_refused_with_the_rule(make: Any, rule: str) -> None:
    with pytest.raises(BuildError) as err:
        make()
    assert err.value.rule == rule


def test_a_repeated_id_is_refused_not_dropped() -> None:
    with pytest.raises(BuildError) as err:
        build_new(new_id=lambda: "00000000-0000-4000-8000-000000000001")
    assert err.value.rule == "bundle-unique-ids"


def test_naive_now_and_bad_ids_are_refused() -> None:
    with pytest.raises(BuildError):
        build_new(now=datetime(2026, 1, 1))
    with pytest.raises(BuildError):
        build_new(new_id=lambda: "NOT-A-UUID")
    with pytest.raises(BuildError):
        build_new(receiver=CLINIC)


# ------------------------------------------------------------------------------------------ property


DANISH = (
    st.lists(
        st.sampled_from([*"abcæøåÆØÅ \"'<>&/\n\t;:!?-éü", "<br/>", "<script>", "&amp;", "\r\n"]),
        min_size=1,
        max_size=30,
    )
    .map("".join)
    .filter(lambda s: s.strip() != "")
)

ATTACHMENT = st.builds(
    Attachment,
    title=DANISH,
    content_type=st.sampled_from(
        ["application/pdf", "image/png", "image/jpeg", "image/gif", "image/tiff", "image/bmp"]
    ),
    data=st.binary(min_size=1, max_size=64),
) | st.builds(
    Attachment, title=DANISH, url=st.sampled_from(["https://medcom.dk/", "http://x.dk/a?b=1&c=<2>"])
)


@settings(max_examples=100, deadline=None)
@given(body=DANISH, topic=DANISH, attachments=st.lists(ATTACHMENT, max_size=5), answer=DANISH)
def test_random_danish_text_builds_validates_and_renders(
    body: str, topic: str, attachments: list[Attachment], answer: str
) -> None:
    ids = id_factory()
    first = build_new(
        classification=Classification(category="other", topic=topic),
        text=TextSegment(text=body, author=NURSE),
        attachments=attachments,
        new_id=ids,
    )
    second = reply(
        first, text=TextSegment(text=answer, author=VISITATOR), now=NOW + timedelta(minutes=5), new_id=ids
    )
    for bundle in (first, second):
        assert_valid(bundle)
    comm = communication(second)
    assert comm["payload"][0]["contentString"] == body.replace("\r\n", "\n").replace("\r", "\n")
    assert all("data" not in p.get("contentAttachment", {}) for p in comm["payload"])
    page = render_thread(second)
    assert "<script>" not in page
    assert page.count('class="card segment"') == len(attachments) + 2
    assert page.count("not included in this message (sent earlier)") == len(attachments)

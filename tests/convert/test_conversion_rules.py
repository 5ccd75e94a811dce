"""The special rules, seen through whole conversions of MedCom's official examples (FHIR -> XDIS91)."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import uuid
from typing import Any

from medcom_bridge.convert import tables, texts
from medcom_bridge.convert.fhir_to_oioxml import carecommunication_to_oioxml
from medcom_bridge.convert.fhirview import BundleView
from medcom_bridge.fhir.builder import reply
from medcom_bridge.fhir.codec import parse as parse_fhir
from medcom_bridge.fhir.content import TextSegment
from medcom_bridge.fhir.parties import Author
from tests.conftest import DATA
from tests.convert.helpers import FLOWS, context

V5 = DATA / "fhir" / "examples" / "send-v5"


def example(name: str) -> dict[str, Any]:
    path = next(V5.glob(f"Bundle-{name}-*"))
    bundle, _ = parse_fhir(path.read_bytes())
    return bundle


def flow3() -> dict[str, Any]:
    bundle, _ = parse_fhir((FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml").read_bytes())
    return bundle


def test_two_replacement_cprs() -> None:
    """S2 remark 2: the X-eCPR to AlternativeIdentifier, the D-eCPR into the text with the explanation."""
    email = carecommunication_to_oioxml(example("S-Tek-CPR"), context=context()).xdis91.body
    assert (
        email.patient.alternative_identifier == "0703921VJ6"
        and email.patient.civil_registration_number is None
    )
    assert f"{texts.EXTRA_CPR_SENTENCE}: 1206550VK9" in email.text


def test_cpr_and_replacement_cpr() -> None:
    bundle = flow3()
    patient = BundleView(bundle).first("Patient")
    assert patient is not None
    patient["identifier"].append({"system": tables.SYSTEM_X_ECPR, "value": "0703921VJ6"})
    email = carecommunication_to_oioxml(bundle, context=context()).xdis91.body
    assert email.patient.civil_registration_number == "2512489996"
    assert email.patient.alternative_identifier is None
    assert f"{texts.EXTRA_CPR_SENTENCE}: 0703921VJ6" in email.text


def test_forward_remark_and_deceased() -> None:
    email = carecommunication_to_oioxml(example("S-E-forward"), context=context()).xdis91.body
    assert email.text.startswith(texts.FORWARD_REMARK)
    assert email.patient.episode_of_care_status_code == "doed"
    assert "Forfatter: Kim Jensen" in email.text and "Stilling: Sygeplejerske" in email.text


def test_reply_remark() -> None:
    counter = itertools.count(1000)
    answer = reply(
        flow3(),
        text=TextSegment(
            text="Tak, vi sender svarene.",
            author=Author(family="Hansen", role_code="laege", phone="11223344"),
        ),
        now=dt.datetime(2023, 11, 23, 9, 0, tzinfo=dt.UTC),
        new_id=lambda: str(uuid.UUID(int=next(counter), version=4)),
    )
    messages = carecommunication_to_oioxml(answer, context=context())
    text = messages.xdis91.body.text
    assert text.startswith(texts.REPLY_REMARK)
    # Newest segment first, then the earlier one under its header; the reply repeats the attachment without
    # data, so no XBIN01 is made and the attachment is named instead.
    assert text.index("Tak, vi sender svarene.") < text.index("Afdeling A har modtaget")
    assert messages.xbin01 == () and "Bilag sendt tidligere: billede" in text
    assert messages.xdis91.body.sender.telephone_subscriber_identifier == "11223344"


def test_subject_is_at_most_70_characters_and_priority_maps() -> None:
    bundle = flow3()
    comm = BundleView(bundle).first("Communication")
    assert comm is not None
    comm["topic"]["text"] = "Meget lang overskrift " * 5
    comm["priority"] = "asap"
    info = carecommunication_to_oioxml(bundle, context=context()).xdis91.body.additional_information
    assert info is not None and info.subject is not None
    assert len(info.subject) <= 70 and info.subject.startswith("Vedr. henvisning, Meget lang overskrift")
    assert info.priority == "høj_prioritet"


def test_episode_of_care_lpr3_wins_and_loses_its_dashes() -> None:
    bundle = example("S-Tek-B-new-episodeOfCare")
    encounter = BundleView(bundle).first("Encounter")
    assert encounter is not None
    encounter["episodeOfCare"].append(
        {
            "identifier": {
                "system": tables.SYSTEM_LPR3,
                "value": "urn:uuid:7f8a3b2c-1d4e-5f60-8a7b-9c0d1e2f3a4b",
            }
        }
    )
    email = carecommunication_to_oioxml(bundle, context=context()).xdis91.body
    assert email.letter.episode_of_care_identifier == "7f8a3b2c1d4e5f608a7b9c0d1e2f3a4b"
    assert email.patient.episode_of_care_status_code == "inaktiv"  # IMP + finished is not in the table
    encounter["status"] = "in-progress"
    email = carecommunication_to_oioxml(copy.deepcopy(bundle), context=context()).xdis91.body
    assert email.patient.episode_of_care_status_code == "indlagt"


def test_attachments_computed_size_and_object_code() -> None:
    messages = carecommunication_to_oioxml(flow3(), context=context())
    (ref,) = messages.xdis91.body.reference
    (obj,) = messages.xbin01[0].body.binary_object
    assert ref.bin is not None
    assert ref.bin.original_object_size == obj.original_object_size == len(obj.data) == 4297
    assert ref.bin.object_code == obj.object_code == "vektor_grafik"
    assert ref.ref_description == "billede"  # the title (sheet row "attachment code")

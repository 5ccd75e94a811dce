"""Property-based round trips on generated messages: text with æøå and characters outside Latin-1, 0-12
attachments of every type, reply and forward chains, every episode-of-care status."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcom_bridge.convert import rules, tables, texts
from medcom_bridge.convert.fhir_to_oioxml import convert_carecommunication
from medcom_bridge.convert.oioxml_to_fhir import xdis91_to_carecommunication
from medcom_bridge.fhir import terminology
from medcom_bridge.fhir.builder import forward, new_message, reply
from medcom_bridge.fhir.content import Attachment, Classification, TextSegment
from medcom_bridge.fhir.parties import Author, EpisodeOfCare, Organization, Patient
from medcom_bridge.oioxml.codec import parse_xbin01, parse_xdis91, serialize
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
    Receiver,
    Reference,
    Sender,
)
from medcom_bridge.oioxml.model import Patient as OioPatient
from medcom_bridge.oioxml.text import from_plain_text
from tests.convert.helpers import context, xsd_errors
from tests.convert.test_roundtrip import EveryoneKnown, check_fhir_roundtrip, expected_status

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
TZ = rules.DANISH_TIME

A = Organization(sor="359001000016000", ean="5790001382445", name="MedCom testcenter")
B = Organization(sor="328051000016008", ean="5790000121441", name="Social og Sundhed Odense Kommune")
C = Organization(sor="1017421000016003", ean="5790002408496", name="2100 Lægehuset Østerbro")

# Letters people write, Danish letters, and characters ISO-8859-1 cannot carry (sent as character references).
ALPHABET = st.sampled_from([*list("abcxyzABCÆØÅæøå0123456789 .,;:-!?()\"'/&<>%€—“”✓中ł"), "\n"])
LINE_TEXT = st.text(ALPHABET, min_size=1, max_size=200).filter(lambda s: s.strip())
WORD = st.text(st.sampled_from(list("abcdefghijklmnopqrstuvwxyzæøåÆØÅ")), min_size=1, max_size=12)


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=next(counter), version=4))


MIME = sorted(terminology.MIME_TYPES)
ATTACHMENT = st.builds(
    lambda mime, data, title: Attachment(title=title, content_type=mime, data=data),
    st.sampled_from(MIME),
    st.binary(min_size=1, max_size=300),
    st.text(st.sampled_from(list("abcæøå✓ 123.-_")), min_size=1, max_size=80).filter(lambda s: s.strip()),
)
EPISODE = st.builds(
    lambda value, cls, status: EpisodeOfCare(
        system="https://sor2.sum.dsdn.dk/#id=359001000016000",
        value=f"urn:uuid:{value}",
        encounter_class=cls,
        status=status,
    ),
    st.uuids(version=4),
    st.sampled_from(["IMP", "AMB", "other"]),
    st.sampled_from(["in-progress", "finished", "unknown"]),
)
CATEGORY = st.sampled_from(sorted(terminology.CATEGORIES))


@st.composite
def chains(draw: st.DrawFn) -> dict[str, Any]:
    """A new message, optionally followed by a reply and a forward (each adds a segment)."""
    new_id = ids()
    when = dt.datetime(2025, 3, 1, 10, 0, tzinfo=TZ)
    author = Author(family=draw(WORD), given=(draw(WORD),), role_code="sygeplejerske", phone="12345678")
    category = draw(CATEGORY)
    priority = draw(st.sampled_from([None, "asap", "routine"])) if category == "regarding-referral" else None
    bundle = new_message(
        sender=A,
        receiver=B,
        patient=Patient(cpr="0101011234", family=draw(WORD), given=tuple(draw(st.lists(WORD, max_size=2))),
                        deceased=draw(st.booleans()) or None),
        classification=Classification(category=category, topic=draw(LINE_TEXT if category == "other" else st.one_of(st.none(), LINE_TEXT)), priority=priority),
        text=TextSegment(text=draw(LINE_TEXT), author=author, date=when),
        now=when,
        new_id=new_id,
        attachments=draw(st.lists(ATTACHMENT, max_size=12)),
        episode_of_care=draw(st.one_of(st.none(), EPISODE)),
    )  # fmt: skip
    steps = draw(st.sampled_from([(), ("reply",), ("forward",), ("forward", "reply"), ("reply", "reply")]))
    for i, step in enumerate(steps, 1):
        later = when + dt.timedelta(hours=i)
        other = Author(family=draw(WORD), role_code="laege", phone="87654321")
        segment = TextSegment(text=draw(LINE_TEXT), author=other, date=later)
        if step == "reply":
            bundle = reply(bundle, text=segment, now=later, new_id=new_id)
        else:
            bundle = forward(bundle, to=C, text=segment, now=later, new_id=new_id)
    return bundle


@SETTINGS
@given(chains())
def test_fhir_oioxml_fhir_generated(bundle: dict[str, Any]) -> None:
    check_fhir_roundtrip(bundle)


# --- OIOXML -> FHIR -> OIOXML on generated XDIS91 + XBIN01 ------------------------------------------------------
OIO_TEXT = st.text(
    st.sampled_from([*list("abcxyzABCÆØÅæøå0123456789.,;:-!?()\"'/&<>%€✓中"), " ", "\n"]),
    min_size=1,
    max_size=300,
).map(lambda s: "\n".join(" ".join(line.split()) for line in s.split("\n")))
EXTENSIONS = sorted(tables.XDIS91_EXTENSIONS)


@st.composite
def oioxml_letters(draw: st.DrawFn) -> tuple[Emessage[ClinicalEmail], list[Emessage[BinaryLetter]]]:
    sent = dt.datetime(2025, 6, 1, 9, 30)
    sender = Sender(
        "5790001382445",
        "359001000016000",
        "sorkode",
        "MedCom testcenter",
        telephone_subscriber_identifier=draw(st.one_of(st.none(), st.just("66131372"))),
    )
    receiver = Receiver("5790000121441", "328051000016008", "sorkode", "Odense")
    status = draw(st.sampled_from(sorted(tables.EPISODE_STATUS_TO_FHIR)))
    episode = draw(st.one_of(st.none(), st.uuids().map(lambda u: u.hex)))
    n = draw(st.integers(0, 10))
    objects = [
        BinaryObject(
            str(draw(st.uuids(version=4))),
            "billede",
            ext,
            len(data),
            __import__("base64").b64encode(data).decode(),
        )
        for ext, data in (
            (draw(st.sampled_from(EXTENSIONS)), draw(st.binary(min_size=1, max_size=200))) for _ in range(n)
        )
    ]
    refs = tuple(
        Reference(
            draw(WORD),
            bin=BinReference(
                o.object_identifier.replace("-", ""),
                rules.object_code_for_extension(o.object_extension_code),
                o.object_extension_code,
                o.original_object_size,
            ),
        )
        for o in objects
    )
    patient = OioPatient(
        draw(WORD),
        status,
        civil_registration_number="0101011234",
        person_given_name=draw(st.one_of(st.none(), WORD)),
    )
    text = draw(OIO_TEXT)
    letter = ClinicalEmail(
        Letter("L1", "XD9134L", "XDIS91", sent, "XDIS91", "nytbrev", episode),
        sender,
        receiver,
        patient,
        AdditionalInformation(
            draw(st.sampled_from([None, "rutine", "høj_prioritet"])), draw(st.one_of(st.none(), WORD))
        ),
        (ClinicalInformation(from_plain_text(text)),),
        refs,
    )
    xdis = Emessage(Envelope(sent, "E1"), letter)
    xbins = []
    if objects:
        xbins.append(Emessage(Envelope(sent, "E2"), BinaryLetter(
            Letter("L2", "XB0131X", "XBIN01", sent, "XBIN01"), sender, receiver,
            BinaryLetterPatient(patient.person_surname_name, "0101011234", person_given_name=patient.person_given_name),
            tuple(objects))))  # fmt: skip
    return xdis, xbins


@SETTINGS
@given(oioxml_letters())
def test_oioxml_fhir_oioxml_generated(
    letters: tuple[Emessage[ClinicalEmail], list[Emessage[BinaryLetter]]],
) -> None:
    xdis, xbins = letters
    # Through the wire format, as in production.
    xdis = parse_xdis91(serialize(xdis))
    xbins = [parse_xbin01(serialize(x)) for x in xbins]
    ctx = context(seed=3)
    ctx = type(ctx)(ctx.new_uuid, ctx.new_letter_id, EveryoneKnown())
    there = xdis91_to_carecommunication(xdis, xbins, context=ctx)
    assert there.report.valid, there.report.errors
    back = convert_carecommunication(there.bundle, context=ctx)
    for out in back.outputs:
        assert out.report.valid, (out.kind, out.report.errors)
        assert xsd_errors(out.data) == []
    o, f = xdis.body, parse_xdis91(back.outputs[0].data).body
    assert f.patient.person_surname_name == o.patient.person_surname_name
    assert f.patient.episode_of_care_status_code == expected_status(o)
    assert f.letter.episode_of_care_identifier == o.letter.episode_of_care_identifier
    final_text = f.text
    if o.additional_information and o.additional_information.priority == "høj_prioritet":
        final_text = final_text.removeprefix(texts.HIGH_PRIORITY_SENTENCE + " ")
    assert final_text.startswith(o.text.rstrip("\n"))
    assert [(r.bin.object_identifier, r.bin.object_extension_code, r.bin.original_object_size) for r in f.reference if r.bin] == [
        (r.bin.object_identifier, r.bin.object_extension_code, r.bin.original_object_size) for r in o.reference if r.bin
    ]  # fmt: skip
    assert [r.ref_description for r in f.reference] == [r.ref_description for r in o.reference]
    objects_o = [(x.object_identifier, x.data) for b in xbins for x in b.body.binary_object]
    objects_f = [
        (x.object_identifier, x.data)
        for out in back.outputs[1:]
        for x in parse_xbin01(out.data).body.binary_object
    ]
    assert objects_f == objects_o

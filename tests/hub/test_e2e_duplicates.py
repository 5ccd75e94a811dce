"""Duplicates and reliable messaging (fhir-carecommunication.md §8; MedCom's certification duplicate scenarios):
a duplicate is never converted or delivered again; it gets the first answer again with the same content (same
response code, same acknowledged MessageHeader) in a new bundle with new ids; an invalid message's duplicate
gets the same negative answer; a reused envelope id with another letter is rejected."""

from __future__ import annotations

import json
from typing import Any

from medcom_bridge.envelope import vans
from medcom_bridge.oioxml.model import NegativeVansReceipt
from tests.hub.e2e import FHIR, OIO, World, fhir_of, header, kinds, oioxml_of


def resend(world: World, first: bytes, *, same_envelope: bool) -> None:
    """The FHIR sender resends: new Bundle.id (and VANS envelope id unless `same_envelope`), same MessageHeader."""
    envelope = vans.unwrap(first)
    bundle = json.loads(envelope.payload)
    if not same_envelope:
        bundle["id"] = world.ids()
    world.send(
        envelope.sender.value,
        envelope.receiver.value,
        json.dumps(bundle).encode(),
        envelope_id=envelope.envelope_id if same_envelope else None,
    )


def completed_flow(world: World) -> tuple[bytes, dict[str, Any]]:
    letter = world.carecommunication(FHIR, OIO)
    sent = world.send(FHIR.ean, OIO.ean, letter)
    world.run()
    for received in world.inbox(OIO):
        world.answer(OIO, received)
    world.run()
    [ack] = world.inbox(FHIR)
    return sent, fhir_of(ack)


def test_resend_with_a_new_envelope_gets_the_same_acknowledgement_content(world: World) -> None:
    sent, first_ack = completed_flow(world)
    world.advance(minutes=31)
    resend(world, sent, same_envelope=False)
    summary = world.run()
    assert summary.duplicates == 1 and summary.converted == 0
    assert world.inbox(OIO) == []  # never delivered twice
    [again] = world.inbox(FHIR)
    ack = fhir_of(again)
    assert header(ack)["response"] == header(first_ack)["response"]  # same code, same acknowledged letter
    assert ack["id"] != first_ack["id"] and header(ack)["id"] != header(first_ack)["id"]
    assert len(world.flows()) == 1


def test_exact_redelivery_of_the_same_envelope_is_answered_again_and_not_processed(world: World) -> None:
    sent, first_ack = completed_flow(world)
    world.advance(minutes=5)
    resend(world, sent, same_envelope=True)
    world.run()
    assert world.inbox(OIO) == []
    [again] = world.inbox(FHIR)
    assert header(fhir_of(again))["response"]["code"] == header(first_ack)["response"]["code"] == "ok"


def test_the_very_same_file_again_is_taken_silently(world: World) -> None:
    sent, _ = completed_flow(world)
    world.drop(FHIR.ean, sent)
    summary = world.run()
    assert summary.already_taken == 1
    assert world.inbox(OIO) == [] and world.inbox(FHIR) == []


def test_duplicate_before_the_answer_waits_for_it_and_the_answer_goes_once(world: World) -> None:
    letter = world.carecommunication(FHIR, OIO)
    sent = world.send(FHIR.ean, OIO.ean, letter)
    world.run()
    delivered = world.inbox(OIO)
    resend(world, sent, same_envelope=False)
    world.run()
    assert world.inbox(FHIR) == [] and world.inbox(OIO) == []
    for received in delivered:
        world.answer(OIO, received)
    world.run()
    assert kinds(world.inbox(FHIR)) == ["acknowledgement"]


def test_duplicate_of_an_invalid_letter_gets_the_same_negative_answer(world: World) -> None:
    letter = world.carecommunication(FHIR, OIO).replace(b"2509479989", b"25094799")  # CPR cut short
    sent = world.send(FHIR.ean, OIO.ean, letter)
    world.run()
    [first] = world.inbox(FHIR)
    assert header(fhir_of(first))["response"]["code"] == "fatal-error"
    resend(world, sent, same_envelope=False)
    world.run()
    [second] = world.inbox(FHIR)
    assert header(fhir_of(second))["response"] == header(fhir_of(first))["response"]
    assert world.inbox(OIO) == []


def test_oioxml_duplicate_is_not_converted_again(world: World) -> None:
    pair = world.pair()
    start = pair.xdis91.index(b"<Reference>")
    end = pair.xdis91.index(b"</Reference>") + len(b"</Reference>")
    letter = pair.xdis91[:start] + pair.xdis91[end:]
    world.send(OIO.ean, FHIR.ean, letter)
    world.run()
    [cc] = world.inbox(FHIR)
    world.send(OIO.ean, FHIR.ean, letter)  # resent in a new VANSEnvelope
    summary = world.run()
    assert summary.duplicates == 1 and world.inbox(FHIR) == []
    world.answer(FHIR, cc)
    world.run()
    assert kinds(world.inbox(OIO)) == ["xctl03"]


def test_envelope_id_reused_for_another_letter_is_rejected(world: World) -> None:
    first = world.pair(OIO, FHIR)
    envelope = vans.unwrap(world.send(OIO.ean, FHIR.ean, first.xdis91))
    world.run()
    other = world.pair(OIO, FHIR)
    world.send(OIO.ean, FHIR.ean, other.xdis91, envelope_id=envelope.envelope_id)
    world.run()
    [negative] = world.inbox(OIO)
    body = oioxml_of(negative).body
    assert isinstance(body, NegativeVansReceipt)
    assert body.original_emessage.original_letter[0].original_letter_identifier == other.xdis_letter


def test_each_duplicate_gets_the_first_answer_once_not_every_repeat_so_far(world: World) -> None:
    """A repeated answer is not itself repeated: five resends get five answers, not 1 + 2 + 4 + 8 + 16."""
    sent, _ = completed_flow(world)  # reads the first answer
    answers_per_resend = []
    for _ in range(5):
        resend(world, sent, same_envelope=False)
        world.run()
        answers_per_resend.append(kinds(world.inbox(FHIR)))  # what arrived since the last look
    assert answers_per_resend == [["acknowledgement"]] * 5

"""Use case R1, pass-through both ways: the receiver takes the sender's format, so letters and receipts travel
unchanged (byte for byte, the same envelope), and the register's reason is in the flow's events."""

from __future__ import annotations

from medcom_bridge.documents import validate_as
from tests.hub.e2e import FHIR, FHIR2, OIO, OIO2, World, fhir_of, header, kinds


def test_oioxml_to_oioxml_receiver_passes_through_with_its_receipts(world: World) -> None:
    pair = world.pair(OIO, OIO2)
    sent_letter = world.send(OIO.ean, OIO2.ean, pair.xdis91)
    sent_attachment = world.send(OIO.ean, OIO2.ean, pair.xbin01)
    summary = world.run()
    assert summary.converted == 0 and summary.delivered == 2
    delivered = world.inbox(OIO2)
    assert kinds(delivered) == ["xbin01", "xdis91"]
    assert {r.path.read_bytes() for r in delivered} == {sent_letter, sent_attachment}
    assert not list((world.spool / OIO.ean / "out").iterdir())

    for received in delivered:
        world.answer(OIO2, received)
    world.run()
    back = world.inbox(OIO)
    assert kinds(back) == ["xctl03", "xctl03"]
    assert {r.envelope.sender.value for r in back} == {OIO2.ean}
    letter_flows = [f for f in world.flows() if any(e.message_type == "xdis91" for e in world.events(f))]
    events = world.events(letter_flows[0])
    assert any(e.reason and "receives XDIS91" in e.reason and "unchanged" in e.reason for e in events)
    assert world.state(letter_flows[0]) == "completed"


def test_fhir_to_fhir_receiver_passes_through_and_the_acknowledgement_comes_back_unchanged(
    world: World,
) -> None:
    letter = world.carecommunication(FHIR, FHIR2)
    sent = world.send(FHIR.ean, FHIR2.ean, letter)
    world.run()
    [received] = world.inbox(FHIR2)
    assert received.kind == "carecommunication" and received.path.read_bytes() == sent

    world.answer(FHIR2, received)
    world.run()
    [ack] = world.inbox(FHIR)
    assert ack.kind == "acknowledgement"
    assert header(fhir_of(ack))["response"]["identifier"] == header(fhir_of(received))["id"]
    assert validate_as("acknowledgement", ack.envelope.payload).valid
    [flow] = world.flows()[:1]
    assert world.state(flow) == "completed"


def test_payloads_live_in_the_blob_store_not_in_database_rows(world: World) -> None:
    """Issue 9: payloads are content-addressed files (held in memory once per step), rows keep digest and
    size; each stored message keeps its identification, so nothing is parsed again to say what it was."""
    from sqlalchemy import select

    from medcom_bridge.hub import schema as t

    pair = world.pair(OIO, OIO2)
    sent = world.send(OIO.ean, OIO2.ean, pair.xdis91)
    world.run()
    blobs = world.hub.store.blobs
    assert blobs is not None
    with world.hub.store.engine.connect() as conn:
        rows = conn.execute(select(t.payloads.c.sha256, t.payloads.c.data)).all()
        [letter] = conn.execute(
            select(t.messages.c.version, t.messages.c.valid, t.messages.c.rules).where(
                t.messages.c.direction == "in", t.messages.c.kind == "xdis91"
            )
        ).all()
    assert rows and all(data is None and blobs.exists(digest) for digest, data in rows)
    assert any(blobs.read(digest) == sent for digest, _ in rows)
    assert letter.version == "XD9134L" and letter.valid is True and not letter.rules
    assert world.hub.spool.parties() == sorted([OIO.ean, OIO2.ean])  # the blob folder is no mailbox

"""Use case R1, pass-through both ways: the receiver takes the sender's format, so letters and receipts travel
unchanged (byte for byte, the same envelope), and the register's reason is in the flow's events."""

from __future__ import annotations

import hashlib

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


def test_large_payloads_live_in_the_blob_store_not_in_database_rows(world: World) -> None:
    """Issue 9: large payloads are content-addressed files (held in memory once per step); their rows keep
    digest and size only. Small ones (receipts, short letters) stay in their row, written in the same commit.
    Each stored message keeps its identification, so nothing is parsed again to say what it was."""
    from sqlalchemy import select

    from medcom_bridge import demo
    from medcom_bridge.hub import schema as t
    from medcom_bridge.hub.store import INLINE_PAYLOAD_MAX

    big = demo.carecommunication(
        FHIR,
        FHIR2,
        now=world.clock.now(),
        new_id=world.ids,
        attachment=b"%PDF-1.4\n" + b"x" * INLINE_PAYLOAD_MAX,
    )
    sent = world.send(FHIR.ean, FHIR2.ean, big)
    pair = world.pair(OIO, OIO2)
    small = world.send(OIO.ean, OIO2.ean, pair.xdis91)
    world.run()
    blobs = world.hub.store.blobs
    assert blobs is not None
    with world.hub.store.engine.connect() as conn:
        rows = dict(conn.execute(select(t.payloads.c.sha256, t.payloads.c.data)).all())
        [letter] = conn.execute(
            select(t.messages.c.version, t.messages.c.valid, t.messages.c.rules).where(
                t.messages.c.direction == "in", t.messages.c.kind == "xdis91"
            )
        ).all()
    [in_blobs] = [digest for digest, data in rows.items() if data is None]
    assert blobs.read(in_blobs) == sent and len(sent) >= INLINE_PAYLOAD_MAX
    assert small in rows.values() and not blobs.exists(hashlib.sha256(small).hexdigest())
    assert [r.path.read_bytes() for r in world.inbox(FHIR2)] == [sent]  # delivered from the blob, unchanged
    assert letter.version == "XD9134L" and letter.valid is True and not letter.rules
    assert world.hub.spool.parties() == sorted(
        [FHIR.ean, FHIR2.ean, OIO.ean, OIO2.ean]
    )  # no mailbox of blobs

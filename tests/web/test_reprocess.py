"""Reprocess end to end, on SQLite and PostgreSQL: a letter the register refused is reprocessed once the register
is fixed and is delivered with a new envelope id; lineage both ways; audited; idempotent; operators only."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medcom_bridge.envelope.vans import unwrap
from medcom_bridge.hub.adapters import RegisterRouter
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.reprocess import Reprocessed
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import HubService
from medcom_bridge.shell.register import load_register
from medcom_bridge.web import create_app
from tests.web.conftest import (
    FHIR_SENDER,
    OIOXML_RECEIVER,
    SOR,
    admin_client,
    api_client,
    envelope,
    letter,
    token_for,
)

#: The register before the fix: the receiver is in SOR but has no SOR-EDI registration at all.
BROKEN_EDI = f"""ean,type,direction
{FHIR_SENDER},FDIS91,both
{FHIR_SENDER},FCTL,both
"""


@pytest.fixture
def broken(hub: Hub, tmp_path: Path, clock: ManualClock) -> Hub:
    """The same hub (spool, database) as it ran before the register was fixed."""
    edi = tmp_path / "broken-edi.csv"
    edi.write_text(BROKEN_EDI)
    router = RegisterRouter(load_register(SOR, edi))
    return Hub(
        hub.spool, hub.store, clock, hub.identifier, router, converter=hub.converter, answers=hub.answers
    )


def rejected_flow(broken: Hub) -> tuple[str, bytes]:
    """A letter the broken register refuses; its flow id and the posted envelope."""
    posted = envelope(letter(str(uuid.uuid4())))
    answer = admin_client(broken).post(
        "/envelopes", content=posted, headers={"content-type": "application/xml"}
    )
    assert answer.status_code == 422 and answer.json()["state"] == "rejected", answer.text
    broken.run_once()  # the negative receipt goes back to the sender
    return answer.json()["flow_id"], posted


def test_a_letter_refused_by_the_register_is_delivered_after_the_fix(
    hub: Hub, broken: Hub, client: TestClient
) -> None:
    old, posted = rejected_flow(broken)
    original = unwrap(posted)

    answer = client.post(f"/flows/{old}/reprocess")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    new = body["new_flow_id"]
    assert new != old and body["outcome"] == "reprocessed" and body["old_flow_id"] == old
    assert body["envelope_id"] != original.envelope_id
    hub.run_once()

    new_flow = client.get(f"/flows/{new}").json()
    old_flow = client.get(f"/flows/{old}").json()
    assert new_flow["state"] == "awaiting_receipts", new_flow
    assert old_flow["state"] == "rejected"  # it was refused, and its sender was told so
    # A resend of an unchanged message: a new envelope id, the letter's own id kept (GOV 032, MR7).
    assert new_flow["envelope_id"] == body["envelope_id"]
    assert new_flow["letter_id"] == old_flow["letter_id"] is not None
    sent = next(m for m in new_flow["messages"] if m["direction"] == "in" and m["role"] == "letter")
    stored = client.get(sent["download"]).content
    assert unwrap(stored).envelope_id == body["envelope_id"]
    assert unwrap(stored).payload == original.payload  # the letter exactly as the sender made it
    delivered = list((hub.spool.root / OIOXML_RECEIVER / "in").iterdir())
    assert len(delivered) == 2  # the letter as XDIS91 and its attachment as XBIN01

    # Lineage both ways, in the flow JSON and in track & trace.
    assert [(link["old_flow_id"], link["new_flow_id"]) for link in new_flow["lineage"]] == [(old, new)]
    assert [(link["old_flow_id"], link["new_flow_id"]) for link in old_flow["lineage"]] == [(old, new)]
    old_events = client.get(f"/flows/{old}/events").json()["events"]
    new_events = client.get(f"/flows/{new}/events").json()["events"]
    assert any(e["step"] == "reprocessed" and new in e["reason"] for e in old_events)
    assert any(e["step"] == "reprocess_of" and old in e["reason"] for e in new_events)
    page = client.get(f"/ui/flows/{old}").text
    assert f'href="/ui/flows/{new}"' in page and "Reprocessed as" in page
    assert "2026-01-20 09:00:00 CET" in page  # when, in Copenhagen time (the clock stands at 08:00 UTC)
    assert f'href="/ui/flows/{old}"' in client.get(f"/ui/flows/{new}").text

    entries = client.get("/audit", params={"action": "flow.reprocess", "object_id": old}).json()["entries"]
    assert len(entries) == 1 and entries[0]["outcome"] == "success"
    assert entries[0]["details"]["new_flow"] == new


def test_a_double_post_is_one_reprocess(hub: Hub, broken: Hub, client: TestClient) -> None:
    old, posted = rejected_flow(broken)
    first = client.post(f"/flows/{old}/reprocess")
    second = client.post(f"/flows/{old}/reprocess")
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["new_flow_id"] == first.json()["new_flow_id"] and second.json()["already"]
    assert second.json()["envelope_id"] == first.json()["envelope_id"]
    flows = client.get("/flows").json()["flows"]
    assert len(flows) == 2  # the refused one and its one reprocess
    # The sender resending the letter itself now is a duplicate of the reprocess, not of the refused flow.
    resend = envelope(unwrap(posted).payload)
    answer = client.post("/envelopes", content=resend, headers={"content-type": "application/xml"})
    assert answer.json()["outcome"] == "duplicate" and answer.json()["flow_id"] == first.json()["new_flow_id"]


def test_two_reprocesses_at_once_make_one_new_flow(hub: Hub, broken: Hub) -> None:
    old, _ = rejected_flow(broken)
    services = [HubService(hub.store, hub) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(i: int) -> None:
        start.wait()
        results[i] = services[i].reprocess_flow(old, f"operator-{i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, Reprocessed) for r in results)
    done = [r for r in results if isinstance(r, Reprocessed)]
    assert len({r.new_flow_id for r in done}) == 1
    assert sorted(r.already for r in done) == [False, True]
    assert len(HubService(hub.store).lineage(old)) == 1


def test_the_reprocess_can_be_rejected_again_and_reprocessed_itself(broken: Hub) -> None:
    old, _ = rejected_flow(broken)
    client = admin_client(broken)  # the register is still broken
    first = client.post(f"/flows/{old}/reprocess").json()
    assert first["state"] == "rejected"
    second = client.post(f"/flows/{first['new_flow_id']}/reprocess").json()
    assert second["old_flow_id"] == first["new_flow_id"] and second["new_flow_id"] != first["new_flow_id"]


def test_bulk_reprocess_by_filter_with_a_summary(hub: Hub, broken: Hub, client: TestClient) -> None:
    olds = {rejected_flow(broken)[0] for _ in range(3)}
    answer = client.post("/flows/reprocess", params={"state": "rejected", "limit": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["summary"] == {"reprocessed": 2, "already": 0, "refused": 0} and body["more"] is True
    again = client.post("/flows/reprocess", params={"state": "rejected", "limit": 10}).json()
    # The two done are answered as done; the third is done now; the new flows are not rejected.
    assert again["summary"] == {"reprocessed": 1, "already": 2, "refused": 0}
    assert {f["flow_id"] for f in again["flows"]} == olds
    assert client.post("/flows/reprocess", params={"state": "completed"}).status_code == 400
    one = client.get("/audit", params={"action": "flow.reprocess", "object_id": old_one(olds)}).json()
    actor = one["entries"][0]["actor"]  # the audit log is append-only: this test's entries are its actor's
    summary = client.get("/audit", params={"action": "flows.reprocess", "actor": actor}).json()["entries"]
    assert (
        len(summary) == 2 and summary[0]["details"]["reprocessed"] + summary[1]["details"]["reprocessed"] == 3
    )


def test_what_cannot_be_reprocessed_is_refused_with_the_reason(hub: Hub, client: TestClient) -> None:
    assert client.post(f"/flows/{uuid.uuid4()}/reprocess").status_code == 404
    posted = client.post(
        "/envelopes", content=envelope(letter(str(uuid.uuid4()))), headers={"content-type": "application/xml"}
    ).json()
    refused = client.post(f"/flows/{posted['flow_id']}/reprocess")
    assert refused.status_code == 409 and refused.json()["error"] == "reprocess-state"
    # Unreadable input: its stored bytes are still no VANSEnvelope, so there is no envelope id to renew.
    broken = client.post(
        "/envelopes", content=b"<VANSEnvelope><broken", params={"mailbox": FHIR_SENDER}
    ).json()
    still = client.post(f"/flows/{broken['flow_id']}/reprocess")
    assert still.status_code == 409 and still.json()["error"] == "reprocess-not-envelope"
    assert "reprocess it by name" in still.json()["message"]


def test_a_half_written_file_fixed_in_quarantine_is_reprocessed_once(hub: Hub, client: TestClient) -> None:
    complete = envelope(letter(str(uuid.uuid4())))
    out = hub.spool.ensure_party(FHIR_SENDER) / "out"
    (out / "letter.xml").write_bytes(complete[: len(complete) // 2])  # a writer that did not use .tmp
    hub.run_once()
    [(path, reason)] = hub.spool.quarantined()
    assert "xml-syntax" in reason
    path.write_bytes(complete)  # the operator puts the whole file in its place

    page = client.get("/ui").text
    assert f'action="/ui/quarantine/{path.name}/reprocess"' in page
    answer = client.post(f"/quarantine/{path.name}/reprocess")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["source_file"] == path.name and body["envelope_id"] != unwrap(complete).envelope_id
    assert not path.exists() and hub.spool.quarantined() == []
    again = client.post(f"/quarantine/{path.name}/reprocess")
    assert again.status_code == 200 and again.json()["new_flow_id"] == body["new_flow_id"]
    hub.run_once()
    assert client.get(f"/flows/{body['new_flow_id']}").json()["state"] == "awaiting_receipts"
    entries = client.get("/audit", params={"action": "quarantine.reprocess", "object_id": path.name}).json()
    mine = [e for e in entries["entries"] if e["details"].get("new_flow") == body["new_flow_id"]]
    assert len(mine) == 2 and {e["details"]["already"] for e in mine} == {False, True}


def test_a_quarantined_link_or_fifo_is_never_opened(hub: Hub, client: TestClient, tmp_path: Path) -> None:
    folder = hub.spool.root / "quarantine"
    folder.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.xml"
    secret.write_bytes(envelope())
    (folder / "link.xml").symlink_to(secret)
    os.mkfifo(folder / "pipe.xml")
    for name in ("link.xml", "pipe.xml"):
        answer = client.post(f"/quarantine/{name}/reprocess")
        assert answer.status_code == 409 and answer.json()["error"] == "reprocess-not-regular", name
    assert client.get("/flows").json()["flows"] == []
    assert client.post("/quarantine/..%2Fsecret.xml/reprocess").status_code == 404


def test_organisations_may_not_reprocess(hub: Hub, broken: Hub) -> None:
    old, _ = rejected_flow(broken)
    organisation = api_client(create_app(hub), token_for(hub.store, "organisation", (FHIR_SENDER,)))
    assert organisation.post(f"/flows/{old}/reprocess").status_code == 403
    assert organisation.post("/flows/reprocess", params={"state": "rejected"}).status_code == 403
    assert HubService(hub.store).lineage(old) == []


def test_the_page_form_needs_its_csrf_token(hub: Hub, broken: Hub) -> None:
    old, _ = rejected_flow(broken)
    app = create_app(hub)
    browser = TestClient(app, base_url="https://127.0.0.1", follow_redirects=False)
    token = token_for(hub.store, "operator")
    signed_in = browser.post("/login", data={"token": token, "csrf_token": _csrf(browser)})
    assert signed_in.status_code == 303, signed_in.text
    refused = browser.post(f"/ui/flows/{old}/reprocess", data={})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert HubService(hub.store).lineage(old) == []
    page = browser.get(f"/ui/flows/{old}").text
    assert f'action="/ui/flows/{old}/reprocess"' in page
    done = browser.post(f"/ui/flows/{old}/reprocess", data={"csrf_token": _csrf(browser)})
    assert done.status_code == 303
    new = HubService(hub.store).lineage(old)[0].new_flow_id
    assert done.headers["location"] == f"/ui/flows/{new}"
    assert "Reprocess</button>" not in browser.get(f"/ui/flows/{old}").text  # done: no second button


def old_one(flows: set[str]) -> str:
    return sorted(flows)[0]


def _csrf(client: TestClient) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', client.get("/login").text)
    assert found is not None
    return found.group(1)


def test_a_reprocess_that_dies_before_its_commit_leaves_nothing(
    hub: Hub, broken: Hub, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, _ = rejected_flow(broken)
    take_in = Hub.take_in

    def dies_after_taking(self: Hub, *args: object, **kwargs: object) -> object:
        take_in(self, *args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("the process died here")

    with monkeypatch.context() as patch:
        patch.setattr(Hub, "take_in", dies_after_taking)
        with pytest.raises(RuntimeError):
            HubService(hub.store, hub).reprocess_flow(old, "operator")
    # The new flow, the key hand-over, the claim and the lineage went together: none of them is there.
    assert [f["id"] for f in client.get("/flows").json()["flows"]] == [old]
    assert HubService(hub.store).lineage(old) == []
    done = client.post(f"/flows/{old}/reprocess")
    assert done.status_code == 201 and done.json()["old_flow_id"] == old

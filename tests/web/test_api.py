"""The JSON API over a real hub: intake with the spool's idempotency and quarantine rules, flows, filters,
paging, track & trace (also as AuditEvent), statistics, health and the errors a client can act on."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.events import EDS_PROFILE_BASIC
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.spool import QUARANTINE
from tests.web.conftest import FHIR_SENDER, OIOXML_RECEIVER, UNKNOWN_RECEIVER, admin_client, envelope, letter


def post(client: TestClient, body: bytes, **params: str) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/envelopes", content=body, params=params, headers={"content-type": "application/xml"}
    )
    return response.status_code, response.json()


def test_posted_envelope_becomes_a_flow_that_is_converted_and_delivered(client: TestClient, hub: Hub) -> None:
    status, body = post(client, envelope())
    assert status == 202, body
    assert body["outcome"] == "accepted" and body["state"] == "converting"
    flow_id = body["flow_id"]
    assert not list((hub.spool.root / FHIR_SENDER / "out").glob("*.xml"))  # taken, like a spool file

    hub.run_once()
    flow = client.get(f"/flows/{flow_id}").json()
    assert flow["state"] == "awaiting_receipts"
    assert flow["route"] == "fhir_to_oioxml"
    assert (flow["sender_gln"], flow["receiver_gln"]) == (FHIR_SENDER, OIOXML_RECEIVER)
    assert flow["failed"] is None
    assert "waiting for the receiver" in flow["where"]
    assert set(flow["timers"]) == {"receipt_alert", "closing"}
    delivered = {m["kind"] for m in flow["messages"] if m["direction"] == "out" and m["delivered_at"]}
    assert delivered == {"xdis91", "xbin01"}
    assert len(list((hub.spool.root / OIOXML_RECEIVER / "in").glob("*.xml"))) == 2

    letter = next(m for m in flow["messages"] if m["kind"] == "xdis91")
    download = client.get(letter["download"])
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert b"VANSEnvelope" in download.content


def test_the_same_envelope_twice_is_one_flow(client: TestClient) -> None:
    body = envelope()
    first = post(client, body)
    again = post(client, body)
    assert first[0] == again[0] == 202
    assert again[1]["flow_id"] == first[1]["flow_id"]
    assert again[1]["outcome"] == "already-taken"
    assert len(client.get("/flows").json()["flows"]) == 1


def test_the_same_letter_in_a_new_envelope_is_a_duplicate_of_the_first_flow(client: TestClient) -> None:
    first = post(client, envelope())
    second = post(client, envelope())
    assert second[0] == 202
    assert second[1]["outcome"] == "duplicate"
    assert second[1]["flow_id"] == first[1]["flow_id"]
    events = client.get(f"/flows/{first[1]['flow_id']}/events").json()["events"]
    assert [e["step"] for e in events].count("duplicate") == 1


def test_unreadable_input_with_a_mailbox_is_quarantined_with_its_reason(client: TestClient, hub: Hub) -> None:
    status, body = post(client, b"<VANSEnvelope><broken", mailbox=FHIR_SENDER)
    assert status == 422
    assert body["outcome"] == "quarantined" and body["failure"] == "input"
    assert body["reason"].startswith("xml-syntax")
    quarantined = hub.spool.quarantined()
    assert len(quarantined) == 1 and "xml-syntax" in quarantined[0][1]
    flow = client.get(body["flow"]).json()
    assert flow["state"] == "quarantined"
    assert flow["failed"]["place"] == "input"


def test_input_without_a_known_sender_mailbox_is_refused_and_nothing_is_stored(client: TestClient) -> None:
    status, body = post(client, b"<Letter>no envelope, no sender</Letter>")
    assert status == 400
    assert body["error"] == "http-sender-unknown" and "?mailbox=" in body["message"]
    assert client.get("/flows").json()["flows"] == []


def test_a_body_that_is_not_xml_is_refused_as_such(client: TestClient, hub: Hub) -> None:
    status, body = post(client, b"not xml at all")
    assert status == 400
    assert body["error"] == "http-not-xml"
    assert body["message"].startswith("the body is not well-formed XML") and "VANSEnvelope" in body["message"]
    assert client.get("/flows").json()["flows"] == []
    assert not (hub.spool.root / QUARANTINE).exists()


@pytest.mark.parametrize(
    ("body", "params", "status", "rule"),
    [
        (b"", {}, 400, "http-empty"),
        (b"   \n", {}, 400, "http-empty"),
        (b"<x/>", {"mailbox": "not-an-ean"}, 400, "http-mailbox"),
        (b"<x/>", {"mailbox": "579000012152"}, 400, "http-mailbox"),  # 12 digits: a typo
        (b"<x/>", {"mailbox": "5790000121527"}, 400, "http-mailbox"),  # wrong check digit
        (b"<x/>", {"mailbox": "57900001215260"}, 400, "http-mailbox"),
    ],
)
def test_unusable_requests_get_a_clear_4xx(
    client: TestClient, body: bytes, params: dict[str, str], status: int, rule: str
) -> None:
    got, answer = post(client, body, **params)
    assert (got, answer["error"]) == (status, rule)
    assert answer["message"]


def test_a_bad_mailbox_is_refused_naming_the_parameter_before_anything_is_stored(
    client: TestClient, hub: Hub
) -> None:
    status, body = post(client, envelope(), mailbox="57900001215")
    assert (status, body["error"]) == (400, "http-mailbox")
    assert (
        "'mailbox'" in body["message"]
        and "13-digit" in body["message"]
        and "'57900001215'" in body["message"]
    )
    assert client.get("/flows").json()["flows"] == []
    assert not list(hub.spool.root.glob("*/out/*"))


def test_an_oversized_body_is_refused(hub: Hub) -> None:
    client = admin_client(hub, max_body=100)
    status, body = post(client, envelope())
    assert (status, body["error"]) == (413, "http-too-large")
    assert "the limit is 100" in body["message"]
    assert client.get("/flows").json()["flows"] == []
    assert not list(hub.spool.root.glob("*/out/*"))


def test_an_unroutable_letter_is_rejected_at_the_register(client: TestClient, hub: Hub) -> None:
    status, body = post(client, envelope(letter(str(uuid.uuid4())), receiver=UNKNOWN_RECEIVER))
    assert status == 422, body
    assert body["outcome"] == "rejected" and body["failure"] == "register"
    assert body["reason"]


def test_a_store_only_app_reads_but_does_not_take(hub: Hub) -> None:
    client = admin_client(hub.store)
    status, body = post(client, envelope())
    assert (status, body["error"]) == (503, "http-no-hub")
    assert client.get("/flows").status_code == 200
    assert client.get("/health").json()["status"] == "ok"


def test_unknown_flows_and_messages_are_404(client: TestClient) -> None:
    unknown = str(uuid.uuid4())
    for url in (f"/flows/{unknown}", f"/flows/{unknown}/events", f"/flows/{unknown}/messages/{unknown}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert unknown in response.json()["message"]
    flow_id = post(client, envelope())[1]["flow_id"]
    assert client.get(f"/flows/{flow_id}/messages/{unknown}").status_code == 404


def test_flow_filters_use_the_indexed_facts(client: TestClient, hub: Hub, clock: ManualClock) -> None:
    ok = post(client, envelope(envelope_id="11111111-2222-4333-8444-555555555555"))[1]["flow_id"]
    clock.advance(days=2)
    bad = post(client, envelope(letter(str(uuid.uuid4())), receiver=UNKNOWN_RECEIVER))[1]["flow_id"]
    hub.run_once()

    def ids(**params: str) -> list[str]:
        response = client.get("/flows", params=params)
        assert response.status_code == 200, response.json()
        return [f["id"] for f in response.json()["flows"]]

    assert ids() == [bad, ok]  # newest first
    assert ids(state="awaiting_receipts") == [ok]
    assert ids(state="rejected") == [bad]
    assert ids(receiver_gln=UNKNOWN_RECEIVER) == [bad]
    assert ids(sender_gln=FHIR_SENDER) == [bad, ok]
    assert ids(envelope_id="11111111-2222-4333-8444-555555555555") == [ok]
    assert ids(letter_id="080d88be-177c-42a4-9124-de4e73ad485a") == [ok]  # MessageHeader.id of flow 3
    assert ids(created_from="2026-01-21") == [bad]
    assert ids(created_to="2026-01-21") == [ok]
    assert ids(failure="register", month="2026-01") == [bad]
    assert ids(failure="conversion", month="2026-01") == []
    assert ids(route="fhir_to_oioxml", event="converted", month="2026-01") == [ok]
    assert ids(route="fhir_to_oioxml", event="converted", month="2026-02") == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"state": "lost"}, "state 'lost' is not one of"),
        ({"failure": "moon", "month": "2026-01"}, "failure 'moon' is not one of"),
        ({"created_from": "yesterday"}, "created_from 'yesterday' must be a date"),
        ({"month": "2026-13"}, "month '2026-13' must look like 2026-01"),
        ({"cursor": "!!"}, "cursor"),
        ({"overdue": "perhaps"}, "overdue"),
        ({"failure": "input"}, "need month=YYYY-MM"),
    ],
)
def test_bad_filters_say_what_is_expected(client: TestClient, params: dict[str, str], words: str) -> None:
    response = client.get("/flows", params=params)
    assert response.status_code == 400
    assert words in response.json()["message"]


def test_paging_by_cursor_visits_every_flow_once(client: TestClient, clock: ManualClock) -> None:
    posted = []
    for _ in range(7):
        posted.append(
            post(client, envelope(letter(str(uuid.uuid4())), receiver=UNKNOWN_RECEIVER))[1]["flow_id"]
        )
        if len(posted) % 3:  # some flows share a creation time: the cursor must still be exact
            clock.advance(minutes=1)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = client.get("/flows", params=params).json()
        seen += [f["id"] for f in body["flows"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(posted) and len(seen) == len(set(seen))
    assert client.get("/flows", params={"limit": "0"}).status_code == 422


def test_events_as_track_and_trace_and_as_auditevent_bundle(client: TestClient, hub: Hub) -> None:
    flow_id = post(client, envelope())[1]["flow_id"]
    hub.run_once()
    events = client.get(f"/flows/{flow_id}/events").json()["events"]
    steps = [e["step"] for e in events]
    assert steps[0] == "received" and "converted" in steps and "delivered" in steps
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    response = client.get(f"/flows/{flow_id}/events", params={"format": "auditevent"})
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == len(events)
    first = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "AuditEvent"
    assert first["meta"]["profile"] == [EDS_PROFILE_BASIC]
    assert first["subtype"][0]["code"] == "msg-received"
    assert client.get(f"/flows/{flow_id}/events", params={"format": "xml"}).status_code == 422


def test_monthly_statistics_and_overdue_receipts(client: TestClient, hub: Hub, clock: ManualClock) -> None:
    ok = post(client, envelope())[1]["flow_id"]
    post(client, envelope(letter(str(uuid.uuid4())), receiver=UNKNOWN_RECEIVER))
    hub.run_once()
    assert client.get("/flows", params={"overdue": "true"}).json()["flows"] == []
    clock.advance(timedelta(minutes=121))
    hub.run_once()  # fires the 120-minute receipt alert
    assert [f["id"] for f in client.get("/flows", params={"overdue": "true"}).json()["flows"]] == [ok]

    stats = client.get("/stats/monthly", params={"month": "2026-01"}).json()
    assert stats["conversions"] == [{"month": "2026-01", "route": "fhir_to_oioxml", "count": 1}]
    assert [(m["receiver_gln"], m["flows"]) for m in stats["missing_receipts"]] == [(OIOXML_RECEIVER, 1)]
    assert stats["negative_receipts"] == []  # the receivers refused nothing: the hub did
    refused = stats["refused_by_hub"]
    assert len(refused) == 1 and refused[0]["receiver_gln"] == UNKNOWN_RECEIVER
    assert refused[0]["place"] == "register" and refused[0]["reject_cause"] == "route"
    assert stats["pass_throughs"] == {}
    assert client.get("/stats/monthly", params={"month": "2025-12"}).json()["conversions"] == []
    assert client.get("/stats/monthly").json()["month"] is None
    assert client.get("/stats/monthly", params={"month": "jan"}).status_code == 400


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/envelopes",
        "/flows",
        "/flows/{flow_id}",
        "/flows/{flow_id}/events",
        "/flows/{flow_id}/messages/{message_id}",
        "/stats/monthly",
        "/health",
    } <= set(paths)
    assert "application/xml" in paths["/envelopes"]["post"]["requestBody"]["content"]
    assert not any(p.startswith("/ui") for p in paths)

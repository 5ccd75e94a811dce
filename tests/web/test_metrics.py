"""`GET /metrics` against a known hub state: the Prometheus text parsed back (prometheus-client's own parser)
and compared with what the scenario made, on SQLite and PostgreSQL; who may scrape; no ids in labels."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.metrics import HubMetrics
from medcom_bridge.hub.runner import Hub
from medcom_bridge.web import create_app
from tests.web.conftest import (
    FHIR_SENDER,
    OIOXML_RECEIVER,
    UNKNOWN_RECEIVER,
    api_client,
    envelope,
    letter,
    token_for,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> tuple[Samples, str]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        assert family.documentation, family.name  # every family has its HELP text
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, response.text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def post(client: TestClient, receiver: str = OIOXML_RECEIVER) -> str:
    body = envelope(letter(str(uuid.uuid4())), receiver=receiver)
    answer = client.post("/envelopes", content=body, headers={"content-type": "application/xml"})
    assert answer.status_code in (202, 422), answer.text
    flow_id: str = answer.json()["flow_id"]
    return flow_id


def test_metrics_match_the_hub_after_a_scenario(hub: Hub, clock: ManualClock) -> None:
    metrics = HubMetrics()
    hub.observe(metrics)
    client = api_client(create_app(hub, metrics=metrics), token_for(hub.store, "operator"))
    letters = [post(client), post(client)]
    refused = post(client, receiver=UNKNOWN_RECEIVER)  # the register cannot route it: a negative receipt
    hub.run_once()

    samples, text = scrape(client)
    states = {s.value: value(samples, "medcom_bridge_flows", state=s.value) for s in State}
    assert states == {s.value: 0 for s in State} | {"awaiting_receipts": 2, "rejected": 1}
    assert value(samples, "medcom_bridge_flows_created_total") == 3
    assert value(samples, "medcom_bridge_conversions_total", route="fhir_to_oioxml", outcome="ok") == 2
    assert value(samples, "medcom_bridge_conversions_total", route="oioxml_to_fhir", outcome="ok") == 0
    assert value(samples, "medcom_bridge_receipts_total", outcome="negative") == 1
    assert value(samples, "medcom_bridge_receipts_total", outcome="ok") == 0
    assert value(samples, "medcom_bridge_failures_total", place="register") == 1
    assert value(samples, "medcom_bridge_flow_events_total", event="route_failed") == 1
    assert value(samples, "medcom_bridge_receipts_outstanding", outcome="pending") == 2
    assert value(samples, "medcom_bridge_receipts_outstanding", outcome="missing") == 0
    assert value(samples, "medcom_bridge_queue_depth", queue="deliveries") == 0
    assert value(samples, "medcom_bridge_queue_depth", queue="conversions") == 0
    assert value(samples, "medcom_bridge_queue_depth", queue="spool_out") == 0
    assert value(samples, "medcom_bridge_queue_depth", queue="outbox") == 0
    assert value(samples, "medcom_bridge_database_up") == 1
    assert value(samples, "medcom_bridge_timers_open", kind="receipt_alert") == 2
    assert value(samples, "medcom_bridge_timers_overdue") == 0
    # Latencies: one observation per delivered flow, per conversion, per output written.
    with hub.store.transaction() as tx:
        outputs = tx.conn.execute(
            select(func.count()).select_from(t.messages).where(t.messages.c.direction == "out")
        ).scalar_one()
    assert value(samples, "medcom_bridge_intake_to_delivered_seconds_count") == 2
    assert value(samples, "medcom_bridge_conversion_seconds_count", route="fhir_to_oioxml") == 2
    assert value(samples, "medcom_bridge_delivery_seconds_count", outcome="ok") == outputs
    # Labels carry no patient data and no ids: no GLN, no flow id.
    for forbidden in (FHIR_SENDER, OIOXML_RECEIVER, UNKNOWN_RECEIVER, refused, *letters):
        assert forbidden not in text

    clock.advance(timedelta(minutes=121))  # past the 120-minute receipt alert
    hub.run_once()
    samples, _ = scrape(client)
    assert value(samples, "medcom_bridge_receipts_outstanding", outcome="missing") == 2
    assert value(samples, "medcom_bridge_receipts_outstanding", outcome="pending") == 0
    assert value(samples, "medcom_bridge_receipts_total", outcome="missing") == 2
    assert value(samples, "medcom_bridge_timers_open", kind="receipt_alert") == 0


def test_waiting_files_and_quarantine_are_counted(hub: Hub) -> None:
    client = api_client(create_app(hub), token_for(hub.store, "admin"))
    out = hub.spool.ensure_party(FHIR_SENDER) / "out"
    (out / "broken.xml").write_bytes(b"this is not XML")
    (out / "letter.xml").write_bytes(envelope(letter(str(uuid.uuid4()))))
    samples, _ = scrape(client)
    assert value(samples, "medcom_bridge_queue_depth", queue="spool_out") == 2
    assert value(samples, "medcom_bridge_quarantine_files") == 0
    hub.run_once()
    samples, _ = scrape(client)
    assert value(samples, "medcom_bridge_queue_depth", queue="spool_out") == 0
    assert value(samples, "medcom_bridge_quarantine_files") == 1
    assert value(samples, "medcom_bridge_quarantine_bytes") == len(b"this is not XML")
    assert value(samples, "medcom_bridge_flows", state="quarantined") == 1


def test_metrics_need_an_operations_token(hub: Hub) -> None:
    app = create_app(hub)
    assert api_client(app, None).get("/metrics").status_code == 401
    organisation = token_for(hub.store, "organisation", (FHIR_SENDER,))
    assert api_client(app, organisation).get("/metrics").status_code == 403
    assert api_client(app, token_for(hub.store, "operator")).get("/metrics").status_code == 200


def test_each_app_has_its_own_registry(hub: Hub) -> None:
    """Two apps in one process (as in every test run) never share or clash over a registry."""
    first, second = HubMetrics(), HubMetrics()
    hub.observe(first)
    client = api_client(create_app(hub, metrics=first), token_for(hub.store, "operator"))
    post(client)
    other = api_client(create_app(hub, metrics=second), token_for(hub.store, "operator"))
    assert value(scrape(client)[0], "medcom_bridge_flows_created_total") == 1
    assert value(scrape(other)[0], "medcom_bridge_flows_created_total") == 0
    flows = [v for (name, _), v in scrape(other)[0].items() if name == "medcom_bridge_flows"]
    assert sum(flows) == 1  # the database's truth, whoever asks

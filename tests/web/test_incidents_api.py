"""`GET /incidents` (operations only) and the incidents list on the overview page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from medcom_bridge.hub.alerts.config import AlertConfig
from medcom_bridge.hub.alerts.watch import Alerter
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import HubService
from medcom_bridge.web.app import create_app
from tests.hub.alerts.test_watch import ONLY_RECEIPTS, RECEIVER, overdue_flow
from tests.web.conftest import api_client, token_for


def test_incidents_api_and_overview(client: TestClient, hub: Hub, clock: ManualClock) -> None:
    assert client.get("/incidents").json() == {"open": 0, "incidents": []}
    assert "Alert incidents" not in client.get("/ui").text
    overdue_flow(hub.store, clock)
    report = Alerter(HubService(hub.store), AlertConfig(rules=ONLY_RECEIPTS), clock).check()
    assert len(report.open) == 1
    found = client.get("/incidents").json()
    assert found["open"] == 1
    [incident] = found["incidents"]
    assert (
        incident["key"] == f"missing_receipts:{RECEIVER}"
        and incident["open"]
        and incident["resolved_at"] is None
    )
    page = client.get("/ui").text
    assert "Alert incidents" in page and "missing_receipts" in page and RECEIVER in page
    assert "1 open" in page


def test_incidents_are_for_operations_only(hub: Hub) -> None:
    app = create_app(hub)
    assert api_client(app, None).get("/incidents").status_code == 401
    organisation = api_client(app, token_for(hub.store, "organisation", (RECEIVER,)))
    assert organisation.get("/incidents").status_code == 403
    assert api_client(app, token_for(hub.store, "operator")).get("/incidents").status_code == 200

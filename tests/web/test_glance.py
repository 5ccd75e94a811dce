"""Receipts at a glance (issue 12): every flow list shows the receipt outcome with the receiver's own refuse
code and text, party names stand beside GLNs, times are Copenhagen time and say so, "receipts overdue" counts
the flows whose alert fired, and the message viewer leads back to its flow with the CPR number masked.

Run on SQLite and PostgreSQL (the `hub` fixture); the receiver's refusals are real XCTL02 (`refusals`)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medcom_bridge import demo
from medcom_bridge.directory import Party
from medcom_bridge.hub.adapters import HubConverter
from medcom_bridge.hub.alerts.config import Rules
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import HubService
from medcom_bridge.shell.register import load_register
from tests.web.conftest import (
    EDI,
    FHIR_SENDER,
    MASKED_TEXT,
    OIOXML_RECEIVER,
    REFUSE_CODE,
    START,
    admin_client,
    envelope,
    letter,
    refusals,
)

SENDER_NAME = "Kommune FHIR Testcenter"
RECEIVER_NAME = "Sygehus OIOXML Afdeling"
CPR = "2512489996"  # the patient of MedCom's flow 3


@pytest.fixture
def named(hub: Hub, tmp_path: Path) -> Hub:
    """The hub with a register that names flow 3's parties (the session's SOR file does not know them)."""
    sor = tmp_path / "named-sor.xml"
    sor.write_bytes(
        demo.sor_xml(
            [
                Party(FHIR_SENDER, "359001000016000", SENDER_NAME, "65432030"),
                Party(OIOXML_RECEIVER, "328051000016008", RECEIVER_NAME, "66131372"),
            ]
        )
    )
    edi = tmp_path / "named-edi.csv"
    edi.write_text(EDI)
    hub.converter = HubConverter(load_register(sor, edi))
    return hub


def refused_flow(client: TestClient, hub: Hub) -> str:
    """A CareCommunication delivered as XDIS91 + XBIN01, and both refused by the receiver (two XCTL02)."""
    flow_id: str = client.post("/envelopes", content=envelope()).json()["flow_id"]
    hub.run_once()
    answers = refusals(hub.spool.root)
    assert len(answers) == 2
    for answer in answers:
        assert client.post("/envelopes", content=answer).status_code == 202
    hub.run_once()
    return flow_id


def test_api_lists_the_receipt_outcome_with_the_receivers_code_and_masked_text_and_names(
    named: Hub, clock: ManualClock
) -> None:
    client = admin_client(named)
    refused = refused_flow(client, named)
    waiting = client.post("/envelopes", content=envelope(letter(str(uuid.uuid4())))).json()["flow_id"]
    named.run_once()
    flows = {f["id"]: f for f in client.get("/flows").json()["flows"]}
    assert flows[refused]["state"] == "completed"
    assert flows[refused]["receipt"] == {"outcome": "negative", "code": REFUSE_CODE, "text": MASKED_TEXT}
    assert (flows[refused]["sender_name"], flows[refused]["receiver_name"]) == (SENDER_NAME, RECEIVER_NAME)
    assert flows[waiting]["receipt"] == {"outcome": "pending", "code": None, "text": None}
    assert flows[refused]["created_at"].endswith("+00:00")  # instants for machines stay UTC
    clock.advance(timedelta(minutes=121))
    named.run_once()
    assert client.get(f"/flows/{waiting}").json()["receipt"]["outcome"] == "missing"
    detail = client.get(f"/flows/{refused}").json()
    assert detail["receipt"]["code"] == REFUSE_CODE and detail["sender_name"] == SENDER_NAME
    assert CPR not in client.get(f"/flows/{refused}/events").text  # the receiver's text is masked


def test_pages_show_outcome_code_text_names_and_copenhagen_time(named: Hub) -> None:
    client = admin_client(named)
    flow_id = refused_flow(client, named)
    listed = client.get("/ui/flows").text
    assert "receipt-negative" in listed and REFUSE_CODE in listed and "25xxxx-xxxx" in listed
    assert SENDER_NAME in listed and RECEIVER_NAME in listed
    assert "Copenhagen time" in listed and "2026-01-20 09:00:00" in listed  # 08:00 UTC is 09:00 CET
    assert CPR not in listed

    page = client.get(f"/ui/flows/{flow_id}").text
    badge = re.search(r'<p class="status">(.*?)</p>', page, re.S)
    assert badge is not None
    assert "state-completed" not in badge.group(1)  # not the green "completed" of a flow that went well
    assert "receipt-negative" in badge.group(1) and REFUSE_CODE in badge.group(1)
    said = re.findall(r'<span class="said">(xctl02) from (\d+) \(([^)]*)\)', page)
    assert said == [("xctl02", OIOXML_RECEIVER, RECEIVER_NAME)] * 2  # both XCTL02 in the timeline
    assert "))" not in page and "the receiver: a negative receipt, or no receipt" in page
    assert "UTC" not in page


def test_overview_counts_flows_whose_alert_fired_even_with_a_clock_behind(
    client: TestClient, hub: Hub, clock: ManualClock
) -> None:
    """The hub ran ahead (`process --advance`, or a clock that jumped back): its alerts fired at a time the
    page's clock has not reached yet, and the flows still wait for their receipts."""
    for _ in range(2):
        client.post("/envelopes", content=envelope(letter(str(uuid.uuid4()))))
    hub.run_once()
    clock.advance(timedelta(minutes=121))
    hub.run_once()  # both alerts fire
    # `serve` reads with its own clock, here one hour after delivery: before the alerts' due time.
    client = admin_client(hub.store, clock=ManualClock(START + timedelta(minutes=60)))
    page = client.get("/ui").text
    assert '<a class="n" href="/ui/flows?overdue=true">2</a>' in page
    listed = client.get("/ui/flows", params={"overdue": "true"}).text
    assert listed.count('<td class="id"><a href="/ui/flows/') == 2
    assert listed.count('class="receipt receipt-missing"') == 2
    # /metrics and the missing-receipts alert count by the same rule as the overview
    earlier = START + timedelta(minutes=60)
    assert HubService(hub.store).census(earlier).receipts_missing == 2
    assert HubService(hub.store).alert_facts(Rules(), earlier).overdue_receipts == {OIOXML_RECEIVER: 2}


def test_message_viewer_leads_back_masks_the_cpr_and_shows_one_time_zone(named: Hub) -> None:
    client = admin_client(named)
    flow_id = refused_flow(client, named)
    detail = client.get(f"/flows/{flow_id}").json()
    letter_in = next(m for m in detail["messages"] if m["kind"] == "carecommunication")
    url = f"/ui/flows/{flow_id}/messages/{letter_in['id']}/render"
    shown = client.get(url)
    assert shown.status_code == 200 and "default-src 'none'" in shown.headers["content-security-policy"]
    text = shown.text
    assert f'href="/ui/flows/{flow_id}"' in text and "back to flow" in text
    assert CPR not in text, text[text.index(CPR) - 300 : text.index(CPR) + 50]
    assert "CPR 25xxxxxxxx" in text  # privacy.mask_cpr: the day stays, the person goes
    assert "<script" not in text.lower()
    zones = set(re.findall(r"\d{2}:\d{2} (UTC|CET|CEST|[+-]\d{2}:\d{2})", text))
    assert zones == {"CET"}, zones
    revealed = client.get(url, params={"cpr": "show"}).text
    assert CPR in revealed and "mask the CPR number" in revealed
    audit = client.get("/audit", params={"action": "message.render"})
    if audit.status_code == 200:
        assert any(e.get("details", {}).get("cpr") == "shown" for e in audit.json()["entries"])

"""The monthly picture over HTTP: the page's charts and tables, the CSV export and the JSON, with names."""

from __future__ import annotations

import csv
import html
import io
import re

from fastapi.testclient import TestClient
from lxml import etree

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import Monthly
from medcom_bridge.hub.stats import NegativeReceipts, PartnerRate, Quarantined, Trends
from medcom_bridge.web.monthly import CSV_COLUMNS, monthly_csv, monthly_json
from tests.web.conftest import FHIR_SENDER, OIOXML_RECEIVER, UNKNOWN_RECEIVER
from tests.web.test_pages import busy, rows

_SVG = re.compile(r"<svg .*?</svg>", re.S)


def test_the_page_shows_danish_months_charts_with_links_and_tables(
    client: TestClient, hub: Hub, clock: ManualClock
) -> None:
    busy(client, hub, clock)
    page = client.get("/ui/stats", params={"month": "2026-01"})
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text.split("<main", 1)[-1]
    text = page.text
    assert "januar 2026" in text and "februar 2025" in text  # heading, picker and 13 months of trend
    assert 'id="monthly-chart"' in text
    charts = _SVG.findall(text)
    assert len(charts) >= 5  # letters, a conversion direction, negative, missing, refused, quarantined
    for svg in charts:
        root = etree.fromstring(svg.encode())
        hrefs = [a.get("href") for a in root.iter("{http://www.w3.org/2000/svg}a")]
        assert len(hrefs) == 13
        assert all(h.startswith("/ui/flows?") for h in hrefs)
    letters = _SVG.findall(text)[0]
    bar = etree.fromstring(letters.encode()).findall("{http://www.w3.org/2000/svg}a")[-1]
    assert rows(client, html.unescape(bar.get("href"))) == 1  # January's delivered letter
    # The refusal's place and cause, the quarantined file apart from negative receipts.
    assert "Refused by the hub" in text and "Quarantined input" in text


def test_csv_export_parses_back(client: TestClient, hub: Hub, clock: ManualClock) -> None:
    busy(client, hub, clock)
    response = client.get("/stats/monthly.csv", params={"month": "2026-01"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "2026-01" in response.headers["content-disposition"]
    assert response.text.endswith("\r\n")
    table = list(csv.reader(io.StringIO(response.text)))
    assert tuple(table[0]) == CSV_COLUMNS
    records = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in table[1:]]
    sections = {r["section"] for r in records}
    assert {
        "refused_by_hub",
        "quarantined",
        "missing_receipts",
        "conversions",
        "receiver_rate",
        "trend",
    } <= sections
    refused = next(r for r in records if r["section"] == "refused_by_hub")
    assert refused["receiver_gln"] == UNKNOWN_RECEIVER and refused["place"] == "register"
    rate = next(r for r in records if r["section"] == "receiver_rate")
    assert (rate["receiver_gln"], rate["delivered"], rate["flows"]) == (OIOXML_RECEIVER, "1", "0")
    assert len([r for r in records if r["section"] == "trend"]) % 13 == 0
    assert client.get("/stats/monthly.csv", params={"month": "x"}).status_code == 400


def test_json_has_names_rates_and_trends(client: TestClient, hub: Hub, clock: ManualClock) -> None:
    busy(client, hub, clock)
    stats = client.get("/stats/monthly", params={"month": "2026-01"}).json()
    assert stats["month_name"] == "januar 2026"
    assert stats["quarantined"][0]["sender_gln"] == FHIR_SENDER and stats["quarantined"][0]["count"] == 1
    assert "sender_name" in stats["quarantined"][0]
    receivers = stats["negative_rate"]["receivers"]
    assert [(r["gln"], r["delivered"], r["negative"], r["rate"]) for r in receivers] == [
        (OIOXML_RECEIVER, 1, 0, 0.0)
    ]
    trends = stats["trends"]
    assert len(trends["months"]) == 13 and trends["months"][-1] == "2026-01"
    assert trends["letters"][-1] == 1 and trends["conversions"]["fhir_to_oioxml"][-1] == 1
    assert client.get("/stats/monthly").json()["trends"]["months"][-1] == "2026-01"  # this (Danish) month


def test_names_beside_glns_and_no_formulas_in_the_csv() -> None:
    names = {"5790000000001": '=HYPERLINK("http://x")', "5790000000002": 'Lægehuset, "Øst"'}
    m = Monthly(
        "2026-03",
        [NegativeReceipts("2026-03", "5790000000001", "5790000000002", "syntaksfejl", "receiver", 2)],
        [],
        [],
        {},
        [],
        [Quarantined("2026-03", "5790000000001", "-cmd", 1)],
        [PartnerRate("5790000000002", 4, 2)],
        [],
        Trends(["2026-03"], {}, {}),
    )
    table = list(csv.reader(io.StringIO(monthly_csv(m, names.get))))
    cells = [cell for row in table for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert '\'=HYPERLINK("http://x")' in cells and 'Lægehuset, "Øst"' in cells and "'-cmd" in cells
    rate = next(row for row in table if row[0] == "receiver_rate")
    assert rate[-1] == "0.5000"
    body = monthly_json(m, names.get)
    assert body["negative_receipts"][0]["receiver_name"] == 'Lægehuset, "Øst"'
    assert body["negative_receipts"][0]["code"] == "syntaksfejl"

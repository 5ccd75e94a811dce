"""The operations pages: they render, they escape hostile values, every number links to exactly the flows it
counts, lists never show CPR numbers or letter text, and the letter itself is one explicit click away."""

from __future__ import annotations

import html
import os
import re
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.events import Place, Step
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.store import FlowInfo, Note
from tests.web.conftest import FHIR_SENDER, UNKNOWN_RECEIVER, envelope, letter

CPR = "2512489996"  # the patient of MedCom's flow 3
PATIENT = "Berggren"
LETTER_TEXT = "Afdeling A har modtaget en henvisning"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
_COUNT_LINK = re.compile(r'<a class="n" href="(/ui/flows[^"]*)">(\d+)</a>')


def busy(client: TestClient, hub: Hub, clock: ManualClock) -> str:
    """One converted flow with overdue receipts, one rejected, one quarantined; returns the converted one."""
    ok: str = client.post("/envelopes", content=envelope()).json()["flow_id"]
    client.post("/envelopes", content=envelope(letter(str(uuid.uuid4())), receiver=UNKNOWN_RECEIVER))
    client.post("/envelopes", content=b"<broken", params={"mailbox": FHIR_SENDER})
    hub.run_once()
    clock.advance(timedelta(minutes=121))
    hub.run_once()
    return ok


def rows(client: TestClient, url: str) -> int:
    page = client.get(url + ("&" if "?" in url else "?") + "limit=500")
    assert page.status_code == 200, url
    return int(page.text.count('<td class="id"><a href="/ui/flows/'))


def test_overview_answers_where_the_problem_is_and_every_number_links_to_its_flows(
    client: TestClient, hub: Hub, clock: ManualClock
) -> None:
    busy(client, hub, clock)
    page = client.get("/ui")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    for place in (Place.INPUT, Place.REGISTER):
        assert f"failure={place.value}&amp;month=2026-01" in text
    assert "Receipts overdue" in text and "Quarantined input" in text
    links = [(html.unescape(url), int(n)) for url, n in _COUNT_LINK.findall(text)]
    assert len(links) >= 5
    for url, count in links:
        assert rows(client, url) == count, url
    assert ("/ui/flows?overdue=true", 1) in links
    assert ("/ui/flows?state=quarantined", 1) in links


def test_statistics_page_numbers_link_to_their_flows(
    client: TestClient, hub: Hub, clock: ManualClock
) -> None:
    busy(client, hub, clock)
    page = client.get("/ui/stats", params={"month": "2026-01"})
    assert page.status_code == 200
    links = [(html.unescape(url), int(n)) for url, n in _COUNT_LINK.findall(page.text)]
    figures = {url.split("figure=")[-1].split("&")[0] for url, _ in links if "figure=" in url}
    assert figures >= {"letters", "conversions", "missing", "hub_refused", "quarantined"}
    assert any("event=pass_through" in url for url, _ in links)
    for url, count in links:
        assert rows(client, url) == count, url
    assert 'id="monthly-chart"' in page.text and "januar 2026" in page.text
    assert client.get("/ui/stats", params={"month": "January"}).status_code == 400


def test_lists_and_trace_never_show_cpr_names_or_letter_text(
    client: TestClient, hub: Hub, clock: ManualClock
) -> None:
    flow_id = busy(client, hub, clock)
    urls = ["/ui", "/ui/flows", f"/ui/flows/{flow_id}", "/ui/stats", "/flows", f"/flows/{flow_id}"]
    urls += [f"/flows/{flow_id}/events", f"/flows/{flow_id}/events?format=auditevent", "/stats/monthly"]
    for url in urls:
        body = client.get(url).text
        for secret in (CPR, PATIENT, LETTER_TEXT):
            assert secret not in body, (url, secret)
    # ... but the operator can open the letter on purpose.
    flow = client.get(f"/flows/{flow_id}").json()
    inbound = next(m for m in flow["messages"] if m["kind"] == "carecommunication")
    page = client.get(f"/ui/flows/{flow_id}")
    render = f"/ui/flows/{flow_id}/messages/{inbound['id']}/render"
    assert render in page.text
    shown = client.get(render)
    assert shown.status_code == 200
    assert LETTER_TEXT in shown.text and "default-src 'none'" in shown.headers["content-security-policy"]


def test_a_message_without_a_letter_view_says_why(client: TestClient, hub: Hub) -> None:
    flow_id = client.post("/envelopes", content=b"<broken", params={"mailbox": FHIR_SENDER}).json()["flow_id"]
    message = client.get(f"/flows/{flow_id}").json()["messages"][0]
    page = client.get(f"/ui/flows/{flow_id}/messages/{message['id']}/render")
    assert page.status_code == 422
    assert "Cannot render" in page.text


def test_hostile_values_are_escaped_everywhere(client: TestClient, hub: Hub, clock: ManualClock) -> None:
    now = clock.now()
    with hub.store.transaction() as tx:
        flow = tx.create_flow(
            now,
            FlowInfo(
                sender_gln="5790000000017",
                letter_id=HOSTILE[:60],
                envelope_id=HOSTILE[:64],
                kind=HOSTILE[:32],
            ),
        )
        tx.record(flow.id, now, Step.ALERT, Note(reason=HOSTILE, cause=HOSTILE[:60], failure=Place.RECEIVER))
    hub.spool.quarantine(f"{HOSTILE}.xml", b"x", HOSTILE, ean="5790000000017", now=now)
    for url in ("/ui", "/ui/flows", f"/ui/flows/{flow.id}", f"/ui/flows?letter_id={HOSTILE[:60]}"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "<script>" not in page.text and "<img src=x" not in page.text, url
    flow_page = client.get(f"/ui/flows/{flow.id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in flow_page  # shown, as text
    assert "Failed at receiver" in flow_page
    missing = client.get(f"/ui/flows/{HOSTILE}")
    assert missing.status_code == 404 and "<script>" not in missing.text


def test_flow_list_filters_paging_and_errors(client: TestClient, clock: ManualClock) -> None:
    for _ in range(3):
        client.post("/envelopes", content=envelope(letter(str(uuid.uuid4())), receiver=UNKNOWN_RECEIVER))
        clock.advance(minutes=1)
    first = client.get("/ui/flows", params={"state": "rejected", "limit": "2"})
    assert first.status_code == 200
    assert first.text.count('<td class="id"><a href="/ui/flows/') == 2
    next_link = html.unescape(re.search(r'<a href="([^"]+)">next page', first.text).group(1))  # type: ignore[union-attr]
    assert "state=rejected" in next_link
    second = client.get(next_link)
    assert second.text.count('<td class="id"><a href="/ui/flows/') == 1
    assert "next page" not in second.text and "first page" in second.text
    empty_form = client.get("/ui/flows", params={"state": "", "sender_gln": "", "overdue": ""})
    assert empty_form.status_code == 200  # an empty form field means "no filter"
    bad = client.get("/ui/flows", params={"state": "lost"})
    assert bad.status_code == 400 and "is not one of" in bad.text
    assert client.get("/ui/flows", params={"limit": "many"}).status_code == 400
    this_month = client.get("/ui/flows", params={"failure": "register"})  # the pages default to this month
    assert this_month.status_code == 200 and "month=2026-01" in this_month.text
    assert this_month.text.count('<td class="id"><a href="/ui/flows/') == 3


def test_flow_page_shows_timeline_messages_and_receipts(client: TestClient, hub: Hub) -> None:
    flow_id = client.post("/envelopes", content=envelope()).json()["flow_id"]
    hub.run_once()
    page = client.get(f"/ui/flows/{flow_id}").text
    assert "Timeline" in page and "converted" in page and "msg-received" in page
    assert page.count("download</a>") == len(client.get(f"/flows/{flow_id}").json()["messages"])
    assert "No receipt received or sent yet." in page
    assert f"/flows/{flow_id}/events?format=auditevent" in page
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui"


def test_overview_lists_files_skipped_in_out_for_over_an_hour(
    client: TestClient, hub: Hub, clock: ManualClock
) -> None:
    out = hub.spool.ensure_party(FHIR_SENDER) / "out"
    for name, hours in (
        ("letter.XML", 3),
        ("half.xml.part", 2),
        ("fresh.tmp", 0.5),
        (HOSTILE.replace("/", "_") + ".tmp", 2),
    ):
        path = out / name
        path.write_bytes(b"<x/>")
        when = (clock.now() - timedelta(hours=hours)).timestamp()
        os.utime(path, (when, when))
    page = client.get("/ui").text
    assert "Files not taken from out/ for over an hour" in page
    assert "letter.XML" in page and "half.xml.part" in page and "fresh.tmp" not in page
    assert "not-xml" in page and "temporary" in page and "3.0" in page
    assert "<script>" not in page
    for path in out.iterdir():
        path.unlink()
    assert "Files not taken from out/" not in client.get("/ui").text

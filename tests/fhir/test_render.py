"""The thread renderer and the `render` command: MedCom's display rules, escaping, order, attachments."""

from __future__ import annotations

import base64
import copy
import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.fhir.builder import new_message, reply
from medcom_bridge.fhir.content import Attachment, Classification, TextSegment
from medcom_bridge.fhir.parties import Author, CareTeam, EpisodeOfCare, Organization, Patient
from medcom_bridge.fhir.render import STUB_TEXT, RenderError, render_thread, thread_view
from medcom_bridge.fhir.terminology import CATEGORIES
from tests.conftest import DATA
from tests.fhir.builder_helpers import (
    CC_PACKAGE,
    CLINIC,
    MUNICIPALITY,
    NOW,
    NURSE,
    PATIENT,
    RESULTS,
    SEND_V5,
    VISITATOR,
    communication,
    id_factory,
    load,
    package_examples,
    text,
)

CC_EXAMPLES = package_examples(CC_PACKAGE)
HOSTILE = "<script>alert(\"x\")</script> & 'quoted' </div><br/>"


def segments(page: str) -> list[str]:
    return re.findall(r'<article class="card segment">(.*?)</article>', page, re.S)


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link|img|iframe|object|embed|base)\b", page, re.I)
    assert not re.search(r"\bsrc\s*=", page, re.I)
    assert "@import" not in page and "url(" not in page


@pytest.mark.parametrize("path", sorted(SEND_V5.iterdir()), ids=lambda p: p.name[:24])
def test_every_certification_example_renders(path: Path) -> None:
    bundle = load(path)
    page = render_thread(bundle)
    assert_self_contained(page)
    comm = communication(bundle)
    assert len(segments(page)) == len(comm["payload"])
    code = comm["category"][0]["coding"][0]["code"]
    assert CATEGORIES[code] in page  # the category is always shown, in Danish
    if "topic" in comm:
        assert html.escape(comm["topic"]["text"], quote=False) in page


@pytest.mark.parametrize("name", sorted(CC_EXAMPLES))
def test_every_package_example_renders(name: str) -> None:
    page = render_thread(CC_EXAMPLES[name])
    assert_self_contained(page)
    assert len(segments(page)) == len(communication(CC_EXAMPLES[name])["payload"])


def test_the_literal_br_of_the_ig_example_is_text() -> None:
    page = render_thread(CC_EXAMPLES["Bundle-gfd00bc2-9c26-4174-934e-f6e4360845de.json"])
    assert "over the phone: &lt;br/&gt; Proin" in page
    assert "Prioritet" not in page and "Hurtigst muligt (ASAP)" in page  # priority asap shown
    assert "Plejecenter Herlev Team 1" in page  # specific recipient (CareTeam)
    assert "gfd00bc2-9c26-4174-934e-f6e4360845de" in page  # episode-of-care identifier


def test_hostile_text_is_escaped_everywhere() -> None:
    author = Author(family=HOSTILE, given=("Eve",), role_text=HOSTILE, phone="+4512345678")
    bundle = new_message(
        sender=Organization(sor="441211000016000", ean="5790001987244", name=HOSTILE),
        receiver=MUNICIPALITY,
        patient=Patient(cpr="2509479989", family=HOSTILE),
        classification=Classification(category="other", topic=HOSTILE),
        text=TextSegment(text=HOSTILE + "\nline 2", author=author),
        attachments=[
            Attachment(title=HOSTILE, content_type="application/pdf", data=b"%PDF"),
            Attachment(title=HOSTILE, url='https://example.dk/"onmouseover="alert(1)'),
        ],
        recipient=CareTeam(name=HOSTILE),
        now=NOW,
        new_id=id_factory(),
    )
    page = render_thread(bundle)
    assert_self_contained(page)
    assert "<script>" not in page and "</div><br/>" not in page and "'quoted'" not in page
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quoted&#39; &lt;/div&gt;&lt;br/&gt;"
    assert page.count(escaped) >= 8  # title, heading, facts, text, author, role, titles, team, org, patient
    assert 'href="https://example.dk/&#34;onmouseover=&#34;alert(1)"' in page
    assert f"{escaped}<br>\nline 2" in page


def test_line_breaks_are_shown() -> None:
    bundle = new_message(
        sender=CLINIC,
        receiver=MUNICIPALITY,
        patient=PATIENT,
        classification=RESULTS,
        text=text("første linje\nanden linje\n\nfjerde"),
        now=NOW,
        new_id=id_factory(),
    )
    assert "første linje<br>\nanden linje<br>\n<br>\nfjerde" in render_thread(bundle)


def _thread() -> dict[str, Any]:
    ids = id_factory()
    first = new_message(
        sender=CLINIC,
        receiver=MUNICIPALITY,
        patient=PATIENT,
        classification=RESULTS,
        text=TextSegment(text="FIRST from the initiator", author=NURSE),
        now=NOW,
        new_id=ids,
    )
    return reply(
        first,
        text=[
            TextSegment(text="SAME TIME from the answer", author=VISITATOR, date=NOW),
            TextSegment(text="EARLIER than everything", author=VISITATOR, date=NOW - timedelta(days=1)),
        ],
        now=NOW + timedelta(hours=1),
        new_id=ids,
    )


def test_segments_in_date_order_initiator_first_on_equal_dates() -> None:
    bundle = _thread()
    page = render_thread(bundle)
    order = [m.group(1) for m in re.finditer(r"(FIRST|SAME TIME|EARLIER)", page)]
    assert order == ["EARLIER", "FIRST", "SAME TIME"]
    # The payload order does not matter: reversed payloads render the same way.
    flipped = copy.deepcopy(bundle)
    communication(flipped)["payload"].reverse()
    assert [m.group(1) for m in re.finditer(r"(FIRST|SAME TIME|EARLIER)", render_thread(flipped))] == order


def test_segment_shows_organisation_author_role_and_phone() -> None:
    page = render_thread(_thread())
    first = next(s for s in segments(page) if "FIRST" in s)
    assert "Klinik for Ældresygdomme (SOR 441211000016000, EAN 5790001987244)" in first
    assert "Michael Burns, Sygeplejerske · phone 38683868" in first
    answer = next(s for s in segments(page) if "SAME TIME" in s)
    assert "Sundhedsplejen, Aabenraa" in answer and "Birgit Berggren, Visitator" in answer


def test_attachment_links_and_stubs() -> None:
    pdf = b"%PDF-1.4 fake but fine"
    ids = id_factory()
    first = new_message(
        sender=CLINIC,
        receiver=MUNICIPALITY,
        patient=PATIENT,
        classification=RESULTS,
        text=text(),
        attachments=[
            Attachment(title="Epikrise", content_type="application/pdf", data=pdf),
            Attachment(title="MedCom", url="https://medcom.dk/"),
        ],
        now=NOW,
        new_id=ids,
    )
    page = render_thread(first)
    encoded = base64.b64encode(pdf).decode()
    assert f'<a href="data:application/pdf;base64,{encoded}" download="Epikrise.pdf">Epikrise</a>' in page
    assert f"(application/pdf, {len(pdf)} bytes)" in page
    assert '<a href="https://medcom.dk/" rel="noopener noreferrer" target="_blank">MedCom</a>' in page
    answer = reply(first, text=text(), now=NOW, new_id=ids)
    page = render_thread(answer)
    assert page.count(STUB_TEXT) == 2 and "data:application/pdf" not in page


def test_unsafe_attachments_are_not_opened() -> None:
    bundle = new_message(
        sender=CLINIC,
        receiver=MUNICIPALITY,
        patient=PATIENT,
        classification=RESULTS,
        text=text(),
        attachments=[
            Attachment(title="a", content_type="image/png", data=b"png"),
            Attachment(title="b", url="https://x.dk"),
        ],
        now=NOW,
        new_id=id_factory(),
    )
    payloads = communication(bundle)["payload"]
    payloads[1]["contentAttachment"]["contentType"] = "text/html"
    payloads[2]["contentAttachment"]["url"] = "javascript:alert(1)"
    page = render_thread(bundle)
    assert "data:application/octet-stream;base64," in page and "data:text/html" not in page
    assert 'href="javascript' not in page and "link not opened: javascript:alert(1)" in page
    payloads[1]["contentAttachment"]["data"] = "not base64!"
    assert "content is not valid base64" in render_thread(bundle)


def test_view_of_patient_episode_and_parties() -> None:
    episode = EpisodeOfCare(
        system="https://sor2.sum.dsdn.dk/#id=441211000016000", value="abc-123", encounter_class="AMB"
    )
    bundle = new_message(
        sender=CLINIC,
        receiver=MUNICIPALITY,
        patient=Patient(x_ecpr="0703921VJ4", given=("Ukendt",), deceased=True),
        classification=Classification(category="regarding-referral", priority="routine"),
        text=text(),
        episode_of_care=episode,
        specific_sender=CareTeam(name="Team 1"),
        now=NOW,
        new_id=id_factory(),
    )
    view = thread_view(bundle)
    assert view.patient_ids == [("X-eCPR", "0703921VJ4")] and view.deceased
    assert view.episodes == [("abc-123", episode.system)]
    assert view.specific_sender == "Team 1, Klinik for Ældresygdomme"
    assert view.category_display == "Vedr. henvisning" and view.priority == "Rutine"
    assert [h.activity for h in view.history] == ["New message"]


def test_broken_bundles_render_what_is_there_or_say_why() -> None:
    with pytest.raises(RenderError):
        render_thread({"resourceType": "Patient"})
    with pytest.raises(RenderError):
        render_thread({"resourceType": "Bundle", "entry": []})
    minimal = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Communication", "payload": [{"contentString": "x"}, 7]}}],
    }
    page = render_thread(minimal)
    assert "(no category)" in page and "(sender not stated)" in page and len(segments(page)) == 1


# ------------------------------------------------------------------------------------------ CLI


def test_cli_render_to_file_and_stdout(tmp_path: Path) -> None:
    runner = CliRunner()
    source = SEND_V5 / "Bundle-S-B-new-720f68cf-21bf-4c40-a90c-a113e00e88a8.xml"
    out = tmp_path / "thread.html"
    result = runner.invoke(app, ["render", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    result = runner.invoke(app, ["render", str(source)])
    assert result.exit_code == 0 and result.stdout == page


def test_cli_render_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["render", str(tmp_path / "missing.json")]).exit_code == 2
    ack = tmp_path / "ack.json"
    ack.write_text(
        '{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MessageHeader",'
        '"eventCoding":{"code":"acknowledgement-message"}}}]}'
    )
    result = runner.invoke(app, ["render", str(ack)])
    assert result.exit_code == 2 and "no HTML view" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType":"Bundle","entry":[{"code":"care-communication-message"')
    result = runner.invoke(app, ["render", str(broken)])
    assert result.exit_code == 1 and "not a readable CareCommunication" in result.output
    xctl = DATA / "oioxml" / "samples" / "XCTL03_1_edifactconv_pair.xml"
    result = runner.invoke(app, ["render", str(xctl)])
    assert result.exit_code == 2 and "xctl03" in result.output


# ------------------------------------------------------------------------------------------ XDIS91

XDIS91_SAMPLES = sorted((DATA / "oioxml" / "samples").glob("XDIS91_*.xml"))


@pytest.mark.parametrize("path", XDIS91_SAMPLES, ids=lambda p: p.name)
def test_every_xdis91_sample_renders(path: Path) -> None:
    from medcom_bridge.oioxml.codec import parse_xdis91

    message = parse_xdis91(path.read_bytes())
    result = CliRunner().invoke(app, ["render", str(path)])
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert_self_contained(page)
    letter = message.body
    assert html.escape(letter.patient.person_surname_name, quote=True) in page
    assert html.escape(letter.sender.organisation_name, quote=True) in page
    assert letter.letter.identifier in page
    assert page.count('class="card segment"') == len(letter.clinical_information)


def test_xdis91_formatted_text_and_escaping() -> None:
    from medcom_bridge.oioxml.render import formatted_html
    from medcom_bridge.oioxml.text import BREAK, SPACE, FixedFont, FormattedText, Styled

    text = FormattedText(
        (
            "<script>&",
            BREAK,
            Styled("Bold", ("fed",)),
            SPACE,
            SPACE,
            FixedFont(("fast", Styled("Italic", ("skrå",)))),
            Styled("Center", ("midt",)),
        )
    )
    assert str(formatted_html(text)) == (
        "&lt;script&gt;&amp;<br>\n<strong>fed</strong>&#160;&#160;"
        '<span class="fixed">fast<em>skrå</em></span><span class="center">midt</span>'
    )


def test_cli_renders_the_letter_inside_a_vansenvelope(tmp_path: Path) -> None:
    from medcom_bridge.envelope.vans import wrap
    from medcom_bridge.fhir import codec

    bundle = _thread()
    wrapped = wrap(
        codec.to_json(bundle),
        sender_ean=MUNICIPALITY.ean,
        receiver_ean=CLINIC.ean,
        envelope_id="7c1f0a56-2a4d-4b7e-9a55-0d3c3f1e8a11",
        message_id="0b6b1f5e-9f1e-4d8e-8f0c-3c1d2e3f4a5b",
        sent=NOW,
    )
    path = tmp_path / "envelope.xml"
    path.write_bytes(wrapped)
    result = CliRunner().invoke(app, ["render", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == render_thread(bundle)
    xdis22 = DATA / "oioxml" / "samples" / "vansenvelope" / "VANSEnvelope_1.0.4_wrapping_XDIS22_sample.xml"
    result = CliRunner().invoke(app, ["render", str(xdis22)])
    assert result.exit_code == 2 and "nothing to render" in result.output

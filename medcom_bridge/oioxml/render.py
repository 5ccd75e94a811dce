"""Render an XDIS91 letter as one self-contained HTML page (same look as the CareCommunication thread page).

`Text01` is formatted text: `Break` becomes a line break, `Space` a significant space, the styles bold,
italic, underline, right/centre alignment and fixed font keep their meaning; everything else is escaped
text (jinja2 autoescape; the formatted tree is turned into markup node by node, never by string pasting).
References are listed: a web link can be opened (http/https only), an XBIN01 object is named with type and
size (its content travels in the XBIN01, not in this letter), `SUP` says it was sent by other means.
Pure: a parsed letter (or bytes) in, a string out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from jinja2 import Environment
from markupsafe import Markup, escape

from medcom_bridge.fhir.render import PAGE_CSS
from medcom_bridge.localtime import COPENHAGEN
from medcom_bridge.oioxml.model import ClinicalEmail, Emessage
from medcom_bridge.oioxml.text import Break, FixedFont, FormattedText, Node, Space, Styled

PRIORITIES = {"rutine": "Rutine", "høj_prioritet": "Høj prioritet"}
_STYLE_TAGS = {
    "Bold": ("<strong>", "</strong>"),
    "Italic": ("<em>", "</em>"),
    "Underline": ("<u>", "</u>"),
    "Right": ('<span class="right">', "</span>"),
    "Center": ('<span class="center">', "</span>"),
}
_XDIS91_CSS = """
.right{display:block;text-align:right}.center{display:block;text-align:center}
.fixed{font-family:ui-monospace,Menlo,Consolas,monospace}
"""


def formatted_html(text: FormattedText) -> Markup:
    """Text01 as safe markup: text escaped, Break -> <br>, Space -> non-breaking space, styles as tags."""
    return _nodes(text.content)


def _nodes(nodes: Iterable[Node]) -> Markup:
    out = Markup("")
    for node in nodes:
        if isinstance(node, str):
            out += escape(node)
        elif isinstance(node, Break):
            out += Markup("<br>\n")
        elif isinstance(node, Space):
            out += Markup("&#160;")
        elif isinstance(node, Styled):
            start, end = _STYLE_TAGS.get(node.style, ("<span>", "</span>"))
            out += Markup(start) + _nodes(node.content) + Markup(end)
        elif isinstance(node, FixedFont):
            out += Markup('<span class="fixed">') + _nodes(node.content) + Markup("</span>")
    return out


@dataclass(frozen=True, slots=True)
class _Ref:
    label: str
    href: str | None
    note: str | None


def _references(letter: ClinicalEmail) -> list[_Ref]:
    refs: list[_Ref] = []
    for ref in letter.reference:
        if ref.url is not None:
            safe = ref.url if re.match(r"https?://", ref.url, re.IGNORECASE) else None
            refs.append(_Ref(ref.ref_description, safe, None if safe else f"link not opened: {ref.url}"))
        elif ref.bin is not None:
            b = ref.bin
            refs.append(
                _Ref(
                    ref.ref_description,
                    None,
                    f"{b.object_code}/{b.object_extension_code}, {b.original_object_size} bytes, "
                    f"in the accompanying XBIN01 (object {b.object_identifier})",
                )
            )
        else:
            refs.append(_Ref(ref.ref_description, None, "sent by other means (SUP)"))
    return refs


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
# OIOXML times are Danish wall-clock times without a zone; the page names it (CET/CEST) as FHIR letters do.
_ENV.globals["zone"] = lambda at: at.replace(tzinfo=COPENHAGEN).tzname() if at.tzinfo is None else at.tzname()
_TEMPLATE = _ENV.from_string(
    """<!DOCTYPE html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>XDIS91{% if info and info.subject %} – {{ info.subject }}{% endif %}</title>
<style>{{ css }}</style>
</head>
<body>
<main>
<h1>{{ (info.subject if info else None) or "(no subject)" }}</h1>
<p><span class="category">XDIS91 correspondence letter</span>
{% if priority %}<span class="priority">Priority: {{ priority }}</span>{% endif %}</p>
<section class="card" aria-label="letter">
<dl class="facts">
<dt>Patient</dt><dd>{{ patient_name }}{% if p.civil_registration_number %}, CPR {{ p.civil_registration_number }}{% endif %}{% if p.alternative_identifier %}, alternative id {{ p.alternative_identifier }}{% endif %} <span class="muted">({{ p.episode_of_care_status_code }})</span></dd>
<dt>From</dt><dd>{{ s.organisation_name }}{% for part in (s.department_name, s.unit_name) if part %}, {{ part }}{% endfor %}, EAN {{ s.ean_identifier }}, {{ s.identifier_code }} {{ s.identifier }}{% if s.telephone_subscriber_identifier %} · phone {{ s.telephone_subscriber_identifier }}{% endif %}</dd>
<dt>To</dt><dd>{{ r.organisation_name or "(no name)" }}{% for part in (r.department_name, r.unit_name) if part %}, {{ part }}{% endfor %}, EAN {{ r.ean_identifier }}, {{ r.identifier_code }} {{ r.identifier }}</dd>
<dt>Subject</dt><dd>{{ (info.subject if info else None) or "(none)" }}</dd>
<dt>Priority</dt><dd>{{ priority or "(none)" }}</dd>
{% if l.episode_of_care_identifier %}<dt>Episode of care</dt><dd>{{ l.episode_of_care_identifier }}</dd>{% endif %}
<dt>Authorised</dt><dd>{{ l.authorisation.strftime("%Y-%m-%d %H:%M") }} {{ zone(l.authorisation) }}</dd>
<dt>Letter</dt><dd class="muted">{{ l.identifier }} · {{ l.type_code }} · {{ l.status_code }} · {{ l.statistical_code }} · {{ l.version_code }} · envelope {{ e.identifier }}</dd>
</dl>
</section>
{% for block in blocks %}
<article class="card segment"><div class="text">{{ block }}</div></article>
{% endfor %}
{% if refs %}
<section class="card" aria-label="references">
{% for ref in refs %}<div class="attachment">Reference:
{% if ref.href %}<a href="{{ ref.href }}" rel="noopener noreferrer" target="_blank">{{ ref.label }}</a> <span class="muted">(web link: {{ ref.href }})</span>
{% else %}<strong>{{ ref.label }}</strong> <span class="stub">{{ ref.note }}</span>{% endif %}
</div>
{% endfor %}</section>
{% endif %}
</main>
</body>
</html>
"""
)


def render_xdis91(message: Emessage[ClinicalEmail]) -> str:
    """One self-contained HTML page for an XDIS91 letter."""
    letter = message.body
    patient = letter.patient
    info = letter.additional_information
    priority = info.priority if info else None
    return _TEMPLATE.render(
        css=Markup(PAGE_CSS + _XDIS91_CSS),
        e=message.envelope,
        l=letter.letter,
        s=letter.sender,
        r=letter.receiver,
        p=patient,
        info=info,
        priority=PRIORITIES.get(priority, priority) if priority else None,
        patient_name=" ".join(x for x in (patient.person_given_name, patient.person_surname_name) if x),
        blocks=[formatted_html(ci.text01) for ci in letter.clinical_information],
        refs=_references(letter),
    )


def render_xdis91_bytes(data: bytes) -> str:
    """Parse an XDIS91 and render it (raises XmlError / OioxmlError, both ValueError, for bad input)."""
    from medcom_bridge.oioxml.codec import parse_xdis91

    return render_xdis91(parse_xdis91(data))

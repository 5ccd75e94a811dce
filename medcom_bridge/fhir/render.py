"""Render a CareCommunication message thread as one self-contained HTML page.

MedCom's display rules (`fhir-carecommunication.md` §3.1, §3.3): the category is always shown; segments
are shown in the order of their `date` extension, and on equal dates the thread initiator's segment comes
first; `contentString` is plain text, so everything is HTML-escaped (even a literal `<br/>`) and only
newlines become line breaks; every segment shows which organisation sent it and its signature (author,
role, phone). Attachments are listed with type and size and can be opened: an embedded file through a
`data:` URL, a web link through its http(s) URL, and a reply's stub says it was sent earlier.

Pure: a bundle dict in, a string out. The page has inline CSS only, no scripts and no external resources
(its Content-Security-Policy forbids them), so it can be archived or mailed as it is.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir import model
from medcom_bridge.fhir.content import PRIORITIES
from medcom_bridge.fhir.terminology import CATEGORIES, MIME_TYPES, ROLE_DISPLAYS
from medcom_bridge.localtime import shown

STUB_TEXT = "not included in this message (sent earlier)"
ACTIVITIES = {
    "new-message": "New message",
    "reply-message": "Reply",
    "forward-message": "Forward",
    "acknowledgement": "Acknowledgement",
}
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/gif": ".gif",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "image/bmp": ".bmp",
}
_PATIENT_IDS = {
    url.SYS_CPR: "CPR",
    url.SYS_X_ECPR: "X-eCPR",
    **{system: "D-eCPR" for system in url.SYS_D_ECPR_REGIONAL},
}
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class RenderError(ValueError):
    """The input is not a FHIR message bundle that can be shown."""


@dataclass(frozen=True, slots=True)
class Org:
    name: str
    sor: str | None
    ean: str | None


@dataclass(frozen=True, slots=True)
class AttachmentView:
    title: str
    content_type: str
    size: str | None
    href: str | None
    download: str | None
    is_link: bool
    note: str | None


@dataclass(frozen=True, slots=True)
class Segment:
    date: str
    organization: str
    author: str | None
    role: str | None
    phone: str | None
    text: str | None
    attachment: AttachmentView | None
    identifier: str | None


@dataclass(frozen=True, slots=True)
class HistoryItem:
    date: str
    activity: str
    organization: str


@dataclass(slots=True)
class ThreadView:
    category_code: str | None = None
    category_display: str = "(no category)"
    topic: str | None = None
    priority: str | None = None
    patient_name: str = "(no name)"
    patient_ids: list[tuple[str, str]] = field(default_factory=list)
    deceased: bool = False
    sender: Org | None = None
    receiver: Org | None = None
    specific_sender: str | None = None
    recipient: str | None = None
    episodes: list[tuple[str, str]] = field(default_factory=list)
    thread_id: str | None = None
    message_id: str | None = None
    sent: str | None = None
    segments: list[Segment] = field(default_factory=list)
    history: list[HistoryItem] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------
# Reading the bundle defensively: a renderer shows what is there and never raises on a missing element


class _Index:
    """The bundle seen through `model.Bundle` (the same reference resolution as the validator)."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.view = model.Bundle(dict(bundle))
        self.resources: list[dict[str, Any]] = [resource for _, _, resource in self.view.entries]

    def resolve(self, reference: Any) -> dict[str, Any] | None:
        hit = self.view.resolve_reference(reference)
        return hit[1] if hit else None

    def first(self, rtype: str) -> dict[str, Any] | None:
        return self.view.first(rtype)


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ext(node: Any, ext_url: str) -> dict[str, Any]:
    for ext in _list(_dict(node).get("extension")):
        if isinstance(ext, dict) and ext.get("url") == ext_url:
            return ext
    return {}


def _ident(node: Any, system: str) -> str | None:
    for ident in _list(_dict(node).get("identifier")):
        if isinstance(ident, dict) and ident.get("system") == system:
            return _s(ident.get("value"))
    return None


def _human_name(resource: Any) -> str | None:
    names = [n for n in _list(_dict(resource).get("name")) if isinstance(n, dict)]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if official is None:
        return None
    if _s(official.get("text")):
        return str(official["text"])
    parts = [g for g in _list(official.get("given")) if isinstance(g, str)]
    if _s(official.get("family")):
        parts.append(official["family"])
    return " ".join(parts) or None


def _org(resource: Any) -> Org | None:
    if not isinstance(resource, dict):
        return None
    return Org(
        name=_s(resource.get("name")) or "(organisation without name)",
        sor=_ident(resource, url.SYS_SOR),
        ean=_ident(resource, url.SYS_EAN),
    )


def _org_label(resource: Any) -> str:
    org = _org(resource)
    if org is None:
        return "(unknown organisation)"
    codes = ", ".join(
        x for x in (f"SOR {org.sor}" if org.sor else None, f"EAN {org.ean}" if org.ean else None) if x
    )
    return f"{org.name} ({codes})" if codes else org.name


def _role(role: Any) -> str | None:
    for concept in _list(_dict(role).get("code")):
        concept = _dict(concept)
        for coding in _list(concept.get("coding")):
            code = _s(_dict(coding).get("code"))
            if code:
                return _s(_dict(coding).get("display")) or ROLE_DISPLAYS.get(code, code)
        if _s(concept.get("text")):
            return str(concept["text"])
    return None


def _party(index: _Index, reference: Any) -> str | None:
    """A specific sender/recipient: a person with role and organisation, or a team."""
    target = index.resolve(reference)
    if target is None:
        ref = _s(_dict(reference).get("reference"))
        return f"(unresolved {ref})" if ref else None
    if target.get("resourceType") == "CareTeam":
        orgs = _list(target.get("managingOrganization"))
        team_org = _org(index.resolve(orgs[0])) if orgs else None
        team = _s(target.get("name")) or "(team without name)"
        return f"{team}, {team_org.name}" if team_org else team
    name = _human_name(index.resolve(target.get("practitioner"))) or "(no name)"
    role = _role(target)
    org = _org(index.resolve(target.get("organization")))
    return ", ".join(x for x in (name, role, org.name if org else None) if x)


def _parse_dt(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _show_dt(value: Any) -> str:
    parsed = _parse_dt(value)
    if parsed is None:
        return _s(value) or "(no date)"
    # One time zone on the page, the reader's: MedCom's parties are Danish (a FHIR instant may be in UTC or
    # carry any offset; shown as is, one letter would mix zones).
    return shown(parsed, zone=True)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _attachment(content: dict[str, Any]) -> AttachmentView:
    title = _s(content.get("title")) or "(untitled)"
    ctype = _s(content.get("contentType"))
    data, link = content.get("data"), _s(content.get("url"))
    if isinstance(data, str):
        compact = "".join(data.split())
        try:
            if not _BASE64.fullmatch(compact):
                raise binascii.Error("not base64")
            size = len(base64.b64decode(compact, validate=True))
        except (binascii.Error, ValueError):
            return AttachmentView(
                title, ctype or "(no type)", None, None, None, False, "content is not valid base64"
            )
        # Only the allowed MIME types are handed to the browser as such; anything else downloads as bytes.
        safe_type = ctype if ctype in MIME_TYPES else "application/octet-stream"
        ext = _EXTENSIONS.get(safe_type, "")
        download = title if not ext or title.lower().endswith(ext) else title + ext
        return AttachmentView(
            title,
            ctype or "(no type)",
            _size(size),
            f"data:{safe_type};base64,{compact}",
            download,
            False,
            None,
        )
    if link is not None:
        if re.match(r"https?://", link, re.IGNORECASE):
            return AttachmentView(title, ctype or "web link", None, link, None, True, None)
        return AttachmentView(title, ctype or "web link", None, None, None, True, f"link not opened: {link}")
    return AttachmentView(title, ctype or "(no type)", None, None, None, False, STUB_TEXT)


def _initiator(index: _Index, comm: dict[str, Any]) -> str | None:
    """The organisation that started the thread: the agent of the `new-message` Provenance."""
    for prov in index.resources:
        if prov.get("resourceType") != "Provenance":
            continue
        codings = _list(_dict(prov.get("activity")).get("coding"))
        if any(_dict(c).get("code") == "new-message" for c in codings):
            agents = _list(prov.get("agent"))
            who = index.resolve(_dict(agents[0]).get("who")) if agents else None
            if who is not None:
                return f"Organization/{who.get('id')}"
    payloads = _list(comm.get("payload"))
    if payloads:
        assigner = _dict(_dict(_ext(payloads[0], url.EXT_IDENTIFIER).get("valueIdentifier")).get("assigner"))
        who = index.resolve(assigner)
        if who is not None:
            return f"Organization/{who.get('id')}"
    return None


def _segments(index: _Index, comm: dict[str, Any]) -> list[Segment]:
    initiator = _initiator(index, comm)
    keyed: list[tuple[tuple[datetime, int, int], Segment]] = []
    for n, payload in enumerate(_list(comm.get("payload"))):
        if not isinstance(payload, dict):
            continue
        date = _ext(payload, url.EXT_DATE).get("valueDateTime")
        ident = _dict(_ext(payload, url.EXT_IDENTIFIER).get("valueIdentifier"))
        assigner = index.resolve(ident.get("assigner"))
        role = index.resolve(_ext(payload, url.EXT_AUTHOR).get("valueReference"))
        practitioner = index.resolve(_dict(role).get("practitioner")) if role else None
        phone = _s(_dict(_ext(payload, url.EXT_CONTACT).get("valueContactPoint")).get("value"))
        text = payload.get("contentString")
        content = payload.get("contentAttachment")
        segment = Segment(
            date=_show_dt(date),
            organization=_org_label(assigner) if assigner else "(sender not stated)",
            author=_human_name(practitioner),
            role=_role(role),
            phone=phone,
            text=text if isinstance(text, str) else None,
            attachment=_attachment(content) if isinstance(content, dict) else None,
            identifier=_s(ident.get("value")),
        )
        by_initiator = 0 if assigner is not None and f"Organization/{assigner.get('id')}" == initiator else 1
        keyed.append(((_parse_dt(date) or _FAR_FUTURE, by_initiator, n), segment))
    return [segment for _, segment in sorted(keyed, key=lambda item: item[0])]


def _history(index: _Index) -> list[HistoryItem]:
    items: list[tuple[datetime, int, HistoryItem]] = []
    for n, prov in enumerate(r for r in index.resources if r.get("resourceType") == "Provenance"):
        codings = _list(_dict(prov.get("activity")).get("coding"))
        code = _s(_dict(codings[0]).get("code")) if codings else None
        agents = _list(prov.get("agent"))
        who = index.resolve(_dict(agents[0]).get("who")) if agents else None
        when = prov.get("occurredDateTime") or prov.get("recorded")
        items.append(
            (
                _parse_dt(when) or _FAR_FUTURE,
                n,
                HistoryItem(
                    _show_dt(when), ACTIVITIES.get(code or "", code or "(no activity)"), _org_label(who)
                ),
            )
        )
    return [item for _, _, item in sorted(items, key=lambda t: (t[0], t[1]))]


def thread_view(bundle: Mapping[str, Any]) -> ThreadView:
    """The facts the page shows, read from a CareCommunication bundle (usable by other front ends)."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise RenderError("not a FHIR Bundle")
    index = _Index(bundle)
    header = index.first("MessageHeader") or {}
    focus = _list(header.get("focus"))
    comm = (index.resolve(focus[0]) if focus else None) or index.first("Communication")
    if comm is None:
        raise RenderError("the bundle holds no Communication: not a CareCommunication")
    view = ThreadView()
    for concept in _list(comm.get("category")):
        for coding in _list(_dict(concept).get("coding")):
            code = _s(_dict(coding).get("code"))
            if code:
                view.category_code = code
                view.category_display = CATEGORIES.get(code.lower(), f"unknown category '{code}'")
    view.topic = _s(_dict(comm.get("topic")).get("text"))
    priority = _s(comm.get("priority"))
    view.priority = PRIORITIES.get(priority, priority) if priority else None
    patient = index.resolve(comm.get("subject")) or index.first("Patient")
    if patient is not None:
        view.patient_name = _human_name(patient) or "(no name)"
        for ident in _list(patient.get("identifier")):
            value = _s(_dict(ident).get("value"))
            if value:
                label = _PATIENT_IDS.get(str(_dict(ident).get("system")), str(_dict(ident).get("system")))
                view.patient_ids.append((label, value))
        view.deceased = patient.get("deceasedBoolean") is True or "deceasedDateTime" in patient
    view.sender = _org(index.resolve(header.get("sender")))
    dests = _list(header.get("destination"))
    view.receiver = _org(index.resolve(_dict(dests[0]).get("receiver"))) if dests else None
    sender_ext = _ext(comm, url.EXT_SENDER)
    view.specific_sender = _party(index, sender_ext.get("valueReference")) if sender_ext else None
    recipients = _list(comm.get("recipient"))
    view.recipient = _party(index, recipients[0]) if recipients else None
    encounter = index.resolve(comm.get("encounter"))
    for episode in _list(_dict(encounter).get("episodeOfCare")):
        ident = _dict(_dict(episode).get("identifier"))
        if _s(ident.get("value")):
            view.episodes.append((str(ident["value"]), _s(ident.get("system")) or ""))
    idents = _list(comm.get("identifier"))
    view.thread_id = _s(_dict(idents[0]).get("value")) if idents else None
    view.message_id = _s(header.get("id"))
    view.sent = _show_dt(bundle.get("timestamp"))
    view.segments = _segments(index, comm)
    view.history = _history(index)
    return view


def _nl2br(text: str) -> Markup:
    """Escape plain text and show its line breaks (the only formatting a contentString has)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("<br>\n").join(escape(line) for line in lines)


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["nl2br"] = _nl2br

PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;background:#f4f5f7;color:#1d1f23}
main{max-width:60rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 .25rem}
.category{display:inline-block;background:#0b5394;color:#fff;border-radius:.3rem;padding:.15rem .55rem;font-weight:600}
.priority{display:inline-block;background:#b3261e;color:#fff;border-radius:.3rem;padding:.15rem .55rem;margin-left:.4rem}
.card{background:#fff;border:1px solid #d8dbe0;border-radius:.5rem;padding:1rem 1.25rem;margin:1rem 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dl.facts dt{font-weight:600;color:#444}dl.facts dd{margin:0}
.segment header{display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.9rem;color:#444;border-bottom:1px solid #eee;padding-bottom:.4rem;margin-bottom:.6rem}
.segment .when{font-weight:600;color:#1d1f23}
.text{white-space:normal;overflow-wrap:anywhere;line-height:1.45}
.signature{margin-top:.6rem;font-size:.9rem;color:#333}
.attachment a{font-weight:600}.stub{color:#6b6f76;font-style:italic}
table.history{border-collapse:collapse;width:100%}table.history td,table.history th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee}
.deceased{color:#b3261e;font-weight:600}.muted{color:#6b6f76;font-size:.85rem}
@media print{body{background:#fff}.card{border-color:#999;break-inside:avoid}}
"""

_TEMPLATE = _ENV.from_string(
    """<!DOCTYPE html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ v.category_display }}{% if v.topic %} – {{ v.topic }}{% endif %}</title>
<style>{{ css }}</style>
</head>
<body>
<main>
<h1>{{ v.topic or v.category_display }}</h1>
<p><span class="category" title="category">{{ v.category_display }}{% if v.category_code %} ({{ v.category_code }}){% endif %}</span>
{% if v.priority %}<span class="priority" title="priority">Priority: {{ v.priority }}</span>{% endif %}</p>
<section class="card" aria-label="message">
<dl class="facts">
<dt>Patient</dt><dd>{{ v.patient_name }}{% for label, value in v.patient_ids %}, {{ label }} {{ value }}{% endfor %}{% if v.deceased %} <span class="deceased">(deceased)</span>{% endif %}</dd>
<dt>From</dt><dd>{% if v.sender %}{{ v.sender.name }}{% if v.sender.sor %}, SOR {{ v.sender.sor }}{% endif %}{% if v.sender.ean %}, EAN {{ v.sender.ean }}{% endif %}{% else %}(unknown){% endif %}</dd>
{% if v.specific_sender %}<dt>Specific sender</dt><dd>{{ v.specific_sender }}</dd>{% endif %}
<dt>To</dt><dd>{% if v.receiver %}{{ v.receiver.name }}{% if v.receiver.sor %}, SOR {{ v.receiver.sor }}{% endif %}{% if v.receiver.ean %}, EAN {{ v.receiver.ean }}{% endif %}{% else %}(unknown){% endif %}</dd>
{% if v.recipient %}<dt>Specific recipient</dt><dd>{{ v.recipient }}</dd>{% endif %}
<dt>Category</dt><dd>{{ v.category_display }}{% if v.category_code %} ({{ v.category_code }}){% endif %}</dd>
<dt>Topic</dt><dd>{{ v.topic or "(none)" }}</dd>
<dt>Priority</dt><dd>{{ v.priority or "(none)" }}</dd>
{% for value, system in v.episodes %}<dt>Episode of care</dt><dd>{{ value }} <span class="muted">{{ system }}</span></dd>{% endfor %}
<dt>Sent</dt><dd>{{ v.sent }}</dd>
<dt>Thread</dt><dd class="muted">{{ v.thread_id or "(none)" }} · message {{ v.message_id or "(none)" }}</dd>
</dl>
</section>
{% for s in v.segments %}
<article class="card segment">
<header><span class="when">{{ s.date }}</span><span>{{ s.organization }}</span></header>
{% if s.text is not none %}<div class="text">{{ s.text | nl2br }}</div>{% endif %}
{% if s.attachment %}{% set a = s.attachment %}
<div class="attachment">Attachment:
{% if a.href and a.is_link %}<a href="{{ a.href }}" rel="noopener noreferrer" target="_blank">{{ a.title }}</a> <span class="muted">({{ a.content_type }}: {{ a.href }})</span>
{% elif a.href %}<a href="{{ a.href }}" download="{{ a.download }}">{{ a.title }}</a> <span class="muted">({{ a.content_type }}, {{ a.size }})</span>
{% else %}<strong>{{ a.title }}</strong> <span class="muted">({{ a.content_type }})</span> <span class="stub">{{ a.note }}</span>{% endif %}
</div>
{% endif %}
{% if s.author or s.role or s.phone %}<div class="signature">{{ s.author or "" }}{% if s.role %}{% if s.author %}, {% endif %}{{ s.role }}{% endif %}{% if s.phone %} · phone {{ s.phone }}{% endif %}</div>{% endif %}
</article>
{% endfor %}
{% if v.history %}
<section class="card" aria-label="history"><table class="history"><tr><th>When</th><th>Activity</th><th>By</th></tr>
{% for h in v.history %}<tr><td>{{ h.date }}</td><td>{{ h.activity }}</td><td>{{ h.organization }}</td></tr>
{% endfor %}</table></section>
{% endif %}
</main>
</body>
</html>
"""
)


def render_view(view: ThreadView) -> str:
    return _TEMPLATE.render(v=view, css=Markup(PAGE_CSS))


def render_thread(bundle: Mapping[str, Any]) -> str:
    """One self-contained HTML page showing the whole thread carried by a CareCommunication bundle."""
    return render_view(thread_view(bundle))


__all__: Sequence[str] = (
    "STUB_TEXT",
    "RenderError",
    "ThreadView",
    "render_thread",
    "render_view",
    "thread_view",
)

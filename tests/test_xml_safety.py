"""Every entry point that reads XML refuses the classic XML attacks with a clear error.

Attacks: billion laughs, quadratic blowup, external entity (a file, and a file:///etc/passwd classic),
external DTD over the network, external parameter entity, XInclude, oversized input, and DOCTYPEs hidden in
UTF-16/UTF-32/UTF-7 or behind a long prolog. Proof of "no file read": the external entity points at a FIFO
that a watcher thread can only open for writing while somebody has it open for reading. Proof of "no
network": it points at a listening socket that must never see a connection. Proof of "no expansion": the
error comes back at once and names the DOCTYPE, and the parser's own settings are probed directly too.
"""

from __future__ import annotations

import base64
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from medcom_bridge import xmlsafe
from medcom_bridge.documents import UnknownKind, detect_kind, validate_document
from medcom_bridge.envelope import VANS_NS, EnvelopeError, unwrap
from medcom_bridge.envelope.sbdh import read_sbdh
from medcom_bridge.envelope.validation import validate_bytes as validate_envelope
from medcom_bridge.fhir.codec import FhirParseError
from medcom_bridge.fhir.codec import parse as parse_fhir
from medcom_bridge.fhir.validation import validate_bytes as validate_fhir
from medcom_bridge.findings import Report
from medcom_bridge.oioxml.codec import OioxmlError
from medcom_bridge.oioxml.codec import parse as parse_oioxml
from medcom_bridge.oioxml.validation import validate_bytes as validate_oioxml
from medcom_bridge.registry.model import RegisterInputError
from medcom_bridge.registry.sor_xml import read_sor_xml
from medcom_bridge.xmlsafe import XmlError, parse_xml

LONG_PROLOG = b"<!--" + b"x" * 20_000 + b"-->\n"  # pushes the DOCTYPE beyond any fixed-size head check


class Watch:
    """Tripwires for one test: a FIFO that records being opened, and a socket that records connections."""

    def __init__(self, tmp: Path) -> None:
        self.fifo = tmp / "secret.fifo"
        os.mkfifo(self.fifo)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(0.01)
        self.port = self.listener.getsockname()[1]
        self.file_opened = False
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: nobody has the FIFO open for reading
                if exc.errno != errno.ENXIO:
                    raise
            else:
                self.file_opened = True
                os.write(fd, b"LEAKED")
                os.close(fd)
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connected = True
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Watch]:
    w = Watch(tmp_path)
    yield w
    w.close()
    assert not w.file_opened, "an external entity was read from the file system"
    assert not w.connected, "the parser opened a network connection"


def attacks(w: Watch, root: str = "Emessage") -> dict[str, bytes]:
    lol = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    r = root.encode()
    fifo = w.fifo.as_uri().encode()
    url = f"http://127.0.0.1:{w.port}/x.dtd".encode()
    decl = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    found = {
        "billion-laughs": decl + b"<!DOCTYPE %s [%s]><%s>&lol9;</%s>" % (r, lol, r, r),
        "billion-laughs-late": decl + LONG_PROLOG + b"<!DOCTYPE %s [%s]><%s>&lol9;</%s>" % (r, lol, r, r),
        "quadratic-blowup": decl
        + LONG_PROLOG
        + b'<!DOCTYPE %s [<!ENTITY a "%s">]><%s>%s</%s>' % (r, b"a" * 50_000, r, b"&a;" * 50_000, r),
        "external-entity-file": decl
        + LONG_PROLOG
        + b'<!DOCTYPE %s [<!ENTITY x SYSTEM "%s">]><%s>&x;</%s>' % (r, fifo, r, r),
        "external-entity-passwd": decl
        + b'<!DOCTYPE %s [<!ENTITY x SYSTEM "file:///etc/passwd">]><%s>&x;</%s>' % (r, r, r),
        "external-parameter-entity": decl
        + LONG_PROLOG
        + b'<!DOCTYPE %s [<!ENTITY %% p SYSTEM "%s"> %%p;]><%s/>' % (r, fifo, r),
        "external-dtd-network": decl + LONG_PROLOG + b'<!DOCTYPE %s SYSTEM "%s"><%s/>' % (r, url, r),
        "utf16-doctype": (
            f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE {root} [<!ENTITY x SYSTEM "{w.fifo.as_uri()}">]>'
            f"<{root}>&x;</{root}>"
        ).encode("utf-16"),
        "utf16be-no-bom-doctype": (
            f'<?xml version="1.0" encoding="UTF-16BE"?><!DOCTYPE {root} [<!ENTITY x "y">]><{root}>&x;</{root}>'
        ).encode("utf-16-be"),
        "utf32-doctype": (
            f'<?xml version="1.0" encoding="UTF-32"?><!DOCTYPE {root} [{lol.decode()}]><{root}>&lol9;</{root}>'
        ).encode("utf-32"),
        "utf7-doctype": b'<?xml version="1.0" encoding="UTF-7"?>'
        + f'<!DOCTYPE {root} [<!ENTITY x SYSTEM "{w.fifo.as_uri()}">]><{root}>&x;</{root}>'.encode("utf-7"),
    }
    return found


# Attacks that are well-formed XML without a DTD: they must simply not be acted upon.
def xinclude(w: Watch, root: str = "Emessage") -> bytes:
    return (
        f'<{root} xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{w.fifo.as_uri()}" parse="text"/>'
        f'<xi:include href="http://127.0.0.1:{w.port}/x.xml"/></{root}>'
    ).encode()


@dataclass(frozen=True)
class EntryPoint:
    name: str
    call: Callable[[bytes], object]
    errors: tuple[type[Exception], ...]
    root: str = "Emessage"


def _report_must_be_invalid(validate: Callable[[bytes], Report]) -> Callable[[bytes], object]:
    def run(data: bytes) -> object:
        report = validate(data)
        if report.valid:
            raise AssertionError(f"accepted as valid: {report}")
        raise _Refused("; ".join(f"{f.rule}: {f.message}" for f in report.errors))

    return run


class _Refused(Exception):
    """A validator's verdict 'invalid', turned into an exception so every entry point is checked alike."""


def _enveloped(call: Callable[[bytes], object]) -> Callable[[bytes], object]:
    """Put the attack inside a well-formed VANSEnvelope, as base64 Data (the payload path)."""

    def run(data: bytes) -> object:
        envelope = (
            f'<VANSEnvelope xmlns="{VANS_NS}"><SenderID EndPointType="EAN">5790001659592</SenderID>'
            '<ReceiverID EndPointType="EAN">5790000121526</ReceiverID>'
            "<EnvelopeIdentifier>068dadff-12bb-406d-8c86-083974dc0180</EnvelopeIdentifier>"
            "<SentDateTime>2020-08-26T17:12:13</SentDateTime><Message><MetaInformation>"
            "<Identifier>068dadff-12bb-406d-8c86-083974dc0181</Identifier><Document><Format>XML</Format>"
            f"<Name>MCM:XDIS91</Name><Version>XD9134L</Version><SizeInBytes>{len(data)}</SizeInBytes>"
            "</Document></MetaInformation>"
            f"<Data>{base64.b64encode(data).decode()}</Data></Message></VANSEnvelope>"
        ).encode()
        return call(envelope)

    return run


ENTRY_POINTS = [
    EntryPoint("xmlsafe.parse_xml", parse_xml, (XmlError,)),
    EntryPoint("documents.detect_kind", detect_kind, (XmlError, UnknownKind)),
    EntryPoint("documents.validate_document", _report_must_be_invalid(validate_document), (_Refused,)),
    EntryPoint("envelope.unwrap", unwrap, (EnvelopeError,), "VANSEnvelope"),
    EntryPoint("envelope.unwrap(payload)", _enveloped(unwrap), (EnvelopeError,)),
    EntryPoint("envelope.validate", _report_must_be_invalid(validate_envelope), (_Refused,), "VANSEnvelope"),
    EntryPoint(
        "envelope.validate(payload)", _enveloped(_report_must_be_invalid(validate_envelope)), (_Refused,)
    ),
    EntryPoint("oioxml.parse", parse_oioxml, (XmlError, OioxmlError)),
    EntryPoint("oioxml.validate", _report_must_be_invalid(validate_oioxml), (_Refused,)),
    EntryPoint("fhir.parse", parse_fhir, (FhirParseError,), "Bundle"),
    EntryPoint("fhir.validate", _report_must_be_invalid(validate_fhir), (_Refused,), "Bundle"),
    EntryPoint("registry.read_sor_xml", read_sor_xml, (RegisterInputError,), "SorTree"),
    EntryPoint("envelope.read_sbdh", read_sbdh, (EnvelopeError,), "StandardBusinessDocument"),
]


def _attack_names() -> list[str]:
    class _Dummy:
        fifo = Path("/nonexistent")
        port = 9

    return list(attacks(_Dummy(), "x").keys())  # type: ignore[arg-type]


@pytest.mark.parametrize("attack", _attack_names())
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: e.name)
def test_dtd_attacks_are_refused(entry: EntryPoint, attack: str, watch: Watch) -> None:
    data = attacks(watch, entry.root)[attack]
    with pytest.raises(entry.errors) as info:
        entry.call(data)
    text = str(info.value)
    assert text.strip(), "the error must say what is wrong"
    assert "LEAKED" not in text and "root:" not in text  # nothing of an external file ends up anywhere
    assert "lollollol" not in text  # nothing was expanded into the message


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: e.name)
def test_xinclude_is_never_processed(entry: EntryPoint, watch: Watch) -> None:
    # Well-formed and DTD-free: readers may reject it as the wrong document, but never fetch the include.
    try:
        entry.call(xinclude(watch, entry.root))
    except entry.errors as exc:
        assert "LEAKED" not in str(exc)


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: e.name)
def test_oversized_input_is_refused(entry: EntryPoint, monkeypatch: pytest.MonkeyPatch) -> None:
    # Shrink the limit rather than allocate 140 MB: the check is the same code path.
    monkeypatch.setattr(xmlsafe, "DEFAULT_MAX_BYTES", 1000)
    small_limit = xmlsafe.parse_xml.__kwdefaults__
    assert small_limit is not None
    monkeypatch.setitem(small_limit, "max_bytes", 1000)
    root = entry.root
    data = f"<{root}>".encode() + b"<a>x</a>" * 500 + f"</{root}>".encode()
    if entry.name == "registry.read_sor_xml":
        with pytest.raises(RegisterInputError):
            read_sor_xml(data, max_bytes=1000)
        return
    if entry.name == "fhir.parse":
        data = b'<Bundle xmlns="http://hl7.org/fhir">' + b"<a>x</a>" * 500 + b"</Bundle>"
    with pytest.raises(entry.errors) as info:
        entry.call(data)
    assert "1000" in str(info.value) or "too-large" in str(info.value) or "too large" in str(info.value)


def test_parser_settings_alone_do_not_expand_or_fetch(watch: Watch) -> None:
    """Defence in depth: even if the DOCTYPE pre-check were bypassed, the parser itself neither expands
    external entities nor fetches anything."""
    for parser in (xmlsafe._PARSER, xmlsafe._HUGE_PARSER):
        data = b'<!DOCTYPE r [<!ENTITY x SYSTEM "%s"><!ENTITY %% p SYSTEM "%s"> %%p;]><r>&x;</r>' % (
            watch.fifo.as_uri().encode(),
            f"http://127.0.0.1:{watch.port}/p.dtd".encode(),
        )
        root = etree.fromstring(data, parser)
        assert "LEAKED" not in etree.tostring(root).decode()
        laughs = attacks(watch, "r")["billion-laughs"]
        try:
            root = etree.fromstring(laughs, parser)
        except etree.XMLSyntaxError as exc:
            assert "amplification" in str(exc) or "entity" in str(exc).lower()
        else:
            assert len(etree.tostring(root)) < 10_000


@pytest.mark.parametrize(
    "data",
    [
        b"<?xml version='1.0'?>\n<!-- a comment -->\n<?pi x?>\n<Emessage/>",
        b"\xef\xbb\xbf<Emessage><!DOCTYPE-looking-text-is-not-a-prolog/></Emessage>",
        b"<Emessage><![CDATA[<!DOCTYPE x>]]></Emessage>",
    ],
)
def test_the_prolog_check_does_not_refuse_honest_documents(data: bytes) -> None:
    if b"DOCTYPE-looking" in data:
        with pytest.raises(XmlError) as info:
            parse_xml(data)
        assert info.value.rule == "xml-syntax"  # not well-formed, but not mistaken for a DOCTYPE
        return
    assert parse_xml(data) is not None


def test_doctype_inside_an_attribute_or_text_is_fine() -> None:
    root = parse_xml(b'<Emessage note="&lt;!DOCTYPE x&gt;">&lt;!DOCTYPE y&gt;</Emessage>')
    assert root.text == "<!DOCTYPE y>"


def test_envelope_findings_name_the_doctype_rule(watch: Watch) -> None:
    report = validate_envelope(attacks(watch, "VANSEnvelope")["external-entity-file"])
    assert report.rules() == {"xml-doctype-forbidden"}
    payload_report = _enveloped(validate_envelope)(attacks(watch)["billion-laughs-late"])
    assert isinstance(payload_report, Report)
    assert "vans-payload-kind" in payload_report.rules()
    assert any("xml-doctype-forbidden" in f.message for f in payload_report.findings)


def test_the_tripwires_can_fire(tmp_path: Path) -> None:
    """The two detectors above must be able to fail: an unsafe parser trips the file one, a connect the other."""
    w = Watch(tmp_path)
    try:
        unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True)
        data = b'<!DOCTYPE r [<!ENTITY x SYSTEM "%s">]><r>&x;</r>' % w.fifo.as_uri().encode()
        root = etree.fromstring(data, unsafe)
        assert root.text == "LEAKED"
        socket.create_connection(("127.0.0.1", w.port), timeout=2).close()
        # Generous: on a loaded CI machine the watcher thread may not run for a while.
        for _ in range(3000):
            if w.connected:
                break
            threading.Event().wait(0.01)
    finally:
        w.close()
    assert w.file_opened and w.connected

"""`xmlsafe.read_prolog`: the declared encoding and the DOCTYPE pre-check in one pass over the prolog."""

from __future__ import annotations

import pytest

from medcom_bridge.xmlsafe import Prolog, XmlError, declared_encoding, declares_dtd, parse_xml, read_prolog

ROOT = b"<Emessage><a>x</a></Emessage>"


@pytest.mark.parametrize(
    ("prolog", "encoding", "dtd"),
    [
        (b"", None, False),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?>\n', "iso-8859-1", False),
        (b"<?xml version='1.0' encoding='Windows-1252'?>", "windows-1252", False),
        (b'<?xml version="1.0" encoding = "UTF-8" ?>', "utf-8", False),  # XML allows spaces around '='
        (b"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?>", "utf-8", False),
        (b'<?xml version="1.0"?>', None, False),
        (b'<?xml version="1.0"?><!DOCTYPE Emessage>', None, True),
        (b"\n  <!-- c --><?pi x?>\xef\xbb\xbf <!DOCTYPE x>", None, True),
        (b"<!--" + b"x" * 30_000 + b"--><!ENTITY e 'x'>", None, True),
        (b"<!-- unterminated <!DOCTYPE x>", None, False),  # not well-formed: libxml2 refuses it anyway
        (b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE x+AD4-', "utf-7", True),
    ],
)
def test_read_prolog(prolog: bytes, encoding: str | None, dtd: bool) -> None:
    data = prolog + ROOT
    assert read_prolog(data) == Prolog(encoding, dtd)
    assert declared_encoding(data) == encoding
    assert declares_dtd(data) is dtd


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_wide_encodings_are_decoded_for_the_check(codec: str) -> None:
    data = ('<?xml version="1.0"?><!-- x --><!DOCTYPE x>' + ROOT.decode()).encode(codec)
    assert read_prolog(data).declares_dtd
    assert not read_prolog(('<?xml version="1.0"?>' + ROOT.decode()).encode(codec)).declares_dtd


def test_utf7_with_binary_content_is_a_clean_error_not_a_crash() -> None:
    # A UTF-7 decoder turns '+' runs (base64 attachments) into lone surrogates; that once raised
    # UnicodeEncodeError out of parse_xml.
    data = b'<?xml version="1.0" encoding="UTF-7"?><Emessage><a>+2/8-</a></Emessage>'
    assert read_prolog(data) == Prolog("utf-7", False)
    try:
        parse_xml(data)
    except XmlError as exc:
        assert exc.rule == "xml-syntax"


def test_a_prolog_given_by_the_caller_is_used() -> None:
    data = b'<?xml version="1.0"?>' + ROOT
    assert parse_xml(data, prolog=read_prolog(data)).tag == "Emessage"
    with pytest.raises(XmlError) as info:
        parse_xml(data, prolog=Prolog(None, True))
    assert info.value.rule == "xml-doctype-forbidden"

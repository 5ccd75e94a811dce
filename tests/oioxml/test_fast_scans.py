"""The C-speed scans that replaced regexes and `str.translate` (issue 14) give the verdicts and bytes of the
code they replaced, held against that code on generated strings (what a letter, a base64 object or a
hostile value may hold)."""

from __future__ import annotations

import binascii
import re

from hypothesis import example, given
from hypothesis import strategies as st

from medcom_bridge.envelope.vans import decode_base64 as decode_envelope_data
from medcom_bridge.oioxml.codec import _escape, _first_illegal
from medcom_bridge.oioxml.model import _base64_chars_ok, _compact

OLD_BASE64 = re.compile(r"[A-Za-z0-9+/ \t\r\n]*(?:=[ \t\r\n]*){0,2}")
OLD_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
OLD_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
base64ish = st.text(alphabet=st.sampled_from(B64 + "= \t\r\n-_*æ\x00"), max_size=300)
texty = st.text(
    alphabet=st.sampled_from("ab æøå&<>\r\n\t\x00\x01\x0b\x1f\x7f\u00a0\ufffe\uffff\ud800" + B64),
    max_size=600,
)


@given(base64ish)
@example("QUJD==")
@example("QUJD=== ")
@example("QU=JD")
@example(" =\n=")
def test_base64_characters_as_the_regex(text: str) -> None:
    assert _base64_chars_ok(text) == (OLD_BASE64.fullmatch(text) is not None)
    assert _compact(text) == text.translate(str.maketrans("", "", " \t\r\n"))


@given(texty)
@example("A" * 300 + "\x01")
@example("A" * 300 + "\ufffe")
@example("plain")
def test_first_illegal_character_as_the_regex(text: str) -> None:
    found = OLD_ILLEGAL.search(text)
    assert _first_illegal(text) == (found.group() if found else None)


@given(texty)
def test_escape_as_translate(text: str) -> None:
    if OLD_ILLEGAL.search(text) is None:
        assert _escape(text) == text.translate(OLD_ESCAPE)


def _old_envelope_decode(text: str) -> tuple[bytes | None, bool]:
    """The checks before the strict fast path: alphabet, length, padding (None when refused)."""
    if not text.isascii():
        return None, False
    data = text.encode("ascii").translate(None, b" \t\r\n")
    if len(data) % 4:
        return None, False
    body, tail = data[:-4], data[-4:]
    if body.translate(None, B64.encode()) or tail.translate(None, B64.encode() + b"="):
        return None, False
    if tail and not re.fullmatch(
        rb"[A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=", tail
    ):
        return None, False
    return binascii.a2b_base64(data), True


@given(base64ish)
@example("QUJD")
@example("QUI=")
@example("QUJ=")
@example("QQ==QUJD")
def test_envelope_base64_as_before(text: str) -> None:
    old, ok = _old_envelope_decode(text)
    new, problem = decode_envelope_data(text)
    assert new == old and (problem == "") == ok

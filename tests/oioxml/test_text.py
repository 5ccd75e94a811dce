from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.oioxml.text import (
    BREAK,
    SPACE,
    FixedFont,
    FormattedText,
    Styled,
    from_plain_text,
    plain_length,
    to_plain_text,
)


def test_breaks_become_newlines_and_styles_are_flattened() -> None:
    text = FormattedText(
        (
            FixedFont(("Hej", Styled("Bold", ("fed",)))),
            BREAK,
            Styled("Italic", ("a", SPACE, "b")),
            BREAK,
            BREAK,
            "slut",
        )
    )
    assert to_plain_text(text) == "Hejfed\na b\n\nslut"


def test_xml_whitespace_is_insignificant_but_space_elements_are_kept() -> None:
    # Flow3 indents Text01 with newlines; those are not line breaks.
    text = FormattedText(
        ("\n        Afdeling A har", BREAK, "  modtaget\n  en henvisning  ", BREAK, SPACE, SPACE, "x\n      ")
    )
    assert to_plain_text(text) == "Afdeling A har\nmodtaget en henvisning\n  x"


def test_from_plain_text_uses_break_and_space() -> None:
    text = from_plain_text("Linje 1\nLinje  2\n\n indrykket")
    assert text.content == ("Linje 1", BREAK, "Linje ", SPACE, "2", BREAK, BREAK, SPACE, "indrykket")
    assert plain_length(text) == len("Linje 1\nLinje  2\n\n indrykket")


def test_crlf_and_tabs_are_normalised() -> None:
    assert to_plain_text(from_plain_text("a\r\nb\rc\td")) == "a\nb\nc d"


_xml_char = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\x00\r\t" + "".join(chr(c) for c in range(1, 32) if c != 10) + "\ufffe\uffff",
)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_xml_char, max_size=200))
def test_plain_text_round_trip(s: str) -> None:
    assert to_plain_text(from_plain_text(s)) == s

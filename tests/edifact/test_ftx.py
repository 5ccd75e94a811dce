"""FTX text rules (70-character lines, continuation, empty lines, format codes) and the subject/text limits."""

from __future__ import annotations

import pytest

from medcom_bridge.edifact.convert import EdifactConversionError, to_edifact
from medcom_bridge.edifact.ftx import Ftx, breakable, plain, read_formatted, to_ftx
from medcom_bridge.oioxml.text import BREAK, SPACE, FixedFont, FormattedText, Styled
from tests.edifact.test_pairs import OIOXML


def test_a_line_is_cut_after_the_last_space_with_a_continuation_mark() -> None:
    words = " ".join(["ordet"] * 20)  # 119 characters
    (ftx,) = to_ftx("NC", (words,))
    assert ftx == Ftx("NC", "P00", (words[:66] + "\\", words[66:]))
    assert all(len(line) <= 70 for line in ftx.lines)
    assert breakable(ftx.lines) == [words[:66], words[66:], BREAK]


def test_a_line_without_spaces_is_cut_hard_at_69_plus_mark() -> None:
    (ftx,) = to_ftx("NC", ("x" * 150,))
    assert ftx.lines == ("x" * 69 + "\\", "x" * 69 + "\\", "x" * 12)


def test_empty_lines_are_dots_and_five_lines_per_ftx() -> None:
    ftxs = to_ftx("NC", ("a", BREAK, BREAK, "b", BREAK, "c", BREAK, "d", BREAK, "e", BREAK, "f"))
    assert [f.lines for f in ftxs] == [("a", ".", "b", "c", "d"), ("e", "f")]


def test_format_codes() -> None:
    text = (
        "plain",
        Styled("Bold", ("fed",)),
        Styled("Italic", ("kursiv",)),
        Styled("Underline", ("under",)),
        Styled("Center", ("midt",)),
        Styled("Right", ("højre",)),
        FixedFont(("fast", Styled("Bold", ("fastfed",)))),
    )
    assert [(f.format_code, f.lines) for f in to_ftx("NC", text)] == [
        ("P00", ("plain\\",)),
        ("PF0", ("fed\\",)),
        ("PK0", ("kursiv\\",)),
        ("PU0", ("under\\",)),
        ("P0M", (".", "midt")),  # an alignment starts on a new line and ends one
        ("P0H", (".", "højre")),
        ("F00", ("fast\\",)),
        ("FF0", ("fastfed\\",)),
    ]


def test_reading_format_codes_back() -> None:
    text = read_formatted([("PF0", ("fed",)), ("F0M", ("fast midt",)), ("P00", ("a\\",)), ("XYZ", ("?",))])
    assert text.content == (
        Styled("Bold", ("fed", BREAK)),
        FixedFont((Styled("Center", ("fast midt", BREAK)),)),
        "a",
        FixedFont(("?", BREAK)),
    )
    assert plain(("http://a\\", "b", ".")) == "http://ab"


def test_space_between_text_runs_keeps_both_runs() -> None:
    # MedCom's converter writes only "bar" here (its second run overwrites the first); we keep the text.
    (ftx,) = to_ftx("NC", ("foo", SPACE, "bar"))
    assert ftx.lines == ("foo bar",)


def _letter(text: FormattedText, subject: str | None = "Emne"):  # type: ignore[no-untyped-def]
    import dataclasses

    from medcom_bridge.oioxml.codec import parse
    from medcom_bridge.oioxml.model import AdditionalInformation, ClinicalInformation

    m = parse((OIOXML / "XDIS91_1_edifactconv_pair.xml").read_bytes())
    body = dataclasses.replace(
        m.body,
        clinical_information=(ClinicalInformation(text),),
        additional_information=AdditionalInformation(None, subject),
    )
    return dataclasses.replace(m, body=body)


def test_more_than_8_ftx_beside_the_subject_is_refused_naming_the_limit() -> None:
    nine_ftx = FormattedText(tuple(x for i in range(45) for x in (f"linje {i}", BREAK)))
    with pytest.raises(EdifactConversionError) as caught:
        to_edifact(_letter(nine_ftx))
    assert caught.value.cause.value == "edifact-ftx-limit"
    assert "needs 9 FTX segments; MedCom's converter allows at most 8" in str(caught.value)
    assert "linje" not in str(caught.value)
    to_edifact(_letter(nine_ftx, subject=None))  # without a subject the S14 group holds 9

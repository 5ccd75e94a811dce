"""One test per mapping rule (sheet rows and use-case sections named in `rules.py`)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.convert import rules, tables, texts


def test_danish_time_both_ways() -> None:
    assert rules.fhir_datetime(dt.datetime(2023, 11, 20, 17, 45)) == "2023-11-20T17:45:00+01:00"
    assert rules.fhir_datetime(dt.datetime(2024, 7, 1, 8, 5)) == "2024-07-01T08:05:00+02:00"  # summer time
    assert rules.oioxml_datetime("2023-11-22T11:33:00Z") == dt.datetime(2023, 11, 22, 12, 33)
    assert rules.oioxml_datetime("2024-07-01T08:05:59+02:00") == dt.datetime(2024, 7, 1, 8, 5)
    assert rules.oioxml_datetime("2024-07-01") == dt.datetime(2024, 7, 1, 0, 0)


@pytest.mark.parametrize(
    ("value", "system"),
    [("0703921VJ6", tables.SYSTEM_X_ECPR), ("0703927VJ6", tables.SYSTEM_X_ECPR), ("1206550VK9", tables.SYSTEM_D_ECPR),
     ("1206555VK9", tables.SYSTEM_D_ECPR), ("12065", tables.SYSTEM_D_ECPR)],
)  # fmt: skip
def test_replacement_cpr_system(value: str, system: str) -> None:
    assert rules.replacement_cpr_system(value) == system


def test_patient_identifier_priority() -> None:
    cpr, x, d = (
        (tables.SYSTEM_CPR, "0101011234"),
        (tables.SYSTEM_X_ECPR, "0703921VJ6"),
        (tables.SYSTEM_D_ECPR, "1206550VK9"),
    )
    assert rules.choose_patient_identifiers([x, cpr, d]) == rules.PatientIds(
        "0101011234", None, ("0703921VJ6", "1206550VK9")
    )
    assert rules.choose_patient_identifiers([d, x]) == rules.PatientIds(None, "0703921VJ6", ("1206550VK9",))
    assert rules.choose_patient_identifiers([d]) == rules.PatientIds(None, "1206550VK9", ())
    regional = (tables.SYSTEM_D_ECPR + ".183", "1206550VK9")
    assert rules.choose_patient_identifiers([regional]) == rules.PatientIds(None, "1206550VK9", ())
    assert rules.choose_patient_identifiers([]) == rules.PatientIds(None, None, ())


def test_episode_status_table_both_ways() -> None:
    expected = {
        "inaktiv": ("other", "unknown", False),
        "indlagt": ("IMP", "in-progress", False),
        "ambulant": ("AMB", "in-progress", False),
        "doed": ("other", "finished", True),
        "ambulant_roentgen": ("AMB", "in-progress", False),
    }
    for code, row in expected.items():
        assert rules.episode_status_to_fhir(code) == row
        back = rules.episode_status_from_fhir(*row)
        assert back == ("ambulant" if code == "ambulant_roentgen" else code)
    assert rules.episode_status_from_fhir(None, None, False) == "inaktiv"
    assert rules.episode_status_from_fhir("IMP", "finished", False) == "inaktiv"
    assert rules.episode_status_from_fhir("AMB", "in-progress", True) == "doed"


def test_episode_identifier_dashes() -> None:
    assert (
        rules.uuid_with_dashes("6fb927da3be14b9f8875a6326617d20b") == "6fb927da-3be1-4b9f-8875-a6326617d20b"
    )
    assert (
        rules.uuid_without_dashes("urn:uuid:6FB927DA-3BE1-4B9F-8875-A6326617D20B")
        == "6fb927da3be14b9f8875a6326617d20b"
    )
    assert rules.uuid_without_dashes("local-id-1") == "local-id-1"
    system, value = rules.episode_identifier_to_fhir("6fb927da3be15b9f8875a6326617d20b", None)
    assert (system, value) == (tables.SYSTEM_LPR3, "urn:uuid:6fb927da-3be1-5b9f-8875-a6326617d20b")
    system, value = rules.episode_identifier_to_fhir(
        "6fb927da3be14b9f8875a6326617d20b", "https://sor2.sum.dsdn.dk/#id=1"
    )
    assert (system, value) == ("https://sor2.sum.dsdn.dk/#id=1", "6fb927da-3be1-4b9f-8875-a6326617d20b")
    ids = [("https://sor2.sum.dsdn.dk/#id=1", "urn:uuid:11111111-1111-4111-8111-111111111111"),
           (tables.SYSTEM_LPR3, "urn:uuid:22222222-2222-5222-8222-222222222222")]  # fmt: skip
    assert rules.pick_episode_identifier(ids) == "22222222222252228222222222222222"
    assert rules.pick_episode_identifier(ids[:1]) == "11111111111141118111111111111111"
    assert rules.pick_episode_identifier([]) is None


@given(st.uuids())
@settings(max_examples=100, deadline=None)
def test_uuid_dash_round_trip(value: object) -> None:
    dashed = str(value)
    assert rules.uuid_with_dashes(rules.uuid_without_dashes(dashed)) == dashed


def test_object_code_table() -> None:
    """Use cases §4.6.2: the four image types -> billede, application/pdf -> vektor_grafik (bmp: billede)."""
    for mime in ("image/gif", "image/jpeg", "image/png", "image/tiff", "image/bmp"):
        assert rules.object_code_for_extension(rules.extension_for_content_type(mime)) == "billede"
    assert (
        rules.object_code_for_extension(rules.extension_for_content_type("application/pdf"))
        == "vektor_grafik"
    )
    assert rules.extension_for_content_type("application/pdf") == "pdf"
    assert rules.extension_for_content_type("text/x-unknown") == tables.FALLBACK_EXTENSION
    assert rules.extension_for_content_type("application/x-medcom-plo") == "plo"
    assert (
        rules.extension_for_content_type("application/x-medcom-plo", xdis91=True) == tables.FALLBACK_EXTENSION
    )
    for ext in tables.EXTENSION_TO_MIME:
        assert rules.extension_for_content_type(rules.content_type_for_extension(ext)) == ext
        assert rules.object_code_for_extension(ext) in {
            "tekstfil", "billede", "program", "vektor_grafik", "biosignaler", "multimedie", "proprietaert_indhold"
        }  # fmt: skip


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None)
def test_attachment_size_is_computed_from_base64(data: bytes) -> None:
    assert rules.decoded_size(base64.b64encode(data).decode()) == len(data)
    assert rules.decoded_size(base64.encodebytes(data).decode()) == len(data)


def test_subject_from_category_and_topic() -> None:
    assert rules.subject_from_category_and_topic(
        "regarding-referral", "Undersøgelser forude for visitation"
    ) == ("Vedr. henvisning, Undersøgelser forude for visitation")
    assert rules.subject_from_category_and_topic("other", "Forundersøgelse") == "Forundersøgelse"
    assert rules.subject_from_category_and_topic("examination-results", None) == "Undersøgelsessvar"
    long = rules.subject_from_category_and_topic("discharge", "x" * 100)
    assert long is not None and len(long) == 70 and long.startswith("Udskrivelse, x")
    assert rules.subject_from_category_and_topic("other", None) is None


def test_topic_default_and_priority() -> None:
    assert (
        rules.topic_from_subject(None)
        == rules.topic_from_subject("  ")
        == texts.UNKNOWN_TOPIC
        == "Ukendt emne"
    )
    assert rules.topic_from_subject("Emne") == "Emne"
    assert rules.priority_sentence("høj_prioritet") == "Denne meddelelse har høj prioritet."
    assert rules.priority_sentence("rutine") is None
    assert rules.priority_to_oioxml("regarding-referral", "asap") == "høj_prioritet"
    assert rules.priority_to_oioxml("regarding-referral", "routine") == "rutine"
    assert rules.priority_to_oioxml("other", "asap") is None


def test_phone_fallback() -> None:
    assert rules.author_contact("66131372", "11111111") == "66131372"
    assert rules.author_contact(None, "11111111") == "11111111"
    assert rules.author_contact(" ", None) == texts.PHONE_FALLBACK == "0000 0000"


def test_identifier_code_by_system() -> None:
    assert rules.identifier_code_for_system(tables.SYSTEM_SOR) == "sorkode"
    assert rules.identifier_code_for_system(tables.SYSTEM_KOMBIT) == "kommunenummer"
    assert rules.identifier_code_for_system(tables.SYSTEM_YDERNUMMER) == "ydernummer"
    assert rules.identifier_code_for_system("urn:other") is None


def test_negative_receipt_text_keeps_the_hub_text() -> None:
    hub = texts.CONVERSION_FAILED_TEXT
    assert rules.negative_receipt_text("Fejl", hub) == f"Fejl {hub}"
    assert rules.negative_receipt_text(None, hub) == hub
    long = rules.negative_receipt_text("x" * 1000, hub)
    assert long.endswith(hub) and len(long) <= tables.REFUSE_TEXT_MAX
    assert rules.negative_receipt_text("y" * 1000, None) == "y" * tables.REFUSE_TEXT_MAX


def test_literal_texts() -> None:
    assert texts.EXTRA_CPR_SENTENCE == (
        "Der er modtaget flere end et CPR-nummer i korrespondancemeddelelsen. Derfor er de resterende medsendte "
        "CPR-numre indsat her"
    )
    assert texts.CONVERSION_FAILED_TEXT == (
        "Konverteringen ml. XML/EDI og FHIR kunne ikke udføres korrekt pga. tekniske el. indholdsmæssige forhold i "
        "meddelelsen."
    )


@given(st.text(st.sampled_from(list("ab æ\t\r\n✓<&"))))
@settings(max_examples=200, deadline=None)
def test_text_fast_paths_equal_the_oioxml_text_module(value: str) -> None:
    from medcom_bridge.convert.plaintext import formatted, plain
    from medcom_bridge.oioxml.text import from_plain_text, to_plain_text

    assert formatted(value) == from_plain_text(value)
    assert plain(formatted(value)) == to_plain_text(from_plain_text(value))


@given(
    st.lists(
        st.one_of(st.text(st.sampled_from(list("ab \t\n"))), st.sampled_from(["BREAK", "SPACE", "BOLD"]))
    )
)
@settings(max_examples=200, deadline=None)
def test_plain_fast_path_on_any_formatted_text(items: list[str]) -> None:
    from medcom_bridge.convert.plaintext import plain
    from medcom_bridge.oioxml.text import BREAK, SPACE, FormattedText, Node, Styled, to_plain_text

    special: dict[str, Node] = {"BREAK": BREAK, "SPACE": SPACE, "BOLD": Styled("Bold", ("fed",))}
    text = FormattedText(tuple(special.get(i, i) for i in items))
    assert plain(text) == to_plain_text(text)

"""The hub's EDIFACT leg: long FHIR letters for an EDIFACT-only receiver are cut into several S14 groups
(oioxml-legacy.md: "split into several ClinicalInformation blocks only when a receiver is configured to need
it"), nothing is lost, and a letter that fits is written exactly as MedCom's converter writes it."""

from __future__ import annotations

import pytest

from medcom_bridge import demo
from medcom_bridge.convert.fhir_to_oioxml import carecommunication_to_oioxml
from medcom_bridge.directory import StaticDirectory
from medcom_bridge.edifact import EdifactConversionError, edifact_twin, oioxml_twin
from medcom_bridge.fhir.codec import parse
from medcom_bridge.hub.adapters import context_for
from medcom_bridge.hub.edifact_leg import MAX_CLINICAL_INFORMATION, fit_clinical_text, to_edifact_message
from medcom_bridge.oioxml.model import ClinicalEmail, Emessage
from medcom_bridge.oioxml.text import to_plain_text
from tests.hub.e2e import EDI, FHIR, START, counter_ids


def xdis91_of(lines: int) -> Emessage[ClinicalEmail]:
    ids = counter_ids(f"leg{lines}")
    text = "\n".join(f"Linje {i}: " + "ord " * 20 for i in range(lines))
    bundle, _ = parse(demo.carecommunication(FHIR, EDI, now=START, new_id=ids, text=text))
    return carecommunication_to_oioxml(bundle, context=context_for(StaticDirectory([]), ids)).xdis91


def words(message: Emessage[ClinicalEmail]) -> str:
    return "".join("".join(to_plain_text(i.text01) for i in message.body.clinical_information).split())


def test_a_letter_that_fits_is_unchanged_and_written_as_medcoms_converter_writes_it() -> None:
    letter = xdis91_of(5)
    assert fit_clinical_text(letter) is letter
    assert to_edifact_message(letter).data == edifact_twin(letter)


@pytest.mark.parametrize(("lines", "blocks"), [(40, 2), (60, 3), (200, 10)])
def test_a_long_letter_is_cut_into_s14_groups_and_nothing_is_lost(lines: int, blocks: int) -> None:
    letter = xdis91_of(lines)
    with pytest.raises(EdifactConversionError, match="edifact-ftx-limit"):
        edifact_twin(letter)  # one ClinicalInformation: MedCom's converter refuses it
    fitted = fit_clinical_text(letter)
    assert len(fitted.body.clinical_information) == blocks
    written = to_edifact_message(fitted)
    assert written.report.valid, [str(f) for f in written.report.errors]
    back = oioxml_twin(written.data)
    assert isinstance(back.body, ClinicalEmail)
    assert words(back) == words(letter)  # every word, in order (line wrapping aside)


def test_a_letter_longer_than_ten_s14_groups_is_refused_naming_the_limit() -> None:
    with pytest.raises(EdifactConversionError, match=f"at most {MAX_CLINICAL_INFORMATION}"):
        fit_clinical_text(xdis91_of(400))

"""Register lookups (the Directory the converter uses) and the R1 routing decision."""

from __future__ import annotations

import pytest

from medcom_bridge.directory import Directory, Party
from medcom_bridge.registry.eer import read_eer
from medcom_bridge.registry.model import Registration
from medcom_bridge.registry.register import Register
from medcom_bridge.registry.routing import UnknownMessageKind, decide
from medcom_bridge.registry.sor_edi import read_sor_edi_csv
from medcom_bridge.registry.sor_xml import read_sor_xml
from tests.registry.conftest import APOTEK, EER_BUNDLE, PRAKSIS, SYGEHUS

GP = "5790000141227"


def samples(edi: bytes | None = None) -> Register:
    units = [u for path in (PRAKSIS, SYGEHUS, APOTEK) for u in read_sor_xml(path.read_bytes()).units]
    regs = read_sor_edi_csv(edi).registrations if edi else []
    return Register(units, regs, has_edi=edi is not None)


def test_register_is_a_directory() -> None:
    directory: Directory = samples()
    assert directory.party(GP) == Party(GP, "8321000016007", "Michael Filtenborg", "48300204")
    assert directory.party("5790000173624") == Party(
        "5790000173624", "306011000016003", "Værløse Apotek", "42482209"
    )
    assert directory.party("5790000000005") is None


def test_sor_code_to_effective_ean_follows_inheritance() -> None:
    reg = samples()
    assert reg.effective_ean("8341000016002") == GP  # the doctor inherits the practice owner's number
    assert reg.effective_ean("306031000016009") == "5790000173624"
    assert reg.effective_ean("347831000016005") is None  # hospital section: EntityInheritedIndicator=false
    assert reg.effective_ean("0") is None
    owner = reg.owner(GP)
    assert owner is not None and owner.sor == "8321000016007"
    assert [u.sor for u in reg.by_provider("019062")] == ["8341000016002"]
    shak = reg.by_shak("2529010")
    assert shak is not None and shak.name == "Roskilde Øjenklinik, beh. afsnit"


def test_eer_only_party_falls_back_to_the_managing_organisation() -> None:
    eer = read_eer(EER_BUNDLE.read_bytes())
    reg = Register(
        [], eer.registrations(), endpoints=eer.endpoints, organizations=eer.organizations, has_eer=True
    )
    party = reg.party("5790001995669")
    assert (
        party is not None
        and party.sor == "468851000016000"
        and party.name == "Trøjborg Lægehus I/S (468851000016000)"
    )
    assert reg.receives("5790001995669") == {"HomeCareObservation", "FCTL"}


def reg_with(receive: list[str]) -> Register:
    return Register(
        [], [Registration("5790000141227", code, "receive", "edi") for code in receive], has_edi=True
    )


def test_fhir_receiver_gets_fhir() -> None:
    d = decide(reg_with(["FDIS91", "XDIS91", "XBIN01", "FCTL"]), GP, "xdis91")
    assert (d.target_format, d.convert, d.xbin01_approved) == ("fhir", True, True)
    assert d.reason == f"{GP} receives FDIS91: convert oioxml -> fhir"
    same = decide(reg_with(["FDIS91"]), GP, "carecommunication")
    assert (same.target_format, same.convert) == ("fhir", False)
    assert "deliver fhir unchanged" in same.reason


def test_oioxml_receiver_with_and_without_xbin01() -> None:
    d = decide(reg_with(["XDIS91", "XBIN01"]), GP, "carecommunication")
    assert (d.target_format, d.convert, d.xbin01_approved) == ("oioxml", True, True)
    assert d.reason == f"{GP} receives XDIS91 but not FDIS91: convert fhir -> oioxml; approved for XBIN01"
    d = decide(reg_with(["XDIS91"]), GP, "carecommunication")
    assert not d.xbin01_approved and "NOT approved for XBIN01" in d.reason and "R1.A1" in d.reason
    assert d.target_format == "oioxml"


def test_edifact_receiver() -> None:
    d = decide(reg_with(["DIS91", "BIN01"]), GP, "carecommunication")
    assert (d.target_format, d.convert) == ("edifact", True)
    assert "but not FDIS91/XDIS91" in d.reason


def test_receipts_follow_the_receipt_registrations() -> None:
    assert decide(reg_with(["FCTL", "XDIS91"]), GP, "xctl03").target_format == "fhir"
    d = decide(reg_with(["XCTL02", "FDIS91"]), GP, "acknowledgement")
    assert (d.target_format, d.convert) == ("oioxml", True)
    assert decide(reg_with(["CTL03"]), GP, "acknowledgement").target_format == "edifact"


def test_no_route() -> None:
    unknown = decide(reg_with([]), GP, "xdis91")
    assert unknown.target_format is None and not unknown.deliverable
    assert "no message types registered" in unknown.reason
    other = decide(reg_with(["XRPT01"]), GP, "xdis91")
    assert other.target_format is None and "none of DIS91, FDIS91, XDIS91" in other.reason
    with pytest.raises(UnknownMessageKind):
        decide(reg_with([]), GP, "xref01")


def test_routing_reads_sor_edi_csv_through_the_register() -> None:
    reg = samples(b"ean,type,direction\n5790000141227,XDIS91,both\n5790000141227,XBIN01,receive\n")
    d = decide(reg, GP, "carecommunication")
    assert d.target_format == "oioxml" and d.xbin01_approved

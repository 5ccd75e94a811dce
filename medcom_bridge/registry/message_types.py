"""MedCom message types as SOR-EDI and the EHMI endpoint register name them.

One catalogue serves both inputs: SOR-EDI speaks in MedCom type codes (`XDIS91`, `FDIS91`, `CTL03`), the
EER in EHMI message-definition URIs. The rows below are the EHMI CodeSystem `ehmi-message-definition-uri`
(dk-ehmi-terminology @f18714a2, 109 codes) with MedCom's type and version code beside each URI, plus the
SOR-EDI codes MedCom uses for FHIR messages (CodeSystem `medcom-messaging-sorEdiSystem`: FDIS91, FDIS20, FCTL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Family = Literal["fhir", "oioxml", "edifact", "envelope"]

# SOR-EDI codes of the FHIR messages (medcom-messaging-sorEdiSystem). HomeCareObservation has no published
# SOR-EDI code, so the message name stands in for it.
FHIR_CARECOMMUNICATION = "FDIS91"
FHIR_ACKNOWLEDGEMENT = "FCTL"
FHIR_HOSPITALNOTIFICATION = "FDIS20"
FHIR_HOMECAREOBSERVATION = "HomeCareObservation"
SBDH_ACKNOWLEDGEMENT = "ehmiSBDH-Acknowledgement"


@dataclass(frozen=True, slots=True)
class MessageType:
    code: str
    version: str
    family: Family
    uri: str
    display: str


_FHIR_URI = "urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::{m}-message##urn:dk:medcom:fhir:{m}-message::{v}"

_FHIR_ROWS: tuple[tuple[str, str, str, str], ...] = (
    (FHIR_CARECOMMUNICATION, "5.0", "carecommunication", "CareCommunication 5.0"),
    (FHIR_ACKNOWLEDGEMENT, "2.0", "acknowledgement", "Acknowledgement 2.0"),
    (FHIR_HOSPITALNOTIFICATION, "3.0", "hospitalnotification", "HospitalNotification 3.0"),
    (FHIR_HOMECAREOBSERVATION, "1.1", "homecareobservation", "HomeCareObservation 1.1"),
    (FHIR_HOMECAREOBSERVATION, "1.2", "homecareobservation", "HomeCareObservation 1.2"),
)

# (MedCom type, version code, family, EHMI URI, display) exactly as in the EHMI CodeSystem.
_LEGACY_ROWS: tuple[tuple[str, str, Family, str, str], ...] = (
    (
        "BIN01",
        "B0131X",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medbin:bin01:b0131x",
        "Binær dokumenttransport",
    ),
    (
        "BIN02",
        "B0210X",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medbin:bin02:b0210x",
        "Binær dokumenttransport til bilag for alle henvisningstyper",
    ),
    (
        "CTL01",
        "C0130Q",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:contrl:ctl01:c0130q",
        "Negativ VANS kvittering",
    ),
    (
        "CTL02",
        "C0230Q",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:contrl:ctl02:c0230q",
        "Negativ kvittering",
    ),
    (
        "CTL03",
        "C0330Q",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:contrl:ctl03:c0330q",
        "Positiv kvittering",
    ),
    (
        "DAO01",
        "A0138Z",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:prodat:dao01:a0138z",
        "KKA analyserepertoire",
    ),
    (
        "DIS01",
        "D0134L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis01:d0134l",
        "Udskrivningsepikrise",
    ),
    (
        "DIS02",
        "D0234L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis02:d0234l",
        "Ambulantepikrise",
    ),
    (
        "DIS03",
        "D0334L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis03:d0334l",
        "Skadestueepikrise",
    ),
    (
        "DIS05",
        "D0533L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis05:d0533l",
        "Billeddiagnostisk epikrise",
    ),
    (
        "DIS06",
        "D0633L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis06:d0633l",
        "Lægevagtsepikrise",
    ),
    (
        "DIS07",
        "D0733L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis07:d0733l",
        "Speciallægeepikrise",
    ),
    (
        "DIS08",
        "D0833L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis08:d0833l",
        "Fysioterapiepikrise",
    ),
    (
        "DIS09",
        "D0933L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis09:d0933l",
        "Kiropraktorepikrise",
    ),
    (
        "DIS10",
        "D1034L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis10:d1034l",
        "Psykologepikrise",
    ),
    (
        "DIS13",
        "D1333L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis13:d1333l",
        "Bookingsvar",
    ),
    (
        "DIS14",
        "D1431C",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis14:d1431c",
        "Indlæggelsessvar",
    ),
    (
        "DIS16",
        "D1630C",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis16:d1630c",
        "Indlæggelsesrapport",
    ),
    (
        "DIS17",
        "D1730C",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis17:d1730c",
        "Udskrivningsadvis",
    ),
    (
        "DIS18",
        "D1830C",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis18:d1830c",
        "Udskrivningsrapport",
    ),
    (
        "DIS19",
        "D1930C",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis19:d1930c",
        "Varsling af færdigbehandling",
    ),
    (
        "DIS20",
        "D2030C",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis20:d2030c",
        "Indlæggelsesadvis",
    ),
    (
        "DIS32",
        "D3233L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis32:d3233l",
        "Fødselsanmeldelse",
    ),
    (
        "DIS90",
        "D9034L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis90:d9034l",
        "Administrativ korrespondancebrev",
    ),
    (
        "DIS91",
        "D9134L",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis91:d9134l",
        "Korrespondancebrev",
    ),
    (
        "DIS95",
        "D9530C",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:meddis:dis95:d9530c",
        "Hjemmeplejestatus",
    ),
    (
        "PID01",
        "I0130D",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medpid:pid01:i0130d",
        "Triggermeddelelse",
    ),
    (
        "PID02",
        "I0230D",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medpid:pid02:i0230d",
        "Personstamdatameddelelse",
    ),
    (
        "PID03",
        "I0330D",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medpid:pid03:i0330d",
        "Patientstamdatameddelelse",
    ),
    (
        "PID04",
        "I0430D",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medpid:pid04:i0430d",
        "Cavemeddelelse",
    ),
    (
        "PID05",
        "I0530D",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medpid:pid05:i0530d",
        "Vedvarende helbredsforhold",
    ),
    (
        "PRE01",
        "LMS016",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medpre:pre01:lms016",
        "Recept",
    ),
    (
        "PRE60",
        "R6031W",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medpre:pre60:r6031w",
        "System-receptfornyelse",
    ),
    (
        "REF01",
        "H0131R",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medref:ref01:h0131r",
        "Sygehushenvisning",
    ),
    (
        "REF02",
        "H0231R",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medref:ref02:h0231r",
        "Billeddiagnostisk henvisning",
    ),
    (
        "REF06",
        "H0631R",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medref:ref06:h0631r",
        "Speciallægehenvisning",
    ),
    (
        "REF07",
        "H0732R",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medref:ref07:h0732r",
        "Fysioterapihenvisning",
    ),
    (
        "REF08",
        "H0831R",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medref:ref08:h0831r",
        "Fodterapihenvisning",
    ),
    (
        "REF10",
        "H1031R",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medref:ref10:h1031r",
        "Psykologhenvisning",
    ),
    (
        "REF12",
        "H1230R",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medref:ref12:h1230r",
        "Øfeldthenvisning",
    ),
    (
        "REQ01",
        "Q0131K",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medreq:req01:q0131k",
        "Laboratorierekvisition",
    ),
    (
        "REQ03",
        "Q0330P",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medreq:req03:q0330p",
        "patologirekvisition",
    ),
    (
        "RPT01",
        "R0131K",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt01:r0131k",
        "Laboratoriesvar",
    ),
    (
        "RPT02",
        "R0231M",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt02:r0231m",
        "Mikrobiologisvar",
    ),
    (
        "RPT03",
        "R0331P",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt03:r0331p",
        "Cervixcytologisvar",
    ),
    (
        "RPT04",
        "R0432P",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medrpt:rpt04:r0432p",
        "Patologisvar",
    ),
    (
        "RUC01",
        "U0131U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc01:u0131u",
        "Lægeafregning",
    ),
    (
        "RUC02",
        "U0231U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc02:u0231u",
        "Speciallægeafregning",
    ),
    (
        "RUC03",
        "U0332U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc03:u0332u",
        "Tandlægeafregning",
    ),
    (
        "RUC04",
        "U0432U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc04:u0432u",
        "Fysioterapiafregning",
    ),
    (
        "RUC05",
        "U0531U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc05:u0531u",
        "Apoteksafregning",
    ),
    (
        "RUC06",
        "U0631U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc06:u0631u",
        "Kiropraktorafregning",
    ),
    (
        "RUC07",
        "U0731U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc07:u0731u",
        "Laboratorieafregning",
    ),
    (
        "RUC08",
        "U0831U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc08:u0831u",
        "Lægevagtsafregning",
    ),
    (
        "RUC09",
        "U0935U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc09:u0935u",
        "Danmarksafregning",
    ),
    (
        "RUC10",
        "U1031U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc10:u1031u",
        "Psykologafregning",
    ),
    (
        "RUC11",
        "U1131U",
        "edifact",
        "urn:dk:healthcare:medcom:messaging:edifact:medruc:ruc11:u1131u",
        "Fodterapeutafregning",
    ),
    (
        "DGOP",
        "D1GOP1.0",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:xml:dgop:d1gop1.0",
        "Genoptræningsplan (DGOP)",
    ),
    (
        "FS3X100",
        "DTAX100",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:xml:fs3x100:dtax100",
        "FSIII udvekslingsdatasæt",
    ),
    (
        "GGOP",
        "GGOP100",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:xml:ggop:ggop100",
        "Genoptræningsplan (GGOP)",
    ),
    (
        "XBIN01",
        "XB0131X",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medbin:xbin01:xb0131x",
        "Binær dokumenttransport",
    ),
    (
        "XBIN02",
        "XB0210X",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medbin:xbin02:xb0210x",
        "Binær dokumenttransport til bilag for alle henvisningstyper",
    ),
    (
        "XCTL01",
        "XC0130Q",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:contrl:xctl01:xc0130q",
        "NegativeVansReceipt",
    ),
    (
        "XCTL02",
        "XC0230Q",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:contrl:xctl02:xc0230q",
        "NegativeReceipt",
    ),
    (
        "XCTL03",
        "XC0330Q",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:contrl:xctl03:xc0330q",
        "PositivReceipt",
    ),
    (
        "XDAO01",
        "XA0140Z",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:prodat:xdao01:xa0140z",
        "LaboratoryAnalysisFile",
    ),
    (
        "XDIS01",
        "XD0134L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis01:xd0134l",
        "DischargeLetter",
    ),
    (
        "XDIS02",
        "XD0234L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis02:xd0234l",
        "OutPatientDischargeLetter",
    ),
    (
        "XDIS03",
        "XD0334L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis03:xd0334l",
        "CasualtyWardLetter",
    ),
    (
        "XDIS05",
        "XD0533L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis05:xd0533l",
        "RadiologyReport",
    ),
    (
        "XDIS06",
        "XD0633L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis06:xd0633l",
        "EmergencyLetter",
    ),
    (
        "XDIS07",
        "XD0733L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis07:xd0733l",
        "SpecialistLetter",
    ),
    (
        "XDIS08",
        "XD0833L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis08:xd0833l",
        "PhysiotherapiLetter",
    ),
    (
        "XDIS13",
        "XD1333L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis13:xd1333l",
        "BookingConfirmation",
    ),
    (
        "XDIS14",
        "XD1431C",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis14:xd1431c",
        "AnswerOfAdmission",
    ),
    (
        "XDIS15",
        "XD1530L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis15:xd1530l",
        "XML Kommuneafslutningsnotat",
    ),
    (
        "XDIS16",
        "XD1634C",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis16:xd1634c",
        "XML indlæggelsesrapport",
    ),
    (
        "XDIS17",
        "XD1730C",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis17:xd1730c",
        "NotificationOfDischarge",
    ),
    (
        "XDIS18",
        "XD1834C",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis18:xd1834c",
        "XML udskrivningsrapport",
    ),
    (
        "XDIS19",
        "XD1934C",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis19:xd1934c",
        "XML melding om færdigbehandling",
    ),
    (
        "XDIS20",
        "XD2030C",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis20:xd2030c",
        "NotificationOfAdmission",
    ),
    (
        "XDIS21",
        "XD2134C",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis21:xd2134c",
        "XML plejeforløbsplan",
    ),
    (
        "XDIS22",
        "XD2230L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis22:xd2230l",
        "XML Afslutningsnotat fra kommunens akutfunktion",
    ),
    (
        "XDIS32",
        "XD3234L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis32:xd3234l",
        "XMLFødselsanmeldelse",
    ),
    (
        "XDIS90",
        "XD9034L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis90:xd9034l",
        "Administrative Email",
    ),
    (
        "XDIS91",
        "XD9134L",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:meddis:xdis91:xd9134l",
        "ClinicalEmail",
    ),
    (
        "XPRE01",
        "XLMS016",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medpre:xpre01:xlms016",
        "Prescription",
    ),
    (
        "XPRE60",
        "XR6031W",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medpre:xpre60:xr6031w",
        "PrescriptionRequest",
    ),
    (
        "XREF01",
        "XH0131R",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medref:xref01:xh0131r",
        "HospitalReferral",
    ),
    (
        "XREF02",
        "XH0231R",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medref:xref02:xh0231r",
        "XrayRequest",
    ),
    (
        "XREF06",
        "XH0630R",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medref:xref06:xh0630r",
        "SpecialistReferral",
    ),
    (
        "XREF07",
        "XH0732R",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medref:xref07:xh0732r",
        "Physiotherapistreferral",
    ),
    (
        "XREF10",
        "XH1030R",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medref:xref10:xh1030r",
        "Psychologistreferral",
    ),
    (
        "XREF15",
        "XH1530R",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medref:xref15:xh1530r",
        "XML Kommunehenvisning",
    ),
    (
        "XREF22",
        "XH2230R",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medref:xref22:xh2230r",
        "XML Henvisning til kommunens akutfunktion",
    ),
    (
        "XREQ01",
        "XQ0131K",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medreq:xreq01:xq0131k",
        "LaboratoryRequest",
    ),
    (
        "XREQ03",
        "XQ0330P",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medreq:xreq03:xq0330p",
        "PathologyRequest",
    ),
    (
        "XRPT01",
        "XR0131K",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medrpt:xrpt01:xr0131k",
        "LaboratoryReport",
    ),
    (
        "XRPT02",
        "XR0230M",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medrpt:xrpt02:xr0230m",
        "MicrobiologyReport",
    ),
    (
        "XRPT03",
        "XR0331P",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medrpt:xrpt03:xr0331p",
        "CervixcytologyReport",
    ),
    (
        "XRPT04",
        "XR0432P",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medrpt:xrpt04:xr0432p",
        "HistopathologyReport",
    ),
    (
        "XRPT05",
        "XR0532M",
        "oioxml",
        "urn:dk:healthcare:medcom:messaging:oioxml:schema:xsd:medrpt:xrpt05:xr0532m",
        "MicrobiologyWebReport",
    ),
)

_SBDH_ACK_URI = (
    "urn:dk:healthcare:messaging:oasis:ebxml:schema:xsd::ehmisbdh-acknowledgement"
    "##urn:dk:ehmi:sbdh:ehmisbdh-acknowledgement::1.0"
)


def _catalogue() -> tuple[MessageType, ...]:
    rows = [MessageType(c, v, "fhir", _FHIR_URI.format(m=m, v=v), d) for c, v, m, d in _FHIR_ROWS]
    rows += [MessageType(c, v, f, u, d) for c, v, f, u, d in _LEGACY_ROWS]
    rows.append(
        MessageType(SBDH_ACKNOWLEDGEMENT, "1.0", "envelope", _SBDH_ACK_URI, "ehmiSBDH Acknowledgement 1.0")
    )
    return tuple(rows)


CATALOGUE: tuple[MessageType, ...] = _catalogue()
_BY_URI: dict[str, MessageType] = {t.uri: t for t in CATALOGUE}
# The CodeSystem also lists HospitalNotification in the short form; it names the same definition.
_BY_URI["urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:hospitalnotification:3.0"] = _BY_URI[
    _FHIR_URI.format(m="hospitalnotification", v="3.0")
]
_VERSIONS: dict[str, frozenset[str]] = {}
for _t in CATALOGUE:
    _VERSIONS[_t.code] = _VERSIONS.get(_t.code, frozenset()) | {_t.version}
_FAMILY: dict[str, Family] = {t.code: t.family for t in CATALOGUE}

# Names people write in a SOR-EDI extract instead of the FDIS codes.
_CODE_ALIASES = {
    "CARECOMMUNICATION": FHIR_CARECOMMUNICATION,
    "ACKNOWLEDGEMENT": FHIR_ACKNOWLEDGEMENT,
    "HOSPITALNOTIFICATION": FHIR_HOSPITALNOTIFICATION,
    "HOMECAREOBSERVATION": FHIR_HOMECAREOBSERVATION,
}

# MedCom's own generated EER data uses `...:fhir:structuredefinition:<message>:<version>` (sor-ehmi.md §c).
_SHORT_FHIR = re.compile(r"^urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:([a-z]+):(\d+\.\d+)$")


def by_uri(uri: str) -> MessageType | None:
    """The message type an EHMI message-definition URI names, or None when it is not in the EHMI list.

    The short FHIR form MedCom's generated EER data uses is accepted for the messages in the list.
    """
    uri = uri.strip()
    found = _BY_URI.get(uri)
    if found is not None:
        return found
    short = _SHORT_FHIR.match(uri)
    if short:
        return _BY_URI.get(_FHIR_URI.format(m=short.group(1), v=short.group(2)))
    return None


def normalise_code(code: str) -> str:
    """`xdis91` -> `XDIS91`; `CareCommunication` -> `FDIS91`. Unknown codes come back upper-cased."""
    upper = code.strip().upper()
    if upper in _CODE_ALIASES:
        return _CODE_ALIASES[upper]
    if upper == SBDH_ACKNOWLEDGEMENT.upper():
        return SBDH_ACKNOWLEDGEMENT
    return upper


def is_known(code: str) -> bool:
    return code in _FAMILY


def family(code: str) -> Family | None:
    return _FAMILY.get(code)


def versions(code: str) -> frozenset[str]:
    """The version codes the EHMI list carries for a type (usually one; HomeCareObservation has two)."""
    return _VERSIONS.get(code, frozenset())


def uri_for(code: str) -> str | None:
    """The EHMI URI of the newest listed version of a type, for writing EER data."""
    candidates = [t for t in CATALOGUE if t.code == code]
    return max(candidates, key=lambda t: t.version).uri if candidates else None


def is_receipt(code: str) -> bool:
    return code in RECEIPTS_EDIFACT or code in RECEIPTS_OIOXML or code == FHIR_ACKNOWLEDGEMENT


def is_binary(code: str) -> bool:
    return code in {"BIN01", "BIN02", "XBIN01", "XBIN02"}


RECEIPTS_EDIFACT = frozenset({"CTL01", "CTL02", "CTL03"})
RECEIPTS_OIOXML = frozenset({"XCTL01", "XCTL02", "XCTL03"})

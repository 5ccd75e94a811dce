"""MedCom's mapping tables as data: codes, systems, and the plain-copy rows of the mapping sheets.

Hold this file next to `Mapning-XDIS91-CareCommunication_v500_januar2026.xlsx`, the XCTL sheet and the use cases
(3.1.0) §4: a row that is a plain copy is a tuple here; a row with a rule is a function in `rules.py`.
"""

from __future__ import annotations

from typing import Final

# --- Identifier systems and canonical URLs ---------------------------------------------------------------------
SYSTEM_GLN: Final = "https://www.gs1.org/gln"
SYSTEM_GLN_OLD: Final = "urn:oid:1.3.88"  # 2022 table and XCTL sheet; accepted on input, never produced
SYSTEM_SOR: Final = "urn:oid:1.2.208.176.1.1"
SYSTEM_CPR: Final = "urn:oid:1.2.208.176.1.2"
SYSTEM_X_ECPR: Final = "urn:oid:1.2.208.176.1.6.1.1"
SYSTEM_D_ECPR: Final = "urn:oid:1.2.208.176.1.6.1.3"
SYSTEM_YDERNUMMER: Final = "urn:oid:1.2.208.176.1.4"
SYSTEM_KOMBIT: Final = "https://kombit.dk/sts/organisation"
SYSTEM_LPR3: Final = "https://www.esundhed.dk/Registre/Landspatientregisteret"
SYSTEM_EVENT: Final = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
SYSTEM_DESTINATION_USE: Final = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse"
)
SYSTEM_ACTIVITY: Final = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
SYSTEM_CATEGORY: Final = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
)
SYSTEM_PRIORITY: Final = "http://hl7.org/fhir/request-priority"
SYSTEM_ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SYSTEM_ENCOUNTER_OTHER: Final = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-encounter-act-codes"
)
SYSTEM_RESPONSE_CODE: Final = "http://hl7.org/fhir/response-code"
SYSTEM_ROLES_SKS: Final = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ"
)
SYSTEM_ROLES_AUT: Final = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesAutorisationsregistret"
)
#: MedCom's issue-details ValueSet names the HL7 operation-outcome codes under this (ValueSet) URL as system.
SYSTEM_OO_DETAILS: Final = "http://hl7.org/fhir/ValueSet/operation-outcome"
SYSTEM_ACK_ERRORS: Final = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"

EXT_DATE: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-datetime-extension"
EXT_IDENTIFIER: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-identifier-extension"
EXT_AUTHOR: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitioner-extension"
EXT_CONTACT: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-contact-extension"
EXT_SENDER: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-sender-extension"
EXT_DESTINATION_USE: Final = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)

DEFINITION_CC_50: Final = "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComCareCommunicationMessageDefinition|5.0"
FULLURL_BASE: Final = "https://medcomfhir.dk/ig/carecommunication/"
FULLURL_ACK: Final = "https://medcomfhir.dk/ig/acknowledgement/"

PROFILE_CC_MESSAGE: Final = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message"
)
PROFILE_CC_HEADER: Final = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-messageHeader"
)
PROFILE_CC_COMMUNICATION: Final = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-communication"
)
PROFILE_CC_PROVENANCE: Final = (
    "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-provenance"
)
PROFILE_PATIENT: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient"
PROFILE_PRACTITIONER: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitioner"
PROFILE_PRACTITIONER_ROLE: Final = (
    "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitionerrole"
)
PROFILE_ENCOUNTER: Final = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-encounter"
PROFILE_MSG_ORGANIZATION: Final = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization"
)
PROFILE_MSG_PROVENANCE: Final = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance"
)
PROFILE_ACK_MESSAGE: Final = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement"
)
PROFILE_ACK_HEADER: Final = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgementHeader"
)
PROFILE_ACK_OUTCOME: Final = (
    "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-acknowledgement-operationoutcome"
)

# --- OIOXML namespaces and fixed codes (oioxml-legacy.md §0, a, b, c) ----------------------------------------
NS_XDIS91: Final = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2006/07/01/"
NS_XBIN01: Final = "http://rep.oio.dk/medcom.dk/xml/schemas/2012/03/28/"
NS_XCTL: Final = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"
NS_XCTL_2020: Final = "http://rep.oio.dk/medcom.dk/xml/schemas/2020/05/06/"

XDIS91_VERSION: Final = "XD9134L"
XBIN01_VERSION: Final = "XB0131X"
ACK_REQUESTED: Final = "pluspositivkvitt"
NO_ACK_REQUESTED: Final = "minuspositivkvitt"

#: XCTL type -> (root element, VersionCode, StatisticalCode) (oioxml-legacy.md §c).
XCTL_TYPES: Final[dict[str, tuple[str, str, str]]] = {
    "xctl01": ("NegativeVansReceipt", "XC0130Q", "XCTL01"),
    "xctl02": ("NegativeReceipt", "XC0230Q", "XCTL02"),
    "xctl03": ("PositiveReceipt", "XC0330Q", "XCTL03"),
}
XCTL_ROOTS: Final = {root: kind for kind, (root, _, _) in XCTL_TYPES.items()}

# --- Category codes: code -> Danish display (terminology 2.0.1; used for the XDIS91 Subject) -----------------
CATEGORY_DISPLAY_DA: Final[dict[str, str]] = {
    "alcohol-and-drug-treatment": "Rusmiddelbehandling",
    "assistive-devices": "Hjælpemidler",
    "carecoordination": "Forløbskoordinering",
    "decease": "Dødsfald",
    "discharge": "Udskrivelse",
    "examination-results": "Undersøgelsessvar",
    "healthcare": "Sundhedspleje",
    "home-care-assessment": "Visitation",
    "medicine": "Medicin",
    "nursing": "Sygepleje",
    "outpatient": "Ambulant",
    "psychiatry-social-disability": "Psykiatri, social, handicap",
    "regarding-referral": "Vedr. henvisning",
    "telemedicine": "Telemedicin",
    "training": "Træning",
    "acute-ambulant": "Akut ambulant",
    "extended-care-responsibility": "Udvidet behandlingsansvar",
    "other": "Andet",
}

# --- Practitioner role codes -> Danish display (terminology 2.0.1), for the "Stilling:" line in Text01 --------
ROLE_DISPLAY_DA: Final[dict[str, str]] = {
    "speciallaege": "Speciallæge",
    "speciallaegeipraksis": "Speciallæge i praksis",
    "cheflaege": "Cheflæge",
    "overlaege": "Overlæge",
    "afdelingslaege": "Afdelingslæge",
    "sygehuslaege": "Sygehuslæge",
    "sygeplejerske": "Sygeplejerske",
    "sundhedsplejerske": "Sundhedsplejerske",
    "socialogsundhedsassistent": "Social- og sundhedsassistent",
    "socialogsundhedsmedhjaelper": "Social- og sundhedsmedhjælper",
    "socialogsundhedsmehjaelper": "Social- og sundhedsmedhjælper",
    "sygehjaelper": "Sygehjælper",
    "plejer": "Plejer",
    "plejehjemsassistent": "Plejehjemsassistent",
    "tandlaege": "Tandlæge",
    "klinisktandtekniker": "Klinisk tandtekniker",
    "tandplejer": "Tandplejer",
    "farmaceut": "Farmaceut",
    "apoteker": "Apoteker",
    "psykolog": "Psykolog",
    "pyskolog": "Psykolog",
    "jordemoder": "Jordemoder",
    "fysioterapeut": "Fysioterapeut",
    "ergoterapeut": "Ergoterapeut",
    "bioanalytiker": "Bioanalytiker",
    "radiograf": "Radiograf",
    "diaetist": "Diætist",
    "diaetistassistent": "Diætistassistent",
    "audilogiassistent": "Audilogiassistent",
    "neurofysiologassistent": "Neurofysiologassistent",
    "kiropraktor": "Kiropraktor",
    "zoneterapeut": "Zoneterapeut",
    "psykoterapeut": "Psykoterapeut",
    "audiologopaed": "Audiologopæd",
    "laegesekretaer": "Lægesekretær",
    "ledendelaegesekretaer": "Ledende lægesekretær",
    "sygeplejesekretaer": "Sygeplejesekretær",
    "sygeplejesekretear": "Sygeplejesekretær",
    "fodterapeut": "Fodterapeut",
    "socialraadgiver": "Socialrådgiver",
    "ledendesocialraadgiver": "Ledende socialrådgiver",
    "laerer": "Lærer",
    "paedagog": "Pædagog",
    "beskaeftigelsesvejleder": "Beskæftigelsesvejleder",
    "bandagist": "Bandagist",
    "skomager": "Skomager",
    "optiker": "Optiker",
    "ambulancebehandler": "Ambulancebehandler",
    "laege": "Læge",
    "osteopat": "Osteopat",
    "NAVU": "Ikke oplyst",
}

# --- Attachments: XBIN01 ObjectExtensionCode <-> MIME type ----------------------------------------------------
#: The six CareCommunication types (ValueSet medcom-core-attachmentMimeTypes 1.8.1).
CARECOMMUNICATION_MIME_TYPES: Final = frozenset(
    {"application/pdf", "image/gif", "image/jpeg", "image/png", "image/tiff", "image/bmp"}
)

#: Every XBIN01 extension code with the MIME type we give it. The six CareCommunication types are exact; the
#: others are our choice (registered type where one exists, otherwise an `x-` type that round-trips).
EXTENSION_TO_MIME: Final[dict[str, str]] = {
    "pdf": "application/pdf",
    "gif": "image/gif",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "pcx": "image/x-pcx",
    "mpg": "video/mpeg",
    "dcm": "application/dicom",
    "scp": "application/x-scp-ecg",
    "txt": "text/plain",
    "rtf": "application/rtf",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "wpd": "application/vnd.wordperfect",
    "exe": "application/x-msdownload",
    "wav": "audio/wav",
    "avi": "video/x-msvideo",
    "mid": "audio/midi",
    "rmi": "audio/x-rmi",
    "com": "application/x-msdos-program",
    "zip": "application/zip",
    "bin": "application/octet-stream",
    "inh": "application/x-medcom-inh",
    "plo": "application/x-medcom-plo",
    "fnx": "application/x-medcom-fnx",
}
MIME_TO_EXTENSION: Final[dict[str, str]] = {mime: ext for ext, mime in EXTENSION_TO_MIME.items()} | {
    "image/jpg": "jpeg",
    "image/x-ms-bmp": "bmp",
    "audio/x-wav": "wav",
    "application/x-zip-compressed": "zip",
}
#: XDIS91 (2006/07/01) lacks two of XBIN01's 26 extension codes.
XDIS91_EXTENSIONS: Final = frozenset(EXTENSION_TO_MIME) - {"plo", "fnx"}
#: Extension used for a MIME type neither list knows (the bytes still travel; the receiver decides).
FALLBACK_EXTENSION: Final = "bin"

#: Use cases §4.6.2 for the six FHIR types; the other extensions as OS2korrespondance derives them.
EXTENSION_TO_OBJECT_CODE: Final[dict[str, str]] = {
    "gif": "billede",
    "jpeg": "billede",
    "png": "billede",
    "tiff": "billede",
    "bmp": "billede",
    "pcx": "billede",
    "dcm": "billede",
    "pdf": "vektor_grafik",
    "mpg": "multimedie",
    "wav": "multimedie",
    "avi": "multimedie",
    "mid": "multimedie",
    "rmi": "multimedie",
    "inh": "multimedie",
    "bin": "multimedie",
    "scp": "biosignaler",
    "txt": "tekstfil",
    "rtf": "tekstfil",
    "doc": "tekstfil",
    "xls": "tekstfil",
    "wpd": "tekstfil",
    "exe": "program",
    "com": "program",
    "zip": "proprietaert_indhold",
    "plo": "proprietaert_indhold",
    "fnx": "proprietaert_indhold",
}

# --- Episode of care status (use cases §4.2) -------------------------------------------------------------------
#: XDIS91 EpisodeOfCareStatusCode -> (Encounter.class code, Encounter.status, Patient.deceased)
EPISODE_STATUS_TO_FHIR: Final[dict[str, tuple[str, str, bool]]] = {
    "inaktiv": ("other", "unknown", False),
    "indlagt": ("IMP", "in-progress", False),
    "ambulant": ("AMB", "in-progress", False),
    "doed": ("other", "finished", True),
    "ambulant_roentgen": ("AMB", "in-progress", False),
}

# --- Receipts (use cases §4.3; XCTL sheet) ----------------------------------------------------------------------
#: RefuseCode -> (OperationOutcome.issue.code, optional details coding (system, code)).
REFUSE_CODE_TO_ISSUE: Final[dict[str, tuple[str, tuple[str, str] | None]]] = {
    "ikke_specificeret": ("processing", None),
    "ukendt_lokationsnummer": ("not-found", (SYSTEM_ACK_ERRORS, "MSG_Receiver_Identifier_UNKNOWN")),
    "problem_med_modtagerID": ("invalid", (SYSTEM_ACK_ERRORS, "MSG_Receiver_Identifier_MISSING")),
    "problem_med_version": ("not-supported", None),
    "syntaksfejl": ("structure", (SYSTEM_OO_DETAILS, "MSG_BAD_SYNTAX")),
}
#: The ack's details code back to a RefuseCode (the reverse of the table above where it is unambiguous).
ISSUE_DETAIL_TO_REFUSE_CODE: Final[dict[str, str]] = {
    "MSG_Receiver_Identifier_UNKNOWN": "ukendt_lokationsnummer",
    "MSG_Receiver_Identifier_MISSING": "problem_med_modtagerID",
    "MSG_BAD_SYNTAX": "syntaksfejl",
    "MSG_BAD_FORMAT": "syntaksfejl",
    "MSG_WRONG_NS": "syntaksfejl",
    "MSG_VERSION_AWARE": "problem_med_version",
}
#: EDIFACT heritage: a refuse text is one FTX segment of 5 x 70 characters.
REFUSE_TEXT_MAX: Final = 350

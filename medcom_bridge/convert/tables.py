"""MedCom's mapping tables as data: codes, systems, and the plain-copy rows of the mapping sheets.

Hold this file next to `Mapning-XDIS91-CareCommunication_v500_januar2026.xlsx`, the XCTL sheet and the use cases
(3.1.0) §4: a row that is a plain copy is a tuple here; a row with a rule is a function in `rules.py`.
"""

from __future__ import annotations

from typing import Final

from medcom_bridge.fhir import canonical as url
from medcom_bridge.oioxml import model as oio
from medcom_bridge.oioxml import receipts

# --- Identifier systems and canonical URLs ---------------------------------------------------------------------
# The converter's names for them; each URL itself has one home, `medcom_bridge.fhir.canonical`.
SYSTEM_GLN: Final = url.SYS_EAN
SYSTEM_GLN_OLD: Final = url.SYS_EAN_OLD  # 2022 table and XCTL sheet; accepted on input, never produced
SYSTEM_SOR: Final = url.SYS_SOR
SYSTEM_CPR: Final = url.SYS_CPR
SYSTEM_X_ECPR: Final = url.SYS_X_ECPR
SYSTEM_D_ECPR: Final = url.SYS_D_ECPR
SYSTEM_YDERNUMMER: Final = url.SYS_YDERNUMMER
SYSTEM_KOMBIT: Final = url.SYS_KOMBIT
SYSTEM_LPR3: Final = url.SYS_LPR3_EPISODE
SYSTEM_EVENT: Final = url.CS_EVENT
SYSTEM_DESTINATION_USE: Final = url.CS_DESTINATION_USE
SYSTEM_ACTIVITY: Final = url.CS_ACTIVITY
SYSTEM_CATEGORY: Final = url.CS_CATEGORY
SYSTEM_PRIORITY: Final = url.CS_PRIORITY
SYSTEM_ACT_CODE: Final = url.CS_ENCOUNTER_CLASS
SYSTEM_ENCOUNTER_OTHER: Final = url.CS_ENCOUNTER_OTHER
SYSTEM_RESPONSE_CODE: Final = url.CS_RESPONSE_CODE
SYSTEM_ROLES_SKS: Final = url.CS_ROLES_SKS
SYSTEM_ROLES_AUT: Final = url.CS_ROLES_AUTH
#: MedCom's issue-details ValueSet names the HL7 operation-outcome codes under this (ValueSet) URL as system.
SYSTEM_OO_DETAILS: Final = url.CS_OPERATION_OUTCOME_ACK
SYSTEM_ACK_ERRORS: Final = url.CS_ACK_ERRORS

EXT_DATE: Final = url.EXT_DATE
EXT_IDENTIFIER: Final = url.EXT_IDENTIFIER
EXT_AUTHOR: Final = url.EXT_AUTHOR
EXT_CONTACT: Final = url.EXT_CONTACT
EXT_SENDER: Final = url.EXT_SENDER
EXT_DESTINATION_USE: Final = url.EXT_DESTINATION_USE

DEFINITION_CC_50: Final = url.CC_DEFINITION_5_0
FULLURL_BASE: Final = url.FULLURL_CC
FULLURL_ACK: Final = url.FULLURL_ACK

PROFILE_CC_MESSAGE: Final = url.PROFILE_CC_MESSAGE
PROFILE_CC_HEADER: Final = url.PROFILE_CC_HEADER
PROFILE_CC_COMMUNICATION: Final = url.PROFILE_CC_COMMUNICATION
PROFILE_CC_PROVENANCE: Final = url.PROFILE_CC_PROVENANCE
PROFILE_PATIENT: Final = url.PROFILE_PATIENT
PROFILE_PRACTITIONER: Final = url.PROFILE_PRACTITIONER
PROFILE_PRACTITIONER_ROLE: Final = url.PROFILE_PRACTITIONER_ROLE
PROFILE_ENCOUNTER: Final = url.PROFILE_ENCOUNTER
PROFILE_MSG_ORGANIZATION: Final = url.PROFILE_MESSAGING_ORGANIZATION
PROFILE_MSG_PROVENANCE: Final = url.PROFILE_MESSAGING_PROVENANCE
PROFILE_ACK_MESSAGE: Final = url.PROFILE_ACK_MESSAGE
PROFILE_ACK_HEADER: Final = url.PROFILE_ACK_HEADER
PROFILE_ACK_OUTCOME: Final = url.PROFILE_ACK_OUTCOME

# --- OIOXML fixed codes (oioxml-legacy.md §0, a, b, c); the values live in `oioxml.model` ---------------------
XDIS91_VERSION: Final = oio.XDIS91_VERSION
XBIN01_VERSION: Final = oio.XBIN01_VERSION
ACK_REQUESTED: Final = oio.PLUS_POSITIVE_RECEIPT
NO_ACK_REQUESTED: Final = oio.MINUS_POSITIVE_RECEIPT

#: XCTL type -> (root element, VersionCode, StatisticalCode) (oioxml-legacy.md §c).
XCTL_TYPES: Final[dict[str, tuple[str, str, str]]] = {
    "xctl01": ("NegativeVansReceipt", oio.XCTL01_VERSION, "XCTL01"),
    "xctl02": ("NegativeReceipt", oio.XCTL02_VERSION, "XCTL02"),
    "xctl03": ("PositiveReceipt", oio.XCTL03_VERSION, "XCTL03"),
}

# --- Attachments: XBIN01 ObjectExtensionCode <-> MIME type ----------------------------------------------------
#: Every XBIN01 extension code with the MIME type we give it. The six CareCommunication types
#: (`fhir.terminology.MIME_TYPES`) are exact; the others are our choice (registered type where one exists,
#: otherwise an `x-` type that round-trips).
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
    receipts.IKKE_SPECIFICERET: ("processing", None),
    receipts.UKENDT_LOKATIONSNUMMER: ("not-found", (SYSTEM_ACK_ERRORS, "MSG_Receiver_Identifier_UNKNOWN")),
    receipts.PROBLEM_MED_MODTAGER_ID: ("invalid", (SYSTEM_ACK_ERRORS, "MSG_Receiver_Identifier_MISSING")),
    receipts.PROBLEM_MED_VERSION: ("not-supported", None),
    receipts.SYNTAKSFEJL: ("structure", (SYSTEM_OO_DETAILS, "MSG_BAD_SYNTAX")),
}
#: The ack's details code back to a RefuseCode (the reverse of the table above where it is unambiguous).
ISSUE_DETAIL_TO_REFUSE_CODE: Final[dict[str, str]] = {
    "MSG_Receiver_Identifier_UNKNOWN": receipts.UKENDT_LOKATIONSNUMMER,
    "MSG_Receiver_Identifier_MISSING": receipts.PROBLEM_MED_MODTAGER_ID,
    "MSG_BAD_SYNTAX": receipts.SYNTAKSFEJL,
    "MSG_BAD_FORMAT": receipts.SYNTAKSFEJL,
    "MSG_WRONG_NS": receipts.SYNTAKSFEJL,
    "MSG_VERSION_AWARE": receipts.PROBLEM_MED_VERSION,
}
#: EDIFACT heritage: a refuse text is one FTX segment of 5 x 70 characters.
REFUSE_TEXT_MAX: Final = receipts.REFUSE_TEXT_MAX

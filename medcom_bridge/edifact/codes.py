"""MedCom's EDIFACT code lists, as its converter (XSLTs of 2005/08/07, 2006/07/01, 2012/03/28) maps them.

Each table is the converter's own; where its two directions disagree the table says so and NOTES.md records
what we chose (we follow the converter: a VANS must produce what the other VANS expects).
"""

from __future__ import annotations

# MedicalSpecialityCode -> SPR speciality number (XML2EDI XD9134L.xslt, inline table; XB0131X uses the
# 2012 GeneralTemplates table, which is the same). Neither knows `paediatri_sygehus` (80) or the 23 codes of
# the newer schema edition: those are refused. `dermato_venerologi_praksis` is written as 2511 (the reading
# table says 2504; 2511 reads back as `klinisk_kemi`).
SPECIALITY_NUMBER: dict[str, str] = {
    "ikkeklassificeret": "99", "intern_medicin_sygehus": "1", "geriatri": "2", "hepatologi": "3",
    "haematologi": "4", "infektionsmedicin": "5", "kardiologi": "6", "med_allergologi": "7",
    "med_endokrinologi": "8", "med_gastroenterologi": "9", "med_lungesygdomme": "10", "nefrologi": "11",
    "reumatologi": "12", "dermato_venerologi_sygehus": "18", "neurologi": "20", "onkologi": "22",
    "kirurgi_sygehus": "30", "karkirurgi": "31", "kir_gastroenterologi": "32", "plastikkirurgi": "33",
    "thoraxkirurgi": "34", "urologi": "35", "gynaekologi_obstetrik_sygehus": "38", "neurokirurgi": "40",
    "ortopaedisk_kirurgi_sygehus": "42", "oftalmologi": "44", "oto_rhino_laryngologi": "46",
    "hospitalsodontologi": "48", "psykiatri_sygehus": "50", "boerne_ungdomspsykiatri": "52",
    "klin_biokemi": "60", "klin_fys_nuklearmedicin": "61", "klin_immunologi": "62", "klin_mikrobiologi": "63",
    "klin_neurofysiologi": "64", "patologisk_anatomi": "65", "diagnostisk_radiologi": "66",
    "klin_farmakologi": "67", "klin_genetik": "68", "anaestesiologi_sygehus": "84", "arbejdsmedicin": "86",
    "almen_medicin": "90", "samfundsmedicin": "91", "almenlaege_laegevagt": "580", "oejenlaege": "1519",
    "oere_naese_halslaege": "2021", "anaestesiologi_praksis": "2501", "roentgen_kbh": "2503",
    "dermato_venerologi_praksis": "2511", "roentgen": "2505", "reumatologi_fysiurgi": "2506",
    "gynaekologi_obstetrik_praksis": "2507", "intern_medicin_praksis": "2508", "kirurgi_praksis": "2509",
    "klinisk_kemi": "2511", "neuromedicin": "2518", "ortopaedisk_kirurgi_praksis": "2520",
    "patologi ": "2522", "plastkirurgi": "2523", "psykiatri_praksis": "2524", "paediatri": "2525",
    "boernepsykiatri": "2526", "tropemedicin": "2528", "tandlaege": "4050", "fysioterapi": "4551",
    "kiropraktor": "5053", "briller": "5552", "fodterapi": "6054", "fodbehandlking": "6055",
    "med_laboratorier": "7045", "omegnslaboratorier": "7046", "psykolog": "9463",
}  # fmt: skip
NO_SPECIALITY_DIS91 = "99"  # DIS91 writes 99 when the sender has no MedicalSpecialityCode; BIN01 writes ''

# SPR speciality number -> MedicalSpecialityCode (EDI2XML GeneralTemplates AFSSPECToMedicalSpecialityCode).
# The 2006 table (DIS91) knows 80 = paediatri_sygehus; the 2012 table (BIN01) does not.
SPECIALITY_CODE: dict[str, str] = {
    **{n: c for c, n in SPECIALITY_NUMBER.items() if c not in ("dermato_venerologi_praksis", "klinisk_kemi")},
    "2504": "dermato_venerologi_praksis",
    "2511": "klinisk_kemi",
    "80": "paediatri_sygehus",
}
SPECIALITY_CODE_BIN01 = {n: c for n, c in SPECIALITY_CODE.items() if n != "80"}

# IdentifierCode -> NAD 3055/1131 (code list qualifier, agency); absent IdentifierCode writes like lokationsnummer.
IDENTIFIER_CODE: dict[str, tuple[str, str]] = {
    "sygehusafdelingsnummer": ("SKS", "SST"),
    "ydernummer": ("YNR", "SFU"),
    "lokationsnummer": ("", "9"),
    "kommunenummer": ("KOM", "IM"),
    "sorkode": ("SOR", "SST"),
}
# NAD code list qualifier -> IdentifierCode (EDI2XML NADToIdentifierCode): `EAN` and '' both read as lokationsnummer.
IDENTIFIER_QUALIFIER: dict[str, str] = {
    "SKS": "sygehusafdelingsnummer",
    "YNR": "ydernummer",
    "EAN": "lokationsnummer",
    "": "lokationsnummer",
    "KOM": "kommunenummer",
    "SOR": "sorkode",
}

# EpisodeOfCareStatusCode <-> PAS (XD9134L / D9134L); an absent status is written as POT.
EPISODE_STATUS: dict[str, str] = {
    "inaktiv": "POT",
    "indlagt": "HS",
    "ambulant": "HA",
    "doed": "DA",
    "ambulant_roentgen": "REQ",
}
PAS_STATUS = {v: k for k, v in EPISODE_STATUS.items()}

LETTER_STATUS = {"nytbrev": "N", "rettetbrev": "M"}  # StatusCode <-> GIS (BIN01 always writes N)
GIS_STATUS = {v: k for k, v in LETTER_STATUS.items()}

PRIORITY = {"rutine": "NO", "høj_prioritet": "HI"}  # AdditionalInformation/Priority <-> S02 RFF 1153
RFF_PRIORITY = {v: k for k, v in PRIORITY.items()}

ACK_REQUEST = {"minuspositivkvitt": "0", "pluspositivkvitt": "1"}  # Envelope/AcknowledgementCode <-> UNB 0031

# ObjectCode <-> the object type in FTX+BIN and UNO (SND also reads as multimedie).
OBJECT_CODE: dict[str, str] = {
    "tekstfil": "TXT",
    "billede": "IMG",
    "program": "PRG",
    "vektor_grafik": "VGR",
    "biosignaler": "BSG",
    "multimedie": "MUL",
    "proprietaert_indhold": "PRP",
}
OBJECT_TYPE = {**{v: k for k, v in OBJECT_CODE.items()}, "SND": "multimedie"}

# ObjectExtensionCode -> extension. MedCom's tables map `xsl` (not the schema's `xls`) to XLS, so an `xls`
# object is refused and XLS reads back as `xsl`. DIS91's table (2006) lacks plo and fnx; BIN01's (2012) has both.
_EXTENSIONS = "pcx tif:tiff jpg:jpeg gif bmp png mpg dcm scp txt rtf doc xls:xsl wpd exe pdf wav avi mid rmi com zip bin inh"
EXTENSION: dict[str, str] = {(p.split(":")[-1]): p.split(":")[0].upper() for p in _EXTENSIONS.split()}
EXTENSION_BIN01 = {**EXTENSION, "plo": "PLO", "fnx": "FNX"}
EXTENSION_CODE = {**{v: k for k, v in EXTENSION.items()}, "PLO": "plo"}  # D9134L reading table
EXTENSION_CODE_BIN01 = {**EXTENSION_CODE, "FNX": "fnx"}

# RefuseCode <-> FTX qualifier of a CTL (XC0n30Q).
REFUSE_CODE = {
    "ikke_specificeret": "NC",
    "ukendt_lokationsnummer": "LOK",
    "problem_med_modtagerID": "MID",
    "problem_med_version": "VER",
    "syntaksfejl": "SYN",
}
REFUSE_QUALIFIER = {v: k for k, v in REFUSE_CODE.items()}

# OriginalVersionCode -> UCM message type (2005/08/07 GeneralTemplates VersionCodeToType); others: "Ukendt".
_TYPES = {
    "MEDDIS": "D0133L D0233L D0333L D0533L D0633L D0733L D1333L D0833L D9133L D9134L D2030C D1430C D1730C "
    "D1830C D1930C",
    "MEDREF": "H0130R H0230R H0630R",
    "MEDRPT": "R0130K R0430P R0330P R0230M",
    "MEDREQ": "Q0130K Q0230M Q0330P",
    "PRODAT": "A0130Z",
    "????": "U0130U U0230U U0330U U0430U U0530U I0130D I0230D I0330D I0430D SST012",
}
VERSION_TYPE: dict[str, str] = {v: t for t, vs in _TYPES.items() for v in vs.split()}
VERSION_TYPE.update({"X" + v: "X" + t for v, t in VERSION_TYPE.items() if t != "????"})
VERSION_TYPE.update(
    {
        "X" + v: "Ukendt"
        for v in [
            "U0130U",
            "U0230U",
            "U0330U",
            "U0430U",
            "U0530U",
            "I0130D",
            "I0230D",
            "I0330D",
            "I0430D",
            "SST012",
        ]
    }
)
UNKNOWN_TYPE = "Ukendt"

# The EDIFACT kinds: UNH message type, version, MedCom type (UNH 0057) and the OIOXML twin's kind.
KINDS: dict[str, tuple[str, str, str]] = {
    "dis91": ("MEDDIS", "D9134L", "DIS91"),
    "bin01": ("MEDBIN", "B0131X", "BIN01"),
    "ctl01": ("CONTRL", "C0130Q", "CTL01"),
    "ctl02": ("CONTRL", "C0230Q", "CTL02"),
    "ctl03": ("CONTRL", "C0330Q", "CTL03"),
}
KIND_OF_VERSION = {v[1]: k for k, v in KINDS.items()}
OIOXML_KIND = {"dis91": "xdis91", "bin01": "xbin01", "ctl01": "xctl01", "ctl02": "xctl02", "ctl03": "xctl03"}
EDIFACT_KIND = {v: k for k, v in OIOXML_KIND.items()}

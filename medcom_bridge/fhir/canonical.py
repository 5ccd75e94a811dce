"""Canonical URLs, code systems, value sets and identifier systems of MedCom's FHIR messages: the one home of
each URL, for the builder, renderer, validator rules and converter alike.

Every value is copied from `fhir-carecommunication.md` §0 (and the packages it names), so a reader can tick
them off against the rule book. Dependency-free: anything may import it.
"""

from __future__ import annotations

from typing import Final

# Profiles (meta.profile), fhir-carecommunication.md §0.
CC = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
PROFILE_CC_MESSAGE: Final = CC + "medcom-careCommunication-message"
PROFILE_CC_HEADER: Final = CC + "medcom-careCommunication-messageHeader"
PROFILE_CC_COMMUNICATION: Final = CC + "medcom-careCommunication-communication"
PROFILE_CC_PROVENANCE: Final = CC + "medcom-careCommunication-provenance"
PROFILE_MESSAGING_ORGANIZATION: Final = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization"
)
PROFILE_MESSAGING_PROVENANCE: Final = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance"
)
CORE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
PROFILE_PATIENT: Final = CORE + "medcom-core-patient"
PROFILE_PRACTITIONER: Final = CORE + "medcom-core-practitioner"
PROFILE_PRACTITIONER_ROLE: Final = CORE + "medcom-core-practitionerrole"
PROFILE_CARETEAM: Final = CORE + "medcom-core-careteam"
PROFILE_ENCOUNTER: Final = CORE + "medcom-core-encounter"
ACK = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
PROFILE_ACK_MESSAGE: Final = ACK + "medcom-messaging-acknowledgement"
PROFILE_ACK_HEADER: Final = ACK + "medcom-messaging-acknowledgementHeader"
PROFILE_ACK_OUTCOME: Final = ACK + "medcom-acknowledgement-operationoutcome"

# Extensions (§0).
EXT_SENDER: Final = CORE + "medcom-core-sender-extension"
EXT_DATE: Final = CORE + "medcom-core-datetime-extension"
EXT_AUTHOR: Final = CORE + "medcom-core-practitioner-extension"
EXT_CONTACT: Final = CORE + "medcom-core-contact-extension"
EXT_IDENTIFIER: Final = CORE + "medcom-core-identifier-extension"
EXT_DESTINATION_USE: Final = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)

# Code systems.
TERM = "http://medcomfhir.dk/ig/terminology/CodeSystem/"
CS_EVENT: Final = TERM + "medcom-messaging-eventCodes"
CS_DESTINATION_USE: Final = TERM + "medcom-messaging-destinationUse"
CS_ACTIVITY: Final = TERM + "medcom-messaging-activityCodes"
CS_CATEGORY: Final = TERM + "medcom-careCommunication-categoryCodes"
CS_ROLES_SKS: Final = TERM + "medcom-core-PractitionerRolesSKSadministrativ"
CS_ROLES_AUTH: Final = TERM + "medcom-core-PractitionerRolesAutorisationsregistret"
CS_NULLFLAVOR: Final = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
CS_ACK_ERRORS: Final = TERM + "medcom-acknowledgement-error-codes"
CS_OPERATION_OUTCOME: Final = "http://terminology.hl7.org/CodeSystem/operation-outcome"
# Acknowledgement 2.0.3 pins terminology 1.4.0, whose medcom-acknowledgement-issue-details ValueSet names the
# HL7 codes' system as this ValueSet URL (terminology 2.0.1 corrected it to CS_OPERATION_OUTCOME). A validator
# working from the pinned package expects this value, so an acknowledgement carries it.
CS_OPERATION_OUTCOME_ACK: Final = "http://hl7.org/fhir/ValueSet/operation-outcome"
CS_PRIORITY: Final = "http://hl7.org/fhir/request-priority"
CS_ENCOUNTER_CLASS: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CS_ENCOUNTER_OTHER: Final = TERM + "medcom-core-encounter-act-codes"
CS_RESPONSE_CODE: Final = "http://hl7.org/fhir/response-code"

# Value sets (required bindings the rules and the builder's inputs check).
VS = "http://medcomfhir.dk/ig/terminology/ValueSet/"
VS_CATEGORIES: Final = VS + "medcom-careCommunication-categories"
VS_ROLES: Final = VS + "medcom-core-PractitionerRoles"
VS_MIME_TYPES: Final = VS + "medcom-core-attachmentMimeTypes"
VS_ENCOUNTER_CLASS: Final = VS + "medcom-core-encounter-class"
VS_ENCOUNTER_STATUS: Final = "http://hl7.org/fhir/ValueSet/encounter-status"

# Identifier systems (§4.1, §4.2).
SYS_SOR: Final = "urn:oid:1.2.208.176.1.1"
SYS_EAN: Final = "https://www.gs1.org/gln"
SYS_CVR: Final = "http://cvr.dk"
SYS_CPR: Final = "urn:oid:1.2.208.176.1.2"
SYS_X_ECPR: Final = "urn:oid:1.2.208.176.1.6.1.1"
SYS_D_ECPR: Final = "urn:oid:1.2.208.176.1.6.1.3"
SYS_D_ECPR_REGIONAL: Final = frozenset(
    {SYS_D_ECPR} | {f"{SYS_D_ECPR}.{region}" for region in ("177", "179", "181", "183", "187")}
)
SYS_LPR3_EPISODE: Final = "https://www.esundhed.dk/Registre/Landspatientregisteret"
SYS_KOMBIT: Final = "https://kombit.dk/sts/organisation"
SYS_YDERNUMMER: Final = "urn:oid:1.2.208.176.1.4"
# dk-core-organization-mandatory-identifier also accepts this (the HL7 "SOR" OID used by dk-core).
SYS_SOR_ALT: Final = "urn:oid:2.16.840.1.113883.2.24.1.1"
# The GS1 OID of the 2022 mapping table and the XCTL sheet: accepted on input, never produced.
SYS_EAN_OLD: Final = "urn:oid:1.3.88"

SOR_ENDPOINT_PREFIX: Final = "https://sor2.sum.dsdn.dk/#id="
CC_DEFINITION_5_0: Final = "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComCareCommunicationMessageDefinition|5.0"
# CareCommunication 4.0 names its definition without the messagedefinitions IG (and with a version suffix).
CC_DEFINITION_4: Final = (
    "http://medcomfhir.dk/ig/carecommunication/medcom-careCommunication-message-definition"
)
CC_DEFINITION_4_0: Final = CC_DEFINITION_4 + "|4.0.0"

# fullUrl base of the official examples; a fullUrl must end in Type/id so that relative references resolve.
FULLURL_CC: Final = "https://medcomfhir.dk/ig/carecommunication/"
FULLURL_ACK: Final = "https://medcomfhir.dk/ig/acknowledgement/"
XHTML_NS: Final = "http://www.w3.org/1999/xhtml"
FHIR_NS: Final = "http://hl7.org/fhir"

"""Who takes part in a CareCommunication: typed, frozen inputs for the builder.

Each value checks its own MedCom rules when it is made, so a wrong SOR code or CPR number is refused at the
door with the rule id and an example of a correct value, instead of producing a message that the receiver
rejects. Rules: `fhir-carecommunication.md` §4.
"""

from __future__ import annotations

from dataclasses import dataclass

from medcom_bridge import identifiers
from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir.terminology import ENCOUNTER_CLASSES, ENCOUNTER_STATUSES, ROLE_SYSTEMS


class BuildError(ValueError):
    """An input the builder cannot turn into a valid message; `rule` names the MedCom rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    """A MedComMessagingOrganization: SOR id and EAN (location number) are both required (§4.2)."""

    sor: str
    ean: str
    name: str | None = None
    cvr: str | None = None
    endpoint: str | None = None  # defaults to the SOR endpoint URL of `sor`

    def __post_init__(self) -> None:
        if not identifiers.SOR.fullmatch(self.sor):
            raise BuildError(
                "medcom-messaging-organization-sor",
                f"SOR id {self.sor!r} must be at least 11 digits, e.g. '441211000016000'",
            )
        if not identifiers.gln_ok(self.ean):
            raise BuildError(
                "medcom-messaging-organization-ean",
                f"EAN/GLN {self.ean!r} must be 13 digits with a valid GS1 check digit, e.g. '5790001987244'",
            )
        if self.cvr is not None and (
            not identifiers.CVR.fullmatch(self.cvr) or not identifiers.cvr_ok(self.cvr)
        ):
            raise BuildError(
                "dk-core-cvr-identifier", f"CVR {self.cvr!r} must be 8 digits passing the modulus-11 check"
            )

    @property
    def sor_endpoint(self) -> str:
        return self.endpoint or f"{url.SOR_ENDPOINT_PREFIX}{self.sor}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    """A MedComCorePatient identified by CPR and/or replacement CPR (X-eCPR, D-eCPR), §4.1."""

    cpr: str | None = None
    x_ecpr: str | None = None
    d_ecpr: str | None = None
    d_ecpr_system: str = url.SYS_D_ECPR
    family: str | None = None
    given: tuple[str, ...] = ()
    deceased: bool | None = None

    def __post_init__(self) -> None:
        if not (self.cpr or self.x_ecpr or self.d_ecpr):
            raise BuildError(
                "medcom-core-patient-identifier", "a patient needs a CPR number, an X-eCPR or a D-eCPR"
            )
        if self.cpr is not None and not identifiers.CPR.fullmatch(self.cpr):
            raise BuildError(
                "dk-core-cpr-identifier",
                "CPR must be 10 digits starting with a valid DDMMYY, e.g. '2509479989'",
            )
        if self.x_ecpr is not None and not identifiers.X_ECPR.fullmatch(self.x_ecpr):
            raise BuildError(
                "dk-core-x-ecpr-identifier",
                "X-eCPR must be DDMMYY, then 1 or 7, 2 upper-case letters and a digit, e.g. '0703921VJ4'",
            )
        if self.d_ecpr is not None and not identifiers.D_ECPR.fullmatch(self.d_ecpr):
            raise BuildError(
                "dk-core-d-ecpr-identifier",
                "D-eCPR must be DDMMYY, then 0, 5 or 6, 2 upper-case letters and a digit, e.g. '1206550VK9'",
            )
        if self.d_ecpr_system not in url.SYS_D_ECPR_REGIONAL:
            raise BuildError(
                "dk-core-d-ecpr-identifier",
                f"D-eCPR system must be one of {sorted(url.SYS_D_ECPR_REGIONAL)}",
            )
        # Our decision (§10): only a patient known by replacement CPR alone may lack a family name.
        if self.cpr is not None and not (self.family and self.family.strip()):
            raise BuildError(
                "medcom-core-patient-name", "name:official.family is required for a patient with a CPR number"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """A practitioner in a role (PractitionerRole + Practitioner). Role: a code *or* free text (inv-7)."""

    family: str
    given: tuple[str, ...] = ()
    role_code: str | None = None
    role_text: str | None = None

    def __post_init__(self) -> None:
        if not self.family.strip() and not any(g.strip() for g in self.given):
            raise BuildError("medcom-careCommunication-4", "a practitioner needs a name (given and family)")
        if (self.role_code is None) == (self.role_text is None):
            raise BuildError(
                "medcom-careCommunication-7",
                "give the role either as a code (e.g. 'sygeplejerske') or as free text, not both and not neither",
            )
        if self.role_code is not None and self.role_code not in ROLE_SYSTEMS:
            raise BuildError(
                "medcom-careCommunication-7",
                f"role code {self.role_code!r} is not in medcom-core-PractitionerRoles; use e.g. 'sygeplejerske',"
                " 'laege', or give the role as free text",
            )
        if self.role_text is not None and not self.role_text.strip():
            raise BuildError("medcom-careCommunication-7", "free-text role must not be empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class Author(Person):
    """The signature of a segment: the person and a phone number (authorContact, §3.3)."""

    phone: str

    def __post_init__(self) -> None:
        Person.__post_init__(self)
        if not identifiers.PHONE.fullmatch(self.phone):
            raise BuildError(
                "medcom-core-contact",
                f"phone {self.phone!r} must be digits with an optional leading '+', e.g. '38683868'",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class CareTeam:
    """A team as specific sender or recipient (MedComCoreCareTeam: `name` 1..1)."""

    name: str

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise BuildError("medcom-core-careteam-name", "a CareTeam needs a name")


SpecificParty = Person | CareTeam


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeOfCare:
    """An episode-of-care identifier carried in an Encounter (§4.4).

    `system` is the LPR3 system or, recommended for local ids, the sender's SOR endpoint URL.
    """

    system: str
    value: str
    encounter_class: str
    status: str = "unknown"

    def __post_init__(self) -> None:
        if not self.system.strip() or not self.value.strip():
            raise BuildError(
                "medcom-careCommunication-9", "an episode-of-care identifier needs system and value"
            )
        if self.system == url.SYS_LPR3_EPISODE and not identifiers.URN_UUID_V5.fullmatch(self.value):
            raise BuildError(
                "medcom-core-encounter-lpr3",
                "an LPR3 episode-of-care id is a UUID v5 as 'urn:uuid:xxxxxxxx-xxxx-5xxx-[89ab]xxx-xxxxxxxxxxxx'",
            )
        if self.encounter_class not in ENCOUNTER_CLASSES:
            raise BuildError(
                "medcom-core-encounter-class",
                f"encounter class {self.encounter_class!r} is not allowed; use one of {sorted(ENCOUNTER_CLASSES)}",
            )
        if self.status not in ENCOUNTER_STATUSES:
            raise BuildError("medcom-core-encounter-status", f"{self.status!r} is not an R4 Encounter.status")

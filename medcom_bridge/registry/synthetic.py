"""Synthetic national-size register data: a SOR XML tree, SOR-EDI registrations and an EER bundle.

The tree mimics the real shape: regions owning hospitals with departments and sections (own, inherited and
no location numbers, SHAK codes), municipalities with care units, GP practices (owner with the number, the
institution and the doctors inheriting it, ydernummer on the clinic) and pharmacies. Every number gets a
registration profile that breaks no rule, and `planted` lists the defects added on top: for each rule
R01-R16 a few units or rows that violate exactly that rule. The quality report must find exactly these.

Pure: the same `seed`, `units` and `today` give the same bytes; nothing is read or written.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from xml.sax.saxutils import escape

from medcom_bridge.fhir import canonical
from medcom_bridge.registry import message_types
from medcom_bridge.registry.gln import with_check_digit

# IT system types (SOR SystemType codes). Synthetic values in SOR's code style: the first two exchange XML
# and FHIR only, the last EDIFACT (pharmacy systems), which is what R09's inference has to discover.
SYSTEM_FHIR = "1611000045003"
SYSTEM_XML = "1631000045008"
SYSTEM_EDIFACT = "221000045007"
SYSTEM_SUPPLIER = {SYSTEM_FHIR: "641000055002", SYSTEM_XML: "651000055004", SYSTEM_EDIFACT: "1001000055001"}
REGIONS = ("1081", "1082", "1083", "1084", "1085")
EDI_ADMINISTRATORS = ("106", "111", "116", "121")
VANS = ("41000035001", "81000035007", "91000035009", "51000035003")

OWNER_TYPE = "550891000005100"
HOSPITAL, GP, PHARMACY, CARE = "22232009", "394761003", "264372000", "550621000005101"
NURSING_HOME, CLINICAL, ADMINISTRATIVE = "42665001", "550851000005109", "550811000005108"

_RECEIPTS_X = ("XCTL01", "XCTL02", "XCTL03")
_RECEIPTS_E = ("CTL01", "CTL02", "CTL03")
Profile = tuple[frozenset[str], frozenset[str]]  # (receive, send)


def _profile(receive: Iterable[str], send: Iterable[str]) -> Profile:
    return frozenset(receive), frozenset(send)


FHIR = _profile(("FDIS91", "FCTL"), ("FDIS91", "FCTL"))
FHIR_PLUS = _profile(("FDIS91", "FCTL", *_RECEIPTS_X, "XRPT01"), ("FDIS91", "FCTL", "XREQ01", *_RECEIPTS_X))
OIOXML = _profile(("XDIS91", "XBIN01", *_RECEIPTS_X), ("XDIS91", "XBIN01", *_RECEIPTS_X))
EDIFACT = _profile(("DIS91", "BIN01", *_RECEIPTS_E), ("DIS91", "BIN01", *_RECEIPTS_E))


@dataclass(frozen=True, slots=True)
class Planted:
    """A defect the generator put in on purpose: the finding the report must produce for it."""

    rule: str
    ean: str | None
    sor: str | None


@dataclass(frozen=True, slots=True)
class SyntheticData:
    sor_xml: bytes
    edi_csv: bytes
    eer_json: bytes
    planted: tuple[Planted, ...]
    units: int
    numbers: int


@dataclass(slots=True)
class _Number:
    ean: str
    system_type: str
    region: str
    admin: str
    vans: str
    only_internal: bool = False
    non_active: bool = False
    to_date: date | None = None


@dataclass(slots=True)
class _Node:
    sor: str
    name: str
    level: str
    type_code: str | None = None
    own: _Number | None = None
    inherits: bool | None = None
    provider: str | None = None
    shak: str | None = None
    pharmacy: str | None = None
    phone: str | None = None
    street: str | None = None
    postcode: str | None = None
    from_date: date = date(2005, 1, 1)
    to_date: date | None = None
    replaces: tuple[str, ...] = ()
    replaced_by: tuple[str, ...] = ()
    children: list[_Node] = field(default_factory=list)


@dataclass(slots=True)
class _Row:
    ean: str
    code: str
    direction: str
    version: str


@dataclass(slots=True)
class _Endpoint:
    gln: str
    managing_sor: str
    uris: list[str]
    org_sors: list[str]


_STREETS = ("Vesterbrogade", "Nørregade", "Østergade", "Søndergade", "Algade", "Torvet", "Åboulevarden")
_TOWNS = (
    ("8000", "Aarhus C"),
    ("5000", "Odense C"),
    ("9000", "Aalborg"),
    ("4000", "Roskilde"),
    ("6700", "Esbjerg"),
)
_SURNAMES = (
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Møller",
)
_FIRST = ("Anne", "Mette", "Søren", "Jens", "Birgitte", "Lars", "Ida", "Mads", "Ærø")


class _Builder:
    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.closed_date = today - timedelta(days=400)
        self.sor_counter = 0
        self.gln_counter = 0
        self.provider_counter = 0
        self.shak_counter = 1000
        self.owners: list[_Node] = []
        self.count = 0
        self.rows: list[_Row] = []
        self.endpoints: list[_Endpoint] = []
        self.planted: list[Planted] = []
        self.eer_candidates: list[tuple[_Node, str]] = []
        self.receive_sets: dict[str, frozenset[str]] = {}

    # -- identifiers --------------------------------------------------------------------------------
    def sor(self) -> str:
        self.sor_counter += 1
        n = self.sor_counter
        return f"{100000 + n}1000016{(n * 7) % 1000:03d}"

    def gln(self) -> str:
        self.gln_counter += 1
        return with_check_digit(f"579{100000000 + self.gln_counter:09d}")

    def provider(self) -> str:
        self.provider_counter += 1
        return f"{self.provider_counter:06d}"

    def number(self, system_type: str, **kw: object) -> _Number:
        rng = self.rng
        n = _Number(
            self.gln(), system_type, rng.choice(REGIONS), rng.choice(EDI_ADMINISTRATORS), rng.choice(VANS)
        )
        for key, value in kw.items():
            setattr(n, key, value)
        return n

    def node(self, level: str, name: str, parent: _Node | None, **kw: object) -> _Node:
        rng = self.rng
        node = _Node(self.sor(), name, level)
        for key, value in kw.items():
            setattr(node, key, value)
        if level == "IE" or rng.random() < 0.2:
            node.phone = f"{rng.randint(20000000, 99999999)}"
            street, (postcode, _) = rng.choice(_STREETS), rng.choice(_TOWNS)
            node.street, node.postcode = f"{street} {rng.randint(1, 120)}", postcode
        self.count += 1
        if parent is None:
            self.owners.append(node)
        else:
            parent.children.append(node)
        return node

    def person(self) -> str:
        return f"{self.rng.choice(_FIRST)} {self.rng.choice(_SURNAMES)}"

    def register(self, ean: str, profile: Profile) -> None:
        receive, send = profile
        self.receive_sets[ean] = receive
        for code in sorted(receive | send):
            direction = (
                "both" if code in receive and code in send else ("receive" if code in receive else "send")
            )
            version = max(message_types.versions(code), default="")
            self.rows.append(_Row(ean, code, direction, version))

    # -- clean blocks ---------------------------------------------------------------------------------
    def gp_practice(
        self, profile: Profile | None = None, system: str | None = None, **number_kw: object
    ) -> _Node:
        rng = self.rng
        if system is None:
            system = SYSTEM_FHIR if rng.random() < 0.7 else SYSTEM_XML
        if profile is None:
            profile = FHIR_PLUS if system == SYSTEM_FHIR else OIOXML
        doctor = self.person()
        owner = self.node("IE", doctor, None, type_code=OWNER_TYPE, own=self.number(system, **number_kw))
        practice = self.node("SI", f"{doctor} & co", owner, type_code=GP, inherits=True)
        clinic = self.node("OE", f"Lægerne {doctor}", practice, inherits=True, provider=self.provider())
        for _ in range(rng.randint(0, 3)):
            self.node("OE", self.person(), clinic, inherits=True)
        assert owner.own is not None
        self.register(owner.own.ean, profile)
        if profile in (FHIR, FHIR_PLUS):
            self.eer_candidates.append((owner, owner.own.ean))
        return owner

    def pharmacy(self) -> None:
        town = self.rng.choice(_TOWNS)[1]
        owner = self.node("IE", f"{town} Apotek", None, type_code=OWNER_TYPE, own=self.number(SYSTEM_EDIFACT))
        inst = self.node("SI", f"{town} Apotek", owner, type_code=PHARMACY, inherits=True)
        self.node("OE", f"{town} Apotek", inst, inherits=True, pharmacy=f"{self.rng.randint(100, 999)},1")
        assert owner.own is not None
        self.register(owner.own.ean, EDIFACT)

    def municipality(self) -> None:
        rng = self.rng
        town = rng.choice(_TOWNS)[1]
        owner = self.node("IE", f"{town} Kommune", None, type_code=OWNER_TYPE, own=self.number(SYSTEM_FHIR))
        assert owner.own is not None
        self.register(owner.own.ean, FHIR)
        inst = self.node("SI", f"Sundhed og Omsorg, {town}", owner, type_code=CARE, inherits=True)
        for i in range(rng.randint(5, 9)):
            kind = "Plejecenter" if i % 2 else "Hjemmepleje"
            unit = self.node(
                "OE",
                f"{kind} {rng.choice(_STREETS)} & Co",
                inst,
                type_code=NURSING_HOME,
                own=self.number(SYSTEM_FHIR),
            )
            assert unit.own is not None
            self.register(unit.own.ean, FHIR)
            self.eer_candidates.append((unit, unit.own.ean))
            for _ in range(rng.randint(1, 3)):
                self.node("OE", f"{kind} team {rng.randint(1, 9)}", unit, inherits=True)
            if rng.random() < 0.1:
                successor = self.node("OE", f"{kind} (ny)", inst, own=self.number(SYSTEM_FHIR), replaces=())
                closed = self.node(
                    "OE",
                    f"{kind} (lukket)",
                    inst,
                    own=self.number(SYSTEM_FHIR, to_date=self.closed_date),
                    to_date=self.closed_date,
                    replaced_by=(successor.sor,),
                )
                successor.replaces = (closed.sor,)
                assert successor.own is not None
                self.register(successor.own.ean, FHIR)

    def hospital(self, region: _Node) -> None:
        rng = self.rng
        self.shak_counter += 1
        shak = f"{self.shak_counter:04d}"
        town = rng.choice(_TOWNS)[1]
        hosp = self.node(
            "SI", f"{town} Sygehus", region, type_code=HOSPITAL, shak=shak, own=self.number(SYSTEM_XML)
        )
        assert hosp.own is not None
        self.register(hosp.own.ean, OIOXML)
        for d in range(rng.randint(6, 10)):
            roll = rng.random()
            dept_kw: dict[str, object] = {"type_code": ADMINISTRATIVE, "shak": f"{shak}{d:02d}"}
            if roll < 0.4:
                dept_kw["own"] = self.number(SYSTEM_XML)
            else:
                dept_kw["inherits"] = roll < 0.9
            dept = self.node("OE", f"{town} Sygehus, afdeling {d + 1}", hosp, **dept_kw)
            if dept.own is not None:
                self.register(dept.own.ean, OIOXML)
            for s in range(rng.randint(3, 6)):
                sect_kw: dict[str, object] = {"type_code": CLINICAL, "shak": f"{shak}{d:02d}{s}"}
                if rng.random() < 0.1:
                    sect_kw["own"] = self.number(SYSTEM_XML)
                else:
                    sect_kw["inherits"] = rng.random() < 0.85
                sect = self.node("OE", f"Afsnit {d + 1}.{s + 1}", dept, **sect_kw)
                if sect.own is not None:
                    self.register(sect.own.ean, OIOXML)

    def build(self, units: int) -> None:
        regions = [
            self.node("IE", f"Region {name}", None, type_code=OWNER_TYPE)
            for name in ("Nordjylland", "Midtjylland", "Syddanmark", "Hovedstaden", "Sjælland")
        ]
        step = 0
        while self.count < units:
            step += 1
            if step % 40 == 0:
                self.hospital(regions[step // 40 % len(regions)])
            elif step % 12 == 0:
                self.municipality()
            elif step % 5 == 0:
                self.pharmacy()
            else:
                self.gp_practice()

    def clean_eer(self) -> None:
        """An EER endpoint for every third FHIR number, mirroring its SOR-EDI receive list."""
        for index, (node, ean) in enumerate(self.eer_candidates):
            if index % 3 == 0:
                uris = [u for u in (message_types.uri_for(c) for c in sorted(self._receive(ean))) if u]
                orgs = [node.sor, *(c.sor for c in node.children if c.inherits)]
                self.endpoints.append(_Endpoint(ean, node.sor, uris, orgs))

    def _receive(self, ean: str) -> frozenset[str]:
        return self.receive_sets.get(ean, frozenset())

    # -- defects ------------------------------------------------------------------------------------
    def plant(self, copies: int) -> None:
        for _ in range(copies):
            self._plant_once()

    def _leaf_owner(self, profile: Profile | None, system: str = SYSTEM_FHIR, **kw: object) -> _Node:
        number_kw = {k: kw.pop(k) for k in ("only_internal", "non_active") if k in kw}
        owner = self.node(
            "IE",
            f"{self.person()} (leaf)",
            None,
            type_code=OWNER_TYPE,
            own=self.number(system, **number_kw),
            **kw,
        )
        assert owner.own is not None
        if profile is not None:
            self.register(owner.own.ean, profile)
        return owner

    def _plant_once(self) -> None:
        add = self.planted.append
        # R01: a check-digit error in SOR (with clean registrations), and a malformed GLN in SOR-EDI.
        bad = self.gp_practice(FHIR, SYSTEM_FHIR)
        assert bad.own is not None
        good = bad.own.ean
        bad.own.ean = good[:12] + str((int(good[12]) + 1) % 10)
        for row in self.rows:
            if row.ean == good:
                row.ean = bad.own.ean
        self.eer_candidates = [(n, e) for n, e in self.eer_candidates if e != good]
        add(Planted("R01", bad.own.ean, bad.sor))
        short = self.gln()[:12]
        self.register(short, FHIR)
        add(Planted("R01", short, None))
        # R02: two unrelated practices own the same number.
        first = self._leaf_owner(FHIR)
        assert first.own is not None
        second = self.node(
            "IE", f"{self.person()} (dublet)", None, type_code=OWNER_TYPE, own=dataclasses.replace(first.own)
        )
        add(Planted("R02", first.own.ean, first.sor))
        del second
        # R03: two practices whose clinics carry the same ydernummer.
        a, b = self.gp_practice(FHIR, SYSTEM_FHIR), self.gp_practice(FHIR, SYSTEM_FHIR)
        clinic_a, clinic_b = a.children[0].children[0], b.children[0].children[0]
        clinic_b.provider = clinic_a.provider
        assert a.own is not None
        add(Planted("R03", a.own.ean, clinic_a.sor))
        # R04: registrations on a number SOR does not know, and on a number SOR marks non-active.
        unknown = self.gln()
        self.register(unknown, FHIR)
        add(Planted("R04", unknown, None))
        inactive = self._leaf_owner(FHIR, non_active=True)
        assert inactive.own is not None
        add(Planted("R04", inactive.own.ean, inactive.sor))
        # R05: registrations on a closed unit, and on a replaced one.
        closed = self._leaf_owner(FHIR, to_date=self.closed_date)
        assert closed.own is not None
        add(Planted("R05", closed.own.ean, closed.sor))
        successor = self._leaf_owner(FHIR)
        replaced = self._leaf_owner(FHIR, replaced_by=(successor.sor,))
        successor.replaces = (replaced.sor,)
        assert replaced.own is not None
        add(Planted("R05", replaced.own.ean, replaced.sor))
        # R06: a closed owner whose institution still inherits its number.
        gone = self._leaf_owner(None, to_date=self.closed_date)
        self.node("SI", "Klinik uden ejer", gone, type_code=GP, inherits=True)
        assert gone.own is not None
        add(Planted("R06", gone.own.ean, gone.sor))
        # R07-R11: registration profiles that break one rule each.
        cases: list[tuple[str, Profile, str]] = [
            (
                "R07",
                _profile(("FDIS91", "FCTL", "XDIS91", "XBIN01", *_RECEIPTS_X), ("FDIS91", "FCTL")),
                SYSTEM_FHIR,
            ),
            (
                "R08",
                _profile(("DIS91", "XDIS91", "BIN01", "XBIN01", *_RECEIPTS_E, *_RECEIPTS_X), OIOXML[1]),
                SYSTEM_EDIFACT,
            ),
            ("R09", EDIFACT, SYSTEM_FHIR),
            ("R10", _profile(("XDIS91", "XBIN01"), OIOXML[1]), SYSTEM_XML),
            ("R11", _profile(("XDIS91", *_RECEIPTS_X), ("XDIS91", *_RECEIPTS_X)), SYSTEM_XML),
        ]
        for rule, profile, system in cases:
            owner = self._leaf_owner(profile, system)
            assert owner.own is not None
            add(Planted(rule, owner.own.ean, owner.sor))
        # R12: a dead number, and a number for internal use only that has registrations.
        dead = self._leaf_owner(None)
        internal = self._leaf_owner(FHIR, only_internal=True)
        assert dead.own is not None and internal.own is not None
        add(Planted("R12", dead.own.ean, dead.sor))
        add(Planted("R12", internal.own.ean, internal.sor))
        # R13: an institution repeating its owner's number as its own.
        parent = self._leaf_owner(FHIR)
        assert parent.own is not None
        child = self.node(
            "SI", "Klinik med egen kopi", parent, type_code=GP, own=dataclasses.replace(parent.own)
        )
        add(Planted("R13", parent.own.ean, child.sor))
        # R14: inheriting with no number anywhere above.
        top = self.node("IE", "Privat ejer uden nummer", None, type_code=OWNER_TYPE)
        middle = self.node("SI", "Klinik uden nummer", top, type_code=GP, inherits=False)
        orphan = self.node("OE", "Afsnit der arver intet", middle, inherits=True)
        add(Planted("R14", None, orphan.sor))
        # R15: an old version code, an unknown type in SOR-EDI, an unknown URI in the EER.
        old = self._leaf_owner(OIOXML, SYSTEM_XML)
        assert old.own is not None
        self.rows.append(_Row(old.own.ean, "XDIS91", "receive", "XD9131L"))
        add(Planted("R15", old.own.ean, old.sor))
        odd = self._leaf_owner(OIOXML, SYSTEM_XML)
        assert odd.own is not None
        self.rows.append(_Row(odd.own.ean, "XDIS99", "receive", ""))
        add(Planted("R15", odd.own.ean, odd.sor))
        eer_odd = self._leaf_owner(FHIR)
        assert eer_odd.own is not None
        uris = [message_types.uri_for("FCTL") or "", message_types.uri_for("FDIS91") or ""]
        v4 = "urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::carecommunication-message##urn:dk:medcom:fhir:carecommunication-message::4.0"
        self.endpoints.append(_Endpoint(eer_odd.own.ean, eer_odd.sor, [*uris, v4], [eer_odd.sor]))
        add(Planted("R15", eer_odd.own.ean, eer_odd.sor))
        # R16: EER lists less than SOR-EDI; EER names the wrong organisation; EER only, no SOR-EDI.
        partial = self._leaf_owner(FHIR)
        assert partial.own is not None
        self.endpoints.append(_Endpoint(partial.own.ean, partial.sor, [uris[0]], [partial.sor]))
        add(Planted("R16", partial.own.ean, partial.sor))
        right, wrong = self._leaf_owner(FHIR), self._leaf_owner(FHIR)
        assert right.own is not None
        self.endpoints.append(_Endpoint(right.own.ean, wrong.sor, uris, []))
        add(Planted("R16", right.own.ean, wrong.sor))
        eer_only = self._leaf_owner(None)
        assert eer_only.own is not None
        self.endpoints.append(_Endpoint(eer_only.own.ean, eer_only.sor, uris, [eer_only.sor]))
        add(Planted("R16", eer_only.own.ean, eer_only.sor))


# -- serialisation -----------------------------------------------------------------------------------
_ROOT_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<SorTree xmlns="urn:oio:sundhedsstyrelsen:organisation:1.0.0" '
    'xmlns:xkom-1="http://rep.oio.dk/xkom.dk/xml/schemas/2006/01/06/" '
    'xmlns:dkcc="http://rep.oio.dk/ebxml/xml/schemas/dkcc/2003/02/13/" '
    'xmlns:dkcc2005="http://rep.oio.dk/ebxml/xml/schemas/dkcc/2005/03/15/">\n'
)
_ELEMENT = {"IE": "InstitutionOwner", "SI": "HealthInstitution", "OE": "OrganizationalUnit"}
_TYPE = {"IE": "OwnerType", "SI": "InstitutionType", "OE": "UnitType"}


def _status(from_date: date, to_date: date | None) -> str:
    to = f"<ToDate>{to_date.isoformat()}</ToDate>" if to_date else ""
    return f"<SorStatus><FromDate>{from_date.isoformat()}</FromDate>{to}<FirstFromDate>{from_date.isoformat()}</FirstFromDate></SorStatus>"


def _number_xml(n: _Number) -> str:
    return (
        f"<EanLocationCodeEntity><EanLocationCode>{n.ean}</EanLocationCode>"
        f"<OnlyInternalIndicator>{str(n.only_internal).lower()}</OnlyInternalIndicator>"
        f"<NonActiveIndicator>{str(n.non_active).lower()}</NonActiveIndicator>"
        f"<SystemSupplier>{SYSTEM_SUPPLIER[n.system_type]}</SystemSupplier><SystemType>{n.system_type}</SystemType>"
        f"<CommunicationSupplier>{n.vans}</CommunicationSupplier><RegionCode>{n.region}</RegionCode>"
        f"<EdiAdministrator>{n.admin}</EdiAdministrator>{_status(date(2005, 1, 1), n.to_date)}</EanLocationCodeEntity>"
    )


def _node_xml(node: _Node, out: list[str]) -> None:
    element = _ELEMENT[node.level]
    parts = [f"<{element}Entity><{element}><SorIdentifier>{node.sor}</SorIdentifier>"]
    parts.append(f"<EntityName>{escape(node.name)}</EntityName>")
    if node.type_code:
        parts.append(f"<{_TYPE[node.level]}>{node.type_code}</{_TYPE[node.level]}>")
    if node.pharmacy:
        parts.append(f"<PharmacyIdentifier>{node.pharmacy}</PharmacyIdentifier>")
    if node.shak:
        parts.append(f"<ShakIdentifier>{node.shak}</ShakIdentifier>")
    if node.provider:
        parts.append(f"<ProviderIdentifier>{node.provider}</ProviderIdentifier>")
    if node.level == "IE":
        if node.own:
            parts.append(_number_xml(node.own))
    elif node.own:
        parts.append(f"<OptionalEanLocationCode>{_number_xml(node.own)}</OptionalEanLocationCode>")
    else:
        flag = "true" if node.inherits else "false"
        parts.append(
            f"<OptionalEanLocationCode><EntityInheritedIndicator>{flag}</EntityInheritedIndicator></OptionalEanLocationCode>"
        )
    if node.level == "OE":
        parts.append(
            "<GeographicalParent><GeographicalParentRelation>2</GeographicalParentRelation></GeographicalParent>"
        )
    if node.street:
        street, _, number = node.street.rpartition(" ")
        parts.append(
            "<PostalAddressInformation><xkom-1:AddressPostal>"
            f"<dkcc2005:StreetName>{escape(street)}</dkcc2005:StreetName>"
            f"<dkcc:StreetBuildingIdentifier>{number}</dkcc:StreetBuildingIdentifier>"
            f"<dkcc2005:PostCodeIdentifier>{node.postcode}</dkcc2005:PostCodeIdentifier>"
            "</xkom-1:AddressPostal></PostalAddressInformation>"
        )
    if node.phone:
        parts.append(
            f"<VirtualAddressInformation><TelephoneNumberIdentifier>{node.phone}</TelephoneNumberIdentifier></VirtualAddressInformation>"
        )
    parts.append(_status(node.from_date, node.to_date))
    if node.replaces:
        parts.append(
            f"<ReplacesEntityCollection><SorIdentifier>{node.replaces[0]}</SorIdentifier></ReplacesEntityCollection>"
        )
    if node.replaced_by:
        parts.append(
            f"<ReplacedByEntityCollection><SorIdentifier>{node.replaced_by[0]}</SorIdentifier></ReplacedByEntityCollection>"
        )
    parts.append(f"</{element}>\n")
    out.append("".join(parts))
    for child in node.children:
        _node_xml(child, out)
    out.append(f"</{element}Entity>\n")


def _sor_chunks(owners: list[_Node], today: date) -> Iterator[bytes]:
    yield (
        _ROOT_OPEN + f"<CreatedAtTime>{today.isoformat()}T01:00:00+01:00</CreatedAtTime>"
        f"<SnapshotDate>{today.isoformat()}</SnapshotDate>\n"
    ).encode()
    for owner in owners:
        out: list[str] = []
        _node_xml(owner, out)
        yield "".join(out).encode()
    yield b"</SorTree>\n"


def _edi_csv(rows: list[_Row]) -> bytes:
    lines = ["ean,type,direction,version,administrator_note"]
    lines += [f"{r.ean},{r.code},{r.direction},{r.version}," for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _eer_json(endpoints: list[_Endpoint]) -> bytes:
    gln_system = "http://www.gs1.org/gln"
    entries: list[dict[str, object]] = []
    for i, ep in enumerate(endpoints):
        ep_id = f"ep-{i}"
        entries.append(
            {
                "resource": {
                    "resourceType": "Endpoint",
                    "id": ep_id,
                    "identifier": [{"system": gln_system, "value": ep.gln}],
                    "status": "active",
                    "managingOrganization": {
                        "identifier": {"system": canonical.SYS_SOR, "value": ep.managing_sor}
                    },
                    "period": {"start": "2024-01-01T00:00:00+01:00"},
                    "payloadType": [
                        {
                            "coding": [
                                {
                                    "system": "http://medcomehmi.dk/ig/terminology/CodeSystem/ehmi-message-definition-uri",
                                    "code": u,
                                }
                            ]
                        }
                        for u in ep.uris
                    ],
                    "payloadMimeType": ["application/fhir+xml"],
                    "address": "https://example.org/fhir",
                }
            }
        )
        for sor in ep.org_sors:
            entries.append(
                {
                    "resource": {
                        "resourceType": "Organization",
                        "id": f"org-{sor}",
                        "identifier": [{"system": canonical.SYS_SOR, "value": sor}],
                        "endpoint": [
                            {
                                "reference": f"Endpoint/{ep_id}",
                                "identifier": {"system": gln_system, "value": ep.gln},
                            }
                        ],
                    }
                }
            )
    return json.dumps(
        {"resourceType": "Bundle", "type": "transaction", "entry": entries}, ensure_ascii=False
    ).encode()


def generate(units: int = 100_000, *, seed: int = 1, today: date, defects_per_rule: int = 2) -> SyntheticData:
    """A register of about `units` SOR units with `defects_per_rule` planted defects of every rule R01-R16."""
    builder = _Builder(seed, today)
    builder.build(units)
    builder.clean_eer()
    builder.plant(defects_per_rule)
    return SyntheticData(
        sor_xml=b"".join(_sor_chunks(builder.owners, today)),
        edi_csv=_edi_csv(builder.rows),
        eer_json=_eer_json(builder.endpoints),
        planted=tuple(builder.planted),
        units=builder.count,
        numbers=builder.gln_counter,
    )

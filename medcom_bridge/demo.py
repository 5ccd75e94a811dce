"""A demo of the conversion hub on data our own code makes (the repository never copies MedCom's files).

`medcom-bridge demo DIR` builds, in DIR (new or empty; a previous demo's folder is reset, any other refused):
* `sor.xml` — a SOR XML export (official format) naming a municipality and a hospital department;
* `edi.csv` — their SOR-EDI registrations: the municipality takes FHIR only (FDIS91, FCTL), the hospital
  OIOXML only (XDIS91, XBIN01, XCTL01-03);
* `spool/` — the hub's mailboxes, with a builder-made CareCommunication (text + a PDF) from the municipality
  to the hospital waiting in the municipality's `out/`, and the marker `spool/.medcom-bridge-demo`;
* `sample-envelope.xml` — a second letter in its VANSEnvelope, for a `POST /envelopes` by hand;
then runs the hub (`process`), lets the hospital's system read its `in/` and answer with XCTL03 receipts
(`EndSystem`), runs the hub again, and shows the one Acknowledgement that reached the municipality.

`EndSystem` plays a party's own system (reads its `in/`, writes receipts into its `out/`); the e2e tests use it
as well. Everything here is test and demo scaffolding around the hub, never part of the hub itself.
"""

from __future__ import annotations

import html
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medcom_bridge.directory import Party
from medcom_bridge.envelope import vans

MUNICIPALITY = Party("5790000121441", "328051000016008", "Social og Sundhed Odense Kommune", "66131372")
HOSPITAL = Party("5790001382445", "359001000016000", "MedCom testcenter, Medicinsk afdeling", "65432030")
FHIR_TYPES = ("FDIS91", "FCTL")
OIOXML_TYPES = ("XDIS91", "XBIN01", "XCTL01", "XCTL02", "XCTL03")
EDIFACT_TYPES = ("DIS91", "BIN01", "CTL01", "CTL02", "CTL03")
DEMO_NOW = datetime(2026, 1, 20, 8, 0, tzinfo=UTC)
MARKER = ".medcom-bridge-demo"
"""A file in the demo's spool: this spool and its database hold only demo data, so `process --advance` may run
ahead of the clock in it, and `demo` may reset it."""
SAMPLE_ENVELOPE = "sample-envelope.xml"
"""A second letter, for README's `curl ... --data-binary @FOLDER/sample-envelope.xml` to POST /envelopes."""
WRITTEN = ("spool", "sor.xml", "edi.csv", SAMPLE_ENVELOPE)
"""Everything `build` writes into its folder: what a reset removes (nothing else in the folder is touched)."""


def sor_xml(parties: Iterable[Party]) -> bytes:
    """A minimal SOR XML export (namespace urn:oio:sundhedsstyrelsen:organisation:1.0.0) naming `parties`."""
    owners = []
    for p in parties:
        phone = (
            "<VirtualAddressInformation><TelephoneNumberIdentifier>"
            f"{p.phone}</TelephoneNumberIdentifier></VirtualAddressInformation>"
            if p.phone
            else ""
        )
        owners.append(
            f"<InstitutionOwnerEntity><InstitutionOwner><SorIdentifier>{p.sor}</SorIdentifier>"
            f"<EntityName>{html.escape(p.name or p.ean)}</EntityName><OwnerType>550891000005100</OwnerType>"
            f"<EanLocationCodeEntity><EanLocationCode>{p.ean}</EanLocationCode>"
            "<OnlyInternalIndicator>false</OnlyInternalIndicator><NonActiveIndicator>false</NonActiveIndicator>"
            "<SorStatus><FromDate>2020-01-01</FromDate></SorStatus></EanLocationCodeEntity>"
            f"{phone}<SorStatus><FromDate>2020-01-01</FromDate></SorStatus></InstitutionOwner>"
            "</InstitutionOwnerEntity>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<SorTree xmlns="urn:oio:sundhedsstyrelsen:organisation:1.0.0">'
        "<CreatedAtTime>2026-01-01T00:00:00+01:00</CreatedAtTime><SnapshotDate>2026-01-01</SnapshotDate>"
        f"{''.join(owners)}</SorTree>"
    ).encode()


def edi_csv(registrations: Iterable[tuple[str, Sequence[str]]]) -> bytes:
    """SOR-EDI CSV (architecture.md §3.3): every type registered for both directions."""
    lines = ["ean,type,direction"]
    lines += [f"{ean},{t},both" for ean, types in registrations for t in types]
    return ("\n".join(lines) + "\n").encode()


def id_factory(seed: str = "demo") -> Callable[[], str]:
    """Reproducible UUID v4 strings (a demo that prints the same ids every time)."""
    counter = itertools.count(1)
    return lambda: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}:{next(counter)}"))


def carecommunication(
    sender: Party,
    receiver: Party,
    *,
    now: datetime,
    new_id: Callable[[], str],
    attachment: bytes | None = b"%PDF-1.4\n% demo\n",
    text: str = "Kære kollega.\nVi sender hermed epikrise.\nVenlig hilsen",
) -> bytes:
    """A CareCommunication 5.0 (FHIR JSON) made with our builder, from `sender` to `receiver`."""
    from medcom_bridge.fhir.builder import new_message
    from medcom_bridge.fhir.codec import to_json
    from medcom_bridge.fhir.content import Attachment, Classification, TextSegment
    from medcom_bridge.fhir.parties import Author, Organization, Patient

    def org(p: Party) -> Organization:
        assert p.sor is not None
        return Organization(sor=p.sor, ean=p.ean, name=p.name)

    author = Author(family="Hansen", given=("Hanne",), role_text="Sygeplejerske", phone="66131372")
    bundle = new_message(
        sender=org(sender),
        receiver=org(receiver),
        patient=Patient(cpr="2509479989", family="Elmer", given=("Bruno",)),
        classification=Classification(category="other", topic="Epikrise"),
        text=TextSegment(text=text, author=author),
        attachments=(
            [Attachment(title="Epikrise.pdf", content_type="application/pdf", data=attachment)]
            if attachment
            else []
        ),
        now=now,
        new_id=new_id,
    )
    return to_json(bundle)


def wrap(payload: bytes, sender: str, receiver: str, *, now: datetime, new_id: Callable[[], str]) -> bytes:
    return vans.wrap(
        payload, sender_ean=sender, receiver_ean=receiver, envelope_id=new_id(), message_id=new_id(), sent=now
    )


def drop(spool: Path, ean: str, name: str, data: bytes) -> Path:
    """Put a file into a party's out/ folder the way a sender must: write `name.tmp`, rename to `.xml`."""
    folder = spool / ean / "out"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{name}.tmp"
    tmp.write_bytes(data)
    return tmp.replace(folder / f"{name}.xml")


@dataclass(frozen=True, slots=True)
class Received:
    path: Path
    kind: str
    envelope: vans.Envelope


class EndSystem:
    """A party's own system: picks up its `in/` files and answers letters with receipts.

    OIOXML letters get XCTL03 (or XCTL02 with `negative`), EDIFACT letters CTL03 (or CTL02), CareCommunications
    an Acknowledgement (`ok` or `fatal-error`). Read files move to `read/` so they stay visible.
    """

    def __init__(self, spool: Path, party: Party, new_id: Callable[[], str]) -> None:
        self.spool = spool
        self.party = party
        self.new_id = new_id

    def pick_up(self) -> list[Received]:
        inbox = self.spool / self.party.ean / "in"
        read = self.spool / self.party.ean / "read"
        read.mkdir(parents=True, exist_ok=True)
        found = []
        for path in sorted(inbox.glob("*.xml")) if inbox.is_dir() else []:
            envelope = vans.unwrap(path.read_bytes())
            target = read / path.name
            path.replace(target)
            found.append(Received(target, envelope.payload_kind or "unknown", envelope))
        return found

    def receipt_for(self, received: Received, *, now: datetime, negative: bool = False) -> bytes | None:
        """The VANSEnvelope with this system's receipt for `received`, or None (receipts get none)."""
        payload = received.envelope.payload
        sender = received.envelope.sender.value
        if received.kind in ("xdis91", "xbin01"):
            from medcom_bridge.oioxml.codec import parse, serialize

            answer = serialize(self._xctl(parse(payload), now=now, negative=negative))
        elif received.kind in ("dis91", "bin01"):
            from medcom_bridge.edifact import edifact_twin, oioxml_twin

            answer = edifact_twin(self._xctl(oioxml_twin(payload), now=now, negative=negative))
        elif received.kind == "carecommunication":
            answer = self._ack(payload, now=now, negative=negative)
        else:
            return None
        return wrap(answer, self.party.ean, sender, now=now, new_id=self.new_id)

    def answer_all(self, *, now: datetime, negative: bool = False) -> list[Path]:
        written = []
        for received in self.pick_up():
            data = self.receipt_for(received, now=now, negative=negative)
            if data is not None:
                written.append(drop(self.spool, self.party.ean, f"receipt-{self.new_id()}", data))
        return written

    def _xctl(self, original: Any, *, now: datetime, negative: bool) -> Any:
        """The XCTL03 (or XCTL02) model for an XDIS91/XBIN01 model (or the twin of a DIS91/BIN01)."""
        from medcom_bridge.convert.rules import DANISH_TIME
        from medcom_bridge.oioxml.receipts import negative_receipt, positive_receipt

        local = now.astimezone(DANISH_TIME).replace(tzinfo=None)
        ids = self.new_id().replace("-", "")
        envelope_id, letter_id = ids[:14].upper(), ids[14:28].upper()
        if negative:
            return negative_receipt(
                original,
                refuse_code="ikke_specificeret",
                refuse_text="Modtager kan ikke behandle meddelelsen",
                now=local,
                envelope_identifier=envelope_id,
                letter_identifier=letter_id,
            )
        return positive_receipt(
            original, now=local, envelope_identifier=envelope_id, letter_identifier=letter_id
        )

    def _ack(self, payload: bytes, *, now: datetime, negative: bool) -> bytes:
        from medcom_bridge.fhir.builder import acknowledgement
        from medcom_bridge.fhir.codec import parse, to_json
        from medcom_bridge.fhir.content import Issue

        bundle, _ = parse(payload)
        if negative:
            issue = Issue(severity="error", code="invalid", text="Modtager kan ikke behandle meddelelsen")
            ack = acknowledgement(bundle, code="fatal-error", issues=[issue], now=now, new_id=self.new_id)
        else:
            ack = acknowledgement(bundle, code="ok", now=now, new_id=self.new_id)
        return to_json(ack)


@dataclass(frozen=True, slots=True)
class DemoFiles:
    root: Path
    spool: Path
    sor: Path
    edi: Path
    sample: Path


class NotADemoFolder(Exception):
    """The demo's folder holds something the demo did not make; str() says what to do instead."""


def is_demo_spool(spool: Path) -> bool:
    """True for a spool `build` made (its marker file is there)."""
    return (spool / MARKER).is_file()


def prepare(root: Path) -> bool:
    """Make `root` ready for `build`: a missing or empty folder is used as it is; a previous demo's folder is
    reset (the files the demo wrote are removed, anything else stays; True is returned); any other folder
    with something in it raises NotADemoFolder: the demo never writes over files it did not make."""
    import shutil

    if not root.exists():
        return False
    if not root.is_dir():
        raise NotADemoFolder(f"{root} is a file; give a new or empty folder")
    if not any(root.iterdir()):
        return False
    if not is_demo_spool(root / "spool"):
        raise NotADemoFolder(
            f"{root} is not empty and not a demo folder (no spool/{MARKER}); give a new or empty folder"
        )
    for name in WRITTEN:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    return True


def build(root: Path, *, now: datetime = DEMO_NOW, new_id: Callable[[], str] | None = None) -> DemoFiles:
    """Write the demo register and spool into `root`; the municipality's letter waits in its out/, and a
    second letter lies beside the spool as `sample-envelope.xml` for an HTTP POST."""
    ids = new_id or id_factory()
    root.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(root, root / "spool", root / "sor.xml", root / "edi.csv", root / SAMPLE_ENVELOPE)
    files.sor.write_bytes(sor_xml([MUNICIPALITY, HOSPITAL]))
    files.edi.write_bytes(edi_csv([(MUNICIPALITY.ean, FHIR_TYPES), (HOSPITAL.ean, OIOXML_TYPES)]))
    for party in (MUNICIPALITY, HOSPITAL):
        for sub in ("out", "in"):
            (files.spool / party.ean / sub).mkdir(parents=True, exist_ok=True)
    letter = carecommunication(MUNICIPALITY, HOSPITAL, now=now, new_id=ids)
    drop(
        files.spool,
        MUNICIPALITY.ean,
        "letter-1",
        wrap(letter, MUNICIPALITY.ean, HOSPITAL.ean, now=now, new_id=ids),
    )
    (files.spool / MARKER).write_text(
        "Made by `medcom-bridge demo`: demo data only (process --advance may run ahead of time here).\n",
        encoding="utf-8",
    )
    sample_ids = id_factory("sample-envelope")
    sample = carecommunication(
        MUNICIPALITY, HOSPITAL, now=now, new_id=sample_ids, text="Kære kollega.\nEt brev sendt over HTTP."
    )
    files.sample.write_bytes(wrap(sample, MUNICIPALITY.ean, HOSPITAL.ean, now=now, new_id=sample_ids))
    return files


def describe(received: Received) -> str:
    """One line about a delivered file: kind, parties and, for receipts, the verdict (never patient data)."""
    envelope = received.envelope
    line = f"{received.kind:<17} {envelope.sender.value} -> {envelope.receiver.value}  {received.path.name}"
    if received.kind == "acknowledgement":
        from medcom_bridge.fhir.codec import parse

        bundle, _ = parse(envelope.payload)
        code = bundle["entry"][0]["resource"].get("response", {}).get("code")
        line += f"  response.code={code}"
    return line


def summary_json(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True)

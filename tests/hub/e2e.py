"""End-to-end scaffolding: a real spool, a real register (SOR XML + SOR-EDI CSV), the real hub
(`wiring.build_hub`), real messages (MedCom's Flow1 XDIS91/XBIN01 with fresh ids, builder-made
CareCommunications) and the parties' own systems answering with real receipts (`demo.EndSystem`)."""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from medcom_bridge import demo
from medcom_bridge.directory import Party
from medcom_bridge.edifact import edifact_twin
from medcom_bridge.envelope import vans
from medcom_bridge.fhir import codec as fhir_codec
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.events import TraceEvent
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.hub.wiring import DB_FILE, build_hub
from medcom_bridge.oioxml import codec as oio_codec
from tests.conftest import DATA

FLOWS = DATA / "conversion" / "flows"
XDIS91_FLOW1 = (FLOWS / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes()
XBIN01_FLOW1 = (FLOWS / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes()
FLOW1_SENDER, FLOW1_RECEIVER = "5790001382445", "5790000121441"
FLOW1_IDS = {  # the ids a variant replaces (Flow1 XDIS91 and XBIN01)
    "xdis_envelope": b"KuvNrerwerwe99",
    "xdis_letter": b"Brevt23400929",
    "xbin_envelope": b"MEDBIN62529",
    "xbin_letter": b"031120PWE62528",
}
FLOW1_OBJECT = "c39ea6b2-6052-45e4-a207-415e0205ab6f"

# Parties (location numbers with valid check digits). OIO/FHIR are MedCom's Flow1 parties.
OIO = Party(FLOW1_SENDER, "359001000016000", "MedCom testcenter", "65432030")
FHIR = Party(FLOW1_RECEIVER, "328051000016008", "Social og Sundhed Odense Kommune", "66131372")
OIO2 = Party("5790000000012", "100001000016001", "Sygehus XML afdeling", "11111111")
FHIR2 = Party("5790000000029", "100002000016009", "Kommune FHIR afdeling", "22222222")
NOXBIN = Party("5790000000036", "100003000016004", "Praksis uden XBIN01", "33333333")
DNHF = Party("5790000000043", "100004000016000", "Henvisningshotellet DNHF", "44444444")
EDI = Party("5790000000067", "100005000016005", "Praksis kun EDIFACT", "55555555")
UNKNOWN = "5790000000050"
OIOXML_NO_XBIN = ("XDIS91", "XCTL01", "XCTL02", "XCTL03")

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def register_files(folder: Path) -> tuple[Path, Path]:
    sor = folder / "sor.xml"
    edi = folder / "edi.csv"
    sor.write_bytes(demo.sor_xml([OIO, FHIR, OIO2, FHIR2, NOXBIN, DNHF, EDI]))
    edi.write_bytes(
        demo.edi_csv(
            [
                (OIO.ean, demo.OIOXML_TYPES),
                (OIO2.ean, demo.OIOXML_TYPES),
                (FHIR.ean, demo.FHIR_TYPES),
                (FHIR2.ean, demo.FHIR_TYPES),
                (NOXBIN.ean, OIOXML_NO_XBIN),
                (DNHF.ean, demo.OIOXML_TYPES),
                (EDI.ean, demo.EDIFACT_TYPES),
            ]
        )
    )
    return sor, edi


def counter_ids(prefix: str) -> Callable[[], str]:
    count = itertools.count(1)
    return lambda: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}:{next(count)}"))


@dataclass
class Pair:
    """One XDIS91 + XBIN01 pair made from Flow1 with fresh ids (and, optionally, other parties)."""

    xdis91: bytes
    xbin01: bytes
    xdis_letter: str
    xbin_letter: str
    object_id: str


@dataclass
class World:
    root: Path
    spool: Path
    sor: Path
    edi: Path
    clock: ManualClock
    hub: Hub
    ids: Callable[[], str]
    n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- running ----------------------------------------------------------------------------------------------
    def run(self) -> Summary:
        from medcom_bridge.cli.hub import run_until_idle

        return run_until_idle(self.hub)

    def advance(self, **kwargs: float) -> None:
        self.clock.advance(timedelta(**kwargs))

    # -- sending ----------------------------------------------------------------------------------------------
    def send(self, sender: str, receiver: str, payload: bytes, *, envelope_id: str | None = None) -> bytes:
        data = vans.wrap(
            payload,
            sender_ean=sender,
            receiver_ean=receiver,
            envelope_id=envelope_id or self.ids(),
            message_id=self.ids(),
            sent=self.clock.now(),
        )
        self.drop(sender, data)
        return data

    def drop(self, mailbox: str, data: bytes) -> None:
        demo.drop(self.spool, mailbox, f"m{next(self.n):05d}", data)

    def pair(self, sender: Party = OIO, receiver: Party = FHIR) -> Pair:
        return make_pair(
            next(self.n), str(uuid.uuid5(uuid.NAMESPACE_URL, f"obj:{self.ids()}")), sender, receiver
        )

    def carecommunication(
        self, sender: Party = FHIR, receiver: Party = OIO, *, attachment: bool = True
    ) -> bytes:
        return demo.carecommunication(
            sender,
            receiver,
            now=self.clock.now(),
            new_id=self.ids,
            attachment=b"%PDF-1.4\n%x\n" if attachment else None,
        )

    # -- the parties' systems ----------------------------------------------------------------------------------
    def system(self, party: Party) -> demo.EndSystem:
        return demo.EndSystem(self.spool, party, self.ids)

    def inbox(self, party: Party | str) -> list[demo.Received]:
        """What the hub delivered to `party` since the last look (moved to read/)."""
        ean = party if isinstance(party, str) else party.ean
        return demo.EndSystem(self.spool, Party(ean), self.ids).pick_up()

    def answer(self, party: Party, received: demo.Received, *, negative: bool = False) -> None:
        data = self.system(party).receipt_for(received, now=self.clock.now(), negative=negative)
        assert data is not None
        self.drop(party.ean, data)

    # -- looking ----------------------------------------------------------------------------------------------
    def flows(self) -> list[str]:
        with self.hub.store.transaction() as tx:
            return tx.find_flows()

    def state(self, flow_id: str) -> str:
        with self.hub.store.transaction() as tx:
            return tx.flow(flow_id, lock=False).state.value

    def events(self, flow_id: str) -> list[TraceEvent]:
        with self.hub.store.transaction() as tx:
            return tx.events(flow_id)

    def quarantined(self) -> list[tuple[Path, str]]:
        return self.hub.spool.quarantined()


def make_pair(k: int, obj: str, sender: Party = OIO, receiver: Party = FHIR) -> Pair:
    """MedCom's Flow1 XDIS91 + XBIN01 with ids made from `k`, attachment object id `obj`, other parties."""
    values = {name: f"{name[:4].upper()}{k:08d}"[:14].encode() for name in FLOW1_IDS}
    xdis, xbin = XDIS91_FLOW1, XBIN01_FLOW1
    for name, old in FLOW1_IDS.items():
        xdis, xbin = xdis.replace(old, values[name]), xbin.replace(old, values[name])
    xdis = xdis.replace(FLOW1_OBJECT.replace("-", "").encode(), obj.replace("-", "").encode())
    xbin = xbin.replace(FLOW1_OBJECT.encode(), obj.encode())
    for old_ean, new_ean in ((FLOW1_SENDER, sender.ean), (FLOW1_RECEIVER, receiver.ean)):
        xdis = xdis.replace(old_ean.encode(), new_ean.encode())
        xbin = xbin.replace(old_ean.encode(), new_ean.encode())
    return Pair(xdis, xbin, values["xdis_letter"].decode(), values["xbin_letter"].decode(), obj)


def edifact_pair(pair: Pair) -> tuple[bytes, bytes]:
    """The DIS91 + BIN01 twins of a Flow1 pair (same ids), as an EDIFACT-only sender's system writes them."""
    return edifact_twin(pair.xdis91), edifact_twin(pair.xbin01)


def without_attachments(xdis91: bytes) -> bytes:
    """The XDIS91 with its Reference (to the XBIN01) cut out: a letter that is converted at once."""
    start = xdis91.index(b"<Reference>")
    end = xdis91.index(b"</Reference>") + len(b"</Reference>")
    return xdis91[:start] + xdis91[end:]


def kinds(received: list[demo.Received]) -> list[str]:
    return sorted(r.kind for r in received)


def fhir_of(received: demo.Received) -> dict[str, Any]:
    bundle, _ = fhir_codec.parse(received.envelope.payload)
    return bundle


def header(bundle: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = bundle["entry"][0]["resource"]
    return resource


def oioxml_of(received: demo.Received) -> Any:
    return oio_codec.parse(received.envelope.payload)


def make_world(root: Path, db_url: str | None, schema: str | None, sqlite_template: Path | None) -> World:
    spool = root / "spool"
    spool.mkdir(parents=True)
    if db_url is None and sqlite_template is not None:
        shutil.copyfile(sqlite_template, spool / DB_FILE)  # migrations once per session, not per test
    sor, edi = register_files(root)
    clock = ManualClock(START)
    hub = build_hub(spool, sor, edi, db_url, clock, referral_hubs=(DNHF.ean,), schema=schema)
    return World(root, spool, sor, edi, clock, hub, counter_ids(root.name))

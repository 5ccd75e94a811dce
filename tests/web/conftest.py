"""Web fixtures: a real hub (build_hub: real envelope reader, register, converter) over a temporary spool,
on SQLite and on the PostgreSQL server of this machine (an isolated schema per run), with a manual clock."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from medcom_bridge.envelope.vans import wrap
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.schema import metadata
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store, make_engine
from medcom_bridge.hub.wiring import build_hub
from medcom_bridge.security import tokens
from medcom_bridge.web import create_app
from tests.conftest import DATA

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SOR = DATA / "sor" / "sor-xml" / "trifork-sdm_ONE_PRAKSIS.xml"
FLOW3 = DATA / "conversion" / "flows" / "CareCommunication_medcom_flow3_to_OIOXML.xml"
FHIR_SENDER = "5790001382445"  # MessageHeader.source of MedCom's flow 3
OIOXML_RECEIVER = "5790000121441"  # its destination, registered for OIOXML only
UNKNOWN_RECEIVER = "5790000000050"
START = datetime(2026, 1, 20, 8, 0, tzinfo=UTC)

EDI = f"""ean,type,direction
{FHIR_SENDER},FDIS91,both
{FHIR_SENDER},FCTL,both
{OIOXML_RECEIVER},XDIS91,both
{OIOXML_RECEIVER},XBIN01,both
{OIOXML_RECEIVER},XCTL01,both
{OIOXML_RECEIVER},XCTL02,both
{OIOXML_RECEIVER},XCTL03,both
"""


FLOW3_HEADER_ID = "080d88be-177c-42a4-9124-de4e73ad485a"
FLOW3_BUNDLE_ID = "1d6a942e-7e9e-42e4-8dbb-09a608b56c8c"


def letter(header_id: str | None = None) -> bytes:
    """MedCom's flow-3 CareCommunication, as a new letter when given a new MessageHeader id."""
    data = FLOW3.read_bytes()
    if header_id is None:
        return data
    return data.replace(FLOW3_HEADER_ID.encode(), header_id.encode()).replace(
        FLOW3_BUNDLE_ID.encode(), str(uuid.uuid4()).encode()
    )


def envelope(
    payload: bytes | None = None,
    *,
    envelope_id: str | None = None,
    sender: str = FHIR_SENDER,
    receiver: str = OIOXML_RECEIVER,
) -> bytes:
    """A VANSEnvelope around MedCom's flow-3 CareCommunication (or `payload`)."""
    return wrap(
        payload if payload is not None else letter(),
        sender_ean=sender,
        receiver_ean=receiver,
        envelope_id=envelope_id or str(uuid.uuid4()),
        message_id=str(uuid.uuid4()),
        sent=START,
    )


@pytest.fixture(scope="session")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The real hub once per session (register loaded, SQLite template migrated); tests borrow its parts."""
    folder = tmp_path_factory.mktemp("web-hub")
    edi = folder / "edi.csv"
    edi.write_text(EDI)
    built = build_hub(
        folder / "spool", SOR, edi, f"sqlite:///{folder / 'template.sqlite'}", ManualClock(START)
    )
    with built.store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    built.store.close()
    yield built


@pytest.fixture(scope="session")
def pg_schema(parts: Hub) -> Iterator[str]:
    schema = f"web_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    Store.open(PG_URL, schema=schema).close()
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock, parts: Hub) -> Iterator[Hub]:
    if request.param == "sqlite":
        shutil.copyfile(parts.spool.root.parent / "template.sqlite", tmp_path / "hub.sqlite")
        store = Store(make_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}"))
    else:
        store = Store(make_engine(PG_URL, schema=request.getfixturevalue("pg_schema")))
        with store.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name != "audit_log":  # append-only (the database refuses): tests filter by actor
                    conn.execute(table.delete())
    built = Hub(
        Spool(tmp_path / "spool"),
        store,
        clock,
        parts.identifier,
        parts.router,
        converter=parts.converter,
        answers=parts.answers,
    )
    yield built
    store.close()


BASE = "https://127.0.0.1"
"""The test clients' address: a trusted host of the default settings; https so Secure cookies are sent."""


def token_for(store: Store, role: str = "admin", organisations: tuple[str, ...] = ()) -> str:
    """A new API token of `role` in the hub's database (as `medcom-bridge token create` makes one)."""
    with store.engine.begin() as conn:
        return tokens.create(conn, f"{role}-{uuid.uuid4().hex[:8]}", role, organisations, START)


def api_client(app: Any, token: str | None, **kwargs: Any) -> TestClient:
    """A client of `app` that sends `token` as its bearer credential (None: no credentials)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(app, base_url=BASE, headers=headers, **kwargs)


def admin_client(hub_or_store: Hub | Store, **kwargs: Any) -> TestClient:
    """A client of a new app over `hub_or_store` (create_app options in `kwargs`) signed in as an admin."""
    store = hub_or_store.store if isinstance(hub_or_store, Hub) else hub_or_store
    client_options = {k: kwargs.pop(k) for k in ("raise_server_exceptions",) if k in kwargs}
    return api_client(create_app(hub_or_store, **kwargs), token_for(store), **client_options)


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return admin_client(hub)


REFUSE_CODE = "syntaksfejl"
REFUSE_TEXT = "Brevet til 251248-9996 kunne ikke læses: ukendt element 'Break'"
"""A receiver's refusal quoting a CPR number (as OS2korrespondance's XCTL02 quotes the letter)."""
MASKED_TEXT = "Brevet til 25xxxx-xxxx kunne ikke læses: ukendt element 'Break'"


def refusals(
    spool: Path,
    receiver: str = OIOXML_RECEIVER,
    *,
    now: datetime = START,
    text: str = REFUSE_TEXT,
    code: str = REFUSE_CODE,
) -> list[bytes]:
    """The receiver's OIOXML system refuses every letter the hub delivered to it: one XCTL02 (RefuseCode
    `code`, RefuseText `text`) per delivered XDIS91 and XBIN01, each in a VANSEnvelope, ready
    to drop into the receiver's out/ or to POST (the delivered files move to read/)."""
    from medcom_bridge.convert.rules import DANISH_TIME
    from medcom_bridge.demo import EndSystem
    from medcom_bridge.directory import Party
    from medcom_bridge.oioxml.codec import parse, serialize
    from medcom_bridge.oioxml.receipts import negative_receipt

    answers = []
    for received in EndSystem(spool, Party(receiver), lambda: str(uuid.uuid4())).pick_up():
        if received.kind not in ("xdis91", "xbin01"):
            continue
        ids = uuid.uuid4().hex.upper()
        xctl = negative_receipt(
            parse(received.envelope.payload),
            refuse_code=code,
            refuse_text=text,
            now=now.astimezone(DANISH_TIME).replace(tzinfo=None),
            envelope_identifier=ids[:14],
            letter_identifier=ids[14:28],
        )
        answers.append(envelope(serialize(xctl), sender=receiver, receiver=received.envelope.sender.value))
    return answers

"""HTTP intake under stress: bodies received in pieces with the limit enforced while reading (a 1 GB chunked
upload to a real server is refused after just over the limit, and the server's memory stays flat), and every
route answering 503 JSON with Retry-After while the database cannot be reached (real stores made unavailable)."""

from __future__ import annotations

import asyncio
import hashlib
import select
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store, make_engine
from medcom_bridge.web import create_app
from medcom_bridge.web.app import RETRY_AFTER_SECONDS
from medcom_bridge.web.intake import MAX_BODY, IntakeRefused, receive_body
from tests.web.conftest import EDI, FHIR_SENDER, SOR, admin_client, api_client, envelope
from tests.web.test_serve import REPO, cli_token, free_port, stop_gracefully, wait_for

SOME_TOKEN = "mcb_" + "x" * 43  # well-formed: looking it up needs the database


# -- receiving a body ------------------------------------------------------------------------------------------
class Pieces:
    """An async body source that counts what was taken from it."""

    def __init__(self, pieces: int, size: int) -> None:
        self.pieces, self.size, self.taken = pieces, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        for n in range(self.pieces):
            self.taken += 1
            yield bytes([n % 256]) * self.size


def test_a_body_within_the_limit_is_kept_whole_with_its_hash() -> None:
    source = Pieces(10, 1000)
    body = asyncio.run(receive_body(source.__aiter__(), limit=10_000, threshold=4096))
    with body:
        expected = b"".join(bytes([n]) * 1000 for n in range(10))
        assert (body.size, body.sha256) == (10_000, hashlib.sha256(expected).hexdigest())
        assert body.read() == expected == b"".join(body.chunks(chunk=3000))


def test_a_body_over_the_limit_is_refused_as_soon_as_it_passes_it() -> None:
    source = Pieces(1_000_000, 1000)  # a gigabyte, if anyone read it all
    with pytest.raises(IntakeRefused) as caught:
        asyncio.run(receive_body(source.__aiter__(), limit=10_000))
    assert (caught.value.status, caught.value.rule) == (413, "http-too-large")
    assert source.taken == 11  # the piece that passed the limit, and not one more


def test_the_default_limit_takes_medcoms_100_mb_letter_in_an_envelope() -> None:
    assert MAX_BODY >= 100 * 1024 * 1024 * 4 // 3  # base64 of 100 MB, before the envelope around it


def test_a_chunked_body_without_a_length_is_refused_by_the_limit(hub: Hub) -> None:
    client = admin_client(hub, max_body=5000)
    data = envelope()
    response = client.post(
        "/envelopes",
        content=iter([data[i : i + 1000] for i in range(0, len(data), 1000)]),
        headers={"content-type": "application/xml"},
    )
    assert response.status_code == 413 and response.json()["error"] == "http-too-large"
    assert not list(hub.spool.root.glob("*/out/*"))
    # and a body within the limit, chunked all the same, is taken
    response = admin_client(hub).post("/envelopes", content=iter([data[:100], data[100:]]))
    assert response.status_code == 202, response.text


# -- a real server, a gigabyte sent at it ----------------------------------------------------------------------
def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def chunked_upload(port: int, token: str, total: int, piece: int) -> tuple[int, bytes]:
    """Send a chunked POST of `total` bytes (stopping when the server answers); bytes sent and the answer."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST /envelopes?mailbox={FHIR_SENDER} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = f"{piece:x}\r\n".encode() + b"<" * piece + b"\r\n"
    sock.setblocking(False)
    sent, answer, view = 0, b"", memoryview(chunk)
    deadline = time.monotonic() + 120
    try:
        while sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                break
            if writable:
                try:
                    n = sock.send(view)
                except BlockingIOError:
                    continue
                sent += n
                view = view[n:] or memoryview(chunk)
        sock.setblocking(True)
        sock.settimeout(10)
        try:
            while part := sock.recv(65536):
                answer += part
                if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    return sent, answer


@pytest.mark.slow
def test_a_gigabyte_upload_is_refused_after_the_limit_without_the_server_growing(tmp_path: Path) -> None:
    edi = tmp_path / "edi.csv"
    edi.write_text(EDI)
    limit = 8 * 1024 * 1024
    port = free_port()
    command = [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(tmp_path / "spool")]
    command += ["--sor", str(SOR), "--edi", str(edi), "--port", str(port), "--max-body", str(limit)]
    token = cli_token(tmp_path / "spool")
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/health").json()["loop"]["running"])
        before = vm_kib(process.pid, "VmRSS")
        sent, answer = chunked_upload(port, token, total=1 << 30, piece=256 * 1024)
        peak = vm_kib(process.pid, "VmHWM")
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b'"error":"http-too-large"' in answer and b"application/json" in answer
        # Refused after reading just past the limit: what was sent beyond it sits in socket buffers only.
        assert sent < limit + 32 * 1024 * 1024, f"{sent} bytes went in before the refusal"
        assert peak - before < 64 * 1024, f"the server grew from {before} KiB to a peak of {peak} KiB"
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200  # and it goes on serving
    finally:
        text = stop_gracefully(process)
    assert "Traceback" not in text
    assert not list((tmp_path / "spool").glob("*/out/*"))


# -- the database down ------------------------------------------------------------------------------------------
@pytest.fixture(params=["postgres-port-closed", "sqlite-file-unopenable"])
def dead_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A real store that cannot be reached: PostgreSQL on a port where nothing listens, or an SQLite database
    whose file is a folder (as if the disk behind it were gone). No server is mocked."""
    if request.param == "postgres-port-closed":
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    else:
        folder = tmp_path / "hub.sqlite"
        folder.mkdir()
        url = f"sqlite:///{folder}"
    store = Store(make_engine(url))
    yield store
    store.close()


ROUTES = [
    "/flows",
    "/flows?state=quarantined",
    "/flows/some-flow",
    "/flows/some-flow/events",
    "/flows/some-flow/messages/m",
    "/stats/monthly",
    "/ui",
    "/ui/flows",
    "/ui/flows/some-flow",
    "/ui/stats",
]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "store-unavailable" and body["retry_after"] == RETRY_AFTER_SECONDS
    assert "try again" in body["message"]


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_answers_503_json_while_the_database_is_down(dead_store: Store, route: str) -> None:
    client = api_client(create_app(dead_store), SOME_TOKEN, raise_server_exceptions=False)
    assert_unavailable(client.get(route))


def test_health_says_unavailable_with_retry_after(dead_store: Store) -> None:
    response = api_client(create_app(dead_store), None).get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)


def test_a_post_while_the_database_is_down_is_503_and_stores_nothing(
    dead_store: Store, tmp_path: Path, parts: Hub, clock: ManualClock
) -> None:
    hub = Hub(
        Spool(tmp_path / "spool"),
        dead_store,
        clock,
        parts.identifier,
        parts.router,
        converter=parts.converter,
        answers=parts.answers,
    )
    client = api_client(create_app(hub), SOME_TOKEN, raise_server_exceptions=False)
    response = client.post("/envelopes", content=envelope(), headers={"content-type": "application/xml"})
    assert_unavailable(response)
    assert not list((tmp_path / "spool").glob("*/out/*"))  # not taken: the client posts again later
    assert not (tmp_path / "spool" / "quarantine").exists()  # and never turned into a rejection

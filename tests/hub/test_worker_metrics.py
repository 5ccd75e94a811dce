"""`medcom-bridge worker --metrics-port`: a real worker process (PostgreSQL + the local RabbitMQ, a virtual host
and schema of this test) serves its own counters on 127.0.0.1 while it works, and stops with SIGTERM (exit 0)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.hub.broker_scenario import RABBITMQCTL, Rabbit
from tests.hub.e2e import FHIR, OIO, START, World, make_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(RABBITMQCTL is None, reason="rabbitmqctl is not installed"),
]

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def rabbit() -> Iterator[Rabbit]:
    own = Rabbit()
    yield own
    own.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[World, str]]:
    schema = f"hub_wm_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    made = make_world(tmp_path, PG_URL, schema, None)
    made.hub.close()
    try:
        yield made, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def created(port: int) -> float | None:
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "medcom_bridge_flows_created_total":
                return sample.value
    return None


def test_worker_serves_its_counters_on_loopback(world: tuple[World, str], rabbit: Rabbit) -> None:
    made, schema = world
    port = free_port()
    made.send(FHIR.ean, OIO.ean, made.carecommunication(FHIR, OIO))
    command = [sys.executable, "-m", "medcom_bridge", "worker", "--spool", str(made.spool)]
    command += ["--sor", str(made.sor), "--edi", str(made.edi), "--now", START.isoformat()]
    command += ["--db", f"{PG_URL}?options=-csearch_path%3D{schema}", "--broker", rabbit.url]
    command += ["--metrics-port", str(port)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (created(port) or 0) < 1:
            time.sleep(0.3)
        assert created(port) == 1
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output.decode()[-2000:]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_busy_metrics_port_exits_2(world: tuple[World, str], rabbit: Rabbit) -> None:
    made, schema = world
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "medcom_bridge", "worker", "--spool", str(made.spool)]
        command += ["--sor", str(made.sor), "--edi", str(made.edi)]
        command += ["--db", f"{PG_URL}?options=-csearch_path%3D{schema}", "--broker", rabbit.url]
        command += ["--metrics-port", str(port)]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"--metrics-port: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr

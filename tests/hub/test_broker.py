"""The hub on PostgreSQL + RabbitMQ (issue 10), against the real broker on 127.0.0.1:5672 (a virtual host of
this test run, deleted afterwards) and the real database (a schema of this run): the outbox is published only
after its transaction commits, a message redelivered after its consumer died repeats no effect, a poison
message is dead-lettered and recorded on its flow, and three workers under SIGKILLs, a broker outage and
terminated database connections lose and repeat nothing."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from sqlalchemy import create_engine, text

from medcom_bridge.cli import app
from medcom_bridge.hub.broker import DELIVERY_LIMIT, Broker, dead_queue, queue_name
from medcom_bridge.hub.events import Step
from medcom_bridge.hub.outbox import relay
from medcom_bridge.hub.runner import Summary
from medcom_bridge.hub.store import FlowInfo
from medcom_bridge.hub.work import Hint, WorkStep
from medcom_bridge.hub.worker import Worker
from tests.hub import broker_scenario
from tests.hub.broker_scenario import RABBITMQCTL, Rabbit
from tests.hub.e2e import FHIR, OIO, START, World, make_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(RABBITMQCTL is None, reason="rabbitmqctl is not installed"),
]

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SEED = int(os.environ.get("HUB_BROKER_SEED", "20261205"))


@pytest.fixture(scope="module")
def rabbit() -> Iterator[Rabbit]:
    own = Rabbit()
    yield own
    own.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A hub with an outbox on a schema of its own (and a prefix of its own on the broker)."""
    schema = f"hub_broker_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    made = make_world(tmp_path, PG_URL, schema, None)
    made.hub.store.outbox = True
    made.hub.prefix = schema  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        made.hub.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def send_letter(world: World) -> None:
    world.send(FHIR.ean, OIO.ean, world.carecommunication(FHIR, OIO))


def prefix(world: World) -> str:
    return str(world.hub.prefix)  # type: ignore[attr-defined]


def depth(rabbit: Rabbit, world: World) -> dict[str, int]:
    broker = Broker(rabbit.url, prefix=prefix(world))
    try:
        return broker.depths()
    finally:
        broker.close()


def drain(rabbit: Rabbit, world: World, *, idle: float = 1.5, timeout: float = 60) -> Worker:
    """Run a worker in this process until the queues are empty and it has done nothing for `idle` seconds."""
    worker = Worker(world.hub, rabbit.url, prefix=prefix(world), sweep=3600)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        last, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = (worker.summary.taken, worker.summary.converted, worker.summary.delivered)
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since > idle and not any(
                v for k, v in depth(rabbit, world).items() if not k.endswith(".dead")
            ):
                break
    finally:
        worker.stop.set()
        thread.join(30)
    assert not thread.is_alive()
    return worker


def outbox_rows(world: World) -> list[tuple[str, str]]:
    with world.hub.store.transaction() as tx:
        return sorted(
            (str(f), str(s)) for f, s in tx.conn.execute(text("SELECT flow_id, step FROM hub_outbox")).all()
        )


def test_outbox_is_published_after_commit_only(rabbit: Rabbit, world: World) -> None:
    store = world.hub.store
    broker = Broker(rabbit.url, prefix=prefix(world))
    try:
        with pytest.raises(RuntimeError), store.transaction() as tx:
            flow = tx.create_flow(START, FlowInfo(sender_gln=OIO.ean))
            tx.work(flow.id, WorkStep.CONVERT, START)
            raise RuntimeError("rolled back")
        assert relay(store, broker.publish) == 0  # a rolled-back transaction left nothing to publish
        with store.transaction() as tx:
            flow = tx.create_flow(START, FlowInfo(sender_gln=OIO.ean))
            tx.work(flow.id, WorkStep.CONVERT, START)
            tx.work(flow.id, WorkStep.CONVERT, START)  # the same work twice in one transaction: one row
            tx.flush()
            # Written, not committed: another relay sees nothing and publishes nothing.
            assert relay(store, broker.publish) == 0
            assert broker.depths()[queue_name(WorkStep.CONVERT, prefix(world))] == 0
        assert relay(store, broker.publish) == 1
        assert outbox_rows(world) == []  # confirmed by the broker: the row is gone
        assert broker.depths()[queue_name(WorkStep.CONVERT, prefix(world))] == 1
    finally:
        broker.close()


def test_the_hub_writes_its_work_to_the_outbox_in_the_same_transaction(world: World) -> None:
    send_letter(world)
    summary = _summary()
    world.hub.take_all(world.hub.spool.waiting(), summary)
    [flow] = world.flows()
    assert outbox_rows(world) == [(flow, "convert")]
    world.hub.convert_due(summary)
    assert outbox_rows(world) == [(flow, "convert"), (flow, "deliver")]


def _summary() -> Summary:
    return Summary()


def test_redelivery_after_a_consumer_died_repeats_no_effect(rabbit: Rabbit, world: World) -> None:
    for _ in range(3):
        send_letter(world)
    world.hub.take_all(world.hub.spool.waiting(), _summary())
    broker = Broker(rabbit.url, prefix=prefix(world))
    relay(world.hub.store, broker.publish)
    broker.close()
    # A consumer takes every hint and dies without acking: the broker hands them back.
    params = pika.URLParameters(rabbit.url)
    dying = pika.BlockingConnection(params)
    channel = dying.channel()
    method, _, body = channel.basic_get(queue_name(WorkStep.CONVERT, prefix(world)), auto_ack=False)
    assert method is not None and sorted(Hint.decode(body).keys) == sorted(world.flows())  # one message
    dying.close()  # like a SIGKILL: the socket goes, nothing was acked
    worker = drain(rabbit, world)
    assert worker.summary.converted == 3 and worker.summary.delivered == 6
    delivered = sorted(p.name for p in (world.spool / OIO.ean / "in").glob("*.xml"))
    assert len(delivered) == 6  # XDIS91 + XBIN01 per letter
    events = {f: len(world.events(f)) for f in world.flows()}
    # The same hints again (a relay that died between the broker's confirm and its commit): nothing happens.
    broker = Broker(rabbit.url, prefix=prefix(world))
    for flow in world.flows():
        broker.publish(Hint(WorkStep.CONVERT, (flow,)))
        broker.publish(Hint(WorkStep.DELIVER, (flow,)))
    broker.close()
    again = drain(rabbit, world)
    assert again.summary.converted == again.summary.delivered == 0
    assert sorted(p.name for p in (world.spool / OIO.ean / "in").glob("*.xml")) == delivered
    assert {f: len(world.events(f)) for f in world.flows()} == events


def test_a_poison_message_is_dead_lettered_and_recorded(rabbit: Rabbit, world: World) -> None:
    send_letter(world)
    world.hub.take_all(world.hub.spool.waiting(), _summary())
    [flow] = world.flows()
    broker = Broker(rabbit.url, prefix=prefix(world))
    broker.publish(Hint(WorkStep.DELIVER, (flow,)))
    broker._out.basic_publish("", queue_name(WorkStep.CONVERT, prefix(world)), b"\x00 not a hint")
    broker.close()
    # A consumer that fails on the hint every time: after DELIVERY_LIMIT deliveries it is dead-lettered.
    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    channel = conn.channel()
    for _ in range(DELIVERY_LIMIT + 2):
        method, _, _ = channel.basic_get(queue_name(WorkStep.DELIVER, prefix(world)), auto_ack=False)
        if method is None:
            break
        channel.basic_nack(method.delivery_tag, requeue=True)
    conn.close()
    assert depth(rabbit, world)[queue_name(WorkStep.DELIVER, prefix(world))] == 0
    assert depth(rabbit, world)[dead_queue(prefix(world))] == 1
    worker = drain(rabbit, world)
    # The garbage went straight to the dead letters too; both were taken off it and reported, not looped on.
    assert worker.dead_lettered == 1
    assert depth(rabbit, world)[dead_queue(prefix(world))] == 0
    alerts = [e for e in world.events(flow) if e.step == Step.ALERT]
    assert len(alerts) == 1 and "dead-lettered" in (alerts[0].reason or "")


def test_process_with_an_unreachable_broker_keeps_the_work_in_the_outbox(
    rabbit: Rabbit, world: World
) -> None:
    from typer.testing import CliRunner

    send_letter(world)
    schema = prefix(world)
    db = f"{PG_URL}?options=-csearch_path%3D{schema}"
    common = ["process", "--spool", str(world.spool), "--sor", str(world.sor), "--edi", str(world.edi)]
    common += ["--db", db, "--now", "2026-03-02T09:00:00Z", "--json"]
    result = CliRunner().invoke(app, [*common, "--broker", "amqp://guest:guest@127.0.0.1:1/none"])
    assert result.exit_code == 0, result.output
    assert "broker unreachable" in result.output
    [flow] = world.flows()
    assert outbox_rows(world) == [(flow, "convert")]  # taken and committed; the conversion is the workers'
    assert world.state(flow) == "converting"
    result = CliRunner().invoke(app, [*common, "--broker", rabbit.url])
    assert result.exit_code == 0, result.output
    assert outbox_rows(world) == []


@pytest.mark.slow
def test_three_workers_with_kills_and_outages_lose_nothing_and_repeat_nothing(
    rabbit: Rabbit, tmp_path: Path
) -> None:
    report = broker_scenario.run(
        tmp_path, rabbit, flows_each_way=30, workers=3, kills=2, connection_kills=2, outages=1, seed=SEED
    )
    print(report)
    assert report.missing == {} and report.duplicates == {}, report
    # Faults land only while the workers work; a fast phase may end before the last of them.
    assert report.outages >= 1 and report.kills >= 2 and report.connection_kills >= 1, report
    assert set(report.sigterm_exit_codes) == {0}, report


def test_the_intake_round_of_serve_publishes_the_work_and_health_reports_the_broker(
    rabbit: Rabbit, world: World
) -> None:
    from medcom_bridge.hub.service import HubService
    from medcom_bridge.hub.worker import BrokerIntake

    send_letter(world)
    intake = BrokerIntake(world.hub, rabbit.url, prefix=prefix(world))
    try:
        summary = intake.run_once()
    finally:
        intake.close()
    assert summary.taken == 1 and intake.relayed == 1
    [flow] = world.flows()
    assert world.state(flow) == "converting"  # the conversion is the workers'
    world.hub.store.broker = rabbit.url
    health = HubService(world.hub.store).broker_health()
    assert health is not None and health["ok"] and health["outbox"] == 0
    assert "guest:guest" not in health["url"]
    world.hub.store.broker = "amqp://guest:guest@127.0.0.1:1/none"
    health = HubService(world.hub.store).broker_health()
    assert health is not None and not health["ok"] and health["error"]

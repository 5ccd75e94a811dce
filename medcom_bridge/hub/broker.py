"""The RabbitMQ side of the hub (issue 10): topology, publishing with confirms, queue depths.

Queues are durable quorum queues, one per step (`<prefix>.intake`, `.convert`, `.deliver`), each with a
delivery limit and a dead-letter exchange: a message handed back `DELIVERY_LIMIT` times, or rejected as not
ours, lands in `<prefix>.dead`, where a worker records it as a visible failure instead of looping on it.
Messages are persistent and published with publisher confirms, so a message the broker accepted survives a
broker restart. The client is pika (blocking connection; one connection per process, used by one thread).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from medcom_bridge.hub.work import Hint, WorkStep

log = logging.getLogger(__name__)

PREFIX = "medcom"
#: Deliveries of one message before it is dead-lettered. A hint is cheap to repeat and the work it names is
#: in the database anyway, so the limit only has to stop a message that makes every worker fail.
DELIVERY_LIMIT = 5
HEARTBEAT = 30
#: What a broker failure looks like to the caller: reconnect with backoff.
BROKER_ERRORS: tuple[type[Exception], ...] = (pika.exceptions.AMQPError, OSError)


def redact(url: str) -> str:
    """The URL without its password, for logs and /health."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def queue_name(step: WorkStep | str, prefix: str = PREFIX) -> str:
    return f"{prefix}.{step}"


def dead_queue(prefix: str = PREFIX) -> str:
    return f"{prefix}.dead"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message received: its tag (for ack/nack), body and how often the broker has delivered it."""

    tag: int
    body: bytes
    queue: str
    redelivered: bool
    count: int


def declare(channel: BlockingChannel, prefix: str = PREFIX) -> None:
    """Create the exchanges and queues if missing (idempotent; the same arguments every time)."""
    dead = dead_queue(prefix)
    channel.exchange_declare(dead, exchange_type="fanout", durable=True)
    channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(dead, dead)
    for step in WorkStep:
        channel.queue_declare(
            queue_name(step, prefix),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": dead,
            },
        )


class Broker:
    """One connection with two channels: one publishing with confirms, one consuming."""

    def __init__(self, url: str, *, prefix: str = PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        params = pika.URLParameters(url)
        params.heartbeat = HEARTBEAT
        params.connection_attempts = 1
        params.socket_timeout = 5
        params.blocked_connection_timeout = 30
        self.connection = pika.BlockingConnection(params)
        self._out = self.connection.channel()
        self._out.confirm_delivery()
        declare(self._out, prefix)
        self._in: BlockingChannel | None = None

    def publish(self, hint: Hint) -> None:
        """Publish one persistent message and wait for the broker's confirm (raises if it is not taken)."""
        self._out.basic_publish(
            "",
            queue_name(hint.step, self.prefix),
            hint.encode(),
            pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json"),
            mandatory=True,
        )

    def consume(self, prefetch: int, on_message: Callable[[Delivery], None], *, dead: bool = True) -> None:
        """Start consuming every step queue (and the dead-letter queue) into `on_message`; messages arrive
        while `pump` runs."""
        channel = self._in = self.connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        queues = [queue_name(step, self.prefix) for step in WorkStep]
        if dead:
            queues.append(dead_queue(self.prefix))
        for queue in queues:

            def callback(
                _ch: BlockingChannel, method: Any, props: pika.BasicProperties, body: bytes, q: str = queue
            ) -> None:
                headers = props.headers or {}
                raw = headers.get("x-delivery-count", 0)
                count = raw if isinstance(raw, int) else 0
                on_message(Delivery(method.delivery_tag, body, q, bool(method.redelivered), count))

            channel.basic_consume(queue, callback, auto_ack=False)

    def pump(self, seconds: float) -> None:
        """Let the connection work (heartbeats, deliveries) for up to `seconds`."""
        self.connection.process_data_events(time_limit=seconds)

    def ack(self, tag: int) -> None:
        assert self._in is not None
        self._in.basic_ack(tag)

    def hand_back(self, tag: int) -> None:
        """Return a message to its queue (counts as a delivery towards the limit)."""
        assert self._in is not None
        self._in.basic_nack(tag, requeue=True)

    def reject(self, tag: int) -> None:
        """Not a message of ours: straight to the dead-letter queue."""
        assert self._in is not None
        self._in.basic_reject(tag, requeue=False)

    def depths(self) -> dict[str, int]:
        """Messages ready in each queue (passive declare: creates nothing)."""
        names = [queue_name(step, self.prefix) for step in WorkStep] + [dead_queue(self.prefix)]
        found: dict[str, int] = {}
        for name in names:
            result = self._out.queue_declare(name, passive=True)
            found[name] = int(result.method.message_count)
        return found

    def close(self) -> None:
        """Close the connection; messages received and not acked go back to their queues."""
        try:
            if self.connection.is_open:
                self.connection.close()
        except BROKER_ERRORS:  # already gone: the broker hands the messages back by itself
            pass


def probe(url: str, *, prefix: str = PREFIX) -> dict[str, Any]:
    """For /health: can the broker be reached, and how deep are the queues."""
    try:
        broker = Broker(url, prefix=prefix)
    except BROKER_ERRORS as exc:
        return {"ok": False, "url": redact(url), "error": type(exc).__name__}
    try:
        return {"ok": True, "url": redact(url), "queues": broker.depths()}
    except BROKER_ERRORS as exc:
        return {"ok": False, "url": redact(url), "error": type(exc).__name__}
    finally:
        broker.close()

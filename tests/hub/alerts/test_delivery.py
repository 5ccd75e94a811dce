"""Delivery to real servers: a webhook (HTTP server in a thread) and e-mail (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message

from medcom_bridge.hub.alerts.config import AlertConfig, Smtp, Webhook
from medcom_bridge.hub.alerts.delivery import send
from medcom_bridge.hub.alerts.incidents import Change, Incident, IncidentEvent
from medcom_bridge.hub.alerts.notice import notice
from medcom_bridge.hub.alerts.rules import Condition, Rule
from tests.hub.alerts.servers import free_port, smtp_server, webhook_server

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CONDITION = Condition(
    Rule.NEGATIVE_RATE, "5790000123456", "5790000123456 answered 7 of 40 letters negatively"
)
OPENED = IncidentEvent(Change.OPENED, Incident.of(CONDITION, T0))
NOTICE = notice(OPENED)
NO_WAIT = {"sleep": lambda _s: None}


def test_webhook_posts_json_with_its_headers() -> None:
    with webhook_server() as hook:
        config = AlertConfig(webhooks=(Webhook(hook.url, (("Authorization", "Bearer abc"),)),))
        assert send(config, config.channels[0], NOTICE, **NO_WAIT) is None
    [(headers, body)] = hook.received
    assert headers["Authorization"] == "Bearer abc"
    assert body["event"] == "opened" and body["key"] == "negative_rate:5790000123456"
    assert body["rule"] == "negative_rate" and body["resolved_at"] is None and "7 of 40" in body["summary"]


def test_webhook_500_then_success_is_retried() -> None:
    with webhook_server([500, 503]) as hook:
        config = AlertConfig(webhooks=(Webhook(hook.url),))
        assert send(config, config.channels[0], NOTICE, **NO_WAIT) is None
    assert hook.answered == [500, 503, 204]


def test_webhook_that_keeps_failing_reports_a_masked_error() -> None:
    with webhook_server([500, 500, 500]) as hook:
        config = AlertConfig(webhooks=(Webhook(hook.url),))
        error = send(config, config.channels[0], NOTICE, **NO_WAIT)
    assert error == "webhook 127.0.0.1: HTTP 500"  # host only: no path or query (tokens live there)
    assert len(hook.received) == 3


def test_webhook_4xx_is_not_retried_within_the_round() -> None:
    with webhook_server([404]) as hook:
        config = AlertConfig(webhooks=(Webhook(hook.url),))
        assert send(config, config.channels[0], NOTICE, **NO_WAIT) == "webhook 127.0.0.1: HTTP 404"
    assert hook.answered == [404]


def test_unreachable_webhook_is_an_error_not_an_exception() -> None:
    config = AlertConfig(
        webhooks=(Webhook(f"http://127.0.0.1:{free_port()}/x", timeout=timedelta(seconds=2)),)
    )
    error = send(config, config.channels[0], NOTICE, **NO_WAIT)
    assert error is not None and error.startswith("webhook 127.0.0.1: ConnectError")


def mail(box_message: bytes) -> Message:
    return message_from_bytes(box_message)


def test_mail_reaches_the_smtp_server_with_subject_and_text() -> None:
    with smtp_server() as box:
        smtp = Smtp("127.0.0.1", "hub@hospital.example", ("drift@hospital.example",), port=box.port)
        config = AlertConfig(smtp=smtp)
        assert send(config, "smtp", NOTICE, **NO_WAIT) is None
    [envelope] = box.messages
    assert envelope.rcpt_tos == ["drift@hospital.example"] and envelope.mail_from == "hub@hospital.example"
    assert isinstance(envelope.content, bytes)
    message = mail(envelope.content)
    assert message["Subject"] == "[medcom-bridge] ALERT negative_rate: 5790000123456"
    text = message.get_payload(decode=True).decode()
    assert "7 of 40 letters negatively" in text and "negative_rate:5790000123456" in text
    assert "2026-03-01 09:00 CET" in text  # Copenhagen time, labelled


def test_mail_login_and_a_temporary_refusal_is_retried() -> None:
    with smtp_server(password="pw") as box:
        box.refuse.append("451 4.3.0 try again later")
        smtp = Smtp(
            "127.0.0.1",
            "hub@hospital.example",
            ("a@hospital.example",),
            port=box.port,
            username="hub",
            password="pw",
        )
        assert send(AlertConfig(smtp=smtp), "smtp", NOTICE, **NO_WAIT) is None
    assert len(box.messages) == 1 and box.logins == ["hub", "hub"]  # one login per attempt


def test_mail_permanent_refusal_is_an_error() -> None:
    with smtp_server(password="pw") as box:
        box.refuse.append("554 5.7.1 no")
        smtp = Smtp(
            "127.0.0.1",
            "hub@hospital.example",
            ("a@b.example",),
            port=box.port,
            username="hub",
            password="pw",
        )
        assert send(AlertConfig(smtp=smtp), "smtp", NOTICE, **NO_WAIT) == "smtp 127.0.0.1: SMTPDataError 554"
    assert box.messages == []


def test_unconfigured_channel() -> None:
    assert send(AlertConfig(), "smtp", NOTICE, **NO_WAIT) == "smtp: not configured"

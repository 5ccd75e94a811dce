"""Sending notices: a webhook (HTTP POST of JSON) and e-mail (SMTP, STARTTLS and login optional).

Each send has a bounded timeout and a few quick retries for transient failures (a timeout or refused
connection, HTTP 5xx or 429, SMTP 4xx); what still fails is reported as a masked error string (the error's
kind, the status, the host: never a URL's path or query, a header, a password or a response body) and the
notice stays pending for a later round (`ledger.finish_notice`). Nothing here raises.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

import httpx

from medcom_bridge.hub.alerts.config import AlertConfig, Smtp, Webhook
from medcom_bridge.hub.alerts.notice import Notice

log = logging.getLogger(__name__)

ATTEMPTS = 3
FIRST_DELAY = 0.5
"""Seconds before the second attempt (doubling): a round spends at most a few seconds on one notice."""


class SendFailed(Exception):
    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def post_webhook(hook: Webhook, notice: Notice) -> None:
    host = urlsplit(hook.url).hostname or "?"
    try:
        response = httpx.post(
            hook.url,
            json=notice.body,
            headers=dict(hook.headers),
            timeout=hook.timeout.total_seconds(),
            follow_redirects=False,
        )
    except httpx.TimeoutException as exc:
        raise SendFailed(f"webhook {host}: {type(exc).__name__}", transient=True) from None
    except httpx.HTTPError as exc:
        raise SendFailed(f"webhook {host}: {type(exc).__name__}", transient=True) from None
    if response.status_code >= 500 or response.status_code == 429:
        raise SendFailed(f"webhook {host}: HTTP {response.status_code}", transient=True)
    if response.status_code >= 300:
        raise SendFailed(f"webhook {host}: HTTP {response.status_code}", transient=False)


def send_mail(smtp: Smtp, notice: Notice) -> None:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.to)
    message["Subject"] = notice.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    message.set_content(notice.text)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout.total_seconds()) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username is not None and smtp.password is not None:
                client.login(smtp.username, smtp.password)
            client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        # 4xx: try again later (greylisting, a full queue); 5xx: refused (the next round tries once more).
        raise SendFailed(
            f"smtp {smtp.host}: {type(exc).__name__} {exc.smtp_code}", transient=400 <= exc.smtp_code < 500
        ) from None
    except smtplib.SMTPRecipientsRefused:
        raise SendFailed(f"smtp {smtp.host}: recipients refused", transient=False) from None
    except (OSError, smtplib.SMTPException) as exc:  # timeouts, refused connections, TLS, a dropped line
        raise SendFailed(f"smtp {smtp.host}: {type(exc).__name__}", transient=True) from None


def send(
    config: AlertConfig,
    channel: str,
    notice: Notice,
    *,
    attempts: int = ATTEMPTS,
    first_delay: float = FIRST_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Send `notice` on `channel`: None when it was accepted, else the masked reason of the last failure."""
    target: Callable[[Notice], None] | None = None
    for hook in config.webhooks:
        if hook.channel == channel:
            target = lambda n, hook=hook: post_webhook(hook, n)  # noqa: E731
    if config.smtp is not None and config.smtp.channel == channel:
        smtp = config.smtp
        target = lambda n: send_mail(smtp, n)  # noqa: E731
    if target is None:
        return f"{channel}: not configured"
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            target(notice)
            return None
        except SendFailed as exc:
            log.warning(
                "alert notice on %s failed (attempt %d of %d): %s", channel, attempt, attempts, exc.reason
            )
            if not exc.transient or attempt == attempts:
                return exc.reason
            sleep(delay)
            delay *= 2
    return "unreachable"  # pragma: no cover

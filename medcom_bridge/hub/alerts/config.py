"""The `[alerts]` section of the settings file (`serve --config FILE`, `alerts check --config FILE`).

```toml
[alerts]
interval = "1m"                                   # how often `serve` evaluates the rules

[alerts.rules]                                    # every rule is on with its defaults unless set to false
missing_receipts = true                           # flows without a receipt past 120 minutes, per receiver
negative_rate = { threshold = 0.05, min_letters = 20, window = "1d" }
quarantine_growth = { above = 10, window = "1d" }
stuck = "15m"                                     # a flow past its timer (or in a busy state) for this long
heartbeat = "15m"                                 # a file waiting in out/, or the hub loop's last run, older
database = true
broker = true

[[alerts.webhook]]
url = "https://chat.hospital.example/hooks/medcom"
headers = { Authorization = "Bearer ..." }
timeout = "5s"

[alerts.smtp]
host = "smtp.hospital.example"
port = 587
from = "medcom-bridge@hospital.example"
to = ["it-drift@hospital.example"]
starttls = true
username = "medcom-bridge"
password_file = "/etc/medcom-bridge/smtp.password"
```

`parse` raises `AlertSettingsError` naming the key (`alerts.rules.negative_rate.threshold: ...`); the settings
loader prefixes the file name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any


class AlertSettingsError(ValueError):
    """An `[alerts]` key that cannot be used; the message starts with the key's dotted name."""


@dataclass(frozen=True, slots=True)
class NegativeRate:
    threshold: float = 0.05
    """Alert when more than this share of a receiver's receipts in `window` are negative."""
    min_letters: int = 20
    """...and at least this many of its letters got a receipt in `window` (a rate of 1 of 2 says little)."""
    window: timedelta = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class QuarantineGrowth:
    above: int = 10
    """Alert when more than this many inputs were quarantined within `window`."""
    window: timedelta = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Rules:
    missing_receipts: bool = True
    negative_rate: NegativeRate | None = NegativeRate()
    quarantine_growth: QuarantineGrowth | None = QuarantineGrowth()
    stuck: timedelta | None = timedelta(minutes=15)
    heartbeat: timedelta | None = timedelta(minutes=15)
    database: bool = True
    broker: bool = True


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    timeout: timedelta = timedelta(seconds=5)

    @property
    def channel(self) -> str:
        """The notice outbox's name for this hook: stable while its URL is (not its place in the file)."""
        import hashlib

        return "webhook:" + hashlib.sha256(self.url.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Smtp:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: timedelta = timedelta(seconds=10)

    @property
    def channel(self) -> str:
        return "smtp"


@dataclass(frozen=True, slots=True)
class AlertConfig:
    interval: timedelta = timedelta(minutes=1)
    rules: Rules = Rules()
    webhooks: tuple[Webhook, ...] = ()
    smtp: Smtp | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """Where every incident event goes (none: incidents are stored and shown, not sent)."""
        return tuple(h.channel for h in self.webhooks) + ((self.smtp.channel,) if self.smtp else ())


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_TOP = {"interval", "rules", "webhook", "smtp"}
_RULES = {
    "missing_receipts",
    "negative_rate",
    "quarantine_growth",
    "stuck",
    "heartbeat",
    "database",
    "broker",
}
_WEBHOOK = {"url", "headers", "timeout"}
_SMTP = {"host", "port", "from", "to", "starttls", "username", "password_file", "timeout"}


def duration(key: str, value: Any) -> timedelta:
    """`"90s"`, `"15m"`, `"2h"`, `"1d"` -> a positive timedelta."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise AlertSettingsError(f'{key}: {value!r} is not a duration; use e.g. "90s", "15m", "2h", "1d"')
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _keys(key: str, section: Any, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(section, dict):
        raise AlertSettingsError(f"{key}: must be a table with keys {', '.join(sorted(allowed))}")
    unknown = set(section) - allowed
    if unknown:
        raise AlertSettingsError(
            f"{key}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(allowed))}"
        )
    return section


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise AlertSettingsError(f"{key}: must be true or false, not {value!r}")
    return value


def _int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AlertSettingsError(f"{key}: must be a whole number >= {minimum}, not {value!r}")
    return value


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AlertSettingsError(f"{key}: must be a non-empty string")
    return value


def _toggle_duration(key: str, value: Any, default: timedelta) -> timedelta | None:
    """`false` (off), `true` (on with the default) or a duration."""
    if value is False:
        return None
    if value is True:
        return default
    return duration(key, value)


def parse(section: Any) -> AlertConfig:
    data = _keys("alerts", section, _TOP)
    interval = duration("alerts.interval", data["interval"]) if "interval" in data else AlertConfig().interval
    hooks = data.get("webhook", [])
    if isinstance(hooks, dict):
        hooks = [hooks]
    if not isinstance(hooks, list):
        raise AlertSettingsError("alerts.webhook: must be [[alerts.webhook]] tables with url (and headers)")
    return AlertConfig(
        interval=interval,
        rules=_rules(data.get("rules", {})),
        webhooks=tuple(_webhook(f"alerts.webhook[{i}]", h) for i, h in enumerate(hooks)),
        smtp=_smtp(data["smtp"]) if "smtp" in data else None,
    )


def _rules(section: Any) -> Rules:
    data = _keys("alerts.rules", section, _RULES)
    default = Rules()
    negative: NegativeRate | None = default.negative_rate
    if "negative_rate" in data:
        negative = _negative(data["negative_rate"])
    growth: QuarantineGrowth | None = default.quarantine_growth
    if "quarantine_growth" in data:
        growth = _growth(data["quarantine_growth"])
    return Rules(
        missing_receipts=_bool("alerts.rules.missing_receipts", data.get("missing_receipts", True)),
        negative_rate=negative,
        quarantine_growth=growth,
        stuck=_toggle_duration("alerts.rules.stuck", data.get("stuck", True), timedelta(minutes=15)),
        heartbeat=_toggle_duration(
            "alerts.rules.heartbeat", data.get("heartbeat", True), timedelta(minutes=15)
        ),
        database=_bool("alerts.rules.database", data.get("database", True)),
        broker=_bool("alerts.rules.broker", data.get("broker", True)),
    )


def _negative(value: Any) -> NegativeRate | None:
    key = "alerts.rules.negative_rate"
    if value is False:
        return None
    if value is True:
        return NegativeRate()
    data = _keys(key, value, {"threshold", "min_letters", "window"})
    threshold = data.get("threshold", NegativeRate().threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold < 1:
        raise AlertSettingsError(
            f"{key}.threshold: must be a share between 0 and 1 (e.g. 0.05), not {threshold!r}"
        )
    return NegativeRate(
        threshold=float(threshold),
        min_letters=_int(f"{key}.min_letters", data.get("min_letters", NegativeRate().min_letters), 1),
        window=duration(f"{key}.window", data["window"]) if "window" in data else NegativeRate().window,
    )


def _growth(value: Any) -> QuarantineGrowth | None:
    key = "alerts.rules.quarantine_growth"
    if value is False:
        return None
    if value is True:
        return QuarantineGrowth()
    data = _keys(key, value, {"above", "window"})
    return QuarantineGrowth(
        above=_int(f"{key}.above", data.get("above", QuarantineGrowth().above), 0),
        window=duration(f"{key}.window", data["window"]) if "window" in data else QuarantineGrowth().window,
    )


def _webhook(key: str, value: Any) -> Webhook:
    data = _keys(key, value, _WEBHOOK)
    url = _text(f"{key}.url", data.get("url"))
    if not url.startswith(("https://", "http://")):
        raise AlertSettingsError(f"{key}.url: must be an http:// or https:// URL")
    headers = data.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise AlertSettingsError(f"{key}.headers: must be a table of header names to strings")
    timeout = duration(f"{key}.timeout", data["timeout"]) if "timeout" in data else timedelta(seconds=5)
    return Webhook(url, tuple((str(k), v) for k, v in headers.items()), timeout)


def _smtp(value: Any) -> Smtp:
    key = "alerts.smtp"
    data = _keys(key, value, _SMTP)
    to = data.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
        raise AlertSettingsError(f"{key}.to: must be a list of e-mail addresses")
    sender = _text(f"{key}.from", data.get("from"))
    if "@" not in sender:
        raise AlertSettingsError(f"{key}.from: must be an e-mail address")
    password = None
    if "password_file" in data:
        path = Path(_text(f"{key}.password_file", data["password_file"]))
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AlertSettingsError(f"{key}.password_file: {path}: {exc.strerror or exc}") from None
    username = _text(f"{key}.username", data["username"]) if "username" in data else None
    if (username is None) != (password is None):
        raise AlertSettingsError(f"{key}: username and password_file go together")
    return Smtp(
        host=_text(f"{key}.host", data.get("host")),
        sender=sender,
        to=tuple(to),
        port=_int(f"{key}.port", data.get("port", 25), 1),
        starttls=_bool(f"{key}.starttls", data.get("starttls", False)),
        username=username,
        password=password,
        timeout=duration(f"{key}.timeout", data["timeout"]) if "timeout" in data else timedelta(seconds=10),
    )

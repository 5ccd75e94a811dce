"""`[alerts]` in the settings file: a full example parses; each bad key is named in a SettingsError."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from medcom_bridge.hub.alerts.config import NegativeRate, QuarantineGrowth, duration
from medcom_bridge.web.settings import SettingsError, load

EXAMPLE = """
[alerts]
interval = "30s"

[alerts.rules]
missing_receipts = true
negative_rate = { threshold = 0.1, min_letters = 5, window = "7d" }
quarantine_growth = { above = 3 }
stuck = "20m"
heartbeat = false
broker = false

[[alerts.webhook]]
url = "https://chat.hospital.example/hooks/medcom"
headers = { Authorization = "Bearer abc" }

[[alerts.webhook]]
url = "http://127.0.0.1:9/second"
timeout = "2s"

[alerts.smtp]
host = "smtp.hospital.example"
port = 587
from = "medcom-bridge@hospital.example"
to = ["it-drift@hospital.example"]
starttls = true
username = "medcom-bridge"
password_file = "PASSWORD"
"""


def settings(tmp_path: Path, text: str) -> Path:
    (tmp_path / "PASSWORD").write_text("s3cret\n")
    path = tmp_path / "hub.toml"
    path.write_text(text.replace("PASSWORD", str(tmp_path / "PASSWORD")))
    return path


def test_the_documented_example_parses(tmp_path: Path) -> None:
    alerts = load(settings(tmp_path, EXAMPLE)).alerts
    assert alerts is not None
    assert alerts.interval == timedelta(seconds=30)
    assert alerts.rules.negative_rate == NegativeRate(0.1, 5, timedelta(days=7))
    assert alerts.rules.quarantine_growth == QuarantineGrowth(3, timedelta(days=1))
    assert alerts.rules.stuck == timedelta(minutes=20) and alerts.rules.heartbeat is None
    assert not alerts.rules.broker and alerts.rules.database and alerts.rules.missing_receipts
    assert [h.url for h in alerts.webhooks][1] == "http://127.0.0.1:9/second"
    assert alerts.webhooks[0].headers == (("Authorization", "Bearer abc"),)
    assert alerts.smtp is not None and alerts.smtp.password == "s3cret" and alerts.smtp.port == 587
    assert len(set(alerts.channels)) == 3
    assert "s3cret" not in repr(alerts)


def test_no_alerts_section_no_alerting_and_an_empty_one_has_every_rule(tmp_path: Path) -> None:
    assert load(settings(tmp_path, "[retention]\npayloads = '13m'\n")).alerts is None
    alerts = load(settings(tmp_path, "[alerts]\n")).alerts
    assert alerts is not None and alerts.channels == () and alerts.rules.heartbeat == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[alerts]\nintervall = '1m'\n", "alerts: unknown key(s) intervall"),
        ("[alerts]\ninterval = '1 minute'\n", "alerts.interval"),
        ("[alerts]\ninterval = 60\n", "alerts.interval"),
        ("[alerts.rules]\nmissing = true\n", "alerts.rules: unknown key(s) missing"),
        ("[alerts.rules]\nmissing_receipts = 'yes'\n", "alerts.rules.missing_receipts"),
        ("[alerts.rules]\nnegative_rate = { threshold = 5 }\n", "alerts.rules.negative_rate.threshold"),
        ("[alerts.rules]\nnegative_rate = { min_letters = 0 }\n", "alerts.rules.negative_rate.min_letters"),
        (
            "[alerts.rules]\nnegative_rate = { rate = 0.1 }\n",
            "alerts.rules.negative_rate: unknown key(s) rate",
        ),
        ("[alerts.rules]\nquarantine_growth = { above = -1 }\n", "alerts.rules.quarantine_growth.above"),
        ("[alerts.rules]\nheartbeat = '0m'\n", "alerts.rules.heartbeat"),
        ("[[alerts.webhook]]\nheaders = {}\n", "alerts.webhook[0].url"),
        ("[[alerts.webhook]]\nurl = 'ftp://x'\n", "alerts.webhook[0].url"),
        ("[[alerts.webhook]]\nurl = 'https://x'\nheaders = { A = 1 }\n", "alerts.webhook[0].headers"),
        ("[alerts.smtp]\nhost = 'h'\nfrom = 'a@b'\n", "alerts.smtp.to"),
        ("[alerts.smtp]\nhost = 'h'\nfrom = 'nobody'\nto = ['a@b']\n", "alerts.smtp.from"),
        ("[alerts.smtp]\nhost = 'h'\nfrom = 'a@b'\nto = ['a@b']\nport = 'x'\n", "alerts.smtp.port"),
        (
            "[alerts.smtp]\nhost = 'h'\nfrom = 'a@b'\nto = ['a@b']\nusername = 'u'\n",
            "username and password_file",
        ),
        (
            "[alerts.smtp]\nhost = 'h'\nfrom = 'a@b'\nto = ['a@b']\nusername = 'u'\npassword_file = '/nonexistent/pw'\n",
            "alerts.smtp.password_file",
        ),
        (
            "[alerts.smtp]\nhost = 'h'\nfrom = 'a@b'\nto = ['a@b']\nsmarthost = 'x'\n",
            "alerts.smtp: unknown key(s) smarthost",
        ),
    ],
)
def test_a_bad_key_is_named(tmp_path: Path, text: str, named: str) -> None:
    path = settings(tmp_path, text)
    with pytest.raises(SettingsError) as raised:
        load(path)
    assert str(path) in str(raised.value) and named in str(raised.value)


def test_durations() -> None:
    assert duration("k", "90s") == timedelta(seconds=90)
    assert duration("k", "2h") == timedelta(hours=2)
    assert duration("k", " 1d ") == timedelta(days=1)

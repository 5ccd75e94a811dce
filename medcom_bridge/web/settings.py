"""How the hub's HTTP side is secured: trusted host names, TLS, the session secret, OpenID Connect, retention.

`serve` builds a `WebSecurity` from its options and an optional TOML file (`serve --config FILE`):

```toml
[server]
allowed_hosts = ["hub.hospital.example"]   # besides localhost and the bind address
session_secret_file = "/etc/medcom-bridge/session.key"   # optional: sessions survive a restart

[retention]
payloads = "13m"                           # months (m), years (y), weeks (w) or days (d); at least 3m

[oidc]                                     # optional: bearer JWTs from the hospital's identity provider
issuer = "https://sso.hospital.example/realms/hospital"
audience = "medcom-bridge"
jwks_url = "https://sso.hospital.example/realms/hospital/protocol/openid-connect/certs"  # optional
algorithms = ["RS256", "ES256"]
role_claim = "realm_access.roles"
org_claim = "ean"
name_claim = "preferred_username"

[oidc.roles]                               # claim value -> admin | operator | organisation
mcb-admin = "admin"
mcb-desk = "operator"
mcb-org = "organisation"

[alerts]                                   # optional: incident alerts by webhook and e-mail (docs/alerts.md)
interval = "1m"
```

A missing file, an unknown key or a bad value is a `SettingsError` naming the key and what is expected.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medcom_bridge.hub import retention
from medcom_bridge.hub.alerts import config as alerts_config
from medcom_bridge.security.oidc import OidcConfig
from medcom_bridge.security.principals import Role
from medcom_bridge.web.hardening import default_allowed_hosts

SECRET_BYTES = 32


class SettingsError(ValueError):
    """The settings file cannot be used; the message names the file, the key and what is expected."""


@dataclass(frozen=True, slots=True)
class WebSecurity:
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(SECRET_BYTES), repr=False)
    """Signs the session cookie and derives the CSRF tokens; random per start unless configured."""
    allowed_hosts: tuple[str, ...] = tuple(default_allowed_hosts("127.0.0.1"))
    tls: bool = False
    oidc: OidcConfig | None = None
    retention: retention.Age = retention.DEFAULT
    observer: str = "medcom-bridge hub"
    """How the hub names itself as the audit source (BALP `source.observer`)."""
    alerts: alerts_config.AlertConfig | None = None
    """The `[alerts]` section (`hub.alerts.config`); None: no alerting."""


_KEYS = {
    "server": {"allowed_hosts", "session_secret_file"},
    "retention": {"payloads"},
    "oidc": {
        "issuer",
        "audience",
        "jwks_url",
        "algorithms",
        "role_claim",
        "org_claim",
        "name_claim",
        "roles",
    },
    "alerts": set(),  # checked key by key in `hub.alerts.config`
}


def load(
    path: Path | None,
    *,
    bind_host: str = "127.0.0.1",
    extra_hosts: Iterable[str] = (),
    tls: bool = False,
) -> WebSecurity:
    """The security settings of a hub bound to `bind_host`, from `path` (optional) and the command line."""
    data: Mapping[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read the settings file: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not TOML: {exc}") from None
    where = str(path)
    for section, value in data.items():
        if section not in _KEYS or not isinstance(value, dict):
            raise SettingsError(f"{where}: unknown section [{section}]; expected {', '.join(_KEYS)}")
        unknown = set(value) - _KEYS[section]
        if unknown and section != "alerts":
            raise SettingsError(
                f"{where}: [{section}] has unknown key(s) {', '.join(sorted(unknown))}; "
                f"expected {', '.join(sorted(_KEYS[section]))}"
            )
    server = data.get("server", {})
    hosts = _strings(where, "server.allowed_hosts", server.get("allowed_hosts", []))
    secret = _secret(where, server.get("session_secret_file"))
    age = retention.DEFAULT
    if "payloads" in data.get("retention", {}):
        try:
            age = retention.parse_age(str(data["retention"]["payloads"]))
        except retention.BadAge as exc:
            raise SettingsError(f"{where}: retention.payloads: {exc}") from None
    alerts = None
    if "alerts" in data:
        try:
            alerts = alerts_config.parse(data["alerts"])
        except alerts_config.AlertSettingsError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    return WebSecurity(
        secret=secret,
        allowed_hosts=tuple(default_allowed_hosts(bind_host, [*hosts, *extra_hosts])),
        tls=tls,
        oidc=_oidc(where, data["oidc"]) if "oidc" in data else None,
        retention=age,
        alerts=alerts,
    )


def _strings(where: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{where}: {key} must be a list of strings")
    return list(value)


def _secret(where: str, file: Any) -> bytes:
    if file is None:
        return secrets.token_bytes(SECRET_BYTES)
    try:
        secret = Path(str(file)).read_bytes().strip()
    except OSError as exc:
        raise SettingsError(f"{where}: server.session_secret_file: {exc.strerror or exc}") from None
    if len(secret) < SECRET_BYTES:
        raise SettingsError(
            f"{where}: server.session_secret_file must hold at least {SECRET_BYTES} bytes "
            "(e.g. `head -c 48 /dev/urandom | base64 > FILE`)"
        )
    return secret


def _oidc(where: str, section: Mapping[str, Any]) -> OidcConfig:
    roles = section.get("roles", {})
    if not isinstance(roles, dict) or not roles:
        raise SettingsError(
            f"{where}: [oidc.roles] must map claim values to {', '.join(r.value for r in Role)}"
        )
    try:
        role_map = {str(k): Role(str(v)) for k, v in roles.items()}
    except ValueError:
        raise SettingsError(
            f"{where}: [oidc.roles] values must be {', '.join(r.value for r in Role)}"
        ) from None
    names = ("issuer", "audience", "jwks_url", "role_claim", "org_claim", "name_claim")
    text = {k: section[k] for k in names if k in section}
    bad = [k for k, v in text.items() if not isinstance(v, str)]
    if bad or "issuer" not in section or "audience" not in section:
        raise SettingsError(f"{where}: [oidc] needs issuer and audience (strings); check {', '.join(bad)}")
    options: dict[str, Any] = {k: v for k, v in text.items() if k not in ("issuer", "audience")}
    if "algorithms" in section:
        options["algorithms"] = tuple(_strings(where, "oidc.algorithms", section["algorithms"]))
    try:
        return OidcConfig(section["issuer"], section["audience"], role_map=role_map, **options)
    except ValueError as exc:
        raise SettingsError(f"{where}: [oidc]: {exc}") from None

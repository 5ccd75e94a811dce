"""OpenID Connect bearer tokens (JWTs) from the hospital's identity provider, for single sign-on.

Verification (PyJWT does the cryptography and the registered claims):
* the header's `alg` must be in the allow-list (RS256/ES256 by default; `none` and HMAC are never accepted,
  so a public key can never be (mis)used as an HMAC secret) and must agree with the key's type;
* the key is the provider's JWKS entry with the header's `kid`; the JWKS is fetched with httpx, kept for
  `jwks_max_age`, and fetched again when a token names an unknown `kid` (key rotation), but not more often
  than every `jwks_min_interval` seconds, so forged kids cannot make us hammer the provider;
* `iss` must equal the configured issuer, `aud` must contain the configured audience, `exp` (required) and
  `nbf` are checked with a small leeway for clock skew.

Claims become a `Principal` by configuration: `role_claim` (a dotted path such as `realm_access.roles`, a
string or a list) is mapped through `role_map` (the highest role wins), and `org_claim` lists the EAN
location numbers of an `organisation`. No error message quotes the token.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from medcom_bridge.identifiers import gln_ok
from medcom_bridge.security.principals import Principal, Role, Via

ALLOWED_ALGORITHMS = ("RS256", "ES256")
# Only asymmetric algorithms can ever be configured: a verifier that holds a public key must not accept HMAC.
_ASYMMETRIC = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}
_RANK = {Role.ORGANISATION: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class Cause(enum.StrEnum):
    MALFORMED = "malformed"
    ALGORITHM = "algorithm"
    UNKNOWN_KEY = "unknown-key"
    SIGNATURE = "signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    ISSUER = "issuer"
    AUDIENCE = "audience"
    CLAIMS = "claims"
    NO_ROLE = "no-role"
    NO_ORGANISATION = "no-organisation"
    PROVIDER_UNAVAILABLE = "provider-unavailable"


class OidcError(Exception):
    """The bearer token is not accepted; `cause` says why (for the audit log), the message says what."""

    def __init__(self, cause: Cause, message: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str | None = None  # None: from the issuer's /.well-known/openid-configuration
    algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS
    leeway: float = 30.0  # seconds of clock skew tolerated on exp/nbf/iat
    role_claim: str = "roles"
    role_map: Mapping[str, Role] = field(default_factory=dict)  # claim value -> role
    org_claim: str = "ean"
    name_claim: str = "preferred_username"  # falls back to `sub`
    jwks_max_age: float = 3600.0
    jwks_min_interval: float = 60.0
    http_timeout: float = 5.0

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in _ASYMMETRIC]
        if bad or not self.algorithms:
            raise ValueError(
                f"algorithms {bad or '[]'} not allowed; use asymmetric ones such as {ALLOWED_ALGORITHMS}"
            )
        if not self.issuer or not self.audience:
            raise ValueError("issuer and audience are required")


@dataclass(frozen=True, slots=True)
class Key:
    jwk: jwt.PyJWK
    kty: str
    alg: str | None  # the algorithm the provider declared for this key, if it did


class JwksCache:
    """The provider's signing keys by kid, fetched on demand; safe to share between threads."""

    def __init__(
        self,
        config: OidcConfig,
        client: httpx.Client | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._client = client or httpx.Client(timeout=config.http_timeout, follow_redirects=False)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None
        self._jwks_url = config.jwks_url
        self.fetches = 0  # how often the JWKS was fetched (operations and tests)

    def key(self, kid: str) -> Key:
        with self._lock:
            now = self._monotonic()
            stale = self._fetched_at is None or now - self._fetched_at >= self._config.jwks_max_age
            unknown = kid not in self._keys
            may_refetch = self._fetched_at is None or now - self._fetched_at >= self._config.jwks_min_interval
            if stale or (unknown and may_refetch):
                self._refresh(now)
            found = self._keys.get(kid)
        if found is None:
            raise OidcError(
                Cause.UNKNOWN_KEY, "the token's key id (kid) is not among the provider's signing keys"
            )
        return found

    def _refresh(self, now: float) -> None:
        self._fetched_at = now  # also on failure: the minimum interval protects a struggling provider
        self.fetches += 1
        try:
            url = self._jwks_url or self._discover()
            response = self._client.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            if self._keys:
                return  # keep serving the keys we have
            raise OidcError(
                Cause.PROVIDER_UNAVAILABLE, f"the provider's keys could not be fetched ({type(exc).__name__})"
            ) from None
        keys: dict[str, Key] = {}
        for item in document.get("keys", []) if isinstance(document, dict) else []:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("kid"), str)
                or item.get("use", "sig") != "sig"
            ):
                continue
            try:
                alg = item.get("alg")
                keys[item["kid"]] = Key(
                    jwt.PyJWK(item), str(item["kty"]), alg if isinstance(alg, str) else None
                )
            except (jwt.PyJWTError, KeyError):
                continue  # a key type we cannot use; others may still do
        self._keys = keys

    def _discover(self) -> str:
        response = self._client.get(self._config.issuer.rstrip("/") + "/.well-known/openid-configuration")
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict) or document.get("issuer") != self._config.issuer:
            raise ValueError("the discovery document names another issuer")
        url = document.get("jwks_uri")
        if not isinstance(url, str):
            raise ValueError("the discovery document has no jwks_uri")
        self._jwks_url = url
        return url


class OidcVerifier:
    def __init__(self, config: OidcConfig, keys: JwksCache | None = None) -> None:
        self.config = config
        self.keys = keys or JwksCache(config)

    def verify(self, token: str) -> Principal:
        """The principal the bearer JWT stands for; raises OidcError."""
        claims = self.claims(token)
        return principal_from_claims(self.config, claims)

    def claims(self, token: str) -> dict[str, Any]:
        config = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcError(Cause.MALFORMED, "the bearer token is not a JWS compact JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in config.algorithms:
            raise OidcError(
                Cause.ALGORITHM,
                f"algorithm {str(alg)[:16]!r} is not allowed; allowed: {', '.join(config.algorithms)}",
            )
        if not isinstance(kid, str):
            raise OidcError(Cause.UNKNOWN_KEY, "the token names no key id (kid)")
        key = self.keys.key(kid)
        if _ASYMMETRIC[alg] != key.kty or key.alg not in (None, alg):
            raise OidcError(Cause.ALGORITHM, f"algorithm {alg} does not fit the provider's key {kid[:64]!r}")
        try:
            return jwt.decode(
                token,
                key.jwk.key,
                algorithms=[alg],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise OidcError(Cause.EXPIRED, "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise OidcError(
                Cause.NOT_YET_VALID, "the token is not valid yet (nbf/iat in the future)"
            ) from None
        except jwt.InvalidIssuerError:
            raise OidcError(Cause.ISSUER, f"the token was not issued by {config.issuer}") from None
        except jwt.InvalidAudienceError:
            raise OidcError(Cause.AUDIENCE, f"the token is not meant for {config.audience}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise OidcError(Cause.CLAIMS, f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise OidcError(Cause.SIGNATURE, "the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise OidcError(Cause.MALFORMED, f"the token is not acceptable ({type(exc).__name__})") from None


def principal_from_claims(config: OidcConfig, claims: Mapping[str, Any]) -> Principal:
    """Map verified claims to a principal by the configured claim names and role map."""
    roles = [config.role_map[v] for v in _strings(_claim(claims, config.role_claim)) if v in config.role_map]
    if not roles:
        raise OidcError(
            Cause.NO_ROLE, f"no value of the {config.role_claim!r} claim maps to a medcom-bridge role"
        )
    role = max(roles, key=_RANK.__getitem__)
    name = _claim(claims, config.name_claim)
    if not isinstance(name, str) or not name:
        name = claims.get("sub")
    if not isinstance(name, str) or not name:
        raise OidcError(Cause.CLAIMS, f"the token names no user ({config.name_claim!r} or 'sub')")
    organisations = frozenset(e for e in _strings(_claim(claims, config.org_claim)) if gln_ok(e))
    if role is Role.ORGANISATION and not organisations:
        raise OidcError(
            Cause.NO_ORGANISATION, f"an organisation user needs EAN location numbers in {config.org_claim!r}"
        )
    return Principal(name[:128], role, organisations if role is Role.ORGANISATION else frozenset(), Via.OIDC)


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split() if " " in value else [value]  # OAuth's space-separated scope style
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []

"""OIDC bearer JWTs against a real JWKS endpoint this test serves on 127.0.0.1, with keys it makes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from medcom_bridge.security.oidc import Cause, JwksCache, OidcConfig, OidcError, OidcVerifier
from medcom_bridge.security.principals import Principal, Role, Via

AUDIENCE = "medcom-bridge"
ODENSE = "5790000121526"
ROLE_MAP = {"mcb-admin": Role.ADMIN, "mcb-desk": Role.OPERATOR, "mcb-org": Role.ORGANISATION}


@dataclass
class Provider:
    """A tiny identity provider: a discovery document and a JWKS whose keys the test can rotate."""

    base: str = ""
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    hits: list[str] = field(default_factory=list)
    rsa_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def publish(self, kid: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, alg: str | None) -> None:
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        jwk.update(kid=kid, use="sig", **({"alg": alg} if alg else {}))
        self.jwks["keys"].append(jwk)

    @property
    def issuer(self) -> str:
        return self.base + "/realms/hospital"


@pytest.fixture
def provider() -> Iterator[Provider]:
    made = Provider()
    made.publish("rsa-1", made.rsa_key, "RS256")
    made.publish("ec-1", made.ec_key, None)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            made.hits.append(self.path)
            if self.path == "/realms/hospital/.well-known/openid-configuration":
                body = {"issuer": made.issuer, "jwks_uri": made.base + "/realms/hospital/certs"}
            elif self.path == "/realms/hospital/certs":
                body = made.jwks
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    made.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        server.shutdown()
        server.server_close()


def config(provider: Provider, **changes: Any) -> OidcConfig:
    values: dict[str, Any] = {
        "issuer": provider.issuer,
        "audience": AUDIENCE,
        "jwks_url": provider.base + "/realms/hospital/certs",
        "role_claim": "realm_access.roles",
        "role_map": ROLE_MAP,
        "leeway": 30,
    }
    values.update(changes)
    return OidcConfig(**values)


def claims(provider: Provider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": provider.issuer,
        "aud": [AUDIENCE, "account"],
        "sub": "f2a1c0de",
        "preferred_username": "anne",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "realm_access": {"roles": ["offline_access", "mcb-org"]},
        "ean": [ODENSE, "not-an-ean"],
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def sign(provider: Provider, payload: dict[str, Any], kid: str = "rsa-1", alg: str = "RS256") -> str:
    key = provider.ec_key if alg.startswith("ES") else provider.rsa_key
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def rejected(verifier: OidcVerifier, token: str) -> Cause:
    with pytest.raises(OidcError) as caught:
        verifier.verify(token)
    signature = token.split(".")[-1]
    assert token not in str(caught.value) and (not signature or signature not in str(caught.value))
    return caught.value.cause


def test_valid_rs256_and_es256(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider))
    expected = Principal("anne", Role.ORGANISATION, frozenset({ODENSE}), Via.OIDC)
    assert verifier.verify(sign(provider, claims(provider))) == expected
    assert verifier.verify(sign(provider, claims(provider), kid="ec-1", alg="ES256")) == expected
    assert provider.hits == ["/realms/hospital/certs"]  # fetched once, then cached


def test_discovery_when_no_jwks_url_is_configured(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider, jwks_url=None))
    assert verifier.verify(sign(provider, claims(provider))).name == "anne"
    assert provider.hits == ["/realms/hospital/.well-known/openid-configuration", "/realms/hospital/certs"]


def test_expiry_with_leeway(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider, leeway=30))
    now = int(time.time())
    assert verifier.verify(sign(provider, claims(provider, exp=now - 10))).name == "anne"  # within leeway
    assert rejected(verifier, sign(provider, claims(provider, exp=now - 120))) is Cause.EXPIRED
    assert rejected(verifier, sign(provider, claims(provider, nbf=now + 600))) is Cause.NOT_YET_VALID
    assert rejected(verifier, sign(provider, claims(provider, exp=None))) is Cause.CLAIMS


def test_wrong_issuer_and_audience(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider))
    assert (
        rejected(verifier, sign(provider, claims(provider, iss=provider.base + "/realms/other")))
        is Cause.ISSUER
    )
    assert rejected(verifier, sign(provider, claims(provider, aud="another-app"))) is Cause.AUDIENCE
    assert rejected(verifier, sign(provider, claims(provider, aud=None))) is Cause.CLAIMS


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_wrong_algorithms(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider))
    payload = claims(provider)
    # alg none: no signature at all.
    unsigned = (
        f"{_b64(json.dumps({'alg': 'none', 'kid': 'rsa-1'}).encode())}.{_b64(json.dumps(payload).encode())}."
    )
    assert rejected(verifier, unsigned) is Cause.ALGORITHM
    # HS256 keyed with the provider's public key (the classic confusion attack), built by hand.
    public_pem = provider.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{_b64(json.dumps({'alg': 'HS256', 'kid': 'rsa-1'}).encode())}.{_b64(json.dumps(payload).encode())}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert rejected(verifier, f"{signing_input}.{_b64(mac)}") is Cause.ALGORITHM
    # A real RS384 signature: the algorithm is not on the allow-list.
    assert rejected(verifier, sign(provider, payload, alg="RS384")) is Cause.ALGORITHM
    # ES256 header on the RSA key's kid: the key type does not fit.
    assert rejected(verifier, sign(provider, payload, kid="rsa-1", alg="ES256")) is Cause.ALGORITHM
    with pytest.raises(ValueError, match="HS256"):
        config(provider, algorithms=("RS256", "HS256"))
    with pytest.raises(ValueError):
        config(provider, algorithms=("none",))


def test_tampered_tokens(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider))
    token = sign(provider, claims(provider))
    head, body, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert rejected(verifier, f"{head}.{body}.{flipped}") is Cause.SIGNATURE
    admin = claims(provider, realm_access={"roles": ["mcb-admin"]})
    forged_body = _b64(json.dumps(admin).encode())
    assert rejected(verifier, f"{head}.{forged_body}.{signature}") is Cause.SIGNATURE
    assert rejected(verifier, "not a jwt") is Cause.MALFORMED
    # Signed by a key the provider never published, under a published kid.
    stranger = Provider()
    assert rejected(verifier, sign(stranger, claims(provider))) is Cause.SIGNATURE


def test_unknown_kid_refetches_at_most_once_per_interval(provider: Provider) -> None:
    clock = [1000.0]
    verifier = OidcVerifier(
        config(provider, jwks_min_interval=60),
        JwksCache(config(provider, jwks_min_interval=60), monotonic=lambda: clock[0]),
    )
    assert verifier.verify(sign(provider, claims(provider))).name == "anne"
    assert rejected(verifier, sign(provider, claims(provider), kid="rsa-2")) is Cause.UNKNOWN_KEY
    assert rejected(verifier, sign(provider, claims(provider), kid="rsa-3")) is Cause.UNKNOWN_KEY
    assert len(provider.hits) == 1  # forged kids within the interval cost no fetch
    # The provider rotates to a new key; after the interval an unknown kid fetches the JWKS again.
    new_key = rsa.generate_private_key(65537, 2048)
    provider.publish("rsa-2", new_key, "RS256")
    clock[0] += 61
    rotated = jwt.encode(claims(provider), new_key, algorithm="RS256", headers={"kid": "rsa-2"})
    assert verifier.verify(rotated).name == "anne"
    assert len(provider.hits) == 2


def test_provider_down(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider, jwks_url=provider.base + "/missing"))
    assert rejected(verifier, sign(provider, claims(provider))) is Cause.PROVIDER_UNAVAILABLE


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"realm_access": {"roles": ["mcb-org", "mcb-desk"]}},
            Principal("anne", Role.OPERATOR, via=Via.OIDC),
        ),
        (
            {"realm_access": {"roles": ["mcb-admin"]}, "preferred_username": None},
            Principal("f2a1c0de", Role.ADMIN, via=Via.OIDC),
        ),
        (
            {"realm_access": {"roles": ["mcb-org"]}, "ean": ODENSE},
            Principal("anne", Role.ORGANISATION, frozenset({ODENSE}), Via.OIDC),
        ),
    ],
)
def test_claims_map_to_roles(provider: Provider, changes: dict[str, Any], expected: Principal) -> None:
    verifier = OidcVerifier(config(provider))
    assert verifier.verify(sign(provider, claims(provider, **changes))) == expected


def test_claims_without_a_role_or_organisation(provider: Provider) -> None:
    verifier = OidcVerifier(config(provider))
    assert (
        rejected(verifier, sign(provider, claims(provider, realm_access={"roles": ["nurse"]})))
        is Cause.NO_ROLE
    )
    assert rejected(verifier, sign(provider, claims(provider, ean=["123"]))) is Cause.NO_ORGANISATION

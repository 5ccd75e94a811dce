"""The login session cookie of the operations pages: signed, short-lived, `Secure; HttpOnly; SameSite=Strict`.

The cookie holds the principal (name, role, EANs, how they logged in) and a random session id, signed with
itsdangerous (HMAC-SHA256 with a timestamp), so a forged or edited cookie reads as no session and an old one
expires after `max_age`. No patient data goes in it. The session id lets a server keep a list of ended
sessions (`is_revoked`) so that logout ends a session even if someone kept a copy of the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from medcom_bridge.security.principals import Principal, Via

COOKIE = "mcb_session"
MAX_AGE = 8 * 3600  # a working day; the login form is one step away


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    principal: Principal


class SessionCodec:
    def __init__(
        self,
        secret: bytes,
        *,
        max_age: int = MAX_AGE,
        secure: bool = True,
        cookie: str = COOKIE,
        is_revoked: Callable[[str], bool] = lambda session_id: False,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must have at least 32 bytes")
        self._serializer = URLSafeTimedSerializer(
            secret, salt="medcom-bridge session", signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.max_age = max_age
        self.secure = secure
        self.cookie = cookie
        self.is_revoked = is_revoked

    def issue(self, principal: Principal) -> tuple[Session, str]:
        """A new session for `principal` and the cookie value that carries it."""
        session = Session(secrets.token_urlsafe(16), principal)
        value = self._serializer.dumps(
            {
                "sid": session.id,
                "name": principal.name,
                "role": principal.role.value,
                "orgs": sorted(principal.organisations),
                "via": principal.via.value,
            }
        )
        return session, value

    def read(self, value: str | None) -> Session | None:
        """The session a cookie value carries; None when absent, forged, expired or ended."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=self.max_age)
            principal = Principal.of(data["name"], data["role"], data["orgs"], Via(data["via"]))
            session = Session(str(data["sid"]), principal)
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        return None if self.is_revoked(session.id) else session

    def set_cookie_header(self, value: str) -> str:
        """The Set-Cookie value that stores a session."""
        secure = "; Secure" if self.secure else ""
        return f"{self.cookie}={value}; Path=/; Max-Age={self.max_age}; HttpOnly; SameSite=Strict{secure}"

    def clear_cookie_header(self) -> str:
        """The Set-Cookie value that ends the session in the browser (logout)."""
        secure = "; Secure" if self.secure else ""
        return f"{self.cookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"

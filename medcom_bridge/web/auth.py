"""Who is calling, for every route but `/health`: API token, OIDC bearer JWT or the pages' session cookie.

`Authenticator.principal(request)` answers with the `Principal` or None; `require(request)` raises the 401
that every unauthenticated request gets (with `WWW-Authenticate: Bearer`, and never saying whether a token
exists). A bearer value that starts with `mcb_` is one of our API tokens; anything else is tried as a JWT
when OIDC is configured. Routes then ask the rules in `security.principals` (404 for another
organisation's flow, 403 for a foreign SenderID).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from medcom_bridge.security.oidc import OidcError, OidcVerifier
from medcom_bridge.security.principals import Principal
from medcom_bridge.security.tokens import PREFIX
from medcom_bridge.web.sessions import SessionCodec

UNAUTHORISED_HEADERS = {"WWW-Authenticate": 'Bearer realm="medcom-bridge"'}


@dataclass(frozen=True, slots=True)
class Authenticator:
    lookup_token: Callable[[str], Principal | None]  # e.g. lambda t: tokens.authenticate(conn, t)
    oidc: OidcVerifier | None = None
    sessions: SessionCodec | None = None

    def principal(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, credential = header.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                return None
            if credential.startswith(PREFIX):
                return self.lookup_token(credential)
            if self.oidc is not None:
                try:
                    return self.oidc.verify(credential)
                except OidcError as exc:
                    request.state.auth_failure = exc.cause  # for the audit log: why a login was refused
                    return None
            return None
        if self.sessions is not None:
            session = self.sessions.read(request.cookies.get(self.sessions.cookie))
            return session.principal if session else None
        return None

    def require(self, request: Request) -> Principal:
        """FastAPI dependency: the caller, or 401."""
        found = self.principal(request)
        if found is None:
            raise HTTPException(401, "authentication required", headers=UNAUTHORISED_HEADERS)
        request.state.principal = found
        return found

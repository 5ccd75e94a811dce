"""The pages' login: a form that takes an API token or an OpenID Connect access token once and turns it into
a session cookie (`Secure; HttpOnly; SameSite=Strict`, signed, 8 hours), and logout, which ends the session on
the server too. Both forms carry the CSRF token (`web.hardening.CsrfMiddleware` checks it); both are audited.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from medcom_bridge.security.audit import Action, Outcome
from medcom_bridge.security.oidc import OidcError
from medcom_bridge.security.principals import Principal, Via
from medcom_bridge.security.tokens import PREFIX
from medcom_bridge.web.app import Context
from medcom_bridge.web.guard import caller

MAX_CREDENTIAL = 16 * 1024  # a JWT with many claims still fits


def login_page(
    request: Request, *, status: int = 200, error: str | None = None, headers: dict[str, str] | None = None
) -> HTMLResponse:
    from medcom_bridge.web.pages import page

    return page(request, "login.html", status, headers=headers, error=error)


def login_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def who(credential: str) -> tuple[Principal | None, str]:
        """The principal a pasted credential stands for, and how it failed (for the audit log)."""
        if credential.startswith(PREFIX):
            found = ctx.service.principal_for_token(credential)
            return found, "unknown-or-revoked-token"
        if ctx.auth.oidc is None:
            return None, "not-a-token"
        try:
            return ctx.auth.oidc.verify(credential), ""
        except OidcError as exc:
            return None, exc.cause.value

    @router.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        return login_page(request)

    @router.post("/login")
    async def login(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:MAX_CREDENTIAL].decode("utf-8", "replace"), max_num_fields=10)
        credential = (form.get("token") or [""])[0].strip()
        principal, failure = who(credential) if credential else (None, "empty")
        if principal is None:
            ctx.audit.write(request, None, Action.LOGIN, outcome=Outcome.DENIED, details={"why": failure})
            return login_page(
                request, status=401, error="That token is not valid (unknown, revoked or expired)."
            )
        ctx.audit.write(request, principal, Action.LOGIN, details={"session": True})
        _, cookie = ctx.sessions.issue(
            Principal(principal.name, principal.role, principal.organisations, Via.SESSION)
        )
        return RedirectResponse(
            "/", status_code=303, headers={"Set-Cookie": ctx.sessions.set_cookie_header(cookie)}
        )

    @router.post("/logout")
    def logout(request: Request, principal: Annotated[Principal, Depends(caller)]) -> Response:
        session = ctx.sessions.read(request.cookies.get(ctx.sessions.cookie))
        if session is not None:
            ctx.ended.end(session.id)
        ctx.audit.write(request, principal, Action.LOGOUT)
        return RedirectResponse(
            "/login", status_code=303, headers={"Set-Cookie": ctx.sessions.clear_cookie_header()}
        )

    return router

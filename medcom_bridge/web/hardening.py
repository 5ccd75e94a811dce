"""Browser and transport hardening as plain ASGI middleware (issue 11): headers, trusted hosts, CSRF.

Add them outermost first (Starlette runs the last added first):

    app.add_middleware(CsrfMiddleware, secret=..., secure=tls)
    app.add_middleware(SecurityHeadersMiddleware, tls=tls, csp_overrides=docs_csp_overrides())
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=default_allowed_hosts(host, extra))

* `SecurityHeadersMiddleware`: CSP, nosniff, no referrer, no framing and no caching on every response (a
  route's own header wins, e.g. the pages' stricter CSP); HSTS only when the hub itself speaks TLS.
* `TrustedHostMiddleware`: a request whose Host is not ours gets 400, which defeats DNS rebinding (a hostile
  page that makes its own name resolve to 127.0.0.1 still sends its own name as Host).
* `CsrfMiddleware`: an unsafe request (POST, PUT, PATCH, DELETE) that a browser marks as cross-site
  (`Sec-Fetch-Site`) or that comes from a foreign `Origin` is refused (403). A request that rides on the
  session cookie, and the login form, must also carry the CSRF token (form field `csrf_token` or header
  `X-CSRF-Token`) unless its content type is one a cross-site form cannot send (JSON, XML). Bearer-token
  clients send no cookie, so the token rule does not concern them. The token is an HMAC of a random
  per-browser cookie; routes find it in `request.state.csrf_token` (`csrf_field` makes the hidden input).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from markupsafe import Markup, escape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_CSP = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"  # one year; no includeSubDomains: the hub does not own its parent domain
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a cross-site HTML form can send without a CORS preflight (Fetch standard, "CORS-safelisted").
SIMPLE_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM = 64 * 1024  # a form body we read to find the token; logins and buttons are far smaller


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------------------------------ headers
class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        tls: bool = False,
        csp: str = DEFAULT_CSP,
        csp_overrides: Mapping[str, str] | None = None,
    ) -> None:
        """`csp_overrides` maps a path prefix to its own CSP (the API docs need inline styles, say)."""
        self.app = app
        self.tls = tls
        self.csp = csp
        self.overrides = sorted((csp_overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def _csp(self, path: str) -> str:
        return next((csp for prefix, csp in self.overrides if path.startswith(prefix)), self.csp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {
            b"content-security-policy": self._csp(scope.get("path", "")).encode(),
            b"x-content-type-options": b"nosniff",
            b"referrer-policy": b"no-referrer",
            b"x-frame-options": b"DENY",
            b"cross-origin-opener-policy": b"same-origin",
            b"cross-origin-resource-policy": b"same-origin",
            b"cache-control": b"no-store",  # letters and CPR numbers must not stay in a browser's cache
        }
        if self.tls:
            extra[b"strict-transport-security"] = HSTS.encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# ------------------------------------------------------------------------------------ trusted hosts
def default_allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> list[str]:
    """The names a hub bound to `bind_host` answers to: localhost, the bind address, and `extra` (the DNS
    names it is reached by). A wildcard bind (0.0.0.0, ::) adds nothing: name the hosts with `extra`."""
    hosts = ["localhost", "127.0.0.1", "::1"]
    if bind_host not in ("", "0.0.0.0", "::"):
        hosts.append(bind_host)
    hosts += [h.strip().lower() for h in extra if h.strip()]
    return list(dict.fromkeys(h.lower() for h in hosts))


def host_name(header: str) -> str | None:
    """The host of a Host header without its port (`[::1]:8000` -> `::1`); None when malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        try:
            return str(ipaddress.IPv6Address(value[1:end]))
        except ValueError:
            return None
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name or None


class TrustedHostMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str]) -> None:
        """`allowed_hosts`: exact names or addresses, or `*.example.org` for any subdomain."""
        self.app = app
        allowed = [h.lower().strip("[]") for h in allowed_hosts]
        self.exact = frozenset(h for h in allowed if not h.startswith("*."))
        self.suffixes = tuple(h[1:] for h in allowed if h.startswith("*."))

    def allows(self, header: str | None) -> bool:
        name = host_name(header) if header else None
        if name is None:
            return False
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.allows(_headers(scope).get("host")):
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await _plain(send, 400, "Invalid Host header: this hub does not answer to that name.")
        else:
            await send({"type": "websocket.close", "code": 1008})


# --------------------------------------------------------------------------------------------- CSRF
def csrf_token_for(secret: bytes, browser_id: str) -> str:
    return hmac.new(secret, b"csrf:" + browser_id.encode(), hashlib.sha256).hexdigest()


def csrf_field(request: Any) -> Markup:
    """The hidden form input carrying the CSRF token (for templates: `{{ csrf_field(request) }}`)."""
    token = getattr(request.state, "csrf_token", "")
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(token))


class CsrfMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: bytes,
        session_cookie: str = "mcb_session",
        browser_cookie: str = "mcb_csrf",
        secure: bool = True,
        login_paths: Iterable[str] = ("/login",),
        trusted_origins: Iterable[str] = (),
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the CSRF secret must have at least 32 bytes")
        self.app = app
        self.secret = secret
        self.session_cookie = session_cookie
        self.browser_cookie = browser_cookie
        self.secure = secure
        self.login_paths = frozenset(login_paths)
        self.trusted_origins = frozenset(o.rstrip("/").lower() for o in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        cookies = _cookies(headers.get("cookie", ""))
        browser_id = cookies.get(self.browser_cookie, "")
        new_browser = len(browser_id) < 32
        if new_browser:
            browser_id = secrets.token_urlsafe(32)
        token = csrf_token_for(self.secret, browser_id)
        scope.setdefault("state", {})["csrf_token"] = token

        if scope["method"] in UNSAFE_METHODS:
            refusal = self._cross_site(scope, headers)
            needs_token = self.session_cookie in cookies or scope.get("path") in self.login_paths
            # No content type at all is what a body-less cross-site fetch sends without a preflight: simple too.
            simple = _content_type(headers) in SIMPLE_CONTENT_TYPES or not _content_type(headers)
            if refusal is None and needs_token and simple:
                presented = headers.get(CSRF_HEADER, "")
                if not presented and _content_type(headers) == "application/x-www-form-urlencoded":
                    presented, receive = await _form_field(receive, CSRF_FIELD)
                if new_browser or not hmac.compare_digest(presented.encode(), token.encode()):
                    refusal = "the form's CSRF token is missing or wrong; reload the page and try again"
            if refusal is not None:
                await _plain(send, 403, f"Forbidden: {refusal}.")
                return

        async def with_cookie(message: Message) -> None:
            if new_browser and message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"set-cookie", self._cookie(browser_id))],
                }
            await send(message)

        await self.app(scope, receive, with_cookie)

    def _cookie(self, value: str) -> bytes:
        secure = "; Secure" if self.secure else ""
        return f"{self.browser_cookie}={value}; Path=/; HttpOnly; SameSite=Strict{secure}".encode()

    def _cross_site(self, scope: Scope, headers: Mapping[str, str]) -> str | None:
        site = headers.get("sec-fetch-site")
        if site in ("cross-site", "same-site"):
            return "a request from another site"
        if site == "same-origin":
            # The browser says so (no page can set Sec-Fetch-*); its Origin may be "null" under our
            # `Referrer-Policy: no-referrer`, so it is not asked as well.
            return None
        origin = headers.get("origin")
        if origin is None:
            return None  # not a browser, or an old one: the token rule still applies to cookie sessions
        origin = origin.rstrip("/").lower()
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        if origin != own and origin not in self.trusted_origins:
            return "a request from another origin"
        return None


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is the client's problem; treat it as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


def _content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


async def _form_field(receive: Receive, name: str) -> tuple[str, Receive]:
    """Read a (small) urlencoded body for one field and hand the route a receive that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM:
            return "", receive  # too big to be one of our forms: no token found
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    values = parse_qs(body.decode("latin-1"), max_num_fields=100).get(name, [""])
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return values[0], replay

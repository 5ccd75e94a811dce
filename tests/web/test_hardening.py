"""The hardening middleware, sessions and authentication on a small FastAPI app of this test's own."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient

from medcom_bridge.security.principals import Principal, Role, Via
from medcom_bridge.web.access import Access, allows, stale, unruled
from medcom_bridge.web.auth import Authenticator
from medcom_bridge.web.docs_offline import DOCS_CSP, docs_csp_overrides, mount_offline_docs
from medcom_bridge.web.hardening import (
    DEFAULT_CSP,
    CsrfMiddleware,
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
    csrf_field,
    default_allowed_hosts,
    host_name,
)
from medcom_bridge.web.sessions import SessionCodec

SECRET = b"s" * 32
BASE = "http://127.0.0.1:8000"
TOKEN = "mcb_" + "A" * 43
ANNE = Principal("anne", Role.ORGANISATION, frozenset({"5790000121526"}), Via.SESSION)
ended: set[str] = set()
SESSIONS = SessionCodec(SECRET, secure=False, is_revoked=ended.__contains__)


def make_app(*, tls: bool = False, hosts: tuple[str, ...] = ()) -> FastAPI:
    auth = Authenticator(
        lookup_token=lambda t: Principal("robot", Role.OPERATOR) if t == TOKEN else None, sessions=SESSIONS
    )
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    who = Depends(auth.require)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/whoami")
    def whoami(principal: Principal = who) -> dict[str, str]:
        return {"name": principal.name, "role": principal.role.value}

    @app.get("/form")
    def form(request: Request) -> HTMLResponse:
        return HTMLResponse(f'<form method="post" action="/login">{csrf_field(request)}</form>')

    @app.get("/own-csp")
    def own_csp() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": "default-src 'none'"})

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        if form.get("user") != ["anne"]:
            return PlainTextResponse("no", status_code=401)
        _, value = SESSIONS.issue(ANNE)
        return PlainTextResponse("welcome", headers={"Set-Cookie": SESSIONS.set_cookie_header(value)})

    @app.post("/reprocess")
    async def reprocess(request: Request, principal: Principal = who) -> dict[str, str]:
        body = await request.body()
        return {"by": principal.name, "body": body.decode()}

    mount_offline_docs(app, dependencies=[who])
    app.add_middleware(CsrfMiddleware, secret=SECRET, secure=tls)
    app.add_middleware(SecurityHeadersMiddleware, tls=tls, csp_overrides=docs_csp_overrides())
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=default_allowed_hosts("127.0.0.1", hosts))
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app(hosts=("hub.hospital.example",)), base_url=BASE)


def browser(client: TestClient) -> tuple[str, str]:
    """Visit the form like a browser: the CSRF cookie and the token in the form."""
    page = client.get("/form")
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert token is not None
    return client.cookies["mcb_csrf"], token.group(1)


def logged_in(client: TestClient) -> str:
    _, token = browser(client)
    answer = client.post("/login", data={"user": "anne", "csrf_token": token})
    assert answer.status_code == 200, answer.text
    return token


# -------------------------------------------------------------------------------------------- headers
def test_security_headers_on_every_response(client: TestClient) -> None:
    for path, status in (("/health", 200), ("/whoami", 401), ("/nowhere", 404)):
        answer = client.get(path)
        assert answer.status_code == status
        h = answer.headers
        assert h["content-security-policy"] == DEFAULT_CSP and "frame-ancestors 'none'" in DEFAULT_CSP
        assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer"
        assert h["x-frame-options"] == "DENY" and "strict-transport-security" not in h
    assert client.get("/own-csp").headers["content-security-policy"] == "default-src 'none'"


def test_hsts_only_with_tls() -> None:
    answer = TestClient(make_app(tls=True), base_url="https://127.0.0.1:8443").get("/health")
    assert answer.headers["strict-transport-security"].startswith("max-age=")


# -------------------------------------------------------------------------------------- trusted hosts
@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200),
        ("localhost", 200),
        ("[::1]:8000", 200),
        ("hub.hospital.example", 200),
        ("HUB.hospital.example:443", 200),
        ("attacker.example", 400),  # DNS rebinding: the attacker's name resolving to us
        ("127.0.0.1.attacker.example", 400),
        ("", 400),
        ("[::1", 400),
        ("localhost:http", 400),
    ],
)
def test_trusted_hosts(client: TestClient, host: str, status: int) -> None:
    assert client.get("/health", headers={"Host": host}).status_code == status


def test_allowed_hosts_defaults() -> None:
    assert default_allowed_hosts("10.1.2.3") == ["localhost", "127.0.0.1", "::1", "10.1.2.3"]
    assert default_allowed_hosts("0.0.0.0", ["Hub.Example "]) == [
        "localhost",
        "127.0.0.1",
        "::1",
        "hub.example",
    ]
    assert host_name("[0:0::1]:80") == "::1" and host_name("a:b") is None


# ------------------------------------------------------------------------------------ authentication
def test_every_route_but_health_needs_credentials(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    for path in ("/whoami", "/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/whoami", headers={"Authorization": "Bearer mcb_wrong"}).status_code == 401
    assert client.get("/whoami", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/whoami", headers={"Authorization": f"Bearer {TOKEN}"}).json() == {
        "name": "robot",
        "role": "operator",
    }


def test_session_cookie_login_and_logout(client: TestClient) -> None:
    logged_in(client)
    assert client.get("/whoami").json() == {"name": "anne", "role": "organisation"}
    value = client.cookies["mcb_session"]
    session = SESSIONS.read(value)
    assert session is not None and session.principal == ANNE
    assert SESSIONS.read(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None  # forged
    ended.add(session.id)  # logout on the server side
    assert client.get("/whoami").status_code == 401


def test_session_cookie_attributes() -> None:
    codec = SessionCodec(SECRET)
    _, value = codec.issue(ANNE)
    header = codec.set_cookie_header(value)
    assert header.startswith("mcb_session=") and "; Secure" in header and "; HttpOnly" in header
    assert "SameSite=Strict" in header and "Max-Age=28800" in header
    assert "Max-Age=0" in codec.clear_cookie_header()
    assert SessionCodec(SECRET, max_age=-1).read(value) is None  # expired
    assert SessionCodec(b"t" * 32).read(value) is None  # signed with another secret
    with pytest.raises(ValueError):
        SessionCodec(b"short")


# ---------------------------------------------------------------------------------------------- CSRF
def test_login_form_needs_its_csrf_token(client: TestClient) -> None:
    browser(client)
    assert client.post("/login", data={"user": "anne"}).status_code == 403
    assert client.post("/login", data={"user": "anne", "csrf_token": "0" * 64}).status_code == 403
    other = TestClient(make_app(), base_url=BASE)
    _, foreign_token = browser(other)  # a valid token, but for another browser
    assert client.post("/login", data={"user": "anne", "csrf_token": foreign_token}).status_code == 403
    assert "mcb_session" not in client.cookies


def test_cookie_session_posts_need_the_token_or_a_non_simple_type(client: TestClient) -> None:
    token = logged_in(client)
    # The classic forgery: a text/plain (or form) POST that a page on any site can make.
    assert client.post("/reprocess", content="x", headers={"Content-Type": "text/plain"}).status_code == 403
    assert client.post("/reprocess", data={"flow": "1"}).status_code == 403
    ok = client.post("/reprocess", data={"flow": "1", "csrf_token": token})
    assert ok.status_code == 200 and ok.json() == {"by": "anne", "body": f"flow=1&csrf_token={token}"}
    assert (
        client.post(
            "/reprocess", content="x", headers={"Content-Type": "text/plain", "X-CSRF-Token": token}
        ).status_code
        == 200
    )
    # JSON needs a CORS preflight that we never grant: no token needed from our own pages' scripts.
    assert client.post("/reprocess", json={"flow": "1"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_posts_are_refused_even_with_a_token(client: TestClient, headers: dict[str, str]) -> None:
    token = logged_in(client)
    answer = client.post("/reprocess", json={"csrf": token}, headers={**headers, "X-CSRF-Token": token})
    assert answer.status_code == 403
    bearer = client.post("/reprocess", json={}, headers={**headers, "Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 403


def test_same_origin_and_bearer_clients_pass(client: TestClient) -> None:
    token = logged_in(client)
    same = {"Origin": BASE, "Sec-Fetch-Site": "same-origin", "X-CSRF-Token": token}
    assert (
        client.post("/reprocess", content="x", headers={**same, "Content-Type": "text/plain"}).status_code
        == 200
    )
    api = TestClient(make_app(), base_url=BASE)  # no cookies at all: a script with a token
    answer = api.post(
        "/reprocess",
        content="<x/>",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"},
    )
    assert answer.status_code == 200 and answer.json()["by"] == "robot"
    assert api.post("/reprocess", content="x").status_code == 401  # no credentials: 401, not a CSRF 403


# ---------------------------------------------------------------------------------------- offline docs
EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_outside(client: TestClient, page: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.get(page, headers=auth)
    assert answer.status_code == 200 and answer.headers["content-security-policy"] == DOCS_CSP
    html = answer.text
    assert "http://" not in html and "https://" not in html and EXTERNAL.search(html) is None
    assert "<script>" not in html  # no inline script: the CSP allows none
    for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
        asset = client.get(ref, headers=auth)
        assert asset.status_code == 200 and len(asset.content) > 0, ref
    init = client.get("/docs-assets/swagger-init.js", headers=auth).text
    assert '"validatorUrl": null' in init and '"url": "/openapi.json"' in init
    spec = client.get("/openapi.json", headers=auth).json()
    assert "/whoami" in spec["paths"] and "/docs" not in spec["paths"]
    assert client.get("/docs-assets/../../etc/passwd", headers=auth).status_code == 404


def test_mounting_needs_the_default_docs_off() -> None:
    with pytest.raises(ValueError):
        mount_offline_docs(FastAPI())


# ----------------------------------------------------------------------------------- the access table
ACCESS_TABLE = {
    ("GET", "/health"): Access.PUBLIC,
    ("GET", "/whoami"): Access.AUTHENTICATED,
    ("GET", "/form"): Access.PUBLIC,
    ("GET", "/own-csp"): Access.PUBLIC,
    ("POST", "/login"): Access.PUBLIC,
    ("POST", "/reprocess"): Access.OPERATIONS,
    ("GET", "/openapi.json"): Access.AUTHENTICATED,
    ("GET", "/docs"): Access.AUTHENTICATED,
    ("GET", "/redoc"): Access.AUTHENTICATED,
    ("GET", "/docs-assets/swagger-init.js"): Access.AUTHENTICATED,
    ("GET", "/docs-assets/{name}"): Access.AUTHENTICATED,
}


def test_a_route_without_a_rule_is_found() -> None:
    app = make_app()
    assert unruled(app, ACCESS_TABLE) == [] and stale(app, ACCESS_TABLE) == []

    @app.delete("/flows/{flow_id}")
    def forgotten(flow_id: str) -> None:
        pass

    app.mount("/static", StaticFiles(directory="."))
    assert unruled(app, ACCESS_TABLE) == [("*", "/static/{path}"), ("DELETE", "/flows/{flow_id}")]
    smaller = {k: v for k, v in ACCESS_TABLE.items() if k != ("GET", "/form")}
    assert stale(app, {**smaller, ("GET", "/gone"): Access.ADMIN}) == [("GET", "/gone")]


@pytest.mark.parametrize(
    ("access", "allowed"),
    [
        (Access.PUBLIC, {None, "organisation", "operator", "admin"}),
        (Access.AUTHENTICATED, {"organisation", "operator", "admin"}),
        (Access.OPERATIONS, {"operator", "admin"}),
        (Access.ADMIN, {"admin"}),
    ],
)
def test_allows_by_role(access: Access, allowed: set[str | None]) -> None:
    principals = {None: None, **{r.value: Principal("p", r, frozenset({"5790000121526"})) for r in Role}}
    assert {name for name, p in principals.items() if allows(access, p)} == allowed

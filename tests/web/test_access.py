"""Every route x every kind of caller: no, wrong, expired, other-organisation and the right credentials.

`CASES` names every route the hub serves with how to call it and what each caller gets. The first test fails
when a route is added without a rule in `web.guard.RULES` (or a rule outlives its route), and when a rule has
no case here: nobody can add a route without deciding, and showing, who may call it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medcom_bridge.hub.runner import Hub
from medcom_bridge.security import tokens
from medcom_bridge.security.oidc import OidcConfig
from medcom_bridge.web import create_app
from medcom_bridge.web.access import Access, stale, unruled
from medcom_bridge.web.guard import RULES
from medcom_bridge.web.settings import WebSecurity
from tests.security.test_oidc import AUDIENCE, ROLE_MAP, Provider, claims, provider, sign
from tests.web.conftest import (
    BASE,
    FHIR_SENDER,
    OIOXML_RECEIVER,
    START,
    api_client,
    envelope,
    letter,
    token_for,
)

__all__ = ["provider"]  # the OIDC provider fixture, used here
OTHER_ORG = "5790000121526"  # a valid location number that is party to none of the flows here


@dataclass(frozen=True)
class Case:
    """How to call a route (`{flow_id}`, `{message_id}` are filled in) and what the right and the other
    organisation's callers get. `right` is the role with the right; `other` the other organisation's status."""

    path: str
    right: str  # organisation | operator | admin | anyone
    ok: int = 200
    other: int = 200
    body: Callable[[], bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    public: bool = False


def new_letter() -> bytes:
    return envelope(letter(str(uuid.uuid4())))


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/health"): Case("/health", "anyone", public=True),
    ("GET", "/health/live"): Case("/health/live", "anyone", public=True),
    ("GET", "/health/ready"): Case("/health/ready", "anyone", public=True),
    ("GET", "/metrics"): Case("/metrics", "operator", other=403),
    ("GET", "/login"): Case("/login", "anyone", public=True),
    # A form POST without its CSRF token is refused whoever sends it (the login form needs the token).
    ("POST", "/login"): Case(
        "/login",
        "anyone",
        ok=403,
        other=403,
        public=True,
        body=lambda: b"token=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    ("POST", "/logout"): Case("/logout", "organisation", ok=303, other=303),
    ("POST", "/envelopes"): Case(
        "/envelopes",
        "organisation",
        ok=202,
        other=403,
        body=new_letter,
        headers={"content-type": "application/xml"},
    ),
    ("GET", "/flows"): Case("/flows", "organisation"),  # other: 200, but without the flow (checked below)
    ("GET", "/flows/{flow_id}"): Case("/flows/{flow_id}", "organisation", other=404),
    ("GET", "/flows/{flow_id}/events"): Case(
        "/flows/{flow_id}/events?format=auditevent", "organisation", other=404
    ),
    ("GET", "/flows/{flow_id}/messages/{message_id}"): Case(
        "/flows/{flow_id}/messages/{message_id}", "organisation", other=404
    ),
    ("GET", "/stats/monthly"): Case("/stats/monthly", "operator", other=403),
    ("GET", "/stats/monthly.csv"): Case("/stats/monthly.csv", "operator", other=403),
    ("GET", "/audit"): Case("/audit", "admin", other=403),
    ("GET", "/incidents"): Case("/incidents", "operator", other=403),
    ("GET", "/openapi.json"): Case("/openapi.json", "organisation"),
    ("GET", "/docs"): Case("/docs", "organisation"),
    ("GET", "/redoc"): Case("/redoc", "organisation"),
    ("GET", "/docs-assets/swagger-init.js"): Case("/docs-assets/swagger-init.js", "organisation"),
    ("GET", "/docs-assets/{name}"): Case("/docs-assets/swagger-ui.css", "organisation"),
    ("GET", "/"): Case("/", "organisation", ok=303, other=303),
    ("GET", "/ui"): Case("/ui", "operator", other=403),
    ("GET", "/ui/flows"): Case("/ui/flows", "organisation"),
    ("GET", "/ui/flows/{flow_id}"): Case("/ui/flows/{flow_id}", "organisation", other=404),
    ("GET", "/ui/flows/{flow_id}/messages/{message_id}/render"): Case(
        "/ui/flows/{flow_id}/messages/{message_id}/render", "organisation", other=404
    ),
    ("GET", "/ui/stats"): Case("/ui/stats", "operator", other=403),
    # Reprocess: operators only. The world's flow was delivered, so an operator is told it cannot be (409).
    ("POST", "/flows/{flow_id}/reprocess"): Case("/flows/{flow_id}/reprocess", "operator", ok=409, other=403),
    ("POST", "/flows/reprocess"): Case("/flows/reprocess?state=rejected", "operator", other=403),
    ("POST", "/quarantine/{name}/reprocess"): Case(
        "/quarantine/none.xml/reprocess", "operator", ok=404, other=403
    ),
    ("POST", "/ui/flows/{flow_id}/reprocess"): Case(
        "/ui/flows/{flow_id}/reprocess", "operator", ok=409, other=403
    ),
    ("POST", "/ui/quarantine/{name}/reprocess"): Case(
        "/ui/quarantine/none.xml/reprocess", "operator", ok=404, other=403
    ),
}


def secured(hub: Hub, provider: Provider) -> FastAPI:
    oidc = OidcConfig(
        provider.issuer,
        AUDIENCE,
        jwks_url=provider.base + "/realms/hospital/certs",
        role_claim="realm_access.roles",
        role_map=ROLE_MAP,
    )
    return create_app(hub, security=WebSecurity(oidc=oidc))


def test_every_route_has_a_rule_and_a_case(hub: Hub) -> None:
    app = create_app(hub)
    assert unruled(app, RULES) == [], "a route without an access rule: add it to web.guard.RULES"
    assert stale(app, RULES) == [], "a rule for a route that is gone"
    assert set(CASES) == set(RULES), "every rule needs a case in this table"
    assert [k for k, v in RULES.items() if v is Access.PUBLIC] == [
        ("GET", "/health"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/login"),
        ("POST", "/login"),
    ]


@dataclass
class World:
    app: FastAPI
    flow_id: str
    message_id: str
    credentials: dict[str, str | None]


@pytest.fixture
def world(hub: Hub, provider: Provider) -> Iterator[World]:
    app = secured(hub, provider)
    sender = token_for(hub.store, "organisation", (FHIR_SENDER,))
    posted = api_client(app, sender).post(
        "/envelopes", content=new_letter(), headers={"content-type": "application/xml"}
    )
    assert posted.status_code == 202, posted.text
    flow_id = posted.json()["flow_id"]
    hub.run_once()
    flow = api_client(app, sender).get(f"/flows/{flow_id}").json()
    message_id = next(m["id"] for m in flow["messages"] if m["kind"] == "carecommunication")
    with hub.store.engine.begin() as conn:
        revoked = tokens.create(conn, "revoked-admin", "admin", (), START)
        tokens.revoke(conn, "revoked-admin", START)
    expired = sign(
        provider, claims(provider, exp=int(START.timestamp()), realm_access={"roles": ["mcb-admin"]})
    )
    yield World(
        app,
        flow_id,
        message_id,
        {
            "no": None,
            "wrong": "mcb_" + "W" * 43,
            "revoked": revoked,
            "expired-jwt": expired,
            "forged-jwt": expired.rsplit(".", 1)[0] + ".c2lnbmF0dXJl",
            "other-organisation": token_for(hub.store, "organisation", (OTHER_ORG,)),
            "organisation": sender,
            "operator": token_for(hub.store, "operator"),
            "admin": token_for(hub.store, "admin"),
            "organisation-jwt": sign(
                provider, claims(provider, ean=[FHIR_SENDER], realm_access={"roles": ["mcb-org"]})
            ),
        },
    )


def same(text: str) -> str:
    """A page without its per-browser CSRF token."""
    return re.sub(r'name="csrf_token" value="[0-9a-f]+"', "", text)


def call(
    world: World, case: Case, method: str, credential: str | None, flow_id: str | None = None
) -> httpx.Response:
    client = api_client(world.app, credential)
    client.follow_redirects = False
    path = case.path.format(flow_id=flow_id or world.flow_id, message_id=world.message_id)
    body = case.body() if case.body else None
    return client.request(method, path, content=body, headers=case.headers)


@pytest.mark.parametrize("route", list(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_by_caller(world: World, route: tuple[str, str]) -> None:
    method, _ = route
    case = CASES[route]
    for who in ("no", "wrong", "revoked", "expired-jwt", "forged-jwt"):
        answer = call(world, case, method, world.credentials[who])
        if case.public:
            assert answer.status_code == case.ok, (who, answer.text)
        else:
            assert answer.status_code == 401, (who, answer.status_code, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer"), who
            assert world.flow_id not in answer.text, who

    other = call(world, case, method, world.credentials["other-organisation"])
    assert other.status_code == case.other, other.text
    if case.other == 404:  # exactly what a flow that does not exist gets: nothing tells them apart
        nobody = str(uuid.uuid4())
        unknown = call(world, case, method, world.credentials["other-organisation"], flow_id=nobody)
        assert unknown.status_code == 404
        assert same(other.text.replace(world.flow_id, "ID")) == same(unknown.text.replace(nobody, "ID"))
    if case.other == 403:
        assert world.flow_id not in other.text
    if route in (("GET", "/flows"), ("GET", "/ui/flows")):
        assert world.flow_id not in other.text  # the list is filtered, not refused

    rights = {
        "anyone": ("organisation", "operator", "admin"),
        "organisation": ("organisation", "organisation-jwt", "operator", "admin"),
        "operator": ("operator", "admin"),
        "admin": ("admin",),
    }[case.right]
    for who in rights:
        answer = call(world, case, method, world.credentials[who])
        assert answer.status_code == case.ok, (who, answer.text[:300])
        if route in (("GET", "/flows"), ("GET", "/ui/flows")):
            assert world.flow_id in answer.text, who
    for who in {"organisation", "operator", "admin"} - set(rights):
        assert call(world, case, method, world.credentials[who]).status_code == 403, who


def test_an_organisation_posts_only_as_itself(world: World) -> None:
    client = api_client(world.app, world.credentials["organisation"])
    xml = {"content-type": "application/xml"}
    as_other = envelope(letter(str(uuid.uuid4())), sender=OIOXML_RECEIVER, receiver=FHIR_SENDER)
    refused = client.post("/envelopes", content=as_other, headers=xml)
    assert refused.status_code == 403 and refused.json()["error"] == "http-sender-forbidden"
    # Naming its own mailbox does not help: the SenderID inside is checked too.
    sneaky = client.post("/envelopes", content=as_other, params={"mailbox": FHIR_SENDER}, headers=xml)
    assert sneaky.status_code == 403
    from_other_mailbox = client.post(
        "/envelopes", content=new_letter(), params={"mailbox": OIOXML_RECEIVER}, headers=xml
    )
    assert from_other_mailbox.status_code == 403
    admin = api_client(world.app, world.credentials["admin"])
    denied = admin.get("/audit", params={"action": "envelope.post", "outcome": "denied"}).json()["entries"]
    assert len(denied) >= 3 and all(e["details"]["rule"] == "http-sender-forbidden" for e in denied)


def test_a_session_cookie_is_not_a_bearer_token(world: World) -> None:
    """A JWT or API token goes in the Authorization header or the login form; a cookie with one is nothing."""
    client = TestClient(world.app, base_url=BASE, cookies={"mcb_session": world.credentials["admin"] or ""})
    assert client.get("/flows").status_code == 401


def test_unknown_paths_are_404_not_a_hint(world: World) -> None:
    assert api_client(world.app, None).get("/nowhere").status_code == 404
    assert api_client(world.app, None).get("/flows/x/y/z").status_code == 404


def test_bodies_of_refusals_are_json_for_the_api_and_a_login_page_for_pages(world: World) -> None:
    api = api_client(world.app, None).get("/flows")
    assert api.headers["content-type"] == "application/json"
    assert api.json()["error"] == "unauthorised"
    page = api_client(world.app, None).get("/ui/flows")
    assert page.status_code == 401 and 'action="/login"' in page.text and 'name="csrf_token"' in page.text

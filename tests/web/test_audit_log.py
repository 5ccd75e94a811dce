"""The audit log through the running app: every read of patient data and every change is written with who,
from where and what; `GET /audit` is for admins, filterable, exportable as IHE BALP AuditEvents, and reading
it is itself audited; the database refuses to change or delete an entry. Also: the pages' login and logout,
and OpenID Connect configured through the settings file."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from medcom_bridge.hub.runner import Hub
from medcom_bridge.security.audit import BALP_PROFILE
from medcom_bridge.web import create_app
from medcom_bridge.web.settings import SettingsError, load
from tests.security.test_oidc import Provider, claims, provider, sign
from tests.web.conftest import BASE, FHIR_SENDER, api_client, envelope, letter, token_for

__all__ = ["provider"]
XML = {"content-type": "application/xml"}


def entries(admin: TestClient, **filters: Any) -> list[dict[str, Any]]:
    answer = admin.get("/audit", params=filters)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["entries"])


def test_every_read_of_patient_data_and_every_post_is_audited(hub: Hub) -> None:
    app = create_app(hub)
    org = api_client(app, token_for(hub.store, "organisation", (FHIR_SENDER,)))
    admin = api_client(app, token_for(hub.store, "admin"))
    posted = org.post("/envelopes", content=envelope(letter(str(uuid.uuid4()))), headers=XML).json()
    flow_id = posted["flow_id"]
    hub.run_once()
    flow = org.get(f"/flows/{flow_id}").json()
    message = next(m for m in flow["messages"] if m["kind"] == "carecommunication")
    org.get(f"/flows/{flow_id}/events")
    org.get(message["download"])
    org.get(f"/ui/flows/{flow_id}/messages/{message['id']}/render")
    org.get("/flows", params={"letter_id": "abc", "sender_gln": FHIR_SENDER})
    org.get(f"/ui/flows/{flow_id}")

    actor = next(e["actor"] for e in entries(admin, action="envelope.post") if e["object_id"] == flow_id)
    mine = entries(admin, actor=actor)
    actions = [e["action"] for e in reversed(mine)]
    assert actions == [
        "envelope.post",
        "flow.read",
        "events.read",
        "message.download",
        "message.render",
        "flow.list",
        "flow.read",
    ]
    for e in mine:
        assert (
            e["role"] == "organisation" and e["via"] == "token" and e["remote"] and e["outcome"] == "success"
        )
    by_action = {e["action"]: e for e in mine}
    assert by_action["message.download"]["object_id"] == message["id"]
    assert by_action["message.download"]["details"] == {"flow": flow_id}
    assert by_action["flow.list"]["details"]["letter_id"] == "abc"  # the search criteria
    assert by_action["envelope.post"]["object_id"] == flow_id


def test_audit_is_for_admins_filterable_balp_and_itself_audited(hub: Hub) -> None:
    app = create_app(hub)
    admin_token = token_for(hub.store, "admin")
    admin = api_client(app, admin_token)
    operator = api_client(app, token_for(hub.store, "operator"))
    assert operator.get("/audit").status_code == 403
    operator.get("/flows", params={"state": "completed"})

    reads = entries(admin, action="flow.list", limit=1)
    assert len(reads) == 1 and reads[0]["role"] == "operator" and reads[0]["details"]["state"] == "completed"
    denied = entries(admin, action="audit.read", outcome="denied")
    assert denied == []  # the operator's refused attempt is a 403 of the gate, not an audit read
    own = entries(admin, action="audit.read", limit=5)
    assert own[0]["details"] == {"action": "audit.read", "limit": 5, "format": "json"}  # this very read
    assert len(own) >= 3  # ... and the two before it

    bundle = admin.get("/audit", params={"format": "auditevent", "limit": 3})
    assert bundle.headers["content-type"] == "application/fhir+json"
    body = bundle.json()
    assert body["resourceType"] == "Bundle" and len(body["entry"]) == 3
    event = body["entry"][0]["resource"]
    assert event["resourceType"] == "AuditEvent"
    assert event["meta"]["profile"] == [BALP_PROFILE.format("Query")]  # an audit read is a search
    assert event["type"]["code"] == "rest" and event["outcome"] == "0"
    requestor = next(a for a in event["agent"] if a["requestor"])
    assert requestor["who"]["identifier"]["value"].startswith("admin-")

    page = admin.get("/audit", params={"limit": 2})
    older = admin.get("/audit", params={"limit": 2, "before_id": page.json()["next_before_id"]}).json()
    assert older["entries"][0]["id"] < page.json()["entries"][-1]["id"]
    assert admin.get("/audit", params={"action": "nonsense"}).json()["error"] == "bad-filter"
    assert admin.get("/audit", params={"since": "yesterday"}).status_code == 400


def test_the_database_refuses_to_change_the_audit_log(hub: Hub) -> None:
    app = create_app(hub)
    admin = api_client(app, token_for(hub.store, "admin"))
    before = entries(admin, limit=50)
    assert before
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), hub.store.engine.begin() as conn:
            conn.execute(text(statement))
    after = entries(admin, limit=50)
    assert after[1:] == before[: len(after) - 1]  # only the new read was added; nothing changed or went
    assert after[0]["action"] == "audit.read"


def browser_login(client: TestClient, token: str) -> str:
    form = client.get("/login")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', form.text)
    assert csrf is not None
    answer = client.post("/login", data={"token": token, "csrf_token": csrf.group(1)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "mcb_session=" in cookie and "; Secure" in cookie and "; HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    return csrf.group(1)


def test_login_form_session_and_logout(hub: Hub) -> None:
    app = create_app(hub)
    token = token_for(hub.store, "operator")
    admin = api_client(app, token_for(hub.store, "admin"))
    browser = TestClient(app, base_url=BASE)
    assert browser.get("/ui").status_code == 401
    csrf = browser_login(browser, token)
    overview = browser.get("/ui")
    assert overview.status_code == 200 and "Sign out" in overview.text
    assert f'name="csrf_token" value="{csrf}"' in overview.text  # the logout form carries it
    kept = browser.cookies["mcb_session"]

    assert browser.post("/logout", follow_redirects=False).status_code == 403  # no CSRF token: refused
    out = browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    assert browser.get("/ui").status_code == 401
    # A copy of the cookie kept from before the logout is worth nothing either: the session ended.
    stolen = TestClient(app, base_url=BASE, cookies={"mcb_session": kept})
    assert stolen.get("/ui").status_code == 401

    wrong = TestClient(app, base_url=BASE)
    page = wrong.get("/login")
    csrf_wrong = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert csrf_wrong is not None
    refused = wrong.post("/login", data={"token": "mcb_" + "Z" * 43, "csrf_token": csrf_wrong.group(1)})
    assert refused.status_code == 401 and "not valid" in refused.text
    assert "mcb_session" not in wrong.cookies
    logins = entries(admin, action="login", limit=2)
    assert logins[0]["outcome"] == "denied" and logins[0]["details"] == {"why": "unknown-or-revoked-token"}
    assert logins[1]["outcome"] == "success" and logins[1]["role"] == "operator"
    assert entries(admin, action="logout", limit=1)[0]["role"] == "operator"


def test_an_organisation_logs_in_and_lands_on_its_flows(hub: Hub) -> None:
    app = create_app(hub)
    browser = TestClient(app, base_url=BASE)
    browser_login(browser, token_for(hub.store, "organisation", (FHIR_SENDER,)))
    start = browser.get("/", follow_redirects=False)
    assert start.headers["location"] == "/ui/flows"
    flows = browser.get("/ui/flows")
    assert flows.status_code == 200 and 'href="/ui/stats"' not in flows.text  # no operations links
    assert browser.get("/ui/stats").status_code == 403


def settings_file(tmp_path: Path, provider: Provider) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(
        f"""
[server]
allowed_hosts = ["hub.hospital.example"]

[retention]
payloads = "2y"

[oidc]
issuer = "{provider.issuer}"
audience = "medcom-bridge"
role_claim = "realm_access.roles"
org_claim = "ean"

[oidc.roles]
mcb-admin = "admin"
mcb-org = "organisation"
""",
        encoding="utf-8",
    )
    return path


def test_oidc_from_the_settings_file(hub: Hub, tmp_path: Path, provider: Provider) -> None:
    security = load(settings_file(tmp_path, provider))
    assert "hub.hospital.example" in security.allowed_hosts and "127.0.0.1" in security.allowed_hosts
    assert str(security.retention) == "24m"
    app = create_app(hub, security=security)
    admin_jwt = sign(provider, claims(provider, realm_access={"roles": ["mcb-admin"]}))
    answer = api_client(app, admin_jwt).get("/audit", params={"limit": 1})
    assert answer.status_code == 200
    assert answer.json()["entries"][0]["via"] == "oidc"
    org_jwt = sign(provider, claims(provider, ean=[FHIR_SENDER]))
    assert api_client(app, org_jwt).get("/audit").status_code == 403
    assert api_client(app, org_jwt).get("/flows").status_code == 200
    # Discovery went through the provider's well-known document (no jwks_url configured).
    assert provider.hits[0].endswith("/.well-known/openid-configuration")
    other_host = TestClient(
        app, base_url="https://hub.hospital.example", headers={"Authorization": f"Bearer {admin_jwt}"}
    )
    assert other_host.get("/flows").status_code == 200
    assert TestClient(app, base_url="https://attacker.example").get("/health").status_code == 400


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("[server]\nallowed_host = []\n", "unknown key(s) allowed_host"),
        ("[serve]\n", "unknown section [serve]"),
        ("[retention]\npayloads = '30d'\n", "shorter than the 3-month window"),
        ("[oidc]\nissuer = 'https://x'\naudience = 'y'\n", "[oidc.roles]"),
        (
            "[oidc]\nissuer = 'https://x'\naudience = 'y'\nalgorithms = ['HS256']\n[oidc.roles]\na = 'admin'\n",
            "not allowed",
        ),
        ("[oidc.roles]\na = 'root'\n", "values must be"),
        ("[server]\nsession_secret_file = '/nonexistent/key'\n", "session_secret_file"),
        ("not toml = = =", "not TOML"),
    ],
)
def test_bad_settings_say_what_is_expected(tmp_path: Path, content: str, complaint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=re.escape(complaint)):
        load(path)


@pytest.mark.parametrize("name", ["actor", "object_id"])
def test_a_nul_character_in_an_audit_filter_is_a_400(hub: Hub, name: str) -> None:
    """PostgreSQL refuses NUL in text; found by the API fuzz test (a 500 before)."""
    client = api_client(create_app(hub), token_for(hub.store))
    answer = client.get("/audit", params={name: "a\x00b"})
    assert answer.status_code == 400 and answer.json()["error"] == "bad-filter"

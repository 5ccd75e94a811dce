"""API tokens: shown once, stored as a digest, revocable; principals and their rights."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from medcom_bridge.security import tokens
from medcom_bridge.security.principals import (
    Principal,
    Role,
    Via,
    can_manage_tokens,
    can_post_envelope,
    can_read_audit,
    can_reprocess,
    can_see_flow,
    can_see_operations,
    visible_organisations,
)
from medcom_bridge.security.schema import TABLES

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
ODENSE = "5790000121526"
AARHUS = "5790001382445"
OTHER = "5790000120400"


def test_a_new_token_is_random_prefixed_and_long() -> None:
    made = {tokens.new_token() for _ in range(100)}
    assert len(made) == 100
    for token in made:
        assert token.startswith("mcb_") and len(token) == 4 + 43 and tokens.looks_like_token(token)
    assert not tokens.looks_like_token("mcb_short") and not tokens.looks_like_token("Bearer " + token)


def test_only_the_digest_is_stored(engine: Engine) -> None:
    with engine.begin() as conn:
        token = tokens.create(conn, "odense", "organisation", [ODENSE], NOW)
    with engine.connect() as conn:
        rows = conn.execute(select(TABLES.api_tokens)).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert token not in stored and token[4:] not in stored
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_authenticate_create_list_revoke(engine: Engine) -> None:
    with engine.begin() as conn:
        admin = tokens.create(conn, "root", "admin", [], NOW)
        org = tokens.create(conn, "odense", "organisation", [ODENSE, AARHUS, ODENSE], NOW)
    with engine.connect() as conn:
        assert tokens.authenticate(conn, admin) == Principal("root", Role.ADMIN, frozenset(), Via.TOKEN)
        assert tokens.authenticate(conn, org) == Principal(
            "odense", Role.ORGANISATION, frozenset({ODENSE, AARHUS})
        )
        assert tokens.authenticate(conn, tokens.new_token()) is None  # well-formed, unknown
        assert tokens.authenticate(conn, org[:-1] + ("A" if org[-1] != "A" else "B")) is None
        assert tokens.authenticate(conn, "") is None
        listed = tokens.list_tokens(conn)
    assert [(t.name, t.role, t.organisations, t.revoked_at) for t in listed] == [
        ("odense", Role.ORGANISATION, (ODENSE, AARHUS), None),
        ("root", Role.ADMIN, (), None),
    ]
    assert org not in str([t.to_json() for t in listed])
    with engine.begin() as conn:
        tokens.revoke(conn, "odense", NOW)
    with engine.connect() as conn:
        assert tokens.authenticate(conn, org) is None
        assert tokens.authenticate(conn, admin) is not None
        assert tokens.list_tokens(conn)[0].revoked_at is not None
    with pytest.raises(tokens.TokenError, match="no live token"), engine.begin() as conn:
        tokens.revoke(conn, "odense", NOW)


def test_names_are_unique(engine: Engine) -> None:
    with engine.begin() as conn:
        tokens.create(conn, "desk", "operator", [], NOW)
        with pytest.raises(tokens.TokenError, match="exists"):
            tokens.create(conn, "desk", "admin", [], NOW)
        tokens.create(conn, "desk-2", "operator", [], NOW)  # the transaction survives the refusal
    with engine.connect() as conn:
        assert [t.name for t in tokens.list_tokens(conn)] == ["desk", "desk-2"]


@pytest.mark.parametrize(
    ("name", "role", "orgs", "message"),
    [
        ("", "admin", [], "name"),
        ("a b", "admin", [], "name"),
        ("x", "root", [], "role 'root' is unknown"),
        ("x", "organisation", [], "at least one --org"),
        ("x", "organisation", ["5790000121527"], "13-digit EAN"),
        ("x", "operator", [ODENSE], "only for organisation"),
    ],
)
def test_grants_are_checked(name: str, role: str, orgs: list[str], message: str) -> None:
    with pytest.raises(tokens.TokenError, match=message):
        tokens.check_grant(name, role, orgs)


ADMIN = Principal("root", Role.ADMIN)
OPERATOR = Principal("desk", Role.OPERATOR)
ORG = Principal("odense", Role.ORGANISATION, frozenset({ODENSE}))


@pytest.mark.parametrize(
    ("principal", "flow", "post", "everything"),
    [
        (ADMIN, True, True, True),
        (OPERATOR, True, True, False),
        (ORG, False, False, False),
    ],
)
def test_rights_by_role(principal: Principal, flow: bool, post: bool, everything: bool) -> None:
    assert can_see_flow(principal, OTHER, AARHUS) is flow
    assert can_post_envelope(principal, OTHER) is post
    assert can_manage_tokens(principal) is everything and can_read_audit(principal) is everything
    assert can_reprocess(principal) is flow and can_see_operations(principal) is flow


def test_an_organisation_sees_its_own_flows_both_ways() -> None:
    assert can_see_flow(ORG, ODENSE, OTHER) and can_see_flow(ORG, OTHER, ODENSE)
    assert not can_see_flow(ORG, None, None) and not can_see_flow(ORG, OTHER, AARHUS)
    assert can_post_envelope(ORG, ODENSE) and not can_post_envelope(ORG, None)
    assert visible_organisations(ORG) == {ODENSE} and visible_organisations(OPERATOR) is None
    with pytest.raises(ValueError):
        Principal.of("x", "superuser")

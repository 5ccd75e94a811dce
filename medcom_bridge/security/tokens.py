"""API tokens: random, shown once, stored as a digest (architecture.md §3.1 `medcom-bridge token ...`).

A token is `mcb_` and 43 URL-safe characters (32 random bytes): the prefix lets secret scanners and people
recognise one in a log or a paste. Only its SHA-256 is stored; with 256 random bits a fast hash is enough (a
slow password hash protects guessable secrets, and these are not). Lookup is by digest; the final comparison
uses `hmac.compare_digest` so the time taken says nothing about how much of a guess matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from medcom_bridge.hub.clock import utc
from medcom_bridge.identifiers import gln_ok
from medcom_bridge.security.principals import Principal, Role, Via
from medcom_bridge.security.schema import TABLES, SecurityTables

PREFIX = "mcb_"
TOKEN_BYTES = 32
_TOKEN = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_-]{43}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class TokenError(ValueError):
    """A token command cannot be done; the message says why (never contains a token)."""


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token as `token list` shows it: never the token or its digest."""

    name: str
    role: Role
    organisations: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": str(self.role),
            "organisations": list(self.organisations),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def check_grant(name: str, role: str, organisations: Iterable[str]) -> tuple[Role, tuple[str, ...]]:
    """Validate what `token create` was asked for; raises TokenError with what is expected."""
    if _NAME.fullmatch(name) is None:
        raise TokenError(f"name {name!r} must be 1-64 letters, digits, '.', '_', '@' or '-'")
    try:
        parsed = Role(role)
    except ValueError:
        raise TokenError(f"role {role!r} is unknown; use {', '.join(r.value for r in Role)}") from None
    orgs = tuple(dict.fromkeys(organisations))
    bad = [ean for ean in orgs if not gln_ok(ean)]
    if bad:
        raise TokenError(f"{', '.join(map(repr, bad))}: an organisation is a 13-digit EAN location number")
    if parsed is Role.ORGANISATION and not orgs:
        raise TokenError("an organisation token needs at least one --org EAN")
    if parsed is not Role.ORGANISATION and orgs:
        raise TokenError(f"--org is only for organisation tokens; a(n) {parsed} sees every flow")
    return parsed, orgs


def create(
    conn: Connection,
    name: str,
    role: str,
    organisations: Iterable[str],
    now: datetime,
    tables: SecurityTables = TABLES,
) -> str:
    """Store a new token and return it (the only time it is ever seen)."""
    parsed, orgs = check_grant(name, role, organisations)
    token = new_token()
    try:
        with conn.begin_nested():
            conn.execute(
                tables.api_tokens.insert().values(
                    name=name,
                    token_hash=token_hash(token),
                    role=parsed.value,
                    organisations=list(orgs),
                    created_at=now,
                )
            )
    except IntegrityError:
        raise TokenError(f"a token named {name!r} exists; revoke it or choose another name") from None
    return token


def list_tokens(conn: Connection, tables: SecurityTables = TABLES) -> list[TokenInfo]:
    t = tables.api_tokens
    rows = conn.execute(
        select(t.c.name, t.c.role, t.c.organisations, t.c.created_at, t.c.revoked_at).order_by(t.c.name)
    )
    return [
        TokenInfo(
            r.name,
            Role(r.role),
            tuple(r.organisations),
            utc(r.created_at),
            r.revoked_at and utc(r.revoked_at),
        )
        for r in rows
    ]


def revoke(conn: Connection, name: str, now: datetime, tables: SecurityTables = TABLES) -> None:
    """Revoke by name; raises TokenError when there is no such live token."""
    t = tables.api_tokens
    done = conn.execute(
        update(t).where(t.c.name == name, t.c.revoked_at.is_(None)).values(revoked_at=now)
    ).rowcount
    if not done:
        raise TokenError(f"no live token named {name!r}")


def authenticate(conn: Connection, token: str, tables: SecurityTables = TABLES) -> Principal | None:
    """The principal a presented bearer token stands for; None for a malformed, unknown or revoked one."""
    if not looks_like_token(token):
        return None
    t = tables.api_tokens
    digest = token_hash(token)
    row = conn.execute(
        select(t.c.name, t.c.token_hash, t.c.role, t.c.organisations, t.c.revoked_at).where(
            t.c.token_hash == digest
        )
    ).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Principal.of(row.name, row.role, row.organisations, Via.TOKEN)

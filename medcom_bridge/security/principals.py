"""Who is calling and what they may do: pure rules, one function per question a route asks.

Roles (issue 11): `admin` may do everything (tokens, audit); `operator` sees and reprocesses every flow;
`organisation` sees only flows where one of its EANs is sender or receiver (any other flow is answered 404, as
if it did not exist) and may post only envelopes whose SenderID is one of its EANs (403 otherwise).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    ORGANISATION = "organisation"


class Via(enum.StrEnum):
    """How the caller proved who they are (kept in the audit log)."""

    TOKEN = "token"
    OIDC = "oidc"
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    organisations: frozenset[str] = frozenset()  # EAN location numbers (GLN); only for `organisation`
    via: Via = Via.TOKEN

    @classmethod
    def of(cls, name: str, role: str, organisations: Iterable[str] = (), via: Via = Via.TOKEN) -> Principal:
        """A principal from stored or claimed values; raises ValueError for an unknown role."""
        return cls(name, Role(role), frozenset(organisations), via)


def is_admin(principal: Principal) -> bool:
    return principal.role is Role.ADMIN


def sees_all_flows(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.OPERATOR)


def visible_organisations(principal: Principal) -> frozenset[str] | None:
    """The EANs a flow query must be limited to (sender or receiver among them); None: no limit."""
    return None if sees_all_flows(principal) else principal.organisations


def can_see_flow(principal: Principal, sender_gln: str | None, receiver_gln: str | None) -> bool:
    """False means the route answers 404: an organisation must not learn that another's flow exists."""
    if sees_all_flows(principal):
        return True
    return bool({sender_gln, receiver_gln} & principal.organisations)


def can_post_envelope(principal: Principal, sender_id: str | None) -> bool:
    """False means 403. Operators and admins may inject on anyone's behalf (a re-send from the desk)."""
    if sees_all_flows(principal):
        return True
    return sender_id is not None and sender_id in principal.organisations


def can_reprocess(principal: Principal) -> bool:
    return sees_all_flows(principal)


def can_manage_tokens(principal: Principal) -> bool:
    return is_admin(principal)


def can_read_audit(principal: Principal) -> bool:
    return is_admin(principal)


def can_see_operations(principal: Principal) -> bool:
    """Statistics, metrics, quarantine and the spool's health: the hub as a whole, not one party's letters."""
    return sees_all_flows(principal)

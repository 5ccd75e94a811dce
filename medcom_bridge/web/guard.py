"""Every request through one gate: the route's rule (`RULES`), the caller (`Authenticator`), the audit log.

`RULES` names every route the hub serves with the right it needs (`web.access.Access`); a route the table does
not name is refused (403), and `tests/web/test_access.py` fails the day a route is added without a rule
(`access.unruled`). The gate runs as an app-wide dependency before the route: it answers 401 without
credentials and 403 for a role that lacks the right; what an organisation may see inside a route (its own
flows; any other is 404) is the route's part, through `security.principals`.

`Audit.write` appends to the audit log (`security.audit`) with who (principal), from where (client address)
and what; routes call it for every read of patient data and every change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fastapi import HTTPException, Request

from medcom_bridge.hub.clock import Clock
from medcom_bridge.hub.service import HubService
from medcom_bridge.security import audit
from medcom_bridge.security.principals import Principal
from medcom_bridge.web.access import Access, RouteKey, allows
from medcom_bridge.web.auth import UNAUTHORISED_HEADERS, Authenticator

RULES: Mapping[RouteKey, Access] = MappingProxyType(
    {
        ("GET", "/health"): Access.PUBLIC,
        # Probes for an orchestrator (no token): they name checks and say yes or no, nothing else.
        ("GET", "/health/live"): Access.PUBLIC,
        ("GET", "/health/ready"): Access.PUBLIC,
        ("GET", "/metrics"): Access.OPERATIONS,  # Prometheus with an operator token (docs/metrics.md)
        ("GET", "/login"): Access.PUBLIC,
        ("POST", "/login"): Access.PUBLIC,  # the credentials are in the form (and its CSRF token)
        ("POST", "/logout"): Access.AUTHENTICATED,
        # The API: an organisation sees its own flows only (the routes filter, and answer 404 for others).
        ("POST", "/envelopes"): Access.AUTHENTICATED,  # an organisation only with its own SenderID (403)
        ("GET", "/flows"): Access.AUTHENTICATED,
        ("GET", "/flows/{flow_id}"): Access.AUTHENTICATED,
        ("GET", "/flows/{flow_id}/events"): Access.AUTHENTICATED,
        ("GET", "/flows/{flow_id}/messages/{message_id}"): Access.AUTHENTICATED,
        ("GET", "/stats/monthly"): Access.OPERATIONS,
        ("GET", "/stats/monthly.csv"): Access.OPERATIONS,  # statistics: GLNs, names, counts; no patient data
        ("GET", "/audit"): Access.ADMIN,
        ("GET", "/incidents"): Access.OPERATIONS,  # alert incidents: counts, GLNs, state names
        # API documentation: no patient data, but not for the whole network either.
        ("GET", "/openapi.json"): Access.AUTHENTICATED,
        ("GET", "/docs"): Access.AUTHENTICATED,
        ("GET", "/redoc"): Access.AUTHENTICATED,
        ("GET", "/docs-assets/swagger-init.js"): Access.AUTHENTICATED,
        ("GET", "/docs-assets/{name}"): Access.AUTHENTICATED,
        # The pages.
        ("GET", "/"): Access.AUTHENTICATED,
        ("GET", "/ui"): Access.OPERATIONS,
        ("GET", "/ui/flows"): Access.AUTHENTICATED,
        ("GET", "/ui/flows/{flow_id}"): Access.AUTHENTICATED,
        ("GET", "/ui/flows/{flow_id}/messages/{message_id}/render"): Access.AUTHENTICATED,
        ("GET", "/ui/stats"): Access.OPERATIONS,
        # Reprocess (issue 12): operators and admins; an organisation may not (403).
        ("POST", "/flows/{flow_id}/reprocess"): Access.OPERATIONS,
        ("POST", "/flows/reprocess"): Access.OPERATIONS,
        ("POST", "/quarantine/{name}/reprocess"): Access.OPERATIONS,
        ("POST", "/ui/flows/{flow_id}/reprocess"): Access.OPERATIONS,
        ("POST", "/ui/quarantine/{name}/reprocess"): Access.OPERATIONS,
    }
)


class Forbidden(HTTPException):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)


@dataclass(frozen=True, slots=True)
class Audit:
    service: HubService
    clock: Clock

    def write(
        self,
        request: Request,
        principal: Principal | None,
        action: audit.Action,
        *,
        outcome: audit.Outcome = audit.Outcome.SUCCESS,
        object_type: str | None = None,
        object_id: str | None = None,
        details: Mapping[str, audit.Detail] | None = None,
    ) -> None:
        self.service.audit(self.entry(request, principal, action, outcome, object_type, object_id, details))

    def entry(
        self,
        request: Request,
        principal: Principal | None,
        action: audit.Action,
        outcome: audit.Outcome = audit.Outcome.SUCCESS,
        object_type: str | None = None,
        object_id: str | None = None,
        details: Mapping[str, audit.Detail] | None = None,
    ) -> audit.Entry:
        return audit.Entry.by(
            principal,
            self.clock.now(),
            action,
            outcome=outcome,
            remote=request.client.host if request.client else None,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )


class Gate:
    """The app-wide dependency: the route's rule decides; the principal lands in `request.state`."""

    def __init__(self, auth: Authenticator, rules: Mapping[RouteKey, Access] = RULES) -> None:
        self.auth = auth
        self.rules = rules

    def __call__(self, request: Request) -> None:
        route = request.scope.get("route")
        method = "GET" if request.method == "HEAD" else request.method
        access = self.rules.get((method, getattr(route, "path", "")))
        request.state.principal = None
        if access is None:  # fail closed: a route nobody decided about is nobody's
            raise Forbidden("this route has no access rule")
        if access is Access.PUBLIC:
            return
        principal = self.auth.principal(request)
        if principal is None:
            raise HTTPException(401, "authentication required", headers=UNAUTHORISED_HEADERS)
        request.state.principal = principal
        if not allows(access, principal):
            raise Forbidden(f"a(n) {principal.role} may not use this route")


def caller(request: Request) -> Principal:
    """A route's dependency: the principal the gate let in (routes that are not public only)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # only if a public route asks for a caller: a programming error, fail closed
        raise HTTPException(401, "authentication required", headers=UNAUTHORISED_HEADERS)
    return principal


class EndedSessions:
    """Session ids ended by logout, kept until the cookie would have expired anyway (bounded by that)."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._ended: dict[str, float] = {}
        self._lock = threading.Lock()

    def end(self, session_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._ended = {sid: at for sid, at in self._ended.items() if now - at < self.max_age}
            self._ended[session_id] = now

    def __contains__(self, session_id: object) -> bool:
        with self._lock:
            return session_id in self._ended

"""Which routes need which right: one table, and the check that no route is served without a rule.

The hub's app keeps a table `{(method, path template): Access}`; `unruled(app, table)` lists the routes the
app serves that the table does not name (and `stale` the rules for routes that are gone), so a test fails the
day someone adds a route without deciding who may call it. `allows(access, principal)` is the role check a
dependency applies; what an organisation may see inside a route (its own flows only, 404 otherwise) stays
with the route (`security.principals.can_see_flow`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from medcom_bridge.security.principals import Principal, can_read_audit, sees_all_flows

RouteKey = tuple[str, str]  # (HTTP method, path template), e.g. ("GET", "/flows/{flow_id}")


class Access(enum.StrEnum):
    PUBLIC = "public"  # /health only: answers without credentials
    AUTHENTICATED = "authenticated"  # any principal; the route limits an organisation to its own flows
    OPERATIONS = "operations"  # operator or admin: statistics, metrics, reprocess, quarantine
    ADMIN = "admin"  # tokens, audit


def allows(access: Access, principal: Principal | None) -> bool:
    if access is Access.PUBLIC:
        return True
    if principal is None:
        return False
    if access is Access.AUTHENTICATED:
        return True
    if access is Access.OPERATIONS:
        return sees_all_flows(principal)
    return can_read_audit(principal)


def served_routes(app: ASGIApp) -> set[RouteKey]:
    """Every (method, path template) the app answers; a mount counts as `("*", prefix + "/{path}")`."""
    routes: list[BaseRoute] = getattr(app, "routes", [])
    return set(_walk(routes, ""))


def _walk(routes: list[BaseRoute], prefix: str) -> Iterator[RouteKey]:
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield method, prefix + route.path
        elif isinstance(route, Mount):
            inner: list[BaseRoute] | None = getattr(route.app, "routes", None)
            if inner:
                yield from _walk(inner, prefix + route.path)
            else:
                yield "*", f"{prefix}{route.path}/{{path}}"
        elif hasattr(route, "original_router"):  # FastAPI's include_router keeps the router, with its prefix
            context = getattr(route, "include_context", None)
            inner_prefix = prefix + str(getattr(context, "prefix", "") or "")
            yield from _walk(list(route.original_router.routes), inner_prefix)
        else:  # websockets and other kinds: name them so that a rule must exist
            yield "*", prefix + str(getattr(route, "path", route))


def unruled(app: ASGIApp, table: Mapping[RouteKey, Access]) -> list[RouteKey]:
    return sorted(served_routes(app) - set(table))


def stale(app: ASGIApp, table: Mapping[RouteKey, Access]) -> list[RouteKey]:
    return sorted(set(table) - served_routes(app))

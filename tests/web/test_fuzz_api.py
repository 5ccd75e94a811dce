"""Schemathesis over the hub's own OpenAPI document, with a valid admin token: whatever it generates for
every operation (paths, query parameters, bodies), the hub never answers 500."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcom_bridge.hub.runner import Hub
from medcom_bridge.web import create_app
from medcom_bridge.web.settings import WebSecurity
from tests.web.conftest import token_for

EXAMPLES = 12  # per operation: the whole run stays well under a minute


def test_no_operation_answers_500(hub: Hub) -> None:
    hosts = (*WebSecurity().allowed_hosts, "testserver")  # the name schemathesis' ASGI client sends
    app = create_app(hub, security=WebSecurity(allowed_hosts=hosts))
    auth = {"Authorization": f"Bearer {token_for(hub.store, 'admin')}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # the test sees the API (a schema that loads nothing would pass)
    failures: list[str] = []
    for operation in operations:
        fuzz(operation, auth, failures)
    assert failures == []


def fuzz(operation: Any, auth: dict[str, str], failures: list[str]) -> None:
    """Up to EXAMPLES generated calls of one operation; a 5xx other than 503 (store busy) is a failure."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call(headers=auth)
        if response.status_code >= 500 and response.status_code != 503:
            failures.append(
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
            )
        assert response.status_code != 401, "the token must be accepted"

    run()

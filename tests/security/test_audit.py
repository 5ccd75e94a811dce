"""The audit log: entries, filters, no patient data, the BALP-shaped AuditEvent export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import Engine

from medcom_bridge.security import audit
from medcom_bridge.security.audit import Action, Entry, Outcome, Query
from medcom_bridge.security.principals import Principal, Role, Via

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
ORG = Principal("odense", Role.ORGANISATION, frozenset({"5790000121526"}), Via.OIDC)


def _fill(engine: Engine) -> None:
    with engine.begin() as conn:
        audit.record(
            conn, Entry.by(ORG, T0, Action.FLOW_READ, remote="10.0.0.7", object_type="flow", object_id="f-1")
        )
        audit.record(
            conn,
            Entry.by(None, T0 + timedelta(minutes=1), Action.LOGIN, outcome=Outcome.DENIED, actor="mallory"),
        )
        audit.record(
            conn,
            Entry.by(
                ORG,
                T0 + timedelta(minutes=2),
                Action.FLOW_LIST,
                details={"patient": "251248-9996", "state": "delivered", "limit": 50, "all": False},
            ),
        )


def test_filters_and_order(engine: Engine) -> None:
    _fill(engine)
    with engine.connect() as conn:
        everything = audit.search(conn, Query())
        assert [e.action for e in everything] == [Action.FLOW_LIST, Action.LOGIN, Action.FLOW_READ]
        assert [e.actor for e in audit.search(conn, Query(actor="mallory"))] == ["mallory"]
        assert [e.action for e in audit.search(conn, Query(outcome=Outcome.DENIED))] == [Action.LOGIN]
        assert [e.object_id for e in audit.search(conn, Query(object_id="f-1"))] == ["f-1"]
        window = Query(since=T0 + timedelta(seconds=30), until=T0 + timedelta(minutes=2))
        assert [e.action for e in audit.search(conn, window)] == [Action.LOGIN]
        first = everything[0]
        assert first.id is not None
        assert [e.action for e in audit.search(conn, Query(before_id=first.id, limit=1))] == [Action.LOGIN]
    read = everything[2]
    assert (read.role, read.via, read.remote, read.outcome) == (
        "organisation",
        "oidc",
        "10.0.0.7",
        Outcome.SUCCESS,
    )


def test_details_never_keep_a_cpr_number(engine: Engine) -> None:
    _fill(engine)
    with engine.connect() as conn:
        search = audit.search(conn, Query(action=Action.FLOW_LIST))[0]
    assert search.details == {"patient": "25xxxx-xxxx", "state": "delivered", "limit": 50, "all": False}
    with pytest.raises(TypeError):
        audit.clean_details({"letter": {"text": "a whole letter"}})  # type: ignore[dict-item]
    assert audit.clean_details({"q": "x" * 500})["q"] == "x" * audit.MAX_DETAIL + "…"


def test_every_entry_exports_as_an_r4_audit_event(engine: Engine) -> None:
    _fill(engine)
    with engine.connect() as conn:
        entries = audit.search(conn, Query())
    for entry in entries + [Entry(T0, "root", action) for action in Action]:
        event = audit.to_audit_event(entry, observer="medcom-bridge")
        AuditEvent.model_validate(json.loads(json.dumps(event)))
        assert event["meta"]["profile"][0].startswith("https://profiles.ihe.net/ITI/BALP/")
    read = audit.to_audit_event(entries[2], observer="medcom-bridge")
    assert read["action"] == "R" and read["outcome"] == "0" and read["subtype"][0]["code"] == "read"
    assert read["agent"][1]["who"]["identifier"]["value"] == "odense"
    assert read["agent"][1]["network"] == {"address": "10.0.0.7", "type": "2"}
    assert read["entity"][0]["what"]["identifier"]["value"] == "f-1"
    denied = audit.to_audit_event(entries[1], observer="medcom-bridge")
    assert denied["outcome"] == "4" and "network" not in denied["agent"][1]

from __future__ import annotations

from medcom_bridge.hub import docs


def test_flow_states_doc_is_current() -> None:
    current = docs.DEFAULT_OUT.read_text(encoding="utf-8")
    assert current == docs.render(), "docs/flow-states.md is stale: run python -m medcom_bridge.hub.docs"


def test_doc_lists_every_transition() -> None:
    page = docs.render()
    from medcom_bridge.hub.flow import TRANSITIONS

    for state, events in TRANSITIONS.items():
        for event, target in events.items():
            assert f"| `{state.value}` | `{event.value}` | `{target.value}` |" in page
    assert "| `received` | Taken in" in page  # member docstrings made it into the page

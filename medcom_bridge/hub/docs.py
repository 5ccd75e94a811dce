"""Write `docs/flow-states.md` from the state table: `python -m medcom_bridge.hub.docs [OUT]`.

The page is generated, never edited by hand; `tests/hub/test_docs.py` fails when it is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from medcom_bridge.hub.flow import TRANSITIONS, Event, State, mermaid

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "flow-states.md"


def render() -> str:
    """The whole Markdown page."""
    parts = [
        "# Flow states of the conversion hub",
        "",
        "Generated from `medcom_bridge/hub/flow.py` by `python -m medcom_bridge.hub.docs`; do not edit by hand.",
        "An event that is not listed for a state raises `ImpossibleTransition`.",
        "",
        "```mermaid",
        mermaid().rstrip("\n"),
        "```",
        "",
        "## States",
        "",
        "| State | Meaning |",
        "|---|---|",
    ]
    parts += [f"| `{s.value}` | {_attr_doc(State, s.name)} |" for s in State]
    parts += ["", "## Events", "", "| Event | Meaning |", "|---|---|"]
    parts += [f"| `{e.value}` | {_attr_doc(Event, e.name)} |" for e in Event]
    parts += ["", "## Transition table", "", "| State | Event | New state |", "|---|---|---|"]
    for state, events in TRANSITIONS.items():
        parts += [
            f"| `{state.value}` | `{event.value}` | `{target.value}` |" for event, target in events.items()
        ]
    return "\n".join(parts) + "\n"


def _attr_doc(enum: type, name: str) -> str:
    """The docstring written under an enum member in flow.py (read from the source, where it lives)."""
    return _MEMBER_DOCS.get((enum.__name__, name), "")


def _member_docs() -> dict[tuple[str, str], str]:
    import ast
    import inspect
    import itertools

    from medcom_bridge.hub import flow

    tree = ast.parse(inspect.getsource(flow))
    docs: dict[tuple[str, str], str] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for current, following in itertools.pairwise(body):
            if (
                isinstance(current, ast.Assign)
                and isinstance(current.targets[0], ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                text = " ".join(following.value.value.split())
                docs[(node.name, current.targets[0].id)] = text.replace("|", "\\|")
    return docs


_MEMBER_DOCS = _member_docs()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

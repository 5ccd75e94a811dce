"""The EDIFACT kinds as the document layer sees them: detection and the HTML view of a DIS91.

Detection reads only the first UNH's message version (`D9134L` -> dis91 ...), so that a broken interchange
still reaches the validator that can say what is wrong with it.
"""

from __future__ import annotations

import re

from medcom_bridge.edifact import codes

_UNH_VERSION = re.compile(rb"UNH\+[^+']*\+[A-Z]{6}:[^:']*:[^:']*:[^:']*:([A-Z0-9]{6})")


def edifact_kind(data: bytes) -> str:
    """dis91, bin01, ctl01, ctl02 or ctl03; ValueError naming what was found otherwise."""
    match = _UNH_VERSION.search(data, 0, 65536)
    if match is None:
        raise ValueError("EDIFACT interchange without a readable UNH message identifier in its first 64 KiB")
    version = match.group(1).decode("ascii")
    kind = codes.KIND_OF_VERSION.get(version)
    if kind is None:
        raise ValueError(
            f"EDIFACT message version {version} is not one we read; supported: "
            + ", ".join(f"{v[2]} {v[1]}" for v in codes.KINDS.values())
        )
    return kind


def render_dis91(data: bytes) -> str:
    """A DIS91 as the page of its XDIS91 twin (raises ValueError for an unreadable or refused letter)."""
    from medcom_bridge.edifact import oioxml_twin
    from medcom_bridge.oioxml.model import ClinicalEmail, Emessage
    from medcom_bridge.oioxml.render import render_xdis91

    message = oioxml_twin(data)
    if not isinstance(message.body, ClinicalEmail):
        raise ValueError("not a DIS91")
    return render_xdis91(Emessage(message.envelope, message.body, message.namespace))

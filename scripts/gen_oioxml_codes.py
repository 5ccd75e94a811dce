"""Generate medcom_bridge/oioxml/codes.py: the OIOXML code lists, read from MedCom's schemas.

Usage: .venv/bin/python scripts/gen_oioxml_codes.py [--check]
Reads ../shared/data/oioxml/xsd/{os2korrespondance,medcom-edifact-converter-2015}/<ns date>/*.xsd and writes
one frozenset per (namespace date, schema edition, simple type). `--check` exits 1 when the checked-in
module differs from what the schemas give (the test suite runs this).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
XSD = REPO.parent / "shared" / "data" / "oioxml" / "xsd"
TARGET = REPO / "medcom_bridge" / "oioxml" / "codes.py"
XS = "{http://www.w3.org/2001/XMLSchema}"

EDITIONS = {"NEW": "os2korrespondance", "OLD": "medcom-edifact-converter-2015"}
# (namespace folder, simple type name) pairs the validator needs.
_LETTER_TYPES = [
    "AcknowledgementCodeType",
    "IdentifierCodeType",
    "MedicalSpecialityCodeType",
    "EpisodeOfCareStatusCode01Type",
    "ObjectCodeType",
    "ObjectExtensionCodeType",
    "StatusCodeType",
    "VersionCodeType",
    "TypeCodeType",
]
TYPES = {
    "2006/07/01": _LETTER_TYPES,
    "2012/03/28": [t for t in _LETTER_TYPES if t != "EpisodeOfCareStatusCode01Type"],
    # Receipts, and the older XDIS91 XD9133L / XBIN01 XB0130X editions.
    "2005/08/07": _LETTER_TYPES,
    "2020/05/06": ["AcknowledgementCodeType", "VersionCodeType"],
}


def enumeration(folder: Path, type_name: str) -> list[str] | None:
    for xsd in sorted(folder.glob("*.xsd")):
        tree = etree.parse(str(xsd), etree.XMLParser(resolve_entities=False, no_network=True))
        for st in tree.iter(f"{XS}simpleType"):
            if st.get("name") == type_name:
                return [e.get("value", "") for e in st.iter(f"{XS}enumeration")]
    return None


def refuse_codes(folder: Path) -> list[str]:
    tree = etree.parse(str(folder / "NegativeReceipt.xsd"))
    for el in tree.iter(f"{XS}element"):
        if el.get("name") == "RefuseCode":
            return [e.get("value", "") for e in el.iter(f"{XS}enumeration")]
    raise SystemExit("RefuseCode not found")


def render() -> str:
    lines = [
        '"""OIOXML code lists, generated from MedCom\'s schemas by scripts/gen_oioxml_codes.py. Do not edit.',
        "",
        "Keys: (namespace date folder, edition, simple type name); edition NEW = os2korrespondance schemas",
        "(no timezone in dates, 95 specialities), OLD = MedCom EDIFACT converter 2015 schemas.",
        '"""',
        "",
        "CODES: dict[tuple[str, str, str], frozenset[str]] = {",
    ]
    for ns, names in TYPES.items():
        for edition, root in EDITIONS.items():
            folder = XSD / root / ns
            if not folder.is_dir():
                continue
            for name in names:
                values = enumeration(folder, name)
                if values is None:
                    continue
                body = ", ".join(repr(v) for v in values)
                lines.append(f"    ({ns!r}, {edition!r}, {name!r}): frozenset({{{body}}}),")
    lines.append("}")
    lines.append("")
    lines.append("# RefuseCode of XCTL01/XCTL02 (identical at OriginalEmessage and OriginalLetter level).")
    codes = ", ".join(repr(v) for v in refuse_codes(XSD / "os2korrespondance" / "2005/08/07"))
    lines.append(f"REFUSE_CODES: tuple[str, ...] = ({codes})")
    lines.append("")
    return _ruff_format("\n".join(lines))


def _ruff_format(text: str) -> str:
    """Format like the checked-in file (ruff is a dev dependency next to this interpreter)."""
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return done.stdout


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date; run scripts/gen_oioxml_codes.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

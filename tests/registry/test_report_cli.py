"""`medcom-bridge sor report`: JSON shape, HTML page, exit codes, escaping."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.registry.quality import RULES, report
from medcom_bridge.registry.register import Register
from medcom_bridge.registry.report_html import render
from medcom_bridge.registry.sor_edi import read_sor_edi_csv
from medcom_bridge.registry.sor_xml import read_sor_xml
from medcom_bridge.registry.synthetic import SyntheticData
from tests.registry.conftest import APOTEK, EER_BUNDLE, EER_ENDPOINTS, PRAKSIS, SYGEHUS, TODAY

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sor", "report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_shape_on_real_samples() -> None:
    code, out, _ = run("--sor", str(SYGEHUS), "--eer", str(EER_BUNDLE), "--json", "--today", "2026-11-21")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"generated", "counts", "findings"}
    assert isinstance(doc["generated"], str) and re.match(r"\d{4}-\d\d-\d\dT", doc["generated"])
    assert set(RULES) <= set(doc["counts"]) and all(isinstance(v, int) for v in doc["counts"].values())
    for f in doc["findings"]:
        assert set(f) == {"rule", "severity", "ean", "sor", "message"}
        assert f["severity"] in ("error", "warning", "information")
    # The bundle's GP practice is not in the hospital extract, and its GLN system string is malformed.
    assert [(f["rule"], f["ean"]) for f in doc["findings"]] == [
        ("R04", "5790001995669"),
        ("eer-gln-system", None),
    ]
    assert doc["counts"]["R04"] == 1


def test_json_on_synthetic_data_counts_every_planted_defect(tmp_path: Path, synthetic: SyntheticData) -> None:
    files = {"sor": "sor.xml", "edi": "edi.csv", "eer": "eer.json"}
    (tmp_path / "sor.xml").write_bytes(synthetic.sor_xml)
    (tmp_path / "edi.csv").write_bytes(synthetic.edi_csv)
    (tmp_path / "eer.json").write_bytes(synthetic.eer_json)
    args = [a for k, v in files.items() for a in (f"--{k}", str(tmp_path / v))]
    code, out, _ = run(*args, "--json", "--today", TODAY.isoformat(), "-o", str(tmp_path / "r.html"))
    assert code == 0
    doc = json.loads(out)
    assert len(doc["findings"]) == len(synthetic.planted)
    assert all(doc["counts"][rule] >= 2 for rule in RULES)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert all(f'id="{rule}"' in page for rule in RULES)


def test_html_on_real_samples(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, _ = run("--sor", str(APOTEK), "--eer", str(EER_ENDPOINTS), "-o", str(out))
    assert code == 0 and stdout == ""
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert "<link" not in page and "src=" not in page  # self-contained
    assert 'id="f-region"' in page and 'id="f-system"' in page and 'id="f-admin"' in page
    assert "R04 · " in page and "259" in page
    code, stdout, _ = run("--sor", str(PRAKSIS))
    assert code == 0 and stdout.startswith("<!DOCTYPE html>") and "No findings." in stdout


def test_unreadable_and_wrong_inputs_exit_2(tmp_path: Path) -> None:
    code, _, err = run("--sor", str(tmp_path / "missing.xml"))
    assert code == 2 and "cannot read file" in err
    code, _, err = run("--sor", str(EER_BUNDLE))
    assert code == 2 and "SorTree" in err and "Traceback" not in err
    code, _, err = run("--sor", str(PRAKSIS), "--edi", str(EER_BUNDLE))
    assert code == 2 and "missing column" in err and str(EER_BUNDLE) in err
    code, _, err = run("--sor", str(PRAKSIS), "--today", "soon")
    assert code == 2 and "YYYY-MM-DD" in err
    assert run()[0] == 2


def test_html_escapes_data_from_the_register() -> None:
    evil = "<script>alert(1)</script>"
    sor = PRAKSIS.read_bytes().replace(
        b"Michael Filtenborg</EntityName>", b"&lt;script&gt;alert(1)&lt;/script&gt;</EntityName>", 1
    )
    edi = f"ean,type,direction\n5790000141227,{evil},receive\n".encode()
    reg = Register.build(read_sor_xml(sor), read_sor_edi_csv(edi))
    owner = reg.unit("8321000016007")
    assert owner is not None and owner.name == evil
    page = render(report(reg, today=TODAY, generated="now"), reg)
    assert evil not in page and evil.upper() not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "&lt;SCRIPT&gt;" in page

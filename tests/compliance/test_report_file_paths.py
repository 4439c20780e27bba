"""A manifest kept in a folder whose name has a space, a ``#`` or a line break: every format still places the
system's results on its file and still validates (a review: the space lost SARIF's physical location, which code
scanning needs to place a result, and OSCAL's ``href``; the line break made the OSCAL report fail its schema and
the scan exit 3 with no report written, while ``xzgov validate`` accepted the register). JUnit's root carries
what Jenkins' junit-10.xsd allows (no ``skipped`` there: each suite has its own)."""

from __future__ import annotations

import datetime as dt
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest

from compliance.reports import ReportFormat, publish_reports, render
from compliance.scanner import ScanOptions, scan

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["a b", "a#b", "a\nb"], ids=["space", "hash", "line-break"])
def test_a_manifest_in_an_oddly_named_folder_is_placed_and_every_format_validates(tmp_path: Path,
                                                                                  folder: str) -> None:
    # the example register (e-invoice's crypto units are located at its manifest as a whole)
    root = tmp_path / "register"
    root.mkdir()
    shutil.copy(ROOT / "region.yaml", root / "region.yaml")
    shutil.copytree(ROOT / "systems", root / "systems")
    (root / "systems" / "czt" / folder).mkdir()
    shutil.move(root / "systems" / "czt" / "e-invoice.yaml", root / "systems" / "czt" / folder / "e-invoice.yaml")
    result = scan(ScanOptions(root=root, as_of=dt.date(2026, 12, 1), systems=("e-invoice",)))
    manifest = f"systems/czt/{folder}/e-invoice.yaml"
    assert any(e.location == manifest for system in result.systems for finding in system.findings
               for e in finding.result.evidence), "no evidence located at the manifest as a whole"
    # every format written as the scan writes it: each checked against its schema (a failure is exit 3)
    publish_reports(result, tmp_path / "out", list(ReportFormat))
    texts = {fmt: render(result, fmt) for fmt in (ReportFormat.sarif, ReportFormat.junit)}
    sarif = texts[ReportFormat.sarif][1]
    uris = {location["physicalLocation"]["artifactLocation"]["uri"] for run in sarif["runs"] for r in run["results"]
            for location in r.get("locations", []) if "physicalLocation" in location}
    assert quote(manifest, safe="/") in uris
    junit = ET.fromstring(texts[ReportFormat.junit][0])
    assert "skipped" not in junit.attrib and all("skipped" in suite.attrib for suite in junit)

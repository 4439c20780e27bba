"""Reports of a scan, written together and signed as one bundle.

:func:`write_reports` writes the selected formats into a directory, validates each machine format
against its schema (a report that does not validate is a defect and is never handed out), and
:func:`sign_reports` signs them with ``xzgov.crypto.bundle`` (SM2 over the SM3 of each file) into
``xzgov-bundle.json`` beside them; ``xzgov verify <dir>/xzgov-bundle.json`` checks the set.

Files: ``compliance-report.json`` (schema ``schemas/report.schema.json``), ``compliance.sarif``
(SARIF 2.1.0), ``junit.xml``, ``oscal-assessment-results.json`` (OSCAL 1.2.3), ``report.html``,
``summary.md``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from compliance.reports import formats, validate
from compliance.reports.html import render_html
from compliance.results import ScanResult
from xzgov.core.errors import ExitCode, XzgovError
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

BUNDLE_NAME = bundle.DEFAULT_NAME


class ReportFormat(enum.StrEnum):
    json = "json"
    sarif = "sarif"
    junit = "junit"
    oscal = "oscal"
    html = "html"
    markdown = "markdown"


FILES = {
    ReportFormat.json: "compliance-report.json",
    ReportFormat.sarif: "compliance.sarif",
    ReportFormat.junit: "junit.xml",
    ReportFormat.oscal: "oscal-assessment-results.json",
    ReportFormat.html: "report.html",
    ReportFormat.markdown: "summary.md",
}
SCHEMA_OF = {
    ReportFormat.json: validate.REPORT_SCHEMA,
    ReportFormat.sarif: validate.SARIF_SCHEMA,
    ReportFormat.oscal: validate.OSCAL_SCHEMA,
}


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render(result: ScanResult, fmt: ReportFormat) -> tuple[str, Any]:
    """(text, data) of one format; ``data`` is the JSON value for JSON formats, else ``None``."""
    if fmt is ReportFormat.json:
        data = formats.report_json(result)
    elif fmt is ReportFormat.sarif:
        data = formats.sarif(result)
    elif fmt is ReportFormat.oscal:
        data = formats.oscal(result)
    elif fmt is ReportFormat.junit:
        return formats.junit(result), None
    elif fmt is ReportFormat.html:
        return render_html(result), None
    else:
        return formats.markdown(result), None
    return _dump(data), data


def write_reports(result: ScanResult, out: Path, selected: Iterable[ReportFormat] = tuple(ReportFormat)) -> list[Path]:
    """Write ``selected`` formats into ``out``; every JSON format is validated against its schema first."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in dict.fromkeys(selected):
        text, data = render(result, fmt)
        if fmt in SCHEMA_OF:
            problems = validate.errors(SCHEMA_OF[fmt], data)
            if problems:
                raise XzgovError(f"internal error: the {fmt} report does not match its schema: {problems[:3]}",
                                 exit_code=ExitCode.INTERNAL)
        path = out / FILES[fmt]
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def sign_reports(paths: Sequence[Path], key: SM2PrivateKey, out: Path) -> Path:
    """Sign ``paths`` into ``out/xzgov-bundle.json`` and read it back; a bundle that does not verify is a defect."""
    written = bundle.sign_files(paths, key, out / BUNDLE_NAME)
    check = bundle.verify_bundle(written, [keys.fingerprint(key.public_key)])
    if not check.ok:  # pragma: no cover - would be a defect in signing
        raise XzgovError(f"internal error: the report bundle does not verify: {check.problems}",
                         exit_code=ExitCode.INTERNAL)
    return written

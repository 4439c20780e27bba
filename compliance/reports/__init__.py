"""Reports of a scan, written together and signed as one bundle.

:func:`publish_reports` renders the selected formats, validates each machine format against its
schema (a report that does not validate is a defect and is never handed out), signs them with
``xzgov.crypto.bundle`` (SM2 over the SM3 of each file) into ``xzgov-bundle.json`` beside them, all in
a staging directory, and then swaps the whole set in at once; ``xzgov verify <dir>/xzgov-bundle.json``
checks the set. The output directory is the report set: it may hold nothing else (:func:`check_output`).

Files: ``compliance-report.json`` (schema ``schemas/report.schema.json``), ``compliance.sarif``
(SARIF 2.1.0), ``junit.xml``, ``oscal-assessment-results.json`` (OSCAL 1.2.3), ``report.html`` (the
summary page) with ``report-pages/`` (one page per system and per department, their shared stylesheet,
script and ``catalogue.js``; signed as a tree), ``summary.md``; on request (not in the default set)
``compliance-report.jsonl``, the JSON report as JSON lines (a header line, then one line per system).
JSON files are written compact (no indentation).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.reports import formats, validate
from compliance.reports.html import PAGES as PAGES
from compliance.reports.html import render_html
from compliance.reports.html import render_site as render_site
from compliance.results import ScanResult
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.core.fsutil import atomic_write, check_output_directory, staged_directory
from xzgov.core.text import may_hide_in_json, printable_data
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
    jsonl = "jsonl"


FILES = {
    ReportFormat.json: formats.JSON_REPORT,
    ReportFormat.sarif: "compliance.sarif",
    ReportFormat.junit: "junit.xml",
    ReportFormat.oscal: "oscal-assessment-results.json",
    ReportFormat.html: "report.html",
    ReportFormat.markdown: "summary.md",
    ReportFormat.jsonl: formats.JSON_LINES_REPORT,
}
#: What ``--out`` writes when no ``--format`` is given (JSON lines only on request: same content as the JSON).
DEFAULT_FORMATS: tuple[ReportFormat, ...] = tuple(f for f in ReportFormat if f is not ReportFormat.jsonl)
SCHEMA_OF = {
    ReportFormat.json: validate.REPORT_SCHEMA,
    ReportFormat.sarif: validate.SARIF_SCHEMA,
    ReportFormat.oscal: validate.OSCAL_SCHEMA,
    ReportFormat.jsonl: validate.REPORT_SCHEMA,
}


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def render(result: ScanResult, fmt: ReportFormat, companions: Collection[str] | None = None) -> tuple[str, Any]:
    """(text, data) of one format; ``data`` is the JSON value for JSON formats (for JSON lines: the
    report they hold), else ``None``. ``companions``: the names of the files of the report set it is written in
    (``None``: the default set; ``()``: printed alone), which the summaries point a reader to."""
    if fmt is ReportFormat.jsonl:
        text = formats.report_lines(result)
        return text, formats.parse_lines(text)
    if fmt is ReportFormat.json:
        data = formats.report_json(result)
    elif fmt is ReportFormat.sarif:
        data = formats.sarif(result)
    elif fmt is ReportFormat.oscal:
        data = formats.oscal(result, companions)
    elif fmt is ReportFormat.junit:
        return formats.junit(result), None
    elif fmt is ReportFormat.html:
        return render_html(result, companions=companions), None
    else:
        return formats.markdown(result, companions), None
    text = _dump(data)
    # SARIF and OSCAL are shown by CI tools and viewers: no hidden characters.
    if fmt in (ReportFormat.sarif, ReportFormat.oscal) and may_hide_in_json(text):
        data = printable_data(data)
        text = _dump(data)
    return text, data


#: The machine-readable part a shard of the scan writes beside its reports (``xzgov scan --shard``,
#: read by ``xzgov scan merge``; ``compliance.merge``), signed in the same bundle.
PART_NAME = "scan-part.json"
#: Everything a report directory may hold: it is replaced as a whole, so nothing else may live there.
REPORT_NAMES = frozenset({*FILES.values(), PAGES, BUNDLE_NAME, PART_NAME})


@dataclass(frozen=True)
class Published:
    """A report set now in place: the reports and, when signed, their bundle."""

    reports: list[Path]
    bundle: Path | None


def check_output(out: Path) -> None:
    """Refuse (exit 2) an ``--out`` that is a file, a link, a directory holding other files, or a directory
    inside a signed report set (a shard's part, an earlier scan's reports): the new reports would be files its
    bundle does not sign, and that set would no longer verify.

    Call it before scanning, so a wrong ``--out`` fails before minutes of work.
    """
    check_output_directory(out, REPORT_NAMES)
    for folder in out.resolve().parents:
        if (folder / BUNDLE_NAME).is_file():
            raise UsageError(f"--out {out} is inside the signed report set {folder}: writing there would break "
                             "its signature", [Diagnostic(str(out), 0, 0, "--out", f"inside {folder}, which "
                                                          f"{BUNDLE_NAME} signs", "write the reports to a folder "
                                                          "outside every signed report set (e.g. beside it)",
                                                          "unsafe-path")])


#: What a merged set may replace at its ``--out``: an earlier report set, never a shard's part (its own input).
MERGED_REPLACES = REPORT_NAMES - {PART_NAME}


def publish_reports(
    result: ScanResult, out: Path, selected: Iterable[ReportFormat] = DEFAULT_FORMATS,
    key: SM2PrivateKey | None = None, extra: Mapping[str, bytes] | None = None,
    replaces: Collection[str] = REPORT_NAMES,
) -> Published:
    """Write the whole report set (signed with ``key`` when given) and put it at ``out`` in one step.

    The set is rendered, validated and signed in a staging directory beside ``out``, then swapped in
    (:func:`staged_directory`): a full disk, a defect or an interrupt before the swap leaves the
    previous (signed) set at ``out`` byte-identical; a reader never sees a mix of two sets. ``extra``
    (name in :data:`REPORT_NAMES` → bytes) is written and signed with the reports (a scan part). ``replaces``: the
    names ``out`` may hold to be replaced, checked again just before the swap (:data:`MERGED_REPLACES` for a
    merge: a shard's part written there meanwhile is refused, not replaced).
    """
    with staged_directory(out, replaces) as staging:
        chosen = list(dict.fromkeys(selected))
        companions = {name for fmt in chosen for name in _names(fmt)}
        names = [name for fmt in chosen for name in _write_one(result, fmt, staging, companions)]
        for name, data in (extra or {}).items():
            atomic_write(staging / name, data, base=staging)
            names.append(name)
        if key is not None:
            _sign(staging, [staging / name for name in names], key)
    reports = [out / name for name in names]
    return Published(reports, out / BUNDLE_NAME if key is not None else None)


def _names(fmt: ReportFormat) -> list[str]:
    """The names one format writes in a report set (the HTML report: its summary and its pages' folder)."""
    return [FILES[fmt], PAGES] if fmt is ReportFormat.html else [FILES[fmt]]


def _write_one(result: ScanResult, fmt: ReportFormat, directory: Path, companions: Collection[str]) -> list[str]:
    """Write one format into ``directory`` (``companions``: every name the set holds); the names written."""
    if fmt is ReportFormat.html:
        (directory / PAGES).mkdir(mode=0o755)
        for name, page in render_site(result, companions=companions).items():
            atomic_write(directory / name, page.encode("utf-8"), base=directory)
        return _names(fmt)
    text, data = render(result, fmt, companions)
    if fmt in SCHEMA_OF:
        problems = validate.errors(SCHEMA_OF[fmt], data, size=len(text))
        if problems:
            raise XzgovError(f"internal error: the {fmt} report does not match its schema: {problems[:3]}",
                             exit_code=ExitCode.INTERNAL)
    atomic_write(directory / FILES[fmt], text.encode("utf-8"), base=directory)
    return [FILES[fmt]]


def _sign(directory: Path, paths: Sequence[Path], key: SM2PrivateKey) -> Path:
    written = bundle.sign_files(paths, key, directory / BUNDLE_NAME)
    check = bundle.verify_bundle(written, [keys.fingerprint(key.public_key)])
    if not check.ok:  # pragma: no cover - would be a defect in signing
        raise XzgovError(f"internal error: the report bundle does not verify: {check.problems}",
                         exit_code=ExitCode.INTERNAL)
    return written


def write_reports(result: ScanResult, out: Path, selected: Iterable[ReportFormat] = DEFAULT_FORMATS) -> list[Path]:
    """Write ``selected`` formats, unsigned, as the new report set at ``out`` (:func:`publish_reports`).

    Prefer :func:`publish_reports` with the key: signing afterwards with :func:`sign_reports` leaves a
    moment where ``out`` holds an unsigned set.
    """
    return publish_reports(result, out, selected).reports


def sign_reports(paths: Sequence[Path], key: SM2PrivateKey, out: Path) -> Path:
    """Sign ``paths`` into ``out/xzgov-bundle.json`` and read it back; a bundle that does not verify is a defect."""
    return _sign(out, paths, key)

"""``spec.assessments`` (the last 等级测评 and 密评): typed from the manifest, every bad value located at its line
with a fix (the schema for shape, range and conclusion; the register for a real calendar date)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.register.conftest import REPO, line_of
from xzgov.core.register import check_register, load_register

RECORDS = ("  assessments:\n"
           "    dengbao: {{date: \"{date}\", agency: 西藏自治区网络安全等级测评中心, conclusion: {conclusion}, "
           "score: {score}, report: DJCP-2026-54-0001}}\n"
           "    miping: {{date: \"2026-05-10\", agency: 西藏自治区商用密码应用安全性评估中心, conclusion: 基本符合}}\n")


def _append(region: Path, date: str = "2026-03-20", conclusion: str = "基本符合", score: str = "84.5") -> Path:
    path = region / "systems/dsjj/idp.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\n  assessments:" not in text
    path.write_text(text + RECORDS.format(date=date, conclusion=conclusion, score=score), encoding="utf-8")
    return path


def test_records_are_typed(region: Path) -> None:
    _append(region)
    system = load_register(region).systems["idp"]
    dengbao, miping = system.assessments.dengbao, system.assessments.miping
    assert dengbao is not None and miping is not None
    assert (dengbao.date, dengbao.conclusion, dengbao.score, dengbao.report) == (
        "2026-03-20", "基本符合", 84.5, "DJCP-2026-54-0001")
    assert (miping.date, miping.conclusion, miping.score, miping.report) == ("2026-05-10", "基本符合", None, "")


def test_absent_records_are_none(region: Path) -> None:
    system = load_register(region).systems["idp"]
    assert system.assessments.dengbao is None and system.assessments.miping is None


def test_every_running_example_records_its_assessments() -> None:
    # The example region stays realistic: every level-2+ system that runs has a 等级测评 and a 密评 on record.
    for system in load_register(REPO):
        if system.lifecycle.status != "planned" and system.level >= 2:
            assert system.assessments.dengbao is not None, system.name
            assert system.crypto_level < 2 or system.assessments.miping is not None, system.name


@pytest.mark.parametrize(("field", "value", "needle", "code"), [
    ("date", "2026-02-30", "2026-02-30", "format"),      # matches the pattern, but is no calendar day
    ("date", "20-03-2026", "20-03-2026", "format"),
    ("score", "104", "score: 104", "range"),
    ("score", "-1", "score: -1", "range"),
    ("conclusion", "合格", "合格", None),                 # not 符合 / 基本符合 / 不符合
])
def test_bad_values_are_located(region: Path, field: str, value: str, needle: str, code: str | None) -> None:
    path = _append(region, **{field: value})
    diagnostics = [d for d in check_register(region).diagnostics if "assessments" in d.path]
    assert len(diagnostics) == 1, diagnostics
    (problem,) = diagnostics
    assert problem.file.endswith("idp.yaml") and problem.line == line_of(path, needle)
    assert problem.path == f"spec.assessments.dengbao.{field}" and problem.hint
    if code is not None:
        assert problem.code == code
    if field == "conclusion":
        assert "基本符合" in problem.message + problem.hint


def test_a_record_needs_its_agency(region: Path) -> None:
    path = region / "systems/dsjj/idp.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  assessments:\n    miping: {date: \"2026-05-10\", "
                    "conclusion: 符合}\n", encoding="utf-8")
    (problem,) = [d for d in check_register(region).diagnostics if "assessments" in d.path]
    assert problem.line == line_of(path, "miping:") and "agency" in problem.message + problem.hint


def test_data_sets_image_provenance_and_change_management_are_typed() -> None:
    system = load_register(REPO).systems["e-invoice"]
    (data_set,) = system.data_sets
    assert data_set.stored_in == "invoice-db" and data_set.encryption is not None
    assert (data_set.encryption.algorithm, data_set.encryption.product) == ("SM4", "cloud-hsm")
    provenance = system.workloads[0].image_provenance
    assert provenance is not None and provenance.signature == "verified" and provenance.critical == 0
    assert system.change_management is not None and system.change_management.register_updated


def test_data_set_references_are_located(region: Path) -> None:
    path = region / "systems/dsjj/idp.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  data_sets:\n"
                    "    - {name: 用户库, holds: [个人信息], stored_in: nowhere-db, "
                    "encryption: {algorithm: SM4, product: no-such-hsm}}\n", encoding="utf-8")
    problems = {d.path: d for d in check_register(region).diagnostics if "data_sets" in d.path}
    assert set(problems) == {"spec.data_sets[0].stored_in", "spec.data_sets[0].encryption.product"}
    for problem in problems.values():
        assert problem.line == line_of(path, "nowhere-db") and problem.hint and problem.code == "reference"


def test_image_scan_date_and_counts_are_checked(region: Path) -> None:
    path = region / "systems/dsjj/idp.yaml"
    text = path.read_text(encoding="utf-8")
    marker = next(line for line in text.splitlines() if line.lstrip().startswith("image:"))
    indent = marker[: len(marker) - len(marker.lstrip())]
    path.write_text(text.replace(marker, f"{marker}\n{indent}image_provenance: {{signature: verified, "
                                 "last_scan: \"2026-04-31\", critical: -2}", 1), encoding="utf-8")
    problems = {d.path: d for d in check_register(region).diagnostics if "image_provenance" in d.path}
    assert set(problems) == {"spec.workloads[0].image_provenance.critical"}  # schema errors stop the build
    path.write_text(text.replace(marker, f"{marker}\n{indent}image_provenance: {{signature: verified, "
                                 "last_scan: \"2026-04-31\", critical: 0}", 1), encoding="utf-8")
    (problem,) = [d for d in check_register(region).diagnostics if "image_provenance" in d.path]
    assert problem.path == "spec.workloads[0].image_provenance.last_scan" and problem.code == "format"
    assert problem.line == line_of(path, "2026-04-31")

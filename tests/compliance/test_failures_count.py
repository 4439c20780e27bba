"""A failure counts wherever it is found (review of the verdicts, December 2026).

- A 密评 management unit a rule decides (8.7.a by XZ-MAN-CRYPTO-LEVEL, 8.7.d / 8.7.e by XZ-MAN-MIPING-ASSESSMENT)
  is scored: the card took management units from attestations only, so the example region's fully evidenced
  system got a range instead of one score, and a failed 密评 record did not lower it.
- A rule that fails an item at severity ≥ high is a high-risk finding also when another rule passes the item
  (部分符合): the veto was dropped, and the conclusion read 符合.
- A rule failure on a 密评 technical unit that the declared mechanisms do not show (a data store outside every
  data set) lowers the unit's score: the unit kept its mechanisms' full marks.

The expected scores are derived by hand from the weights in ``standards/miping-weights-2023.yaml`` (level 3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance.results import ItemState, SystemReport
from compliance.scanner import ScanOptions, scan
from tests.kpi.conftest import example_copy

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 6, 1)  # within the attestation sets' validity
SYSTEM = "medical-insurance"
MANIFEST = Path("systems/ybj/medical-insurance.yaml")
pytestmark = pytest.mark.skipif(not (ROOT / MANIFEST).is_file(), reason="no example register")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A writable copy of what a scan of the example region reads."""
    return example_copy(tmp_path / "region", records=True)


def _scan(root: Path, edit: Callable[[list[str]], None] | None = None) -> SystemReport:
    if edit is not None:
        lines = (root / MANIFEST).read_text(encoding="utf-8").splitlines(keepends=True)
        edit(lines)
        (root / MANIFEST).write_text("".join(lines), encoding="utf-8")
    result = scan(ScanOptions(root=root, systems=(SYSTEM,), today=TODAY))
    return result.systems[0]


def _line(lines: list[str], needle: str) -> int:
    found = [index for index, line in enumerate(lines) if needle in line]
    assert len(found) == 1, needle
    return found[0]


def test_rule_decided_management_units_give_the_evidenced_system_one_score(example: Path) -> None:
    report = _scan(example)
    card = report.miping
    assert card is not None and not card.error
    labels = {label.split()[0]: value for label, _, value in card.steps}
    # 8.7.a, 8.7.d, 8.7.e (BR-1, BR-4, BR-5) are decided by rules, not attested: they are on the card now
    assert labels["BR-4"] == "1.0" and labels["BR-5"] == "1.0"
    assert card.final and card.value == 92.39 and card.value_range == (92.39, 92.39)


def test_a_failed_miping_record_lowers_the_score(example: Path) -> None:
    def failed(lines: list[str]) -> None:
        index = _line(lines, "miping: {date:")
        lines[index] = lines[index].replace("conclusion: 基本符合", "conclusion: 不符合")

    card = _scan(example, failed).miping
    assert card is not None
    labels = {label.split()[0]: value for label, _, value in card.steps}
    assert labels["BR-4"] == "0.0" and labels["BR-5"] == "0.0"
    # 建设运行 (W = 8) has five units of weight 1: 3/5 = 0.6, so the total drops by 8 × 0.4 = 3.2
    assert card.final and card.value == pytest.approx(92.39 - 3.2)


def test_a_severe_failure_vetoes_though_another_rule_passes_the_item(example: Path) -> None:
    """An http:// endpoint fails XZ-MAN-ENDPOINT-TLS (high) on 8.1.2.2.b, which two other rules pass."""
    def plain_http(lines: list[str]) -> None:
        index = _line(lines, "internet_facing: false")
        lines.insert(index + 1, "    endpoints: [http://ybxx.xizang.gov.cn]\n")

    report = _scan(example, plain_http)
    item = next(i for i in report.items if i.item_id == "GB/T 22239-2019:8.1.2.2.b")
    assert item.state is ItemState.PARTIAL and len(item.rules) > 1 and item.high_risk
    assert report.dengbao is not None and report.dengbao.verdict == "不符合"
    assert report.dengbao.high_risk == ("GB/T 22239-2019:8.1.2.2.b",)


def test_an_uncovered_data_store_vetoes_and_lowers_the_miping_unit(example: Path) -> None:
    """ybxx-db02 keeps data but no data set covers it any more: XZ-MAN-DATA-STORE-COVERAGE (critical) fails
    8.1.4.8.b and 8.4.e / 8.4.g, which other rules pass."""
    def uncovered(lines: list[str]) -> None:
        del lines[_line(lines, "stored_in: ybxx-db02")]

    report = _scan(example, uncovered)
    assert report.dengbao is not None and report.dengbao.verdict == "不符合"
    assert "GB/T 22239-2019:8.1.4.8.b" in report.dengbao.high_risk
    card = report.miping
    assert card is not None and card.high_risk == ("AD-5",) and card.verdict == "不符合"
    labels = {label.split()[0]: value for label, _, value in card.steps}
    assert labels["AD-5"] == labels["AD-7"] == "0.5"  # the mechanism's object (1) and the store's (D fails: 0)
    # 应用和数据 (W = 30) weighs 6.5 at level 3: AD-5 (1) and AD-7 (0.7) lose half each, 30 × 0.85 / 6.5
    assert card.value == pytest.approx(round(92.39 - 30 * 0.85 / 6.5, 2))

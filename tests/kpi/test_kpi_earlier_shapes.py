"""An earlier report's embedded KPIs in a shape this release does not know: no trend change, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compliance.kpi import METRICS, KpiReport, compute_kpi, with_trend
from xzgov.core.register import load_register

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kpi_report() -> KpiReport:
    return compute_kpi(load_register(REPO), "2025-06-30", {})


@pytest.mark.parametrize("earlier", [
    {}, {"overall": None}, {"overall": []}, {"overall": {"shares": None}}, {"overall": {"shares": [1, 2]}},
    {"overall": {"shares": {metric: "x" for metric in METRICS}}}, {"overall": "text", "as_of": 3},
])
def test_an_unknown_earlier_shape_shows_no_change(kpi_report: KpiReport, earlier: dict[str, Any]) -> None:
    trended = with_trend(kpi_report, earlier)
    assert trended.trend is not None
    assert all(change["before"] is None or not isinstance(change["before"], int | float)
               for change in trended.trend["shares"].values())
    assert all(change["change"] is None for change in trended.trend["shares"].values())

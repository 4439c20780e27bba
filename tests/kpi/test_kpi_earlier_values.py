"""An earlier report's embedded KPIs holding a share that is no share (``1e400``, ``Infinity``, ``NaN``, text …):
refused as a located problem (exit 2, the field named), never a crash (``10**400`` was exit 3 OverflowError)
nor "inf%" / "nan%" in the table and ``Infinity`` / ``NaN`` in ``xzgov kpi --format json``. And an unchanged
share shows a change of 0.0, never -0.0."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.kpi import METRICS, KpiReport, compute_kpi, with_trend
from tests.cli import CliResult
from xzgov.core.errors import ExitCode, UsageError
from xzgov.core.register import load_register
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .conftest import REPO

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def kpi_report() -> KpiReport:
    return compute_kpi(load_register(REPO), "2025-06-30", {})


def _earlier(report: KpiReport, **percents: Any) -> dict[str, Any]:
    """``report``'s KPIs as an earlier report embeds them, with these overall shares' ``percent``."""
    data = report.to_json()
    for metric, percent in percents.items():
        data["overall"]["shares"][metric.replace("_", "-")]["percent"] = percent
    return data


NOT_SHARES = [10**400, -(10**400), math.inf, -math.inf, math.nan, -0.1, 100.1, 1e300, "92.3", True, [], {}]


def _id(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 12 else f"{text[:4]}...{len(text)}-digits"


@pytest.mark.parametrize("value", NOT_SHARES, ids=_id)
def test_an_earlier_value_that_is_no_share_is_refused_where_it_is(kpi_report: KpiReport, value: object) -> None:
    with pytest.raises(UsageError) as refused:
        with_trend(kpi_report, _earlier(kpi_report, on_cloud=value))
    assert refused.value.exit_code == ExitCode.USAGE
    [problem] = refused.value.diagnostics
    assert problem.path == "overall.shares.on-cloud.percent" and "0 to 100" in problem.message
    assert "xzgov-kpi" in problem.file and problem.hint


def test_every_bad_share_is_named(kpi_report: KpiReport) -> None:
    with pytest.raises(UsageError) as refused:
        with_trend(kpi_report, _earlier(kpi_report, on_cloud=math.inf, filed=math.nan))
    assert [d.path for d in refused.value.diagnostics] == ["overall.shares.on-cloud.percent",
                                                           "overall.shares.filed.percent"]


def test_the_caller_names_the_page(kpi_report: KpiReport) -> None:
    with pytest.raises(UsageError) as refused:
        with_trend(kpi_report, _earlier(kpi_report, on_cloud=math.inf), source="old/report.html")
    assert refused.value.diagnostics[0].file == "old/report.html" and "old/report.html" in refused.value.message


@pytest.mark.parametrize("value", [0, 100, 0.0, 100.0, 92.3, None])
def test_a_share_from_0_to_100_or_none_is_read(kpi_report: KpiReport, value: object) -> None:
    trend = with_trend(kpi_report, _earlier(kpi_report, on_cloud=value)).trend
    change = trend["shares"]["on-cloud"]
    assert change["before"] == value and change["now"] == 92.3
    assert change["change"] == (None if value is None else round(92.3 - value, 1))  # type: ignore[operator]


def test_an_unchanged_share_shows_no_negative_zero(kpi_report: KpiReport) -> None:
    """归集率 28/39 = 71.79…% is shown 71.8%: against an earlier 71.8% the change was round(-0.005, 1) = -0.0,
    shown "-0.0%". Every share against itself as shown changes by +0.0."""
    assert kpi_report.overall.shares["aggregated"].to_json()["percent"] == 71.8
    trend = with_trend(kpi_report, kpi_report.to_json()).trend
    for metric in METRICS:
        change = trend["shares"][metric]["change"]
        assert change == 0.0 and math.copysign(1.0, change) == 1.0, (metric, change)


# ------------------------------------------------------------------------------------------------- the CLI


def _signed_earlier(directory: Path, kpis: dict[str, Any], key: SM2PrivateKey) -> Path:
    """A signed report set whose report.html embeds ``kpis`` (JSON as Python writes it: ``Infinity``, ``NaN``
    and big integers as they are), as an earlier ``xzgov scan --key`` would have written it."""
    directory.mkdir()
    text = json.dumps(kpis, ensure_ascii=False, separators=(",", ":"))
    (directory / "report.html").write_text(
        f'<!doctype html><html><body><script type="application/json" id="xzgov-kpi">{text}</script>'
        "</body></html>\n", encoding="utf-8")
    bundle.sign_files([directory / "report.html"], key, directory / bundle.DEFAULT_NAME)
    return directory


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[SM2PrivateKey, Path]:
    key = SM2PrivateKey.generate()
    public = tmp_path_factory.mktemp("signer") / "k.pub"
    public.write_text(keys.public_key_to_pem(key.public_key), encoding="ascii")
    return key, public


@pytest.mark.parametrize("value", [10**400, math.inf, math.nan], ids=_id)
@pytest.mark.parametrize("output", ["json", "text"])
def test_kpi_since_refuses_an_earlier_value_that_is_no_share(
        cli: Cli, kpi_report: KpiReport, signer: tuple[SM2PrivateKey, Path], tmp_path: Path, value: object,
        output: str) -> None:
    key, public = signer
    earlier = _signed_earlier(tmp_path / "earlier", _earlier(kpi_report, on_cloud=value), key)
    done = cli("kpi", "--root", REPO, "--as-of", "2025-06-30", "--no-scan", "--since", earlier, "--trusted-key",
               public, "--format", output)
    assert done.code == 2, done.text  # 10**400 was exit 3 (OverflowError)
    assert "overall.shares.on-cloud.percent" in done.err and "0 to 100" in done.err
    assert "inf%" not in done.text and "nan%" not in done.text and "Infinity" not in done.out


def test_kpi_since_json_is_json_and_an_unchanged_share_shows_0_0(
        cli: Cli, kpi_report: KpiReport, signer: tuple[SM2PrivateKey, Path], tmp_path: Path) -> None:
    key, public = signer
    earlier = _signed_earlier(tmp_path / "earlier", kpi_report.to_json(), key)
    args = ("kpi", "--root", REPO, "--as-of", "2025-06-30", "--no-scan", "--since", earlier, "--trusted-key", public)
    done = cli(*args, "--format", "json")
    assert done.code == 0, done.err

    def strict(token: str) -> object:
        raise AssertionError(f"{token} in the JSON output")

    trend = json.loads(done.out, parse_constant=strict)["trend"]
    assert trend["shares"]["aggregated"] == {"before": 71.8, "now": 71.8, "change": 0.0}
    assert '"change": -0.0' not in done.out
    table = cli(*args)
    assert table.code == 0, table.err
    assert "-0.0%" not in table.out and "0.0%" in table.out


def test_the_trend_is_in_percentage_points_and_no_scan_shows_no_crypto_change(
        cli: Cli, kpi_report: KpiReport, signer: tuple[SM2PrivateKey, Path], tmp_path: Path) -> None:
    """The change column read "-2.6%" (a relative change, to a reader) for points; and under --no-scan 密评通过率
    counts 0 without being measured, so it showed a drop to 0.0 that never happened."""
    key, public = signer
    earlier = _signed_earlier(tmp_path / "earlier", _earlier(kpi_report, on_cloud=90.0, crypto_passed=2.6), key)
    args = ("kpi", "--root", REPO, "--as-of", "2025-06-30", "--no-scan", "--since", earlier, "--trusted-key", public)
    trend = json.loads(cli(*args, "--format", "json").out)["trend"]["shares"]
    assert trend["crypto-passed"] == {"before": 2.6, "now": None, "change": None}
    assert trend["on-cloud"] == {"before": 90.0, "now": 92.3, "change": 2.3}
    table = cli(*args)
    assert table.code == 0, table.err
    assert "+2.3 个百分点" in table.out and "-2.6" not in table.out and "+2.3%" not in table.out


def test_kpi_since_is_checked_before_the_scan(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xzgov.cli.kpi_cmds as kpi_cmds

    def scanned(*_: object, **__: object) -> None:
        raise AssertionError("the scan ran before --since was read")

    monkeypatch.setattr(kpi_cmds, "scan", scanned)
    done = cli("kpi", "--root", REPO, "--as-of", "2025-06-30", "--since", tmp_path / "missing")
    assert done.code == 2 and "no signed report" in done.err


@pytest.mark.parametrize("case", ["no-kpis", "no-html", "tampered"])
def test_kpi_since_says_why_an_earlier_set_gives_no_trend_and_what_to_give(
        cli: Cli, signer: tuple[SM2PrivateKey, Path], tmp_path: Path, case: str) -> None:
    """A review: a --system scan's set (no KPIs: they are the whole region's) was said to predate spec.programme,
    a set without report.html and one that does not verify got one message for both — and none a fix."""
    key, public = signer
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    name = "compliance-report.jsonl" if case == "no-html" else "report.html"
    (earlier / name).write_text("<!doctype html><html><body></body></html>\n", encoding="utf-8")
    bundle.sign_files([earlier / name], key, earlier / bundle.DEFAULT_NAME)
    if case == "tampered":
        (earlier / name).write_text("<!doctype html><html><body>changed</body></html>\n", encoding="utf-8")
    done = cli("kpi", "--root", REPO, "--as-of", "2025-06-30", "--no-scan", "--since", earlier, "--trusted-key",
               public)
    assert done.code == 2, done.text
    said = {"no-kpis": "a scan of part of the register (--system", "no-html": "holds no report.html",
            "tampered": "does not verify"}[case]
    assert said in done.err and "give the --out of an earlier" in done.err, done.err

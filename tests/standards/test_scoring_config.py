"""standards/scoring.yaml is validated and every threshold comes from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.catalogue import CatalogueError, default_standards_dir
from compliance.scoring import ScoringConfig, load_scoring_config


def test_defaults_match_the_notes(scoring: ScoringConfig) -> None:
    d, m = scoring.dengbao, scoring.miping
    assert d.rule == "rate-2025"
    assert d.conclusions == (("符合", 0.9), ("基本符合", 0.6)) and d.fallback_conclusion == "不符合"
    assert d.credit_for("部分符合") == 0.5
    assert d.legacy_grades == (("优", 90.0), ("良", 80.0), ("中", 70.0))
    assert m.rule == "2023"
    assert dict(m.strength_weights) == {"应": 1.0, "宜": 0.7, "可": 0.4}
    assert dict(m.aspect_weights) == {
        "physical": 10,
        "network": 20,
        "device": 10,
        "application": 30,
        "policy": 8,
        "personnel": 8,
        "build_run": 8,
        "emergency": 6,
    }
    assert m.ra_for(128) == 1.0 and m.ra_for(80) == 0.5 and m.ra_for(56) == 0.2 and m.ra_for(None) == 0.2
    assert dict(m.conclusions)["基本符合"] == 60


def write(tmp_path: Path, old: str, new: str) -> Path:
    text = (default_standards_dir() / "scoring.yaml").read_text(encoding="utf-8")
    assert old in text
    target = tmp_path / "scoring.yaml"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def test_invalid_value_is_located(tmp_path: Path) -> None:
    target = write(tmp_path, "    宜: 0.7\n", "    宜: -0.7\n")
    with pytest.raises(CatalogueError) as caught:
        load_scoring_config(target)
    (problem,) = caught.value.diagnostics
    assert problem.path == "miping.strength_weights.宜"
    line, column = next(
        (n, text.index("-0.7") + 1)
        for n, text in enumerate(target.read_text(encoding="utf-8").splitlines(), 1)
        if "宜: -0.7" in text
    )
    assert (problem.line, problem.column) == (line, column)  # the value, counted in characters


def test_thresholds_must_be_ordered(tmp_path: Path) -> None:
    target = write(
        tmp_path,
        "    - {min_bits: 112, factor: 1.0}\n    - {min_bits: 80, factor: 0.5}\n",
        "    - {min_bits: 80, factor: 0.5}\n    - {min_bits: 112, factor: 1.0}\n",
    )
    with pytest.raises(CatalogueError) as caught:
        load_scoring_config(target)
    assert "highest threshold down" in caught.value.diagnostics[0].message


def test_unknown_rule_is_rejected(tmp_path: Path) -> None:
    target = write(tmp_path, "  rule: rate-2025\n", "  rule: rate-2030\n")
    with pytest.raises(CatalogueError) as caught:
        load_scoring_config(target)
    assert "rate-2025" in caught.value.diagnostics[0].hint


def test_weight_table_is_checked_against_the_catalogue_given() -> None:
    """The scan passes the catalogue it scores with: a unit that catalogue requires and the table lacks is
    refused (the packaged catalogue is only the default)."""
    from dataclasses import replace

    from compliance.catalogue import default_catalogue

    catalogue = default_catalogue()
    load_scoring_config(None, catalogue)  # the packaged table covers the packaged catalogue
    aspect = catalogue.aspects[0]
    extra = replace(aspect.units[0], id=aspect.units[0].id + "-x", short_id="ZZ-9")
    wider = replace(catalogue, aspects=(replace(aspect, units=(*aspect.units, extra)), *catalogue.aspects[1:]))
    with pytest.raises(CatalogueError) as caught:
        load_scoring_config(None, wider)
    assert "ZZ-9" in caught.value.diagnostics[0].message
    assert caught.value.diagnostics[0].path == "miping.weight_table"

"""Load and validate ``standards/scoring.yaml`` into frozen configuration objects."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from compliance.catalogue import (
    Catalogue,
    CatalogueError,
    LocatedYaml,
    default_standards_dir,
    load_located_yaml,
    schema_diagnostics,
    schema_path,
)
from compliance.scoring.model import reaches
from xzgov.core.errors import Diagnostic
from xzgov.core.fsutil import display_path
from xzgov.core.reads import read_bytes

Verdict = Literal["符合", "基本符合", "不符合"]
Grade = Literal["优", "良", "中", "差"]
ASPECT_CODES = ("physical", "network", "device", "application", "policy", "personnel", "build_run", "emergency")


@dataclass(frozen=True)
class DengbaoConfig:
    """等保 scoring: compliance-rate conclusion (2025) or the legacy 0-100 score."""

    rule: Literal["rate-2025", "legacy-score"]
    credit: tuple[tuple[str, float], ...]  #: status → credit in the rate
    conclusions: tuple[tuple[Verdict, float], ...]  #: (conclusion, minimum rate), highest first
    fallback_conclusion: Verdict
    high_risk_conclusion: Verdict
    legacy_grades: tuple[tuple[Grade, float], ...]  #: (grade, minimum score 0-100), highest first
    legacy_fallback_grade: Grade
    legacy_high_risk_grade: Grade

    def credit_for(self, status: str) -> float:
        return dict(self.credit)[status]

    def conclusion_for(self, rate: float | Fraction, high_risk: bool) -> Verdict:
        """The conclusion of ``rate`` (exact when a :class:`~fractions.Fraction`: :func:`reaches`)."""
        if high_risk:
            return self.high_risk_conclusion
        for conclusion, minimum in self.conclusions:
            if reaches(rate, minimum):
                return conclusion
        return self.fallback_conclusion

    def grade_for(self, score: float | Fraction, high_risk: bool) -> Grade:
        if high_risk:
            return self.legacy_high_risk_grade
        for grade, minimum in self.legacy_grades:
            if reaches(score, minimum):
                return grade
        return self.legacy_fallback_grade


@dataclass(frozen=True)
class MipingConfig:
    """密评 quantitative scoring (2021 or 2023 rule)."""

    rule: Literal["2021", "2023"]
    all_pass: float
    a_or_k_fail: float
    both_fail: float
    d_fail: float
    ra_bands: tuple[tuple[int, float], ...]  #: (minimum bits, Ra), highest first
    default_rk: float
    strength_weights: tuple[tuple[str, float], ...]  #: 应/宜/可 → unit weight
    aspect_weights: tuple[tuple[str, float], ...]  #: aspect code → weight
    management_scores: tuple[tuple[str, float], ...]  #: 符合/部分符合/不符合 → unit score
    all_na_aspect: Literal["group", "renormalise", "full"]
    conclusions: tuple[tuple[Verdict, float], ...]  #: (conclusion, minimum score 0-100), highest first
    fallback_conclusion: Verdict
    high_risk_conclusion: Verdict
    #: 2023: "table" weights per level and unit (``weight_table``), or "strength" (应/宜/可)
    unit_weights: Literal["table", "strength"] = "strength"
    #: (level, short unit id) → (weight, source, confirmed), from the weight table file
    weight_table: tuple[tuple[int, str, float, str, bool], ...] = ()
    weight_table_source: str = ""
    #: 2023: Rk by system level when K fails but the required crypto-module level is met
    rk_by_level: tuple[tuple[int, float], ...] = ()
    compensation_factor: float = 0.5
    #: 2023 rounding (decimals, half up) of object, unit, aspect scores and the total; ``None``: no rounding
    rounding: tuple[int, int, int, int] | None = None
    #: strengths at which an untested unit may still hold a high-risk finding (its worst case is vetoed)
    untested_high_risk_strengths: tuple[str, ...] = ("应",)

    def ra_for(self, bits: int | None) -> float:
        """Ra for an algorithm of ``bits`` security strength; unknown strength gets the lowest band."""
        if bits is not None:
            for minimum, factor in self.ra_bands:
                if bits >= minimum:
                    return factor
        return self.ra_bands[-1][1]

    def strength_weight(self, strength: str) -> float:
        return dict(self.strength_weights)[strength]

    def unit_weight(self, level: int, short_id: str, strength: str, rule: str) -> tuple[float, str]:
        """The weight of a unit at ``level`` and where it comes from (``table:<source>`` or ``strength``)."""
        if rule == "2023" and self.unit_weights == "table":
            for lv, unit, weight, source, confirmed in self.weight_table:
                if lv == level and unit == short_id:
                    return weight, f"权重表 {source}{'' if confirmed else '（未确认）'}"
        return self.strength_weight(strength), f"按强度 {strength}"

    def rk_for_module(self, level: int) -> float:
        """Rk when K fails but the keys are in a module meeting the required level (2023)."""
        return dict(self.rk_by_level).get(level, self.default_rk)

    @property
    def max_rk(self) -> float:
        """The largest Rk the configuration knows (``default_rk`` and ``rk_by_level``) at any level."""
        return max([self.default_rk, *(rk for _, rk in self.rk_by_level)])

    def max_rk_at(self, level: int | None) -> float:
        """The largest Rk at ``level`` (``default_rk``, or the level's module Rk when larger): an object's explicit
        Rk may not exceed it (the 2023 rule: 1.2 at level 3, 1.5 at level 4, 1 below). ``None``: any level."""
        return self.max_rk if level is None else max(self.default_rk, self.rk_for_module(level))

    def aspect_weight(self, aspect: str) -> float:
        return dict(self.aspect_weights)[aspect]

    def management_score(self, status: str) -> float:
        return dict(self.management_scores)[status]

    def conclusion_for(self, score: float, high_risk: bool) -> Verdict:
        if high_risk:
            return self.high_risk_conclusion
        for conclusion, minimum in self.conclusions:
            if reaches(score, minimum):
                return conclusion
        return self.fallback_conclusion


@dataclass(frozen=True)
class ScoringConfig:
    dengbao: DengbaoConfig
    miping: MipingConfig
    source: str


def _descending(doc: LocatedYaml, path: tuple[str | int, ...], values: list[float], what: str) -> list[Diagnostic]:
    if values != sorted(values, reverse=True):
        return [
            doc.diagnostic(
                path, f"{what} must be listed from the highest threshold down", "reorder the entries", code="invalid"
            )
        ]
    return []


def load_scoring_config(path: Path | None = None, catalogue: Catalogue | None = None) -> ScoringConfig:
    """Read ``standards/scoring.yaml`` (or ``path``); raise :class:`CatalogueError` with located problems.

    A 密评 weight table is checked against ``catalogue`` (the one the caller scores with), by default the
    packaged catalogue (:func:`compliance.catalogue.default_catalogue`)."""
    path = path if path is not None else default_standards_dir() / "scoring.yaml"
    doc, problems = load_located_yaml(path)
    if doc is None or problems:
        raise CatalogueError(f"cannot read scoring configuration {display_path(path)}", problems)
    schema: dict[str, Any] = json.loads(read_bytes(schema_path(path.parent, "scoring.schema.json")))
    problems = schema_diagnostics(doc, schema)
    if problems:
        raise CatalogueError(f"invalid scoring configuration {display_path(path)}", problems)
    data = doc.data
    d, m = data["dengbao"], data["miping"]
    problems += _descending(
        doc, ("dengbao", "conclusions"), [c["min_rate"] for c in d["conclusions"]], "dengbao.conclusions"
    )
    problems += _descending(
        doc, ("dengbao", "legacy", "grades"), [g["min_score"] for g in d["legacy"]["grades"]], "legacy grades"
    )
    problems += _descending(doc, ("miping", "ra_bands"), [b["min_bits"] for b in m["ra_bands"]], "ra_bands")
    problems += _descending(
        doc, ("miping", "conclusions"), [c["min_score"] for c in m["conclusions"]], "miping.conclusions"
    )
    if problems:
        raise CatalogueError(f"invalid scoring configuration {display_path(path)}", problems)
    dengbao = DengbaoConfig(
        rule=d["rule"],
        credit=tuple((k, float(v)) for k, v in d["credit"].items()),
        conclusions=tuple((c["conclusion"], float(c["min_rate"])) for c in d["conclusions"]),
        fallback_conclusion=d["fallback_conclusion"],
        high_risk_conclusion=d["high_risk_conclusion"],
        legacy_grades=tuple((g["grade"], float(g["min_score"])) for g in d["legacy"]["grades"]),
        legacy_fallback_grade=d["legacy"]["fallback_grade"],
        legacy_high_risk_grade=d["legacy"]["high_risk_grade"],
    )
    scores = m["object_scores_2021"]
    miping = MipingConfig(
        rule=m["rule"],
        all_pass=float(scores["all_pass"]),
        a_or_k_fail=float(scores["a_or_k_fail"]),
        both_fail=float(scores["both_fail"]),
        d_fail=float(scores["d_fail"]),
        ra_bands=tuple((int(b["min_bits"]), float(b["factor"])) for b in m["ra_bands"]),
        default_rk=float(m["default_rk"]),
        strength_weights=tuple((k, float(v)) for k, v in m["strength_weights"].items()),
        aspect_weights=tuple((k, float(m["aspect_weights"][k])) for k in ASPECT_CODES),
        management_scores=tuple((k, float(v)) for k, v in m["management_scores"].items()),
        all_na_aspect=m["all_na_aspect"],
        conclusions=tuple((c["conclusion"], float(c["min_score"])) for c in m["conclusions"]),
        fallback_conclusion=m["fallback_conclusion"],
        high_risk_conclusion=m["high_risk_conclusion"],
    )
    table, table_source = _weight_table(default_standards_dir() if path is None else path.parent, m["weight_table"])
    if m["unit_weights"] == "table":
        problems += _check_table(doc, table, table_source, catalogue)
    if problems:
        raise CatalogueError(f"invalid scoring configuration {display_path(path)}", problems)
    rounding = m["rounding"]
    miping = dataclasses.replace(
        miping,
        unit_weights=m["unit_weights"],
        weight_table=table,
        weight_table_source=table_source,
        rk_by_level=tuple(sorted((int(k), float(v)) for k, v in m["rk_by_level"].items())),
        compensation_factor=float(m["compensation_factor"]),
        rounding=(int(rounding["object"]), int(rounding["unit"]), int(rounding["aspect"]), int(rounding["total"])),
        untested_high_risk_strengths=tuple(m["untested_high_risk_strengths"]),
    )
    return ScoringConfig(dengbao, miping, doc.file)


def _weight_table(directory: Path, name: str) -> tuple[tuple[tuple[int, str, float, str, bool], ...], str]:
    """Read and validate the per-level, per-unit weight table (``standards/<name>``)."""
    path = directory / name
    if not path.is_file():
        path = default_standards_dir() / name
    doc, problems = load_located_yaml(path)
    if doc is None or problems:
        raise CatalogueError(f"cannot read the 密评 weight table {display_path(path)}", problems)
    schema: dict[str, Any] = json.loads(read_bytes(schema_path(path.parent, "miping-weights.schema.json")))
    problems = schema_diagnostics(doc, schema)
    if problems:
        raise CatalogueError(f"invalid 密评 weight table {display_path(path)}", problems)
    rows = tuple(
        (int(level), unit, float(entry["weight"]), str(entry["source"]), bool(entry["confirmed"]))
        for level, units in doc.data["levels"].items()
        for unit, entry in units.items()
    )
    return rows, doc.file


def _check_table(
    doc: LocatedYaml, table: tuple[tuple[int, str, float, str, bool], ...], source: str, catalogue: Catalogue | None
) -> list[Diagnostic]:
    """The table must give a weight for every unit required at every level (a gap would silently fall back)."""
    from compliance.catalogue import default_catalogue

    units = (catalogue if catalogue is not None else default_catalogue()).crypto_units
    have = {(level, unit) for level, unit, *_ in table}
    missing = [
        f"L{level} {unit.short_id}"
        for unit in units
        for level in (1, 2, 3, 4)
        if unit.strength(level) != "不要求" and (level, unit.short_id) not in have
    ]
    if not missing:
        return []
    return [
        doc.diagnostic(
            ("miping", "weight_table"),
            f"the weight table {source} has no weight for {', '.join(missing[:6])}{' …' if len(missing) > 6 else ''}",
            "add the missing units to the table, or set unit_weights: strength",
            code="invalid",
        )
    ]

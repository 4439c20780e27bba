"""Typed inputs and the derivation step shared by the scorers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal, get_args

from xzgov.core.errors import Diagnostic, ExitCode, XzgovError

#: Result of one 等保 item (or one 密评 management unit, which never takes 未测 as a result).
ItemStatus = Literal["符合", "部分符合", "不符合", "不适用", "未测"]
ITEM_STATUSES: tuple[str, ...] = get_args(ItemStatus)
ManagementStatus = Literal["符合", "部分符合", "不符合", "不适用"]
Verdict = Literal["符合", "基本符合", "不符合"]


class ScoringError(XzgovError):
    """Results that cannot be scored (unknown or repeated ids, impossible values)."""

    def __init__(self, message: str, diagnostics: Iterable[Diagnostic] = ()) -> None:
        super().__init__(message, tuple(diagnostics), ExitCode.FAILED)


@dataclass(frozen=True)
class Step:
    """One derivation step: what was computed, how, and the value (shown to the assessor)."""

    key: str  #: machine-readable, e.g. ``rate`` or ``unit:NC-1``
    label: str  #: Chinese, e.g. 符合率
    formula: str  #: the computation with the numbers filled in
    value: float | int | str | None

    def render(self) -> str:
        return f"{self.label}: {self.formula}" if self.formula else f"{self.label}: {self.value}"


@dataclass(frozen=True)
class ItemResult:
    """An assessor's (or the scanner's) result for one 等保 item.

    ``high_risk`` marks the finding as 高风险 / 重大风险隐患 (it vetoes the conclusion). The catalogue's
    ``high_risk`` flag only says an item *can* be high risk; the judgement is the result's.
    """

    item_id: str
    status: ItemStatus
    high_risk: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in ITEM_STATUSES:
            raise ScoringError(
                f"{self.item_id}: unknown status {self.status!r} (expected one of {', '.join(ITEM_STATUSES)})"
            )
        _no_finding_without_shortfall(self.item_id, self.status, self.high_risk)


def _no_finding_without_shortfall(ref: str, status: str, high_risk: bool) -> None:
    """A high risk is a judgement of a tested shortfall: a 符合 / 不适用 / 未测 result carrying one would be dropped
    or would veto a conclusion for nothing. An untested item's possible risk is the scorer's worst case
    (``high_risk_capable``, ``untested_high_risk_strengths``), not a finding."""
    if high_risk and status in ("符合", "不适用", "未测"):
        raise ScoringError(f"{ref}: a {status} result cannot be a high-risk finding "
                           "(only a 不符合 or 部分符合 result can)")


@dataclass(frozen=True)
class CryptoObjectResult:
    """D/A/K judgement of one test object (测评对象) of a 密评 technical unit.

    ``d``, ``a``, ``k``: ``True`` passes, ``False`` fails, ``None`` does not apply to this object.
    ``high_risk`` marks the object's failure as a high-risk finding: an object with no failed indicator (D, A
    and K each ``True`` or ``None``) cannot carry one.
    ``algorithm_strength_bits`` is the security strength of the algorithm actually used, needed by the
    2023 rule when A fails (Ra). ``rk`` overrides the configured Rk when K fails (2023 rule); it may not
    exceed the largest configured Rk (``MipingConfig.max_rk``), and the object score stays capped at 1.
    """

    unit_id: str
    object_name: str
    d: bool | None
    a: bool | None
    k: bool | None
    algorithm_strength_bits: int | None = None
    rk: float | None = None
    high_risk: bool = False
    #: 2023: K failed although the keys are in a certified module meeting the required GM/T 0028 level
    #: (Rk 1.2 at level 3, 1.5 at level 4 by ``rk_by_level``)
    module_level_met: bool | None = None
    #: 2023 弥补: score PA of the object A that compensates this object's shortfall (B scores max(0.5·PA, PB))
    compensated_by: float | None = None

    def __post_init__(self) -> None:
        if self.high_risk and False not in (self.d, self.a, self.k):
            raise ScoringError(f"{self.unit_id}/{self.object_name}: an object whose D, A and K all pass (or do not "
                               "apply) cannot be a high-risk finding (only a failed D, A or K can)")
        if self.algorithm_strength_bits is not None and self.algorithm_strength_bits < 0:
            raise ScoringError(f"{self.unit_id}/{self.object_name}: algorithm strength cannot be negative")
        # the upper bound is the configuration's (MipingConfig.max_rk: 1.5 at level 4 by the 2023 rule), checked
        # where the object is scored
        if self.rk is not None and self.rk < 0.0:
            raise ScoringError(f"{self.unit_id}/{self.object_name}: rk cannot be negative, got {self.rk}")
        if self.compensated_by is not None and not 0.0 <= self.compensated_by <= 1.0:
            raise ScoringError(
                f"{self.unit_id}/{self.object_name}: compensated_by (PA) must be between 0 and 1, "
                f"got {self.compensated_by}"
            )


@dataclass(frozen=True)
class ManagementUnitResult:
    """Result of one 密评 management unit: 符合 1 / 部分符合 0.5 / 不符合 0 (configurable), or 不适用.

    ``high_risk`` marks a 不符合 or 部分符合 result as a high-risk finding (it vetoes the conclusion), as for
    :class:`ItemResult`: a 符合 or 不适用 result cannot carry one."""

    unit_id: str
    status: ManagementStatus
    high_risk: bool = False

    def __post_init__(self) -> None:
        if self.status not in get_args(ManagementStatus):
            raise ScoringError(
                f"{self.unit_id}: unknown status {self.status!r} (expected 符合, 部分符合, 不符合 or 不适用)"
            )
        _no_finding_without_shortfall(self.unit_id, self.status, self.high_risk)


def decimal_fraction(value: float | int | Fraction) -> Fraction:
    """``value`` as the decimal number it was written as (a configured ``0.9`` is 9/10, not the binary fraction
    nearest to it): exact arithmetic over credits, counts and thresholds."""
    return value if isinstance(value, Fraction) else Fraction(repr(value))


#: Float scores (密评 totals, summed in binary) reach a threshold within this relative tolerance.
FLOAT_TOLERANCE = 1e-9


def reaches(value: float | Fraction, minimum: float) -> bool:
    """Whether ``value`` reaches the configured ``minimum`` — the one threshold comparison of both scorers.

    An exact value (:class:`~fractions.Fraction`, the 等保 rate) is compared exactly with the decimal the
    threshold was written as; a float (the 密评 total) within :data:`FLOAT_TOLERANCE`, so that a sum that is 60
    on paper but 59.999999999 in binary still reaches 60."""
    if isinstance(value, Fraction):
        return value >= decimal_fraction(minimum)
    return value >= minimum - FLOAT_TOLERANCE * max(1.0, abs(minimum))


#: Where a float is first rounded (to the nearest) before it is rounded half up: far above binary noise (a sum of
#: a few dozen products in 0..100 is off by ~1e-14) and far below the distance of any other value the scorers
#: compute from their decimal inputs to a rounding boundary. Without it 59.995 (exact) summed to
#: 59.99499999999999 in binary and was rounded to 59.99 (不符合 at 60).
_SNAP = Decimal("1e-11")


def round_half_up(value: float, decimals: int | None) -> float:
    """``value`` rounded half up (四舍五入) to ``decimals`` as the decimal it stands for (binary noise removed
    first, :data:`_SNAP`); ``None`` leaves it unrounded."""
    if decimals is None:
        return value
    quantum = Decimal(1).scaleb(-decimals)
    exact = Decimal(repr(value)).quantize(_SNAP, rounding=ROUND_HALF_EVEN) if abs(value) < 1e12 else \
        Decimal(repr(value))
    return float(exact.quantize(quantum, rounding=ROUND_HALF_UP))


def fmt(value: float | Fraction) -> str:
    """A number for a derivation formula: up to 4 decimals, no trailing zeros."""
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"

"""等保 and 密评 scoring: pure functions over per-item results, configured by ``standards/scoring.yaml``.

Entry points: :func:`score_dengbao` (GB/T 22239 / 28448 conclusion), :func:`score_mipping`
(GB/T 39786 quantitative score) and :func:`load_scoring_config`. Every result keeps its
intermediate values as a list of :class:`Step` so a report can show how the score was reached.
"""

from compliance.scoring.config import DengbaoConfig, MippingConfig, ScoringConfig, load_scoring_config
from compliance.scoring.dengbao import DengbaoResult, score_dengbao
from compliance.scoring.mipping import AspectScore, MippingResult, UnitScore, object_score, score_mipping
from compliance.scoring.model import (
    CryptoObjectResult,
    ItemResult,
    ItemStatus,
    ManagementUnitResult,
    ScoringError,
    Step,
)

__all__ = [
    "AspectScore",
    "CryptoObjectResult",
    "DengbaoConfig",
    "DengbaoResult",
    "ItemResult",
    "ItemStatus",
    "ManagementUnitResult",
    "MippingConfig",
    "MippingResult",
    "ScoringConfig",
    "ScoringError",
    "Step",
    "UnitScore",
    "load_scoring_config",
    "object_score",
    "score_dengbao",
    "score_mipping",
]

"""等保 and 密评 scoring: pure functions over per-item results, configured by ``standards/scoring.yaml``.

Entry points: :func:`score_dengbao` (GB/T 22239 / 28448 conclusion), :func:`score_miping`
(GB/T 39786 quantitative score) and :func:`load_scoring_config`. Every result keeps its
intermediate values as a list of :class:`Step` so a report can show how the score was reached.
"""

from compliance.scoring.config import DengbaoConfig, MipingConfig, ScoringConfig, load_scoring_config
from compliance.scoring.dengbao import DengbaoResult, score_dengbao
from compliance.scoring.miping import AspectScore, MipingResult, UnitScore, object_score, score_miping
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
    "MipingConfig",
    "MipingResult",
    "ScoringConfig",
    "ScoringError",
    "Step",
    "UnitScore",
    "load_scoring_config",
    "object_score",
    "score_dengbao",
    "score_miping",
]

"""Policy-as-code: pure rules over named facts (``policies.engine``), registered by id (``policies.registry``).

The same rules run on the register (manifest facts), on the stacks' planned resources (including the
Pulumi CrossGuard pack in ``policies/__main__.py``) and on live hosts. See ``docs/compliance.md``.
"""

from __future__ import annotations

from policies.engine import Evidence, Facts, Outcome, Point, Rule, RuleResult, Severity, Status, evaluate, run_rules

__all__ = ["Evidence", "Facts", "Outcome", "Point", "Rule", "RuleResult", "Severity", "Status", "evaluate",
           "run_rules"]

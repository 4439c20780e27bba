"""Every rule, by id. Import rules from here rather than from their modules.

* :data:`RULES` — all rules in a stable order (manifest, resources, hosts)
* :data:`RULES_BY_ID` — the same, indexed by rule id
* :func:`get_rule`, :func:`rules_for_point`, :func:`rules_for_control`
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from policies.engine import Point, Rule
from policies.rules.assessments import assessments
from policies.rules.host_hardening import host_hardening
from policies.rules.hosts import hosts
from policies.rules.manifest import manifest
from policies.rules.resources import resources
from policies.rules.security import security

RULES: tuple[Rule, ...] = (*manifest.rules, *security.rules, *assessments.rules, *resources.rules, *hosts.rules,
                           *host_hardening.rules)
RULES_BY_ID: Mapping[str, Rule] = MappingProxyType({rule.id: rule for rule in RULES})
if len(RULES_BY_ID) != len(RULES):  # pragma: no cover - guarded by RuleSet too
    raise RuntimeError("duplicate rule ids across rule modules")


def get_rule(rule_id: str) -> Rule:
    """The rule with ``rule_id``; ``KeyError`` names the known ids when there is none."""
    try:
        return RULES_BY_ID[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule {rule_id!r}; known: {', '.join(RULES_BY_ID)}") from None


def rules_for_point(point: Point | str) -> tuple[Rule, ...]:
    """Rules whose facts the extractor of ``point`` produces."""
    wanted = Point(point)
    return tuple(rule for rule in RULES if wanted in rule.points)


def rules_for_control(control: str, level: int, crypto_level: int | None = None) -> tuple[Rule, ...]:
    """Rules that check the namespaced catalogue item ``control`` for a system at these levels."""
    return tuple(rule for rule in RULES if control in rule.controls_for(level, crypto_level))

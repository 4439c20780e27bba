"""Scenarios of each rule: facts that must pass and facts that must fail, kept beside the rules.

One YAML file per rule, ``policies/scenarios/<RULE-ID>.yaml``; ``tests/policies/test_scenarios.py``
runs every scenario of every file and requires each registered rule to have at least one passing and one
failing scenario. Adding a rule is therefore its declaration in a ``policies/rules`` module plus this file::

    # XZ-HOST-LOCKOUT
    level: 3                      # 等保 level of the subject (default 3); crypto_level defaults to it
    facts:                        # a compliant subject: exactly the facts the rule reads
      pam_faillock: {in_auth_stack: true, deny: 5, unlock_time: 900}
    pass:
      - name: compliant           # the base facts as they are
      - name: administrator unlock
        set: {pam_faillock.unlock_time: 0}
    fail:                         # each one changes the base in one thing the rule checks
      - name: deny above the level's maximum
        set: {pam_faillock.deny: 6}
      - name: one-way deny
        set: {...}
        expect: partial           # a failing scenario may expect ``partial`` instead of ``fail``
    not_applicable:               # optional
      - name: level 1
        level: 1

A scenario is the base ``facts`` with ``set`` (dotted path → value; list positions are numbers, the
list's length appends) and ``unset`` (dotted paths) applied, so a failing scenario differs from the
passing base exactly in what it names. A key containing dots goes in brackets:
``sysctl[net.ipv4.ip_forward]``. ``controls`` (template → status) optionally pins per-item statuses;
``nothing-to-judge`` pins an item the result must say nothing of (it stays 未测: ``Outcome.silent``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policies.engine import Facts, Point, Rule, Status

SCENARIO_DIR = Path(__file__).resolve().parent

#: The expectation of each list in a scenario file, and what a scenario of that list may declare instead.
_EXPECT: Mapping[str, tuple[Status, frozenset[Status]]] = {
    "pass": (Status.PASS, frozenset({Status.PASS})),
    "fail": (Status.FAIL, frozenset({Status.FAIL, Status.PARTIAL})),
    "not_applicable": (Status.NOT_APPLICABLE, frozenset({Status.NOT_APPLICABLE})),
}
#: A ``controls`` value: the result says nothing of the item (its 未测 stays for another rule or an assessor).
NOTHING_TO_JUDGE = "nothing-to-judge"

_KEYS = frozenset({"name", "set", "unset", "level", "crypto_level", "point", "expect", "controls"})


class ScenarioError(ValueError):
    """A scenario file that cannot be read as scenarios (names its file and scenario)."""


@dataclass(frozen=True)
class Scenario:
    """One input of a rule and the status the rule must give it."""

    rule_id: str
    kind: str  #: ``pass`` | ``fail`` | ``not_applicable``
    name: str
    expect: Status
    facts: Facts
    #: Dotted paths the scenario changes relative to the passing base (empty for the base itself).
    changed: tuple[str, ...] = ()
    #: template → the item's status, or ``None``: the result says nothing of the item (``nothing-to-judge``)
    controls: Mapping[str, Status | None] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.rule_id}:{self.kind}:{self.name}"


_SEGMENT = re.compile(r"\[([^\]]+)\]|([^.\[\]]+)")


def _path(path: str) -> list[str | int]:
    """``a.0.b`` → ``["a", 0, "b"]``; a key containing dots goes in brackets: ``sysctl[net.ipv4.ip_forward]``."""
    parts: list[str | int] = []
    for bracketed, plain in _SEGMENT.findall(path):
        parts.append(bracketed if bracketed else int(plain) if plain.isdigit() else plain)
    return parts


def _apply(values: dict[str, Any], changes: Mapping[str, Any], removals: Sequence[str]) -> None:
    for dotted, value in changes.items():
        *parents, last = _path(dotted)
        node: Any = values
        for part in parents:
            node = node[part]
        if isinstance(node, list) and last == len(node):
            node.append(value)  # ``list.N`` with N = its length adds an element
        else:
            node[last] = value
    for dotted in removals:
        *parents, last = _path(dotted)
        node = values
        for part in parents:
            node = node[part]
        del node[last]


def load_file(path: Path, rule: Rule) -> list[Scenario]:
    """The scenarios of ``rule`` in ``path``."""
    where = f"{path.name}"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict) or not isinstance(loaded.get("facts"), dict):
        raise ScenarioError(f"{where}: a mapping with `facts` (the passing base) is required")
    unknown = set(loaded) - {"facts", "level", "crypto_level", "point", *_EXPECT}
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    base: dict[str, Any] = loaded["facts"]
    default_point = Point(loaded.get("point", rule.points[0] if rule.points else Point.MANIFEST))
    scenarios: list[Scenario] = []
    for kind, (default, allowed) in _EXPECT.items():
        for index, raw in enumerate(loaded.get(kind) or []):
            label = f"{where}: {kind}[{index}]"
            if not isinstance(raw, dict) or not raw.get("name"):
                raise ScenarioError(f"{label}: each scenario is a mapping with a `name`")
            if set(raw) - _KEYS:
                raise ScenarioError(f"{label}: unknown keys {sorted(set(raw) - _KEYS)}")
            expect = Status(raw.get("expect", default))
            if expect not in allowed:
                raise ScenarioError(f"{label}: a `{kind}` scenario cannot expect {expect}")
            changes: Mapping[str, Any] = raw.get("set") or {}
            removals: Sequence[str] = raw.get("unset") or []
            values = copy.deepcopy(base)
            try:
                _apply(values, changes, removals)
            except (KeyError, IndexError, TypeError) as problem:
                raise ScenarioError(f"{label}: cannot apply set/unset: {problem!r}") from None
            level = raw.get("level", loaded.get("level", 3))
            crypto = raw.get("crypto_level", loaded.get("crypto_level", level))
            point = Point(raw.get("point", default_point))
            facts = Facts(f"scenario-{rule.id}", point, values, {}, "2026-01-01T00:00:00Z", "scenario",
                          level=level, crypto_level=crypto)
            scenarios.append(Scenario(rule.id, kind, str(raw["name"]), expect, facts,
                                      (*changes, *removals),
                                      {str(k): None if v == NOTHING_TO_JUDGE else Status(v)
                                       for k, v in (raw.get("controls") or {}).items()}))
    return scenarios


def load_scenarios(rules: Sequence[Rule], directory: Path = SCENARIO_DIR) -> dict[str, list[Scenario]]:
    """Scenarios by rule id for ``rules``; a file naming no rule of ``rules`` is an error (a renamed or
    deleted rule must take its scenarios along)."""
    by_id = {rule.id: rule for rule in rules}
    found: dict[str, list[Scenario]] = {rule.id: [] for rule in rules}
    for path in sorted(directory.glob("*.yaml")):
        rule = by_id.get(path.stem)
        if rule is None:
            raise ScenarioError(f"{path.name}: no registered rule {path.stem}")
        found[rule.id] = load_file(path, rule)
    return found

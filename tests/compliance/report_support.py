"""Helpers for the tests that read JSON reports back."""

from __future__ import annotations

import copy
import random
from typing import Any


def restate(system: dict[str, Any], states: str) -> None:
    """Give a JSON report's ``system`` the item ``states`` (one code each) and the ``counts`` they make, as a
    scan that judged them would write it (a report whose counts contradict its states is refused)."""
    from compliance.reports.formats import STATE_CODES

    system["states"] = states
    system["counts"] = {str(state): states.count(code) for state, code in STATE_CODES.items()}


def as_version_7(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` as version 7 wrote it: a detail's ``findings`` are indices only (version 8 also writes
    ``[index, count]``)."""
    old = copy.deepcopy(report)
    old["version"] = 7
    for detail in old["details"]:
        if "findings" in detail:
            detail["findings"] = [entry[0] if isinstance(entry, list) else entry for entry in detail["findings"]]
    return old


def as_version_8(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` as a version 8 reader accepts it: a detail's ``[index, [position, ...]]`` (version 9) becomes
    the index (the item's evidence then reads back as the whole result's, as before version 9)."""
    old = copy.deepcopy(report)
    old["version"] = 8
    for detail in old["details"]:
        if "findings" in detail:
            detail["findings"] = [entry[0] if isinstance(entry, list) and isinstance(entry[1], list) else entry
                                  for entry in detail["findings"]]
    return old


#: Values a mutation puts in place of a member.
JUNK: list[object] = [None, -1, 10**6, "", "x", True, 1.5, [], {}, [0], [[0, 0]], {"a": 1}, [-1, 2], "\u2028"]


def mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """``value`` with one member deleted, replaced by junk, cut short or duplicated, somewhere below it."""
    if isinstance(value, dict) and value and (depth > 6 or rng.random() < 0.3):
        key = rng.choice(sorted(value))
        action = rng.random()
        if action < 0.3:
            value.pop(key)
        else:
            value[key] = rng.choice(JUNK)
        return value
    if isinstance(value, list) and value and (depth > 6 or rng.random() < 0.3):
        index = rng.randrange(len(value))
        action = rng.random()
        if action < 0.3:
            del value[index:]
        elif action < 0.5:
            value.append(copy.deepcopy(value[index]))
        else:
            value[index] = rng.choice(JUNK)
        return value
    if isinstance(value, str) and value and rng.random() < 0.5:
        return value[: rng.randrange(len(value))] + rng.choice(["", "z", "9"])
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        value[key] = mutate(value[key], rng, depth + 1)
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        value[index] = mutate(value[index], rng, depth + 1)
    else:
        return rng.choice(JUNK)
    return value

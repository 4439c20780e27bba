"""Helpers for the tests that read JSON reports back."""

from __future__ import annotations

import copy
from typing import Any


def as_version_7(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` as version 7 wrote it: a detail's ``findings`` are indices only (version 8 also writes
    ``[index, count]``)."""
    old = copy.deepcopy(report)
    old["version"] = 7
    for detail in old["details"]:
        if "findings" in detail:
            detail["findings"] = [entry[0] if isinstance(entry, list) else entry for entry in detail["findings"]]
    return old

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

"""The repository's example register: every manifest marked ``# known gap:`` is caught by at least one
rule, and no unmarked manifest fails a manifest rule (no false positives on the examples)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.scanner import ScanOptions, scan
from policies.engine import Status

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (ROOT / "systems").is_dir(), reason="no example register")
def test_known_gaps_are_found_and_nothing_else() -> None:
    result = scan(ScanOptions(root=ROOT))
    flagged = {s.name for s in result.systems
               if any(f.result.status in (Status.FAIL, Status.PARTIAL, Status.ERROR) for f in s.findings)}
    marked = {s.name for s in result.systems
              if "# known gap:" in (ROOT / s.source).read_text(encoding="utf-8")}
    assert marked, "the examples are expected to carry planted gaps"
    assert sorted(marked - flagged) == [], "known gaps no rule detects"
    assert sorted(flagged - marked) == [], "findings on manifests without a known gap"

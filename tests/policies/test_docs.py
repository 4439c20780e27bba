"""The rule table and host baseline in docs/compliance.md and the rule count in README.md are generated
from the registry (``python -m policies.docs``); the committed files must match it."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.docs import ROOT, _between, drifted, main, rule_table
from policies.registry import RULES


def test_committed_docs_match_the_registry() -> None:
    assert drifted() == [], "run `python -m policies.docs` and commit the result"
    assert main(["--check"]) == 0


def test_every_rule_has_a_row() -> None:
    table = rule_table()
    assert all(f"| `{rule.id}` |" in table for rule in RULES)
    assert (ROOT / "README.md").read_text(encoding="utf-8").count(f"-->{len(RULES)}<!--") == 1


def test_drift_is_detected(tmp_path: Path) -> None:
    for name in ("docs/compliance.md", "README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    stale = (tmp_path / "README.md").read_text(encoding="utf-8").replace(f"-->{len(RULES)}<!--", "-->1<!--")
    (tmp_path / "README.md").write_text(stale, encoding="utf-8")
    assert drifted(tmp_path) == ["README.md"]


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="marker"):
        _between("no markers here", "rules", "x")

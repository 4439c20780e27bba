"""More of the scan's shortcuts answer exactly what the plain code answers (scan speed, the compliance work).

* ``compliance.results.finding_of`` and ``Finding(...)``;
* the boundary rules' device lookup, memoised per region (``policies.rules.security._devices``), and the walk
  over the zones it replaces — also after the region changes;
* :class:`policies.rules.checks.SubChecks` recording one item (the inlined path) and several;
* the 等保 score card from the untouched row with replaced entries and from every entry
  (``compliance.scan.dengbao.dengbao_card``).
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from compliance.results import Finding, finding_of
from compliance.scan.context import ScanOptions, setup
from compliance.scan.dengbao import dengbao_card
from compliance.scanner import scan
from policies.engine import Evidence, Facts, Point, RuleResult, Severity, Status
from policies.rules import security
from policies.rules.checks import SubChecks
from xzgov.core.register import load_register
from xzgov.facts.manifest import manifest_facts

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 12, 1)


def _plain_devices(boundary: Mapping[str, Any], zones: Sequence[str], *kinds: str) -> list[dict[str, Any]]:
    """The devices of ``kinds`` at ``zones`` as the rules read them before the memo."""
    found: list[dict[str, Any]] = []
    for zone in zones:
        for device in (boundary["zones"].get(zone) or {}).get("devices") or []:
            if device["kind"] in kinds:
                found.append({**device, "zone": zone})
    return found


@pytest.mark.parametrize("waiver", [None, "W-1"])
def test_finding_of_is_the_dataclass(waiver: str | None) -> None:
    result = RuleResult("XZ-MAN-X", "sys", Point.MANIFEST, Status.FAIL, "m", Severity.HIGH, ("a",),
                        (Evidence("o", "f.yaml", "t"),))
    built, plain = finding_of(result, waiver), Finding(result, waiver)
    assert built == plain and repr(built) == repr(plain)
    assert pickle.loads(pickle.dumps(built)) == plain
    assert built.blocking is plain.blocking


def test_devices_memo_answers_the_walk() -> None:
    register = load_register(ROOT)
    boundary = manifest_facts(register, next(iter(register.systems.values())))["boundary"]
    zones = list(boundary["zones"])
    kinds = {device["kind"] for zone in boundary["zones"].values() for device in zone["devices"]}
    asked: list[tuple[list[str], tuple[str, ...]]] = [
        (zones, (kind,)) for kind in sorted(kinds)] + [([zone], ("ids", "ips")) for zone in zones] + [
        ([*reversed(zones)], ("network-audit", "vpn")), ([], ("nac",)), (["no-such-zone"], ("nac",))]
    for _ in range(2):  # asked again: from the memo
        for where, wanted in asked:
            assert list(security._devices(boundary, where, *wanted)) == _plain_devices(boundary, where, *wanted)
    # another region (another zones table): answered from it, not from the last one's memo
    other = {**boundary, "zones": {zones[0]: {"kind": "x", "devices": [
        {"id": "n1", "kind": "nac", "name": "", "logs_to": None, "alerting": False}]}}}
    assert list(security._devices(other, [zones[0]], "nac")) == _plain_devices(other, [zones[0]], "nac")
    assert list(security._devices(boundary, zones, "nac")) == _plain_devices(boundary, zones, "nac")


def test_subchecks_one_item_and_several() -> None:
    facts = Facts("sys", Point.MANIFEST, {"administration": {}}, {"administration": "f.yaml:3"}, "t", "f.yaml", 3, 3)
    judged = SubChecks(facts)
    judged.check("GB/T 22239-2019:{L}.1.4.2.a", True, "ok", "administration")
    judged.check("GB/T 22239-2019:{L}.1.4.2.a", False, "bad", "administration", "accounts", 0)
    judged.check("GB/T 22239-2019:{L}.1.4.2.a", True, "ok again", "administration")  # a failure stays
    judged.check(("GB/T 22239-2019:{L}.1.4.2.c", "GB/T 22239-2019:{L}.1.4.2.d"), True, "both", "administration")
    assert judged.per == {"GB/T 22239-2019:{L}.1.4.2.a": Status.FAIL, "GB/T 22239-2019:{L}.1.4.2.c": Status.PASS,
                          "GB/T 22239-2019:{L}.1.4.2.d": Status.PASS}
    assert [e.observed for e in judged.good] == ["ok", "ok again", "both"]
    assert judged.problems == [Evidence("bad", "f.yaml:3", "t")]
    outcome = judged.outcome("fine", "not fine")
    assert outcome.status is Status.PARTIAL and outcome.message == "not fine"


def test_dengbao_card_from_the_row_is_the_card_of_every_entry() -> None:
    options = ScanOptions(root=ROOT, as_of=AS_OF, today=AS_OF)
    result = scan(options)
    ctx = setup(options)  # a fresh context: no card memoised yet
    for report in result.systems:
        system = ctx.register.systems[report.name]
        assert dengbao_card(ctx, report.items, system) == report.dengbao

"""The scan's shortcuts answer exactly what the plain code answers (issue 16, scan speed).

* :meth:`Facts.where` through the manifest table's ``locate`` (file-only fast path) and the walk over parent
  paths it replaces;
* ``policies.engine._result`` and ``RuleResult(...)``; ``Facts.evidence`` and ``Evidence(...)``;
* ``xzgov.core.ports.port_reach``'s shared zone descriptions and filtering :func:`inbound` by port.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Mapping
from pathlib import Path

import pytest

from bench.synthetic import write_synthetic_register
from policies.engine import (
    Evidence,
    Facts,
    Outcome,
    Point,
    RuleResult,
    Severity,
    Status,
    _result,
    not_applicable,
    outcome_of,
    passed,
)
from xzgov.core import model as m
from xzgov.core import ports
from xzgov.core.register import load_register
from xzgov.core.yamlio import LocatedDocument
from xzgov.facts.manifest import _Locator, located, manifest_facts

ROOT = Path(__file__).resolve().parents[2]


def _walk(facts: Facts, key: str, *sub: str | int) -> str:
    """Facts.where as documented: the most specific recorded (non-empty) location, then the parents."""
    parts = [key, *map(str, sub)]
    while parts:
        found = facts.locations.get(".".join(parts))
        if found:
            return str(found)
        parts.pop()
    return facts.target or facts.subject


def _paths(facts: Facts) -> list[tuple[str, tuple[str | int, ...]]]:
    """Every recorded key as (fact key, sub-path), one level deeper, and keys nothing records."""
    asked: list[tuple[str, tuple[str | int, ...]]] = []
    for recorded in facts.locations:
        key, *sub = recorded.split(".")
        asked += [(key, tuple(sub)), (key, (*sub, 0)), (key, (*sub, "missing", 7))]
    asked += [(key, ()) for key in facts.values] + [("no_such_fact", ("a", 1)), ("flows", (999,))]
    return asked


@pytest.fixture(scope="module")
def register() -> m.Register:
    return load_register(ROOT)


def test_where_answers_what_the_walk_answers_unlocated_and_located(register: m.Register) -> None:
    compared = 0
    for system in register.systems.values():
        facts = manifest_facts(register, system, gathered_at="2026-12-01T00:00:00Z")
        document = LocatedDocument(system.source, None, text=(ROOT / system.source).read_text(encoding="utf-8"))
        for variant in (facts, located(facts, document)):
            for key, sub in _paths(variant):
                assert variant.where(key, *sub) == _walk(variant, key, *sub), (system.name, key, sub)
                evidence = variant.evidence("seen", key, *sub)
                assert evidence == Evidence("seen", _walk(variant, key, *sub), variant.gathered_at)
                compared += 1
    assert compared > 10_000


def test_a_text_location_below_a_fact_key_turns_the_shortcut_off() -> None:
    loc = _Locator(None, "systems/x.yaml")
    loc.put("audit", "spec", "audit")
    loc.text("audit.destination", "region.yaml (log_servers)")
    facts = Facts("x", Point.MANIFEST, {"audit": {}}, loc.locations(), "t", "systems/x.yaml")
    assert facts.where("audit", "destination") == "region.yaml (log_servers)"
    assert facts.where("audit", "retention_days") == "systems/x.yaml"
    plain = _Locator(None, "systems/x.yaml")
    plain.put("audit", "spec", "audit")
    plain.text("boundary", "region.yaml (zones)")
    facts = Facts("x", Point.MANIFEST, {"audit": {}}, plain.locations(), "t", "")
    assert facts.where("audit", "destination", 3) == "systems/x.yaml"
    assert facts.where("boundary", "zones") == "region.yaml (zones)"
    assert facts.where("flows", 2) == "x"  # nothing recorded: the subject


def test_fast_result_is_the_dataclass() -> None:
    names = [f.name for f in dataclasses.fields(RuleResult)]
    values: list[object] = ["XZ-MAN-X", "sys", Point.MANIFEST, Status.PARTIAL, "message", Severity.HIGH,
                            ("GB/T 22239-2019:8.1.4.1.d",), (Evidence("o", "l", "t"),), "target",
                            {"GB/T 22239-2019:8.1.4.1.d": Status.FAIL}]
    values.append({"GB/T 22239-2019:8.1.4.1.d": values[7]})  # per_control_evidence: the item's own pieces
    values.append(frozenset({"GB/T 22239-2019:8.1.4.1.e"}))  # silent: an item the result says nothing of
    assert len(names) == len(values), "a field was added to RuleResult: add it to policies.engine._result too"
    fast = _result(*values)  # type: ignore[arg-type]
    plain = RuleResult(*values)  # type: ignore[arg-type]
    assert fast == plain and repr(fast) == repr(plain) and vars(fast) == vars(plain)
    assert list(vars(fast)) == names
    assert pickle.loads(pickle.dumps(fast)) == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.status = Status.PASS  # type: ignore[misc]


def _reference(register: m.Register, system: m.System, protocol: str, number: int, *,
               other_sites_only: bool = False) -> tuple[str, ...]:
    """Filtering :func:`ports.inbound` by port (sorted, as port_reach reports them); ``other_sites_only``: the
    direct flows from systems placed at another site (the only ones reaching a host port the pods also serve). A flow
    to the zone reaches the zone at the sender's site, but NTP to the security-management zone (the time sources,
    wherever they are)."""
    def counted(i: ports.Inbound) -> bool:
        if other_sites_only:
            return i.via != "zone" and i.source.site != system.site
        if i.via == "zone" and i.source.site != system.site:
            zone = register.region.zones[i.flow.to.name]
            return zone.kind == "security-management" and (i.protocol, i.port) == ("UDP", 123)
        return True

    return tuple(sorted(dict.fromkeys(i.describe() for i in ports.inbound(register, system)
                                      if (i.protocol, i.port) == (protocol, number) and counted(i))))


def _check_reach(register: m.Register) -> tuple[int, int]:
    checked = shared = 0
    for system in register.systems.values():
        for reach in ports.port_reach(register, system):
            protocol = reach.port.protocol.upper()
            expected = _reference(register, system, protocol, reach.port.port)
            got: tuple[str, ...] = reach.reached_by
            if reach.kind == "workload" and not ports.pods_serve(system, protocol, reach.port.port) \
                    and ports.serving_hosts(system, protocol, reach.port.port):
                expected = ()  # the pods keep the port to themselves: its flows go to the hosts serving it
            if reach.kind == "host":
                if ports.pods_serve(system, protocol, reach.port.port):
                    expected = _reference(register, system, protocol, reach.port.port, other_sites_only=True)
                got = tuple(r for r in got if not r.startswith("region contract:"))
            assert got == expected, (system.name, reach.label)
            checked += 1
            shared += len(got) > 1
    return checked, shared


def test_port_reach_is_inbound_filtered_by_port(register: m.Register, tmp_path: Path) -> None:
    checked, _ = _check_reach(register)
    assert checked > 50
    synthetic = load_register(write_synthetic_register(tmp_path / "synthetic", 40))
    checked, shared = _check_reach(synthetic)
    assert checked > 40 and shared > 0  # the zone descriptions built once are shared between listeners
    zone_reached: Mapping[str, object] = ports._index(synthetic).zone_reached
    assert zone_reached


def test_fast_outcome_is_the_dataclass() -> None:
    evidence = (Evidence("o", "l", "t"),)
    assert outcome_of(Status.FAIL, "m", evidence) == Outcome(Status.FAIL, "m", evidence)
    assert vars(outcome_of(Status.PASS, "m", (), {"x": Status.PASS})) == vars(Outcome(Status.PASS, "m", (),
                                                                                       {"x": Status.PASS}))
    assert [f.name for f in dataclasses.fields(Outcome)] == list(vars(outcome_of(Status.PASS, "m", ())))
    assert passed("m", *evidence) == Outcome(Status.PASS, "m", evidence)
    assert not_applicable("m") == Outcome(Status.NOT_APPLICABLE, "m")
    first, second = passed("m"), passed("m")
    assert first.per_control == {} and first.per_control is not second.per_control  # a dict each, as the factory

"""The rules at each enforcement point: the manifests, the planned resources, the live hosts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from compliance.catalogue import Catalogue
from compliance.scan import collector
from compliance.scan.context import ScanContext, as_of_day
from compliance.scan.gather import gather_all
from compliance.scan.hosts import inventory_hosts, transports
from policies.engine import Evidence, Facts, Point, Rule, RuleResult, Status, run_rules
from policies.registry import RULES_BY_ID, rules_for_point
from xzgov.core import inventory as inventory_model
from xzgov.core import model as m
from xzgov.core.errors import UsageError
from xzgov.core.manifest_lines import line_index
from xzgov.core.yamlio import LineIndex, LocatedDocument, read_text
from xzgov.facts.host import HostTarget
from xzgov.facts.manifest import located, manifest_facts
from xzgov.facts.resources import resource_facts


def _strength_of(catalogue: Catalogue) -> Callable[[str, int], str]:
    table = {(unit.id, level): unit.strength(level) for unit in catalogue.crypto_units for level in (1, 2, 3, 4)}

    def strength(unit_id: str, level: int) -> str:
        return table.get((unit_id, level), "不要求")

    return strength


def _node_locator(ctx: ScanContext, system: m.System) -> LocatedDocument | None:
    # read as every input is (a shard's recording sees a manifest edited since its load)
    text, _ = read_text(Path(ctx.register.root) / system.source)
    return LocatedDocument(system.source, None, text=text) if text is not None else None


class _IndexedLocator:
    """Positions from the line index kept at load time; a path the index does not cover (or a manifest
    the load kept none for) is located by reading the file again, as before the index existed."""

    def __init__(self, ctx: ScanContext, system: m.System, lines: LineIndex) -> None:
        self.file = system.source
        self._ctx, self._system, self._lines = ctx, system, lines
        self._document: LocatedDocument | None = None
        self._read = False

    def position(self, path: tuple[str | int, ...]) -> tuple[int, int]:
        line = self._lines.line(path)
        if line is not None:
            return line, 1
        if not self._read:
            self._document, self._read = _node_locator(self._ctx, self._system), True
        if self._document is None:  # unreadable now: point at the file's top
            return 1, 1
        return self._document.position(path)


def _locator(ctx: ScanContext, system: m.System) -> _IndexedLocator | LocatedDocument | None:
    lines = line_index(ctx.register, system.name)
    return _IndexedLocator(ctx, system, lines) if lines is not None else _node_locator(ctx, system)


#: The statuses a located run would not change the findings of (a result neither failing nor erring).
_SETTLED = (Status.PASS, Status.NOT_APPLICABLE)


def manifest_results(ctx: ScanContext, stamp: str,
                     judged: Callable[[m.System, Facts, list[RuleResult]], None] | None = None,
                     ) -> tuple[list[RuleResult], dict[str, Facts]]:
    """Manifest rules over every selected system. Rules run first on facts located by file only; the
    rules that did not pass run again on facts located to the line (cheap: rules are pure), so findings
    point at ``file:line`` without paying for positions of clean manifests.

    ``judged``: called with each system, its facts and its results as soon as they are known, which are then
    not kept (both returned collections stay empty): a static scan builds each system's report there, while
    the system's facts are still in the processor's caches, and drops the facts (a third of what the
    compliance work allocates) instead of keeping every system's to the end."""
    rules = rules_for_point(Point.MANIFEST)
    strength = _strength_of(ctx.catalogue)
    results: list[RuleResult] = []
    by_system: dict[str, Facts] = {}
    pinned = as_of_day(ctx.options)
    as_of = pinned.isoformat() if pinned is not None else None
    record = ctx.attested.platform
    platform = None if record is None else (
        {"record": record.info.id, "level": record.level, "assessed": record.assessed.isoformat(),
         "conclusion": record.conclusion}, f"{record.info.source}:{record.line}")
    for system in (ctx.register.systems[name] for name in ctx.selected):
        facts = manifest_facts(ctx.register, system, None, strength=strength, thresholds=ctx.thresholds,
                               gathered_at=stamp, as_of=as_of, cloud_platform=platform)
        first = run_rules(rules, facts)
        redo = {r.rule_id for r in first if r.status not in _SETTLED}
        if redo:
            where = located(facts, _locator(ctx, system))  # same values, locations read on demand
            again = {r.rule_id: r for r in run_rules([RULES_BY_ID[i] for i in redo], where)}
            first = [again.get(r.rule_id, r) for r in first]
        if judged is not None:
            judged(system, facts, first)
            continue
        by_system[system.name] = facts
        results.extend(first)
        collector.settle()  # this system's facts and results are kept to the end: later collections skip them
    return results, by_system


def planned_resources(register: m.Register, root: Path) -> list[dict[str, Any]]:
    """Every site's offline plan (``stacks.plan.plan_site``) as Pulumi-style resource dicts."""
    try:
        from stacks.plan import plan_site
        from stacks.settings import Settings
    except ImportError as error:  # pragma: no cover - the stacks package ships with the repository
        raise UsageError(f"--plan needs the stacks package: {error}") from error
    resources: list[dict[str, Any]] = []
    for site in register.region.sites:
        plan = plan_site(register, Settings(site=site, register_root=str(root)))
        resources.extend(resource.to_json() for resource in plan.resources)
    return resources


def resource_results(ctx: ScanContext, stamp: str) -> list[RuleResult]:
    """Resource rules over the given resources, or over the stacks' offline plan."""
    resources = ctx.options.resources
    if resources is None:
        resources = planned_resources(ctx.register, ctx.options.root)
    rules = rules_for_point(Point.RESOURCES)
    results: list[RuleResult] = []
    for facts in resource_facts(resources, register=ctx.register, thresholds=ctx.thresholds, gathered_at=stamp):
        if facts.subject not in ctx.selected:
            continue  # segments, zone tenancies and locations belong to the platform
        results.extend(run_rules(rules, facts))
    return results


def host_results(ctx: ScanContext, hosts_by_system: dict[str, dict[str, str]]) -> list[RuleResult]:
    """Host rules over the selected systems' hosts; fills ``hosts_by_system`` (host → "ok" or the error)."""
    options = ctx.options
    if options.hosts is not None:
        targets = list(options.hosts)
    else:
        overridden = [*(["ansible_user"] if options.ssh_user else []),
                      *(["ansible_ssh_private_key_file"] if options.ssh_key else [])]
        targets = inventory_hosts(options.inventory if options.inventory is not None else options.root / "inventories",
                                  overridden)
        unknown, missing = inventory_drift(ctx.register, targets, ctx.selected)
        ctx.warnings += unknown
        for name, said in missing.items():
            ctx.system_warnings.setdefault(name, []).extend(said)
    targets, stale = judged_as_registered(ctx.register, [t for t in targets if t.system in ctx.selected])
    for name, said in stale.items():
        ctx.system_warnings.setdefault(name, []).extend(said)
    transport_for = transports(default_user=ctx.register.region.operator_user, ssh_user=options.ssh_user,
                               ssh_key=options.ssh_key, factory=options.transport)
    rules = rules_for_point(Point.HOST)
    results: list[RuleResult] = []
    for gathering in gather_all(targets, transport_for, timeout=options.host_timeout, workers=options.workers,
                                thresholds=ctx.thresholds, progress=options.progress):
        target = gathering.target
        system = ctx.register.systems[target.system]
        if gathering.facts is not None and gathering.answered_as and not same_host(gathering.answered_as,
                                                                                   target.name):
            # another machine's facts (a stale ansible_host, a reused address) must not pass this host's rules
            gathering = dataclasses.replace(gathering, facts=None, error=(
                f"answered as '{gathering.answered_as}', not {target.name}: not judged (its facts may be another "
                f"machine's; check ansible_host {target.address}, or set the host's name: hostnamectl "
                f"set-hostname {target.name})"))
            ctx.system_warnings.setdefault(system.name, []).append(
                f"host {target.name} ({target.address}) answered as '{gathering.answered_as}': its facts may be "
                "another machine's (a stale ansible_host?); not judged — check the address, or set the host's name")
        hosts_by_system.setdefault(system.name, {})[target.name] = gathering.error or "ok"
        if gathering.facts is None:
            # Unreachable, timed out, cut short: every host rule is an error for this host — never a pass.
            for rule in rules:
                results.append(_error_result(rule, system, target.name, gathering.gathered_at,
                                             f"主机事实未能采集 / host not scanned: {gathering.error}",
                                             f"{target.name} ({target.address})"))
            continue
        # judged at the register's levels, whatever the inventory says (judged_as_registered warned of a difference)
        facts = gathering.facts
        facts = Facts(facts.subject, facts.point, facts.values, facts.locations, facts.gathered_at, facts.target,
                      system.level, system.crypto_level)
        results.extend(run_rules(rules, facts))
        for rule in rules:
            if rule.runs_on(facts):
                continue
            why = [f"{key}: {gathering.missing.get(key, 'not gathered')}" for key in rule.facts
                   if key not in facts.values]
            results.append(_error_result(rule, system, target.name, gathering.gathered_at,
                                         "事实未能采集 / facts not gathered: " + "; ".join(why),
                                         f"{target.name}:{', '.join(rule.facts)}"))
    return results


def inventory_drift(register: m.Register, targets: Sequence[HostTarget], selected: Collection[str]
                    ) -> tuple[list[str], dict[str, list[str]]]:
    """What an inventory and the register disagree on, as scan warnings: an inventory host naming no system
    of the register (a typo, a system since removed) is not scanned; a host of a selected system the inventory
    lacks (a stale inventory, or another site's) is not scanned live. Neither may pass unseen: the report
    would look like a scan of the whole fleet. Returns (the first, per selected system the second)."""
    unknown = [f"inventory host {t.name}: xzgov_system '{t.system}' is not a system of the register; not scanned "
               "(regenerate the inventories: `xzgov inventory`)" for t in targets if t.system not in register.systems]
    listed = {(t.system, t.name) for t in targets}
    # a site's inventory (inventories/<site>/) covers that site's systems: the others are not missing from it
    sites = {str(t.variables["xzgov_site"]) for t in targets if t.variables.get("xzgov_site")}
    missing: dict[str, list[str]] = {}
    for name in selected:
        if name not in register.systems or (sites and register.systems[name].site not in sites):
            continue
        said = [f"{name}: host {host.hostname} is not in the inventory; not scanned live (`xzgov inventory "
                "--check` shows a stale inventory)" for host in register.systems[name].hosts
                if (name, host.hostname) not in listed]
        if said:
            missing[name] = said
    return unknown, missing


def same_host(answered: str, name: str) -> bool:
    """Whether a host answering ``answered`` (its ``hostname``) is the inventory's ``name``, case aside: the
    whole names when both are qualified (``web01.a`` is not ``web01.b``), else the short names (a host may
    answer with its full domain name where the inventory has its short one, or the other way round)."""
    answered, name = answered.lower().rstrip("."), name.lower().rstrip(".")
    if "." in answered and "." in name:
        return answered == name
    return answered.split(".", 1)[0] == name.split(".", 1)[0]


def _same_value(inventory: Any, register: Any) -> bool:
    # as data: Ansible's string and sequence types, and tuples, compare as the JSON they would be written as
    return json.dumps(inventory, sort_keys=True, default=str) == json.dumps(register, sort_keys=True, default=str)


def judged_as_registered(register: m.Register, targets: Sequence[HostTarget]
                         ) -> tuple[list[HostTarget], dict[str, list[str]]]:
    """The hosts as the live scan judges them, and per system what the inventory got wrong (scan warnings).

    The register decides what a host is judged by, not a copy of it: a host the register lists is judged by the
    ``xzgov_*`` values ``xzgov inventory`` writes for it now (an inventory value that differs or is missing —
    a stale inventory, an edited level — is named); a host of a system whose manifest does not list it (an
    inventory edited by hand, a case-only difference) is named, and judged at its system's levels with the
    inventory's other values. A host naming no system of the register is left as it is (not scanned:
    :func:`inventory_drift`)."""
    judged: list[HostTarget] = []
    said: dict[str, list[str]] = {}
    for target in targets:
        system = register.systems.get(target.system)
        if system is None:
            judged.append(target)
            continue
        hosts = {host.hostname: host for host in system.hosts}
        host = hosts.get(target.name)
        if host is None:
            alike = [name for name in hosts if name.lower() == target.name.lower()]
            also = f" (the manifest lists {alike[0]}: host names are compared exactly)" if alike else ""
            said.setdefault(system.name, []).append(
                f"inventory host {target.name} is not a host of {system.name} in the register{also}: scanned and "
                f"counted for {system.name} at its levels (等保 {system.level}, 密评 {system.crypto_level}) with "
                "the inventory's other values; add it to the manifest's spec.hosts, or regenerate the inventories "
                "(`xzgov inventory`)")
            values = {"xzgov_level": system.level, "xzgov_crypto_level": system.crypto_level}
        else:
            values = {key: value for key, value in inventory_model.host_vars(register, system, host).items()
                      if key.startswith("xzgov_")}
            differ = sorted(key for key, value in values.items()
                            if key in target.variables and not _same_value(target.variables[key], value))
            lacks = sorted(key for key in values if key not in target.variables)
            if differ or lacks:
                what = "; ".join(part for part in (f"differ: {', '.join(differ)}" if differ else "",
                                                   f"missing: {', '.join(lacks)}" if lacks else "") if part)
                said.setdefault(system.name, []).append(
                    f"inventory host {target.name}: values not as the register says ({what}); judged by the "
                    "register's (regenerate the inventories: `xzgov inventory`)")
        judged.append(HostTarget(target.name, target.address, target.system, {**target.variables, **values}))
    return judged, said


def _error_result(rule: Rule, system: m.System, target: str, stamp: str, message: str, where: str) -> RuleResult:
    return RuleResult(rule.id, system.name, Point.HOST, Status.ERROR, message, rule.severity,
                      rule.controls_for(system.level, system.crypto_level), (Evidence(message, where, stamp),), target)

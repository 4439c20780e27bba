"""The compliance scan: register (+ planned resources, + live hosts) → rules → items → scores.

:func:`scan` is the one entry point (the CLI, the benchmark and the tests call it)::

    result = scan(ScanOptions(root=Path("."), plan=True, live=False))
    result.blocking()          # unwaived failing findings at or above --fail-on

Static mode runs the manifest rules over every system of the register. ``plan`` adds the resource
rules over the stacks' offline plan (``stacks.plan.plan_site`` per site) or over resources given in
:attr:`ScanOptions.resources`. ``live`` adds the host rules over the inventory's hosts, gathered over
SSH in parallel with per-host timeouts; an unreachable host yields ``error`` results, never a pass.

Per system, every catalogue item of its level (GB/T 22239 general + cloud) and every GB/T 39786
unit required at its 密评 level gets a state (``compliance.results.ItemState``); the scoring
engines (``compliance.scoring``) turn them into 等保 and 密评 conclusions with their derivation.
"""

from __future__ import annotations

import concurrent.futures as futures
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compliance.catalogue import DENGBAO, Catalogue, CryptoUnit, Item, load_catalogue
from compliance.coverage import resolve_pairs
from compliance.results import (
    Finding,
    ItemOutcome,
    ItemState,
    ScanResult,
    ScoreCard,
    SystemReport,
    combine,
)
from compliance.scoring import (
    CryptoObjectResult,
    ItemResult,
    ManagementUnitResult,
    ScoringConfig,
    ScoringError,
    load_scoring_config,
    score_dengbao,
    score_mipping,
)
from compliance.waivers import Records, load_records
from policies.engine import (
    Evidence,
    Facts,
    Point,
    Rule,
    RuleResult,
    Severity,
    Status,
    run_rules,
    utc_now,
)
from policies.registry import RULES, RULES_BY_ID, rules_for_point
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.register import check_register
from xzgov.core.yamlio import LocatedDocument
from xzgov.facts.baseline import APPROVED_ALGORITHMS, UNIT_PURPOSE
from xzgov.facts.host import (
    HostGathering,
    HostTarget,
    TestinfraTransport,
    Transport,
    gather_host_facts,
)
from xzgov.facts.manifest import manifest_facts
from xzgov.facts.resources import resource_facts
from xzgov.facts.thresholds import threshold

#: Security strength (bits) of algorithms that are not 国密, for the 2023 密评 Ra factor.
ALGORITHM_BITS: Mapping[str, int] = {
    "RSA": 112, "ECDSA": 128, "ECDH": 128, "AES": 128, "3DES": 80, "DES": 56, "SHA-1": 63, "SHA-256": 128,
    "MD5": 18, "HMAC-SHA256": 128, "TLS1.2": 112, "TLS1.3": 128,
}


@dataclass
class ScanOptions:
    """What to scan and how."""

    root: Path = Path(".")
    plan: bool = False
    live: bool = False
    inventory: Path | None = None
    fail_on: Severity = Severity.HIGH
    #: Planned resources to scan instead of rendering the stacks (tests, CrossGuard dumps).
    resources: Sequence[Mapping[str, Any]] | None = None
    #: Hosts to scan instead of reading ``inventory`` (tests).
    hosts: Sequence[HostTarget] | None = None
    transport: Callable[[HostTarget], Transport] | None = None
    host_timeout: float = 90.0
    workers: int = 8
    #: Called after each host is gathered with (hosts done, hosts in all, host name): the CLI draws a bar.
    progress: Callable[[int, int, str], None] | None = None
    ssh_user: str | None = None
    ssh_key: str | None = None
    today: dt.date | None = None
    standards_dir: Path | None = None
    systems: Sequence[str] = ()
    waivers_dir: Path | None = None
    attestations_dir: Path | None = None


@dataclass
class _Context:
    options: ScanOptions
    register: m.Register
    catalogue: Catalogue
    scoring: ScoringConfig
    records: Records
    thresholds: Mapping[str, Any]
    warnings: list[str] = field(default_factory=list)
    #: the systems to report on (all by default); facts always see the whole register
    selected: tuple[str, ...] = ()
    resolved: dict[tuple[str, int, int], list[tuple[str, str]]] = field(default_factory=dict)
    #: memo of pure computations shared by systems of the same levels / identical results
    items_of: dict[tuple[int, int], list[Item | CryptoUnit]] = field(default_factory=dict)
    untouched: dict[tuple[str, int, int], ItemOutcome] = field(default_factory=dict)
    dengbao_cards: dict[tuple[Any, ...], ScoreCard] = field(default_factory=dict)
    mipping_cards: dict[tuple[Any, ...], ScoreCard] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ setup


def _standards_dir(options: ScanOptions) -> Path | None:
    if options.standards_dir is not None:
        return options.standards_dir
    local = options.root / "standards"
    return local if local.is_dir() else None


def load_thresholds(root: Path) -> dict[str, Any]:
    """``compliance/config.yaml`` ``thresholds:`` overrides (optional)."""
    path = root / "compliance" / "config.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UsageError(f"cannot read {path}: {error}") from error
    value = data.get("thresholds", {}) if isinstance(data, dict) else {}
    if not isinstance(value, dict):
        raise UsageError(f"{path}: thresholds must be a mapping")
    return value


def _setup(options: ScanOptions) -> _Context:
    loaded = check_register(options.root)
    if not loaded.ok or loaded.register is None:
        count = len(loaded.diagnostics)
        raise UsageError(f"the register has {count} error{'s' * (count != 1)}: fix them before scanning",
                         loaded.diagnostics)
    register = loaded.register
    unknown = [name for name in options.systems if name not in register.systems]
    if unknown:
        raise UsageError(f"unknown system(s): {', '.join(unknown)}",
                         [Diagnostic("<command line>", 0, 0, "--system", f"no system named {name}",
                                     "see `xzgov register`", "reference") for name in unknown])
    standards = _standards_dir(options)
    catalogue = load_catalogue(standards) if standards is not None else load_catalogue()
    scoring = load_scoring_config(standards / "scoring.yaml" if standards is not None else None)
    records = load_records(
        options.root, today=options.today, known_systems=loaded.register.systems,
        known_item=lambda ref: catalogue.get(ref) is not None, known_rules=RULES_BY_ID,
        waivers_dir=options.waivers_dir, attestations_dir=options.attestations_dir,
    )
    selected = tuple(options.systems) or tuple(register.systems)
    context = _Context(options, register, catalogue, scoring, records, load_thresholds(options.root),
                       list(records.warnings), selected=selected)
    return context


# ------------------------------------------------------------------------------------------------ points


def _strength_of(catalogue: Catalogue) -> Callable[[str, int], str]:
    table = {(unit.id, level): unit.strength(level) for unit in catalogue.crypto_units for level in (1, 2, 3, 4)}

    def strength(unit_id: str, level: int) -> str:
        return table.get((unit_id, level), "不要求")

    return strength


def _manifest_results(ctx: _Context, stamp: str) -> tuple[list[RuleResult], dict[str, Facts]]:
    """Manifest rules over every selected system. Rules run first on facts located by file only; the
    rules that did not pass run again on facts located to the line (cheap: rules are pure), so findings
    point at ``file:line`` without paying for positions of clean manifests."""
    rules = rules_for_point(Point.MANIFEST)
    strength = _strength_of(ctx.catalogue)
    results: list[RuleResult] = []
    by_system: dict[str, Facts] = {}
    for system in (ctx.register.systems[name] for name in ctx.selected):
        facts = manifest_facts(ctx.register, system, None, strength=strength, thresholds=ctx.thresholds,
                               gathered_at=stamp)
        by_system[system.name] = facts
        first = run_rules(rules, facts)
        redo = {r.rule_id for r in first if r.status not in (Status.PASS, Status.NOT_APPLICABLE)}
        if redo:
            located = manifest_facts(ctx.register, system, _node_locator(ctx, system), strength=strength,
                                     thresholds=ctx.thresholds, gathered_at=stamp)
            again = {r.rule_id: r for r in run_rules([RULES_BY_ID[i] for i in redo], located)}
            first = [again.get(r.rule_id, r) for r in first]
        results.extend(first)
    return results, by_system


def _node_locator(ctx: _Context, system: m.System) -> LocatedDocument | None:
    try:
        text = (Path(ctx.register.root) / system.source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return LocatedDocument(system.source, None, text=text)


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


def _resource_results(ctx: _Context, stamp: str) -> list[RuleResult]:
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


def inventory_hosts(directory: Path, register: m.Register) -> list[HostTarget]:
    """Hosts of an Ansible inventory directory (``inventories/`` or ``inventories/<site>/``) with merged
    variables (group_vars / host_vars included), through ansible-core's inventory manager."""
    if not directory.exists():
        raise UsageError(f"inventory {directory} does not exist",
                         [Diagnostic(str(directory), 0, 0, "", "no such file or directory",
                                     "run `xzgov inventory` first or pass --inventory DIR", "unreadable")])
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    sources = [directory]
    if directory.is_dir():
        subdirs = sorted(p for p in directory.iterdir() if p.is_dir() and p.name not in ("group_vars", "host_vars"))
        if subdirs and not any(p.is_file() for p in directory.iterdir()):
            sources = subdirs
    loader = DataLoader()
    targets: list[HostTarget] = []
    seen: set[str] = set()
    for source in sources:
        manager = InventoryManager(loader=loader, sources=[str(source)])
        variables = VariableManager(loader=loader, inventory=manager)
        for host in manager.get_hosts():
            if host.name in seen:
                continue
            seen.add(host.name)
            merged = variables.get_vars(host=host, include_hostvars=False)
            values = {k: v for k, v in merged.items() if k.startswith(("xzgov_", "ansible_"))}
            system = str(values.get("xzgov_system", ""))
            if not system:
                continue
            targets.append(HostTarget(host.name, str(values.get("ansible_host", host.name)), system, values))
    if not targets:
        raise UsageError(f"no xzgov hosts in inventory {directory}",
                         [Diagnostic(str(directory), 0, 0, "", "no host with xzgov_system",
                                     "generate inventories with `xzgov inventory`", "empty")])
    return targets


def _transport_for(ctx: _Context, target: HostTarget) -> Transport:
    if ctx.options.transport is not None:
        return ctx.options.transport(target)
    v = target.variables
    port = v.get("ansible_port")
    return TestinfraTransport(
        address=target.address,
        user=ctx.options.ssh_user or str(v.get("ansible_user") or ctx.register.region.operator_user),
        port=int(port) if port else None,
        identity_file=ctx.options.ssh_key or v.get("ansible_ssh_private_key_file"),
        ssh_extra_args=str(v.get("ansible_ssh_common_args") or ""),
    )


def gather_all(ctx: _Context, targets: Sequence[HostTarget]) -> list[HostGathering]:
    """Gather facts from every host in parallel, each bounded by the per-host timeout."""
    timeout = ctx.options.host_timeout
    results: dict[str, HostGathering] = {}
    report = ctx.options.progress
    pool = futures.ThreadPoolExecutor(max_workers=max(1, ctx.options.workers), thread_name_prefix="xzgov-scan")
    try:
        pending = {pool.submit(gather_host_facts, target, _transport_for(ctx, target), timeout=timeout,
                               thresholds=ctx.thresholds): target for target in targets}
        rounds = -(-len(targets) // max(1, ctx.options.workers))
        deadline = time.monotonic() + timeout * rounds + min(30.0, timeout)
        for future in futures.as_completed(pending, timeout=max(1.0, deadline - time.monotonic())):
            target = pending[future]
            try:
                results[target.name] = future.result()
            except Exception as problem:  # a defect while gathering: an error result, not a crash
                results[target.name] = HostGathering(target, None, {}, f"{type(problem).__name__}: {problem}",
                                                     utc_now())
            if report is not None:
                report(len(results), len(targets), target.name)
    except futures.TimeoutError:
        for future, target in pending.items():
            if target.name not in results:
                future.cancel()
                results[target.name] = HostGathering(target, None, {}, f"no answer within {timeout:.0f}s", utc_now())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [results[target.name] for target in targets]


def _host_results(ctx: _Context, hosts_by_system: dict[str, dict[str, str]]) -> list[RuleResult]:
    if ctx.options.hosts is not None:
        targets = list(ctx.options.hosts)
    elif ctx.options.inventory is not None:
        targets = inventory_hosts(ctx.options.inventory, ctx.register)
    else:
        targets = inventory_hosts(ctx.options.root / "inventories", ctx.register)
    targets = [t for t in targets if t.system in ctx.selected]
    rules = rules_for_point(Point.HOST)
    results: list[RuleResult] = []
    for gathering in gather_all(ctx, targets):
        target = gathering.target
        system = ctx.register.systems[target.system]
        hosts_by_system.setdefault(system.name, {})[target.name] = gathering.error or "ok"
        if gathering.facts is None:
            # Unreachable: every host rule is an error for this host — never a pass.
            for rule in rules:
                results.append(_error_result(rule, system, target.name, gathering.gathered_at,
                                             f"主机不可达 / host unreachable: {gathering.error}",
                                             f"{target.name} ({target.address})"))
            continue
        facts = gathering.facts
        if facts.level is None:
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


def _error_result(rule: Rule, system: m.System, target: str, stamp: str, message: str, where: str) -> RuleResult:
    return RuleResult(rule.id, system.name, Point.HOST, Status.ERROR, message, rule.severity,
                      rule.controls_for(system.level, system.crypto_level), (Evidence(message, where, stamp),), target)


# ------------------------------------------------------------------------------------------------ items


def _resolve(ctx: _Context, rule: Rule, level: int, crypto: int) -> list[tuple[str, str]]:
    """(projected id as in the result, catalogue item id) for each control of ``rule`` (memoised)."""
    key = (rule.id, level, crypto)
    if key not in ctx.resolved:
        ctx.resolved[key] = resolve_pairs(ctx.catalogue, rule, level, crypto)
    return ctx.resolved[key]


@dataclass
class _Contribution:
    status: Status
    finding: Finding
    rule: Rule


def _system_items(ctx: _Context, system: m.System) -> list[Item | CryptoUnit]:
    key = (system.level, system.crypto_level)
    if key not in ctx.items_of:
        items: list[Item | CryptoUnit] = list(ctx.catalogue.items_where(level=system.level))
        items += [unit for unit in ctx.catalogue.crypto_units if unit.strength(system.crypto_level) != "不要求"]
        ctx.items_of[key] = items
    return ctx.items_of[key]


_STATE_OF_ATTESTED = {"符合": ItemState.PASS, "部分符合": ItemState.PARTIAL, "不符合": ItemState.FAIL,
                      "不适用": ItemState.NOT_APPLICABLE}


def _item_outcome(ctx: _Context, system: m.System, item: Item | CryptoUnit,
                  contributions: list[_Contribution]) -> ItemOutcome:
    records = ctx.records
    if isinstance(item, Item):
        base = ItemOutcome(item.id, DENGBAO, f"{item.control_point}: {item.title}", ItemState.MANUAL_PENDING,
                           ItemState.MANUAL_PENDING, check_type=item.check_type, responsibility=item.responsibility,
                           assessment_unit=item.assessment_unit, category=item.category_name)
        inherited = item.check_type == "inherited" or item.responsibility == "platform"
        capable = item.high_risk
    else:
        strength = item.strength(system.crypto_level)
        base = ItemOutcome(item.id, item.standard, f"{item.aspect_name}: {item.name} ({strength})",
                           ItemState.MANUAL_PENDING, ItemState.MANUAL_PENDING,
                           check_type="automated" if item.kind == "technical" else "manual",
                           responsibility="tenant", assessment_unit=item.short_id, category=item.aspect_name)
        inherited = False
        capable = strength == "应"
    if contributions:
        state = combine(c.status for c in contributions)
        ids = [c.rule.id for c in contributions]
        base.rules = (ids[0],) if len(ids) == 1 else tuple(dict.fromkeys(ids))
        evidence: list[Evidence] = []
        for c in contributions:
            evidence.extend(c.finding.result.evidence[:5])
        base.evidence = tuple(evidence[:20])
        failing = [c for c in contributions if c.status in (Status.FAIL, Status.PARTIAL, Status.ERROR)]
        if failing:
            base.severity = max((c.rule.severity for c in failing), key=lambda s: s.rank)
        base.state = base.underlying = state
        if failing:
            base.note = "; ".join(dict.fromkeys(c.finding.result.message for c in failing))[:500]
        if state in (ItemState.FAIL, ItemState.PARTIAL, ItemState.ERROR):
            waiver = records.waiver_for(system.name, item=item.id)
            unwaived = [c for c in failing if c.finding.waiver is None]
            if waiver is not None or not unwaived:
                base.state = ItemState.WAIVED
                base.waiver = waiver.id if waiver else failing[0].finding.waiver
            elif state is ItemState.FAIL and capable and base.severity is not None \
                    and base.severity >= Severity.HIGH:
                base.high_risk = True
        return base
    attestation = records.attestation_for(system.name, item.id, inherited=inherited)
    if inherited:
        base.state = ItemState.INHERITED
        if attestation is not None:
            base.underlying = _STATE_OF_ATTESTED[attestation.status]
            base.attestation = attestation.id
            base.note = (f"继承云平台测评 / inherited from the platform's assessment {attestation.report or ''} "
                         f"({attestation.id}, {attestation.source})").strip()
            base.evidence = (Evidence(f"{attestation.attested_by}: {attestation.status}; evidence "
                                      f"{attestation.evidence_file} SM3 {attestation.evidence_sm3[:16]}…",
                                      attestation.source, attestation.date.isoformat()),)
        else:
            base.note = "平台责任项; 未登记云平台测评记录 / no platform assessment record in compliance/attestations"
        return base
    if attestation is not None:
        base.state = base.underlying = _STATE_OF_ATTESTED[attestation.status]
        base.attestation = attestation.id
        base.note = f"人工核查 / attested by {attestation.attested_by} on {attestation.date.isoformat()}"
        base.evidence = (Evidence(f"{attestation.status}; evidence {attestation.evidence_file} SM3 "
                                  f"{attestation.evidence_sm3[:16]}…", attestation.source,
                                  attestation.date.isoformat()),)
        if base.state in (ItemState.FAIL, ItemState.PARTIAL):
            waiver = records.waiver_for(system.name, item=item.id)
            if waiver is not None:
                base.state, base.waiver = ItemState.WAIVED, waiver.id
        return base
    base.note = (f"无自动化规则 ({base.check_type}); 待人工核查或登记证明 / no rule checks this item: attest it in "
                 "compliance/attestations")
    return base


# ------------------------------------------------------------------------------------------------ scoring


def _dengbao_card(ctx: _Context, items: Sequence[ItemOutcome]) -> ScoreCard:
    """The 等保 score card (memoised: scoring is a pure function of the item results)."""
    key = tuple((o.item_id, o.score_status, o.high_risk) for o in items if o.standard == DENGBAO)
    if key not in ctx.dengbao_cards:
        ctx.dengbao_cards[key] = _score_dengbao(ctx, key)
    return ctx.dengbao_cards[key]


def _score_dengbao(ctx: _Context, key: tuple[tuple[str, str, bool], ...]) -> ScoreCard:
    results = [ItemResult(item_id, status, high_risk=high_risk and status == "不符合")  # type: ignore[arg-type]
               for item_id, status, high_risk in key]
    capable = frozenset(item_id for item_id, _, _ in key
                        if isinstance(found := ctx.catalogue.get(item_id), Item) and found.high_risk)
    try:
        scored = score_dengbao(results, ctx.scoring.dengbao, high_risk_capable=capable)
    except ScoringError as error:
        return ScoreCard("等保", None, None, None, (0.0, 0.0), False, (), (), str(error))
    value = scored.rate if scored.rule == "rate-2025" else scored.score
    low, high = scored.rate_range if scored.rule == "rate-2025" else (scored.score_range or (0.0, 0.0))
    verdict_range = scored.conclusion_range if scored.rule == "rate-2025" else scored.grade_range
    return ScoreCard("等保", _settled(scored.verdict, verdict_range), verdict_range, value, (low, high), scored.final,
                     scored.high_risk_items, tuple((s.label, s.formula, str(s.value)) for s in scored.steps))


def _settled(verdict: str | None, verdict_range: tuple[str, str] | None) -> str | None:
    """The verdict, or the only possible one while items are untested (e.g. a high-risk veto)."""
    if verdict is None and verdict_range is not None and verdict_range[0] == verdict_range[1]:
        return verdict_range[0]
    return verdict


def crypto_objects(facts: Facts, catalogue: Catalogue, crypto_level: int,
                   min_module_level: int) -> tuple[list[CryptoObjectResult], list[str]]:
    """D/A/K per test object (declared mechanism) of each technical unit required at ``crypto_level``.

    D: the unit uses cryptography at all (a mechanism is declared); A: every algorithm is approved (Ra
    by :data:`ALGORITHM_BITS` otherwise); K: keys live in a declared certified product whose GM/T 0028
    module level meets the minimum. A required unit without a mechanism is one object with D failed
    (a 应 unit so judged is a high-risk finding)."""
    products = {p["id"]: p for p in facts["crypto_products"]}
    objects: list[CryptoObjectResult] = []
    for unit in catalogue.crypto_units:
        if unit.kind != "technical" or unit.strength(crypto_level) == "不要求" or unit.id not in UNIT_PURPOSE:
            continue
        aspect, purpose = UNIT_PURPOSE[unit.id]
        mechanisms = [mech for mech in facts["crypto_mechanisms"]
                      if mech["aspect"] == aspect and mech["purpose"] == purpose]
        if not mechanisms:
            objects.append(CryptoObjectResult(unit.id, "未实施 (no mechanism)", False, None, None,
                                              high_risk=unit.strength(crypto_level) == "应"))
            continue
        for index, mech in enumerate(mechanisms):
            algorithms = set(mech["algorithms"])
            weak = algorithms - APPROVED_ALGORITHMS
            product = products.get(mech.get("product") or "")
            k_ok = product is not None and bool(str(product.get("certificate", "")).strip()) and \
                int(product.get("module_level", 0)) >= min_module_level
            bits = min((ALGORITHM_BITS.get(a, 0) for a in weak), default=None)
            name = f"{'+'.join(sorted(algorithms))}{'@' + str(mech.get('product')) if mech.get('product') else ''}"
            objects.append(CryptoObjectResult(unit.id, f"{index + 1}:{name}", True, not weak, k_ok,
                                              algorithm_strength_bits=bits))
    return objects, []


def _mipping_card(ctx: _Context, system: m.System, facts: Facts | None, items: Sequence[ItemOutcome]) -> ScoreCard:
    if facts is None or "crypto_mechanisms" not in facts:
        return ScoreCard("密评", None, None, None, (0.0, 0.0), False, (), (), "no manifest facts")
    minimum = int(threshold(ctx.thresholds, "min_module_level")[system.crypto_level])
    objects, _ = crypto_objects(facts, ctx.catalogue, system.crypto_level, minimum)
    waived = {o.item_id for o in items if o.state is ItemState.WAIVED}
    if waived:  # a waived unit's failure is not an unmitigated high risk
        objects = [CryptoObjectResult(o.unit_id, o.object_name, o.d, o.a, o.k, o.algorithm_strength_bits, o.rk,
                                      o.high_risk and o.unit_id not in waived) for o in objects]
    management: list[ManagementUnitResult] = []
    for outcome in items:
        if not outcome.attestation:
            continue
        unit = ctx.catalogue.get(outcome.item_id)
        if isinstance(unit, CryptoUnit) and unit.kind == "management":
            status = outcome.score_status
            if status in ("符合", "部分符合", "不符合", "不适用"):
                management.append(ManagementUnitResult(unit.id, status))  # type: ignore[arg-type]
    key = (system.crypto_level, tuple(objects), tuple(management))
    if key not in ctx.mipping_cards:
        ctx.mipping_cards[key] = _score_mipping(ctx, system.crypto_level, objects, management)
    return ctx.mipping_cards[key]


def _score_mipping(ctx: _Context, level: int, objects: list[CryptoObjectResult],
                   management: list[ManagementUnitResult]) -> ScoreCard:
    try:
        scored = score_mipping(ctx.catalogue, level, ctx.scoring.mipping, objects=objects,
                               management=management)
    except ScoringError as error:
        return ScoreCard("密评", None, None, None, (0.0, 0.0), False, (), (), str(error))
    return ScoreCard("密评", _settled(scored.conclusion, scored.conclusion_range), scored.conclusion_range,
                     scored.score, scored.score_range,
                     scored.final, scored.high_risk_units,
                     tuple((s.label, s.formula, str(s.value)) for s in scored.steps))


# ------------------------------------------------------------------------------------------------ scan


def scan(options: ScanOptions) -> ScanResult:
    """Run the scan described by ``options``; raises :class:`UsageError` (exit 2) on bad input."""
    started = utc_now()
    ctx = _setup(options)
    modes = ["static"]
    results, manifest_by_system = _manifest_results(ctx, started)
    if options.plan:
        modes.append("plan")
        results += _resource_results(ctx, started)
    hosts_by_system: dict[str, dict[str, str]] = {}
    if options.live:
        modes.append("live")
        results += _host_results(ctx, hosts_by_system)
    by_system: dict[str, list[RuleResult]] = {}
    for result in results:
        by_system.setdefault(result.subject, []).append(result)
    reports: list[SystemReport] = []
    for system in (ctx.register.systems[name] for name in ctx.selected):
        reports.append(_system_report(ctx, system, by_system.get(system.name, []),
                                      manifest_by_system.get(system.name), hosts_by_system.get(system.name, {})))
    used = {o.waiver for r in reports for o in r.items} | {f.waiver for r in reports for f in r.findings}
    ctx.warnings += [f"{w.source}: waiver {w.id} matched no failing result" for w in ctx.records.waivers
                     if w.id not in used]
    return ScanResult(
        modes=modes, started=started, finished=utc_now(), register_root=str(options.root), systems=reports,
        rules=[rule.to_json() for rule in RULES], warnings=ctx.warnings,
        catalogue_version=",".join(sorted({d.version for d in ctx.catalogue.documents})), fail_on=options.fail_on,
    )


def _system_report(ctx: _Context, system: m.System, results: list[RuleResult], facts: Facts | None,
                   hosts: dict[str, str]) -> SystemReport:
    department = ctx.register.region.departments.get(system.department)
    report = SystemReport(system.name, system.title, system.department, department.name if department else "",
                          system.tier, system.level, system.crypto_level, system.source, hosts=hosts)
    contributions: dict[str, list[_Contribution]] = {}
    for result in results:
        rule = RULES_BY_ID[result.rule_id]
        waiver = ctx.records.waiver_for(system.name, rule=rule.id)
        finding = Finding(result, waiver.id if waiver and result.status is not Status.PASS else None)
        report.findings.append(finding)
        for projected, item_id in _resolve(ctx, rule, system.level, system.crypto_level):
            status = result.status_of(projected)
            contributions.setdefault(item_id, []).append(_Contribution(status, finding, rule))
    # Item-level waivers also waive the findings that feed only that item (for gating).
    records = ctx.records
    level, crypto_level = system.level, system.crypto_level
    for item in _system_items(ctx, system):
        found = contributions.get(item.id)
        if found is None and not records.attestations:
            # No check and no attestation: the outcome depends only on the item and the levels.
            key = (item.id, level, crypto_level)
            if key not in ctx.untouched:
                ctx.untouched[key] = _item_outcome(ctx, system, item, [])
            report.items.append(ctx.untouched[key])
        else:
            report.items.append(_item_outcome(ctx, system, item, found or []))
    waived_items = {o.item_id: o.waiver for o in report.items if o.state is ItemState.WAIVED}
    for index, finding in enumerate(report.findings):
        if finding.waiver is None and finding.blocking:
            rule = RULES_BY_ID[finding.result.rule_id]
            targets = [item_id for projected, item_id in _resolve(ctx, rule, system.level, system.crypto_level)
                       if finding.result.status_of(projected) in (Status.FAIL, Status.PARTIAL, Status.ERROR)]
            if targets and all(t in waived_items for t in targets):
                report.findings[index] = Finding(finding.result, waived_items[targets[0]])
    report.dengbao = _dengbao_card(ctx, report.items)
    report.mipping = _mipping_card(ctx, system, facts, report.items)
    return report

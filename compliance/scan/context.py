"""What a scan is asked to do (:class:`ScanOptions`) and what it loads once (:class:`ScanContext`)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from compliance.attest import AttestationIndex, ItemRecord, load_attestations
from compliance.attest.loader import EVIDENCE_FOLDER, catalogue_text
from compliance.catalogue import Catalogue, CryptoUnit, Item, default_standards_dir, load_catalogue
from compliance.catalogue.high_risk import HighRiskTable, SystemProfile
from compliance.catalogue.loader import catalogue_files
from compliance.results import ItemOutcome, ScoreCard
from compliance.scan.shard import Shard, files_digest, refuse_systems_in_a_shard, shard_systems
from compliance.scoring import ScoringConfig, load_scoring_config
from compliance.waivers import Attestation, Records, load_records, record_files
from policies.engine import Rule, Severity
from policies.registry import RULES_BY_ID
from xzgov.core import model as m
from xzgov.core.clock import parse_day, region_today
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.core.fsutil import listed_tree
from xzgov.core.reads import ReadLog
from xzgov.core.register import load_register
from xzgov.core.yamlio import iter_yaml_files
from xzgov.facts.host import HostTarget, Transport
from xzgov.facts.thresholds import load_thresholds, threshold


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
    #: Called with (done, in all, what) after each host is gathered and after each system is judged: the CLI
    #: draws a bar on a terminal and stays quiet when piped.
    progress: Callable[[int, int, str], None] | None = None
    #: The KPIs of an earlier signed report (``KpiReport.to_json``): the HTML report shows the trend since.
    kpi_since: Mapping[str, Any] | None = None
    ssh_user: str | None = None
    ssh_key: str | None = None
    today: dt.date | None = None
    #: The day recorded dates are judged against (assessment expiry, patch and review ages …): ``None`` is the
    #: scan's own day. Tests and CI pin it so the example region never ages into failures (``--as-of``).
    as_of: dt.date | None = None
    standards_dir: Path | None = None
    systems: Sequence[str] = ()
    #: How the command line names ``systems`` in an error (``attest template`` takes its system as an argument).
    systems_field: str = "--system"
    waivers_dir: Path | None = None
    attestations_dir: Path | None = None
    #: False: judge without any attestation or platform record (``xzgov attest template`` lists what no
    #: rule decides; the before/after figures of pending items)
    use_attestations: bool = True
    #: Scan only this shard of the register (``compliance.scan.shard``); not together with ``systems``.
    shard: Shard | None = None


#: What an item's outcome starts from (``compliance.scan.items._static``): ``ItemOutcome``'s positional
#: fields, whether the item is inherited, whether it is high-risk capable, and the fields before ``state`` and
#: after ``evidence`` (an outcome a rule decides is built from those two around its state, rules and evidence).
ItemStatic = tuple[tuple[Any, ...], bool, bool, tuple[Any, ...], tuple[Any, ...]]


class PlacedRule(NamedTuple):
    """A rule in the item row of some levels (``ScanContext.rules_in_row``, ``compliance.scan.items.placements``)."""

    rule: Rule
    #: (projected control, row position) of each item the rule checks there (``compliance.scan.items.slots``)
    slots: tuple[tuple[str, int], ...]
    #: the slots of items no other rule placed with it (nor another control of this rule) checks there: a result
    #: of this rule alone decides them
    sole: tuple[tuple[str, int], ...]
    #: the other slots: items that take the say of several results
    shared: tuple[tuple[str, int], ...]
    #: ``(rule.id,)``: an outcome's ``rules`` when the rule alone decides the item (one tuple, shared)
    ids: tuple[str]


@dataclass
class ScanContext:
    """Everything loaded once per scan, and memos of pure computations shared between systems."""

    options: ScanOptions
    register: m.Register
    catalogue: Catalogue
    scoring: ScoringConfig
    records: Records
    thresholds: Mapping[str, Any]
    warnings: list[str] = field(default_factory=list)
    #: warnings about one selected system (system → its warnings): reported after ``warnings``, in the register's
    #: order, so a merge of shards lists them as the whole scan does
    system_warnings: dict[str, list[str]] = field(default_factory=dict)
    #: verified signed attestation sets and the platform's record (``compliance.attest``)
    attested: AttestationIndex = field(default_factory=AttestationIndex)
    #: the systems to report on (all by default); facts always see the whole register
    selected: tuple[str, ...] = ()
    resolved: dict[tuple[str, int, int], list[tuple[str, str]]] = field(default_factory=dict)
    #: memo of pure computations shared by systems of the same levels / identical results
    items_of: dict[tuple[int, int], list[Item | CryptoUnit]] = field(default_factory=dict)
    #: (等保 level, 密评 level) -> the system's items (``items_of``) and each item's position in that row
    item_rows: dict[tuple[int, int], tuple[list[Item | CryptoUnit], dict[str, int]]] = field(default_factory=dict)
    #: (等保 level, 密评 level) -> the row's outcomes when nothing checks the items (no attestation exists)
    untouched_rows: dict[tuple[int, int], list[ItemOutcome]] = field(default_factory=dict)
    #: (等保 level, 密评 level, ids of the rules that gave a system's results) -> rule id -> the rule's items in that
    #: row among those rules' (``compliance.scan.items.placements``)
    rules_in_row: dict[tuple[int, int, tuple[str, ...]], dict[str, PlacedRule]] = field(default_factory=dict)
    #: (item id, 密评 level) -> an outcome's fields before any result, whether inherited, whether high-risk capable
    item_static: dict[tuple[str, int], ItemStatic] = field(default_factory=dict)
    #: (等保 level, 密评 level) -> ``item_static`` of each item of that row, in row order
    row_statics: dict[tuple[int, int], list[ItemStatic]] = field(default_factory=dict)
    #: 密评 level -> the technical units required there with their strength and declared purpose
    crypto_plan: dict[int, tuple[tuple[CryptoUnit, str, tuple[str, str]], ...]] = field(default_factory=dict)
    dengbao_cards: dict[tuple[Any, ...], ScoreCard] = field(default_factory=dict)
    #: (high-risk profile, 等保 level, 密评 level) -> the untouched row's 等保 entries, row position -> entry
    #: index, entry index -> scorer status -> entry (``compliance.scan.dengbao._row_entries``)
    row_entries: dict[tuple[Any, int, int], tuple[list[tuple[str, str, bool | None, bool]], dict[int, int],
                                                  list[dict[str, tuple[str, str, bool | None, bool]]]]] = \
        field(default_factory=dict)
    miping_cards: dict[tuple[Any, ...], ScoreCard] = field(default_factory=dict)
    #: (等保 level, 密评 level) -> row positions of the GB/T 39786 management and technical units, and the row's
    #: item ids and those units' ids (``compliance.scan.miping.unit_positions`` checks a row against them)
    crypto_positions: dict[tuple[int, int], tuple[tuple[int, ...], tuple[int, ...],
                                                  tuple[tuple[str, ...], tuple[str, ...]]]] = \
        field(default_factory=dict)
    #: the day recorded dates are judged on (:func:`judged_day`)
    day: dt.date | None = None
    #: the high-risk case table checked against ``catalogue`` once loaded (``[None]``: it disagrees)
    high_risk: list[HighRiskTable | None] = field(default_factory=list)
    #: high-risk system profile -> item id -> whether the item's case applies (``compliance.scan.dengbao``)
    case_applies: dict[Any, dict[str, bool | None]] = field(default_factory=dict)
    #: (high-risk system profile, 等保 level) -> the guide's cases that cannot apply
    #: (``compliance.scan.dengbao.cases_not_applying``)
    not_applying: dict[tuple[Any, int], tuple[str, ...]] = field(default_factory=dict)
    #: system name -> (the system, the case table and the day it was judged with, its high-risk profile)
    #: (``compliance.scan.dengbao.system_profile``)
    profiles: dict[str, tuple[m.System, HighRiskTable | None, dt.date, SystemProfile | None]] = \
        field(default_factory=dict)


#: Environment variable pinning the as-of day when ``ScanOptions.as_of`` is not given (CI and the test suite
#: set it, so the example region's recorded dates never age into failures); ``xzgov scan --as-of`` reads it too.
AS_OF_ENV = "XZGOV_AS_OF"


def as_of_day(options: ScanOptions) -> dt.date | None:
    """The day recorded dates are judged against: ``options.as_of``, else ``$XZGOV_AS_OF``, else ``None`` (the
    scan's own day). A malformed ``$XZGOV_AS_OF`` is a usage error (exit 2)."""
    return options.as_of if options.as_of is not None else as_of_from_environment()


def judged_day(ctx: ScanContext) -> dt.date:
    """The day this scan judges recorded dates on: the pinned as-of day, else the scan's own day in the region
    (as the manifest facts' ``as_of``: ``xzgov.facts.manifest``), fixed at the first call."""
    if ctx.day is None:
        ctx.day = as_of_day(ctx.options) or ctx.options.today or region_today()
    return ctx.day


def as_of_from_environment() -> dt.date | None:
    """``$XZGOV_AS_OF`` as a day, ``None`` when unset or empty; a malformed value is a usage error (exit 2).
    What a scan judges on when no ``--as-of`` is given (and what ``attest sign`` checks expiry against)."""
    value = os.environ.get(AS_OF_ENV)
    if not value:
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise UsageError(f"${AS_OF_ENV}={value!r} is not a date", [Diagnostic(
            f"${AS_OF_ENV}", 0, 0, AS_OF_ENV, f"'{value}' is not a calendar date", "write YYYY-MM-DD",
            "usage")]) from None


def pinned_or_today() -> dt.date:
    """``$XZGOV_AS_OF`` (the day a scan without ``--as-of`` judges on), else today in the region: the default day of
    the commands that must judge as that scan does (``xzgov kpi``, ``onboard --template``)."""
    return as_of_from_environment() or region_today()


def standards_dir_of(options: ScanOptions) -> Path | None:
    """The standards directory a scan with ``options`` judges by: ``--standards-dir``, else the register's own
    ``standards/``, else ``None`` (the default: ``$XZGOV_STANDARDS_DIR`` or the installed catalogue). Every
    table the scan reads comes from it: catalogue, scoring, 密评 weights and the high-risk cases."""
    if options.standards_dir is not None:
        return options.standards_dir
    local = options.root / "standards"
    return local if local.is_dir() else None


def scan_inputs(options: ScanOptions, read: ReadLog | None = None) -> dict[str, str]:
    """Digests (:func:`~compliance.scan.shard.files_digest`) of the files a scan with ``options`` reads
    besides the register — whose digest the part records apart — each by the name ``xzgov scan merge``
    reports it under: the catalogue and scoring files, the waivers, the attestations (``off`` when not
    used), the thresholds and, for a live scan, the inventory. Exactly the files the loaders read (found
    the way they find them), so a README beside the waivers neither counts nor can fail the scan. Parts
    whose digests differ were judged by different rules of the game and do not merge. With ``read`` (the
    scan's :func:`~compliance.scan.shard.recording`) a file counts with the bytes the scan read from it; the
    live inventory, which Ansible reads, with its bytes now; a file the scan read and that is gone since
    still counts."""
    standards = standards_dir_of(options) or default_standards_dir()
    waivers = options.waivers_dir or options.root / "compliance" / "waivers"
    attestations = options.attestations_dir or options.root / "compliance" / "attestations"
    config = options.root / "compliance" / "config.yaml"
    inputs = {
        "standards": files_digest(standards, [*catalogue_files(standards), *_top_level(standards, "*.yaml"),
                                              *_top_level(standards / "schema", "*.json")], "standards", read,
                                  below=standards),
        "waivers": files_digest(waivers, record_files(waivers), "waivers", read, below=waivers),
        "attestations": (files_digest(attestations, iter_yaml_files(attestations, evidence=EVIDENCE_FOLDER),
                                      "attestations", read,
                                      below=attestations)
                         if attestations.is_dir() else "-") if options.use_attestations else "off",
        "config": files_digest(config.parent, [config] if config.is_file() else [], "config", read),
    }
    if options.live:
        inventory = options.inventory if options.inventory is not None else options.root / "inventories"
        inputs["inventory"] = files_digest(inventory.parent, [inventory], "inventory") if inventory.is_file() \
            else files_digest(inventory, _inventory_files(inventory), "inventory") if inventory.is_dir() else "-"
        # who connects, with which key and how long a host may take change the live results as the inventory does
        # (the key by its path: never a digest of a private key)
        inputs["connection"] = (f"user={options.ssh_user or '(inventory)'} key={options.ssh_key or '(inventory)'} "
                                f"timeout={options.host_timeout:g}")
    return inputs


def _inventory_files(directory: Path) -> list[Path]:
    """Every file Ansible may read of an inventory directory: not only YAML — INI and extensionless inventories,
    ``host_vars``/``group_vars`` files in JSON or without an extension (hidden entries aside, as Ansible skips
    them). A part scanned with another such file is refused by the merge."""
    return [path for path in listed_tree(directory)
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)]


def _top_level(directory: Path, pattern: str) -> list[Path]:
    """The regular, not hidden files of ``directory`` matching ``pattern`` (none when it is absent)."""
    if not directory.is_dir():
        return []
    return [p for p in directory.glob(pattern) if p.is_file() and not p.name.startswith(".")]


def _register(root: Path) -> m.Register:
    try:
        return load_register(root)
    except XzgovError as error:
        if error.exit_code is not ExitCode.FAILED:
            raise
        # The register is the scan's input: invalid input is exit 2 (README, docs/compliance.md), while
        # exit 1 means findings.
        raise UsageError(f"{error.message}: fix them before scanning", error.diagnostics) from None


def setup(options: ScanOptions) -> ScanContext:
    """Load the register, catalogue, scoring configuration, waivers and attestations; raises
    :class:`UsageError` (exit 2) on bad input."""
    # The catalogue and scoring configuration first: loaded after the register, their allocations made the
    # collector walk the register too (1.46 s instead of 0.62 s at 3,000 systems, bench/bench_scan.py). The
    # scoring configuration's weight table is checked against this catalogue (not a second load of it).
    standards = standards_dir_of(options)
    catalogue = load_catalogue(standards) if standards is not None else load_catalogue()
    scoring = load_scoring_config(standards / "scoring.yaml" if standards is not None else None, catalogue)
    register = _register(options.root)
    unknown = [name for name in options.systems if name not in register.systems]
    if unknown:
        raise UsageError(f"unknown system(s): {', '.join(unknown)}",
                         [Diagnostic("<command line>", 0, 0, options.systems_field, f"no system named {name}",
                                     "see `xzgov register`", "reference") for name in unknown])
    # Waivers only: attestations are signed sets, loaded and verified by compliance.attest (os.devnull is
    # no folder, so the unsigned record format of compliance.waivers is never read).
    thresholds = load_thresholds(options.root)
    records = load_records(
        options.root, today=options.today, known_systems=register.systems,
        known_item=lambda ref: catalogue.get(ref) is not None, known_rules=RULES_BY_ID,
        waivers_dir=options.waivers_dir, attestations_dir=Path(os.devnull),
        max_waiver_days=int(threshold(thresholds, "max_waiver_days")),
    )
    attested = AttestationIndex()
    if options.use_attestations:
        attested = load_attestations(
            options.root, today=options.today or region_today(),
            systems={name: system.department for name, system in register.systems.items()},
            departments={d.id: d.name for d in register.region.departments.values()},
            platform_departments=register.region.platform_departments,
            known_item=lambda ref: catalogue.get(ref) is not None, directory=options.attestations_dir,
            described=lambda ref: catalogue_text(catalogue.get(ref)), thresholds=thresholds,
            inherited=lambda ref: isinstance(entry := catalogue.get(ref), Item) and entry.platform_decides)
        # The scanner memoises outcomes of unchecked items only while no attestation exists: it reads
        # ``records.attestations``, so each verified record is listed there too (same facts, older shape).
        records = Records(records.waivers, _listed(attested), records.warnings)
    # a row of another level never reaches an item's outcome (compliance.scan.items warns of the others)
    unused = [(record, register.systems[record.system]) for record in attested.items.values()
              if not item_applies(catalogue.get(record.item), register.systems[record.system])]
    warnings = [f"{record.location}: {not_used_text(record, other_level(record.item, system))}"
                for record, system in unused[:20]]
    refuse_systems_in_a_shard(options.shard, options.systems)
    if options.shard is not None:
        selected = shard_systems(register, options.shard)
    else:
        selected = tuple(dict.fromkeys(options.systems)) or tuple(register.systems)  # a name given twice: once
    return ScanContext(options, register, catalogue, scoring, records, thresholds,
                       [*records.warnings, *attested.warnings, *warnings], selected=selected, attested=attested)


def item_applies(entry: Item | CryptoUnit | None, system: m.System) -> bool:
    """Whether ``entry`` is an item of ``system`` at its levels (an attested row of another level is not used)."""
    if isinstance(entry, Item):
        return entry.level == system.level
    return entry is not None and entry.required_at(system.crypto_level)


def platform_item(ref: str) -> str:
    """Why a tenant's row for ``ref``, a platform-responsibility item, is not used."""
    return (f"{ref} is a platform-responsibility item: 云平台责任项由云平台测评记录决定 / the platform's signed "
            "assessment record (scope platform) decides it")


def other_level(ref: str, system: m.System) -> str:
    """Why a row for ``ref``, not an item of ``system`` at its levels, is not used."""
    return (f"不是该系统定级的测评项 / {ref} is not an item of {system.name} at its level (等保 {system.level} / 密评 "
            f"{system.crypto_level}): re-attest from `xzgov attest template`")


def set_level_mismatch(entry: Item | CryptoUnit, system: m.System, level: int | None,
                       crypto_level: int | None) -> str:
    """Why a set judged at ``level`` / ``crypto_level`` (its ``metadata``) does not decide ``entry`` for ``system``
    ("" when it does): the 等保 level for an item, the 密评 level for a GB/T 39786 unit (unit ids are the same at
    every level: a set judged at another level, or a system moved to another level, kept counting)."""
    judged, now, kind = ((crypto_level, system.crypto_level, "密评") if isinstance(entry, CryptoUnit)
                         else (level, system.level, "等保"))
    if judged is None or judged == now:
        return ""
    return (f"该核查表按{kind} {judged} 级编制, 系统现为 {now} 级 / the set was judged at {kind} level {judged}, the "
            f"system is at {now}: re-assess the system at its level (xzgov attest template)")


def row_not_used(entry: Item | CryptoUnit, system: m.System, level: int | None = None,
                 crypto_level: int | None = None) -> str:
    """Why no scan uses a system's attested row for ``entry`` whatever the rules find ("" when a scan may use it):
    a set judged at other levels (``level`` / ``crypto_level``: the set's), another level's item, or one the
    platform's record decides. (A row is also unused where a rule decides the item: only the scan knows that.)"""
    mismatch = set_level_mismatch(entry, system, level, crypto_level)
    if mismatch:
        return mismatch
    if not item_applies(entry, system):
        return other_level(entry.id, system)
    if isinstance(entry, Item) and entry.platform_decides:
        return platform_item(entry.id)
    return ""


def not_used_text(record: ItemRecord, why: str) -> str:
    """The warning that the attested result of ``record`` is not used, and ``why``."""
    return (f"证明 {record.info.id} 对 {record.item} 的结果 {record.result} 未采用 / the attested result of "
            f"{record.item} is not used: {why}")


def _listed(attested: AttestationIndex) -> tuple[Attestation, ...]:
    listed = [Attestation(r.info.id, "system", r.system, (r.item,), r.result, r.info.signer, r.info.date,
                          r.info.expires, r.evidence[0].file if r.evidence else "", r.evidence[0].sm3 if r.evidence
                          else "", r.location) for r in attested.items.values()]
    if attested.platform is not None:
        p = attested.platform
        listed.append(Attestation(p.info.id, "platform", "*", None, p.default_result, p.info.signer, p.info.date,
                                  p.info.expires, p.evidence[0].file if p.evidence else "",
                                  p.evidence[0].sm3 if p.evidence else "", f"{p.info.source}:{p.line}", p.report))
    if attested.expired and not listed:  # expired records change notes: keep the scanner from memoising
        listed.append(Attestation("EXPIRED", "system", "*", (), "符合", "", dt.date.min, dt.date.min, "", "", ""))
    return tuple(listed)

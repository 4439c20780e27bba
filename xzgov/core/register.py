"""Load, validate and register: manifests and the region file become one typed :class:`Register`.

Validation runs in three passes and collects **all** errors before failing: YAML (syntax and
duplicate keys), JSON Schema (per document), then cross-register checks (names unique, references
resolve, addresses inside their zone's CIDR). Standard-derived requirements are compliance rules,
not validation errors.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import os
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from xzgov.core import gctune
from xzgov.core import model as m
from xzgov.core.assessments import (
    assessments_of,
    change_management_of,
    check_assessments,
    data_sets_of,
    image_provenance_of,
)
from xzgov.core.cron import CronError, max_gap_minutes
from xzgov.core.errors import Diagnostic, ExitCode, XzgovError, cap_per_file
from xzgov.core.fsutil import display_path
from xzgov.core.groups import group_problems
from xzgov.core.inventory import RESERVED_HOSTNAMES
from xzgov.core.manifest_lines import SYSTEM_LINES, keep
from xzgov.core.ports import check_ports, cross_site_gaps, landing_gap
from xzgov.core.schema import suggest, validate_document
from xzgov.core.secmgmt import check_security_management
from xzgov.core.security import boundary_devices, check_boundary_devices, crypto_channels, security_posture
from xzgov.core.yamlio import LineTrie, LocatedDocument, iter_yaml_files, load_file

REGION_FILE = "region.yaml"
SYSTEMS_DIR = "systems"
#: Where the plan's tasks live: region.yaml ``spec.programme`` (optional: without it, no programme KPIs).
PROGRAMME_PATH = ("spec", "programme")


@dataclass
class Loaded:
    """What a load produced: the register (when every check passed) and all diagnostics."""

    register: m.Register | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: dict[str, LocatedDocument] = field(default_factory=dict)  # system name -> document
    #: the names the extra files (candidates) are reported under, in the order given
    candidates: tuple[str, ...] = ()
    #: the manifests read (registered and candidates): what a count says when no register could be built
    manifests: int = 0

    @property
    def ok(self) -> bool:
        return self.register is not None and not self.diagnostics


def load_register(
    root: Path | str = ".", *, extra: Sequence[Path] = (), replace_same_name: bool = False
) -> m.Register:
    """Load and validate the register under ``root``; raise :class:`XzgovError` with every error."""
    loaded = check_register(root, extra=extra, replace_same_name=replace_same_name)
    if not loaded.ok or loaded.register is None:
        count = len(loaded.diagnostics)
        raise XzgovError(f"{count} error{'s' * (count != 1)} in the register", loaded.diagnostics,
                         exit_code_of(loaded.diagnostics))
    # the lines of the paths findings point at, kept from the one parse (the scan locates with them)
    keep(loaded.register, {name: doc.lines for name, doc in loaded.documents.items() if doc.lines is not None})
    return loaded.register


def valid_register(loaded: Loaded) -> m.Register:
    """The register ``loaded`` holds, or :class:`XzgovError` with every error and the documented exit code
    (:func:`exit_code_of`), pointing at ``xzgov validate``: what the commands reading the register without
    scanning it (``register``, ``inventory``, ``kpi``) refuse an invalid one with."""
    if not loaded.ok or loaded.register is None:
        raise XzgovError(f"{len(loaded.diagnostics)} error(s) in the register; run xzgov validate",
                         loaded.diagnostics, exit_code_of(loaded.diagnostics))
    return loaded.register


def exit_code_of(diagnostics: Iterable[Diagnostic]) -> ExitCode:
    """The documented exit code for a register with these problems: 2 when a file could not be read at
    all (README: missing or unreadable file), else 1 (invalid input)."""
    return ExitCode.USAGE if any(d.code == "io" for d in diagnostics) else ExitCode.FAILED


def check_register(
    root: Path | str = ".", *, extra: Sequence[Path] = (), replace_same_name: bool = False
) -> Loaded:
    """Load and validate without raising. ``extra`` files are checked as candidate manifests.

    With ``replace_same_name`` a candidate replaces the registered system of the same name (an
    update); otherwise the name clash is an error. The garbage collector runs less often meanwhile
    (:func:`xzgov.core.gctune.bulk`: the loaded data is long-lived and cycle-free).
    """
    with gctune.bulk():
        return _check_register(Path(root), extra, replace_same_name)


def _check_register(base: Path, extra: Sequence[Path], replace_same_name: bool) -> Loaded:
    diagnostics: list[Diagnostic] = []
    region_path = base / REGION_FILE
    if not region_path.is_file():
        there = os.path.lexists(region_path)
        raise XzgovError(
            f"{'no' if not there else 'not a file:'} {REGION_FILE} in {base.resolve()}",
            [Diagnostic(str(region_path), 0, 0, "", "the region file is missing" if not there else
                        "not a regular file (a folder, link, FIFO or device)",
                        "run xzgov from the repository root or pass --root" if not there else
                        f"put the region file itself at {region_path}", "io")],
            ExitCode.USAGE,
        )
    systems_path = base / SYSTEMS_DIR
    there = os.path.lexists(systems_path)
    # a link: iter_yaml_files refuses it; none at all with candidates: onboarding the region's first system
    if not systems_path.is_dir() and not systems_path.is_symlink() and (there or not extra):
        raise XzgovError(
            f"{'no' if not there else 'not a folder:'} {SYSTEMS_DIR}/ in {base.resolve()}",
            [Diagnostic(str(systems_path), 0, 0, "", "the folder of system manifests is missing" if not there
                        else "not a folder", f"pass --root of the register, or create {systems_path}/ (xzgov "
                        "onboard files manifests there)" if not there else
                        f"move the file away: {systems_path}/<department>/<system>.yaml holds the manifests", "io")],
            ExitCode.USAGE,
        )
    region_doc = _load_single(region_path, REGION_FILE, "Region", diagnostics)
    files: list[tuple[Path, str]] = [
        (path, display_path(path, base)) for path in iter_yaml_files(base / SYSTEMS_DIR)
    ]
    candidates = _candidate_names(extra, base, files)
    registered = {name for _, name in files}
    unique = dict(zip(candidates, extra, strict=True))  # a file named twice is one candidate
    files += [(path, name) for name, path in unique.items() if name not in registered]
    system_docs: list[LocatedDocument] = []
    refused: list[str | None] = []  # the names the manifests that did not load claim (None: no name readable)
    for path, display in files:
        document = _load_single(path, display, "System", diagnostics, SYSTEM_LINES, refused)
        if document is not None:
            system_docs.append(document)
    drafts = {name for name in candidates if name not in registered}  # a filed manifest replaces nothing
    filed_as: dict[str, str] = {}  # a draft replacing a registered system → the file it is filed as
    if replace_same_name and drafts:
        system_docs = _prefer_candidates(system_docs, drafts, diagnostics, filed_as)
    if region_doc is None or diagnostics:
        if region_doc is not None and refused and None not in refused:
            # The well-formed manifests still meet the register's checks (addresses, host names, references):
            # one malformed manifest hid every other file's register errors, and `validate FILE` called a file
            # valid that had some. A reference to a refused manifest's name is not an error here.
            region = _build_region(region_doc, diagnostics)
            if not any(d.file == region_doc.file for d in diagnostics):
                named = set(candidates)
                _build_systems(region, sorted(system_docs, key=lambda doc: doc.file in named), diagnostics,
                               filed_as, also_named=frozenset(n for n in refused if n))
        # Cross-register checks need well-formed documents; still report duplicates we can see.
        return Loaded(None, cap_per_file(sorted(set(diagnostics))), candidates=tuple(candidates),
                      manifests=len(files))
    region = _build_region(region_doc, diagnostics)
    # a clash (a name, hostname or address two files claim) is reported at the later file: the files named on the
    # command line (validate's paths, onboard's manifest) come last, so the file being changed carries the error,
    # not the one nobody touched; the register keeps its own order
    named = set(candidates)
    systems = _build_systems(region, sorted(system_docs, key=lambda doc: doc.file in named), diagnostics,
                             filed_as)
    order = {doc.data["metadata"]["name"]: index for index, doc in reversed(list(enumerate(system_docs)))}
    systems.sort(key=lambda system: order[system.name])
    check_security_management(region, system_docs, diagnostics)
    _check_region_providers(region_doc, {doc.data["metadata"]["name"] for doc in system_docs}, diagnostics)
    documents = {doc.data["metadata"]["name"]: doc for doc in system_docs}
    programme = (_build_programme(region_doc, region, set(documents), diagnostics)
                 if "programme" in region_doc.data["spec"] else None)
    _check_system_programme(programme, system_docs, diagnostics)
    if diagnostics:
        return Loaded(None, cap_per_file(sorted(set(diagnostics))), documents, tuple(candidates), len(files))
    register = m.Register(region, {system.name: system for system in systems}, str(base), programme)
    _check_cross_site_flows(register, documents, diagnostics)
    _check_system_flow_ports(register, documents, diagnostics)
    if diagnostics:
        return Loaded(None, cap_per_file(sorted(set(diagnostics))), documents, tuple(candidates), len(files))
    return Loaded(register, [], documents, tuple(candidates), len(files))


def _check_cross_site_flows(register: m.Register, documents: Mapping[str, LocatedDocument],
                            sink: list[Diagnostic]) -> None:
    """A flow between pods of two sites needs region.yaml's cross-site ranges (``xzgov.core.ports``): located at
    the flow, since that is what cannot be carried."""
    for system in register:
        for index, message, fix in cross_site_gaps(register, system):
            sink.append(documents[system.name].diagnostic(("spec", "flows", index, "to"), message, fix,
                                                          code="reference"))


def _check_system_flow_ports(register: m.Register, documents: Mapping[str, LocatedDocument],
                             sink: list[Diagnostic]) -> None:
    """A flow to another system lands on a port the receiver serves to other systems (``ports.landing_gap``), as a
    flow to a shared service names the port region.yaml publishes (:func:`_check_service_port`). Located at the
    sender's flow: the receiver's verdict got a blocking boundary finding for another department's declaration,
    while the sender validated clean."""
    for system in register:
        for index, flow in enumerate(system.flows):
            receiver = register.systems.get(flow.to.name) if flow.to.kind == "system" else None
            if receiver is None:
                continue
            gap = landing_gap(receiver, flow.protocol, flow.port)
            if gap is not None:
                sink.append(documents[system.name].diagnostic(
                    ("spec", "flows", index, "port"),
                    f"该流无落点 / the flow to '{receiver.name}' on {flow.port}/{flow.protocol.upper()} lands "
                    f"nowhere: {gap} ({receiver.source})",
                    f"改为目标对外提供的端口, 或由 {receiver.name} 的负责部门声明该端口 / use a port '{receiver.name}' "
                    "serves, or ask its department to declare the port (spec.workloads[].ports or "
                    "spec.hosts[].ports, not exposure: internal)", code="reference"))


def _prefer_candidates(documents: list[LocatedDocument], candidates: set[str],
                       sink: list[Diagnostic], filed_as: dict[str, str]) -> list[LocatedDocument]:
    """The documents with each candidate in place of the registered system of its name (an update). A
    candidate that names another department than the registered system's is refused, located at its
    metadata.department: moving a system between departments is a change of ownership (``validate`` and
    ``onboard`` judge it alike). ``filed_as`` gets each replacing candidate's file → the registered file it
    replaces (where ``onboard`` files it, and whose folder names the department it must keep)."""
    names = {
        doc.data["metadata"]["name"] for doc in documents if doc.file in candidates and _has_name(doc)
    }
    registered = {doc.data["metadata"]["name"]: doc for doc in documents
                  if doc.file not in candidates and _has_name(doc) and doc.data["metadata"]["name"] in names}
    for doc in documents:
        if doc.file not in candidates or not _has_name(doc):
            continue
        metadata = doc.data["metadata"]
        previous = registered.get(metadata["name"])
        if previous is None:
            continue
        filed_as[doc.file] = previous.file
        before, after = previous.data["metadata"].get("department"), metadata.get("department")
        if before != after and "department" in metadata:
            sink.append(doc.diagnostic(
                ("metadata", "department"), f"'{metadata['name']}' is registered at {previous.file} under "
                f"department '{before}': moving a system between departments is a change of ownership",
                f"keep department: {before}, or remove {previous.file} in a reviewed change first",
                code="reference"))
    return [doc for doc in documents if doc.file in candidates or not (_has_name(doc) and
            doc.data["metadata"]["name"] in names)]


def _candidate_names(extra: Sequence[Path], base: Path, files: Sequence[tuple[Path, str]]) -> list[str]:
    """The name each extra file is reported under: a registered file's own name when it is that file (by its real
    path), else its path relative to the root — or, outside the root, as given unless that spells a registered
    file's name (``validate --root R systems/x/a.yaml`` run elsewhere: another file), then its absolute path."""
    registered = {path.resolve(): name for path, name in files}
    taken = set(registered.values())
    names = []
    for path in extra:
        real = path.resolve()
        name = registered.get(real) or display_path(path, base)
        if real not in registered and name in taken:
            name = str(real)
        names.append(name)
    return names


def _check_filed_department(region: m.Region, doc: LocatedDocument, sink: list[Diagnostic],
                             filed_as: str | None = None) -> None:
    """A manifest filed under ``systems/<department>/`` belongs to that department: a metadata.department naming
    another is a change of ownership made in place (a draft outside the register moving departments is refused
    likewise: :func:`_prefer_candidates`). Who may attest a system is pinned per department, so the edit would
    move that too. Folders that name no department of the region (test and benchmark registers) are not judged.
    ``filed_as``: the file a draft replaces, where it is filed (a misfiled manifest re-onboarded from a copy was
    judged by the copy's folder, and filed back where the register refuses it)."""
    parts = PurePosixPath(filed_as or doc.file).parts
    if len(parts) < 3 or parts[0] != SYSTEMS_DIR or parts[1] not in region.departments:
        return
    folder, department = parts[1], doc.data["metadata"].get("department")
    if department != folder and department in region.departments:  # (an unknown one: _check_references says so)
        where = f"filed under {SYSTEMS_DIR}/{folder}/ (department '{folder}')" if not filed_as or \
            filed_as == doc.file else f"filed as {filed_as} (department '{folder}')"
        sink.append(doc.diagnostic(
            ("metadata", "department"), f"{where} but "
            f"metadata.department is '{department}': moving a system between departments is a change of ownership",
            f"keep department: {folder}, or move the file to {SYSTEMS_DIR}/{department}/ in a reviewed change",
            code="reference"))


def _has_name(document: LocatedDocument) -> bool:
    data = document.data
    return isinstance(data, dict) and isinstance(data.get("metadata"), dict) and "name" in data["metadata"]


def _load_single(
    path: Path, display: str, kind: str, sink: list[Diagnostic], index: LineTrie | None = None,
    refused: list[str | None] | None = None,
) -> LocatedDocument | None:
    """The document at ``path`` when it parses and meets its schema; else ``None``, its problems in ``sink`` and
    (with ``refused``) the ``metadata.name`` it claims appended there (``None`` when it names none)."""
    document, problems = load_file(path, display, index=index)
    sink.extend(problems)
    if document is None:
        if refused is not None:
            refused.append(None)
        return None
    if not isinstance(document.data, dict):
        what, start = (("the region file", f"start from the example region's {REGION_FILE}") if kind == "Region"
                       else ("a manifest", "start from an example in systems/"))
        sink.append(document.diagnostic((), f"{what} must be a mapping with apiVersion, kind, metadata, spec", start,
                                        code="type"))
        schema_errors = sink[-1:]
    elif document.data.get("kind") != kind and "kind" in document.data:
        hint = suggest(str(document.data["kind"]), [kind]) or f"this file must declare kind: {kind}"
        sink.append(document.diagnostic(("kind",), f"kind '{document.data['kind']}' does not belong here", hint,
                                        code="const"))
        schema_errors = sink[-1:]
    else:
        schema_errors = validate_document(document, kind)
        sink.extend(schema_errors)
    if schema_errors and refused is not None:
        metadata = document.data.get("metadata") if isinstance(document.data, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        refused.append(name if isinstance(name, str) and name else None)
    return None if schema_errors else document


# ----------------------------------------------------------------------------------------------- region


def _unique(
    items: Sequence[Mapping[str, Any]], key: str, doc: LocatedDocument, list_path: tuple[str, ...],
    sink: list[Diagnostic], what: str, *, fold: Callable[[Any], Any] | None = None, folded: str = "",
    hint: str = "give each entry its own id",
) -> None:
    """Each entry's ``key`` once. ``fold`` maps values that name the same thing to one (DNS names have no case);
    ``folded`` says why, when the two are written differently."""
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        value = item[key]
        same = fold(value) if fold else value
        if same not in seen:
            seen[same] = index
            continue
        first = seen[same]
        written = items[first][key]
        why = f", written '{written}' there: {folded}" if written != value and folded else ""
        sink.append(doc.diagnostic((*list_path, index, key), f"{what} '{value}' is defined twice "
                                   f"(first at {list_path[-1]}[{first}]{why})", hint, code="duplicate"))


def _check_backup_targets(doc: LocatedDocument, entries: list[dict[str, Any]], sites: Mapping[str, m.Site],
                          primary: m.Site, sink: list[Diagnostic]) -> None:
    """Every backup goes to another site (m.backup_target: the primary's to the first DR site, a DR site's to
    the primary), which must say where: a bucket and an https:// object store. Without a DR site the primary's
    backups stayed at the primary; without a bucket or URL plan and dr declare rendered empty ones and reported
    the RPO met, and only the host_backup role refused them at rollout."""
    index = {entry["id"]: position for position, entry in enumerate(entries)}
    # any site's, first, whatever its scheme: no message below may quote a credential or a query
    quoting = {position for position, entry in enumerate(entries)
               if _carries_credential(doc, ("spec", "sites", position, "object_store_url"),
                                      entry.get("object_store_url", ""), sink, "object store")
               or _carries_query(doc, ("spec", "sites", position, "object_store_url"),
                                 entry.get("object_store_url", ""), sink, "object store")}
    drs = [site for site in sites.values() if site.role == "dr"]
    if not drs:
        sink.append(doc.diagnostic(("spec", "sites"), f"no site has role: dr: the backups of '{primary.id}' would be "
                                   "written at the site they protect (灾备 needs another site)",
                                   "add the disaster-recovery site (role: dr, backup_bucket, object_store_url, "
                                   "object_store_cidrs)", code="reference"))
        return
    targets = {target.id: target for target in (m.backup_target(sites, site_id) for site_id in sites)}
    for target in targets.values():  # each once: with two DR sites the primary receives both's backups
        at = ("spec", "sites", index[target.id])
        if not target.backup_bucket:
            sink.append(doc.diagnostic(at, f"site '{target.id}' receives the other sites' backups but names no "
                                       "backup_bucket", "add backup_bucket: the bucket of its object store that "
                                       "Velero and the host backups write to", code="missing-field"))
        if not target.object_store_url.startswith("https://") and index[target.id] not in quoting:
            found = f"'{target.object_store_url}'" if target.object_store_url else "none"
            where = (*at, "object_store_url") if target.object_store_url else at
            sink.append(doc.diagnostic(where, f"site '{target.id}' receives the other sites' backups but its "
                                       f"object_store_url is {found}, not an https:// address",
                                       "set object_store_url: https://HOST[:PORT] (backups travel over TLS)",
                                       code="format"))
    for position, entry in enumerate(entries):  # every site's URL, whether or not it receives backups
        if entry.get("object_store_url", "").startswith("https://") and position not in quoting:
            _service_url(doc, ("spec", "sites", position, "object_store_url"), entry["object_store_url"], sink,
                         ("https",), "object store", "set object_store_url: https://HOST[:PORT]")


def _build_region(doc: LocatedDocument, sink: list[Diagnostic]) -> m.Region:
    spec = doc.data["spec"]
    for list_name, what in (("departments", "department"), ("zones", "zone"), ("sites", "site"),
                            ("shared_services", "shared service"), ("log_servers", "log server")):
        _unique(spec[list_name], "id", doc, ("spec", list_name), sink, what)
    sites = {
        s["id"]: m.Site(s["id"], s["name"], s["role"], s.get("backup_bucket", ""), s.get("object_store_url", ""),
                        tuple(s.get("object_store_cidrs", ())))
        for s in spec["sites"]
    }
    primaries = [site for site in sites.values() if site.role == "primary"]
    if len(primaries) != 1:
        sink.append(doc.diagnostic(("spec", "sites"), f"exactly one primary site is required, found {len(primaries)}",
                                   "mark one site role: primary", code="reference"))
    else:
        _check_backup_targets(doc, spec["sites"], sites, primaries[0], sink)
    zone_ids = {zone["id"] for zone in spec["zones"]}
    zones: dict[str, m.Zone] = {}
    for index, zone in enumerate(spec["zones"]):
        cidrs: dict[str, ipaddress.IPv4Network] = {}
        for site_id, cidr in zone["cidrs"].items():
            where = ("spec", "zones", index, "cidrs", site_id)
            if site_id not in sites:
                sink.append(doc.diagnostic(where, f"unknown site '{site_id}'",
                                           suggest(site_id, sites) or f"sites: {', '.join(sites)}",
                                           code="reference", key=True))
            network = _network(doc, where, cidr, "10.64.0.0/16", sink)
            if network is not None:
                cidrs[site_id] = network
        for position, other in enumerate(zone.get("reachable_from", [])):
            if other not in zone_ids:
                sink.append(doc.diagnostic(("spec", "zones", index, "reachable_from", position),
                                           f"unknown zone '{other}'", suggest(other, zone_ids), code="reference"))
        zones[zone["id"]] = m.Zone(zone["id"], zone["name"], zone["kind"], cidrs,
                                   tuple(zone.get("reachable_from", [])),
                                   boundary_devices(zone.get("boundary_devices")),
                                   *_cluster_ranges(doc, index, zone, cidrs, sink))
    _check_overlaps(doc, spec["zones"], zones, sink)
    check_boundary_devices(doc, sink)
    _check_contract_addresses(doc, sink)
    _check_groups(doc, sink)
    mirrors = _package_mirrors(doc, sites, sink)
    region = m.Region(
        name=doc.data["metadata"]["name"],
        title=doc.data["metadata"]["title"],
        departments={d["id"]: m.Department(d["id"], d["name"], bool(d.get("lead", False)), tuple(d.get("groups", [])))
                     for d in spec["departments"]},
        zones=zones,
        sites=sites,
        shared_services={s["id"]: m.SharedService(s["id"], s["name"], s["provider"], s["port"],
                                                  s.get("protocol", "tcp")) for s in spec["shared_services"]},
        time_sources=tuple(spec["time_sources"]),
        log_servers={s["id"]: m.LogServer(s["id"], s["host"], s["port"], s.get("protocol", "tcp+tls"),
                                          s.get("tls_name", "")) for s in spec["log_servers"]},
        operator_user=spec["operators"]["user"],
        operator_groups=tuple(spec["operators"]["groups"]),
        source=doc.file,
        name_servers=tuple(spec.get("name_servers", ())),
        package_mirrors=mirrors,
        monitoring_cidrs=_monitoring_ranges(doc, sites, zones, sink),
        ssh_port=spec["operators"].get("ssh_port"),
        time_upstream=_time_upstream(doc, zones, sink),
    )
    _check_reference_clocks(doc, region, sink)
    return region


#: a DNS name as chrony's ``server`` line takes it (RFC 1123 labels): one word, so no directive rides along
_DNS_NAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
#: the broadest range a time source's firewall opens NTP to: an upstream is a few servers, never a whole network
_UPSTREAM_MIN_PREFIX = 16


def _time_upstream(doc: LocatedDocument, zones: Mapping[str, m.Zone],
                   sink: list[Diagnostic]) -> tuple[m.TimeUpstream, ...]:
    """``spec.time_upstream``: each server an IPv4 address or a DNS name, with the addresses its time sources'
    firewalls open NTP to (a name has none the firewall could use, so they are required; an address is its own).
    An upstream lies outside the region (a time source or a zone's address would close the region's clock on
    itself) unless it is the region's own reference clock (``reference_clock``: a BeiDou/GPS time server follows
    no host; never a time source's address), and a name needs the region's name servers (``spec.name_servers``)
    to be resolved."""
    spec = doc.data["spec"]
    raw = spec.get("time_upstream", [])
    _unique(raw, "server", doc, ("spec", "time_upstream"), sink, "upstream time server",
            fold=lambda server: str(server).lower(), folded="DNS names are case-insensitive",
            hint="list each server once")
    zoned = [network for zone in zones.values() for network in zone.cidrs.values()]
    own = {str(source) for source in spec.get("time_sources", ())}
    sources = [ipaddress.IPv4Address(source) for source in own if _is_ipv4(source)]
    upstream: list[m.TimeUpstream] = []
    for index, entry in enumerate(raw):
        base: tuple[str | int, ...] = ("spec", "time_upstream", index)
        server = str(entry["server"])
        reference = bool(entry.get("reference_clock", False))
        inside = [] if reference else zoned  # a reference clock may sit in a zone; no time source is one
        address = ipaddress.IPv4Address(server) if _is_ipv4(server) else None
        # a last label of digits only is no host name (RFC 3696 §2): a resolver reads 114.118.7 as an address
        if address is None and (not _DNS_NAME.match(server) or server.rstrip(".").rsplit(".", 1)[-1].isdigit()):
            sink.append(doc.diagnostic((*base, "server"), f"upstream time server '{server}' is neither an IPv4 "
                                       "address nor a DNS name", "write one name or address, e.g. ntp.ntsc.ac.cn",
                                       code="format"))
            continue
        if address is None:
            if not spec.get("name_servers"):
                sink.append(doc.diagnostic((*base, "server"), f"upstream time server '{server}' is a DNS name, and "
                                           "the region declares no name servers: the time sources cannot resolve "
                                           "it through their firewall", "give its IPv4 address as server, or "
                                           "declare spec.name_servers", code="reference"))
        elif server in own or any(address in network for network in inside):
            sink.append(doc.diagnostic((*base, "server"), f"upstream time server {server} is "
                                       + ("one of the region's time sources" if server in own
                                          else "inside one of the region's zones")
                                       + ": the time sources would follow the region's own clock",
                                       "name a server outside the region (e.g. the national time service)"
                                       + ("" if server in own else ", or mark the region's own BeiDou/GPS "
                                          "time server reference_clock: true"),
                                       code="reference"))
            continue
        networks: list[ipaddress.IPv4Network] = []
        for position, cidr in enumerate(entry.get("addresses", [])):
            where = (*base, "addresses", position)
            network = _network(doc, where, cidr, "203.107.6.88/32", sink)
            if network is not None and network.prefixlen < _UPSTREAM_MIN_PREFIX:
                sink.append(doc.diagnostic(where, f"upstream address range {network} is broader than "
                                           f"/{_UPSTREAM_MIN_PREFIX}: the time sources' firewalls would open NTP to "
                                           "a whole network", "list the server's own addresses (/32)",
                                           code="address"))
            elif network is not None and any(network.overlaps(zone) for zone in inside):
                sink.append(doc.diagnostic(where, f"upstream address range {network} overlaps one of the region's "
                                           "zones: an upstream lies outside the region",
                                           "list the server's own public addresses (/32), or mark the region's "
                                           "own BeiDou/GPS time server reference_clock: true", code="address"))
            elif network is not None and (held := [str(s) for s in sources if s in network]):
                sink.append(doc.diagnostic(where, f"upstream address range {network} holds the time source "
                                           f"{', '.join(held)}: the time sources would follow each other",
                                           f"list the {'reference clock' if reference else 'server'}'s own "
                                           "addresses (/32)", code="address"))
            elif network is not None:
                networks.append(network)
        if "addresses" not in entry:
            if address is None:
                sink.append(doc.diagnostic((*base, "server"), f"upstream time server '{server}' is a DNS name "
                                           "without addresses: the time sources' firewalls need the addresses it "
                                           "resolves to", "add addresses: [<its IPv4 address>/32, ...]",
                                           code="reference"))
                continue
            networks.append(ipaddress.IPv4Network(address))
        elif address is not None and not any(address in network for network in networks):
            sink.append(doc.diagnostic((*base, "addresses"), f"upstream time server {server} is in none of its "
                                       "addresses: the firewall would drop the requests to it",
                                       f"add {server}/32 or drop addresses (an address is its own)",
                                       code="address"))
        upstream.append(m.TimeUpstream(server, tuple(networks), bool(entry.get("nts", False)), reference))
    return tuple(upstream)


#: a reference clock is a device or a redundant pair: a broader range would fence off a zone's hosts, and the time
#: sources' firewalls would open NTP to all of it
_REFERENCE_CLOCK_MIN_PREFIX = 29


def _check_reference_clocks(doc: LocatedDocument, region: m.Region, sink: list[Diagnostic]) -> None:
    """A reference clock (``time_upstream[].reference_clock``) inside the region takes addresses nothing else of the
    region has: no log server's, name server's, package mirror's, object store's or monitoring range's (those follow
    the time sources, or every host's firewall opens to them), no zone's network or broadcast address — and only a
    few (/29 at the broadest). A system's host on them is refused at its manifest (``RegionRanges``)."""
    raw = doc.data["spec"].get("time_upstream", [])
    index = {str(entry["server"]): position for position, entry in enumerate(raw)}
    services = RegionRanges.of(replace(region, time_upstream=()))  # the region's services, not the clocks
    logs = {server.host: server.id for server in region.log_servers.values()}
    edges = {address: zone.id for zone in region.zones.values() for network in zone.cidrs.values()
             for address in (network.network_address, network.broadcast_address)}
    for clock in region.time_upstream:
        if not clock.reference_clock or clock.server not in index:
            continue
        entry = raw[index[clock.server]]
        for position, network in enumerate(clock.networks):
            where: tuple[str | int, ...] = ("spec", "time_upstream", index[clock.server],
                                            *(("addresses", position) if "addresses" in entry else ("server",)))
            if network.prefixlen < _REFERENCE_CLOCK_MIN_PREFIX:
                sink.append(doc.diagnostic(where, f"reference clock address range {network} is broader than "
                                           f"/{_REFERENCE_CLOCK_MIN_PREFIX}: a clock is a device or a pair, and no "
                                           "host of the range could be registered", "list the clock's own "
                                           "addresses (/32)", code="address"))
                continue
            for address in network:
                taken = (services.holding(address)
                         or (f"log server '{logs[str(address)]}' (spec.log_servers)" if str(address) in logs else "")
                         or (f"the network or broadcast address of zone '{edges[address]}'"
                             if address in edges else ""))
                if taken:
                    sink.append(doc.diagnostic(where, f"reference clock {clock.server}'s address {address} is the "
                                               f"region's already: {taken}", "give the clock its own address",
                                               code="address"))
                    break


def _monitoring_ranges(doc: LocatedDocument, sites: Mapping[str, m.Site], zones: Mapping[str, m.Zone],
                       sink: list[Diagnostic]) -> dict[str, tuple[ipaddress.IPv4Network, ...]]:
    """``spec.monitoring_cidrs``: per known site, ranges inside a security-management zone's network there (the
    monitoring platform sits in the 安全管理区; a range elsewhere would admit another zone into every pod)."""
    ranges: dict[str, tuple[ipaddress.IPv4Network, ...]] = {}
    for site_id, cidrs in doc.data["spec"].get("monitoring_cidrs", {}).items():
        if site_id not in sites:
            sink.append(doc.diagnostic(("spec", "monitoring_cidrs", site_id), f"unknown site '{site_id}'",
                                       suggest(site_id, sites) or f"sites: {', '.join(sites)}", code="reference",
                                       key=True))
            continue
        homes = [n for z in zones.values() if z.kind == "security-management" and (n := z.cidr(site_id))]
        networks: list[ipaddress.IPv4Network] = []
        for position, cidr in enumerate(cidrs):
            where = ("spec", "monitoring_cidrs", site_id, position)
            network = _network(doc, where, cidr, "10.69.4.0/28", sink)
            if network is None:
                continue
            if not any(network.subnet_of(home) for home in homes):
                inside = ", ".join(map(str, homes)) or "(none: the site has no security-management zone network)"
                sink.append(doc.diagnostic(where, f"monitoring range {network} is outside the security-management "
                                           f"zone at site '{site_id}'", f"pick a range inside {inside}",
                                           code="address"))
                continue
            networks.append(network)
        ranges[site_id] = tuple(networks)
    return ranges


def _network(doc: LocatedDocument, where: tuple[str | int, ...], cidr: str, example: str,
             sink: list[Diagnostic]) -> ipaddress.IPv4Network | None:
    """``cidr`` as a network, or ``None`` and a located error (``example``: a network of the same kind)."""
    try:
        return ipaddress.IPv4Network(cidr)
    except ValueError as error:
        sink.append(doc.diagnostic(where, f"invalid CIDR '{cidr}': {error}", f"write the network address, e.g. "
                                   f"{example}", code="format"))
        return None


def _is_ipv4(value: object) -> bool:
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        return False
    return True


def _check_groups(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """Every group region.yaml binds (a department's operators: RoleBindings of its tenancies; the platform's
    operators: the zone-label admission policy's exemption) is one a binding may name (:mod:`xzgov.core.groups`):
    ``system:authenticated`` handed every user a department's tenancy and exempted every request from the zone
    policy; an empty name was a subject the API server refuses."""
    spec = doc.data["spec"]
    places: list[tuple[tuple[str | int, ...], list[Any]]] = [
        (("spec", "departments", index, "groups"), department.get("groups") or [])
        for index, department in enumerate(spec["departments"])]
    places.append((("spec", "operators", "groups"), spec["operators"]["groups"]))
    for path, groups in places:
        for index, problem, hint in group_problems(groups):
            sink.append(doc.diagnostic((*path, index), f"group {problem}", hint, code="format"))


def _check_contract_addresses(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """The addresses every host's firewall opens towards (time sources, log servers, name servers) are IPv4
    addresses: the inventory turns each into an out-flow (``peer_cidrs``), which a host name cannot be."""
    spec = doc.data["spec"]
    for index, address in enumerate(spec["time_sources"]):
        if not _is_ipv4(address):
            sink.append(doc.diagnostic(("spec", "time_sources", index), f"time source '{address}' is not an IPv4 "
                                       "address (hosts get a firewall flow to it: udp 123)",
                                       "write the time source's static address, e.g. 10.69.0.123", code="format"))
    for index, server in enumerate(spec["log_servers"]):
        if not _is_ipv4(server["host"]):
            sink.append(doc.diagnostic(("spec", "log_servers", index, "host"), f"log server host '{server['host']}' "
                                       "is not an IPv4 address (hosts get a firewall flow to it)",
                                       "write the log centre's static address, e.g. 10.69.1.10", code="format"))
        name = server.get("tls_name")
        if name is not None and (_is_ipv4(name) or not _DNS_NAME.match(str(name))):
            sink.append(doc.diagnostic(("spec", "log_servers", index, "tls_name"), f"log server tls_name '{name}' is "
                                       "not a DNS name: the hosts' rsyslog (gtls, x509/name) matches the "
                                       "certificate's DNS names only, never an address",
                                       "write the DNS name of the log centre's certificate, e.g. "
                                       "log-centre.lhasa.xzgov.internal", code="format"))
    seen: dict[str, int] = {}
    for index, address in enumerate(spec.get("name_servers", ())):
        where = ("spec", "name_servers", index)
        if not _is_ipv4(address):
            sink.append(doc.diagnostic(where, f"name server '{address}' is not an IPv4 address (hosts get a "
                                       "firewall flow to it: udp/tcp 53)",
                                       "write the resolver's static address, e.g. 10.69.0.53", code="format"))
        elif str(address) in seen:
            sink.append(doc.diagnostic(where, f"name server '{address}' is listed twice (first at "
                                       f"name_servers[{seen[str(address)]}])", "list each resolver once",
                                       code="duplicate"))
        else:
            seen[str(address)] = index


def _mirror_url(doc: LocatedDocument, where: tuple[str | int, ...], url: str, sink: list[Diagnostic],
                local_ok: bool = False) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[::1": _service_url reports it
        parts = None
    if local_ok and parts is not None and parts.scheme == "file" and parts.path:
        return
    _service_url(doc, where, url, sink, ("http", "https"), "mirror",
                 f"write a {'http(s):// or file://' if local_ok else 'http(s)://'} URL, e.g. "
                 "http://mirror.xzgov.internal/debian-security")


def _without_userinfo(url: str) -> str:
    """``url`` with everything up to its last ``@`` after the scheme left out (an error quoting the URL must not
    print a credential, even one holding a ``/``, which ends the authority for ``urlsplit``)."""
    if "@" not in url:
        return url
    head, _, rest = url.partition("//") if "//" in url else ("", "", url)
    return f"{head}{'//' if head or url.startswith('//') else ''}…@{rest.rpartition('@')[2]}"


def _carries_credential(doc: LocatedDocument, where: tuple[str | int, ...], url: str, sink: list[Diagnostic],
                        what: str) -> bool:
    """Whether ``url`` holds an ``@`` (reported: a user or password, not shown)."""
    if "@" not in url:
        return False
    sink.append(doc.diagnostic(where, f"the {what} URL '{_without_userinfo(url)}' carries a user or password (not "
                               "shown): it would be written in plain text into the committed inventories and plans",
                               "drop 'user:password@' from the URL; give the credentials as a vaulted variable "
                               "($XZGOV-SM4VAULT;…) of the role that uses them", code="secret"))
    return True


def _carries_query(doc: LocatedDocument, where: tuple[str | int, ...], url: str, sink: list[Diagnostic],
                   what: str) -> bool:
    """Whether ``url`` holds a query or fragment (reported, not shown: an access token there, as in the user part,
    would be written in plain text into the committed inventories and the plan)."""
    if "?" not in url and "#" not in url:
        return False
    base = url.split("?", 1)[0].split("#", 1)[0]
    sink.append(doc.diagnostic(where, f"the {what} URL '{base}…' has a query or fragment (not shown): it would be "
                               "written in plain text into the committed inventories and the plan (an access token "
                               "there is published)", "give the base URL only; a credential goes to the vault "
                               "(`xzgov vault encrypt-string`), never into the URL", code="secret"))
    return True


def _service_url(doc: LocatedDocument, where: tuple[str | int, ...], url: str, sink: list[Diagnostic],
                 schemes: tuple[str, ...], what: str, fix: str) -> bool:
    """A URL region.yaml gives for a service the hosts and clusters reach (a package mirror, an object store): one
    of ``schemes``, a host, a port that parses (1–65535; the inventory opens the firewall on it) and no user or
    password (they would be written in plain text into the committed inventories and the plan). False: reported.
    An ``@`` anywhere is taken for a credential and refused first, so no message below quotes one: a password
    holding a ``/`` ends the authority for ``urlsplit`` (``http://u:80/pw@host/`` parses as host ``u``, port 80)."""
    if _carries_credential(doc, where, url, sink, what) or _carries_query(doc, where, url, sink, what):
        return False
    try:  # urlsplit refuses "https://[::1" and .hostname a bracketed non-address ("http://[zz::1]/x")
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as error:
        sink.append(doc.diagnostic(where, f"'{_without_userinfo(url)}' is not a usable {what} URL: {error} (the "
                                   "inventory opens the host firewall on its port)", fix, code="format"))
        return False
    bad = "" if port != 0 else "port 0"
    if parts.scheme not in schemes or not host or bad:
        shown = _without_userinfo(url)
        sink.append(doc.diagnostic(where, f"'{shown}' is not a usable {what} URL{': ' + bad if bad else ''} "
                                   f"(the inventory opens the host firewall on its port)", fix, code="format"))
        return False
    if port is None and parts.netloc.endswith(":"):
        sink.append(doc.diagnostic(where, f"'{url}' has an empty port", "drop the ':' or give the port",
                                   code="format"))
        return False
    return True


def _package_mirrors(
    doc: LocatedDocument, sites: Mapping[str, m.Site], sink: list[Diagnostic]
) -> dict[str, m.PackageMirror]:
    """``spec.package_mirrors``: located errors for unknown sites, bad CIDRs and URLs, a site served twice."""
    raw = doc.data["spec"].get("package_mirrors", [])
    _unique(raw, "id", doc, ("spec", "package_mirrors"), sink, "package mirror")
    served: dict[str, str] = {}
    mirrors: dict[str, m.PackageMirror] = {}
    for index, entry in enumerate(raw):
        base: tuple[str | int, ...] = ("spec", "package_mirrors", index)
        for position, site in enumerate(entry["sites"]):
            if site not in sites:
                sink.append(doc.diagnostic((*base, "sites", position), f"unknown site '{site}'",
                                           suggest(site, sites) or f"sites: {', '.join(sites)}", code="reference"))
            elif site in served:
                sink.append(doc.diagnostic((*base, "sites", position), f"site '{site}' is already served by "
                                           f"package mirror '{served[site]}'; a site updates from one mirror",
                                           "list the site under one mirror only", code="duplicate"))
            else:
                served[site] = entry["id"]
        for position, cidr in enumerate(entry["cidrs"]):
            _network(doc, (*base, "cidrs", position), cidr, "10.68.251.0/28", sink)
        for key in ("debian_security", "clamav"):
            if key in entry:
                _mirror_url(doc, (*base, key), entry[key], sink)
        for family, repo in entry.get("dnf", {}).items():
            _mirror_url(doc, (*base, "dnf", family, "baseurl"), repo["baseurl"], sink)
            _mirror_url(doc, (*base, "dnf", family, "gpgkey"), repo["gpgkey"], sink, local_ok=True)
        mirrors[entry["id"]] = m.PackageMirror(
            entry["id"], entry.get("name", entry["id"]), tuple(entry["sites"]), tuple(entry["cidrs"]),
            entry.get("debian_security", ""),
            {family: m.DnfRepo(repo["baseurl"], repo["gpgkey"]) for family, repo in entry.get("dnf", {}).items()},
            entry.get("clamav", ""))
    return mirrors


#: what each of a zone's cluster address ranges is, for the errors that name it
_CLUSTER_RANGES = {"entry_cidrs": "跨站入口地址段 (cross-site entry)", "egress_cidrs": "容器出站地址段 (pod egress)"}


def _cluster_ranges(
    doc: LocatedDocument, index: int, zone: Mapping[str, Any], networks: Mapping[str, ipaddress.IPv4Network],
    sink: list[Diagnostic],
) -> tuple[dict[str, ipaddress.IPv4Network], dict[str, ipaddress.IPv4Network]]:
    """A zone's ``entry_cidrs`` and ``egress_cidrs``: per site, a range inside the zone's network at that site
    (the cluster's load balancer or egress gateway hands out addresses of the zone, so the zone's boundary
    firewall and the hosts see them as the zone's); a site's entry and egress ranges must not overlap."""
    parsed: dict[str, dict[str, ipaddress.IPv4Network]] = {}
    written: dict[str, ipaddress.IPv4Network] = {}  # entry ranges as written, even misplaced: for the overlap
    for key in _CLUSTER_RANGES:
        ranges = parsed[key] = {}
        for site_id, cidr in zone.get(key, {}).items():
            where = ("spec", "zones", index, key, site_id)
            network = _network(doc, where, cidr, "10.66.224.0/20", sink)
            if network is None:
                continue
            if key == "entry_cidrs":
                written[site_id] = network
            home = networks.get(site_id)
            if home is None:
                sink.append(doc.diagnostic(where, f"zone '{zone['id']}' has no network at site '{site_id}' "
                                           f"(cidrs) for its {_CLUSTER_RANGES[key]}",
                                           f"add cidrs.{site_id} to the zone, or remove {key}.{site_id}",
                                           code="reference", key=True))
                continue
            if not network.subnet_of(home):
                sink.append(doc.diagnostic(where, f"{_CLUSTER_RANGES[key]} {network} is outside zone "
                                           f"'{zone['id']}' ({home}) at site '{site_id}'",
                                           f"pick a range inside {home}", code="address"))
                continue
            ranges[site_id] = network
    entries, egresses = parsed["entry_cidrs"], parsed["egress_cidrs"]
    for site_id, network in egresses.items():
        entry = written.get(site_id)
        if entry is not None and network.overlaps(entry):
            sink.append(doc.diagnostic(("spec", "zones", index, "egress_cidrs", site_id),
                                       f"{network} overlaps the zone's entry_cidrs.{site_id} ({entry})",
                                       "give the load balancer and the egress gateway their own ranges",
                                       code="overlap"))
    return entries, egresses


def _check_overlaps(
    doc: LocatedDocument, raw: Sequence[Mapping[str, Any]], zones: Mapping[str, m.Zone], sink: list[Diagnostic]
) -> None:
    seen: list[tuple[str, str, ipaddress.IPv4Network]] = []
    for index, zone in enumerate(raw):
        for site_id, network in zones[zone["id"]].cidrs.items():
            for other_zone, other_site, other in seen:
                if network.overlaps(other):
                    sink.append(doc.diagnostic(("spec", "zones", index, "cidrs", site_id),
                                               f"{network} overlaps {other} of zone '{other_zone}' at '{other_site}'",
                                               "give every zone and site its own network", code="overlap"))
            seen.append((zone["id"], site_id, network))


def _check_region_providers(doc: LocatedDocument, names: set[str], sink: list[Diagnostic]) -> None:
    for index, service in enumerate(doc.data["spec"]["shared_services"]):
        if service["provider"] not in names:
            sink.append(doc.diagnostic(("spec", "shared_services", index, "provider"),
                                       f"shared service '{service['id']}' names provider system "
                                       f"'{service['provider']}', which is not registered",
                                       suggest(service["provider"], names) or "onboard the provider system first",
                                       code="reference"))


# ----------------------------------------------------------------------------------------------- systems


def _build_systems(
    region: m.Region, documents: Sequence[LocatedDocument], sink: list[Diagnostic],
    filed_as: Mapping[str, str] | None = None, also_named: frozenset[str] = frozenset(),
) -> list[m.System]:
    """The systems of ``documents`` that pass the register's checks, each problem in ``sink``. ``also_named``:
    systems whose manifests did not load, which a reference may still name."""
    names = Counter(doc.data["metadata"]["name"] for doc in documents)
    ranges = RegionRanges.of(region)
    first_file: dict[str, str] = {}
    addresses: dict[ipaddress.IPv4Address, str] = {}
    hostnames: dict[str, str] = {}
    numbers: dict[tuple[str, str], tuple[str, str]] = {}
    systems: list[m.System] = []
    all_names = set(names) | also_named
    for doc in documents:
        name = doc.data["metadata"]["name"]
        if names[name] > 1 and name in first_file:
            sink.append(doc.diagnostic(("metadata", "name"), f"system name '{name}' is already registered "
                                       f"by {first_file[name]}", "choose a unique metadata.name", code="duplicate"))
            continue
        first_file[name] = doc.file
        taken = m.reserved_name(name, region.zones)
        if taken is not None:  # its tenancy would be that namespace: default-deny and a department's Role over it
            sink.append(doc.diagnostic(("metadata", "name"), f"system name '{name}' is reserved: {taken}",
                                       "choose another metadata.name (a system's namespace is named after it)",
                                       code="reserved"))
            continue
        errors_before = len(sink)
        _check_filed_department(region, doc, sink, (filed_as or {}).get(doc.file))
        _check_references(region, doc, all_names, sink)
        _check_hosts(region, doc, addresses, hostnames, sink, ranges)
        _check_workloads(doc, sink)
        _check_backup_schedule(doc, sink)
        check_ports(region, doc, sink)
        _check_unique_numbers(doc, numbers, sink)
        _check_secrets(doc, sink)
        check_assessments(doc, sink)
        if len(sink) == errors_before:
            systems.append(_build_system(doc))
    return systems


#: numbers that identify one system: (path in the manifest, what it is)
_SYSTEM_NUMBERS = ((("spec", "classification", "filing_number"), "公安备案编号 / filing number"),
                   (("spec", "assessments", "dengbao", "report"), "等级测评报告编号 / 等保 report number"),
                   (("spec", "assessments", "miping", "report"), "密评报告编号 / 密评 report number"))


def _check_unique_numbers(doc: LocatedDocument, numbers: dict[tuple[str, str], tuple[str, str]],
                          sink: list[Diagnostic]) -> None:
    """A filing number or an assessment report number names one system: a copy of a manifest kept another system's,
    counted as filed in the 备案率 and passing the filing rule on the other's number. Reported at the later file; a
    new version of the same system (``onboard`` of an update, ``validate`` of a draft) keeps its own numbers."""
    name = doc.data["metadata"]["name"]
    owner = f"{doc.file} ({name})"
    for path, what in _SYSTEM_NUMBERS:
        value: Any = doc.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value:
            continue
        first_name, first = numbers.setdefault((path[-2], value), (name, owner))
        if first_name != name:
            sink.append(doc.diagnostic(path, f"{what} '{value}' is already used by {first}",
                                       "每个系统有自己的编号 / give this system its own number (a copied manifest "
                                       "keeps the original's)", code="duplicate"))


def _check_backup_schedule(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """The backup schedule is a cron expression that runs: the schema sees only five fields, and the plan fell
    back to the RPO's schedule without a word for ``x x x x x``, ``99 99 * * *`` or ``0 0 31 2 *`` (never)."""
    schedule = doc.data["spec"]["continuity"]["backup"]["schedule"]
    try:
        max_gap_minutes(schedule)
    except CronError as error:
        sink.append(doc.diagnostic(("spec", "continuity", "backup", "schedule"),
                                   f"备份计划不是可执行的 cron 表达式 / the backup schedule is not a cron expression "
                                   f"that runs: {error}",
                                   "five fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12) "
                                   "day-of-week (0-7), e.g. '0 2 * * *' (daily at 02:00 UTC)", code="format"))


def _check_service_port(service: m.SharedService, doc: LocatedDocument, index: int, flow: Mapping[str, Any],
                        sink: list[Diagnostic]) -> None:
    """A flow to a shared service connects to the port region.yaml publishes it on: another port or protocol
    would be rendered as an allow for a port the service does not serve (the provider's other pods or hosts)."""
    protocol = str(flow.get("protocol", "tcp")).lower()
    for key, declared, published in (("protocol", protocol, service.protocol.lower()),
                                     ("port", flow["port"], service.port)):
        if declared != published:
            sink.append(doc.diagnostic(
                ("spec", "flows", index, key), f"共享服务 {service.id} 发布于 {service.protocol.upper()}/"
                f"{service.port}, 该流声明 {key} {declared} / shared service '{service.id}' is published on "
                f"{service.port}/{service.protocol.upper()}, not {key} {declared}",
                f"改为 protocol: {service.protocol.lower()}, port: {service.port} (region.yaml "
                f"spec.shared_services) / write protocol: {service.protocol.lower()}, port: {service.port}",
                code="reference"))


def _check_references(
    region: m.Region, doc: LocatedDocument, system_names: set[str], sink: list[Diagnostic]
) -> None:
    data = doc.data
    spec = data["spec"]
    name = data["metadata"]["name"]

    def require(value: str, known: Collection[str], path: tuple[str | int, ...], what: str, fix: str) -> bool:
        # a set or dict lookup: listing every known name per reference made validation quadratic in the register
        # (a flow names a system among thousands); the list is built only to suggest a near name
        if value in known:
            return True
        sink.append(doc.diagnostic(path, f"unknown {what} '{value}'", suggest(value, list(known)) or fix,
                                   code="reference"))
        return False

    require(data["metadata"]["department"], region.departments, ("metadata", "department"), "department",
            "add the department to region.yaml spec.departments")
    require(spec["owner"]["department"], region.departments, ("spec", "owner", "department"), "department",
            "add the department to region.yaml spec.departments")
    zone_ok = require(spec["placement"]["zone"], region.zones, ("spec", "placement", "zone"), "zone",
                      f"zones: {', '.join(region.zones)}")
    site_ok = require(spec["placement"]["site"], region.sites, ("spec", "placement", "site"), "site",
                      f"sites: {', '.join(region.sites)}")
    if zone_ok and site_ok and region.zones[spec["placement"]["zone"]].cidr(spec["placement"]["site"]) is None:
        sink.append(doc.diagnostic(("spec", "placement"), f"zone '{spec['placement']['zone']}' has no network at "
                                   f"site '{spec['placement']['site']}'", "place the system at a site where the "
                                   "zone exists, or add the CIDR to region.yaml", code="reference"))
    tier = spec["tier"]
    locality = spec.get("locality", {})
    if tier != "自治区" and "prefecture" not in locality:
        sink.append(doc.diagnostic(("spec", "locality"), f"a {tier}-level system must name its prefecture",
                                   "add locality.prefecture (拉萨, 日喀则, 昌都, 林芝, 山南, 那曲, 阿里)",
                                   code="missing-field"))
    if tier in {"县区", "乡镇"} and "county" not in locality:
        sink.append(doc.diagnostic(("spec", "locality"), f"a {tier}-level system must name its county",
                                   "add locality.county", code="missing-field"))
    if tier == "乡镇" and "township" not in locality:
        sink.append(doc.diagnostic(("spec", "locality"), "a 乡镇-level system must name its township",
                                   "add locality.township", code="missing-field"))
    for index, flow in enumerate(spec.get("flows", [])):
        target = flow["to"]
        path = ("spec", "flows", index, "to")
        if "system" in target:
            if target["system"] == name:
                sink.append(doc.diagnostic((*path, "system"), "a flow cannot go to the system itself",
                                           "remove the flow; traffic inside a system needs no declaration",
                                           code="reference"))
            else:
                require(target["system"], system_names, (*path, "system"), "system",
                        "onboard that system first or fix the name")
        elif "service" in target:
            if require(target["service"], region.shared_services, (*path, "service"), "shared service",
                       "add the service to region.yaml spec.shared_services"):
                _check_service_port(region.shared_services[target["service"]], doc, index, flow, sink)
        elif "zone" in target:
            require(target["zone"], region.zones, (*path, "zone"), "zone", f"zones: {', '.join(region.zones)}")
    for index, service in enumerate(spec.get("services", [])):
        require(service, region.shared_services, ("spec", "services", index), "shared service",
                "add the service to region.yaml spec.shared_services")
    products = {product["id"] for product in spec["crypto"].get("products", [])}
    _unique(spec["crypto"].get("products", []), "id", doc, ("spec", "crypto", "products"), sink, "crypto product")
    for aspect in m.CRYPTO_ASPECTS:
        for index, mechanism in enumerate(spec["crypto"].get(aspect, {}).get("mechanisms", [])):
            if "product" in mechanism:
                require(mechanism["product"], products, ("spec", "crypto", aspect, "mechanisms", index, "product"),
                        "crypto product", "declare it under spec.crypto.products")
    require(spec["audit"]["destination"], region.log_servers, ("spec", "audit", "destination"), "log server",
            f"log servers: {', '.join(region.log_servers)}")


#: The vault envelope (xzgov/crypto/vault/envelope.py, which core may not import): version 1 or 2, a
#: 16-hex key id, canonical base64 of nonce (12 bytes) || ciphertext || tag (16 bytes).
_VAULTED = re.compile(r"\$XZGOV-SM4VAULT;([12]);([0-9a-f]{16});([A-Za-z0-9+/]+={0,2})")
_SEALED_MIN_BYTES = 12 + 16


def vault_envelope_problem(value: object) -> str | None:
    """Why ``value`` is not a well-formed vaulted value (None when it is). Never quotes the value."""
    match = _VAULTED.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return "is not a vaulted value ($XZGOV-SM4VAULT;<1|2>;<16 hex digits>;<base64>)"
    payload = match.group(3)
    try:
        sealed = base64.b64decode(payload, validate=True)
    except binascii.Error:
        return "has a malformed base64 payload"
    if base64.b64encode(sealed).decode("ascii") != payload:
        return "has a base64 payload that is not canonical (it was altered)"
    if len(sealed) < _SEALED_MIN_BYTES:
        return f"has a payload of {len(sealed)} bytes, too short for SM4-GCM (at least {_SEALED_MIN_BYTES})"
    return None


def _check_secrets(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """The whole envelope of every secret, not just its prefix; the value itself is never shown."""
    for name, value in doc.data["spec"].get("secrets", {}).items():
        problem = vault_envelope_problem(value)
        if problem is not None:
            sink.append(doc.diagnostic(("spec", "secrets", name), f"secret '{name}' {problem}",
                                       "encrypt it with `xzgov vault encrypt-string`; plaintext and edited "
                                       "values are refused", code="secret"))


def _cluster_range_of(zone: m.Zone, site: str, address: ipaddress.IPv4Address) -> str:
    """Which of the zone's cluster ranges at ``site`` holds ``address`` ("" when none)."""
    for key, network in (("entry_cidrs", zone.entry(site)), ("egress_cidrs", zone.egress(site))):
        if network is not None and address in network:
            return f"{_CLUSTER_RANGES[key]} {network}"
    return ""


@dataclass(frozen=True)
class RegionRanges:
    """The region's own addresses, parsed once per register check (every host of every manifest is checked
    against them): the object stores', the package mirrors' and the monitoring platform's ranges as (network,
    what it is), and the name servers as written (a malformed one is region.yaml's own located error)."""

    networks: tuple[tuple[ipaddress.IPv4Network, str], ...]
    name_servers: frozenset[str]

    @classmethod
    def of(cls, region: m.Region) -> RegionRanges:
        networks = [*((cidr, f"the object store range {cidr} of site '{site.id}' (spec.sites[].object_store_cidrs)")
                      for site in region.sites.values() for cidr in site.object_store_cidrs),
                    *((cidr, f"the range {cidr} of package mirror '{mirror.id}' (spec.package_mirrors)")
                      for mirror in region.package_mirrors.values() for cidr in mirror.cidrs)]
        parsed = [(network, what) for cidr, what in networks if (network := _network_or_none(cidr)) is not None]
        parsed += [(network, f"the monitoring range {network} at site '{site_id}' (spec.monitoring_cidrs)")
                   for site_id, found in region.monitoring_cidrs.items() for network in found]
        # a host there would be taken for the clock every time source follows
        parsed += [(network, f"the reference clock {clock.server}'s address {network} (spec.time_upstream)")
                   for clock in region.time_upstream if clock.reference_clock for network in clock.networks
                   if network.prefixlen >= _REFERENCE_CLOCK_MIN_PREFIX]  # broader: region.yaml's own error
        return cls(tuple(parsed), frozenset(region.name_servers))

    def holding(self, address: ipaddress.IPv4Address) -> str:
        """Which of the region's own addresses holds ``address`` ("" when none): every host's firewall opens to
        them (the mirror's port 80, DNS, backups), so a host there would be reached as the region's service is."""
        for network, what in self.networks:
            if address in network:
                return what
        if str(address) in self.name_servers:
            return "the address of one of the region's name servers (spec.name_servers)"
        return ""


def _network_or_none(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:  # region.yaml's own validation names it
        return None


def _check_hosts(
    region: m.Region, doc: LocatedDocument, addresses: dict[ipaddress.IPv4Address, str],
    hostnames: dict[str, str], sink: list[Diagnostic], ranges: RegionRanges,
) -> None:
    spec = doc.data["spec"]
    zone = region.zones.get(spec["placement"]["zone"])
    network = zone.cidr(spec["placement"]["site"]) if zone else None
    has_primary = sum(site.role == "primary" for site in region.sites.values()) == 1
    for index, host in enumerate(spec.get("hosts", [])):
        path = ("spec", "hosts", index)
        try:
            address = ipaddress.IPv4Address(host["address"])
        except ValueError as error:
            sink.append(doc.diagnostic((*path, "address"), f"invalid IPv4 address: {error}",
                                       "write four numbers 0-255, e.g. 10.64.1.10", code="format"))
            continue
        if network is not None and address not in network:
            sink.append(doc.diagnostic((*path, "address"), f"{address} is outside zone '{zone.id if zone else ''}' "
                                       f"({network}) at site '{spec['placement']['site']}'",
                                       f"pick an address inside {network}", code="address"))
        elif network is not None and address in (network.network_address, network.broadcast_address):
            sink.append(doc.diagnostic((*path, "address"), f"{address} is the network or broadcast address of "
                                       f"{network}", "pick a host address", code="address"))
        elif zone is not None and (taken := _cluster_range_of(zone, spec["placement"]["site"], address)):
            sink.append(doc.diagnostic((*path, "address"), f"{address} lies in zone '{zone.id}''s {taken}: the "
                                       "cluster hands those addresses out", "pick an address outside "
                                       "region.yaml's entry_cidrs and egress_cidrs of the zone", code="address"))
        elif reserved := ranges.holding(address):
            sink.append(doc.diagnostic((*path, "address"), f"{address} lies in {reserved}: the region's own "
                                       "service is there, and hosts' firewalls open to it",
                                       "pick another address (or correct region.yaml, if it names this host's)",
                                       code="address"))
        owner = f"{doc.file} ({doc.data['metadata']['name']})"
        if address in addresses:
            sink.append(doc.diagnostic((*path, "address"), f"address {address} is already used by "
                                       f"{addresses[address]}", "every host needs its own address",
                                       code="duplicate"))
        else:
            addresses[address] = owner
        site_id = spec["placement"]["site"]
        # Only where the region is sound: without its one primary site (reported by the region check) no
        # backup site can be named.
        target = region.backup_site(site_id) if site_id in region.sites and has_primary else None
        data = host.get("data", "none")
        holds_data = m.HOST_DATA_METHODS.get(data)
        if "data_paths" in host and data != "files":
            sink.append(doc.diagnostic((*path, "data_paths"), f"host '{host['hostname']}' declares data_paths but "
                                       f"data is '{data}': only a files backup takes directories",
                                       "remove data_paths, or set data: files", code="reference"))
        if holds_data and target is not None and not target.object_store_cidrs:
            sink.append(doc.diagnostic((*path, "data"), f"host '{host['hostname']}' holds data ({holds_data} "
                                       f"backup) to the object store of site '{target.id}', which declares no "
                                       "object_store_cidrs", f"add object_store_cidrs to site '{target.id}' in "
                                       "region.yaml, so the host firewall can allow the backup", code="reference"))
        hostname = host["hostname"]
        if hostname in RESERVED_HOSTNAMES:
            sink.append(doc.diagnostic((*path, "hostname"), f"hostname '{hostname}' is a name the Ansible inventory "
                                       "gives a group (or localhost): site.yml's plays would take the host for "
                                       "that group", f"rename the host (e.g. '{hostname}-01'); reserved: "
                                       f"{', '.join(sorted(RESERVED_HOSTNAMES))}", code="reference"))
        elif hostname in hostnames:
            sink.append(doc.diagnostic((*path, "hostname"), f"hostname '{hostname}' is already used by "
                                       f"{hostnames[hostname]}", "every host needs its own hostname",
                                       code="duplicate"))
        else:
            hostnames[hostname] = owner


_CPU_UNITS = {"m": 0.001}
_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def parse_cpu(value: str) -> float:
    return float(value[:-1]) * _CPU_UNITS["m"] if value.endswith("m") else float(value)


def parse_memory(value: str) -> int:
    return int(value[:-2]) * _MEMORY_UNITS[value[-2:]]


def _check_workloads(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    workloads = doc.data["spec"].get("workloads", [])
    _unique(workloads, "name", doc, ("spec", "workloads"), sink, "workload")
    for index, workload in enumerate(workloads):
        requests, limits = workload["resources"]["requests"], workload["resources"]["limits"]
        path = ("spec", "workloads", index, "resources")
        if parse_cpu(requests["cpu"]) > parse_cpu(limits["cpu"]):
            sink.append(doc.diagnostic((*path, "requests", "cpu"), f"CPU request {requests['cpu']} exceeds the "
                                       f"limit {limits['cpu']}", "lower the request or raise the limit",
                                       code="range"))
        if parse_memory(requests["memory"]) > parse_memory(limits["memory"]):
            sink.append(doc.diagnostic((*path, "requests", "memory"), f"memory request {requests['memory']} "
                                       f"exceeds the limit {limits['memory']}", "lower the request or raise the limit",
                                       code="range"))


def _port(entry: Mapping[str, Any]) -> m.Port:
    return m.Port(entry["port"], entry.get("protocol", "TCP"), entry.get("name"), entry.get("exposure"))


def _build_system(doc: LocatedDocument) -> m.System:
    data = doc.data
    meta, spec = data["metadata"], data["spec"]
    classification = spec["classification"]
    level = int(classification["level"])
    continuity = spec["continuity"]
    crypto = spec["crypto"]
    factors = tuple(spec["authentication"]["factors"])
    locality = spec.get("locality", {})
    return m.System(
        name=meta["name"],
        department=meta["department"],
        title=meta["title"],
        labels=dict(meta.get("labels", {})),
        owner=m.Owner(**spec["owner"]),
        tier=spec["tier"],
        locality=m.Locality(locality.get("prefecture"), locality.get("county"), locality.get("township")),
        classification=m.Classification(
            level=level,
            crypto_level=int(classification.get("crypto_level", level)),
            data_class=classification["data_class"],
            personal_information=bool(classification["personal_information"]),
            sensitive_personal_information=bool(classification.get("sensitive_personal_information", False)),
            filing_number=classification.get("filing_number"),
            filing_date=classification.get("filing_date"),
            crypto_level_decision=_crypto_level_decision(classification.get("crypto_level_decision")),
            continuity_high=(classification.get("high_risk_conditions") or {}).get("continuity_high"),
            key_industry=(classification.get("high_risk_conditions") or {}).get("key_industry"),
            conditions_basis=(classification.get("high_risk_conditions") or {}).get("basis", ""),
        ),
        zone=spec["placement"]["zone"],
        site=spec["placement"]["site"],
        internet_facing=bool(spec["exposure"]["internet_facing"]),
        endpoints=tuple(spec["exposure"].get("endpoints", [])),
        workloads=tuple(
            m.Workload(
                name=w["name"],
                image=w["image"],
                ports=tuple(_port(p) for p in w["ports"]),
                replicas=int(w.get("replicas", m.default_replicas(level))),
                requests=m.Resources(**w["resources"]["requests"]),
                limits=m.Resources(**w["resources"]["limits"]),
                storage_size=w.get("storage", {}).get("size"),
                storage_class=w.get("storage", {}).get("class"),
                image_provenance=image_provenance_of(w.get("image_provenance")),
            )
            for w in spec.get("workloads", [])
        ),
        hosts=tuple(
            m.Host(h["hostname"], ipaddress.IPv4Address(h["address"]), h["os"]["family"], str(h["os"]["version"]),
                   h["purpose"], h["data"], tuple(h.get("data_paths", ())), h.get("role"),
                   tuple(_port(p) for p in h.get("ports", ())))
            for h in spec.get("hosts", [])
        ),
        flows=tuple(
            m.Flow(m.FlowTarget(next(iter(f["to"])), next(iter(f["to"].values()))), f["protocol"], f["port"],
                   f["purpose"])
            for f in spec.get("flows", [])
        ),
        services=tuple(spec.get("services", [])),
        continuity=m.Continuity(
            rpo_minutes=continuity["rpo_minutes"],
            rto_minutes=continuity["rto_minutes"],
            backup_schedule=continuity["backup"]["schedule"],
            backup_retention_days=continuity["backup"].get("retention_days",
                                                           m.DEFAULT_BACKUP_RETENTION_DAYS[level]),
            dr_tier=continuity.get("dr_tier", m.DEFAULT_DR_TIER[level]),
            replication=(continuity.get("replication") or {}).get("mode"),
        ),
        crypto=m.CryptoPlan(
            aspects={
                aspect: m.CryptoAspect(
                    mechanisms=tuple(
                        m.CryptoMechanism(x["purpose"], tuple(x["algorithms"]), x.get("product"),
                                          x.get("description", ""))
                        for x in crypto[aspect].get("mechanisms", [])
                    ),
                    key_storage=crypto[aspect].get("key_storage"),
                    notes=crypto[aspect].get("notes", ""),
                    exemptions=tuple(m.CryptoExemption(x["purpose"], x["reason"])
                                     for x in crypto[aspect].get("not_applicable", [])),
                )
                for aspect in m.CRYPTO_ASPECTS
                if aspect in crypto
            },
            products={p["id"]: m.CryptoProduct(p["id"], p["name"], p["certificate"], p["module_level"])
                      for p in crypto.get("products", [])},
            channels=crypto_channels(crypto.get("channels")),
        ),
        authentication=m.Authentication(factors, tuple(spec["authentication"].get("admin_factors", factors))),
        audit=m.Audit(spec["audit"]["destination"],
                      spec["audit"].get("retention_days", m.DEFAULT_AUDIT_RETENTION_DAYS)),
        lifecycle=m.Lifecycle(**spec["lifecycle"]),
        secrets=dict(spec.get("secrets", {})),
        source=doc.file,
        programme=_system_programme(spec.get("programme")),
        security=security_posture(spec.get("security")),
        assessments=assessments_of(spec.get("assessments")),
        data_sets=data_sets_of(spec.get("data_sets")),
        change_management=change_management_of(spec.get("change_management")),
    )


# ----------------------------------------------------------------------------------------------- programme


def _date_ok(doc: LocatedDocument, value: str, path: tuple[str | int, ...], sink: list[Diagnostic]) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        sink.append(doc.diagnostic(path, f"'{value}' is not a calendar date", "write YYYY-MM-DD, e.g. 2025-12-31",
                                   code="format"))
        return False
    return True


def _build_programme(
    doc: LocatedDocument, region: m.Region, system_names: set[str], sink: list[Diagnostic]
) -> m.Programme:
    spec = doc.data["spec"]["programme"]
    _unique(spec["tasks"], "id", doc, (*PROGRAMME_PATH, "tasks"), sink, "task")
    platform = spec["exchange_platform"]
    if platform not in system_names:
        sink.append(doc.diagnostic((*PROGRAMME_PATH, "exchange_platform"), f"exchange platform '{platform}' is not a "
                                   "registered system", suggest(platform, system_names) or
                                   "name the system (metadata.name) of the shared data-exchange platform",
                                   code="reference"))
    tasks: dict[str, m.ProgrammeTask] = {}
    for index, task in enumerate(spec["tasks"]):
        where = (*PROGRAMME_PATH, "tasks", index)
        for position, lead in enumerate(task["lead"]):
            if lead not in region.departments:
                sink.append(doc.diagnostic((*where, "lead", position), f"unknown lead department '{lead}'",
                                           suggest(lead, region.departments) or
                                           "add the department to region.yaml spec.departments",
                                           code="reference"))
        _date_ok(doc, task["deadline"], (*where, "deadline"), sink)
        milestones: list[m.Milestone] = []
        for position, milestone in enumerate(task.get("milestones", [])):
            path = (*where, "milestones", position, "by")
            if _date_ok(doc, milestone["by"], path, sink) and milestone["by"] > task["deadline"]:
                sink.append(doc.diagnostic(path, f"milestone {milestone['by']} is after the task's deadline "
                                           f"{task['deadline']}", "a milestone comes before the deadline; move "
                                           "the deadline or the milestone", code="range"))
            if milestone["target"] > task["measure"]["target"]:
                sink.append(doc.diagnostic((*where, "milestones", position, "target"),
                                           f"milestone target {milestone['target']}% exceeds the task's target "
                                           f"{task['measure']['target']}%", "lower the milestone target",
                                           code="range"))
            milestones.append(m.Milestone(milestone["by"], float(milestone["target"])))
        measure = task["measure"]
        tasks[task["id"]] = m.ProgrammeTask(
            id=task["id"], title=task["title"], lead=tuple(task["lead"]), deadline=task["deadline"],
            metric=measure["metric"], target=float(measure["target"]), scope=measure.get("scope", "all"),
            tiers=tuple(measure.get("tiers", [])), milestones=tuple(sorted(milestones, key=lambda x: x.by)),
        )
    return m.Programme(spec["name"], spec["title"], platform, tasks, spec.get("period", ""), doc.file)


def _check_system_programme(
    programme: m.Programme | None, documents: Sequence[LocatedDocument], sink: list[Diagnostic]
) -> None:
    """Each manifest's ``spec.programme``: known tasks, dates, and ``connected`` backed by a declared flow."""
    for doc in documents:
        section = doc.data["spec"].get("programme")
        if section is None:
            continue
        where = ("spec", "programme")
        name = doc.data["metadata"]["name"]
        if "date" in section["migration"]:
            _date_ok(doc, section["migration"]["date"], (*where, "migration", "date"), sink)
        for index, task in enumerate(section.get("tasks", [])):
            if programme is None:
                sink.append(doc.diagnostic((*where, "tasks", index), f"task '{task}' cannot be resolved: "
                                           "region.yaml has no spec.programme", "add the plan's tasks to "
                                           "region.yaml spec.programme (docs/kpi.md) or remove the task",
                                           code="reference"))
            elif task not in programme.tasks:
                sink.append(doc.diagnostic((*where, "tasks", index), f"unknown programme task '{task}'",
                                           suggest(task, programme.tasks) or
                                           f"tasks: {', '.join(programme.tasks)}", code="reference"))
        if section.get("connected") and programme is not None and name != programme.exchange_platform:
            flows = doc.data["spec"].get("flows", [])
            if not any(flow["to"].get("system") == programme.exchange_platform for flow in flows):
                sink.append(doc.diagnostic((*where, "connected"), "connected: true but no flow to the data-exchange "
                                           f"platform '{programme.exchange_platform}' is declared",
                                           f"add a flow to {{system: {programme.exchange_platform}}} under "
                                           "spec.flows, or set connected: false", code="reference"))


def _system_programme(section: Mapping[str, Any] | None) -> m.SystemProgramme | None:
    if section is None:
        return None
    migration = section["migration"]
    return m.SystemProgramme(
        migration=migration["state"], migration_date=migration.get("date"),
        exempt_reason=migration.get("reason", ""), tasks=tuple(section.get("tasks", [])),
        catalogued=bool(section.get("catalogued", False)), aggregated=bool(section.get("aggregated", False)),
        connected=bool(section.get("connected", False)),
    )


def _crypto_level_decision(decision: Mapping[str, Any] | None) -> m.CryptoLevelDecision | None:
    """The approved 密码应用方案 decision behind a 密评 level below the 等保 level (schema-validated)."""
    if not decision:
        return None
    return m.CryptoLevelDecision(
        scheme=decision["scheme"], reason=decision["reason"], approver_name=decision["approver"]["name"],
        approver_role=decision["approver"]["role"], approved=str(decision["approved"]),
        reviewed_by=decision.get("reviewed_by", ""))

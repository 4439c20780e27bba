"""``plan_site``: what one site's stack would create, evaluated offline under the recording engine.

The planned resources carry the inputs exactly as the Kubernetes provider would receive them
(camelCase, integral numbers as ``int``), their URN and their parent's URN, and the system they
belong to (the ``xzgov.io/system`` label; ``None`` for segments, zone tenancies and locations) — the
form the compliance scanner's resource-level rules and the CrossGuard pack consume.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stacks.components import resource_name
from stacks.mocks import Recording, evaluate
from stacks.program import CloudProgram, build
from stacks.render import SiteRender
from stacks.render import labels as lb
from stacks.render.hostdata import host_backup_file
from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.fsutil import atomic_write, check_output_directory, staged_directory
from xzgov.facts.resources import plain


@dataclass(frozen=True)
class PlannedResource:
    """One Kubernetes resource the stack would create."""

    type: str
    name: str
    urn: str
    parent: str | None
    props: dict[str, Any]
    system: str | None

    @property
    def kind(self) -> str:
        return str(self.props.get("kind", ""))

    @property
    def namespace(self) -> str | None:
        metadata = self.props.get("metadata") or {}
        value = metadata.get("namespace")
        return str(value) if value is not None else None

    @property
    def object_name(self) -> str:
        return str((self.props.get("metadata") or {}).get("name", ""))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "urn": self.urn, "parent": self.parent,
                "system": self.system, "props": self.props}


@dataclass(frozen=True)
class PlannedComponent:
    type: str
    name: str
    urn: str
    parent: str | None


@dataclass(frozen=True)
class Plan:
    """The planned resources of one site, in registration order."""

    site: str
    role: str
    resources: list[PlannedResource]
    components: list[PlannedComponent]
    outputs: Mapping[str, Any]
    warnings: list[str] = field(default_factory=list)
    #: the site's render the resources came from (what the connectivity analysis reads): None for a plan built
    #: from resources alone
    render: SiteRender | None = field(default=None, compare=False, repr=False)

    def by_system(self) -> dict[str | None, list[PlannedResource]]:
        grouped: dict[str | None, list[PlannedResource]] = {}
        for resource in self.resources:
            grouped.setdefault(resource.system, []).append(resource)
        return grouped

    def counts(self) -> dict[str | None, dict[str, int]]:
        """Per system (``None`` = site-wide objects): resource count by kind."""
        return {system: dict(sorted(Counter(r.kind for r in resources).items()))
                for system, resources in self.by_system().items()}

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "role": self.role, "warnings": self.warnings,
                "outputs": dict(self.outputs),
                "components": [c.__dict__ for c in self.components],
                "resources": [r.to_json() for r in self.resources]}


def _system_of(props: Mapping[str, Any]) -> str | None:
    labels = (props.get("metadata") or {}).get("labels") or {}
    value = labels.get(lb.SYSTEM)
    return str(value) if value else None


def plan_from_recording(recording: Recording, program: CloudProgram) -> Plan:
    """Planned resources in render order (registrations complete concurrently, so their order varies)."""
    order = {resource_name(obj): index for index, obj in enumerate(program.render.objects())}
    resources = [
        PlannedResource(r.type, r.name, r.urn, r.parent or None, props, _system_of(props))
        for r in sorted(recording.custom(), key=lambda r: (order.get(r.name, len(order)), r.name))
        for props in (plain(r.inputs),)
    ]
    components = sorted((PlannedComponent(r.type, r.name, r.urn, r.parent or None) for r in recording.components()),
                        key=lambda c: c.urn)
    render: SiteRender = program.render
    return Plan(render.site, render.role, resources, components, program.outputs(), list(render.warnings), render)


def plan_site(register: m.Register, settings: Settings) -> Plan:
    """Evaluate the program of ``settings.site`` offline (recording mocks) and return its plan. The plan renders
    without a cluster; for a stack read from its file, a warning says when ``pulumi up`` would stop at the cluster
    pin (``stacks.program.cluster_provider``: ``xzgov:kubeContext`` and ``xzgov:clusterUid``) — the plan was
    "what pulumi up would create" while the update refused the stack."""
    recording = evaluate(lambda: build(register, settings), stack=settings.site)
    program = recording.result
    if not isinstance(program, CloudProgram):  # pragma: no cover - build always returns one
        raise RuntimeError("the program did not return a CloudProgram")
    plan = plan_from_recording(recording, program)
    missing = settings.unpinned_cluster_keys
    if settings.config_file and missing:
        plan.warnings.append(f"{settings.source_file}: {' and '.join(missing)} not set: `pulumi up --stack "
                             f"{settings.stack}` stops before creating anything (the stack pins its cluster; "
                             "docs/stacks.md) — this plan is what it would create once set")
    return plan


#: What a site's plan directory may hold: it is replaced as a whole, so nothing else may live there.
#: API groups of the disaster-recovery objects (``disaster-recovery.yaml``)
DR_APIS = ("velero.io/", "snapshot.storage.k8s.io/")
PLAN_NAMES = frozenset({"systems", "segments.yaml", "disaster-recovery.yaml", "host-backup.yml"})


def _dump(objects: Iterable[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all(list(objects), allow_unicode=True, sort_keys=False, default_flow_style=False)


def write_manifests(plan: Plan, out: Path, host_backup: Mapping[str, Any] | None = None) -> list[Path]:
    """Write reviewable YAML under ``out/<site>/``: ``systems/<system>.yaml`` (one per tenancy),
    ``segments.yaml`` (segments and zone tenancies), ``disaster-recovery.yaml`` (Velero) and, with
    ``host_backup``, ``host-backup.yml`` (``roles/host_backup``'s jobs per host, an Ansible vars file:
    ``ansible-playbook site.yml -e @out/<site>/host-backup.yml`` gives each host its jobs).

    The site's directory is written in a staging directory beside it and swapped in whole: a failure
    leaves the previous plan intact, a symbolic link planted in ``out`` is refused, never followed.
    """
    with staged_manifests(plan, out, host_backup) as written:
        pass
    return written


@contextmanager
def staged_manifests(plan: Plan, out: Path, host_backup: Mapping[str, Any] | None = None) -> Iterator[list[Path]]:
    """:func:`write_manifests` in two steps: the site's files are staged on entry, and swapped in when the block
    ends without an exception (an exception, an interrupt included, removes them: the previous plan stays).
    ``xzgov plan`` stages every site, then swaps them one after the other, so a failure at a later site leaves
    no site of the run half-planned."""
    check_output_directory(out)  # the directory the user named: a real one (or absent)
    target = out / plan.site
    segments: list[dict[str, Any]] = []
    recovery: list[dict[str, Any]] = []
    names: list[str] = []
    with staged_directory(target, PLAN_NAMES) as staging:
        for system, resources in sorted(plan.by_system().items(), key=lambda item: item[0] or ""):
            tenancy = [r.props for r in resources if not str(r.props.get("apiVersion", "")).startswith(DR_APIS)]
            recovery += [r.props for r in resources if str(r.props.get("apiVersion", "")).startswith(DR_APIS)]
            if system is None:
                segments += tenancy
                continue
            names.append(f"systems/{system}.yaml")
            atomic_write(staging / names[-1], _dump(tenancy).encode("utf-8"), base=staging)
        for name, objects in (("segments.yaml", segments), ("disaster-recovery.yaml", recovery)):
            names.append(name)
            atomic_write(staging / name, _dump(objects).encode("utf-8"), base=staging)
        if host_backup is not None:
            names.append("host-backup.yml")
            atomic_write(staging / "host-backup.yml", host_backup_file(host_backup), base=staging)
        yield [target / name for name in names]

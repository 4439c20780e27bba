"""Pulumi ComponentResources wrapping the pure render: each creates exactly the rendered objects.

Every child is a typed pulumi-kubernetes resource (``core.v1.Namespace``, ``networking.v1.NetworkPolicy``
…; ``apiextensions.CustomResource`` for Velero) built from the rendered dict — top-level fields become
the keyword arguments, nested values are passed as the camelCase dicts the provider receives — with
``parent=self``. Namespaced children depend on their namespace when the component owns it; the parts of a
split policy (``xzgov.io/parts-of``) each on the parts rendered before it (the higher places).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes import _utilities as k8s_utilities

from stacks.render.labels import PARTS_OF
from stacks.render.network import DEFAULT_DENY

Obj = Mapping[str, Any]

TENANT_TYPE = "xzgov:cloud:Tenant"
SEGMENT_TYPE = "xzgov:cloud:ExtranetSegment"
ZONE_TENANCY_TYPE = "xzgov:cloud:ZoneTenancy"
DR_TYPE = "xzgov:cloud:DisasterRecovery"
ADMISSION_TYPE = "xzgov:cloud:Admission"
SCANNER_TYPE = "xzgov:cloud:Scanner"

#: (apiVersion, kind) → typed resource class
TYPED: Mapping[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"):
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"):
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
}
#: objects the cluster creates itself (a namespace's ``default`` ServiceAccount): patched (server-side
#: apply), not created — creating them would fail with AlreadyExists
PATCHED: Mapping[tuple[str, str, str], Any] = {
    ("v1", "ServiceAccount", "default"): k8s.core.v1.ServiceAccountPatch,
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def resource_name(obj: Obj) -> str:
    """The Pulumi logical name of a rendered object: ``<namespace>/<kind>/<name>`` (cluster-scoped:
    ``<kind>/<name>``), unique within a stack."""
    metadata = obj["metadata"]
    parts = [metadata.get("namespace", ""), str(obj["kind"]).lower(), metadata["name"]]
    return "/".join(part for part in parts if part)


#: (apiVersion, kind) of the objects whose deletion loses data: a namespace takes its PVCs (and every
#: workload) with it, a backup location is the path to the backups. ``protect`` makes ``pulumi up`` /
#: ``destroy`` refuse to delete them; ``retain_on_delete`` keeps them in the cluster when they leave the
#: program (a system removed, moved, renamed or lowered below the DR threshold). docs/dr.md gives the
#: deliberate deletion path.
STATEFUL: frozenset[tuple[str, str]] = frozenset({("v1", "Namespace"), ("v1", "PersistentVolumeClaim"),
                                                  ("velero.io/v1", "BackupStorageLocation")})


#: The policy that seals a namespace (``stacks.render.network``): kept in the cluster with the namespace when its
#: system leaves the program — removed, renamed, moved or lowered below the DR threshold — so the pods and claims
#: left there are not reachable by everything (the other policies go: they named the system's own flows).
SEAL: tuple[str, str] = ("networking.k8s.io/v1", "NetworkPolicy")


def stateful_options(obj: Obj, opts: pulumi.ResourceOptions, protect: bool) -> pulumi.ResourceOptions:
    """``opts`` plus, for a stateful object, ``protect``/``retain_on_delete`` and an alias to the same name
    without a parent: a namespace created before the components existed (or under another component
    type) is adopted in place instead of being replaced."""
    if (str(obj["apiVersion"]), str(obj["kind"])) == SEAL and obj["metadata"]["name"] == DEFAULT_DENY:
        # the namespace outlives its system (retained): so does its default-deny, or its pods were left open
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True))
    if (str(obj["apiVersion"]), str(obj["kind"])) not in STATEFUL:
        return opts
    extra = pulumi.ResourceOptions(protect=protect, retain_on_delete=True,
                                   aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
    return pulumi.ResourceOptions.merge(opts, extra)


def create(obj: Obj, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Create the typed resource for one rendered object."""
    api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
    fields = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")}
    typed = PATCHED.get((api_version, kind, str(obj["metadata"].get("name")))) or TYPED.get((api_version, kind))
    name = resource_name(obj)
    if typed is not None:
        kwargs = {_CAMEL.sub("_", key).lower(): value for key, value in fields.items()}
        resource: pulumi.CustomResource = typed(name, opts=opts, **kwargs)
        return resource
    if api_version.startswith("velero.io/"):
        return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind, opts=opts, **fields)
    if api_version.startswith("snapshot.storage.k8s.io/"):
        return FlatCustomResource(name, api_version, kind, fields, opts)
    raise ValueError(f"no resource type for {api_version} {kind}")


class FlatCustomResource(pulumi.CustomResource):
    """A custom resource whose fields sit at the top level (``VolumeSnapshotClass``: ``driver``,
    ``deletionPolicy``), which ``apiextensions.CustomResource`` (``metadata`` + ``spec`` only) cannot carry.
    Registered exactly as that class registers: type ``kubernetes:<apiVersion>:<kind>``, provider version
    pinned to the installed SDK's."""

    def __init__(self, name: str, api_version: str, kind: str, fields: Mapping[str, Any],
                 opts: pulumi.ResourceOptions) -> None:
        version = pulumi.ResourceOptions(version=str(k8s_utilities.get_version()))  # type: ignore[no-untyped-call]
        props = {"apiVersion": api_version, "kind": kind, **fields}
        super().__init__(f"kubernetes:{api_version}:{kind}", name, props, pulumi.ResourceOptions.merge(opts, version))


class _Wrapper(pulumi.ComponentResource):
    """Creates its rendered objects as children, namespaced ones after their namespace, each part of a split
    policy after the parts rendered before it: when a policy's parts double, a sender moves from part b to
    part b + count, and the new part must admit it before part b lets it go (``stacks.render.tenant``)."""

    objects: list[dict[str, Any]]
    children: list[pulumi.CustomResource]

    def __init__(
        self, type_token: str, name: str, objects: Sequence[Obj], opts: pulumi.ResourceOptions | None,
        namespace: pulumi.CustomResource | None = None, *, protect: bool = True,
        after: Sequence[pulumi.Resource] = (),
    ) -> None:
        """``after``: what every child is created after (the site's admission policies: Pulumi creates what
        does not depend on something in parallel, whatever the order the program registers it in)."""
        super().__init__(type_token, name, None, opts)
        self.objects = [dict(obj) for obj in objects]
        self.children = []
        owned = namespace
        parts: dict[tuple[str, str], list[pulumi.CustomResource]] = {}
        for obj in self.objects:
            depends = [owned] if owned is not None and obj["metadata"].get("namespace") else []
            part_of = (obj["metadata"].get("annotations") or {}).get(PARTS_OF)
            earlier = parts.setdefault((str(obj["metadata"].get("namespace")), str(part_of)), []) if part_of else []
            child = create(obj, stateful_options(
                obj, pulumi.ResourceOptions(parent=self, depends_on=[*after, *depends, *earlier]), protect))
            if obj["kind"] == "Namespace" and obj["apiVersion"] == "v1":
                owned = child
            if part_of:
                earlier.append(child)
            self.children.append(child)
        self.namespace_resource = owned

    def kind_counts(self) -> dict[str, int]:
        return dict(Counter(str(obj["kind"]) for obj in self.objects))


class Tenant(_Wrapper):
    """One system's tenancy (``xzgov:cloud:Tenant``): namespace, quota, limits, identity, RBAC, policies."""

    def __init__(self, system: str, objects: Sequence[Obj], *, replica: bool = False,
                 opts: pulumi.ResourceOptions | None = None, protect: bool = True,
                 after: Sequence[pulumi.Resource] = ()) -> None:
        super().__init__(TENANT_TYPE, system, objects, opts, protect=protect, after=after)
        self.system = system
        self.replica = replica
        self.register_outputs({"namespace": system, "replica": replica, "kinds": self.kind_counts()})


class ZoneTenancy(_Wrapper):
    """A zone's own tenancy in its segment namespace (``xzgov:cloud:ZoneTenancy``)."""

    def __init__(self, zone: str, objects: Sequence[Obj], namespace: pulumi.CustomResource | None,
                 opts: pulumi.ResourceOptions | None = None, protect: bool = True,
                 after: Sequence[pulumi.Resource] = ()) -> None:
        super().__init__(ZONE_TENANCY_TYPE, f"{zone}-tenancy", objects, opts, namespace=namespace,
                         protect=protect, after=after)
        self.zone = zone
        self.register_outputs({"zone": zone, "kinds": self.kind_counts()})


class ExtranetSegment(_Wrapper):
    """One extranet zone's segment namespace and boundary policies (``xzgov:cloud:ExtranetSegment``),
    with the zone's tenancy as a child component where the zone has one."""

    def __init__(self, zone: str, objects: Sequence[Obj], tenancy: Sequence[Obj] = (),
                 opts: pulumi.ResourceOptions | None = None, protect: bool = True,
                 after: Sequence[pulumi.Resource] = ()) -> None:
        super().__init__(SEGMENT_TYPE, zone, objects, opts, protect=protect, after=after)
        self.zone = zone
        self.tenancy = (ZoneTenancy(zone, tenancy, self.namespace_resource, pulumi.ResourceOptions(parent=self),
                                    protect=protect, after=after)
                        if tenancy else None)
        self.register_outputs({"zone": zone, "kinds": self.kind_counts()})


class Admission(_Wrapper):
    """The site's ValidatingAdmissionPolicies and bindings (``xzgov:cloud:Admission``)."""

    def __init__(self, site: str, objects: Sequence[Obj], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ADMISSION_TYPE, f"{site}-admission", objects, opts)
        self.site = site
        self.register_outputs({"site": site, "kinds": self.kind_counts()})


class Scanner(_Wrapper):
    """The compliance scanner (``xzgov:cloud:Scanner``): its own Namespace ``xzgov-scanner`` (rendered first;
    every namespaced child is created after it), that namespace's policies, quota and RBAC, the CronJobs
    (sharded scan, merge), register snapshot, parts volume, identity and network policy. The Namespace is
    :data:`STATEFUL` — the parts claim and the signing-key Secret live there — so it is protected and
    retained like a tenancy's."""

    def __init__(self, site: str, objects: Sequence[Obj], opts: pulumi.ResourceOptions | None = None,
                 protect: bool = True, after: Sequence[pulumi.Resource] = ()) -> None:
        super().__init__(SCANNER_TYPE, f"{site}-scanner", objects, opts, protect=protect, after=after)
        self.site = site
        self.register_outputs({"site": site, "kinds": self.kind_counts()})


class DisasterRecovery(_Wrapper):
    """Velero locations and per-system schedules of one site (``xzgov:cloud:DisasterRecovery``).
    Schedules are created after the locations they write to."""

    def __init__(self, site: str, objects: Sequence[Obj], opts: pulumi.ResourceOptions | None = None,
                 protect: bool = True) -> None:
        pulumi.ComponentResource.__init__(self, DR_TYPE, site, None, opts)
        self.objects = [dict(obj) for obj in objects]
        self.children = []
        self.namespace_resource = None
        locations: list[pulumi.CustomResource] = []
        for obj in self.objects:
            depends = locations if obj["kind"] == "Schedule" else []
            child = create(obj, stateful_options(
                obj, pulumi.ResourceOptions(parent=self, depends_on=list(depends)), protect))
            if obj["kind"] == "BackupStorageLocation":
                locations.append(child)
            self.children.append(child)
        self.site = site
        self.register_outputs({"site": site, "kinds": self.kind_counts(),
                               "schedules": [o["metadata"]["name"] for o in self.objects
                                             if o["kind"] == "Schedule"]})

"""Resource facts: planned (or live) Kubernetes objects → one :class:`~policies.engine.Facts` per system.

Input objects are plain Kubernetes dicts (``apiVersion``/``kind``/``metadata``/``spec``), as the stacks'
pure render produces them, or Pulumi-style wrappers ``{"type": ..., "urn": ..., "props": {...}}`` as a
CrossGuard stack policy sees them. Objects are grouped by the ``xzgov.io/system`` label, else by
namespace (subject ``namespace:<name>``). The location of each fact is ``Kind/namespace/name`` (or
the Pulumi URN).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xzgov.core import model as m
from xzgov.facts.contract import Facts, Point, utc_now

SYSTEM_LABEL = "xzgov.io/system"
LEVEL_LABEL = "xzgov.io/level"
CRYPTO_LEVEL_LABEL = "xzgov.io/crypto-level"
RPO_ANNOTATION = "xzgov.io/rpo-minutes"
BACKUP_TIER_ANNOTATION = "xzgov.io/backup-tier"
#: the manifest's ``continuity.replication`` as the render records it on the frequent Schedule
#: (``stacks.render.dr.REPLICATION_CLAIM``): "synchronous (declared in the manifest; …)"
REPLICATION_CLAIM_ANNOTATION = "xzgov.io/replication-claim"
_POD_TEMPLATES = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def plain(value: Any) -> Any:
    """Resource inputs as the Pulumi runtime or its mocks hand them over (protobuf numbers as floats,
    read-only proxies of mappings and sequences) → plain dicts/lists with integral numbers as ``int``.

    One conversion for the offline plan (``stacks.plan``) and the CrossGuard pack (``policies.crossguard``),
    so both judge the same data. Items are read by key and index, which is all a runtime proxy supports;
    reading an unknown (preview-time) value raises the proxy's ``UnknownValueError``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in value}
    if isinstance(value, Sequence):
        return [plain(value[index]) for index in range(len(value))]
    return value


def _unwrap(resource: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A Kubernetes object and its Pulumi URN (when wrapped)."""
    if "props" in resource and isinstance(resource["props"], Mapping):
        obj = dict(resource["props"])
        if "kind" not in obj and isinstance(resource.get("type"), str):
            obj["kind"] = str(resource["type"]).rsplit(":", 1)[-1]
        urn = resource.get("urn") or resource.get("name")
        return obj, str(urn) if urn else None
    return dict(resource), None


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return dict(meta) if isinstance(meta, Mapping) else {}


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a Pod, a workload's pod template or a CronJob's job template; ``None`` for other kinds."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec if isinstance(spec, Mapping) else None
    if kind in _POD_TEMPLATES:
        return ((spec.get("template") or {}).get("spec")) or None
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or None
    return None


def _container(raw: Mapping[str, Any]) -> dict[str, Any]:
    security = raw.get("securityContext") or {}
    capabilities = security.get("capabilities") or {}
    return {
        "name": raw.get("name", ""),
        "image": raw.get("image", ""),
        "privileged": bool(security.get("privileged", False)),
        "allow_privilege_escalation": security.get("allowPrivilegeEscalation"),
        "run_as_non_root": security.get("runAsNonRoot"),
        "capabilities_add": list(capabilities.get("add") or []),
        "resources": raw.get("resources") or {},
    }


class _Group:
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.values: dict[str, list[Any]] = {
            key: []
            for key in (
                "namespaces",
                "network_policies",
                "resource_quotas",
                "limit_ranges",
                "pods",
                "workload_images",
                "backup_schedules",
            )
        }
        self.locations: dict[str, str] = {}
        self.level: int | None = None
        self.crypto_level: int | None = None
        self.rpo: int | None = None

    def add(self, key: str, value: Any, where: str) -> None:
        self.locations[f"{key}.{len(self.values[key])}"] = where
        self.locations.setdefault(key, where)
        self.values[key].append(value)


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def resource_facts(
    resources: Iterable[Mapping[str, Any]],
    *,
    register: m.Register | None = None,
    thresholds: Mapping[str, Any] | None = None,
    gathered_at: str | None = None,
    source: str = "plan",
) -> list[Facts]:
    """Group ``resources`` by system and extract the resource facts of each (in first-seen order).

    With ``register``, levels and the RPO come from the register when the objects do not carry them.
    ``source`` prefixes locations (e.g. ``plan`` → ``plan:Namespace//tyrz``).
    """
    groups: dict[str, _Group] = {}
    namespace_owner: dict[str, str] = {}
    objects = [_unwrap(r) for r in resources]
    # First pass: which system owns each namespace (from Namespace objects' labels).
    for obj, _ in objects:
        if obj.get("kind") == "Namespace":
            meta = _meta(obj)
            system = (meta.get("labels") or {}).get(SYSTEM_LABEL)
            if system:
                namespace_owner[str(meta.get("name", ""))] = str(system)
    for obj, urn in objects:
        kind = str(obj.get("kind", ""))
        meta = _meta(obj)
        labels = dict(meta.get("labels") or {})
        name = str(meta.get("name", ""))
        namespace = str(meta.get("namespace", "")) if kind != "Namespace" else name
        subject = labels.get(SYSTEM_LABEL) or namespace_owner.get(namespace) or f"namespace:{namespace or '-'}"
        group = groups.setdefault(str(subject), _Group(str(subject)))
        where = urn or f"{source}:{kind}/{namespace}/{name}"
        if group.level is None and _int(labels.get(LEVEL_LABEL)) is not None:
            group.level = _int(labels.get(LEVEL_LABEL))
        if group.crypto_level is None and _int(labels.get(CRYPTO_LEVEL_LABEL)) is not None:
            group.crypto_level = _int(labels.get(CRYPTO_LEVEL_LABEL))
        spec = obj.get("spec") or {}
        if kind == "Namespace":
            group.add("namespaces", {"name": name, "labels": labels}, where)
        elif kind == "NetworkPolicy":
            group.add(
                "network_policies",
                {
                    "name": name,
                    "namespace": namespace,
                    "pod_selector": spec.get("podSelector") or {},
                    "policy_types": list(spec.get("policyTypes") or []),
                    "ingress": list(spec.get("ingress") or []),
                    "egress": list(spec.get("egress") or []),
                },
                where,
            )
        elif kind == "ResourceQuota":
            group.add(
                "resource_quotas", {"name": name, "namespace": namespace, "hard": dict(spec.get("hard") or {})}, where
            )
        elif kind == "LimitRange":
            group.add(
                "limit_ranges", {"name": name, "namespace": namespace, "limits": list(spec.get("limits") or [])}, where
            )
        elif kind == "Schedule" and "velero" in str(obj.get("apiVersion", "")) and (
                (meta.get("annotations") or {}).get(BACKUP_TIER_ANNOTATION, "frequent") == "frequent"):
            # long-lived retention tiers (daily/weekly/monthly) keep old backups; the RPO is the frequent one's
            group.add("backup_schedules", {"name": f"velero/{name}", "schedule": str(spec.get("schedule", ""))}, where)
            annotations = meta.get("annotations") or {}
            claim = str(annotations.get(REPLICATION_CLAIM_ANNOTATION, ""))
            if claim.split(" ", 1)[0] == "synchronous":
                # declared synchronous replication meets the RPO at the manifest point (issue 12): the plan of the
                # same manifest is judged alike, or a system valid before `pulumi preview` was blocked by it
                group.add("backup_schedules", {"name": f"velero/{name} replication-claim", "schedule": "",
                                               "synchronous": True}, where)
            rpo = _int((meta.get("annotations") or {}).get(RPO_ANNOTATION))
            if rpo is not None:
                group.rpo = rpo
        pod = pod_spec(obj)
        if pod is not None:
            containers = [_container(c) for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]]
            group.add(
                "pods",
                {
                    "name": name,
                    "kind": kind,
                    "namespace": namespace,
                    "host_network": bool(pod.get("hostNetwork", False)),
                    "host_pid": bool(pod.get("hostPID", False)),
                    "host_ipc": bool(pod.get("hostIPC", False)),
                    "containers": containers,
                },
                where,
            )
            for container in containers:
                group.add(
                    "workload_images",
                    {"workload": f"{kind}/{name}/{container['name']}", "image": container["image"]},
                    where,
                )
            if kind == "CronJob" and "backup" in name:
                group.add(
                    "backup_schedules", {"name": f"cronjob/{name}", "schedule": str(spec.get("schedule", ""))}, where
                )
    stamp = gathered_at or utc_now()
    result: list[Facts] = []
    for group in groups.values():
        system = register.systems.get(group.subject) if register is not None else None
        level = group.level if group.level is not None else (system.level if system else None)
        crypto = group.crypto_level if group.crypto_level is not None else (system.crypto_level if system else None)
        values: dict[str, Any] = dict(group.values)
        rpo = group.rpo if group.rpo is not None else (system.continuity.rpo_minutes if system else None)
        if rpo is not None:
            values["rpo_minutes"] = rpo
        else:
            del values["backup_schedules"]  # without an RPO the backup rule cannot judge
        if not group.values["namespaces"] and not group.values["pods"]:
            # Only DR objects (e.g. a Velero Schedule in the velero namespace): not a tenancy of its own.
            for key in ("namespaces", "network_policies", "resource_quotas", "limit_ranges", "pods"):
                values.pop(key, None)
        if thresholds:
            values["thresholds"] = dict(thresholds)
        result.append(
            Facts(
                subject=group.subject,
                point=Point.RESOURCES,
                values=values,
                locations=group.locations,
                gathered_at=stamp,
                target=group.subject,
                level=level,
                crypto_level=crypto,
            )
        )
    return result

"""Rules over Kubernetes resources (the rendered plan) — and, where the manifest carries the same facts
(``workload_images``, ``backup_schedules``), over the manifest too.

Facts come from ``xzgov.facts.resources.resource_facts`` (one :class:`~policies.engine.Facts` per
namespace) and ``xzgov.facts.manifest.manifest_facts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.engine import Evidence, Facts, Outcome, RuleSet, Severity, Status, failed, partial, passed
from xzgov.core.cron import CronError, max_gap_minutes

resources = RuleSet()

G22239 = "GB/T 22239-2019"
PSS_ENFORCE = "pod-security.kubernetes.io/enforce"
_HEX = frozenset("0123456789abcdef")


def pinned(image: str) -> bool:
    """``repo@sha256:<64 lower-case hex>``."""
    _, sep, digest = image.rpartition("@sha256:")
    return bool(sep) and len(digest) == 64 and set(digest) <= _HEX


@resources.rule(
    id="XZ-RES-IMAGE-DIGEST",
    title="容器镜像以摘要 (sha256) 固定, 防止镜像被替换或篡改",
    title_en="Container images are pinned by digest",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.2.4.4.b",),
    levels=(2, 3, 4),
    remediation="在镜像引用中使用 @sha256:<digest> 而非可变标签 / reference images as repo@sha256:<digest>",
    facts=("workload_images",),
)
def image_digest(facts: Facts) -> Outcome:
    """Every container image reference ends in ``@sha256:<64 hex>`` (tags such as ``:latest`` can be moved)."""
    images = facts["workload_images"]
    bad = [(i, image) for i, image in enumerate(images) if not pinned(str(image.get("image", "")))]
    if bad:
        return failed(f"{len(bad)} 个镜像未以摘要固定 / images not pinned by digest",
                      *(facts.evidence(f"{image['workload']}: {image['image']}", "workload_images", i)
                        for i, image in bad))
    if not images:
        return Outcome(Status.NOT_APPLICABLE, "无容器工作负载 / no container workloads")
    return passed(f"{len(images)} 个镜像均以摘要固定 / all images pinned by digest",
                  facts.evidence(", ".join(str(i["workload"]) for i in images), "workload_images"))


@resources.rule(
    id="XZ-RES-BACKUP-RPO",
    title="备份计划的最大间隔不超过 RPO",
    title_en="The backup schedule's longest interval does not exceed the RPO",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.9.a",),
    remediation="调整备份 cron 使两次备份的最长间隔 ≤ rpo_minutes / schedule backups at least every RPO",
    facts=("backup_schedules", "rpo_minutes"),
)
def backup_rpo(facts: Facts) -> Outcome:
    """At least one backup schedule exists and the longest gap between two runs of each is at most the RPO."""
    rpo = int(facts["rpo_minutes"])
    schedules = facts["backup_schedules"]
    if not schedules:
        return failed("未规划备份 / no backup schedule", facts.evidence(f"rpo_minutes={rpo}; no schedule",
                                                                  "backup_schedules"))
    problems: list[Evidence] = []
    good: list[Evidence] = []
    for index, item in enumerate(schedules):
        try:
            gap = max_gap_minutes(str(item["schedule"]))
        except CronError as error:
            problems.append(facts.evidence(f"{item['name']}: unreadable schedule {item['schedule']!r}: {error}",
                                           "backup_schedules", index))
            continue
        observed = f"{item['name']}: '{item['schedule']}' longest gap {gap} min, rpo {rpo} min"
        (problems if gap > rpo else good).append(facts.evidence(observed, "backup_schedules", index))
    if problems:
        return failed("备份间隔超过 RPO / backups further apart than the RPO", *problems, *good)
    return passed("备份间隔满足 RPO / backups meet the RPO", *good)


@resources.rule(
    id="XZ-RES-PSS-RESTRICTED",
    title="命名空间强制执行 restricted Pod 安全标准",
    title_en="Namespaces enforce the restricted Pod Security Standard",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.2.d",),
    levels=(2, 3, 4),
    remediation=f"为命名空间设置标签 {PSS_ENFORCE}: restricted / label the namespace {PSS_ENFORCE}=restricted",
    facts=("namespaces",),
)
def pss_restricted(facts: Facts) -> Outcome:
    """Each planned namespace of the system has the label ``pod-security.kubernetes.io/enforce=restricted``."""
    namespaces = facts["namespaces"]
    if not namespaces:
        return failed("计划中没有系统的命名空间 / the system's namespace is not in the plan",
                      facts.evidence("no Namespace resource", "namespaces"))
    bad = [(i, ns) for i, ns in enumerate(namespaces) if (ns.get("labels") or {}).get(PSS_ENFORCE) != "restricted"]
    if bad:
        return failed("命名空间未强制 restricted / namespace does not enforce restricted",
                      *(facts.evidence(f"{ns['name']}: {PSS_ENFORCE}={(ns.get('labels') or {}).get(PSS_ENFORCE)}",
                                       "namespaces", i) for i, ns in bad))
    return passed("命名空间强制 restricted / restricted enforced",
                  *(facts.evidence(f"{ns['name']}: {PSS_ENFORCE}=restricted", "namespaces", i)
                    for i, ns in enumerate(namespaces)))


def _selects_all(policy: Mapping[str, Any]) -> bool:
    selector = policy.get("pod_selector") or {}
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


@resources.rule(
    id="XZ-RES-DEFAULT-DENY",
    title="命名空间存在默认拒绝 (入站与出站) 的网络策略",
    title_en="A default-deny (ingress and egress) NetworkPolicy exists",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.3.2.a", f"{G22239}:{{L}}.2.3.1.a", f"{G22239}:{{L}}.2.4.2.b"),
    levels=(2, 3, 4),
    remediation="创建 podSelector: {} 且 policyTypes: [Ingress, Egress]、无放行规则的 NetworkPolicy, 再按声明的流放行 "
                "/ add a default-deny NetworkPolicy, then allow declared flows",
    facts=("namespaces", "network_policies"),
)
def default_deny(facts: Facts) -> Outcome:
    """Each namespace has NetworkPolicies selecting every pod with no ingress rule and no egress rule, covering
    both directions (one policy or two)."""
    outcomes: list[Evidence] = []
    missing: list[Evidence] = []
    partial_found = False
    names = [ns["name"] for ns in facts["namespaces"]] or sorted({p["namespace"] for p in facts["network_policies"]})
    if not names:
        return failed("计划中没有命名空间或网络策略 / no namespace or NetworkPolicy planned",
                      facts.evidence("none", "network_policies"))
    for name in names:
        denied: set[str] = set()
        for index, policy in enumerate(facts["network_policies"]):
            if policy.get("namespace") != name or not _selects_all(policy):
                continue
            types = set(policy.get("policy_types") or ["Ingress"])
            if "Ingress" in types and not policy.get("ingress"):
                denied.add("Ingress")
                outcomes.append(facts.evidence(f"{name}/{policy['name']}: deny Ingress", "network_policies", index))
            if "Egress" in types and not policy.get("egress"):
                denied.add("Egress")
                outcomes.append(facts.evidence(f"{name}/{policy['name']}: deny Egress", "network_policies", index))
        if denied != {"Ingress", "Egress"}:
            partial_found = partial_found or bool(denied)
            missing.append(facts.evidence(f"{name}: default deny for {sorted({'Ingress', 'Egress'} - denied)} "
                                          "missing", "network_policies"))
    if missing:
        if partial_found and len(missing) == 1 and len(names) == 1:
            return partial("只有单向默认拒绝 / default deny in one direction only", *missing, *outcomes)
        return failed("缺少默认拒绝网络策略 / no default-deny NetworkPolicy", *missing, *outcomes)
    return passed("入站与出站默认拒绝 / default deny both ways", *outcomes)


@resources.rule(
    id="XZ-RES-QUOTAS",
    title="命名空间设置资源配额与默认限制, 每个容器声明 requests 与 limits",
    title_en="Namespaces have a ResourceQuota and LimitRange; every container sets requests and limits",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.2.5.1.a",),
    levels=(3, 4),
    remediation="为命名空间创建 ResourceQuota (cpu/memory) 与 LimitRange, 为每个容器设置 resources.requests/limits "
                "/ add quota, limit range and container resources",
    facts=("namespaces", "resource_quotas", "limit_ranges", "pods"),
)
def quotas(facts: Facts) -> Outcome:
    """Every namespace has a ResourceQuota bounding CPU and memory and a LimitRange; every container of every
    planned pod sets CPU and memory requests and limits."""
    problems: list[Evidence] = []
    for ns in facts["namespaces"]:
        name = ns["name"]
        quota = [q for q in facts["resource_quotas"] if q.get("namespace") == name]
        hard = {key for q in quota for key in (q.get("hard") or {})}
        if not quota or not any("cpu" in key for key in hard) or not any("memory" in key for key in hard):
            problems.append(facts.evidence(f"{name}: ResourceQuota with cpu and memory missing (hard={sorted(hard)})",
                                           "resource_quotas"))
        if not any(r.get("namespace") == name for r in facts["limit_ranges"]):
            problems.append(facts.evidence(f"{name}: no LimitRange", "limit_ranges"))
    for index, pod in enumerate(facts["pods"]):
        for container in pod.get("containers", []):
            resources_ = container.get("resources") or {}
            for kind in ("requests", "limits"):
                values = resources_.get(kind) or {}
                if "cpu" not in values or "memory" not in values:
                    problems.append(facts.evidence(f"{pod['kind']}/{pod['name']} container {container['name']}: "
                                                   f"{kind} {dict(values)}", "pods", index))
    if not facts["namespaces"]:
        problems.append(facts.evidence("no Namespace resource", "namespaces"))
    if problems:
        return failed("资源配额或限制缺失 / quotas or limits missing", *problems)
    return passed("配额、默认限制与容器资源均已设置 / quotas, limit ranges and container resources set",
                  facts.evidence(f"{len(facts['resource_quotas'])} quotas, {len(facts['limit_ranges'])} limit ranges, "
                                 f"{len(facts['pods'])} workloads", "resource_quotas"))


@resources.rule(
    id="XZ-RES-NO-PRIVILEGED",
    title="禁止特权容器与共享宿主机命名空间 (hostNetwork/hostPID/hostIPC)",
    title_en="No privileged containers and no host namespaces",
    severity=Severity.CRITICAL,
    controls=(f"{G22239}:{{L}}.1.4.2.d",),
    levels=(2, 3, 4),
    remediation="去掉 privileged/hostNetwork/hostPID/hostIPC, 设置 allowPrivilegeEscalation: false, "
                "不添加 capabilities / drop privileged mode, host namespaces and added capabilities",
    facts=("pods",),
)
def no_privileged(facts: Facts) -> Outcome:
    """No planned pod shares the host's network, PID or IPC namespace; no container is privileged, allows
    privilege escalation or adds capabilities."""
    problems: list[Evidence] = []
    for index, pod in enumerate(facts["pods"]):
        label = f"{pod['kind']}/{pod['name']}"
        for flag in ("host_network", "host_pid", "host_ipc"):
            if pod.get(flag):
                problems.append(facts.evidence(f"{label}: {flag}=true", "pods", index))
        for container in pod.get("containers", []):
            if container.get("privileged"):
                problems.append(facts.evidence(f"{label}/{container['name']}: privileged=true", "pods", index))
            if container.get("allow_privilege_escalation") is not False:
                problems.append(facts.evidence(f"{label}/{container['name']}: allowPrivilegeEscalation="
                                               f"{container.get('allow_privilege_escalation')}", "pods", index))
            if container.get("capabilities_add"):
                problems.append(facts.evidence(f"{label}/{container['name']}: capabilities add "
                                               f"{container['capabilities_add']}", "pods", index))
    if problems:
        return failed("存在特权或共享宿主机命名空间的容器 / privileged or host-namespace pods", *problems)
    if not facts["pods"]:
        return Outcome(Status.NOT_APPLICABLE, "无 Pod 工作负载 / no pods")
    return passed(f"{len(facts['pods'])} 个工作负载均无特权 / no privileged workloads",
                  facts.evidence(", ".join(f"{p['kind']}/{p['name']}" for p in facts["pods"]), "pods"))

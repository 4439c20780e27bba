"""Rules over Kubernetes resources (the rendered plan) — and, where the manifest carries the same facts
(``workload_images``, ``backup_schedules``), over the manifest too.

Facts come from ``xzgov.facts.resources.resource_facts`` (one :class:`~policies.engine.Facts` per
namespace) and ``xzgov.facts.manifest.manifest_facts``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from policies.engine import Evidence, Facts, Outcome, RuleSet, Severity, Status, failed, partial, passed
from xzgov.core.cron import CronError, max_gap_minutes
from xzgov.facts.thresholds import threshold

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
    """At least one backup schedule exists and the longest gap between two runs of each is at most the RPO. A
    synchronous replication (``synchronous: true``, from ``spec.continuity.replication`` on the manifest, from
    the frequent Schedule's ``xzgov.io/replication-claim`` in a plan) loses no committed data: it meets any RPO,
    0 included, and the periodic backups are then judged only as copies (longest gap reported, not held against
    the RPO). On the manifest the declared schedule is judged, and with it the schedule the stacks deploy where
    Velero cannot run the declared one as often (``xzgov.core.backup_cadence.rendered_cadence``: never more often
    than every 5 minutes), so a manifest this rule passes is not refused by the plan or CrossGuard."""
    rpo = int(facts["rpo_minutes"])
    schedules = facts["backup_schedules"]
    if not schedules:
        return failed("未规划备份 / no backup schedule", facts.evidence(f"rpo_minutes={rpo}; no schedule",
                                                                  "backup_schedules"))
    problems: list[Evidence] = []
    good: list[Evidence] = []
    replicated = [(i, item) for i, item in enumerate(schedules) if item.get("synchronous")]
    if replicated:
        index, item = replicated[0]
        return passed(f"同步复制满足 RPO {rpo} 分钟 / synchronous replication meets the {rpo}-minute RPO",
                      facts.evidence(f"{item['name']}: synchronous replication (RPO 0), rpo {rpo} min",
                                     "backup_schedules", index))
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
    controls=(f"{G22239}:{{L}}.1.3.2.a", f"{G22239}:{{L}}.2.3.1.a", f"{G22239}:{{L}}.2.4.2.b",
              f"{G22239}:{{L}}.1.3.1.c"),
    levels=(2, 3, 4),
    remediation="创建 podSelector: {} 且 policyTypes: [Ingress, Egress]、无放行规则的 NetworkPolicy, 再按声明的流放行 "
                "/ add a default-deny NetworkPolicy, then allow declared flows",
    facts=("namespaces", "network_policies"),
)
def default_deny(facts: Facts) -> Outcome:
    """Each namespace has NetworkPolicies selecting every pod with no ingress rule and no egress rule, covering
    both directions (one policy or two). Default-deny egress is what restricts unauthorised outbound connections
    (非授权外联, 8.1.3.1.c) on the tenancy."""
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


#: an egress ``ipBlock`` leaving more addresses than a /8 (after its ``except``) reaches anywhere in practice
#: (0.0.0.0/1 + 128.0.0.0/1, 0.0.0.0/0 except 10.0.0.0/8); a zone's network is a /16
_WIDEST_EGRESS_ADDRESSES = 2 ** 24
#: a port range (``endPort``) wider than this is every port in practice (1–65535)
_WIDEST_PORT_RANGE = 256


def _open_rule(rule: Mapping[str, Any], peers_key: str, egress: bool) -> str | None:
    """Why one NetworkPolicy rule allows more than a five-tuple (peers, ports and protocol), else ``None``: no
    peers or ports, a port without a number or a range of every port, a peer selecting every namespace, or (egress)
    an address block wider than a /8 once its exceptions are taken out."""
    peers = rule.get(peers_key)
    if not peers:
        return f"no `{peers_key}`: every peer"
    if not rule.get("ports"):
        return "no `ports`: every port and protocol"
    for port in rule.get("ports") or []:
        if isinstance(port, Mapping) and port.get("port") is None:
            return "a port entry without a port number"
        end = port.get("endPort") if isinstance(port, Mapping) else None
        if isinstance(end, int) and isinstance(port.get("port"), int) and end - port["port"] + 1 > _WIDEST_PORT_RANGE:
            return f"ports {port['port']}–{end}: a range of {end - port['port'] + 1} ports"
    for peer in peers:
        if not isinstance(peer, Mapping):
            continue
        selector = peer.get("namespaceSelector")
        if isinstance(selector, Mapping) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            return f"`{peers_key}` an empty namespaceSelector: every namespace's pods"
        block = peer.get("ipBlock")
        if egress and isinstance(block, Mapping):
            left = _addresses_left(block)
            if left is None or left > _WIDEST_EGRESS_ADDRESSES:
                return f"egress to {block.get('cidr')}" + (f" except {', '.join(map(str, block['except']))}"
                                                            if block.get("except") else "") + ": any destination"
    return None


def _addresses_left(block: Mapping[str, Any]) -> int | None:
    """How many addresses an ``ipBlock`` admits: its CIDR less the exceptions inside it (``None``: unreadable)."""
    try:
        network = ipaddress.ip_network(str(block.get("cidr")), strict=False)
        excepted = [ipaddress.ip_network(str(e), strict=False) for e in block.get("except") or ()]
    except ValueError:
        return None
    inside = ipaddress.collapse_addresses(  # type: ignore[type-var]
        e for e in excepted if e.version == network.version and e.subnet_of(network))  # type: ignore[arg-type]
    return network.num_addresses - sum(e.num_addresses for e in inside)


@resources.rule(
    id="XZ-RES-NETPOL-SPECIFIC",
    title="网络策略的每条放行规则均限定对端、端口与协议 (五元组), 不放行任意地址的出站",
    title_en="Every NetworkPolicy allow rule names peers, ports and protocol (five-tuple); no egress to anywhere",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.3.2.c", f"{G22239}:{{L}}.1.3.1.c", f"{G22239}:{{L}}.2.2.1.d"),
    levels=(2, 3, 4),
    remediation="为 NetworkPolicy 的每条 ingress/egress 规则写明 from/to 与 ports (protocol + port), 出站不使用 "
                "0.0.0.0/0; 按 spec.flows 声明的流生成 / name peers and ports in every rule; no egress to 0.0.0.0/0",
    facts=("network_policies",),
)
def netpol_specific(facts: Facts) -> Outcome:
    """Access control by source, destination, port and protocol (8.1.3.2.c): each ingress rule names its
    sources and ports, each egress rule its destinations and ports, and no egress rule reaches every address
    (非授权外联, 8.1.3.1.c). The tenant sets these policies itself on the platform (cloud 8.2.2.1.d)."""
    problems: list[Evidence] = []
    rules = 0
    for index, policy in enumerate(facts["network_policies"]):
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for number, rule in enumerate(policy.get(direction) or []):
                rules += 1
                why = _open_rule(rule if isinstance(rule, Mapping) else {}, peers_key, direction == "egress")
                if why:
                    problems.append(facts.evidence(f"{policy.get('namespace')}/{policy['name']} {direction}[{number}]: "
                                                   f"{why}", "network_policies", index))
    if problems:
        return failed("网络策略存在未限定对端或端口的放行规则 / allow rules without peers or ports", *problems)
    return passed(f"{rules} 条放行规则均限定对端与端口 / {rules} allow rules name peers and ports",
                  facts.evidence(f"{len(facts['network_policies'])} policies, {rules} allow rules", "network_policies"))


@resources.rule(
    id="XZ-RES-IMAGE-REGISTRY",
    title="容器镜像来自区域可信镜像仓库 (基于加固基础镜像构建)",
    title_en="Container images come from the region's trusted registry (built on hardened base images)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.2.4.4.a",),
    levels=(2, 3, 4),
    remediation="将镜像推送到可信仓库 ${trusted_registries} 后引用 (基于平台加固基础镜像构建) "
                "/ pull images only from ${trusted_registries}",
    facts=("workload_images",),
)
def image_registry(facts: Facts) -> Outcome:
    """Every image is pulled from a configured trusted registry (``trusted_registries``), the one the platform
    fills from its hardened base images (cloud 8.2.4.4.a 加固镜像); Docker Hub and other public registries are
    not."""
    trusted = tuple(threshold(facts.get("thresholds"), "trusted_registries"))
    images = facts["workload_images"]
    if not images:
        return Outcome(Status.NOT_APPLICABLE, "没有容器镜像 / no container image")
    outside: list[Evidence] = []
    for index, entry in enumerate(images):
        image = str(entry.get("image") or "")
        first = image.split("/", 1)[0]
        registry = first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"
        if registry not in trusted:
            outside.append(facts.evidence(f"{entry.get('workload')}: {image} from {registry}", "workload_images",
                                          index))
    if outside:
        return failed(f"{len(outside)} 个镜像不来自可信仓库 / images outside the trusted registries", *outside)
    return passed(f"{len(images)} 个镜像均来自可信仓库 / every image from {', '.join(trusted)}",
                  facts.evidence(f"{len(images)} images from {sorted(set(trusted))}", "workload_images"))


#: Labels that identify a tenancy's assets and their importance (等保 / 密评 level), and a zone segment's zone.
TENANT_ASSET_LABELS = ("xzgov.io/system", "xzgov.io/department", "xzgov.io/level", "xzgov.io/crypto-level")
SEGMENT_ASSET_LABELS = ("xzgov.io/segment", "xzgov.io/zone", "xzgov.io/zone-kind")


@resources.rule(
    id="XZ-RES-ASSET-LABELS",
    title="资产按重要程度标识: 租户命名空间标注所属系统、部门、等保与密评等级, 区域分段标注所属区域",
    title_en="Assets are labelled by importance: tenancies name their system, department, 等保 and 密评 levels; "
             "segments name their zone",
    severity=Severity.LOW,
    controls=(f"{G22239}:{{L}}.1.10.2.b",),
    levels=(3, 4),
    remediation="为命名空间加上 xzgov.io/system、xzgov.io/department、xzgov.io/level、xzgov.io/crypto-level 标签 "
                "(区域分段: xzgov.io/segment、xzgov.io/zone、xzgov.io/zone-kind) / label namespaces with their system, "
                "department and levels",
    facts=("namespaces",),
)
def asset_labels(facts: Facts) -> Outcome:
    """Every planned namespace is identified as an asset with its importance (8.1.10.2.b 资产分级标识): a tenancy
    carries its system, department, 等保 level and 密评 level labels; a zone segment its segment, zone and zone
    kind. A namespace that is neither is an unidentified asset."""
    namespaces = facts["namespaces"]
    if not namespaces:
        return Outcome(Status.NOT_APPLICABLE, "计划中没有命名空间 / no namespace planned")
    problems: list[Evidence] = []
    for index, ns in enumerate(namespaces):
        labels = ns.get("labels") or {}
        wanted = SEGMENT_ASSET_LABELS if "xzgov.io/segment" in labels else TENANT_ASSET_LABELS
        missing = [key for key in wanted if not str(labels.get(key) or "").strip()]
        if missing:
            problems.append(facts.evidence(f"{ns['name']}: missing labels {missing}", "namespaces", index))
    if problems:
        return failed("命名空间缺少资产标识 / namespaces without asset labels", *problems)
    return passed(f"{len(namespaces)} 个命名空间均有资产标识 / every namespace is labelled",
                  *(facts.evidence(f"{ns['name']}: " + ", ".join(f"{k}={(ns.get('labels') or {}).get(k)}"
                                                               for k in TENANT_ASSET_LABELS + SEGMENT_ASSET_LABELS
                                                               if k in (ns.get("labels") or {})), "namespaces", i)
                    for i, ns in enumerate(namespaces)))

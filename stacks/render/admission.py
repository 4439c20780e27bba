"""Admission: ValidatingAdmissionPolicies (native since Kubernetes 1.30) guarding what the policies rely on.

* ``xzgov-images-by-digest`` — every container of a workload in an xzgov-managed namespace comes from
  the region's registry (``xzgov:imageRegistry``) and is pinned by ``@sha256:`` digest: a tag can be
  moved, a digest cannot (GB/T 22239 可信验证 / 恶意代码防范).
* ``xzgov-zone-label`` — the ``xzgov.io/zone`` label of a namespace grants network access (flows to a
  zone select namespaces by it): nobody but the platform (the region's operator groups, and
  ``system:masters``) may set, change or remove it.

* ``xzgov-service-exposure`` — Services in an xzgov-managed namespace: nobody sets ``spec.externalIPs`` (a
  Service claiming another address takes that address's traffic from every node: CVE-2020-8554, which
  Kubernetes leaves to admission); a tenant creates and changes ``ClusterIP`` Services only (the load
  balancers are the platform's entry paths, whose ``loadBalancerSourceRanges`` admit the declared senders
  only) and never touches one the platform rendered (``app.kubernetes.io/managed-by: xzgov``), nor labels
  its own so.

All bind with ``validationActions: [Deny]`` and fail closed (``failurePolicy: Fail``).
"""

from __future__ import annotations

from stacks.render import labels as lb
from stacks.render.context import SiteContext
from stacks.render.network import Obj

IMAGES_POLICY = "xzgov-images-by-digest"
ZONE_LABEL_POLICY = "xzgov-zone-label"
SERVICES_POLICY = "xzgov-service-exposure"
_API = "admissionregistration.k8s.io/v1"
_WORKLOADS = ("pods", "replicationcontrollers")
_APPS = ("deployments", "statefulsets", "daemonsets", "replicasets")
_BATCH = ("jobs", "cronjobs")

#: the pod spec of any workload kind (CronJob nests it one level deeper)
_POD_SPEC = ("object.kind == 'Pod' ? object.spec : "
             "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec")
_ZONE_OF = "has({o}.metadata.labels) && '{key}' in {o}.metadata.labels ? {o}.metadata.labels['{key}'] : ''"


def _labels(ctx: SiteContext) -> dict[str, str]:
    return {lb.MANAGED_BY: lb.MANAGER, lb.COMPONENT: "admission", lb.SITE: ctx.site.id}


def _binding(name: str, labels: dict[str, str], match: Obj | None = None) -> Obj:
    spec: Obj = {"policyName": name, "validationActions": ["Deny"]}
    if match:
        spec["matchResources"] = match
    return {"apiVersion": _API, "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": dict(labels)}, "spec": spec}


def _policy(name: str, labels: dict[str, str], purpose: str, match: Obj, spec: Obj) -> Obj:
    """A ValidatingAdmissionPolicy that fails closed, matching ``match`` (``matchConstraints``)."""
    return {"apiVersion": _API, "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": dict(labels), "annotations": {lb.PURPOSE: purpose}},
            "spec": {"failurePolicy": "Fail", "matchConstraints": match, **spec}}


def _not_platform(platform: list[str]) -> str:
    """CEL: the request's user is in none of the ``platform`` groups."""
    return f"!request.userInfo.groups.exists(g, g in {platform!r})".replace("'", '"')


def render_admission(ctx: SiteContext) -> list[Obj]:
    """The policies and their bindings (cluster-scoped)."""
    labels = _labels(ctx)
    registry = ctx.settings.image_registry.replace(".", "\\\\.")
    managed = {"namespaceSelector": {"matchLabels": {lb.MANAGED_BY: lb.MANAGER}}}
    operations = ["CREATE", "UPDATE"]
    images = _policy(IMAGES_POLICY, labels, "镜像仅来自本区域镜像仓库且按摘要固定 / images from the region's registry, "
                     "pinned by digest", {**managed, "resourceRules": [
                         {"apiGroups": [""], "apiVersions": ["v1"], "operations": operations,
                          "resources": list(_WORKLOADS)},
                         {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": operations,
                          "resources": list(_APPS)},
                         {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": operations,
                          "resources": list(_BATCH)}]}, {
        "variables": [
            {"name": "spec", "expression": _POD_SPEC},
            # ephemeral containers need pods/ephemeralcontainers, which no tenant Role grants
            {"name": "containers", "expression": "variables.spec.containers + (has(variables.spec.initContainers)"
                                                 " ? variables.spec.initContainers : [])"},
        ],
        "validations": [{
            "expression": f"variables.containers.all(c, c.image.matches('^{registry}/[^@]+@sha256:[0-9a-f]{{64}}$'))",
            "message": f"images must come from {ctx.settings.image_registry} and be pinned by @sha256 digest",
            "reason": "Forbidden",
        }],
    })
    platform = sorted({*ctx.region.operator_groups, "system:masters"})
    old_zone = _ZONE_OF.format(o="oldObject", key=lb.ZONE)
    new_zone = _ZONE_OF.format(o="object", key=lb.ZONE)
    zone_label = _policy(ZONE_LABEL_POLICY, labels, "分区标签决定网络访问, 仅平台可改 / the zone label grants access: "
                         "platform only", {"resourceRules": [
                             {"apiGroups": [""], "apiVersions": ["v1"], "operations": operations,
                              "resources": ["namespaces"]}]}, {
        "matchConditions": [{"name": "not-the-platform", "expression": _not_platform(platform)}],
        "validations": [{
            "expression": f"request.operation == 'CREATE' ? ({new_zone}) == '' : ({new_zone}) == ({old_zone})",
            "message": f"only the platform may set or change the {lb.ZONE} label",
            "reason": "Forbidden",
        }],
    })
    return [images, _binding(IMAGES_POLICY, labels, managed), zone_label, _binding(ZONE_LABEL_POLICY, labels),
            _services_policy(labels, managed, platform), _binding(SERVICES_POLICY, labels, managed)]


def _platform_rendered(o: str) -> str:
    """CEL: the object ``o`` (``object``: not null but for a delete; ``oldObject``: not null but for a create — the
    operation guards it) is one the platform rendered (its ``managed-by`` label)."""
    absent = "DELETE" if o == "object" else "CREATE"
    return (f"(request.operation != '{absent}' && has({o}.metadata.labels) && '{lb.MANAGED_BY}' in "
            f"{o}.metadata.labels && {o}.metadata.labels['{lb.MANAGED_BY}'] == '{lb.MANAGER}')")


def _services_policy(labels: dict[str, str], managed: Obj, platform: list[str]) -> Obj:
    """``xzgov-service-exposure`` (module docstring): one policy, the platform told apart inside the expressions —
    ``externalIPs`` are refused to the platform too. Kubernetes' own controllers (kube-controller-manager, the
    cloud-controller-manager and the kube-system service accounts they run their controllers as) are no tenants
    when they change or delete a Service — the namespace controller deletes a terminating namespace's Services,
    the platform's too, and the cloud controller patches its finalizer onto a load balancer: refused, the
    namespace hung in Terminating —, but they create none."""
    controller = ("(request.userInfo.username in ['system:kube-controller-manager', 'system:cloud-controller-manager']"
                  " || request.userInfo.username.startsWith('system:serviceaccount:kube-system:'))")
    tenant = f"{_not_platform(platform)} && !(request.operation != 'CREATE' && {controller})"
    return _policy(SERVICES_POLICY, labels, "服务不得声明 externalIPs, 租户仅可管理 ClusterIP 服务 / no externalIPs; "
                   "tenants manage ClusterIP Services only", {**managed, "resourceRules": [
                       {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE", "DELETE"],
                        "resources": ["services"]}]}, {
            "variables": [{"name": "tenant", "expression": tenant}],
            "validations": [
                {"expression": "request.operation == 'DELETE' || !has(object.spec.externalIPs) || "
                               "size(object.spec.externalIPs) == 0",
                 "message": "spec.externalIPs is not allowed: a Service claiming an address takes that address's "
                            "traffic from every node (CVE-2020-8554)",
                 "reason": "Forbidden"},
                {"expression": "!variables.tenant || request.operation == 'DELETE' || !has(object.spec.type) || "
                               "object.spec.type == 'ClusterIP'",
                 "message": "tenants create ClusterIP Services only: load balancers and node ports are the "
                            "platform's entry paths (declare the flow in the system's manifest)",
                 "reason": "Forbidden"},
                {"expression": f"!variables.tenant || !({_platform_rendered('oldObject')} || "
                               f"{_platform_rendered('object')})",
                 "message": f"Services labelled {lb.MANAGED_BY}: {lb.MANAGER} are the platform's: change them "
                            "through the manifest (and pulumi up)",
                 "reason": "Forbidden"},
            ],
    })

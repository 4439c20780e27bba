"""The program of one site: render, then wrap every rendered group in its component."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.components import Admission, DisasterRecovery, ExtranetSegment, Scanner, Tenant
from stacks.render import SiteRender, render_site
from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError


@dataclass
class CloudProgram:
    """What :func:`build` created for one site."""

    settings: Settings
    render: SiteRender
    tenants: dict[str, Tenant]
    segments: dict[str, ExtranetSegment]
    disaster_recovery: DisasterRecovery
    admission: Admission | None = None
    scanner: Scanner | None = None

    def outputs(self) -> dict[str, Any]:
        """The stack outputs (plain values, no resource outputs needed)."""
        kinds = Counter(str(obj["kind"]) for obj in self.render.objects())
        return {
            "site": self.render.site,
            "role": self.render.role,
            "tenants": sorted(self.tenants),
            "drReplicas": sorted(name for name, tenant in self.tenants.items() if tenant.replica),
            "segments": sorted(self.segments),
            "schedules": sorted(str(o["metadata"]["name"]) for o in self.render.disaster_recovery
                                if o["kind"] == "Schedule"),
            "resourceCounts": dict(sorted(kinds.items())),
            "warnings": list(self.render.warnings),
        }


class WrongCluster(pulumi.RunError):
    """The kubeconfig context points at another cluster than ``xzgov:clusterUid`` names. A ``RunError``: Pulumi
    ends the update with its message, as for every other configuration error, not with a traceback."""


def check_cluster(site: str, expected: str, actual: object) -> str:
    """``actual`` (the ``kube-system`` namespace UID the provider read) must be ``expected``."""
    if actual != expected:
        raise WrongCluster(f"站点 {site} 的 kubeContext 指向了另一个集群 / the kubeconfig context of site '{site}' "
                           f"reaches cluster kube-system uid {actual!r}, expected {expected!r} (xzgov:clusterUid); "
                           "fix xzgov:kubeContext or the kubeconfig, never the uid")
    return str(actual)


def cluster_provider(settings: Settings) -> k8s.Provider:
    """The explicit provider of the site's cluster (``xzgov:kubeContext``), gated by the identity check:
    a probe provider reads the ``kube-system`` namespace, and the provider every resource uses takes its
    ``context`` from the checked UID — nothing is read from or written to a cluster that is not
    ``xzgov:clusterUid`` (the update fails at the check)."""
    missing = settings.unpinned_cluster_keys
    if missing:
        stack = settings.stack
        raise UsageError("xzgov:kubeContext and xzgov:clusterUid are both required", [Diagnostic(
            settings.source_file, 0, 0, key,
            f"站点集群未固定 / the stack does not pin its cluster: no {key}",
            f"pulumi config set --stack {stack} xzgov:kubeContext <context>" if key == "xzgov:kubeContext" else
            f"pulumi config set --stack {stack} xzgov:clusterUid "
            f"$(kubectl --context {settings.kube_context or '<context>'} get ns kube-system -o "
            "jsonpath='{.metadata.uid}')", "config") for key in missing])
    context, expected = settings.kube_context, settings.cluster_uid
    assert context and expected  # (both checked above)
    probe = k8s.Provider(f"{settings.site}-cluster-probe", context=context)
    identity = k8s.core.v1.Namespace.get(f"{settings.site}-kube-system", "kube-system",
                                         opts=pulumi.ResourceOptions(provider=probe))
    checked = identity.metadata.apply(
        lambda meta: check_cluster(settings.site, expected, _uid(meta)) and context)
    return k8s.Provider(f"{settings.site}-cluster", context=checked)


def _uid(meta: Any) -> object:
    return meta.get("uid") if isinstance(meta, dict) else getattr(meta, "uid", None)


def build(register: m.Register, settings: Settings, *, provider: k8s.Provider | None = None) -> CloudProgram:
    """Create every component of ``settings.site``. Call inside a Pulumi program (or under mocks).

    ``provider``: the deployed stacks pass :func:`cluster_provider` (every resource goes to that cluster,
    after the identity check); offline plans pass none."""
    rendered = render_site(register, settings)
    opts = pulumi.ResourceOptions(providers=[provider]) if provider is not None else None
    protect = settings.protect_stateful
    # admission first: tenancies' workloads are checked from the moment their namespace exists. Registered first
    # is not created first (Pulumi creates what depends on nothing in parallel): every object of the segments,
    # the scanner and the tenancies depends on the policies and their bindings
    admission = Admission(settings.site, rendered.admission, opts=opts) if rendered.admission else None
    after = [admission] if admission is not None else []
    segments = {segment.zone: ExtranetSegment(segment.zone, segment.objects, segment.tenancy, opts=opts,
                                              protect=protect, after=after)
                for segment in rendered.segments}
    # the scanner owns its namespace (rendered first): everything else of it is created after that
    scanner = Scanner(settings.site, rendered.scanner, opts=opts, protect=protect, after=after) \
        if rendered.scanner else None
    tenants = {tenant.system: Tenant(tenant.system, tenant.objects, replica=tenant.replica, opts=opts,
                                     protect=protect, after=after)
               for tenant in rendered.tenants}
    disaster_recovery = DisasterRecovery(settings.site, rendered.disaster_recovery, opts=opts, protect=protect)
    return CloudProgram(settings, rendered, tenants, segments, disaster_recovery, admission, scanner)

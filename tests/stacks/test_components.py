"""The Pulumi components under Pulumi's documented runtime mocks.

Each test gets a fresh runtime: its own ``contextvars`` context (root stack, settings, config) and its
own event loop (``stacks.mocks.evaluate``, or the ``fresh_runtime`` fixture for the hand-written
documented pattern).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import runpy
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from stacks.components import (
    ADMISSION_TYPE,
    DR_TYPE,
    SCANNER_TYPE,
    SEGMENT_TYPE,
    TENANT_TYPE,
    ZONE_TENANCY_TYPE,
    Tenant,
    resource_name,
)
from stacks.mocks import MOCK_CLUSTER_UID, STACK_TYPE, Recording, evaluate
from stacks.program import WrongCluster, build, check_cluster, cluster_provider
from stacks.render import render_site, site_context
from stacks.render import tenant as tenant_render
from stacks.render.tenant import render_tenant
from stacks.settings import Settings
from tests.stacks import builders
from xzgov.core import model as m
from xzgov.core.errors import UsageError
from xzgov.facts.resources import plain

REPO = Path(__file__).resolve().parents[2]
K8S_TYPES = {
    "Namespace": "kubernetes:core/v1:Namespace",
    "ServiceAccount": "kubernetes:core/v1:ServiceAccount",
    "ResourceQuota": "kubernetes:core/v1:ResourceQuota",
    "LimitRange": "kubernetes:core/v1:LimitRange",
    "Role": "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "RoleBinding": "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "NetworkPolicy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "Schedule": "kubernetes:velero.io/v1:Schedule",
    "BackupStorageLocation": "kubernetes:velero.io/v1:BackupStorageLocation",
    "Service": "kubernetes:core/v1:Service",
    "ValidatingAdmissionPolicy": "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding": "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
}


def expected_type(obj: dict[str, Any]) -> str:
    """The cluster's own ``default`` ServiceAccount is patched (server-side apply), never created."""
    if obj["kind"] == "ServiceAccount" and obj["metadata"]["name"] == "default":
        return "kubernetes:core/v1:ServiceAccountPatch"
    return K8S_TYPES[obj["kind"]]


class RecordingMocks(pulumi.runtime.Mocks):
    """The documented pattern: record what ``new_resource`` receives, return the inputs as state."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.created.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture
def fresh_runtime() -> Iterator[Callable[[Callable[[RecordingMocks], None]], RecordingMocks]]:
    """Run a test body with fresh mocks, a fresh context and a fresh event loop."""

    def run(body: Callable[[RecordingMocks], None]) -> RecordingMocks:
        def isolated() -> RecordingMocks:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                mocks = RecordingMocks()
                pulumi.runtime.set_mocks(mocks, project="xzgov-cloud", stack="test", preview=False)
                body(mocks)
                return mocks
            finally:
                loop.close()
                asyncio.set_event_loop(None)

        return contextvars.Context().run(isolated)

    yield run


def test_tenant_component_documented_pattern(fresh_runtime: Any, standard: m.Register) -> None:
    ctx = site_context(standard, Settings(site="lhasa"))
    objects = render_tenant(ctx, standard.systems["health-records"])
    seen: dict[str, Any] = {}

    def body(mocks: RecordingMocks) -> None:
        @pulumi.runtime.test  # type: ignore[untyped-decorator,unused-ignore]
        def check() -> pulumi.Output[Any]:
            tenant = Tenant("health-records", objects)
            namespace = tenant.children[0]
            assert isinstance(namespace, k8s.core.v1.Namespace)

            def verify(values: list[Any]) -> None:
                name, labels = values
                assert name == "health-records"
                assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
                seen["verified"] = True

            return pulumi.Output.all(namespace.metadata.name, namespace.metadata.labels).apply(verify)

        check()
        seen["created"] = list(mocks.created)

    fresh_runtime(body)
    assert seen["verified"]
    created = seen["created"]
    components = [c for c in created if not c.custom]
    assert [(c.typ, c.name) for c in components] == [(TENANT_TYPE, "health-records")]
    # registrations run concurrently: compare by name, not by order
    custom = {c.name: c for c in created if c.custom}
    assert sorted(custom) == sorted(resource_name(o) for o in objects)
    for obj in objects:
        args = custom[resource_name(obj)]
        assert args.typ == expected_type(obj)
        assert args.inputs == obj  # camelCase, exactly the rendered dict (numbers compare equal)
        assert plain(args.inputs) == obj


def site_recording(register: m.Register, site: str) -> tuple[Recording, Any]:
    settings = Settings(site=site)
    return evaluate(lambda: build(register, settings), stack=site), render_site(register, settings)


@pytest.mark.parametrize("site", ["lhasa", "dr"])
def test_program_creates_exactly_the_rendered_objects(example_register: m.Register, site: str) -> None:
    recording, rendered = site_recording(example_register, site)
    expected = list(rendered.objects())
    custom = recording.custom()
    assert sorted(r.name for r in custom) == sorted(resource_name(o) for o in expected)
    by_name = {r.name: r for r in custom}
    for obj in expected:
        registration = by_name[resource_name(obj)]
        assert registration.type == expected_type(obj)
        assert plain(registration.inputs) == obj


@pytest.mark.parametrize("site", ["lhasa", "dr"])
def test_parentage_and_component_types(example_register: m.Register, site: str) -> None:
    recording, rendered = site_recording(example_register, site)
    stack = next(r for r in recording.registrations if r.type == STACK_TYPE)
    components = {r.urn: r for r in recording.components()}
    for component in components.values():
        if component.type == ZONE_TENANCY_TYPE:
            assert components[component.parent].type == SEGMENT_TYPE
        else:
            assert component.parent == stack.urn
    expected_types = {TENANT_TYPE: {t.system for t in rendered.tenants},
                      SEGMENT_TYPE: {s.zone for s in rendered.segments},
                      ZONE_TENANCY_TYPE: {f"{s.zone}-tenancy" for s in rendered.segments if s.tenancy},
                      DR_TYPE: {site}, ADMISSION_TYPE: {f"{site}-admission"}}
    for type_token, names in expected_types.items():
        assert {c.name for c in components.values() if c.type == type_token} == names
    owner: dict[str, tuple[str, str]] = {}
    for tenant in rendered.tenants:
        owner.update({resource_name(o): (TENANT_TYPE, tenant.system) for o in tenant.objects})
    for segment in rendered.segments:
        owner.update({resource_name(o): (SEGMENT_TYPE, segment.zone) for o in segment.objects})
        owner.update({resource_name(o): (ZONE_TENANCY_TYPE, f"{segment.zone}-tenancy") for o in segment.tenancy})
    owner.update({resource_name(o): (DR_TYPE, site) for o in rendered.disaster_recovery})
    owner.update({resource_name(o): (ADMISSION_TYPE, f"{site}-admission") for o in rendered.admission})
    for registration in recording.custom():
        parent = components[registration.parent]
        assert (parent.type, parent.name) == owner[registration.name]
        assert registration.urn.split("::")[2].endswith(f"{parent.type}${registration.type}")


def test_namespaced_children_depend_on_their_namespace_and_schedules_on_locations(standard: m.Register) -> None:
    recording, _ = site_recording(standard, "lhasa")
    by_name = {r.name: r for r in recording.custom()}
    namespace = by_name["health-records/namespace"] if "health-records/namespace" in by_name else \
        by_name["namespace/health-records"]
    for registration in recording.custom():
        if registration.name.startswith("health-records/"):
            assert namespace.urn in registration.dependencies
    tenancy_quota = by_name["zone-security-management/resourcequota/tenant-quota"]
    assert by_name["namespace/zone-security-management"].urn in tenancy_quota.dependencies
    location = by_name["velero/backupstoragelocation/lhasa"]
    for registration in recording.custom():
        if registration.type == K8S_TYPES["Schedule"]:
            assert location.urn in registration.dependencies


def test_every_tenancy_object_is_created_after_the_admission_policies(example_register: m.Register) -> None:
    """build() registered the admission policies first and called that "first"; Pulumi creates what depends on
    nothing in parallel, so on a cluster's first `pulumi up` a tenancy's namespace, RoleBindings and workloads
    could exist before the image-by-digest policy and its binding (a workload admitted then is never checked
    again). Every object of the segments, the scanner and the tenancies now depends on every admission object."""
    settings = Settings(site="lhasa", scanner_image=f"registry.xzgov.internal/xzgov/xzgov@sha256:{'a' * 64}",
                        scanner_trusted_fingerprint="b" * 64)
    recording = evaluate(lambda: build(example_register, settings))
    components = {r.urn: r for r in recording.registrations if not r.custom}
    admission = {r.urn for r in recording.custom() if components[r.parent].type == ADMISSION_TYPE}
    assert len(admission) >= 2  # the policies and their bindings
    checked = {TENANT_TYPE: 0, SEGMENT_TYPE: 0, ZONE_TENANCY_TYPE: 0, SCANNER_TYPE: 0}
    for registration in recording.custom():
        owner = components[registration.parent].type
        if owner in checked:
            checked[owner] += 1
            assert admission <= set(registration.dependencies), registration.name
        else:
            assert owner in (ADMISSION_TYPE, DR_TYPE), owner
    assert all(checked.values()), checked


IMPORT_CHECK = """
import importlib, json, sys
import pulumi
from stacks.mocks import RecordingMocks, RecordingMonitor
monitor = RecordingMonitor(RecordingMocks())
pulumi.runtime.set_mocks(monitor.mocks, project="xzgov-cloud", stack="import", monitor=monitor)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps([r.type for r in monitor.registrations]))
"""


def test_no_resources_are_created_at_import() -> None:
    """In a fresh interpreter with mocks installed first, importing every stacks module registers nothing."""
    modules = ["stacks", "stacks.settings", "stacks.render", "stacks.render.site", "stacks.components",
               "stacks.program", "stacks.mocks", "stacks.plan", "stacks.validate", "xzgov.cli.plan_cmds"]
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK, *modules], capture_output=True, text=True,
                          check=True, cwd=REPO)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_main_reads_config_into_settings_and_exports(example_register: m.Register) -> None:
    main = REPO / "stacks" / "__main__.py"

    def program() -> dict[str, Any]:
        pulumi.runtime.set_all_config({"xzgov:site": "dr", "xzgov:registerRoot": str(REPO),
                                       "xzgov:drTenancyMinTier": "4", "xzgov:zoneQuota": '{"cpu": "8"}',
                                       "xzgov:kubeContext": "xzgov-dr", "xzgov:clusterUid": MOCK_CLUSTER_UID,
                                       "xzgov:backupPrefix": "velero-test", "xzgov:disasterDeclared": "[]"})
        return runpy.run_path(str(main))

    recording = evaluate(program, stack="dr")
    namespace = recording.result
    settings = namespace["settings"]
    assert settings == Settings(site="dr", register_root=str(REPO), dr_tenancy_min_tier=4,
                                zone_quota=settings.zone_quota, kube_context="xzgov-dr",
                                cluster_uid=MOCK_CLUSTER_UID, backup_prefix="velero-test")
    assert settings.zone_quota.cpu == "8" and settings.zone_quota.memory == "32Gi"
    rendered = render_site(example_register, settings)
    created = [r for r in recording.custom() if not r.type.startswith("pulumi:providers:")]
    assert sorted(r.name for r in created) == sorted(resource_name(o) for o in rendered.objects())
    assert namespace["cloud"].outputs()["drReplicas"] == sorted(t.system for t in rendered.tenants if t.replica)


def test_kube_context_setting_creates_an_explicit_provider(standard: m.Register) -> None:
    settings = Settings(site="lhasa", kube_context="xzgov-lhasa", cluster_uid=MOCK_CLUSTER_UID)
    recording = evaluate(lambda: build(standard, settings, provider=cluster_provider(settings)))
    providers = {r.name: r for r in recording.registrations if r.type == "pulumi:providers:kubernetes"}
    # the probe reads kube-system; the provider of every resource gets its context only after the check
    assert {name: p.inputs.get("context") for name, p in providers.items()} == {
        "lhasa-cluster-probe": "xzgov-lhasa", "lhasa-cluster": "xzgov-lhasa"}
    namespaces = [r for r in recording.custom() if r.type == "kubernetes:core/v1:Namespace"]
    assert namespaces


def test_a_context_reaching_another_cluster_fails_the_program(standard: m.Register) -> None:
    settings = Settings(site="lhasa", kube_context="xzgov-lhasa", cluster_uid="11111111-1111-4111-8111-111111111111")
    with pytest.raises(Exception, match="expected '11111111-1111-4111-8111-111111111111'"):
        evaluate(lambda: build(standard, settings, provider=cluster_provider(settings)))
    assert check_cluster("lhasa", MOCK_CLUSTER_UID, MOCK_CLUSTER_UID) == MOCK_CLUSTER_UID
    with pytest.raises(WrongCluster):
        check_cluster("lhasa", MOCK_CLUSTER_UID, None)


def test_the_deployed_program_needs_a_pinned_cluster() -> None:
    with pytest.raises(UsageError, match="clusterUid"):
        cluster_provider(Settings(site="lhasa", kube_context="xzgov-lhasa"))
    # located at the stack's own file and the key it lacks (it named Pulumi.lhasa.yaml for the dev stack)
    with pytest.raises(UsageError) as raised:
        cluster_provider(Settings(site="lhasa", kube_context="kind-xzgov-dev", config_file="Pulumi.dev.yaml"))
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.file, diagnostic.path) == ("Pulumi.dev.yaml", "xzgov:clusterUid")
    assert "--stack dev" in diagnostic.hint and "kind-xzgov-dev" in diagnostic.hint


def test_namespaces_and_locations_are_protected_and_retained(standard: m.Register) -> None:
    recording = evaluate(lambda: build(standard, Settings(site="dr")))
    stateful = {"kubernetes:core/v1:Namespace", "kubernetes:velero.io/v1:BackupStorageLocation"}
    sealed = 0
    for registration in recording.custom():
        if registration.type in stateful:
            assert registration.protect and registration.retain_on_delete and registration.aliases, registration.name
        elif registration.name.endswith("/networkpolicy/default-deny"):
            # a namespace kept after its system left the program stays sealed (its pods were left open)
            assert not registration.protect and registration.retain_on_delete, registration.name
            sealed += 1
        else:
            assert not registration.protect and not registration.retain_on_delete, registration.name
    assert sealed == sum(r.type == "kubernetes:core/v1:Namespace" for r in recording.custom())
    assert any(r.type == "kubernetes:velero.io/v1:BackupStorageLocation" for r in recording.custom())
    unprotected = evaluate(lambda: build(standard, Settings(site="dr", protect_stateful=False)))
    namespaces = [r for r in unprotected.custom() if r.type == "kubernetes:core/v1:Namespace"]
    assert namespaces and all(not r.protect and r.retain_on_delete for r in namespaces)


def test_the_csi_snapshot_class_is_a_custom_resource_of_the_dr_component(standard: m.Register) -> None:
    recording = evaluate(lambda: build(standard, Settings(site="lhasa", csi_snapshot_driver="csi.xsky.com")))
    classes = [r for r in recording.custom() if r.type == "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass"]
    assert [c.inputs["driver"] for c in classes] == ["csi.xsky.com"]
    assert DR_TYPE in classes[0].parent


def test_the_parts_of_a_split_policy_are_created_highest_place_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """When a policy's parts double, a sender moves from part b to part b + count: the higher part must exist
    before the lower one lets the sender go, so every part depends on every higher one (removed parts are
    deleted last by Pulumi itself). Two senders per part here, so a few systems make many parts."""
    monkeypatch.setattr(tenant_render, "SENDERS_PER_PART", 2)
    collector = builders.system("log-collector", department="dsjj", zone="security-management",
                                workloads=[builders.workload("collector", ports=(6514,))])
    senders = [builders.system(f"sender-{i:04d}", flows=[builders.flow("zone", "security-management", 6514)])
               for i in range(12)]
    recording, _ = site_recording(builders.register(collector, *senders), "lhasa")
    by_name = {r.name: r for r in recording.custom()}
    base = "log-collector/networkpolicy/ingress-zone-tcp-6514"
    parts = sorted((name for name in by_name if name == base or name.startswith(f"{base}-")),
                   key=lambda name: int(name.rsplit("-", 1)[1]) if name != base else 1)
    assert parts[0] == base and len(parts) >= 4
    for index, name in enumerate(parts):
        higher = {by_name[other].urn for other in parts[index + 1:]}
        lower = {by_name[other].urn for other in parts[:index]}
        assert higher <= set(by_name[name].dependencies) and not lower & set(by_name[name].dependencies)
    # a policy that is not split depends on its namespace only (and, as every tenancy object, on the admission
    # policies: test_every_tenancy_object_is_created_after_the_admission_policies)
    egress = by_name["sender-0000/networkpolicy/egress-zone-security-management-tcp-6514"]
    admission = {r.urn for r in recording.custom() if ADMISSION_TYPE in r.parent}
    assert set(egress.dependencies) - admission == {by_name["namespace/sender-0000"].urn}

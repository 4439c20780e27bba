"""Every rendered object of the example register validates against the real schemas."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from stacks.render import render_site
from stacks.settings import Settings
from stacks.validate import VELERO_RELEASE, validate_object, validate_objects, validate_with_library
from xzgov.core import model as m

KUBERNETES = "1.30"


@pytest.fixture(scope="module", params=["lhasa", "dr"])
def site_objects(request: pytest.FixtureRequest, example_register: m.Register) -> list[dict[str, Any]]:
    return list(render_site(example_register, Settings(site=request.param, kubernetes_version=KUBERNETES)).objects())


def test_example_register_validates_against_kubernetes_and_velero(site_objects: list[dict[str, Any]]) -> None:
    assert site_objects
    problems = validate_objects(site_objects, KUBERNETES)
    assert not problems, "\n".join(map(str, problems[:20]))
    kinds = {o["kind"] for o in site_objects}
    assert {"Namespace", "NetworkPolicy", "ResourceQuota", "Role", "RoleBinding", "ServiceAccount",
            "BackupStorageLocation"} <= kinds


def test_cached_validator_agrees_with_the_library(site_objects: list[dict[str, Any]]) -> None:
    one_of_each = {o["kind"]: o for o in site_objects if not o["apiVersion"].startswith("velero.io/")}
    for obj in one_of_each.values():
        validate_with_library(obj, KUBERNETES)  # raises on failure
        broken = copy.deepcopy(obj)
        broken["metadata"]["labelz"] = {}
        with pytest.raises(kubernetes_validate.ValidationError):
            validate_with_library(broken, KUBERNETES)
        assert validate_object(broken, KUBERNETES)


def test_schema_errors_are_reported(standard: m.Register) -> None:
    objects = list(render_site(standard, Settings(site="lhasa")).objects())
    policy = copy.deepcopy(next(o for o in objects if o["kind"] == "NetworkPolicy"))
    policy["spec"]["policyTypes"] = "Ingress"
    assert validate_object(policy, KUBERNETES)
    sa = copy.deepcopy(next(o for o in objects if o["kind"] == "ServiceAccount"))
    sa["automountServiceAccountToken"] = "no"
    assert validate_object(sa, KUBERNETES)


def test_velero_schemas_reject_unknown_fields_and_bad_enums(standard: m.Register) -> None:
    dr = render_site(standard, Settings(site="dr")).disaster_recovery
    location = copy.deepcopy(next(o for o in dr if o["kind"] == "BackupStorageLocation"))
    assert validate_object(location, KUBERNETES) == []
    location["spec"]["accessMode"] = "WriteOnly"
    assert "accessMode" in str(validate_object(location, KUBERNETES))
    schedule = copy.deepcopy(next(o for o in dr if o["kind"] == "Schedule"))
    assert validate_object(schedule, KUBERNETES) == []
    schedule["spec"]["template"]["ttll"] = "1h"
    assert "ttll" in str(validate_object(schedule, KUBERNETES))
    del schedule["spec"]["schedule"]
    assert any("schedule" in str(p) for p in validate_object(schedule, KUBERNETES))
    location["spec"]["config"] = {"s3ForcePathStyle": True}  # config values must be strings
    assert validate_object(location, KUBERNETES)
    assert VELERO_RELEASE.startswith("v1.")


def test_the_crd_formats_the_api_server_checks_are_checked(standard: m.Register) -> None:
    """jsonschema ignores `format` without a format checker: a PEM caCert (`format: byte`, base64) or a malformed
    `date-time` passed the offline validation, and the API server refuses them."""
    dr = render_site(standard, Settings(site="dr")).disaster_recovery
    location = copy.deepcopy(next(o for o in dr if o["kind"] == "BackupStorageLocation"))
    location["spec"]["objectStorage"]["caCert"] = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
    assert validate_object(location, KUBERNETES) == []
    location["spec"]["objectStorage"]["caCert"] = "-----BEGIN CERTIFICATE-----\nMIIB\n"
    assert "caCert" in str(validate_object(location, KUBERNETES))
    schedule = copy.deepcopy(next(o for o in dr if o["kind"] == "Schedule"))
    schedule["status"] = {"lastBackup": "2026-12-01T08:00:00+08:00"}
    assert validate_object(schedule, KUBERNETES) == []
    schedule["status"] = {"lastBackup": "2026-12-01 8:00"}
    assert "lastBackup" in str(validate_object(schedule, KUBERNETES))


def test_unknown_kind_and_unsupported_version_are_problems() -> None:
    assert validate_object({"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "x"}}, KUBERNETES)
    assert validate_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}, "1.99")


def test_restores_are_checked_against_the_vendored_crd() -> None:
    restore: dict[str, Any] = {"apiVersion": "velero.io/v1", "kind": "Restore",
                               "metadata": {"name": "x", "namespace": "velero"},
                               "spec": {"backupName": "", "scheduleName": "x-backup", "includedNamespaces": ["x"]}}
    assert validate_object(restore, KUBERNETES) == []
    del restore["spec"]["backupName"]
    assert [p.message for p in validate_object(restore, KUBERNETES)] == ["spec: 'backupName' is a required property"]
    restore["spec"] = {"backupName": "", "existingResourcePolicy": "none", "restorePVs": "yes"}
    assert "restorePVs" in validate_object(restore, KUBERNETES)[0].message


def test_what_the_api_server_refuses_beyond_the_schema_is_reported(site_objects: list[dict[str, Any]]) -> None:
    """A 64-character namespace, a label value ending in '-', a Service named with a leading digit and two
    objects of one name passed the OpenAPI schemas: the API server refuses each (or the second replaces the
    first). Each is a problem now; the example's objects have none."""
    assert validate_objects(site_objects, "1.30") == []
    namespace = next(o for o in site_objects if o["kind"] == "Namespace")
    service = next(o for o in site_objects if o["kind"] == "Service")
    binding = next(o for o in site_objects if o["kind"] == "RoleBinding")
    long_ns = copy.deepcopy(namespace)
    long_ns["metadata"]["name"] = "zone-" + "a" * 59
    dashed = copy.deepcopy(namespace)
    dashed["metadata"]["labels"] = {**dashed["metadata"]["labels"], "xzgov.io/department": "ybj-"}
    digit = copy.deepcopy(service)
    digit["metadata"]["name"] = "8443-entry"
    problems = validate_objects([long_ns, dashed, digit, binding, copy.deepcopy(binding)], "1.30")
    said = [str(p) for p in problems]
    assert any("a Namespace name is a DNS label" in s and "zone-aaaa" in s for s in said), said
    assert any("xzgov.io/department: value 'ybj-'" in s for s in said), said
    assert any("Service" in s and "'8443-entry'" in s for s in said), said
    assert sum("same kind, namespace and name" in s for s in said) == 1, said


def test_role_bindings_of_groups_that_normalise_alike_keep_apart() -> None:
    """Directory groups ybj-ops, ybj_ops and YBJ-OPS (and Chinese names, which normalise to nothing) got one
    RoleBinding name: the last replaced the others and those groups lost their access. Each keeps its own."""
    from stacks.render.tenant import rbac

    groups = ("ybj-ops", "ybj_ops", "YBJ-OPS", "运维组", "安全组")
    objects = rbac("medical-insurance", groups, {})
    bindings = {o["metadata"]["name"]: o["subjects"][0]["name"] for o in objects if o["kind"] == "RoleBinding"}
    assert sorted(bindings.values()) == sorted(groups)
    assert "tenant-operator-ybj-ops" in bindings  # a name that needs no change keeps it
    assert validate_objects(objects, "1.30") == []

"""The compliance scanner as Kubernetes CronJobs (``stacks/render/scanner.py``): schema-valid objects, the
Indexed Job, the restricted Pod Security profile, the image by digest, the network policy under the real
analyser, and the rendered command lines run for real (every shard, then the merge)."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from compliance.reports import PART_NAME
from compliance.scan.shard import parse_shard, register_digest, shard_systems
from stacks.components import SCANNER_TYPE, SEGMENT_TYPE, resource_name
from stacks.connectivity import DNS, INTERNET, AnalyserUnavailable, analyse
from stacks.mocks import evaluate
from stacks.program import build
from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render import scanner as sc
from stacks.render.quantity import bytes_of, millicores
from stacks.settings import Settings, ZoneQuota
from stacks.validate import validate_objects, validate_with_library
from tests.cli import CliResult, run
from tests.stacks import builders
from xzgov.cli.scan_cmds import shard_from_index
from xzgov.core import model as m
from xzgov.core.errors import UsageError
from xzgov.core.register import load_register
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

IMAGE = "registry.xzgov.internal/xzgov/xzgov@sha256:" + "3f" * 32
NAMESPACE = "zone-security-management"


def scanner_settings(site: str = "lhasa", **extra: Any) -> Settings:
    return Settings(site=site, scanner_image=IMAGE, **extra)


def rendered(register: m.Register, settings: Settings | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    objects = render_site(register, settings or scanner_settings()).scanner
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def job_of(objects: dict[tuple[str, str], dict[str, Any]], name: str) -> dict[str, Any]:
    spec: dict[str, Any] = objects[("CronJob", name)]["spec"]["jobTemplate"]["spec"]
    return spec


def test_objects_are_valid_against_the_kubernetes_schemas(example_register: m.Register) -> None:
    for version in ("1.30", "1.33", "1.37"):
        objects = render_site(example_register, scanner_settings(kubernetes_version=version)).scanner
        assert validate_objects(objects, version) == [], version
    for obj in render_site(example_register, scanner_settings()).scanner:
        if obj["kind"] != "Schedule":  # Velero's CRD: validate_objects checks it against the vendored schema
            validate_with_library(obj, "1.30")  # the library's own entry point agrees
    assert sorted(rendered(example_register)) == [
        ("ConfigMap", "xzgov-register-0"), ("CronJob", "xzgov-scan"), ("CronJob", "xzgov-scan-merge"),
        ("NetworkPolicy", "xzgov-scanner"), ("PersistentVolumeClaim", "xzgov-scan-parts"),
        ("Schedule", "xzgov-scan-results"), ("ServiceAccount", "xzgov-scanner")]
    assert {o["metadata"]["namespace"] for o in rendered(example_register).values() if o["kind"] != "Schedule"} \
        == {NAMESPACE}


@pytest.mark.parametrize(("start", "deadline", "backup"), [("19:00", 120, "30 1 * * *"), ("02:10", 600, "40 0 * * *")])
def test_every_nights_signed_set_is_backed_up(example_register: m.Register, start: str, deadline: int,
                                              backup: str) -> None:
    """The parts volume (this night's parts and merged set; the next night replaces them) is backed up to the
    object store after the merge's latest end (merge time + 60 min late start + deadline + 15 min), and before
    the next night's scan starts (22 h 30 min after it at the longest deadline), kept 90 days."""
    objects = rendered(example_register, scanner_settings(scanner_time_utc=start, scanner_deadline_minutes=deadline))
    schedule = objects[("Schedule", sc.RESULTS_BACKUP)]
    assert schedule["metadata"]["namespace"] == "velero" and schedule["spec"]["schedule"] == backup
    template = schedule["spec"]["template"]
    assert template["includedNamespaces"] == [NAMESPACE] and template["storageLocation"] == "lhasa"
    # the parts volume only: the namespace's Secret (signing key, passphrase) never goes to the bucket, nor a
    # claim the zone's operators made (selected by the claim's labels; its volume comes along)
    assert template["includedResources"] == ["persistentvolumeclaims", "persistentvolumes"]
    claim = objects[("PersistentVolumeClaim", sc.PARTS_CLAIM)]
    selector = template["labelSelector"]["matchLabels"]
    assert selector.items() <= claim["metadata"]["labels"].items()
    assert selector[lb.COMPONENT] == "scanner"
    assert template["snapshotVolumes"] is True and template["snapshotMoveData"] is True
    assert template["ttl"] == "2160h0m0s"


def test_the_scan_is_an_indexed_job_of_one_shard_per_k_systems(example_register: m.Register) -> None:
    for per_shard in (1, 7, 10, 39, 500):
        objects = rendered(example_register, scanner_settings(scanner_systems_per_shard=per_shard))
        job = job_of(objects, sc.SCAN_JOB)
        count = math.ceil(len(example_register.systems) / per_shard)
        # all at once while the default zone quota (16 CPU, 32 Gi) admits them: 1 CPU / 2 Gi limits each
        assert (job["completionMode"], job["completions"], job["parallelism"]) == ("Indexed", count, min(count, 16))
        assert job["backoffLimitPerIndex"] == 2 and "backoffLimit" not in job
        assert job["activeDeadlineSeconds"] == 120 * 60
        rules = job["podFailurePolicy"]["rules"]
        # an input error cannot be retried away; findings are no failure (--no-gate: exit 0 with the part)
        assert rules[0] == {"action": "FailIndex", "onExitCodes": {"containerName": "scan", "operator": "In",
                                                                   "values": [2]}}
        assert job["template"]["spec"]["containers"][0]["args"][-1] == "--no-gate"
        assert job["template"]["spec"]["restartPolicy"] == "Never"  # required by podFailurePolicy
    objects = rendered(example_register)
    # the merge after the scan's latest end: up to 60 min late + the 120-min deadline + 15 min
    for name, schedule in ((sc.SCAN_JOB, "0 19 * * *"), (sc.MERGE_JOB, "15 22 * * *")):
        spec = objects[("CronJob", name)]["spec"]
        assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (schedule, "Etc/UTC", "Forbid")
        assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    latest = rendered(example_register, scanner_settings(scanner_time_utc="20:00", scanner_deadline_minutes=180))
    # the latest start allowed (20:00 + 1 h + 3 h = 24:00): the merge runs after midnight, which it may (it
    # judges nothing; the parts carry their day)
    assert latest[("CronJob", sc.MERGE_JOB)]["spec"]["schedule"] == "15 0 * * *"
    args = job_of(objects, sc.MERGE_JOB)["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--max-age") + 1] == "375m"  # 22:15 + 1 h late + 2 h deadline - 19:00
    late = job_of(latest, sc.MERGE_JOB)["template"]["spec"]["containers"][0]["args"]
    assert late[late.index("--max-age") + 1] == "495m"
    for deadline in (10, 120, 600):  # a night's parts are always younger than a day, the previous night's older
        assert sc.part_max_age_minutes(deadline) < 24 * 60
    merge = job_of(objects, sc.MERGE_JOB)
    assert "completionMode" not in merge and merge["completions"] == 1


def test_restricted_pod_security_and_no_rights(example_register: m.Register) -> None:
    objects = rendered(example_register)
    account = objects[("ServiceAccount", sc.SCANNER)]
    assert account["automountServiceAccountToken"] is False
    assert not [k for k, _ in objects if k in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")]
    zone_tenancy = next(s.tenancy for s in render_site(example_register, scanner_settings()).segments
                        if s.zone == "security-management")
    for binding in (o for o in zone_tenancy if o["kind"] == "RoleBinding"):  # the operators' groups only
        assert all(s["kind"] == "Group" for s in binding["subjects"])
    limit = next(o for o in zone_tenancy if o["kind"] == "LimitRange")["spec"]["limits"][0]["max"]
    for name in (sc.SCAN_JOB, sc.MERGE_JOB):
        pod = job_of(objects, name)["template"]["spec"]
        assert pod["serviceAccountName"] == sc.SCANNER and pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "hostNetwork" not in pod and "hostPID" not in pod
        (init,) = pod["initContainers"]  # the snapshot's unpacking: restricted like the scanner
        (container,) = pod["containers"]
        for each in (init, container):
            security = each["securityContext"]
            assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
            assert security["capabilities"] == {"drop": ["ALL"]} and security["runAsNonRoot"] is True
            resources = each["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
            assert millicores(resources["limits"]["cpu"]) <= millicores(limit["cpu"])
            assert bytes_of(resources["limits"]["memory"]) <= bytes_of(limit["memory"])
            assert each["image"] == IMAGE
        assert next(m for m in container["volumeMounts"] if m["name"] == "register")["readOnly"] is True
        assert not [m for m in init["volumeMounts"] if m["name"] in ("keys", "parts")]  # no key, no parts
        kinds = {next(k for k in v if k != "name") for v in pod["volumes"]}
        assert kinds == {"emptyDir", "persistentVolumeClaim", "secret", "projected"}  # no hostPath
        secret = next(v["secret"] for v in pod["volumes"] if "secret" in v)
        assert secret["secretName"] == "xzgov-scanner-signing-key"
        assert next(v for v in container["volumeMounts"] if v["name"] == "keys")["readOnly"] is True


def test_image_pinned_by_digest_in_the_regions_registry(example_register: m.Register) -> None:
    settings = scanner_settings()
    pattern = re.compile(rf"^{re.escape(settings.image_registry)}/[^@]+@sha256:[0-9a-f]{{64}}$")  # admission's rule
    for name in (sc.SCAN_JOB, sc.MERGE_JOB):
        (container,) = job_of(rendered(example_register), name)["template"]["spec"]["containers"]
        assert container["image"] == IMAGE and pattern.match(container["image"])


@pytest.mark.parametrize(("key", "value"), [
    ("scanner_image", "registry.xzgov.internal/xzgov/xzgov:1.4"),  # a tag can be moved
    ("scanner_image", "docker.io/xzgov/xzgov@sha256:" + "3f" * 32),  # not the region's registry
    ("scanner_image", "registry.xzgov.internal/xzgov/xzgov@sha256:3f3f"),
    ("scanner_time_utc", "7pm"),
    ("scanner_deadline_minutes", 5),
    ("scanner_systems_per_shard", 0),
    ("scanner_time_utc", "23:50"),  # shards could run past midnight UTC and judge two different days
])
def test_bad_setting_is_a_located_error(key: str, value: Any) -> None:
    with pytest.raises(UsageError) as raised:
        Settings(site="lhasa", **{"scanner_image": IMAGE, key: value})
    (diagnostic,) = raised.value.diagnostics
    camel = re.sub(r"_([a-z])", lambda match: match[1].upper(), key)
    assert diagnostic.file == "Pulumi.lhasa.yaml" and diagnostic.path == f"xzgov:{camel}"
    assert diagnostic.hint


@pytest.mark.parametrize("version", ["1.28", "1.29"])
def test_an_old_cluster_is_refused(version: str) -> None:
    """Before 1.30 the admission policies are a beta API, off by default (and the scan Job's
    backoffLimitPerIndex alpha in 1.28): a plan for such a cluster is refused at the key."""
    with pytest.raises(UsageError) as raised:
        Settings(site="lhasa", kubernetes_version=version, scanner_image=IMAGE)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.path == "xzgov:kubernetesVersion" and "1.30" in diagnostic.message


def test_rendered_only_where_the_region_is_scanned(example_register: m.Register) -> None:
    assert render_site(example_register, Settings(site="lhasa")).scanner == []  # no image: no scanner
    assert render_site(example_register, scanner_settings("dr")).scanner == []  # the primary scans
    assert rendered(example_register, scanner_settings("dr", disaster_declared=("lhasa",)))


def test_the_register_snapshot_is_the_register(example_register: m.Register, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Rebuilt from the ConfigMaps and the mounts, the register loads and has the same digest; chunks stay
    under the ConfigMap limit."""
    monkeypatch.setattr(sc, "CHUNK_BYTES", 20_000)
    objects = render_site(example_register, scanner_settings()).scanner
    maps = [o for o in objects if o["kind"] == "ConfigMap"]
    assert len(maps) > 1
    assert all(sum(len(base64.b64decode(v)) for v in o["binaryData"].values()) <= 20_000 for o in maps)
    # the Job object does not grow with the register: one projected volume, no mount per file
    for job in (sc.SCAN_JOB, sc.MERGE_JOB):
        pod = next(o for o in objects if o["metadata"]["name"] == job)["spec"]["jobTemplate"]["spec"]["template"]
        assert len(pod["spec"]["volumes"]) == 5 and len(pod["spec"]["containers"][0]["volumeMounts"]) == 4
    root = materialise(objects, sc.SCAN_JOB, tmp_path / "register")
    assert (root / "region.yaml").read_bytes() == (Path(example_register.root) / "region.yaml").read_bytes()
    assert register_digest(load_register(root)) == register_digest(example_register)
    assert (root / "compliance" / "attestations" / "ybj" / "medical-insurance.yaml").is_file()


def test_shard_command_lines_cover_every_shard_once(example_register: m.Register) -> None:
    objects = rendered(example_register, scanner_settings(scanner_systems_per_shard=7))
    job = job_of(objects, sc.SCAN_JOB)
    count = job["completions"]
    (container,) = job["template"]["spec"]["containers"]
    args = container["args"]
    shard_text, by = args[args.index("--shard") + 1], args[args.index("--shard-by") + 1]
    seen: list[int] = []
    judged: list[str] = []
    outs: list[str] = []
    for index in range(count):  # JOB_COMPLETION_INDEX of each pod
        shard = parse_shard(shard_from_index(shard_text, {"JOB_COMPLETION_INDEX": str(index)}), by)
        assert shard.count == count
        seen.append(shard.index)
        judged += shard_systems(example_register, shard)
        outs.append(args[args.index("--out") + 1].replace("$(JOB_COMPLETION_INDEX)", str(index)))
    assert sorted(seen) == list(range(1, count + 1))
    assert sorted(judged) == sorted(example_register.systems)  # every system once
    merge_args = job_of(objects, sc.MERGE_JOB)["template"]["spec"]["containers"][0]["args"]
    assert merge_args[:2] == ["scan", "merge"] and merge_args[2:2 + count] == outs  # every part, in order
    for bad in ({}, {"JOB_COMPLETION_INDEX": "x"}):
        with pytest.raises(UsageError) as raised:
            shard_from_index(shard_text, bad)
        assert raised.value.diagnostics[0].path == "JOB_COMPLETION_INDEX"
    assert shard_from_index("2/5", {}) == "2/5"


def materialise(objects: list[dict[str, Any]], job: str, register_dir: Path) -> Path:
    """What the job's container sees below ``/register``: the ConfigMaps' chunks in the projected volume,
    unpacked by the init container's own command line (run for real)."""
    from xzgov.cli.main import _dispatch

    maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    cron = next(o for o in objects if o["kind"] == "CronJob" and o["metadata"]["name"] == job)
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (init,) = pod["initContainers"]
    mounts = {m["mountPath"]: volumes[m["name"]] for m in init["volumeMounts"]}
    projected = register_dir.parent / f"{register_dir.name}-snapshot"
    projected.mkdir(parents=True)
    for source in mounts[sc.SNAPSHOT_DIR]["projected"]["sources"]:
        for key, value in maps[source["configMap"]["name"]]["binaryData"].items():
            (projected / key).write_bytes(base64.b64decode(value))
    assert "emptyDir" in mounts[sc.REGISTER_DIR]
    paths = {sc.SNAPSHOT_DIR: str(projected), sc.REGISTER_DIR: str(register_dir)}
    args = [paths.get(arg, arg) for arg in init["args"]]
    assert init["command"] == ["xzgov"] and _dispatch(args) == 0, args
    return register_dir


def test_rendered_jobs_run_for_real(example_register: m.Register, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shard's and the merge's rendered command line, run with the paths the volumes give: the
    merge verifies and merges the parts into one signed report set of the whole register."""
    objects = render_site(example_register, scanner_settings(scanner_systems_per_shard=20)).scanner
    root = materialise(objects, sc.SCAN_JOB, tmp_path / "register")
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    key = SM2PrivateKey.generate()
    keys.write_private_key(key_dir / "signing-key.pem", key)
    keys.write_public_key(key_dir / "signing-key.pub.pem", key.public_key)
    (tmp_path / "parts").mkdir()
    paths = {sc.REGISTER_DIR: str(root), sc.PARTS_DIR: str(tmp_path / "parts"), sc.KEYS_DIR: str(key_dir)}

    def local(arg: str) -> str:
        for inside, outside in paths.items():
            if arg == inside or arg.startswith(inside + "/"):
                return outside + arg[len(inside):]
        return arg

    for name in ("XZGOV_SIGNING_KEY", "XZGOV_KEY_PASSPHRASE", "XZGOV_TRUSTED_KEYS"):
        monkeypatch.delenv(name, raising=False)
    job = job_of({(o["kind"], o["metadata"]["name"]): o for o in objects}, sc.SCAN_JOB)
    (container,) = job["template"]["spec"]["containers"]
    assert container["command"] == ["xzgov"]
    for index in range(job["completions"]):
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        args = [local(a.replace("$(JOB_COMPLETION_INDEX)", str(index))) for a in container["args"]]
        result: CliResult = run(capsys, *args)
        assert result.code in (0, 1), result.err  # 1: findings, the part is written
        part = json.loads((tmp_path / "parts" / f"part-{index}" / PART_NAME).read_text("utf-8"))
        assert part["shard"] == {"index": index + 1, "count": job["completions"], "by": "name"}
    monkeypatch.delenv("JOB_COMPLETION_INDEX")
    outside = run(capsys, "scan", "--root", root, "--shard", "auto/2", "--out", tmp_path / "x",
                  "--key", key_dir / "signing-key.pem")
    assert outside.code == 2 and "JOB_COMPLETION_INDEX" in outside.err  # not in an Indexed Job: exit 2, named
    merge = job_of({(o["kind"], o["metadata"]["name"]): o for o in objects}, sc.MERGE_JOB)
    result = run(capsys, *(local(a) for a in merge["template"]["spec"]["containers"][0]["args"]))
    assert result.code in (0, 1) and f"merged {job['completions']} part(s)" in result.err, result.err
    merged = tmp_path / "parts" / "merged"
    assert bundle.verify_bundle(merged / "xzgov-bundle.json", [keys.fingerprint(key.public_key)]).ok
    report = json.loads((merged / "compliance-report.json").read_text("utf-8"))
    assert len(report["systems"]) == len(example_register.systems)


def test_the_component_creates_the_scanner_after_its_namespace(example_register: m.Register) -> None:
    settings = scanner_settings()
    recording = evaluate(lambda: build(example_register, settings), stack="lhasa")
    objects = render_site(example_register, settings).scanner
    components = {r.urn: r for r in recording.components()}
    by_name = {r.name: r for r in recording.custom()}
    namespace = by_name[f"namespace/{NAMESPACE}"]
    assert components[namespace.parent].type == SEGMENT_TYPE
    types = {"CronJob": "kubernetes:batch/v1:CronJob", "ConfigMap": "kubernetes:core/v1:ConfigMap",
             "PersistentVolumeClaim": "kubernetes:core/v1:PersistentVolumeClaim",
             "ServiceAccount": "kubernetes:core/v1:ServiceAccount",
             "NetworkPolicy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
             "Schedule": "kubernetes:velero.io/v1:Schedule"}
    for obj in objects:
        registration = by_name[resource_name(obj)]
        assert registration.type == types[obj["kind"]]
        assert components[registration.parent].type == SCANNER_TYPE
        assert namespace.urn in registration.dependencies
    claim = by_name[f"{NAMESPACE}/persistentvolumeclaim/{sc.PARTS_CLAIM}"]
    assert claim.protect and claim.retain_on_delete  # the parts and merged reports survive a removal


@pytest.fixture(scope="module")
def connectivity(example_register: m.Register) -> Any:
    render = render_site(example_register, scanner_settings())
    try:
        return render, analyse(example_register, render), analyse(example_register,
                                                                  render_site(example_register, Settings("lhasa")))
    except AnalyserUnavailable as exc:  # pragma: no cover - see docs/stacks.md (PyYAML pin conflict)
        pytest.skip(f"network-config-analyzer is not installed: {exc}")


def test_the_scanner_reaches_only_dns_and_nothing_reaches_it(connectivity: Any) -> None:
    render, with_scanner, without = connectivity
    scanner_pods = {f"{NAMESPACE}/{sc.SCAN_JOB}", f"{NAMESPACE}/{sc.MERGE_JOB}"}
    assert scanner_pods <= set(with_scanner.pods)  # the analyser saw the scanner's pods and policy
    assert any(o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == sc.SCANNER for o in render.scanner)
    from_scanner = {c for c in with_scanner.allowed if c.source in scanner_pods}
    assert {(c.target.pod, c.target.protocol, c.target.port) for c in from_scanner} == {
        (DNS, "UDP", 53), (DNS, "TCP", 53)}
    assert len(from_scanner) == 4  # two pods × DNS over UDP and TCP
    assert not [c for c in with_scanner.allowed if c.target.pod in scanner_pods]
    # the scanner changes nothing else: every other connection is the same as without it
    assert with_scanner.allowed - from_scanner == without.allowed
    assert not [line for line in with_scanner.ip_rules if NAMESPACE in line and "xzgov-scan" in line]
    assert INTERNET not in {c.source for c in from_scanner}


@pytest.mark.parametrize(("quota", "per_shard", "at_once"), [
    (ZoneQuota(), 10, 4),                                  # the example: 4 shards, all at once
    (ZoneQuota(), 1, 16),                                  # 39 shards: 16 CPU admit 16 at a time
    (ZoneQuota(cpu="2", memory="4Gi", pods=20), 10, 2),    # the dev stack's quota
    (ZoneQuota(cpu="64", memory="9Gi", pods=200), 1, 4),   # memory decides
    (ZoneQuota(cpu="64", memory="512Gi", pods=3), 1, 3),   # pods decide
])
def test_zone_quota_admits_the_shards_at_once(example_register: m.Register, quota: ZoneQuota, per_shard: int,
                                              at_once: int) -> None:
    """The shards running at once fit the security-management tenancy's quota (pods, CPU, memory limits); the
    Job still has one completion per shard."""
    settings = scanner_settings(zone_quota=quota, scanner_systems_per_shard=per_shard)
    job = job_of(rendered(example_register, settings), sc.SCAN_JOB)
    assert job["completions"] == sc.shard_count(example_register, per_shard)
    assert job["parallelism"] == at_once
    limits = job["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert at_once * millicores(limits["cpu"]) <= millicores(quota.cpu)
    assert at_once * bytes_of(limits["memory"]) <= bytes_of(quota.memory) and at_once <= quota.pods


def test_a_zone_quota_without_room_for_one_shard_is_refused(example_register: m.Register) -> None:
    settings = scanner_settings(zone_quota=ZoneQuota(cpu="500m", memory="32Gi", pods=10))
    with pytest.raises(UsageError) as refused:
        rendered(example_register, settings)
    problem = refused.value.diagnostics[0]
    assert problem.path == "xzgov:zoneQuota" and "cpu 1, memory 2Gi" in problem.hint


def test_the_merge_has_memory_for_the_whole_register(example_register: m.Register) -> None:
    """The merge holds every part's results at once (≈ 285 KiB per system measured): its memory grows with
    the register, and a zone quota that cannot hold it is refused at plan time, not OOM-killed nightly."""
    merge = job_of(rendered(example_register), sc.MERGE_JOB)["template"]["spec"]
    assert merge["containers"][0]["args"][-1] == "--no-gate"
    assert merge["containers"][0]["resources"]["limits"]["memory"] == "2Gi"  # 39 systems: a shard's
    assert merge["initContainers"][0]["resources"] == sc.RESOURCES
    big = builders.register(*(builders.system(f"s-{i:05d}") for i in range(10_000)))
    resources = sc.merge_resources(big, Settings(site="lhasa"))
    limit = bytes_of(resources["limits"]["memory"])
    assert limit >= 10_000 * 285 * 1024 * 1.3 and limit % (256 << 20) == 0  # a margin over the measured
    assert bytes_of(resources["requests"]["memory"]) == limit // 2
    with pytest.raises(UsageError) as refused:
        sc.merge_resources(big, Settings(site="lhasa", zone_quota=ZoneQuota(memory="3Gi")))
    problem = refused.value.diagnostics[0]
    assert problem.path == "xzgov:zoneQuota" and resources["limits"]["memory"] in problem.hint

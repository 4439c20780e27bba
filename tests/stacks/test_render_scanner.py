"""The compliance scanner as Kubernetes CronJobs (``stacks/render/scanner.py``): schema-valid objects, the
Indexed Job, the restricted Pod Security profile, the image by digest, the network policy under the real
analyser, and the rendered command lines run for real (every shard, then the merge)."""

from __future__ import annotations

import base64
import ipaddress
import json
import math
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from compliance.reports import PART_NAME
from compliance.scan.shard import MAX_SHARDS, parse_shard, register_digest, shard_systems
from stacks.components import SCANNER_TYPE, SEGMENT_TYPE, resource_name
from stacks.connectivity import AnalyserUnavailable, analyse
from stacks.mocks import evaluate
from stacks.program import build
from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render import scanner as sc
from stacks.render.context import site_context
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
from xzgov.facts.resources import pod_spec

IMAGE = "registry.xzgov.internal/xzgov/xzgov@sha256:" + "3f" * 32
#: the shards' signer pinned in the stack file (xzgov:scannerTrustedFingerprint)
FINGERPRINT = "ab" * 32
#: the scanner's own namespace (not the zone's tenancy zone-security-management: its operators read Secrets)
NAMESPACE = "xzgov-scanner"
#: the security officers' group (xzgov:scannerKeyGroups), no operator or department group of the example region
OFFICERS = "security-officers"


def scanner_settings(site: str = "lhasa", **extra: Any) -> Settings:
    return Settings(site=site, **{"scanner_image": IMAGE, "scanner_trusted_fingerprint": FINGERPRINT, **extra})


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
        ("LimitRange", "tenant-limits"), ("Namespace", NAMESPACE),
        ("NetworkPolicy", "default-deny"), ("NetworkPolicy", "xzgov-scanner"),
        ("PersistentVolumeClaim", "xzgov-scan-parts"), ("ResourceQuota", "tenant-quota"),
        ("Role", sc.VIEWER_ROLE), ("RoleBinding", sc.VIEWER_ROLE),
        ("Schedule", "xzgov-scan-results"), ("ServiceAccount", "default"), ("ServiceAccount", "xzgov-scanner")]
    assert {o["metadata"]["namespace"] for o in rendered(example_register).values()
            if o["kind"] not in ("Schedule", "Namespace")} == {NAMESPACE}
    keyed = render_site(example_register, scanner_settings(scanner_key_groups=(OFFICERS,))).scanner
    assert validate_objects(keyed, "1.30") == []


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
    # the parts volume only: the namespace's Secret (signing key, passphrase) never goes to the bucket, nor any
    # other claim (selected by the claim's labels; its volume comes along)
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
        assert rules[0] == {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [2]}}
        assert job["template"]["spec"]["containers"][0]["args"][-1] == "--no-gate"
        assert job["template"]["spec"]["restartPolicy"] == "Never"  # required by podFailurePolicy
    objects = rendered(example_register)
    # the merge after the scan's latest end: up to 60 min late + the 120-min deadline + 15 min
    for name, schedule in ((sc.SCAN_JOB, "0 19 * * *"), (sc.MERGE_JOB, "15 22 * * *")):
        spec = objects[("CronJob", name)]["spec"]
        assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (schedule, "Etc/UTC", "Forbid")
        # a shard run's Job keeps its pod per shard: one run of each outcome is kept, three of the merge's
        kept = 1 if name == sc.SCAN_JOB else 3
        assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (kept, kept)
    latest = rendered(example_register, scanner_settings(scanner_time_utc="20:00", scanner_deadline_minutes=180))
    # a late start (20:00 UTC = 04:00 in the region, ending by 08:00 there): the merge runs after UTC midnight,
    # which it may (it judges nothing; the parts carry their day)
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
    objects = rendered(example_register, scanner_settings(scanner_key_groups=(OFFICERS,)))
    for name in (sc.SCANNER, "default"):  # the controller-made account too: a pod not naming ours gets no token
        assert objects[("ServiceAccount", name)]["automountServiceAccountToken"] is False
    assert not [k for k, _ in objects if k in ("ClusterRole", "ClusterRoleBinding")]
    for binding in (o for o in objects.values() if o["kind"] == "RoleBinding"):  # groups only: no rights for the pods
        assert all(s["kind"] == "Group" for s in binding["subjects"])
    limit = objects[("LimitRange", "tenant-limits")]["spec"]["limits"][0]["max"]
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
        # the private key alone: a public key from the Secret is trusted by nothing, and a required item the
        # Secret lacks keeps the pod from starting
        assert secret["items"] == [{"key": "signing-key.pem", "path": "signing-key.pem"}]
        assert secret["defaultMode"] == 0o440
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
    # shards could run past the region's midnight (16:00 UTC: a shard judges the region's day, UTC+8) and judge
    # two different days; 23:50 UTC (07:50 in the region) was refused instead, crossing only UTC midnight
    ("scanner_time_utc", "15:30"),
])
def test_bad_setting_is_a_located_error(key: str, value: Any) -> None:
    with pytest.raises(UsageError) as raised:
        Settings(site="lhasa", **{"scanner_image": IMAGE, "scanner_trusted_fingerprint": FINGERPRINT, key: value})
    (diagnostic,) = raised.value.diagnostics
    camel = re.sub(r"_([a-z])", lambda match: match[1].upper(), key)
    assert diagnostic.file == "Pulumi.lhasa.yaml" and diagnostic.path == f"xzgov:{camel}"
    assert diagnostic.hint


@pytest.mark.parametrize(("start", "deadline", "refused"), [
    ("19:00", 120, False), ("23:50", 120, False), ("22:00", 600, False), ("16:00", 600, False),
    ("05:00", 600, False), ("05:01", 600, True), ("13:00", 120, False), ("13:01", 120, True), ("15:59", 10, True),
])
def test_every_shard_judges_one_region_day(start: str, deadline: int, refused: bool) -> None:
    """Accepted exactly when every shard starts within one day of the region (the day each shard judges: the
    region_day of its start). The Job starts up to 60 min late, and a shard of a later round may start until the
    deadline ends the Job."""
    import datetime as dt

    from xzgov.core.clock import region_day

    hour, minute = map(int, start.split(":"))
    first = dt.datetime(2026, 6, 1, hour, minute, tzinfo=dt.UTC)
    last = first + dt.timedelta(minutes=60 + deadline, seconds=-1)  # the latest instant a shard can start
    assert (region_day(first.isoformat()) != region_day(last.isoformat())) == refused  # the table is right
    if refused:
        with pytest.raises(UsageError) as raised:
            Settings(site="lhasa", scanner_time_utc=start, scanner_deadline_minutes=deadline)
        (problem,) = raised.value.diagnostics
        assert "region's midnight" in problem.message and problem.path == "xzgov:scannerTimeUtc"
    else:
        Settings(site="lhasa", scanner_time_utc=start, scanner_deadline_minutes=deadline)


@pytest.mark.parametrize("version", ["1.28", "1.29"])
def test_an_old_cluster_is_refused(version: str) -> None:
    """Before 1.30 the admission policies are a beta API, off by default (and the scan Job's
    backoffLimitPerIndex alpha in 1.28): a plan for such a cluster is refused at the key."""
    with pytest.raises(UsageError) as raised:
        Settings(site="lhasa", kubernetes_version=version, scanner_image=IMAGE, scanner_trusted_fingerprint=FINGERPRINT)
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
    # the register's own catalogues, which the checkout's scan judges by (the pods read the image's)
    for name in ("standards/scoring.yaml", "standards/gbt22239-2019/level3-general.yaml",
                 "standards/schema/catalogue.schema.json"):
        assert (root / name).read_bytes() == (Path(example_register.root) / name).read_bytes(), name
    assert not any(p.suffix in (".py", ".pyc") for p in (root / "standards").rglob("*"))


def _register_with_records(root: Path) -> Path:
    """The example region's manifests and signed records copied to ``root``."""
    repo = Path(example_root())
    root.mkdir()
    (root / "region.yaml").write_bytes((repo / "region.yaml").read_bytes())
    shutil.copytree(repo / "systems", root / "systems")
    shutil.copytree(repo / "compliance" / "attestations", root / "compliance" / "attestations")
    return root


def test_the_snapshot_carries_hidden_files_of_the_records(tmp_path: Path) -> None:
    """A signed set may name a hidden evidence file (``evidence/.notes.md``): the snapshot left it out, so every
    shard pod exited 2 (evidence file not found) while the checkout's scan passed — no nightly report."""
    root = _register_with_records(tmp_path / "root")
    hidden = root / "compliance" / "attestations" / "ybj" / "evidence" / ".private" / ".notes.md"
    hidden.parent.mkdir(parents=True)
    hidden.write_text("现场核查记录\n", encoding="utf-8")
    objects = render_site(load_register(root), scanner_settings()).scanner
    unpacked = materialise(objects, sc.SCAN_JOB, tmp_path / "register")
    assert (unpacked / hidden.relative_to(root)).read_bytes() == hidden.read_bytes()


@pytest.mark.parametrize("secret", [
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg\n-----END PRIVATE KEY-----\n",
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----\n",
    "0123456789abcdef0123456789abcdef\n",  # a bare SM4 key (the crypto service's master.key)
    "systems:\n  dept-a:\n    hmac_key: '" + "ab" * 32 + "'\n",
], ids=["pkcs8", "sec1", "sm4", "hmac"])
def test_a_secret_key_among_the_records_is_refused_not_put_in_a_config_map(tmp_path: Path, secret: str) -> None:
    """A reviewer put ``compliance/attestations/ybj/.signer.pem`` (a private key) in the checkout: the snapshot took
    every file of the records' folders, hidden ones too, into ConfigMaps — plain text to whoever may read the
    namespace. A signed bundle refuses such a file; so does the snapshot now, naming it."""
    root = _register_with_records(tmp_path / "root")
    key = root / "compliance" / "attestations" / "ybj" / ".signer.pem"
    key.write_text(secret, encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        render_site(load_register(root), scanner_settings())
    assert "secret key" in refused.value.message and "ybj/.signer.pem" in refused.value.message
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.file == str(key) and "docs/crypto.md" in diagnostic.hint


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
    for text in ("auto/0", "auto/x", "auto/"):  # an impossible range ("indices 0–-1"), or "'1/x'" quoted
        with pytest.raises(UsageError) as raised:
            shard_from_index(text, {"JOB_COMPLETION_INDEX": "0"})
        assert raised.value.message == f"--shard {text!r}: expected auto/N with N ≥ 1 shards"


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


def _volumes(objects: list[dict[str, Any]], key: SM2PrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> tuple[Path, Path, Callable[[str], str]]:
    """The pods' volumes as local folders — the register unpacked by the rendered init container, the Secret
    holding ``key`` (signing-key.pem, mode 0440 as the kubelet mounts it for the pod's fsGroup), an empty parts
    volume — and the mapping of a rendered argument's path onto them; no signing or trust variable of this
    process leaks into the run."""
    root = materialise(objects, sc.SCAN_JOB, tmp_path / "register")
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    keys.write_private_key(key_dir / "signing-key.pem", key)
    (key_dir / "signing-key.pem").chmod(0o440)
    (tmp_path / "parts").mkdir()
    paths = {sc.REGISTER_DIR: str(root), sc.PARTS_DIR: str(tmp_path / "parts"), sc.KEYS_DIR: str(key_dir)}

    def local(arg: str) -> str:
        for inside, outside in paths.items():
            if arg == inside or arg.startswith(inside + "/"):
                return outside + arg[len(inside):]
        return arg

    for name in ("XZGOV_SIGNING_KEY", "XZGOV_KEY_PASSPHRASE", "XZGOV_TRUSTED_KEYS"):
        monkeypatch.delenv(name, raising=False)
    return root, key_dir, local


def test_rendered_jobs_run_for_real(example_register: m.Register, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shard's and the merge's rendered command line, run with the paths the volumes give: the
    merge verifies and merges the parts into one signed report set of the whole register."""
    key = SM2PrivateKey.generate()
    objects = render_site(example_register, scanner_settings(
        scanner_systems_per_shard=20, scanner_trusted_fingerprint=keys.fingerprint(key.public_key))).scanner
    root, key_dir, local = _volumes(objects, key, tmp_path, monkeypatch)
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
    """The Scanner component owns its Namespace (the first object) and creates everything else after it; the
    Namespace is stateful (the parts claim, the signing-key Secret) and protected and retained like a tenancy's."""
    settings = scanner_settings(scanner_key_groups=(OFFICERS,))
    recording = evaluate(lambda: build(example_register, settings), stack="lhasa")
    objects = render_site(example_register, settings).scanner
    components = {r.urn: r for r in recording.components()}
    by_name = {r.name: r for r in recording.custom()}
    namespace = by_name[f"namespace/{NAMESPACE}"]
    assert components[namespace.parent].type == SCANNER_TYPE
    assert namespace.protect and namespace.retain_on_delete
    segment = by_name["namespace/zone-security-management"]
    assert components[segment.parent].type == SEGMENT_TYPE  # the zone keeps its own, apart
    types = {"CronJob": "kubernetes:batch/v1:CronJob", "ConfigMap": "kubernetes:core/v1:ConfigMap",
             "PersistentVolumeClaim": "kubernetes:core/v1:PersistentVolumeClaim",
             "ServiceAccount": "kubernetes:core/v1:ServiceAccount", "Namespace": "kubernetes:core/v1:Namespace",
             "ResourceQuota": "kubernetes:core/v1:ResourceQuota", "LimitRange": "kubernetes:core/v1:LimitRange",
             "Role": "kubernetes:rbac.authorization.k8s.io/v1:Role",
             "RoleBinding": "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
             "NetworkPolicy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
             "Schedule": "kubernetes:velero.io/v1:Schedule"}
    assert objects[0]["kind"] == "Namespace"
    for obj in objects:
        registration = by_name[resource_name(obj)]
        # the namespace's controller-made default account is patched, not created (stacks.components.PATCHED)
        patched = (obj["kind"], obj["metadata"]["name"]) == ("ServiceAccount", "default")
        assert registration.type == types[obj["kind"]] + ("Patch" if patched else "")
        assert components[registration.parent].type == SCANNER_TYPE
        if obj is not objects[0]:
            assert namespace.urn in registration.dependencies
            assert segment.urn not in registration.dependencies
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


def test_the_scanner_reaches_nothing_and_nothing_reaches_it(connectivity: Any) -> None:
    # it reads and writes volumes only: the DNS it was allowed was never used (least privilege)
    render, with_scanner, without = connectivity
    scanner_pods = {f"{NAMESPACE}/{sc.SCAN_JOB}", f"{NAMESPACE}/{sc.MERGE_JOB}"}
    assert scanner_pods <= set(with_scanner.pods)  # the analyser saw the scanner's pods and policy
    assert any(o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == sc.SCANNER for o in render.scanner)
    assert not any(o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-dns"
                   and o["metadata"]["namespace"] == NAMESPACE for o in render.scanner)
    assert not [c for c in with_scanner.allowed if c.source in scanner_pods]
    assert not [c for c in with_scanner.allowed if c.target.pod in scanner_pods]
    # the scanner changes nothing else: every other connection is the same as without it
    assert with_scanner.allowed == without.allowed
    assert not [line for line in with_scanner.ip_rules if NAMESPACE in line and "xzgov-scan" in line]


@pytest.mark.parametrize(("quota", "per_shard", "at_once"), [
    (ZoneQuota(), 10, 4),                                  # the example: 4 shards, all at once
    (ZoneQuota(), 1, 16),                                  # 39 shards: 16 CPU admit 16 at a time
    (ZoneQuota(cpu="2", memory="4Gi", pods=20), 10, 2),    # the dev stack's quota
    (ZoneQuota(cpu="64", memory="9Gi", pods=200), 1, 4),   # memory decides
    (ZoneQuota(cpu="64", memory="512Gi", pods=3), 1, 3),   # pods decide
])
def test_zone_quota_admits_the_shards_at_once(example_register: m.Register, quota: ZoneQuota, per_shard: int,
                                              at_once: int) -> None:
    """The shards running at once fit the scanner namespace's quota (xzgov:zoneQuota: pods, CPU, memory limits);
    the Job still has one completion per shard."""
    settings = scanner_settings(zone_quota=quota, scanner_systems_per_shard=per_shard)
    objects = rendered(example_register, settings)
    job = job_of(objects, sc.SCAN_JOB)
    hard = objects[("ResourceQuota", "tenant-quota")]["spec"]["hard"]
    assert (millicores(hard["limits.cpu"]), bytes_of(hard["limits.memory"]), int(hard["pods"])) == (
        millicores(quota.cpu), bytes_of(quota.memory), quota.pods)
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


def test_a_shard_has_memory_for_the_whole_register_it_loads(example_register: m.Register) -> None:
    """Every shard loads the whole register (measured ≈ 98 KiB per system of it: 2,487 MiB peak at 25,000 systems):
    its limit grows with the register, and no more shards run at once than the quota's memory holds. A fixed
    2 GiB was exceeded from about 21,500 systems: every index killed for memory, no report."""
    assert sc.shard_resources(example_register) == sc.RESOURCES  # 39 systems: the floor
    shard = job_of(rendered(example_register), sc.SCAN_JOB)["template"]["spec"]["containers"][0]
    assert shard["resources"] == sc.RESOURCES
    big = builders.register(*(builders.system(f"s-{i:05d}") for i in range(25_000)))
    resources = sc.shard_resources(big)
    limit = bytes_of(resources["limits"]["memory"])
    assert limit >= 25_000 * 98 * 1024 * 1.25 + (128 << 20) and limit % (256 << 20) == 0  # a margin over the measured
    assert bytes_of(resources["requests"]["memory"]) == limit // 2
    quota = ZoneQuota(cpu="16", memory="32Gi", pods=200)
    at_once = sc.shards_at_once(Settings(site="lhasa", zone_quota=quota), 2_500, resources)
    assert at_once == bytes_of("32Gi") // limit < 16  # memory decides, not the 16 CPUs
    merge = sc.merge_resources(big, Settings(site="lhasa", zone_quota=ZoneQuota(memory="64Gi")))
    assert bytes_of(merge["limits"]["memory"]) >= limit  # at least a shard's


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


# ------------------------------------------------------------------ review of the scanner CronJobs (findings 1–8)


def _with_second_dr_site(register: m.Register) -> m.Register:
    """The example register with a second DR site ``dr2`` that has a security-management network too."""
    region = register.region
    sites = {**region.sites, "dr2": m.Site("dr2", "第二灾备中心", "dr", "xzgov-backup-dr2", "https://oss.dr2.xzgov.internal")}
    zones = {zid: (replace(zone, cidrs={**zone.cidrs, "dr2": ipaddress.IPv4Network("10.250.0.0/16")})
                   if zone.kind == "security-management" else zone) for zid, zone in region.zones.items()}
    return replace(register, region=replace(region, sites=sites, zones=zones))


def test_the_scanner_moves_only_when_the_primary_is_declared_lost(example_register: m.Register) -> None:
    """Finding 1: a DR site scans only once the primary's id is declared lost, and only the DR site that
    holds the primary's backups — never two signed report sets a night."""
    assert sc.scanner_here(site_context(example_register, scanner_settings("dr", disaster_declared=("lhasa",))))
    assert sc.scanner_here(site_context(example_register, scanner_settings("lhasa", disaster_declared=("dr",))))
    three = _with_second_dr_site(example_register)
    # another DR site declared lost: the primary still scans, the DR site does not
    assert not sc.scanner_here(site_context(three, scanner_settings("dr", disaster_declared=("dr2",))))
    assert sc.scanner_here(site_context(three, scanner_settings("lhasa", disaster_declared=("dr2",))))
    # the primary lost: the DR site taking over its backups scans, not every DR site
    assert sc.scanner_here(site_context(three, scanner_settings("dr", disaster_declared=("lhasa",))))
    assert not sc.scanner_here(site_context(three, scanner_settings("dr2", disaster_declared=("lhasa",))))


@pytest.mark.parametrize("declared", [("lasa",), ("lhasa", "lasa")])
def test_an_unknown_site_declared_lost_is_refused_at_its_entry(example_register: m.Register,
                                                               declared: tuple[str, ...]) -> None:
    """Finding 1: a typo declared nothing (no failover) yet moved the scanner; now refused, naming the entry."""
    with pytest.raises(UsageError) as refused:
        render_site(example_register, scanner_settings("dr", disaster_declared=declared))
    (problem,) = refused.value.diagnostics
    assert problem.file == "Pulumi.dr.yaml" and problem.path == f"xzgov:disasterDeclared[{len(declared) - 1}]"
    assert "'lasa' is not a site of region.yaml" in problem.message and "lhasa" in problem.message
    assert "remove 'lasa'" in problem.hint


def test_an_unknown_site_declared_lost_is_located_at_its_line(cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    repo = Path(example_root())
    (root / "region.yaml").write_bytes((repo / "region.yaml").read_bytes())
    shutil.copytree(repo / "systems", root / "systems")
    (root / "Pulumi.night.yaml").write_text(
        f"config:\n  xzgov:site: dr\n  xzgov:scannerImage: {IMAGE}\n  xzgov:scannerTrustedFingerprint: {FINGERPRINT}\n"
        "  xzgov:disasterDeclared:\n    - lhasa\n    - lasa\n", encoding="utf-8")
    result = cli("plan", "--project-dir", root, "--stack", "night", "--no-connectivity")
    assert result.code == 2 and "Pulumi.night.yaml:7:" in result.err and "'lasa'" in result.err, result.err


def example_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def test_the_rounds_of_shards_must_fit_the_deadline(example_register: m.Register) -> None:
    """Finding 2: 39 shards, 2 at once (a 2-CPU quota), 10 minutes: 20 rounds of ~94 s cannot finish; the
    last indexes would never run and the merge would refuse the gap. Each suggested fix renders."""
    quota = ZoneQuota(cpu="2", memory="4Gi", pods=20)
    settings = scanner_settings(scanner_systems_per_shard=1, zone_quota=quota, scanner_deadline_minutes=10)
    with pytest.raises(UsageError) as refused:
        rendered(example_register, settings)
    (problem,) = refused.value.diagnostics
    assert problem.path == "xzgov:scannerDeadlineMinutes" and "20 rounds" in problem.message
    assert "docs/compliance.md" in problem.message
    deadline = int(re.search(r"scannerDeadlineMinutes to at least (\d+)", problem.hint)[1])  # type: ignore[index]
    per_shard = int(re.search(r"scannerSystemsPerShard to (\d+)", problem.hint)[1])  # type: ignore[index]
    assert deadline == math.ceil(20 * sc.shard_seconds(example_register) / 60)
    assert rendered(example_register, replace(settings, scanner_deadline_minutes=deadline))
    assert rendered(example_register, replace(settings, scanner_systems_per_shard=per_shard))
    with pytest.raises(UsageError):
        rendered(example_register, replace(settings, scanner_systems_per_shard=per_shard - 1))
    # the estimate: the whole register loaded per shard (docs/compliance.md: 50.7 s at 10,000 systems)
    assert sc.shard_seconds(example_register) == sc.SHARD_START_SECONDS + sc.SHARD_MIN_SECONDS
    assert sc.shard_seconds(builders.register(*(builders.system(f"s-{i:05d}") for i in range(20_000)))) == 30 + 102


@pytest.mark.parametrize("job", [sc.SCAN_JOB, sc.MERGE_JOB])
def test_exit_2_of_any_container_is_final(example_register: m.Register, job: str) -> None:
    """Finding 3: a rule with containerName matches that container only; the init container's exit 2 (a
    snapshot of another render) must fail the index / the Job at once too, not be retried."""
    spec = job_of(rendered(example_register), job)
    pod = spec["template"]["spec"]
    final = [rule for rule in spec["podFailurePolicy"]["rules"]
             if rule["action"] in ("FailIndex", "FailJob") and 2 in rule.get("onExitCodes", {}).get("values", [])]
    for container in (*pod["initContainers"], *pod["containers"]):
        assert any(rule["onExitCodes"].get("containerName") in (None, container["name"]) for rule in final), \
            container["name"]


def test_the_parts_volume_is_given_to_the_scanners_group(example_register: m.Register) -> None:
    """Finding 4: fsGroup with OnRootMismatch (no walk of the whole volume at every start); the storage
    class's duty (fsGroupPolicy, or a root the scanner's uid can write) is documented beside the key."""
    for job in (sc.SCAN_JOB, sc.MERGE_JOB):
        context = job_of(rendered(example_register), job)["template"]["spec"]["securityContext"]
        assert (context["fsGroup"], context["fsGroupChangePolicy"]) == (sc.RUN_AS, "OnRootMismatch")
    docs = (Path(example_root()) / "docs" / "stacks.md").read_text(encoding="utf-8")
    row = next(line for line in docs.splitlines() if line.startswith("| `xzgov:scannerStorageClass`"))
    assert "fsGroupPolicy" in row and "65532" in row


def test_the_merge_pins_the_signer_outside_the_secret(example_register: m.Register) -> None:
    """Finding 5: the merge trusts the fingerprint reviewed in the stack file, not the Secret's public key."""
    args = job_of(rendered(example_register), sc.MERGE_JOB)["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--trusted-fingerprint") + 1] == FINGERPRINT
    assert "--trusted-key" not in args and not [a for a in args if a.endswith(".pub.pem")]
    with pytest.raises(UsageError) as refused:
        Settings(site="lhasa", scanner_image=IMAGE)
    (problem,) = refused.value.diagnostics
    assert problem.path == "xzgov:scannerTrustedFingerprint" and "xzgov keys fingerprint" in problem.hint


def test_a_swapped_key_pair_is_not_merged(example_register: m.Register, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 5, for real: whoever can edit the Secret puts their own key pair there and signs parts with it;
    the rendered merge refuses them (exit 2) instead of publishing them as a normal night."""
    reviewed, swapped = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    objects = render_site(example_register, scanner_settings(
        scanner_systems_per_shard=39, scanner_trusted_fingerprint=keys.fingerprint(reviewed.public_key))).scanner
    _, _, local = _volumes(objects, swapped, tmp_path, monkeypatch)  # the Secret, edited: another key pair
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    shard = job_of(by_name, sc.SCAN_JOB)
    assert shard["completions"] == 1
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "0")
    (container,) = shard["template"]["spec"]["containers"]
    args = [local(a.replace("$(JOB_COMPLETION_INDEX)", "0")) for a in container["args"]]
    assert run(capsys, *args).code in (0, 1)
    merge = job_of(by_name, sc.MERGE_JOB)
    result = run(capsys, *(local(a) for a in merge["template"]["spec"]["containers"][0]["args"]))
    assert result.code == 2, result.err
    assert not (tmp_path / "parts" / "merged").exists()


@pytest.mark.parametrize("image", [
    "registry.xzgov.internal/xzgov/@sha256:" + "0" * 64,          # an empty path component
    "registry.xzgov.internal/a..b//c-@sha256:" + "0" * 64,         # double separators, a trailing '-'
    "registry.xzgov.internal/-a/b@sha256:" + "0" * 64,             # a component starting with a separator
    "registry.xzgov.internal/a/B@sha256:" + "0" * 64,              # upper case
    "registry.xzgov.internal/a_-b@sha256:" + "0" * 64,             # two separators in a row
    "registry.xzgov.internal/" + "a" * 240 + "@sha256:" + "0" * 64,  # a repository name over 255
])
def test_an_invalid_image_reference_is_refused(image: str) -> None:
    """Finding 6: the distribution reference grammar for the path's components."""
    with pytest.raises(UsageError) as refused:
        scanner_settings(scanner_image=image)
    (problem,) = refused.value.diagnostics
    assert problem.path == "xzgov:scannerImage" and "components" in problem.hint


@pytest.mark.parametrize("image", ["registry.xzgov.internal/xzgov/xzgov", "registry.xzgov.internal/a.b/c_d/e__f/g---h",
                                   "registry.xzgov.internal/x"])
def test_a_valid_image_reference_is_accepted(image: str) -> None:
    assert scanner_settings(scanner_image=image + "@sha256:" + "0" * 64).scanner_image


def test_secret_and_storage_class_names_are_dns_subdomains() -> None:
    """Finding 7: Secret and StorageClass names are DNS subdomains (dots allowed, up to 253)."""
    settings = scanner_settings(scanner_key_secret="xzgov.scanner-key", scanner_storage_class="cephfs.rwx-65532")
    assert settings.scanner_key_secret == "xzgov.scanner-key"
    for bad in ("xzgov..key", ".key", "key.", "Key", "a" * 254, "key-"):
        with pytest.raises(UsageError) as refused:
            scanner_settings(scanner_key_secret=bad)
        assert refused.value.diagnostics[0].path == "xzgov:scannerKeySecret", bad
        with pytest.raises(UsageError) as refused:
            scanner_settings(scanner_storage_class=bad)
        assert refused.value.diagnostics[0].path == "xzgov:scannerStorageClass", bad


GENERIC_HINT = "fix the stack configuration (docs/stacks.md lists every key)"


def test_every_settings_problem_has_its_own_hint() -> None:
    """Finding 7: each problem says how to fix itself, not the generic line."""
    broken: dict[str, Any] = {
        "site": "Lhasa", "kubernetes_version": "1.29", "velero_namespace": "Velero", "dr_tenancy_min_tier": 9,
        "quota_surge_percent": 101, "internet_ingress_ports": (0,), "zone_quota": ZoneQuota(cpu="lots"),
        "internet_gateway": "Gateway", "image_registry": "https://registry", "backup_prefix": "/velero",
        "object_store_checksum_algorithm": "MD5", "backup_minutes": -1, "backup_queue_seconds": 0,
        "frequent_retention_hours": 0, "disaster_declared": ("Lhasa",), "csi_snapshot_driver": "-x",
        "cluster_uid": "x", "scanner_image": "registry/x:1", "scanner_systems_per_shard": 0,
        "scanner_time_utc": "7pm", "scanner_storage_class": "A", "scanner_key_secret": "B",
        "scanner_key_groups": (" officers",),
    }
    with pytest.raises(UsageError) as refused:
        Settings(**broken)
    problems = refused.value.diagnostics
    assert len(problems) >= 20
    hints = [problem.hint for problem in problems]
    assert GENERIC_HINT not in hints and all(hints)
    assert len(set(hints)) == len(hints)  # each its own
    with pytest.raises(UsageError) as fingerprint:
        scanner_settings(scanner_trusted_fingerprint="AB" * 32)
    assert fingerprint.value.diagnostics[0].path == "xzgov:scannerTrustedFingerprint"


def test_more_shards_than_a_merge_accepts_are_refused_at_plan_time() -> None:
    """Finding 8: over MAX_SHARDS shards every shard would exit 2 at night; refused naming the key."""
    big = builders.register(*(builders.system(f"s-{i:05d}") for i in range(MAX_SHARDS + 1)))
    ctx = site_context(big, scanner_settings(scanner_systems_per_shard=1))
    assert sc.scanner_here(ctx)
    with pytest.raises(UsageError) as refused:
        sc.render_scanner(ctx)
    (problem,) = refused.value.diagnostics
    assert problem.path == "xzgov:scannerSystemsPerShard" and "10,001 shards" in problem.message
    assert problem.hint == "set xzgov:scannerSystemsPerShard to at least 2"
    assert sc.MAX_SHARDS == MAX_SHARDS  # stacks may not import compliance: the two are kept equal here


# ------------------------------------------------ the signing key out of the judged operators' reach (own namespace)

#: verbs that read a Secret's data, and the workload kinds whose creation mounts any Secret of the namespace
SECRET_READS = frozenset({"get", "list", "watch"})
WORKLOADS = frozenset({"pods", "jobs", "cronjobs", "deployments", "statefulsets", "daemonsets", "replicasets",
                       "replicationcontrollers"})
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate"})


def _mounts_secret(pod: Mapping[str, Any], secret: str) -> bool:
    """Whether a pod spec reads ``secret``: a volume, or an environment variable of any container."""
    if any((volume.get("secret") or {}).get("secretName") == secret for volume in pod.get("volumes", [])):
        return True
    containers = [*pod.get("initContainers", []), *pod.get("containers", [])]
    return any(((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret
               for container in containers for env in container.get("env", []))


def _grants(rule: dict[str, Any], verbs: frozenset[str], resources: frozenset[str],
            name: str | None = None) -> bool:
    """Whether an RBAC rule grants one of ``verbs`` on one of ``resources`` (wildcards included; a rule limited
    by resourceNames counts only when it names ``name``)."""
    rule_verbs, rule_resources = set(rule.get("verbs", [])), set(rule.get("resources", []))
    if not ("*" in rule_verbs or rule_verbs & verbs) or not ("*" in rule_resources or rule_resources & resources):
        return False
    names = rule.get("resourceNames")
    return not names or name is None or name in names


def _judged_groups(register: m.Register) -> set[str]:
    """The groups the scan judges: the region's operators and every department's."""
    return {*register.region.operator_groups,
            *(group for department in register.region.departments.values() for group in department.groups)}


def _rules_bound(objects: list[dict[str, Any]], namespace: str, groups: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """(binding, rule) of every rule bound to one of ``groups`` in ``namespace``: RoleBindings there (to a Role
    or a ClusterRole) and ClusterRoleBindings. A binding to a role not rendered cannot be judged: it fails."""
    roles = {(o["metadata"].get("namespace"), o["kind"], o["metadata"]["name"]): o for o in objects
             if o["kind"] in ("Role", "ClusterRole")}
    bound: list[tuple[str, dict[str, Any]]] = []
    for binding in objects:
        cluster_wide = binding["kind"] == "ClusterRoleBinding"
        if not cluster_wide and (binding["kind"] != "RoleBinding" or binding["metadata"]["namespace"] != namespace):
            continue
        if not {s["name"] for s in binding.get("subjects", []) if s["kind"] == "Group"} & groups:
            continue
        ref = binding["roleRef"]
        role = roles.get((None if ref["kind"] == "ClusterRole" else namespace, ref["kind"], ref["name"]))
        assert role is not None, f"{binding['metadata']['name']} binds {ref}, which the stack does not render"
        bound += [(binding["metadata"]["name"], rule) for rule in role.get("rules", [])]
    return bound


@pytest.mark.parametrize("groups", [(), (OFFICERS,), (OFFICERS, "crypto-officers")])
def test_no_judged_group_can_read_or_mount_the_signing_key(example_register: m.Register,
                                                           groups: tuple[str, ...]) -> None:
    """The defect: the scanner ran in zone-security-management, whose tenant Role (bound to platform-ops) reads
    Secrets and creates Jobs — the operators the scan judges could take the key and sign a forged report.
    Computed over every object of the site: in each namespace where a pod mounts the key Secret, no rule bound
    to an operator or department group reads Secrets or creates a workload (which could mount it)."""
    settings = scanner_settings(**({"scanner_key_groups": groups} if groups else {}))
    objects = list(render_site(example_register, settings).objects())
    secret = settings.scanner_key_secret
    mounting = {str(o["metadata"]["namespace"]) for o in objects
                if (pod := pod_spec(o)) is not None and _mounts_secret(pod, secret)}
    assert mounting  # the scanner's pods (wherever they run: the check follows them)
    judged = _judged_groups(example_register)
    for namespace in mounting:
        bound = _rules_bound(objects, namespace, judged)
        assert bound, "the operators still see whether the night's scan ran"
        reads = [(name, rule) for name, rule in bound if _grants(rule, SECRET_READS, frozenset({"secrets"}), secret)]
        creates = [(name, rule) for name, rule in bound if _grants(rule, frozenset({"create"}), WORKLOADS)]
        assert not reads and not creates, (namespace, reads, creates)


def test_the_key_role_is_the_officers_and_the_one_secret(example_register: m.Register) -> None:
    """xzgov:scannerKeyGroups (and only they) may provision and rotate the key: create Secrets (RBAC cannot name
    an object before it exists), every other verb on the one Secret named xzgov:scannerKeySecret."""
    groups = (OFFICERS, "crypto-officers")
    objects = rendered(example_register, scanner_settings(scanner_key_groups=groups, scanner_key_secret="sm2-key"))
    role = objects[("Role", sc.KEY_ROLE)]
    assert role["metadata"]["namespace"] == NAMESPACE
    for rule in role["rules"]:
        assert rule["apiGroups"] == [""] and rule["resources"] == ["secrets"]
        assert "*" not in rule["verbs"]
        if rule.get("resourceNames") != ["sm2-key"]:
            assert rule["verbs"] == ["create"] and "resourceNames" not in rule, rule
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"create", "get", "update", "patch", "delete"}
    bindings = [o for o in objects.values() if o["kind"] == "RoleBinding" and o["roleRef"]["name"] == sc.KEY_ROLE]
    assert [s["name"] for b in bindings for s in b["subjects"]] == list(groups)
    assert all(s["kind"] == "Group" for b in bindings for s in b["subjects"])
    # the viewer binding names the operators, never the officers' role
    viewer = objects[("RoleBinding", sc.VIEWER_ROLE)]
    assert viewer["roleRef"]["name"] == sc.VIEWER_ROLE
    assert [s["name"] for s in viewer["subjects"]] == list(example_register.region.operator_groups)
    # none configured: no key Role, no binding (the cluster administrator creates the Secret)
    plain = rendered(example_register)
    assert not [key for key in plain if key[1] == sc.KEY_ROLE]


def test_the_viewer_role_reads_and_never_a_secret(example_register: m.Register) -> None:
    role = rendered(example_register)[("Role", sc.VIEWER_ROLE)]
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"]}
    assert granted == {("", "pods"), ("", "pods/log"), ("", "events"), ("", "configmaps"),
                       ("", "persistentvolumeclaims"), ("batch", "jobs"), ("batch", "cronjobs")}
    for rule in role["rules"]:
        assert set(rule["verbs"]) == {"get", "list", "watch"}, rule
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"] and "*" not in rule["verbs"]
        assert not set(rule["verbs"]) & WRITES


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions) against ``labels``."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if not {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
                "Exists": key in labels, "DoesNotExist": key not in labels}[operator]:
            return False
    return True


def test_the_scanner_namespace_is_a_segment_namespace_of_its_own(example_register: m.Register) -> None:
    """First of the scanner's objects (created before everything it holds), labelled like the security-management
    segment's namespace, restricted Pod Security, default-deny and DNS, a quota and limits."""
    settings = scanner_settings()
    render = render_site(example_register, settings)
    namespace = render.scanner[0]
    assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", NAMESPACE)
    labels = namespace["metadata"]["labels"]
    segment = next(o for s in render.segments if s.zone == "security-management" for o in s.objects
                   if o["kind"] == "Namespace")
    assert labels == {**segment["metadata"]["labels"], lb.COMPONENT: "scanner"}
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"{lb.POD_SECURITY}/{mode}"] == "restricted"
        assert labels[f"{lb.POD_SECURITY}/{mode}-version"] == "v1.30"
    assert labels[lb.ZONE] == labels[lb.SEGMENT] == "security-management" and labels[lb.SITE] == "lhasa"
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render.scanner}
    deny = objects[("NetworkPolicy", "default-deny")]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert ("NetworkPolicy", "allow-dns") not in objects  # nothing in the namespace resolves a name
    own = objects[("NetworkPolicy", sc.SCANNER)]["spec"]
    assert own["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in own and "egress" not in own
    hard = objects[("ResourceQuota", "tenant-quota")]["spec"]["hard"]
    assert (hard["limits.cpu"], hard["limits.memory"], hard["pods"]) == ("16", "32Gi", "200")
    assert (hard["persistentvolumeclaims"], hard["requests.storage"]) == ("1", sc.PARTS_SIZE)
    assert objects[("LimitRange", "tenant-limits")]["spec"]["limits"][0]["max"] == {"cpu": "16", "memory": "32Gi"}
    # the admission policies that judge the zone's namespaces judge this one (images by digest: managed-by)
    for binding in (o for o in render.admission if o["kind"] == "ValidatingAdmissionPolicyBinding"):
        selector = ((binding["spec"].get("matchResources") or {}).get("namespaceSelector")) or {}
        assert _selects(selector, labels) == _selects(selector, segment["metadata"]["labels"]), binding
        policy = next(o for o in render.admission if o["metadata"]["name"] == binding["spec"]["policyName"])
        constraint = (policy["spec"].get("matchConstraints") or {}).get("namespaceSelector") or {}
        assert _selects(constraint, labels), policy["metadata"]["name"]


def test_the_scanner_namespace_passes_the_resource_rules(example_register: m.Register) -> None:
    """The compliance rules a plan is judged by see the scanner's namespace as a subject of its own: restricted
    Pod Security, default deny, quotas, asset labels, images by digest, no privilege — all pass."""
    from policies.engine import Status
    from policies.rules.resources import asset_labels, default_deny, image_digest, no_privileged, pss_restricted, quotas
    from xzgov.facts.resources import resource_facts

    objects = render_site(example_register, scanner_settings()).scanner
    (facts,) = [f for f in resource_facts(objects, register=example_register) if f.subject == f"namespace:{NAMESPACE}"]
    assert len(facts["pods"]) == 2
    for rule in (pss_restricted, default_deny, quotas, asset_labels, image_digest, no_privileged):
        outcome = rule.check(facts)
        assert outcome.status is Status.PASS, (rule.id, outcome.message)


@pytest.mark.parametrize(("groups", "index", "text"), [
    (("",), 0, "is not a group name"),
    ((OFFICERS, " officers"), 1, "is not a group name"),           # a space no user's group carries
    (("officers\n",), 0, "is not a group name"),
    (("a" * 254,), 0, "is not a group name"),
    (("system:authenticated",), 0, "Kubernetes assigns itself"),  # every user would hold the key
    ((OFFICERS, "crypto-officers", OFFICERS), 2, "repeats entry 0"),
])
def test_a_bad_key_group_is_a_located_error(groups: tuple[str, ...], index: int, text: str) -> None:
    with pytest.raises(UsageError) as refused:
        scanner_settings(scanner_key_groups=groups)
    (problem,) = refused.value.diagnostics
    assert problem.file == "Pulumi.lhasa.yaml" and problem.path == f"xzgov:scannerKeyGroups[{index}]"
    assert text in problem.message and problem.hint


def test_key_groups_are_read_from_the_stack_file_and_located_at_their_line(tmp_path: Path) -> None:
    from stacks.settings import settings_from_config, settings_from_stack_file

    assert settings_from_config({"site": "lhasa", "scannerKeyGroups": '["security-officers", "中心 安全组"]'},
                                "Pulumi.x.yaml").scanner_key_groups == (OFFICERS, "中心 安全组")
    assert Settings(site="lhasa").scanner_key_groups == ()
    stack = tmp_path / "Pulumi.night.yaml"
    stack.write_text("config:\n  xzgov:site: lhasa\n  xzgov:scannerKeyGroups:\n    - security-officers\n"
                     "    - system:masters\n", encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        settings_from_stack_file(stack)
    (problem,) = refused.value.diagnostics
    assert (problem.file, problem.line, problem.path) == ("Pulumi.night.yaml", 5, "xzgov:scannerKeyGroups[1]")


@pytest.mark.parametrize(("group", "where"), [("platform-ops", "spec.operators.groups"),
                                              ("wjw-ops", "department 'wjw'")])
def test_a_key_group_the_scan_judges_is_refused(example_register: m.Register, group: str, where: str) -> None:
    """An operator or department group holding the key could sign its own assessment: refused at plan time,
    named by its entry."""
    with pytest.raises(UsageError) as refused:
        rendered(example_register, scanner_settings(scanner_key_groups=(OFFICERS, group)))
    (problem,) = refused.value.diagnostics
    assert problem.path == "xzgov:scannerKeyGroups[1]" and where in problem.message and f"'{group}'" in problem.message


def test_a_system_named_like_the_scanners_namespace_is_refused(example_register: m.Register) -> None:
    """Its tenancy (namespace = its name, its department's tenant Role) would be the scanner's namespace."""
    clash = builders.register(builders.system(sc.SCANNER_NAMESPACE), builders.system("other"))
    with pytest.raises(UsageError) as refused:
        sc.render_scanner(site_context(clash, scanner_settings()))
    (problem,) = refused.value.diagnostics
    assert problem.path == "metadata.name" and "scanner's namespace" in problem.message


@pytest.mark.parametrize(("key", "line"), [("backupMinutes", 3), ("replicationLagMinutes", 4)])
def test_an_out_of_range_minute_setting_is_located_at_its_own_key(tmp_path: Path, key: str, line: int) -> None:
    """A bad xzgov:replicationLagMinutes was reported at xzgov:backupMinutes' line (one check for both)."""
    from stacks.settings import settings_from_stack_file

    values = {"backupMinutes": 10, "replicationLagMinutes": 15} | {key: 5000}
    stack = tmp_path / "Pulumi.dr.yaml"
    stack.write_text("config:\n  xzgov:site: dr\n" + "".join(f"  xzgov:{k}: {v}\n" for k, v in values.items()),
                     encoding="utf-8")
    with pytest.raises(UsageError) as refused:
        settings_from_stack_file(stack)
    (problem,) = refused.value.diagnostics
    assert (problem.path, problem.line) == (f"xzgov:{key}", line) and "5000" in problem.hint


def test_a_list_setting_given_as_a_word_says_a_list_is_expected() -> None:
    """`xzgov:disasterDeclared: lhasa` was refused with the JSON decoder's "Expecting value: line 1 column 1"."""
    from stacks.settings import settings_from_config

    with pytest.raises(UsageError) as refused:
        settings_from_config({"site": "dr", "disasterDeclared": "lhasa"}, "Pulumi.dr.yaml")
    (problem,) = refused.value.diagnostics
    assert problem.path == "xzgov:disasterDeclared" and "expected a YAML list, e.g. [lhasa]" in problem.message
    assert "Expecting value" not in problem.message

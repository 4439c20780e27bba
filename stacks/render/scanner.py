"""The compliance scanner on Kubernetes: a nightly sharded scan (an Indexed Job) and its merge.

Rendered into a namespace of its own, ``xzgov-scanner`` (:data:`SCANNER_NAMESPACE`), when ``xzgov:scannerImage``
is set, at the primary site (and at the DR site holding its backups once the primary is declared lost: the
region is scanned where it runs; :func:`scanner_here`). Not the security-management zone's tenancy
``zone-<zone>``: there the tenant Role bound to the region's operator groups reads Secrets and creates Jobs,
so the operators the scan judges could read the signing key, or mount it in a Job of their own, and sign a
forged report that the merge and ``xzgov verify`` accept (the pinned fingerprint is that of the very key
they would hold). The scanner's namespace is labelled as a namespace of the security-management segment (zone, Pod
Security ``restricted``; so the admission policies and the compliance rules cover it as they cover the zone's),
and its only bindings are these (:func:`scanner_rbac`):

* Role ``xzgov-scanner-viewer`` bound to the region's operator groups: get/list/watch on pods, their logs,
  events, Jobs, CronJobs, ConfigMaps and PVCs — they see whether the night's scan ran, never a Secret, and
  create nothing;
* Role ``xzgov-scanner-key`` bound to ``xzgov:scannerKeyGroups`` (the security officers; none: no binding,
  the cluster administrator provisions the key): create Secrets, and get/update/patch/delete the one named
  ``xzgov:scannerKeySecret`` — to provision and rotate the key. The plan refuses a key group that is also an
  operator or department group (:func:`check_key_groups`).

Its objects, in creation order (the Namespace first: ``stacks.components`` creates every namespaced object
after it):

* Namespace ``xzgov-scanner``, ``default-deny`` (no ``allow-dns``: nothing in it resolves a name), and a
  ResourceQuota/LimitRange of
  ``xzgov:zoneQuota`` (the quota :func:`shards_at_once` sizes the parallelism by) plus the one parts claim.
* ``xzgov-register-<i>`` ConfigMaps — the register snapshot the stack was rendered from (``region.yaml``,
  every system manifest, ``compliance/config.yaml``, waivers and attestation sets): one gzip-compressed tar
  (:mod:`stacks.snapshot`) cut into chunks under the ConfigMap size limit. Each Job's init container
  (``xzgov scan unpack``, the same image) checks the chunks' SM3 against the one rendered into the Job
  and unpacks them into the pod's ``/register`` (an ``emptyDir``, regular files: a ConfigMap volume
  presents symbolic links, which the register loader refuses). The Job object no longer grows with the
  register (one mount per file made it 1.4 MB at 10,000 systems, beyond what etcd stores well). The
  register digest the parts carry is therefore that of the stack's register; a changed register reaches
  the scanner with the next ``pulumi up``.
* ``xzgov-scan-parts`` — a ReadWriteMany PVC (``xzgov:scannerStorageClass``): the shards write their
  signed parts to ``/parts/part-<index>``, the merge reads them and writes ``/parts/merged``; a Velero
  Schedule ``xzgov-scan-results`` backs up that volume only — never the namespace's signing-key Secret —
  (its data moved to the object store) after the merge's latest end, and keeps 90 nights.
* ServiceAccount ``xzgov-scanner`` with no token and no RBAC: the scanner reads only its volumes.
* NetworkPolicy ``xzgov-scanner``: no ingress, no egress — everything a shard or the merge reads and writes is a
  volume (the register snapshot, the signing key, the parts); DNS was admitted and never used.
* CronJob ``xzgov-scan`` — an Indexed Job, ``completions = N = ceil(systems /
  xzgov:scannerSystemsPerShard)``, ``parallelism`` N or as many as the scanner namespace's quota admits
  (:func:`shards_at_once`), each index running ``xzgov scan --shard auto/N`` (the CLI reads
  ``JOB_COMPLETION_INDEX``, 0-based, as shard ``index + 1``), daily at ``xzgov:scannerTimeUtc`` (UTC).
* CronJob ``xzgov-scan-merge`` — ``xzgov scan merge`` of the N parts, 60 + ``xzgov:scannerDeadlineMinutes``
  + 15 minutes later (the scan Job may start up to its 60-minute starting deadline late, and its
  ``activeDeadlineSeconds`` ends it before): verifies every part against the signer pinned by
  ``xzgov:scannerTrustedFingerprint`` (never the Secret's public key) and refuses
  gaps, overlaps and mixed registers, inputs, catalogues or as-of days, and parts older than this night's
  (``--max-age``: a failed or late night leaves the previous night's parts on the volume, which would
  otherwise be signed again as new). The settings refuse a schedule whose shards could start past the
  region's midnight (16:00 UTC; start + the 60-minute starting deadline + the scan deadline must end by then),
  so every shard judges the same region day, and a deadline over 600 minutes (``--max-age`` stays under a day).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stacks import snapshot
from stacks.render import labels as lb
from stacks.render.context import SECURITY_MANAGEMENT, SiteContext
from stacks.render.dr import SCHEDULE_TZ, VELERO_API, ttl, writable_location
from stacks.render.network import WORKLOAD_LABEL, Obj, default_deny, network_policy
from stacks.render.quantity import bytes_of, format_bytes, format_cpu, millicores
from stacks.render.segment import segment_namespace_labels
from stacks.render.tenant import DEFAULT_SERVICE_ACCOUNT, quota_and_limits, quota_spec, service_account
from stacks.settings import STARTING_DEADLINE_MINUTES, Settings
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.sm3 import sm3_hex

SCANNER = "xzgov-scanner"
#: the scanner's own namespace: no tenant Role there, so the operators it judges cannot read or mount its key
SCANNER_NAMESPACE = "xzgov-scanner"
#: read-only for the region's operator groups: whether the night's scan ran (never Secrets, no write)
VIEWER_ROLE = "xzgov-scanner-viewer"
#: the security officers' (``xzgov:scannerKeyGroups``): provision and rotate the signing-key Secret
KEY_ROLE = "xzgov-scanner-key"
_RBAC_API = "rbac.authorization.k8s.io/v1"
VIEWER_RULES: tuple[Obj, ...] = (
    {"apiGroups": [""], "resources": ["pods", "pods/log", "events", "configmaps", "persistentvolumeclaims"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["get", "list", "watch"]},
)
SCAN_JOB = "xzgov-scan"
MERGE_JOB = "xzgov-scan-merge"
PARTS_CLAIM = "xzgov-scan-parts"
REGISTER_PREFIX = "xzgov-register"
CONTAINER = "scan"
UNPACK = "unpack-register"
REGISTER_DIR = "/register"
SNAPSHOT_DIR = "/snapshot"
PARTS_DIR = "/parts"
KEYS_DIR = "/keys"
#: user/group of the scanner process (non-root; the image needs no particular user)
RUN_AS = 65532
#: bytes of file content per register ConfigMap (the API's limit is 1 MiB per object)
CHUNK_BYTES = 768 * 1024
PARTS_SIZE = "20Gi"
#: exit codes a retry cannot change (docs/compliance.md): 2 input error. Findings are not a failure: the
#: shards and the merge run with ``--no-gate`` (exit 0 once the reports are written), so a Job that fails
#: is a night without reports, and alerting on failed Jobs means something
FINAL_EXIT_CODES = (2,)
#: minutes between the latest end of the scan Job and the merge (and of the merge and the results' backup)
MERGE_MARGIN_MINUTES = 15
RESULTS_BACKUP = "xzgov-scan-results"
#: days the nightly backups of the parts volume (each night's signed merged set) are kept
RESULTS_RETENTION_DAYS = 90
#: a container's requests and limits ({"requests" | "limits": {"cpu" | "memory": quantity}})
Resources = Mapping[str, Mapping[str, str]]
RESOURCES: Resources = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
#: a shard loads and validates the whole register and judges its own systems: measured peak RSS 133 MiB at 39
#: systems, 1,047 MiB at 10,000 and 2,487 MiB at 25,000 (≈ 98 KiB per system of the register), so its memory
#: grows with the register too — 512 MiB plus 128 KiB per system, at least :data:`RESOURCES`' 2 GiB (a fixed
#: 2 GiB was exceeded from about 21,500 systems: every index killed for memory, retried, no report)
SHARD_MEMORY_BASE = 512 << 20
SHARD_MEMORY_PER_SYSTEM = 128 << 10
#: the merge holds every part's results at once: measured ≈ 285 KiB per system (1,200 systems: 471 MB
#: peak; 400: 243 MB), so its memory grows with the register — 512 MiB plus 400 KiB per system, at least a
#: shard's, in steps of 256 MiB
MERGE_MEMORY_BASE = 512 << 20
MERGE_MEMORY_PER_SYSTEM = 400 << 10
#: the scan root's files the scanner reads besides region.yaml and the manifests
EXTRA_FILES = ("compliance/config.yaml",)
EXTRA_DIRECTORIES = ("compliance/waivers", "compliance/attestations")
#: a register's own control catalogues, which a scan of the checkout judges by (compliance.scan.context
#: ``standards_dir_of``): the pods judged by the image's packaged ones, so a region that edits standards/ got a
#: nightly report other than the checkout's scan. Their data files only (the folder is also a Python package).
STANDARDS_DIRECTORY, STANDARDS_SUFFIXES = "standards", (".yaml", ".json")
#: the most shards a merge accepts (``compliance.scan.shard.MAX_SHARDS``: ``--shard K/N`` beyond it is an exit 2
#: of every shard; stacks may not import compliance, a test keeps the two equal)
MAX_SHARDS = 10_000
#: The time one shard is assumed to take, for the check that ⌈N / parallelism⌉ rounds fit the deadline
#: (:func:`scan_rounds_fit`). Every shard loads and validates the whole register (docs/compliance.md, "Sharded
#: scan", Figures: slowest shard 50.7 s at 10,000 systems — 5.1 ms per system of the register — and 63.0 s at
#: 2,000 heavier synthetic systems, both on a shared 2-core machine), so a shard takes the larger of
#: :data:`SHARD_MIN_SECONDS` and :data:`SHARD_MS_PER_SYSTEM` per system of the register, plus
#: :data:`SHARD_START_SECONDS` for scheduling the pod and unpacking the register (the init container).
SHARD_MIN_SECONDS = 64
SHARD_MS_PER_SYSTEM = 5.1
SHARD_START_SECONDS = 30


@dataclass(frozen=True)
class Snapshot:
    """The register snapshot: its ConfigMaps, the SM3 of the packed archive, and the unpacked size."""

    config_maps: list[Obj]
    sm3: str
    unpacked_bytes: int

    @property
    def names(self) -> list[str]:
        return [str(obj["metadata"]["name"]) for obj in self.config_maps]


def scanner_zone(ctx: SiteContext) -> m.Zone | None:
    """The security-management zone with a network at this site (its tenancy runs the scanner)."""
    for zone in ctx.zones_of_kind(SECURITY_MANAGEMENT):
        if zone.cidr(ctx.site.id) is not None:
            return zone
    return None


def scanner_here(ctx: SiteContext) -> bool:
    """Whether this site runs the scanner: ``xzgov:scannerImage`` set, a security-management zone here,
    and the site is the primary — or the DR site that takes over the primary (the one holding its backups,
    ``Region.backup_site``) once the primary's id is declared lost (``xzgov:disasterDeclared``). Another
    site declared lost does not move it: the primary still scans, and one site signs each night's set."""
    if ctx.settings.scanner_image is None or scanner_zone(ctx) is None:
        return False
    if ctx.site.role == "primary":
        return True
    primary = ctx.region.primary_site
    return primary.id in ctx.settings.disaster_declared and ctx.region.backup_site(primary.id).id == ctx.site.id


def shard_count(register: m.Register, per_shard: int) -> int:
    """``N``: one shard per ``per_shard`` systems (at least one)."""
    return max(1, math.ceil(len(register.systems) / per_shard))


def shards_at_once(settings: Settings, count: int, resources: Resources = RESOURCES) -> int:
    """How many of the ``count`` shards (each with ``resources``, :func:`shard_resources`) run at once: as many as
    the scanner namespace's quota (``xzgov:zoneQuota``, :func:`namespace_objects`: CPU and memory limits, pods)
    admits, at most ``count``. Beyond the quota the API server refuses a pod outright; the Job then retries it
    until the deadline — so the Job asks for no more than fit, and the others run as earlier shards finish.
    Exit 2 when not even one shard fits."""
    quota = settings.zone_quota
    limits = resources["limits"]
    fit = min(millicores(quota.cpu) // millicores(limits["cpu"]),
              bytes_of(quota.memory) // bytes_of(limits["memory"]), quota.pods)
    if fit < 1:
        raise UsageError("xzgov:zoneQuota cannot run one scanner shard", [Diagnostic(
            settings.source_file, 0, 0, "xzgov:zoneQuota",
            f"cpu {quota.cpu}, memory {quota.memory}, pods {quota.pods}: a shard's pod has limits of cpu "
            f"{limits['cpu']}, memory {limits['memory']}",
            f"raise xzgov:zoneQuota to at least cpu {limits['cpu']}, memory {limits['memory']}, pods 1, or unset "
            "xzgov:scannerImage", "config")])
    return min(count, fit)


def check_shard_count(register: m.Register, settings: Settings, count: int) -> None:
    """Exit 2 at plan time when ``count`` shards exceed :data:`MAX_SHARDS`: every shard would exit 2 at night
    (``--shard auto/N`` beyond the limit) and no report would be written."""
    if count <= MAX_SHARDS:
        return
    systems = len(register.systems)
    least = math.ceil(systems / MAX_SHARDS)
    title = f"xzgov:scannerSystemsPerShard cuts the register into more than {MAX_SHARDS:,} shards"
    raise UsageError(title, [Diagnostic(
        settings.source_file, 0, 0, "xzgov:scannerSystemsPerShard",
        f"{systems:,} systems at {settings.scanner_systems_per_shard} per shard make {count:,} shards; a scan and "
        f"its merge accept at most {MAX_SHARDS:,} (every shard would exit 2 each night)",
        f"set xzgov:scannerSystemsPerShard to at least {least}", "config")])


def shard_seconds(register: m.Register) -> int:
    """The assumed time of one shard (see :data:`SHARD_MIN_SECONDS`): start and unpack, then load the whole
    register and judge the shard's systems."""
    return SHARD_START_SECONDS + max(SHARD_MIN_SECONDS, math.ceil(SHARD_MS_PER_SYSTEM * len(register.systems) / 1000))


def scan_rounds_fit(register: m.Register, settings: Settings, count: int, at_once: int) -> None:
    """Exit 2 at plan time when the ⌈count / at_once⌉ rounds of shards cannot finish within
    ``xzgov:scannerDeadlineMinutes`` at :func:`shard_seconds` each: the Job's deadline would end the night
    with indexes not run, the merge refuses the gap, and there is no report."""
    rounds = math.ceil(count / at_once)
    each = shard_seconds(register)
    needed = rounds * each
    deadline = settings.scanner_deadline_minutes * 60
    if needed <= deadline:
        return
    systems = len(register.systems)
    # the fewest systems per shard (most shards) whose rounds still fit the deadline, if any
    fitting = next((per for per in range(settings.scanner_systems_per_shard, max(systems, 1) + 1)
                    if math.ceil(shard_count(register, per) / min(at_once, shard_count(register, per))) * each
                    <= deadline), None)
    options = [f"raise xzgov:scannerDeadlineMinutes to at least {math.ceil(needed / 60)}"]
    if fitting is not None:
        options.append(f"raise xzgov:scannerSystemsPerShard to {fitting} (fewer shards)")
    options.append("raise xzgov:zoneQuota so more shards run at once")
    raise UsageError("the scan's shards cannot finish within xzgov:scannerDeadlineMinutes", [Diagnostic(
        settings.source_file, 0, 0, "xzgov:scannerDeadlineMinutes",
        f"{count} shards (xzgov:scannerSystemsPerShard {settings.scanner_systems_per_shard}), {at_once} at once "
        f"(xzgov:zoneQuota), are {rounds} rounds of about {each} s each ({SHARD_START_SECONDS} s start + the "
        f"whole register of {systems} systems loaded: docs/stacks.md, estimate from docs/compliance.md) = "
        f"{math.ceil(needed / 60)} min, over the deadline of {settings.scanner_deadline_minutes} min: the last "
        "indexes would not run and the merge would refuse the gap (no report)",
        "; or ".join(options), "config")])


def _memory_limit(base: int, per_system: int, register: m.Register) -> int:
    """``base`` + ``per_system`` × the register's systems, in steps of 256 MiB, never below :data:`RESOURCES`'."""
    step = 256 << 20
    wanted = base + per_system * len(register.systems)
    return max(bytes_of(RESOURCES["limits"]["memory"]), -(-wanted // step) * step)


def _with_memory(limit: int) -> Resources:
    """:data:`RESOURCES` with the memory limit ``limit`` and a request of half of it (never below RESOURCES')."""
    request = max(bytes_of(RESOURCES["requests"]["memory"]), limit // 2)
    return {"requests": {"cpu": RESOURCES["requests"]["cpu"], "memory": format_bytes(request)},
            "limits": {"cpu": RESOURCES["limits"]["cpu"], "memory": format_bytes(limit)}}


def shard_resources(register: m.Register) -> Resources:
    """A shard container's requests and limits (:data:`SHARD_MEMORY_BASE` + per system of the whole register);
    :func:`shards_at_once` runs no more of them at once than ``xzgov:zoneQuota`` holds (exit 2 when not one)."""
    return _with_memory(_memory_limit(SHARD_MEMORY_BASE, SHARD_MEMORY_PER_SYSTEM, register))


def merge_resources(register: m.Register, settings: Settings) -> Resources:
    """The merge container's requests and limits (:data:`MERGE_MEMORY_BASE` + per system, at least a shard's);
    exit 2 at plan time when ``xzgov:zoneQuota`` (the scanner namespace's quota and LimitRange maximum) cannot
    hold it — the merge would be killed for memory every night instead."""
    limit = max(_memory_limit(MERGE_MEMORY_BASE, MERGE_MEMORY_PER_SYSTEM, register),
                _memory_limit(SHARD_MEMORY_BASE, SHARD_MEMORY_PER_SYSTEM, register))
    quota = settings.zone_quota
    if limit > bytes_of(quota.memory):
        raise UsageError(f"xzgov:zoneQuota cannot run the merge of {len(register.systems)} systems", [Diagnostic(
            settings.source_file, 0, 0, "xzgov:zoneQuota",
            f"memory {quota.memory}: the merge needs a limit of {format_bytes(limit)} (512 MiB + 400 KiB per system)",
            f"raise xzgov:zoneQuota memory to at least {format_bytes(limit)}, or unset xzgov:scannerImage",
            "config")])
    return _with_memory(limit)


def _snapshot_paths(register: m.Register) -> list[str]:
    root = Path(register.root)
    paths = ["region.yaml", *(system.source for system in register)]
    paths += [extra for extra in EXTRA_FILES if (root / extra).is_file()]
    # every file of the records' folders, hidden ones too: a signed set may name `evidence/.notes.md`, and a pod
    # whose snapshot lacked it exited 2 on every shard while the checkout's scan passed (the loaders skip the
    # hidden sets and waivers themselves, as they do in the checkout)
    for directory in EXTRA_DIRECTORIES:
        base = root / directory
        if base.is_dir():
            paths += sorted(p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file())
    standards = root / STANDARDS_DIRECTORY
    if standards.is_dir():
        paths += sorted(p.relative_to(root).as_posix() for p in standards.rglob("*")
                        if p.is_file() and p.suffix in STANDARDS_SUFFIXES and "__pycache__" not in p.parts)
    return list(dict.fromkeys(paths))


def _size(root: Path, path: str) -> int:
    full = root / path
    try:
        return full.stat().st_size
    except OSError as error:
        raise UsageError(f"the scanner's register snapshot cannot read {path}", [Diagnostic(
            str(full), 0, 0, "", f"unreadable: {error.strerror or error}",
            "restore the file, or unset xzgov:scannerImage", "io")]) from None


def register_snapshot(ctx: SiteContext, namespace: str, labels: dict[str, str]) -> Snapshot:
    """The register's files packed (:func:`stacks.snapshot.pack`) into ConfigMaps of one chunk of at most
    :data:`CHUNK_BYTES` each (``binaryData``: the compressed archive is not text)."""
    root = Path(ctx.register.root)
    paths = _snapshot_paths(ctx.register)
    unpacked = sum(_size(root, path) for path in paths)
    packed = snapshot.pack(root, paths)
    objects: list[Obj] = []
    for index, chunk in enumerate(snapshot.chunks(packed, CHUNK_BYTES)):
        purpose = {lb.PURPOSE: "扫描用登记册快照 / register snapshot for the scanner"}
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"{REGISTER_PREFIX}-{index}", "namespace": namespace,
                                     "labels": dict(labels), "annotations": purpose},
                        "binaryData": {snapshot.chunk_name(index): base64.b64encode(chunk).decode("ascii")}})
    return Snapshot(objects, sm3_hex(packed), unpacked)


def _cron(hour: int, minute: int) -> str:
    return f"{minute} {hour} * * *"


def _security_context() -> Obj:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def _pod(ctx: SiteContext, name: str, args: list[str], register: Snapshot, labels: dict[str, str],
         resources: Resources | None = None) -> Obj:
    """The pod template of a scanner job (shard or merge): an init container unpacks the register snapshot
    into ``/register``, then the scanner reads it (read-only) with ``resources`` (default a shard's)."""
    settings = ctx.settings
    # the unpacked register, with room to spare (an emptyDir counts against the node's ephemeral storage)
    room = format_bytes(_mebibytes(register.unpacked_bytes * 2 + (16 << 20)))
    volumes: list[Obj] = [
        {"name": "register", "emptyDir": {"sizeLimit": room}},
        {"name": "snapshot", "projected": {"sources": [{"configMap": {"name": config_map}}
                                                       for config_map in register.names]}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "parts", "persistentVolumeClaim": {"claimName": PARTS_CLAIM}},
        # the private key only: the merge trusts the fingerprint pinned in git, never a public key from the Secret
        # (a required item the Secret lacks keeps the pod from starting)
        {"name": "keys", "secret": {"secretName": settings.scanner_key_secret, "defaultMode": 0o440, "items": [
            {"key": "signing-key.pem", "path": "signing-key.pem"}]}},
    ]
    common: Obj = {
        "image": settings.scanner_image, "imagePullPolicy": "IfNotPresent", "command": ["xzgov"],
        "resources": {kind: dict(values) for kind, values in RESOURCES.items()},
        "securityContext": _security_context(),
    }
    main_resources = {kind: dict(values) for kind, values in (resources or RESOURCES).items()}
    unpack: Obj = {
        "name": UNPACK, **common, "args": unpack_args(register.sm3),
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}],
        "volumeMounts": [{"name": "snapshot", "mountPath": SNAPSHOT_DIR, "readOnly": True},
                         {"name": "register", "mountPath": REGISTER_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    container: Obj = {
        "name": CONTAINER, **common, "resources": main_resources, "args": args,
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                {"name": "XZGOV_KEY_PASSPHRASE", "valueFrom": {"secretKeyRef": {
                    "name": settings.scanner_key_secret, "key": "passphrase", "optional": True}}}],
        "volumeMounts": [{"name": "register", "mountPath": REGISTER_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, {"name": "parts", "mountPath": PARTS_DIR},
                         {"name": "keys", "mountPath": KEYS_DIR, "readOnly": True}],
    }
    return {"metadata": {"labels": {**labels, WORKLOAD_LABEL: name}},
            "spec": {"serviceAccountName": SCANNER, "automountServiceAccountToken": False,
                     "restartPolicy": "Never", "enableServiceLinks": False,
                     # fsGroup gives the key and the parts volume to the group; OnRootMismatch: the kubelet
                     # changes ownership only when the volume's root is not already the group's (a parts volume
                     # of many nights is not walked at every start). CSI drivers that apply no fsGroup to RWX
                     # volumes need a class whose root 65532 can write (docs/stacks.md, scannerStorageClass).
                     "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                                         "fsGroup": RUN_AS, "fsGroupChangePolicy": "OnRootMismatch",
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "initContainers": [unpack], "containers": [container], "volumes": volumes}}


def _mebibytes(count: int) -> int:
    """``count`` rounded up to whole MiB (a readable sizeLimit)."""
    return -(-count // (1 << 20)) << 20


def unpack_args(digest: str) -> list[str]:
    """The init container's arguments: unpack the snapshot chunks whose SM3 is ``digest``."""
    return ["scan", "unpack", SNAPSHOT_DIR, "--to", REGISTER_DIR, "--sm3", digest]


def shard_args(count: int) -> list[str]:
    """The shard container's arguments: the index comes from ``JOB_COMPLETION_INDEX`` (``auto``)."""
    return ["scan", "--root", REGISTER_DIR, "--shard", f"auto/{count}", "--shard-by", "name",
            "--out", f"{PARTS_DIR}/part-$(JOB_COMPLETION_INDEX)", "--key", f"{KEYS_DIR}/signing-key.pem", "--no-gate"]


def merge_args(count: int, max_age_minutes: int, trusted_fingerprint: str) -> list[str]:
    """The merge container's arguments: every part, the register, the pinned signer, and how old a part of
    this night may be (older parts are an earlier night's, left when a shard did not run). The signer is
    pinned by ``xzgov:scannerTrustedFingerprint`` (reviewed in git), never by the public key in the Secret:
    whoever can edit the Secret could otherwise swap the key pair and have their own parts merged."""
    return ["scan", "merge", *(f"{PARTS_DIR}/part-{index}" for index in range(count)), "--root", REGISTER_DIR,
            "--out", f"{PARTS_DIR}/merged", "--key", f"{KEYS_DIR}/signing-key.pem",
            "--trusted-fingerprint", trusted_fingerprint, "--max-age", f"{max_age_minutes}m", "--no-gate"]


def merge_offset_minutes(deadline_minutes: int) -> int:
    """Minutes from the scan's schedule to the merge's: the scan Job may start up to the starting deadline
    late and then runs until its own deadline; the merge starts after both, with a margin."""
    return STARTING_DEADLINE_MINUTES + deadline_minutes + MERGE_MARGIN_MINUTES


def part_max_age_minutes(deadline_minutes: int) -> int:
    """The oldest a part of this night can be when the merge reads it: the merge's offset, plus the merge's
    own late start and deadline. Under a day (``stacks.settings`` bounds the deadline), so the previous
    night's parts are always older."""
    return merge_offset_minutes(deadline_minutes) + STARTING_DEADLINE_MINUTES + deadline_minutes


def results_backup(ctx: SiteContext, namespace: str, labels: dict[str, str], minute_of_day: int) -> Obj:
    """A Velero Schedule of the scanner's parts volume after the merge's latest end (this night's parts and
    signed merged set, which the next night replaces), its data moved to the site's writable object store
    and kept :data:`RESULTS_RETENTION_DAYS` days — every night's signed report set stays restorable. Only
    the claim and its volume: the namespace's Secret holds the signing key."""
    return {"apiVersion": VELERO_API, "kind": "Schedule",
            "metadata": {"name": RESULTS_BACKUP, "namespace": ctx.settings.velero_namespace, "labels": dict(labels),
                         "annotations": {
                             lb.TITLE: "合规扫描结果 (签名报告集) 每日备份 / nightly backup of the scan results",
                             lb.RETENTION_DAYS: str(RESULTS_RETENTION_DAYS), SCHEDULE_TZ: "UTC"}},
            "spec": {"schedule": _cron((minute_of_day // 60) % 24, minute_of_day % 60),
                     "useOwnerReferencesInBackup": False,
                     # the volume only: never the namespace's Secret (the scanner's signing key and passphrase
                     # would sit in the bucket, and its replica, for the retention period)
                     "template": {"includedNamespaces": [namespace],
                                  "includedResources": ["persistentvolumeclaims", "persistentvolumes"],
                                  # the parts claim (its volume comes along as the claim's item), not any
                                  # other claim someone with rights in the namespace might add
                                  "labelSelector": {"matchLabels": {lb.MANAGED_BY: lb.MANAGER,
                                                                    lb.COMPONENT: "scanner"}},
                                  "storageLocation": writable_location(ctx),
                                  "ttl": ttl(RESULTS_RETENTION_DAYS), "snapshotVolumes": True,
                                  "snapshotMoveData": True,
                                  "metadata": {"labels": {lb.COMPONENT: "scanner", lb.SITE: ctx.site.id}}}}}


def check_namespace_free(ctx: SiteContext) -> None:
    """Exit 2 when a system is named :data:`SCANNER_NAMESPACE`: its tenancy (namespace = its name), with the
    tenant Role of its department's groups, would be the scanner's namespace."""
    system = ctx.register.systems.get(SCANNER_NAMESPACE)
    if system is not None:
        raise UsageError("a system name clashes with the scanner's namespace", [Diagnostic(
            system.source, 0, 0, "metadata.name",
            f"system '{SCANNER_NAMESPACE}' would share the compliance scanner's namespace (and its signing key)",
            "rename the system, or unset xzgov:scannerImage", "duplicate")])


def check_key_groups(ctx: SiteContext) -> None:
    """Exit 2 when an ``xzgov:scannerKeyGroups`` entry is also a group the scan judges — the region's operators
    (``spec.operators.groups``) or a department's: they would hold the key that signs their own assessment."""
    judged = {group: "an operator group of region.yaml (spec.operators.groups)"
              for group in ctx.region.operator_groups}
    for department in ctx.region.departments.values():
        for group in department.groups:
            judged.setdefault(group, f"a group of department '{department.id}'")
    problems = [Diagnostic(
        ctx.settings.source_file, 0, 0, f"xzgov:scannerKeyGroups[{index}]",
        f"'{group}' is {judged[group]}: the operators the scan judges would hold the key that signs its report",
        "name a group of the security officers only (one no operator or department group shares), or remove "
        "the entry (the cluster administrator then provisions the key)", "config")
        for index, group in enumerate(ctx.settings.scanner_key_groups) if group in judged]
    if problems:
        raise UsageError("xzgov:scannerKeyGroups names groups the scan judges", problems)


def _role(name: str, labels: dict[str, str], rules: list[Obj], purpose: str) -> Obj:
    return {"apiVersion": _RBAC_API, "kind": "Role",
            "metadata": {"name": name, "namespace": SCANNER_NAMESPACE, "labels": dict(labels),
                         "annotations": {lb.PURPOSE: purpose}},
            "rules": rules}


def _binding(role: str, groups: tuple[str, ...], labels: dict[str, str]) -> Obj:
    # one binding listing every group: names derived per group could collide (dns_name folds case)
    return {"apiVersion": _RBAC_API, "kind": "RoleBinding",
            "metadata": {"name": role, "namespace": SCANNER_NAMESPACE, "labels": dict(labels)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group}
                         for group in dict.fromkeys(groups)]}


def scanner_rbac(ctx: SiteContext, labels: dict[str, str]) -> list[Obj]:
    """The only bindings in the scanner's namespace: the operators see (:data:`VIEWER_RULES`), the security
    officers (``xzgov:scannerKeyGroups``) keep the key. The key Role names the Secret for everything but
    ``create``, which RBAC cannot restrict by name (the name is not known before the object exists)."""
    secret = ctx.settings.scanner_key_secret
    objects: list[Obj] = []
    operators = ctx.region.operator_groups
    if operators:
        objects += [_role(VIEWER_ROLE, labels, [dict(rule) for rule in VIEWER_RULES],
                          "运维人员只读: 查看每晚扫描是否运行 / operators: read-only, whether the night's scan ran"),
                    _binding(VIEWER_ROLE, operators, labels)]
    keepers = ctx.settings.scanner_key_groups
    if keepers:
        objects += [_role(KEY_ROLE, labels, [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret],
             "verbs": ["get", "update", "patch", "delete"]}],
            "安全管理员: 配置与轮换扫描签名密钥 / security officers: provision and rotate the signing key"),
            _binding(KEY_ROLE, keepers, labels)]
    return objects


def namespace_objects(ctx: SiteContext, zone: m.Zone, labels: dict[str, str]) -> list[Obj]:
    """The scanner's Namespace (labelled as the security-management segment's, so the admission policies and the
    compliance rules judge it as they judge the zone's), ``default-deny`` and a quota of
    ``xzgov:zoneQuota`` (what :func:`shards_at_once` and :func:`merge_resources` size against) with room for the
    one parts claim; the LimitRange defaults are a shard's resources."""
    quota = ctx.settings.zone_quota
    cpu, memory = millicores(quota.cpu), bytes_of(quota.memory)
    namespace: Obj = {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": SCANNER_NAMESPACE,
                     "labels": {**segment_namespace_labels(ctx, zone), lb.COMPONENT: "scanner"},
                     "annotations": {lb.ZONE_NAME: zone.name, lb.SOURCE: ctx.region.source,
                                     lb.PURPOSE: "合规扫描 (签名密钥不对运维人员开放) / compliance scanner: its "
                                                 "signing key is out of the operators' reach"}}}
    return [namespace, default_deny(SCANNER_NAMESPACE, labels),
            *quota_and_limits(SCANNER_NAMESPACE, labels,
                              quota_spec((cpu, memory), (cpu, memory), quota.pods, (1, bytes_of(PARTS_SIZE))),
                              [{"type": "Container",
                                "default": dict(RESOURCES["limits"]),
                                "defaultRequest": dict(RESOURCES["requests"]),
                                "max": {"cpu": format_cpu(cpu), "memory": format_bytes(memory)}}])]


def _cron_job(name: str, namespace: str, labels: dict[str, str], schedule: str, job: Obj, purpose: str,
              history: int = 3) -> Obj:
    """A CronJob of ``job``, keeping the last ``history`` finished Jobs of each outcome (with their pods)."""
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels),
                         "annotations": {lb.PURPOSE: purpose}},
            "spec": {"schedule": schedule, "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
                     "startingDeadlineSeconds": STARTING_DEADLINE_MINUTES * 60,
                     "successfulJobsHistoryLimit": history, "failedJobsHistoryLimit": history,
                     "jobTemplate": {"metadata": {"labels": dict(labels)}, "spec": job}}}


def render_scanner(ctx: SiteContext) -> list[Obj]:
    """Every object of the scanner at this site (empty where :func:`scanner_here` is false)."""
    zone = scanner_zone(ctx)
    if zone is None or not scanner_here(ctx):
        return []
    settings = ctx.settings
    namespace = SCANNER_NAMESPACE
    labels = {lb.MANAGED_BY: lb.MANAGER, lb.COMPONENT: "scanner", lb.SEGMENT: zone.id, lb.SITE: ctx.site.id}
    check_namespace_free(ctx)
    check_key_groups(ctx)
    count = shard_count(ctx.register, settings.scanner_systems_per_shard)
    check_shard_count(ctx.register, settings, count)  # the settings' problems before the snapshot's work
    per_shard = shard_resources(ctx.register)
    at_once = shards_at_once(settings, count, per_shard)  # also: the quota admits a shard, so the LimitRange is valid
    scan_rounds_fit(ctx.register, settings, count, at_once)
    register = register_snapshot(ctx, namespace, labels)
    fingerprint = settings.scanner_trusted_fingerprint
    assert fingerprint is not None  # Settings requires it with scanner_image
    deadline = settings.scanner_deadline_minutes * 60
    hour, minute = settings.scanner_hour_minute
    later = hour * 60 + minute + merge_offset_minutes(settings.scanner_deadline_minutes)
    claim: Obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                  "metadata": {"name": PARTS_CLAIM, "namespace": namespace, "labels": dict(labels)},
                  "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": PARTS_SIZE}}}}
    if settings.scanner_storage_class is not None:
        claim["spec"]["storageClassName"] = settings.scanner_storage_class
    account = service_account(SCANNER, namespace, labels)
    policy = network_policy(SCANNER, namespace, labels, ingress=[], egress=[],
                            pod_selector={"matchLabels": {lb.COMPONENT: "scanner"}},
                            annotations={lb.PURPOSE: "合规扫描: 无出入站, 只读写卷 / scanner: no traffic in or out, "
                                                     "volumes only"})
    shard_job: Obj = {
        "completionMode": "Indexed", "completions": count, "parallelism": at_once,
        "backoffLimitPerIndex": 2, "activeDeadlineSeconds": deadline,
        # no containerName: the rule covers every container, the init container unpack-register too (an
        # exit 2 there — a snapshot of another render — is as final as the scan's)
        "podFailurePolicy": {"rules": [
            {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": list(FINAL_EXIT_CODES)}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
        "template": _pod(ctx, SCAN_JOB, shard_args(count), register, labels, per_shard),
    }
    merge_job: Obj = {
        "completions": 1, "parallelism": 1, "backoffLimit": 2, "activeDeadlineSeconds": deadline,
        "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": list(FINAL_EXIT_CODES)}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
        "template": _pod(ctx, MERGE_JOB,
                         merge_args(count, part_max_age_minutes(settings.scanner_deadline_minutes), fingerprint),
                         register, labels, merge_resources(ctx.register, settings)),
    }
    return [
        *namespace_objects(ctx, zone, labels), *scanner_rbac(ctx, labels),
        # the controller-made "default" account too, as in every tenancy: a pod not naming ours gets no token
        account, service_account(DEFAULT_SERVICE_ACCOUNT, namespace, labels), *register.config_maps, claim, policy,
        _cron_job(SCAN_JOB, namespace, labels, _cron(hour, minute), shard_job,
                  f"等保/密评 分片扫描 ({count} 片) / sharded compliance scan, {count} shards",
                  # a kept Job keeps a pod per shard (1,000 at 10,000 systems): the last night's run of each
                  # outcome, not three, or the finished pods crowd the cluster's collection (12,500 by default)
                  history=1),
        _cron_job(MERGE_JOB, namespace, labels, _cron((later // 60) % 24, later % 60), merge_job,
                  "合并分片并签名 / merge and sign the parts"),
        results_backup(ctx, namespace, labels, later + STARTING_DEADLINE_MINUTES + settings.scanner_deadline_minutes
                       + MERGE_MARGIN_MINUTES),
    ]

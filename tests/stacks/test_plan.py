"""``plan_site`` and ``xzgov plan``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stacks.components import DR_TYPE, TENANT_TYPE, resource_name
from stacks.plan import plan_site, write_manifests
from stacks.render import render_site
from stacks.settings import Settings
from tests.cli import CliResult
from xzgov.cli.main import build_app
from xzgov.core import model as m

REPO = Path(__file__).resolve().parents[2]


def test_plan_lists_every_resource_with_parent_props_and_system(standard: m.Register) -> None:
    settings = Settings(site="lhasa")
    plan = plan_site(standard, settings)
    rendered = list(render_site(standard, settings).objects())
    assert [r.props for r in plan.resources] == rendered  # render order, provider-side props
    assert [r.name for r in plan.resources] == [resource_name(o) for o in rendered]
    components = {c.urn: c for c in plan.components}
    for resource in plan.resources:
        assert resource.parent in components
        assert resource.urn.startswith("urn:pulumi:lhasa::xzgov-cloud::")
        parent = components[resource.parent]
        if parent.type == TENANT_TYPE:
            assert resource.system == parent.name
        elif parent.type == DR_TYPE and resource.kind == "Schedule":
            assert resource.system == resource.props["spec"]["template"]["includedNamespaces"][0]
        else:
            assert resource.system is None
    ports = [p["port"] for r in plan.resources if r.kind == "NetworkPolicy"
             for rule in r.props["spec"].get("egress", []) for p in rule.get("ports", [])]
    assert ports and all(type(p) is int for p in ports)  # protobuf doubles normalised back to int
    counts = plan.counts()
    assert counts["health-records"]["NetworkPolicy"] == 5  # deny, dns, within-system, portal, monitoring
    assert counts["health-records"]["Schedule"] == 4  # frequent, daily, weekly, monthly (90-day retention)
    assert counts[None]["BackupStorageLocation"] == 2  # lhasa (ReadWrite) and dr-replica (ReadOnly)
    assert plan.outputs["site"] == "lhasa" and "health-records" in plan.outputs["tenants"]


def test_plan_feeds_the_resource_facts_extractor(standard: m.Register) -> None:
    resources = pytest.importorskip("xzgov.facts.resources")
    plan = plan_site(standard, Settings(site="lhasa"))
    facts = {f.subject: f for f in resources.resource_facts([r.to_json() for r in plan.resources],
                                                            register=standard)}
    records = facts["health-records"]
    assert [n["name"] for n in records["namespaces"]] == ["health-records"]
    # only the frequent schedule is judged against the RPO; the long-lived tiers keep old backups
    assert [s["schedule"] for s in records["backup_schedules"]] == ["*/10 * * * *"]
    assert records["rpo_minutes"] == 30


def test_write_manifests_is_reviewable_and_deterministic(standard: m.Register, tmp_path: Path) -> None:
    plan = plan_site(standard, Settings(site="dr"))
    first = write_manifests(plan, tmp_path / "a")
    again = write_manifests(plan_site(standard, Settings(site="dr")), tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in again]
    for left, right in zip(first, again, strict=True):
        assert left.read_text(encoding="utf-8") == right.read_text(encoding="utf-8")
    names = sorted(str(p.relative_to(tmp_path / "a" / "dr")) for p in first)
    tenants = sorted(f"systems/{t}.yaml" for t in plan.outputs["tenants"])
    assert names == sorted([*tenants, "segments.yaml", "disaster-recovery.yaml"])
    recovery = list(yaml.safe_load_all((tmp_path / "a" / "dr" / "disaster-recovery.yaml").read_text("utf-8")))
    assert {o["kind"] for o in recovery} == {"BackupStorageLocation", "Schedule"}
    portal = list(yaml.safe_load_all((tmp_path / "a" / "dr" / "systems" / "identity-platform.yaml").read_text()))
    assert portal[0]["kind"] == "Namespace" and portal[0]["metadata"]["annotations"]["xzgov.io/title"]
    assert all(o["kind"] != "Schedule" for o in portal)


def test_cli_plan_writes_and_summarises(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(build_app(), ["plan", "--root", str(REPO), "--site", "lhasa", "--out", str(tmp_path),
                                         "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    site = summary["sites"][0]
    assert site["site"] == "lhasa" and summary["problems"] == []
    assert site["systems"]["unified-identity"]["Namespace"] == 1
    assert (tmp_path / "lhasa" / "systems" / "unified-identity.yaml").is_file()
    # steady-state backups and Velero's hourly load (issue 14: ≈560,000 Backup objects before tiers)
    backups = site["backups"]
    assert 0 < backups["steady_backups"] < 10_000 and backups["queue_minutes_per_hour"] <= 60
    assert backups["rpo_met"] + backups["rpo_missed"] == sum(
        1 for counts in site["systems"].values() if counts.get("Namespace") and counts.get("Schedule"))
    host_plan = yaml.safe_load((tmp_path / "lhasa" / "host-backup.yml").read_text(encoding="utf-8"))
    assert host_plan["xzgov_host_backup_plan"]["ggzf-db01"][0]["method"] == "pgbackrest"
    # the analyser's connectivity summary (tests/stacks/test_connectivity.py proves what it contains)
    connectivity = site.get("connectivity") or {"allowed": 0, "denied": 0, "possible": 0, "from_internet": 1}
    assert connectivity["allowed"] + connectivity["denied"] == connectivity["possible"]
    assert connectivity["from_internet"] == 1
    if "declared_blocked_count" in connectivity:  # analysed: every declared pod connection allowed, nothing else
        assert (connectivity["declared_blocked_count"], connectivity["undeclared_count"]) == (0, 0), connectivity
        assert connectivity["declared_blocked"] == connectivity["undeclared"] == []
    table = runner.invoke(build_app(), ["plan", "--root", str(REPO), "--site", "dr", "--no-connectivity"])
    assert table.exit_code == 0 and "site dr (dr)" in table.stdout and "connectivity" not in table.stdout
    assert "backups (dr, Velero):" in table.stdout and "Backup objects at steady state" in table.stdout


def test_cli_plan_unknown_site_is_a_usage_error() -> None:
    from xzgov.cli.main import _dispatch

    assert _dispatch(["plan", "--root", str(REPO), "--site", "nowhere"]) == 2
    assert _dispatch(["plan", "--root", str(REPO / "docs")]) == 2


IMAGE = "registry.xzgov.internal/xzgov/xzgov@sha256:" + "3f" * 32
#: the line pinning the shards' signer, required with xzgov:scannerImage (appended last: lines above keep their numbers)
PINNED = "  xzgov:scannerTrustedFingerprint: " + "ab" * 32 + "\n"


def _stack_root(tmp_path: Path, config: str) -> Path:
    """The example register with one more stack file, Pulumi.night.yaml (``config`` below ``config:``)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy2(REPO / "region.yaml", root / "region.yaml")
    shutil.copytree(REPO / "systems", root / "systems")
    (root / "Pulumi.night.yaml").write_text("config:\n" + config, encoding="utf-8")
    return root


def test_cli_plan_of_a_stack_renders_what_its_configuration_asks(tmp_path: Path) -> None:
    """`xzgov plan --stack NAME` reads Pulumi.NAME.yaml through the reader stacks/__main__.py uses: the
    scanner the stack enables is planned and validated like everything else."""
    root = _stack_root(tmp_path, f"  xzgov:site: lhasa\n  xzgov:scannerImage: {IMAGE}\n"
                                 "  xzgov:scannerSystemsPerShard: 7\n  xzgov:zoneQuota: {cpu: \"4\", memory: 8Gi}\n"
                                 "  kubernetes:context: ignored\n" + PINNED)
    runner = CliRunner()
    result = runner.invoke(build_app(), ["plan", "--project-dir", str(root), "--stack", "night", "--out",
                                         str(tmp_path / "out"), "--no-connectivity", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [s["site"] for s in summary["sites"]] == ["lhasa"] and summary["problems"] == []
    written = list(yaml.safe_load_all((tmp_path / "out" / "lhasa" / "segments.yaml").read_text(encoding="utf-8")))
    scan = next(o for o in written if o and o["kind"] == "CronJob" and o["metadata"]["name"] == "xzgov-scan")
    job = scan["spec"]["jobTemplate"]["spec"]
    assert (job["completions"], job["parallelism"]) == (6, 4)  # 39 systems / 7; a 4-CPU quota admits 4
    without = runner.invoke(build_app(), ["plan", "--root", str(REPO), "--site", "lhasa", "--out",
                                          str(tmp_path / "plain"), "--no-connectivity", "--format", "json"])
    assert without.exit_code == 0 and "kind: CronJob" not in (tmp_path / "plain" / "lhasa" / "segments.yaml").read_text(
        encoding="utf-8")


@pytest.mark.parametrize(("config", "expected"), [
    ("  xzgov:site: lhasa\n  xzgov:ScannerImage: x\n", ["Pulumi.night.yaml:3:", "xzgov:ScannerImage",
                                                        "did you mean xzgov:scannerImage?"]),
    ("  xzgov:site: lhasa\n  xzgov:scannerDeadlineMinutes: 900\n", ["Pulumi.night.yaml:3:", "10..600"]),
    ("  xzgov:site: lhasa\n  xzgov:backupMinutes: soon\n", ["Pulumi.night.yaml:3:", "xzgov:backupMinutes"]),
    ("  xzgov:site: lhasa\n  xzgov:scannerImage:\n    secure: AAEAAQ==\n", ["Pulumi.night.yaml:3:",
                                                                           "cannot be read offline"]),
    ("  xzgov:kubeContext: x\n", ["xzgov:site", "set xzgov:site"]),
    # a problem of two keys is located at the one the file sets (the deadline is the default here)
    (f"  xzgov:site: lhasa\n  xzgov:scannerImage: {IMAGE}\n  xzgov:scannerTimeUtc: \"15:30\"\n",
     ["Pulumi.night.yaml:4:", "xzgov:scannerTimeUtc", "past the region's midnight"]),
    # found by the plan, not the settings: still at its line
    (f"  xzgov:site: lhasa\n  xzgov:scannerImage: {IMAGE}\n  xzgov:zoneQuota: {{cpu: \"500m\", memory: 8Gi}}\n"
     + PINNED,
     ["Pulumi.night.yaml:4:", "xzgov:zoneQuota", "cannot run one scanner shard"]),
    # a name ending in a line break is not a name (`$` matched before it)
    (f"  xzgov:site: lhasa\n  xzgov:scannerImage: {IMAGE}\n  xzgov:scannerKeySecret: \"key-secret\\n\"\n",
     ["Pulumi.night.yaml:4:", "is not a Secret name"]),
])
def test_cli_plan_of_a_broken_stack_names_the_line_and_key(cli: Callable[..., CliResult], tmp_path: Path,
                                                           config: str, expected: list[str]) -> None:
    result = cli("plan", "--project-dir", _stack_root(tmp_path, config), "--stack", "night", "--no-connectivity")
    assert result.code == 2, result.text
    for text in expected:
        assert text in result.err, (text, result.err)
    assert "Traceback" not in result.text


def test_cli_plan_stack_usage_errors(cli: Callable[..., CliResult]) -> None:
    missing = cli("plan", "--project-dir", REPO, "--stack", "nowhere", "--no-connectivity")
    assert missing.code == 2 and "choose one of: dev, dr, lhasa" in missing.err
    other = cli("plan", "--project-dir", REPO, "--stack", "dr", "--site", "lhasa", "--no-connectivity")
    assert other.code == 2 and "stack dr plans site dr" in other.err


@pytest.mark.parametrize("version", ["9.99", "1.29"])
def test_a_kubernetes_version_of_the_command_line_is_its_error(cli: Callable[..., CliResult], version: str) -> None:
    """It was checked with the stack's settings and reported as an error of Pulumi.<stack>.yaml."""
    for command in (("plan", "--root", REPO, "--stack", "lhasa", "--project-dir", REPO, "--no-connectivity"),
                    ("dr", "declare", "--root", REPO, "--lost", "lhasa", "--stack", "dr", "--project-dir", REPO)):
        result = cli(*command, "--kubernetes-version", version)
        assert result.code == 2 and "--kubernetes-version" in result.err and "Pulumi." not in result.err, result.err
        assert "1.30" in result.err


def test_a_kind_the_version_does_not_serve_is_named() -> None:
    """kubernetes-validate's SchemaNotFoundError has no text: the problem read "ValidatingAdmissionPolicy x: "."""
    from stacks.validate import validate_object

    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": "x"}, "spec": {}}
    (problem,) = validate_object(policy, "1.29")
    assert "1.29" in str(problem) and "admissionregistration.k8s.io/v1" in str(problem), str(problem)


def test_cli_plan_reads_a_stack_as_pulumi_does(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """Scalars as Pulumi hands them over (text): an unquoted 19:30 is a time, not YAML 1.1's minutes, and
    `no` is not a boolean; registerRoot is resolved against the project directory."""
    project = tmp_path / "project"
    (project / "register").mkdir(parents=True)
    shutil.copy2(REPO / "region.yaml", project / "register" / "region.yaml")
    shutil.copytree(REPO / "systems", project / "register" / "systems")
    (project / "Pulumi.prod.yaml").write_text(
        f"config:\n  xzgov:site: lhasa\n  xzgov:registerRoot: register\n  xzgov:scannerImage: {IMAGE}\n"
        "  xzgov:scannerTimeUtc: 19:30\n" + PINNED, encoding="utf-8")
    res = cli("plan", "--project-dir", project, "--stack", "prod", "--no-connectivity", "--out", tmp_path / "out")
    assert res.code == 0, res.text
    written = (tmp_path / "out" / "lhasa" / "segments.yaml").read_text(encoding="utf-8")
    assert "schedule: 30 19 * * *" in written
    (project / "Pulumi.prod.yaml").write_text(
        "config:\n  xzgov:site: lhasa\n  xzgov:registerRoot: register\n  xzgov:protectStateful: no\n",
        encoding="utf-8")
    refused = cli("plan", "--project-dir", project, "--stack", "prod", "--no-connectivity")
    assert refused.code == 2 and "Pulumi.prod.yaml:4:" in refused.err and "expected true or false" in refused.err


def test_stack_values_are_typed_like_every_key() -> None:
    from stacks.settings import settings_from_config
    from xzgov.core.errors import UsageError

    for pods in ("2.7", True, "many"):
        with pytest.raises(UsageError) as refused:
            settings_from_config({"site": "lhasa", "zoneQuota": {"cpu": "4", "memory": "8Gi", "pods": pods}},
                                 "Pulumi.x.yaml")
        assert refused.value.diagnostics[0].path == "xzgov:zoneQuota"
    assert settings_from_config({"site": "lhasa", "zoneQuota": '{"pods": "12"}'}, "Pulumi.x.yaml").zone_quota.pods == 12


@pytest.mark.parametrize("stop", ["failure", "interrupt"])
def test_a_plan_that_stops_at_a_later_site_leaves_every_site_as_it_was(
        cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: str) -> None:
    """Each site was swapped in as soon as it was written: a failure or a Ctrl-C while the next site was planned
    left lhasa's new plan beside dr's old one (exit 130, "stopped before it finished"). Every site is staged
    first and swapped in once all are, so nothing of the run is in place."""
    from xzgov.cli import plan_cmds
    from xzgov.core.errors import UsageError

    out = tmp_path / "plan"
    assert cli("plan", "--root", REPO, "--out", out, "--no-connectivity", "--no-validate").code == 0
    marker = out / "lhasa" / "segments.yaml"
    marker.write_text("# the previous plan\n", encoding="utf-8")
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    real = plan_cmds.plan_site

    def stops_at_dr(register: m.Register, settings: Settings) -> object:
        if settings.site == "dr":
            if stop == "interrupt":
                raise KeyboardInterrupt
            raise UsageError("planned to fail at the second site")
        return real(register, settings)

    monkeypatch.setattr(plan_cmds, "plan_site", stops_at_dr)
    result = cli("plan", "--root", REPO, "--out", out, "--no-connectivity", "--no-validate")
    assert result.code == (130 if stop == "interrupt" else 2), result.text
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_objects_that_do_not_validate_leave_the_last_plan_and_runbook_in_place(
        cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`plan --out` and `dr declare --out` wrote (and swapped in) objects that failed validation, said "written",
    then exited 1: the last good plan or runbook was replaced by one the API server refuses."""
    import xzgov.cli.dr_cmds as dr_cmds
    import xzgov.cli.plan_cmds as plan_cmds

    plan_out, dr_out = tmp_path / "plan", tmp_path / "dr"
    assert cli("plan", "--root", REPO, "--site", "dr", "--no-connectivity", "--out", plan_out).code == 0
    assert cli("dr", "declare", "--lost", "lhasa", "--root", REPO, "--out", dr_out).code == 0

    def snapshot(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    before = snapshot(plan_out), snapshot(dr_out)
    assert before[0] and before[1]
    refused = ["Deployment x: spec.replicas: 'two' is not of type 'integer'"]
    monkeypatch.setattr(plan_cmds, "validate_objects", lambda *_: refused)
    monkeypatch.setattr(dr_cmds, "validate_objects", lambda *_: refused)
    planned = cli("plan", "--root", REPO, "--site", "dr", "--no-connectivity", "--out", plan_out)
    assert planned.code == 1 and "nothing written" in planned.out and "manifests written" not in planned.out
    declared = cli("dr", "declare", "--lost", "lhasa", "--root", REPO, "--out", dr_out)
    assert declared.code == 1 and "nothing written" in declared.out and "runbook written" not in declared.out
    assert (snapshot(plan_out), snapshot(dr_out)) == before

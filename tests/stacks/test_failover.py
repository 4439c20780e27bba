"""The DR procedure: a disaster declaration gives every tier-≥1 system of the lost site its Restore and its
DR-site tenancy with DR-site addresses; fail-back restores from the DR site's own schedules."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from stacks.failover import declare, disaster_register, failback, recovered, runbook_steps
from stacks.mocks import evaluate
from stacks.program import build
from stacks.render import labels as lb
from stacks.render.dr import RESTORE_EXCLUDED, TIER_ANNOTATION, restore_stamp
from stacks.settings import Settings
from stacks.validate import validate_objects, validate_with_library
from xzgov.cli.main import build_app
from xzgov.core import model as m
from xzgov.core.errors import UsageError
from xzgov.core.inventory import allowed_flows, covered, host_flows
from xzgov.core.register import load_register

REPO = Path(__file__).resolve().parents[2]


def _cidrs(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "ipBlock":
                yield value["cidr"]  # (its ``except`` entries only narrow it)
            else:
                yield from _cidrs(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from _cidrs(item)


#: when the fixture's disaster is declared (the Restores' names carry its UTC minute)
DECLARED_AT = dt.datetime(2026, 12, 6, 14, 5, tzinfo=dt.UTC)
STAMP = "20261206-1405"


@pytest.fixture(scope="module")
def declaration(example_register: m.Register) -> Any:
    return declare(example_register, Settings(site="dr"), "lhasa", at=DECLARED_AT)


def test_every_tier_1_system_gets_its_restore_and_dr_tenancy(example_register: m.Register, declaration: Any) -> None:
    expected = {s.name for s in example_register if s.site == "lhasa" and s.continuity.dr_tier >= 1}
    assert expected and set(declaration.systems) == expected
    restores = {o["metadata"]["name"]: o for o in declaration.restores}
    assert set(restores) == {f"{name}-failover-{STAMP}" for name in expected}
    tenants = {t.system: t for t in declaration.render.tenants}
    lhasa_ranges = [r for zone in example_register.region.zones.values() if (r := zone.cidr("lhasa"))]
    dr_ranges = [r for zone in example_register.region.zones.values() if (r := zone.cidr("dr"))]
    for name in expected:
        spec = restores[f"{name}-failover-{STAMP}"]["spec"]
        assert spec["scheduleName"] == f"{name}-backup" and spec["backupName"] == ""
        assert spec["includedNamespaces"] == [example_register.systems[name].namespace]
        assert "networkpolicies.networking.k8s.io" in spec["excludedResources"]  # lhasa CIDRs stay behind
        assert spec["existingResourcePolicy"] == "none"  # Pulumi's DR objects win
        tenant = tenants[name]
        assert tenant.replica
        namespace = tenant.objects[0]
        assert namespace["kind"] == "Namespace"
        assert namespace["metadata"]["labels"][lb.SITE] == "dr"
        policies = [o for o in tenant.objects if o["kind"] == "NetworkPolicy"]
        assert policies
        for cidr in (ipaddress.IPv4Network(c) for p in policies for c in _cidrs(p)):
            if not cidr.is_private:
                continue  # the public internet (0.0.0.0/0 minus private ranges) at the entry path
            assert not any(cidr.overlaps(r) for r in lhasa_ranges), (name, cidr)
            assert any(cidr.subnet_of(r) for r in dr_ranges), (name, cidr)
    tier0 = {s.name for s in example_register if s.site == "lhasa" and s.continuity.dr_tier == 0}
    assert not tier0 & set(tenants)


def test_the_declaration_validates_against_kubernetes_and_velero_schemas(declaration: Any) -> None:
    objects = [*declaration.render.objects(), *declaration.restores]
    assert validate_objects(objects, "1.30") == []
    for obj in declaration.render.tenants[0].objects:  # the library's own entry point agrees
        validate_with_library(obj, "1.30")
    assert {o["kind"] for o in declaration.restores} == {"Restore"}


def test_failed_over_systems_back_up_at_the_dr_site_and_replicate_home(declaration: Any) -> None:
    recovery = declaration.render.disaster_recovery
    schedules = {o["metadata"]["name"]: o for o in recovery if o["kind"] == "Schedule"}
    for name in declaration.systems:
        frequent = schedules[f"{name}-backup-dr"]
        assert frequent["metadata"]["labels"][TIER_ANNOTATION] == "frequent"
        assert frequent["spec"]["template"]["storageLocation"] == "dr"  # DR bucket, velero/dr → lhasa
        assert frequent["spec"]["skipImmediately"] is True
    locations = {o["metadata"]["name"]: o["spec"] for o in recovery if o["kind"] == "BackupStorageLocation"}
    assert locations["dr"]["accessMode"] == "ReadWrite" and locations["lhasa-replica"]["accessMode"] == "ReadOnly"
    assert declaration.images and all("@sha256:" in image for image in declaration.images)
    assert {job.target_site for job in declaration.host_restores} == {"dr"}
    assert "xzgov:disasterDeclared[0]' lhasa" in declaration.config_command


def test_no_recovery_point_is_met_while_the_off_site_copy_goes_to_the_lost_site(declaration: Any) -> None:
    """During the declaration 14 frequent schedules at the DR site said rpo-met "true" — recovered systems and
    the DR site's own — though their namespace copy replicates to the lost site and their host jobs write to the
    DR site's own bucket: no copy leaves the site."""
    frequent = [o for o in declaration.render.disaster_recovery if o["kind"] == "Schedule"
                and lb.RPO_MET in o["metadata"].get("annotations", {})]
    assert len(frequent) >= len(declaration.systems)
    for schedule in frequent:
        annotations = schedule["metadata"]["annotations"]
        assert annotations[lb.RPO_MET] == "false", schedule["metadata"]["name"]
        assert "declared lost" in annotations["xzgov.io/rpo-reason"]


def test_recovered_hosts_keep_backing_up_and_go_off_site_again_after_failback(
        example_register: m.Register, declaration: Any) -> None:
    """After a failover the recovered hosts' jobs continue the restored repositories at the DR site (the lost
    site has no object store) and say so; the fail-back gives the home hosts their normal, off-site jobs."""
    during = declaration.host_backups
    assert during and len(during) == len(declaration.host_restores)
    for job, restore in zip(during, declaration.host_restores, strict=True):
        assert (job.hostname, job.target_site, job.prefix) == (restore.hostname, "dr", restore.prefix)
        assert job.disaster == "lhasa" and job.to_vars()["disaster"] == "lhasa"
    back = failback(example_register, Settings(site="lhasa"), "dr").host_backups
    assert {j.hostname for j in back} == {j.hostname for j in during}
    assert all(j.disaster == "" and "disaster" not in j.to_vars() and j.target_site == "dr" for j in back)


def test_each_declaration_names_its_restores_apart(example_register: m.Register, tmp_path: Path) -> None:
    """Velero runs a Restore once: the runbook of a second disaster reused the first one's names (`<system>-failover`),
    so `kubectl apply` changed nothing on the completed Restores and nothing was restored, while `velero restore
    describe` showed them completed. Each declaration's (and fail-back's) Restores carry its UTC minute."""
    later = declare(example_register, Settings(site="dr"), "lhasa", at=dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC))
    first = declare(example_register, Settings(site="dr"), "lhasa", at=DECLARED_AT)
    names = [o["metadata"]["name"] for o in first.restores]
    assert names and all(name.endswith(f"-failover-{STAMP}") for name in names)
    assert not {o["metadata"]["name"] for o in later.restores} & set(names)
    assert [o["spec"] for o in later.restores] == [o["spec"] for o in first.restores]
    back = failback(example_register, Settings(site="lhasa"), "dr", at=DECLARED_AT)
    assert all(o["metadata"]["name"].endswith(f"-failback-{STAMP}") for o in back.restores)
    assert all(len(o["metadata"]["name"]) <= 63 for o in [*first.restores, *back.restores])
    # the CLI stamps the minute it renders
    before = restore_stamp(dt.datetime.now(dt.UTC))
    from xzgov.cli.main import _dispatch

    assert _dispatch(["dr", "declare", "--lost", "lhasa", "--root", str(REPO), "--out", str(tmp_path / "out")]) == 0
    after = restore_stamp(dt.datetime.now(dt.UTC))
    written = [o for o in yaml.safe_load_all((tmp_path / "out" / "declare-dr" / "restores.yaml").read_text(
        encoding="utf-8")) if o]
    assert written and all(o["metadata"]["name"].rsplit("-", 2)[-2:] in (before.split("-"), after.split("-"))
                           for o in written)


def test_failback_restores_from_the_dr_sites_schedules(example_register: m.Register) -> None:
    plan = failback(example_register, Settings(site="lhasa"), "dr", at=DECLARED_AT)
    spec = next(o for o in plan.restores if o["metadata"]["name"] == f"public-payment-failback-{STAMP}")["spec"]
    assert spec["scheduleName"] == "public-payment-backup-dr"
    assert spec["existingResourcePolicy"] == "update"
    assert list(spec["excludedResources"]) == list(RESTORE_EXCLUDED)
    assert validate_objects(plan.restores, "1.30") == []


@pytest.mark.parametrize("way", ["failover", "failback"])
def test_restores_leave_what_pulumi_renders_to_pulumi(example_register: m.Register, way: str) -> None:
    """Every object the stacks render carries managed-by xzgov; a Restore selects only objects without it, so
    neither the service accounts nor the entry Services (the other site's source ranges and address pool) are
    written over the site's own — a fail-back's existingResourcePolicy: update would do exactly that."""
    plan = (declare(example_register, Settings(site="dr"), "lhasa") if way == "failover"
            else failback(example_register, Settings(site="lhasa"), "dr"))
    selector = {"matchExpressions": [{"key": lb.MANAGED_BY, "operator": "NotIn", "values": [lb.MANAGER]}]}
    assert plan.restores and all(r["spec"]["labelSelector"] == selector for r in plan.restores)
    rendered = [o for t in plan.render.tenants for o in t.objects]
    entries = [o for o in rendered if o["kind"] == "Service"]
    assert entries and all(o["metadata"]["labels"][lb.MANAGED_BY] == lb.MANAGER for o in rendered
                           if o["kind"] in ("Service", "ServiceAccount", "Namespace"))


def test_declaring_at_a_primary_or_the_same_site_is_refused(example_register: m.Register) -> None:
    # the example's one DR site declared lost at the primary: the refusal names the manual procedure (it said
    # "not a DR site", which led back to the same-site refusal below)
    with pytest.raises(UsageError, match="a lost DR site is recovered by hand"):
        declare(example_register, Settings(site="lhasa"), "dr")
    with pytest.raises(UsageError):
        declare(example_register, Settings(site="dr"), "dr")
    with pytest.raises(UsageError):
        declare(example_register, Settings(site="dr"), "nowhere")


def test_the_dr_stack_with_the_declaration_creates_the_tenancies(standard: m.Register) -> None:
    settings = Settings(site="dr", disaster_declared=("lhasa",))
    recording = evaluate(lambda: build(standard, settings), stack="dr")
    namespaces = {r.inputs["metadata"]["name"] for r in recording.custom() if r.type == "kubernetes:core/v1:Namespace"}
    # low-tier (tier 1) is below drTenancyMinTier but is recovered once lhasa is declared lost
    assert {"low-tier", "health-records", "police-intel"} <= namespaces


def test_cli_declare_writes_the_runbook(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(build_app(), ["dr", "declare", "--lost", "lhasa", "--root", str(REPO),
                                         "--out", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["problems"] == [] and summary["restores"] == len(summary["systems"])
    written = tmp_path / "declare-dr"
    restores = list(yaml.safe_load_all((written / "restores.yaml").read_text(encoding="utf-8")))
    assert len(restores) == summary["restores"]
    assert (written / "steps.txt").read_text(encoding="utf-8").startswith("1. 宣告灾难")
    # the recovered hosts' own backups: the jobs roles/host_backup reads, continuing the restored repositories
    plan = yaml.safe_load((written / "host-backup.yml").read_text(encoding="utf-8"))["xzgov_host_backup_plan"]
    restored = {(r["host"], r["prefix"], r["bucket"]) for r in summary["host_restores"]}
    assert {(host, job["prefix"], job["bucket"]) for host, jobs in plan.items() for job in jobs} == restored
    assert {job["disaster"] for jobs in plan.values() for job in jobs} == {"lhasa"}
    _check_host_backup_step((written / "steps.txt").read_text(encoding="utf-8"), written)
    from xzgov.cli.main import _dispatch

    assert _dispatch(["dr", "declare", "--lost", "nowhere", "--root", str(REPO)]) == 2


def test_cli_dr_with_a_stack_renders_that_stacks_locations(tmp_path: Path) -> None:
    """`--stack dev` (backupPrefix velero-dev): the failback's locations and restores read the dev stack's own
    object layout, not the production prefix the defaults give."""
    from xzgov.cli.main import _dispatch

    assert _dispatch(["dr", "failback", "--from", "dr", "--project-dir", str(REPO), "--stack", "dev",
                      "--out", str(tmp_path / "dev")]) == 0
    assert _dispatch(["dr", "failback", "--from", "dr", "--root", str(REPO), "--out", str(tmp_path / "plain")]) == 0

    def prefixes(out: Path) -> set[str]:
        objects = yaml.safe_load_all((out / "failback-lhasa" / "disaster-recovery.yaml").read_text(encoding="utf-8"))
        return {str(o["spec"]["objectStorage"]["prefix"]) for o in objects
                if o and o["kind"] == "BackupStorageLocation"}

    assert prefixes(tmp_path / "dev") and all(p.startswith("velero-dev/") for p in prefixes(tmp_path / "dev"))
    assert all(p.startswith("velero/") for p in prefixes(tmp_path / "plain"))
    # the stack names its site: another --site is a usage error, not a silent mix
    assert _dispatch(["dr", "failback", "--from", "dr", "--project-dir", str(REPO), "--stack", "dev",
                      "--site", "dr"]) == 2


def test_the_cli_prints_the_whole_failback_procedure_and_the_warnings(
        cli: Any, tmp_path: Path) -> None:
    """`xzgov dr failback` printed four steps (restore at home straight away, no fencing, no final backup at
    the DR site, stale volumes kept); it prints the procedure the plan carries, and what a step does not cover
    reaches stderr instead of being dropped."""
    res = cli("dr", "failback", "--from", "dr", "--root", REPO, "--format", "json")
    assert res.code == 0, res.text
    data = json.loads(res.out)
    # (the command reads Pulumi.dr.yaml from the project directory, the repository here: drTenancyMinTier 3)
    plan = failback(load_register(REPO), Settings(site="lhasa"), "dr", dr_settings=Settings(site="dr"))
    # the steps name the runbook files where `--out DIR` writes them (not written here: the placeholder says so)
    assert data["steps"] == runbook_steps(plan.procedure, None) and len(data["steps"]) >= 10
    assert any("<--out DIR>/<action>-<site>/host-backup.yml" in step for step in data["steps"])
    assert data["steps"][0].startswith("1. fence dr") and "backup create --from-schedule" in data["steps"][1]
    assert data["warnings"] == list(plan.warnings)
    # the fail-back says what it does not bring back (it said nothing: hosts no backup restores, as plan warns)
    unbacked = [w for w in plan.warnings if "host-restores.yaml has nothing to restore it from" in w]
    assert unbacked and any("dfzx-db01" in w for w in unbacked)
    text = cli("dr", "failback", "--from", "dr", "--root", REPO)
    assert all(f"warning: {w}" in text.err for w in plan.warnings)
    declared = cli("dr", "declare", "--lost", "lhasa", "--root", REPO)
    assert declared.code == 0, declared.text
    warned = declare(load_register(REPO), Settings(site="dr"), "lhasa").warnings
    assert warned and all(f"warning: {w}" in declared.err for w in warned)


def test_failback_with_the_sites_swapped_is_refused(example_register: m.Register) -> None:
    """`xzgov dr failback --from lhasa --site dr` rendered a runbook that fenced the live primary (lhasa) and
    Restores from schedules that never exist (`*-backup-lhasa` at a primary): exit 0, no problem named."""
    with pytest.raises(UsageError) as refused:
        failback(example_register, Settings(site="dr"), "lhasa")
    (problem,) = refused.value.diagnostics
    assert problem.path == "spec.sites" and "role 'primary'" in problem.message and "--from the DR site" in problem.hint
    assert failback(example_register, Settings(site="lhasa"), "dr").restores  # the right way round still renders


def test_the_runbook_recovers_the_shortest_rto_first(example_register: m.Register, declaration: Any) -> None:
    """Restores came in name order: police-bigdata (tier 6, RTO 30 min) was 26th of 35, behind systems allowed
    four hours."""
    rto = [example_register.systems[name].continuity.rto_minutes for name in declaration.systems]
    assert rto == sorted(rto)
    order = [o["metadata"]["name"].removesuffix(f"-failover-{STAMP}") for o in declaration.restores]
    assert order == list(declaration.systems)
    quick = [name for name in order if example_register.systems[name].continuity.rto_minutes <= 30]
    assert "police-bigdata" in quick and order[:len(quick)] == quick


def test_a_second_declaration_keeps_the_first_in_the_stack_config() -> None:
    # `pulumi config set --path 'xzgov:disasterDeclared[0]' dr2` replaced an earlier lhasa declaration, and
    # `pulumi up` then dropped the systems failed over from lhasa: the list is rewritten whole
    from stacks.failover import declared_sites_command

    command = declared_sites_command("dr", ("dr2", "lhasa"))
    steps = command.split(" && ")
    assert steps[0] == "(pulumi config rm --stack dr xzgov:disasterDeclared || true)"
    assert steps[1:] == ["pulumi config set --stack dr --path 'xzgov:disasterDeclared[0]' dr2",
                         "pulumi config set --stack dr --path 'xzgov:disasterDeclared[1]' lhasa"]


def test_the_runbooks_name_the_stack_they_were_rendered_for(example_register: m.Register) -> None:
    """`xzgov dr failback --stack dev` printed `pulumi up --stack lhasa` (the production primary) and `--stack dr`;
    a declaration for a staging DR stack ran `pulumi up --stack dr`. Every command names the stack asked for; the
    other side's stack, which a non-conventional stack cannot know, is a placeholder, never production's."""
    dev = Settings(site="lhasa", config_file="Pulumi.dev.yaml")
    plan = failback(example_register, dev, "dr")
    text = "\n".join([plan.config_command, *plan.procedure])
    assert "--stack dev" in text and "--stack lhasa" not in text and "--stack dr " not in text
    assert "--stack <dr stack of this environment>" in text
    staging = declare(example_register, Settings(site="dr", config_file="Pulumi.dr-staging.yaml"), "lhasa")
    assert "--stack dr-staging" in staging.config_command and "--stack dr " not in staging.config_command + " "
    # the repository's own stacks follow the convention: the same commands as before
    home = failback(example_register, Settings(site="lhasa", config_file="Pulumi.lhasa.yaml"), "dr")
    assert "pulumi up --stack lhasa" in "\n".join(home.procedure) and "pulumi up --stack dr" in home.config_command


def test_a_system_the_declaration_does_not_recover_is_named(example_register: m.Register) -> None:
    """A DR-tier-0 system of the lost site was left out without a word (35 of lhasa's 36 systems recovered): the
    operator learnt it was down after switching DNS."""
    plan = declare(example_register, Settings(site="dr"), "lhasa")
    left = sorted(s.name for s in example_register if s.site == "lhasa" and s.continuity.dr_tier < 1)
    assert left and not set(left) & set(plan.systems)
    for name in left:
        said = [w for w in plan.warnings if f"spec.continuity.dr_tier: {name} " in w]
        assert len(said) == 1 and "is not recovered" in said[0] and "lhasa-replica" in said[0]
        assert int(said[0].split(":")[1]) > 0  # at the manifest's line


def _check_host_backup_step(steps: str, written: Path) -> None:
    """The runbook's host-backup command works as printed, from the repository root: it names the inventory (without
    one the play matches no host and exits 0) and the written jobs file (the playbook has the same name)."""
    [command] = re.findall(r"ansible-playbook [^(]*?host-backup\.yml\b[^(:]*", steps)
    args = shlex.split(command.strip())
    assert args[1:3] == ["-i", "inventories/dr"] and args[-1] == f"@{written}/host-backup.yml"
    checked = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), *args[1:], "--syntax-check"],
                             cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _role_repository(method: str, job: dict[str, Any], hostname: str) -> str:
    """The repository roles/host_backup configures for ``job`` on ``hostname``: its templates, rendered."""
    import importlib.util

    import jinja2

    spec = importlib.util.spec_from_file_location("xzgov_secrets", REPO / "plugins" / "filter" / "xzgov_secrets.py")
    assert spec is not None and spec.loader is not None
    filters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(filters)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(filters.FilterModule().filters())
    env.filters["regex_replace"] = lambda value, pattern, new: re.sub(pattern, new, value)
    defaults = yaml.safe_load((REPO / "roles/host_backup/defaults/main.yml").read_text(encoding="utf-8"))
    context = {**defaults, "ansible_managed": "managed", "inventory_hostname": hostname, "host_backup_job": job,
               "item": job, "host_backup_s3_key_id": "k", "host_backup_s3_secret": "s",
               "host_backup_pg_cipher_pass": "p", "host_backup_restic_password": "r"}
    if method == "pgbackrest":
        text = env.from_string((REPO / "roles/host_backup/templates/pgbackrest.conf.j2").read_text()).render(context)
        return re.search(r"^repo1-path=(.*)$", text, re.M).group(1)  # type: ignore[union-attr]
    text = env.from_string((REPO / "roles/host_backup/templates/restic.env.j2").read_text()).render(context)
    return json.loads(re.search(r"^RESTIC_REPOSITORY=(.*)$", text, re.M).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("action", ["declare", "failback"])
def test_each_host_restore_names_the_repository_the_role_backs_up_into(tmp_path: Path, action: str) -> None:
    """host-restores.yaml gave each host its system's prefix (velero-hosts/<site>/<system>), where no repository
    is: roles/host_backup keeps one per host below it. Each entry's repository is the one the role writes, as
    its templates render it for that host's job."""
    args = ["dr", "declare", "--lost", "lhasa"] if action == "declare" else ["dr", "failback", "--from", "dr"]
    result = CliRunner().invoke(build_app(), [*args, "--root", str(REPO), "--out", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    (written,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    restores = yaml.safe_load((written / "host-restores.yaml").read_text(encoding="utf-8"))
    plan = yaml.safe_load((written / "host-backup.yml").read_text(encoding="utf-8"))["xzgov_host_backup_plan"]
    assert {r["method"] for r in restores} == {"pgbackrest", "restic"}
    for restore in restores:
        (job,) = [j for j in plan[restore["host"]] if j["system"] == restore["system"]]
        assert restore["repository"] == _role_repository(restore["method"], job, restore["host"]), restore
        assert restore["path"].endswith(f"/{restore['system']}/{restore['host']}")


def test_a_declaration_that_leaves_no_time_source_says_so(example_register: m.Register, declaration: Any) -> None:
    """Every time source of the example is at lhasa: declared lost, NTP at dr reached only the security-management
    zone there, which serves none, and nothing said so (as the plan says of an unreachable shared service)."""
    said = [w for w in declaration.warnings if w.startswith("no time source outside the lost site(s) lhasa")]
    assert len(said) == 1 and "add a time source at 'dr'" in said[0]
    from dataclasses import replace

    region = replace(example_register.region, time_sources=("10.69.0.123", "10.169.0.123"))
    kept = declare(replace(example_register, region=region), Settings(site="dr"), "lhasa")
    assert not [w for w in kept.warnings if w.startswith("no time source")]
    # a region none of whose systems declares a zone flow (the warning came from rendering one): the same
    small = load_register(REPO / "tests" / "register" / "fixtures" / "region")
    assert not any(f.to.kind == "zone" for s in small for f in s.flows)
    warned = declare(small, Settings(site="dr"), "lhasa").warnings
    assert len([w for w in warned if w.startswith("no time source outside the lost site(s) lhasa")]) == 1


def test_declaring_the_dr_site_lost_points_at_the_manual_procedure(capsys: pytest.CaptureFixture[str]) -> None:
    """`--lost dr` said the two sites must differ, naming `--site lhasa`, which then said to declare at a DR site:
    a circle. A lost DR site is recovered by hand at the primary (docs/dr.md §5)."""
    from xzgov.cli.main import _dispatch

    for extra in ([], ["--site", "lhasa"]):
        assert _dispatch(["dr", "declare", "--lost", "dr", *extra, "--root", str(REPO)]) == 2
        err = capsys.readouterr().err
        assert "is the region's DR site" in err and 'docs/dr.md §5 "A lost DR site"' in err, err


def test_a_dr_host_whose_firewall_drops_failed_over_zone_flows_is_named(tmp_path: Path) -> None:
    """The host firewalls are written for peace (`xzgov inventory`): a zone flow of a recovered system now leaves
    from its zone's egress range at the DR site, which a DR host serving that port admitted only when a system of
    the DR site sent the same flow. A second reader found such a host (seed 4: NTP to a host of the
    security-management zone at dr, dropped for 12 of 13 failed-over senders); the declaration names it with the
    rule that admits them. The example's DR hosts serve such ports only as region roles: nothing to name."""
    from tests.stacks.random_registers import make_register

    register = load_register(make_register(4, tmp_path / "register"))
    named = [w for w in declare(register, Settings(site="dr"), "lhasa").warnings
             if "written for peace" in w and "UDP/123" in w]
    assert len(named) == 1 and "rs4-sys4.yaml" in named[0]
    assert "nft insert rule inet xzgov input position" in named[0] and "udp dport 123 accept" in named[0]
    assert "public-payment" in named[0] and "10.166.255.0/26" in named[0]
    example = declare(load_register(REPO), Settings(site="dr"), "lhasa")
    assert not [w for w in example.warnings if "written for peace" in w and "from their pods here" in w]


def test_a_dr_host_whose_output_chain_drops_its_flows_to_recovered_systems_is_named() -> None:
    """The third reader: the DR hosts' own flows to a recovered system were written to reach it at the lost site
    (the output chain's policy is drop); its pods now run at the DR site, reached through that site's entry range —
    in the example, eco-bigdata's two level-2 storage hosts calling identity, gis, the crypto service and data
    exchange. Named with the rule that allows each (appended: level 2 logs no drops)."""
    example = declare(load_register(REPO), Settings(site="dr"), "lhasa")
    named = {(w.split(": spec.hosts[", 1)[1].split("]", 1)[0], re.search(r"flow (\S+) to (\S+),", w).groups())
             for w in example.warnings if "its declared flow" in w}
    expected = {(host, flow) for host in ("0", "1") for flow in (
        ("TCP/8443", "service:crypto-service"), ("TCP/443", "service:gis"), ("TCP/443", "service:identity"),
        ("TCP/8443", "system:data-exchange"))}
    assert named == expected
    data_exchange = next(w for w in example.warnings if "system:data-exchange" in w)
    assert "eco-bigdata.yaml" in data_exchange
    assert "nft add rule inet xzgov output ip daddr { 10.168.224.0/20 } tcp dport 8443 accept" in data_exchange


def _disaster_in_rules_missing(register: m.Register, lost: str, site: str) -> set[tuple[str, int, str, int]]:
    """An oracle of its own: the in-rules ``xzgov inventory`` would write for the DR site's hosts were the recovered
    systems' pods placed there (a register with their site moved), less what the peacetime rules cover — per
    (manifest, host index, protocol, port)."""
    disaster = disaster_register(register, site, recovered(register, lost))
    missing = set()
    for system in register:
        if system.site != site:
            continue
        for index, host in enumerate(system.hosts):
            peace = [f for f in host_flows(register, system, host) if f["direction"] == "in"]
            missing |= {(system.source, index, f["protocol"].upper(), f["port"])
                        for f in allowed_flows(disaster, system, host)
                        if f["direction"] == "in" and not covered(f, peace)}
    return missing


@pytest.mark.parametrize("seed", [4, 6, 11, 17])
def test_every_declared_flow_a_dr_host_drops_after_a_declaration_is_named(seed: int, tmp_path: Path) -> None:
    """The third reader: a recovered system's flow straight to a system of the DR site (not only to its zone) was
    admitted from the sender's range at the lost site and is dropped from the DR range after the declaration —
    and was not named (1–6 per random register). Compared with the inventory's own rules for the moved register."""
    from tests.stacks.random_registers import make_register

    register = load_register(make_register(seed, tmp_path / "register"))
    named = set()
    for warning in declare(register, Settings(site="dr"), "lhasa").warnings:
        if "written for peace" in warning and "from their pods here" in warning:  # the input chain's
            where = re.match(r"(.+?):\d+: spec\.hosts\[(\d+)\]", warning)
            flow = re.search(r"the declared flow (\w+)/(\d+) of", warning)
            assert where and flow, warning
            named.add((where[1], int(where[2]), flow[1], int(flow[2])))
            # the level-3/4 firewall logs its drops: the rule goes before that log rule; below, it is appended
            level = next(s.level for s in register if s.source == where[1])
            assert ("nft insert rule inet xzgov input position" in warning) is (level >= 3), warning
            assert ("nft add rule inet xzgov input ip saddr" in warning) is (level < 3), warning
    expected = _disaster_in_rules_missing(register, "lhasa", "dr")
    assert expected and named == expected


def test_failback_unprotects_the_namespaces_the_dr_stack_does_not_keep(tmp_path: Path) -> None:
    """A review: step 10's namespaces to unprotect were judged by the home stack's xzgov:drTenancyMinTier; the
    tenancies that stand at the DR site in peace are the DR stack's setting. With the DR stack's threshold at 4,
    the tier-3 systems' namespaces were created by the declaration (and protected) too, and were not named."""
    from xzgov.cli.main import _dispatch

    project = tmp_path / "project"
    project.mkdir()
    for stack in ("lhasa", "dr"):
        text = (REPO / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8").replace(
            "xzgov:registerRoot: .", f"xzgov:registerRoot: {REPO}")
        (project / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")

    def unprotected(out: Path, *stack: str) -> set[str]:
        assert _dispatch(["dr", "failback", "--from", "dr", "--project-dir", str(project), *stack,
                          "--root", str(REPO), "--out", str(out)]) == 0
        step = next(line for line in (out / "failback-lhasa" / "steps.txt").read_text(encoding="utf-8").splitlines()
                    if "pulumi state unprotect" in line)
        return {s.namespace for s in load_register(REPO) if s.namespace in step.split("for the Namespace of ")[1]
                .split(" (`pulumi stack")[0].split(", ")}

    register = load_register(REPO)
    tier = {s.namespace: s.continuity.dr_tier for s in register if s.site == "lhasa" and s.continuity.dr_tier >= 1}
    assert unprotected(tmp_path / "three", "--stack", "lhasa") == {ns for ns, t in tier.items() if t < 3}
    dr_file = project / "Pulumi.dr.yaml"
    dr_file.write_text(dr_file.read_text(encoding="utf-8").replace("xzgov:drTenancyMinTier: 3",
                                                                   "xzgov:drTenancyMinTier: 4"), encoding="utf-8")
    four = unprotected(tmp_path / "four", "--stack", "lhasa")
    assert four == {ns for ns, t in tier.items() if t < 4} and any(tier[ns] == 3 for ns in four)
    # the second reading: without --stack (docs/dr.md's form) the DR site's stack file was not read either
    assert unprotected(tmp_path / "plain") == four


def test_a_flow_the_hosts_security_service_rule_admits_is_not_named_as_dropped(tmp_path: Path) -> None:
    """A review: the DR warnings compared with the declared-flow rules only, not the host's whole firewall — with
    security-ops-dr's syslog receiver port internal (the log centre host takes the flow), the declaration named
    a rule to add for 6514 from security-ops' pods, which the DR log centre's own rule from every zone admits."""
    shutil.copy(REPO / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(REPO / "systems", tmp_path / "systems")
    manifest = tmp_path / "systems" / "dsjj" / "security-ops-dr.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert text.count("ports: [{port: 6514}]") == 1
    manifest.write_text(text.replace("ports: [{port: 6514}]", "ports: [{port: 6514, exposure: internal}]"),
                        encoding="utf-8")
    register = load_register(tmp_path)
    host = next(h for s in register for h in s.hosts if h.hostname == "log-centre-dr01")
    owner = next(s for s in register if host in s.hosts)
    admitted = [f for f in host_flows(register, owner, host) if f["direction"] == "in" and f["port"] == 6514]
    assert admitted  # the log centre's rule from the zones it serves
    warned = [w for w in declare(register, Settings(site="dr"), "lhasa").warnings
              if "log-centre-dr01" in w or ("spec.hosts[0]: its firewall" in w and "6514" in w)]
    assert not [w for w in warned if "drops the declared flow TCP/6514" in w], warned


def test_the_declaration_reads_the_stacks_state_at_the_dr_site(example_register: m.Register, tmp_path: Path) -> None:
    """A review: Pulumi.yaml pins the state backend to the primary's object store (oss.lhasa…): with lhasa lost, the
    declaration's `pulumi config set` and `pulumi up --stack dr` could not read the stack's state. The command reads
    the state bucket's replica at the DR site (PULUMI_BACKEND_URL overrides the project's backend)."""
    plan = declare(example_register, Settings(site="dr", register_root=str(REPO)), "lhasa")
    assert plan.config_command.startswith("export PULUMI_BACKEND_URL='s3://xzgov-pulumi-state?endpoint=oss.dr.xzgov."
                                          "internal&region=xizang&s3ForcePathStyle=true' && ")
    assert "oss.lhasa" not in plan.config_command
    assert not [w for w in plan.warnings if "PULUMI_BACKEND_URL" in w]
    # a project without such a backend: the step stays as it was and a warning says what to give
    (tmp_path / "region.yaml").write_bytes((REPO / "region.yaml").read_bytes())
    plain = declare(example_register, Settings(site="dr", register_root=str(tmp_path)), "lhasa")
    assert not plain.config_command.startswith("export") and any(
        "give PULUMI_BACKEND_URL the replica of the state bucket at dr" in w for w in plain.warnings)


def test_the_declaration_names_a_dr_site_without_a_bastion_and_keeps_the_backends_form(
        example_register: m.Register, tmp_path: Path) -> None:
    """The third reading: with lhasa lost no bastion reaches the DR hosts (the example's is at lhasa) — said; the
    endpoint's scheme was dropped and the export was not shell-quoted; Pulumi.yaml was read from the register root,
    not the project directory."""
    plan = declare(example_register, Settings(site="dr", register_root=str(REPO)), "lhasa")
    assert any("no host at dr declares role: bastion" in w for w in plan.warnings)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: xzgov-cloud\nbackend:\n  url: s3://xzgov'state?endpoint=https://"
                                         "oss.lhasa.xzgov.internal&use_path_style=true\n", encoding="utf-8")
    moved = declare(example_register, Settings(site="dr", register_root=str(REPO)), "lhasa", project=project)
    exported = shlex.split(moved.config_command.split(" && ")[0])
    assert exported == ["export", "PULUMI_BACKEND_URL=s3://xzgov'state?endpoint=https%3A%2F%2Foss.dr.xzgov.internal"
                        "&use_path_style=true"]
    for text in ("backend: s3://xzgov-state\n", "backend: [1]\n", "name: [\n"):  # no URL to move: a warning
        (project / "Pulumi.yaml").write_text(text, encoding="utf-8")
        odd = declare(example_register, Settings(site="dr", register_root=str(REPO)), "lhasa", project=project)
        assert not odd.config_command.startswith("export") and any("PULUMI_BACKEND_URL" in w for w in odd.warnings)


def test_failback_without_the_dr_stack_file_says_which_threshold_it_judged_by(
        example_register: m.Register) -> None:
    """The third reading: without Pulumi.dr.yaml in the project directory, step 10 named namespaces to delete by the
    home stack's threshold without a word (a standing DR tenancy among them would be deleted behind Pulumi)."""
    plan = failback(example_register, Settings(site="lhasa"), "dr")
    assert any("Pulumi.dr.yaml was not read" in w and "before deleting" in w for w in plan.warnings)
    dr = failback(example_register, Settings(site="lhasa"), "dr", dr_settings=Settings(site="dr"))
    assert not any("was not read" in w for w in dr.warnings)
    assert any("copy dr's replica of the state bucket back to lhasa's" in step for step in dr.procedure)

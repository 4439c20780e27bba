"""DR review fixes: honest rpo-met for hosts the backup role cannot take, a fail-back that cannot keep stale
volume data or leave both sites running, Velero-readable crons, replication as a claim, and a lost DR site."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stacks.failover import declare, failback
from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render.dr import (
    HOST_BACKUP,
    HOST_UNBACKED,
    REPLICATION_CLAIM,
    RESTORE_PRECONDITION,
    RPO_ACHIEVED,
    RPO_REASON,
    TIER_ANNOTATION,
)
from stacks.render.hostdata import host_backup_vars, host_backups
from stacks.settings import Settings
from stacks.validate import validate_objects
from xzgov.core import model as m
from xzgov.core.cron import max_gap_minutes, velero_cron

REPO = Path(__file__).resolve().parents[2]
#: the review's list: data-holding openEuler / Kylin hosts of the example region
UNSUPPORTED = {"gadsj-db01", "ybxx-db01", "ybxx-db02", "dfzx-db01", "mmfw-kms01", "mmfw-kms02", "sjgx-lake01",
               "sjgx-lake02", "sjgx-lake03", "stsj-store01", "stsj-store02"}


def frequent(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Annotations of the frequent schedule of each system, by system."""
    return {o["metadata"]["labels"][lb.SYSTEM]: o["metadata"]["annotations"] for o in objects
            if o["kind"] == "Schedule" and o["metadata"]["annotations"].get(TIER_ANNOTATION) == "frequent"}


# 1 — hosts whose OS roles/host_backup does not support -----------------------------------------------------

def test_unsupported_os_hosts_are_never_claimed_as_backed_up(example_register: m.Register) -> None:
    found = {h.hostname for s in example_register for h in s.hosts
             if m.host_data_method(h) and h.os_family != "debian"}
    assert found == UNSUPPORTED
    jobs: set[str] = set()
    for site in ("lhasa", "dr"):
        settings = Settings(site=site, register_root=str(REPO))
        rendered = render_site(example_register, settings)
        jobs |= set(host_backup_vars(example_register, site, settings))  # the plan's host-backup.yml
        for system, notes in frequent(rendered.disaster_recovery).items():
            missing = [h.hostname for h in example_register.systems[system].hosts if h.hostname in UNSUPPORTED]
            if not missing:
                continue
            assert notes[lb.RPO_MET] == "false", system
            for hostname in missing:
                assert f"host {hostname} (" in notes[RPO_REASON] and "Debian 12 only" in notes[RPO_REASON]
                assert hostname not in notes.get(HOST_BACKUP, "")
                assert hostname in notes[HOST_UNBACKED]
                # the plan warns, at the manifest line of the host
                warning = next(w for w in rendered.warnings if f"host {hostname} (" in w)
                source = example_register.systems[system].source
                match = re.match(rf"{re.escape(source)}:(\d+): spec\.hosts\[\d+\]\.data: ", warning)
                assert match, warning
                line = (REPO / source).read_text(encoding="utf-8").splitlines()[int(match.group(1)) - 1]
                assert f"hostname: {hostname}" in line and "fix:" in warning
    assert jobs and not jobs & UNSUPPORTED
    by_name = {h.hostname: h for s in example_register for h in s.hosts}
    assert all((by_name[h].os_family, by_name[h].os_version) == ("debian", "12") for h in jobs)
    # the playbook runs on Debian hosts only, which is all the rendered jobs name
    assert re.search(r"^\s*hosts:\s*os_debian\s*$", (REPO / "host-backup.yml").read_text(), re.M)


def test_declaration_restores_no_host_it_never_backed_up(example_register: m.Register) -> None:
    plan = declare(example_register, Settings(site="dr", register_root=str(REPO)), "lhasa")
    restored = {job.hostname for job in plan.host_restores} | {job.hostname for job in plan.host_backups}
    assert not restored & UNSUPPORTED
    assert any("gadsj-db01" in w and "host-restores.yaml has nothing to restore" in w for w in plan.warnings)


# 2/3 — fail-back: no stale volume data, no two running sites ------------------------------------------------

def test_failback_restore_states_its_precondition(example_register: m.Register) -> None:
    plan = failback(example_register, Settings(site="lhasa", register_root=str(REPO)), "dr")
    assert plan.restores and validate_objects(plan.restores, "1.30") == []
    for restore in plan.restores:
        condition = restore["metadata"]["annotations"][RESTORE_PRECONDITION]
        namespace = restore["spec"]["includedNamespaces"][0]
        assert f"velero backup create --from-schedule {restore['spec']['scheduleName']} --wait" in condition
        assert f"kubectl -n {namespace} delete" in condition and "pvc" in condition


def test_failback_procedure_fences_backs_up_clears_then_restores_then_retires_dr(
        example_register: m.Register) -> None:
    plan = failback(example_register, Settings(site="lhasa", register_root=str(REPO)), "dr")
    text = "\n".join(plan.procedure)

    def at(needle: str) -> int:
        assert needle in text, needle
        return text.index(needle)

    order = [at("scale deploy,sts --all --replicas=0"),  # stop writes at dr
             at("backup create --from-schedule $s --wait"),  # the final backup
             at("pulumi up --stack lhasa"),
             at("delete deploy,sts,ds,job,cronjob,pvc --all --wait; done"),  # stale PVCs at home
             at("apply -f <runbook>/restores.yaml"),
             at("kubectl --context <dr> -n $ns delete"),  # DR workloads gone
             at("pulumi state unprotect --stack dr"),  # protect=True namespaces
             at("pulumi config rm --stack dr xzgov:disasterDeclared")]
    assert order == sorted(order)
    # of each recovered system's schedule at dr, by the name it carries
    assert f"final backups at dr: for s in {' '.join(f'{name}-backup-dr' for name in plan.systems)}; do" in text
    # the one-line command printed by `xzgov dr failback` says the same order
    command = plan.config_command
    assert command.index("velero backup create") < command.index("pulumi up --stack lhasa") \
        < command.index("state unprotect") < command.index("pulumi config rm")


# 4 — crons as Velero (robfig/cron) reads them ----------------------------------------------------------------

def _robfig_accepts_dow(cron: str) -> bool:
    field = cron.split()[4].lower()
    return all(int(n) <= 6 for n in re.findall(r"\d+", field.split("/")[0]))


@pytest.mark.parametrize(("written", "velero"), [
    ("*/10 * * * 1-7", "*/10 * * * 0-6"), ("0 3 * * 7", "0 3 * * 0"), ("0 3 * * 5-7", "0 3 * * 0,5-6"),
    ("0 3 * * 0-7", "0 3 * * 0-6"), ("0 3 * * 1,7", "0 3 * * 1,0"), ("0 3 * * MON-FRI", "0 3 * * MON-FRI"),
    ("@daily", "@daily"), ("*/5 * * * *", "*/5 * * * *")])
def test_velero_cron_has_no_day_of_week_7(written: str, velero: str) -> None:
    assert velero_cron(written) == velero
    assert max_gap_minutes(velero) == max_gap_minutes(written)


@pytest.mark.parametrize(("expression", "gap"), [
    ("0 3 * * 1/2", 3 * 1440),  # robfig: 1-6/2 = Mon, Wed, Fri (not Sunday "7")
    ("0 0 */2 * 1", 2 * 1440),  # robfig: */2 is restricted, so day-of-month OR Monday
])
def test_gaps_follow_velero_where_cron_dialects_differ(expression: str, gap: int) -> None:
    assert max_gap_minutes(expression) == gap


def test_manifest_schedule_with_sunday_7_renders_a_schedule_velero_accepts(standard: m.Register) -> None:
    system = standard.systems["crypto-platform"]
    weekly7 = replace(system, continuity=replace(system.continuity, rpo_minutes=1440,
                                                 backup_schedule="*/10 * * * 1-7"))
    register = replace(standard, systems={**standard.systems, system.name: weekly7})
    schedule = next(o for o in render_site(register, Settings(site="lhasa")).disaster_recovery
                    if o["metadata"]["name"] == "crypto-platform-backup")
    assert schedule["metadata"]["annotations"][lb.SCHEDULE_SOURCE] == "manifest"
    assert schedule["spec"]["schedule"] == "*/10 * * * 0-6"
    assert _robfig_accepts_dow(schedule["spec"]["schedule"])


# 5 — declared replication is a claim, not evidence -------------------------------------------------------

def test_declared_replication_keeps_the_measured_verdict(standard: m.Register) -> None:
    system = standard.systems["crypto-platform"]
    claimed = replace(system, continuity=replace(system.continuity, replication="synchronous"))
    register = replace(standard, systems={**standard.systems, system.name: claimed})
    slow = Settings(site="lhasa", replication_lag_minutes=60)
    annotations = frequent(render_site(register, slow).disaster_recovery)["crypto-platform"]
    assert annotations[lb.RPO_MET] == "false"
    assert "namespace backup" in annotations[RPO_REASON]
    assert int(annotations[RPO_ACHIEVED]) > 60
    assert annotations[REPLICATION_CLAIM].startswith("synchronous (declared in the manifest")


# 6/7 — the DR site's own systems ------------------------------------------------------------------------------

def test_after_a_declaration_dr_systems_backing_up_to_the_lost_site_miss_their_rpo(
        example_register: m.Register) -> None:
    settings = Settings(site="dr", register_root=str(REPO), disaster_declared=("lhasa",))
    rendered = render_site(example_register, settings)
    ops = frequent(rendered.disaster_recovery)["security-ops-dr"]
    assert [j.target_site for j in host_backups(example_register.region, example_register.systems["security-ops-dr"],
                                                settings)] == ["lhasa"]
    assert ops[lb.RPO_MET] == "false" and "lost site 'lhasa'" in ops[RPO_REASON]
    assert any(w.startswith("systems/dsjj/security-ops-dr.yaml:") and "declared lost" in w for w in rendered.warnings)
    # in peace the same system meets its RPO
    peace = frequent(render_site(example_register, Settings(site="dr")).disaster_recovery)["security-ops-dr"]
    assert "lost site" not in peace.get(RPO_REASON, "")


def test_declaration_warns_about_dr_site_systems_and_lost_site_addresses(example_register: m.Register) -> None:
    plan = declare(example_register, Settings(site="dr", register_root=str(REPO)), "lhasa")
    for name in ("eco-bigdata", "nyingchi-tourism", "security-ops-dr"):
        source = example_register.systems[name].source
        warning = next(w for w in plan.warnings if w.startswith(f"{source}:") and "spec.site" in w)
        line = int(warning.split(":")[1])
        assert "site:" in (REPO / source).read_text(encoding="utf-8").splitlines()[line - 1]
        assert "no rendered recovery path" in warning and "docs/dr.md" in warning
    assert any("lhasa addresses" in w for w in plan.warnings)


def test_host_data_and_images_come_before_the_restores_that_start_the_applications(
        example_register: m.Register) -> None:
    # the runbook applied the Restores (Deployments with their replicas: the applications start) before the host
    # databases were restored, and checked the images only afterwards
    from xzgov.cli.dr_cmds import steps

    declared = steps(declare(example_register, Settings(site="dr"), "lhasa"))

    def at(lines: list[str], needle: str) -> int:
        return next(index for index, line in enumerate(lines) if needle in line)

    assert at(declared, "images.txt") < at(declared, "host-restores.yaml") < at(declared, "/restores.yaml")
    assert [int(line.split(".")[0]) for line in declared] == list(range(1, len(declared) + 1))
    back = list(failback(example_register, Settings(site="lhasa"), "dr").procedure)
    assert at(back, "host-restores.yaml") < at(back, "/restores.yaml")
    assert [int(line.split(".")[0]) for line in back] == list(range(1, len(back) + 1))


def test_the_scanner_the_dr_site_runs_is_in_images_txt(example_register: m.Register) -> None:
    # the render moves the compliance scanner's CronJobs to the DR site; images.txt listed the workloads only
    image = "registry.xzgov.internal/xzgov/xzgov@sha256:" + "3f" * 32
    settings = Settings(site="dr", scanner_image=image, scanner_trusted_fingerprint="ab" * 32)
    plan = declare(example_register, settings, "lhasa")
    assert plan.render.scanner and image in plan.images
    assert plan.images == sorted(set(plan.images))

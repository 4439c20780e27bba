"""XZ-RES-BACKUP-RPO runs on the manifest and on the plan (and as a CrossGuard policy). A manifest the manifest
point passes is never refused by the plan: the manifest point also judges the schedule the stacks deploy where
Velero cannot run the declared one (``xzgov.core.backup_cadence.rendered_cadence``, the render's function), and
the plan point counts declared synchronous replication as the manifest point does. Before, an RPO below
Velero's 5-minute floor, or an RPO of 0 met by synchronous replication (issue 12), passed `xzgov validate` and
the manifest scan and then failed as a mandatory CrossGuard violation that blocked `pulumi up`.

One difference remains, and is pinned here: a declared cron sparser than the RPO fails the manifest point (the
department's stated plan misses its RPO) while the plan passes (the render deploys RPO-derived backups instead,
by design: docs/stacks.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from policies.engine import Status, run_rules
from policies.registry import RULES_BY_ID
from stacks.plan import plan_site
from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.cron import max_gap_minutes
from xzgov.facts.manifest import manifest_facts
from xzgov.facts.resources import resource_facts

ROOT = Path(__file__).resolve().parents[2]
RULE = RULES_BY_ID["XZ-RES-BACKUP-RPO"]


def _verdicts(register: m.Register, names: list[str]) -> dict[str, tuple[Status, Status]]:
    """system → (manifest point's status, plan point's status) of the rule (each site's offline plan, as
    `xzgov scan --plan` makes it)."""
    sites = {register.systems[name].site for name in names}
    resources = [resource.to_json() for site in sorted(sites)
                 for resource in plan_site(register, Settings(site=site, register_root=str(ROOT))).resources]
    planned = {f.subject: f for f in resource_facts(resources, register=register)}
    found = {}
    for name in names:
        system = register.systems[name]
        [at_manifest] = run_rules([RULE], manifest_facts(register, system))
        [at_plan] = run_rules([RULE], planned[name])
        found[name] = (at_manifest.status, at_plan.status)
    return found


def _with_continuity(register: m.Register, name: str, **changes: object) -> m.Register:
    system = register.systems[name]
    changed = dataclasses.replace(system, continuity=dataclasses.replace(system.continuity, **changes))
    return dataclasses.replace(register, systems={**register.systems, name: changed})


def test_every_example_system_gets_one_verdict(example_register: m.Register) -> None:
    verdicts = _verdicts(example_register, sorted(example_register.systems))
    differ = {name: pair for name, pair in verdicts.items() if pair[0] is not pair[1]}
    sparse = {name for name, system in example_register.systems.items()
              if max_gap_minutes(system.continuity.backup_schedule) > system.continuity.rpo_minutes
              and system.continuity.replication != "synchronous"}
    assert differ == {name: (Status.FAIL, Status.PASS) for name in sparse}


@pytest.mark.parametrize(("changes", "expected"), [
    # below Velero's floor, no replication: no schedule can meet it — both points fail
    ({"rpo_minutes": 3, "backup_schedule": "*/3 * * * *"}, Status.FAIL),
    # RPO 0 met by declared synchronous replication (issue 12) — both points pass
    ({"rpo_minutes": 0, "replication": "synchronous"}, Status.PASS),
    # a manifest cron more frequent than the RPO needs: deployed as written, both points pass
    ({"rpo_minutes": 60, "backup_schedule": "*/20 * * * *"}, Status.PASS),
], ids=["below-the-floor", "synchronous", "frequent-manifest-cron"])
def test_one_verdict_at_both_points(example_register: m.Register, changes: dict[str, object],
                                    expected: Status) -> None:
    register = _with_continuity(example_register, "medical-insurance", **changes)
    assert _verdicts(register, ["medical-insurance"]) == {"medical-insurance": (expected, expected)}

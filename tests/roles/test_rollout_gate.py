"""site.yml's rollout uses one value per setting, judges each batch exactly and says how it ended (docs/hardening.md,
"Fleets" and "Exit codes").

No host is booted: the plays are site.yml's own (contract play, level-1 play, summary play) run against four local
hosts, with the level play's roles replaced by one task that fails on the hosts told to (`become`, fact gathering
and the apt pre-task left out). The gate's comparison itself is evaluated with Ansible's templar for batches of
up to 10,000 hosts. XZGOV_ROLLOUT_SITE_YML points the tests at another copy of site.yml (see
test_rollout_settings.py).
"""

from __future__ import annotations

import copy
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from tests.hosts.pool import ansible_playbook, repo_root
from tests.roles.test_rollout_settings import CONTRACT, site_path

HOSTS = ("h1", "h2", "h3", "h4")
BATCHES = ("-e", json.dumps({"xzgov_rollout_batches": [1, 2, 1]}))  # h1 | h2 h3 | h4
STOPPED = "Rollout stopped: 1 of 2 hosts of this batch failed or could not be reached (h2)"
COMPLETED = "Rollout completed:"


def _plays() -> dict[str, dict[str, object]]:
    plays = yaml.safe_load(site_path().read_text(encoding="utf-8"))
    return {str(play.get("name", "")): play for play in plays}


def _play(prefix: str) -> dict[str, object]:
    found = [play for name, play in _plays().items() if name.startswith(prefix)]
    assert len(found) == 1, (prefix, list(_plays()))
    return copy.deepcopy(found[0])


def _level_play() -> dict[str, object]:
    play = _play("Harden 等保 level 1 ")
    play.pop("become")
    pre_tasks = play["pre_tasks"]
    assert isinstance(pre_tasks, list)
    assert "ansible.builtin.assert" in pre_tasks[0]
    assert "ansible.builtin.set_fact" in pre_tasks[1] and "ansible.builtin.set_fact" in pre_tasks[2]
    assert "ansible.builtin.wait_for_connection" in pre_tasks[3]
    # no stop noted before, note the batch open on the controller, note its hosts, reach the host
    play["pre_tasks"] = pre_tasks[:4]
    play.pop("roles")
    play["tasks"] = [
        # a changed file whose handler reloads a service (sshd, nftables): forced to run on a failed host too
        {"name": "Change what a handler reloads", "ansible.builtin.command": "/bin/true", "changed_when": True,
         "notify": "Reload"},
        {"name": "Break where told", "ansible.builtin.fail": {"msg": "broken on purpose"},
         "when": "inventory_hostname in (xzgov_test_broken | default([]))"}]
    # the reload cuts off the hosts told to (an SSH connection to a closed port: unreachable)
    play["handlers"] = [{"name": "Reload", "ansible.builtin.command": "/bin/true", "vars": {
        "ansible_connection": "{{ 'ssh' if inventory_hostname in (xzgov_test_cut_off | default([])) else 'local' }}",
        "ansible_host": "127.0.0.1", "ansible_port": 1}}]
    return play


def _say(out: str) -> str:
    return " ".join(out.split())


def _run(tmp_path: Path, plays: list[dict[str, object]], *extra: str,
         inventory_vars: dict[str, object] | None = None,
         host_vars: dict[str, dict[str, object]] | None = None,
         level_groups: dict[str, tuple[str, ...]] | None = None) -> tuple[int, str]:
    playbook = tmp_path / "rollout.yml"
    playbook.write_text(yaml.safe_dump(plays, allow_unicode=True), encoding="utf-8")
    inventory = tmp_path / "hosts.yml"
    hosts = {name: (host_vars or {}).get(name) for name in HOSTS}
    levels = level_groups if level_groups is not None else {"level1": HOSTS}
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {**CONTRACT, "xzgov_level": 1, **(inventory_vars or {})},
        "children": {"os_debian": {"hosts": hosts},
                     **{group: {"hosts": {name: None for name in names}} for group, names in levels.items()}}}}),
        encoding="utf-8")
    result = ansible_playbook(inventory, *extra, playbook=playbook, timeout=300)
    return result.returncode, result.stdout + result.stderr


def _ran(out: str, host: str) -> bool:
    """Whether `host` reached the level play's task (in any batch)."""
    sections = [part.split("TASK [", 1)[0].split("PLAY ", 1)[0] for part in out.split("TASK [Break where told]")[1:]]
    return any(f"[{host}]" in section for section in sections)


# --- finding: inventory values -------------------------------------------------------------------------------

@pytest.mark.parametrize(("inventory_vars", "host_vars", "named"), [
    ({"xzgov_rollout_max_fail_percentage": 50}, None, "h1 sets xzgov_rollout_max_fail_percentage=50 (in effect: 0)"),
    (None, {"h3": {"xzgov_rollout_connect_timeout": 5}}, "h3 sets xzgov_rollout_connect_timeout=5 (in effect: 60)"),
    # serial never saw it; the contract play used to check it and then let the default apply without a word
    ({"xzgov_rollout_batches": [1, 2]}, None, 'h1 sets xzgov_rollout_batches=[1, 2] (in effect: [1, "10%", "25%"])'),
], ids=["group-tolerance", "host-timeout", "group-batches"])
def test_a_rollout_setting_in_the_inventory_is_refused(
    tmp_path: Path, inventory_vars: dict[str, object] | None, host_vars: dict[str, dict[str, object]] | None,
    named: str,
) -> None:
    code, out = _run(tmp_path, [_play("Contract")], inventory_vars=inventory_vars, host_vars=host_vars)
    assert code == 2, out[-3000:]
    said = _say(out)
    assert "Rollout settings in the inventory: " in said and named in said, out[-3000:]
    assert "Remove it from the inventory and pass it with -e" in said, out[-3000:]


def test_an_inventory_value_the_extra_var_overrides_passes(tmp_path: Path) -> None:
    code, out = _run(tmp_path, [_play("Contract")], "-e", "xzgov_rollout_max_fail_percentage=50",
                     inventory_vars={"xzgov_rollout_max_fail_percentage": 10})
    assert code == 0, out[-3000:]


def test_the_gate_never_takes_the_tolerance_from_the_inventory(tmp_path: Path) -> None:
    # without the contract play (as with --start-at-task): the gate of the level play still uses the value in
    # effect, 0, not the inventory's 50 (which let a 2-host batch lose one and went on into the next batch)
    code, out = _run(tmp_path, [_level_play(), _play("Rollout | Summary")], *BATCHES,
                     "-e", json.dumps({"xzgov_test_broken": ["h2"]}),
                     inventory_vars={"xzgov_rollout_max_fail_percentage": 50})
    assert code == 2, out[-3000:]
    assert STOPPED in _say(out), out[-3000:]
    assert "xzgov_rollout_max_fail_percentage=0 % allows" in _say(out), out[-3000:]
    assert not _ran(out, "h4") and COMPLETED not in out, out[-3000:]


def test_every_play_that_reads_the_settings_sets_the_same_defaults() -> None:
    """Play vars outrank group_vars/host_vars: serial, the connect timeout and the gate see one value."""
    plays = _plays()
    contract = plays[next(name for name in plays if name.startswith("Contract"))]
    defaults = dict(contract["vars"])
    usable = defaults.pop("xzgov_rollout_batches_usable")
    assert "xzgov_rollout_batches" in usable and "mandatory" not in usable
    assert defaults == {"xzgov_rollout_batches": [1, "10%", "25%"], "xzgov_rollout_max_fail_percentage": 0,
                        "xzgov_rollout_connect_timeout": 60}
    readers = [play for name, play in plays.items() if "xzgov_rollout" in yaml.safe_dump(play, allow_unicode=True)]
    assert len(readers) == 6, [play.get("name") for play in readers]  # contract, 4 levels, summary
    level = _play("Harden 等保 level 1 ")
    gate = level["post_tasks"][-1]  # type: ignore[index]
    used = [level["serial"], level["pre_tasks"][3], gate["ansible.builtin.assert"],  # type: ignore[index]
            gate["vars"]["xzgov_rollout_within_tolerance"]]
    assert all("default(" not in json.dumps(value, ensure_ascii=False) for value in used), used  # no own fallback
    for play in readers:
        assert play["vars"] == {**defaults, "xzgov_rollout_batches_usable": usable}, play["name"]


# --- finding: how the rollout ended ----------------------------------------------------------------------------

def _rollout(tmp_path: Path, *extra: str, broken: tuple[str, ...] = ()) -> tuple[int, str]:
    return _run(tmp_path, [_play("Contract"), _level_play(), _play("Rollout | Summary")], *BATCHES, *extra,
                "-e", json.dumps({"xzgov_test_broken": list(broken)}))


def test_a_clean_rollout_exits_0_and_says_it_completed(tmp_path: Path) -> None:
    code, out = _rollout(tmp_path)
    assert code == 0, out[-3000:]
    assert "Rollout completed: every batch of every level play ran to its end; no host failed." in _say(out)


def test_failures_within_tolerance_exit_2_and_say_the_rollout_completed(tmp_path: Path) -> None:
    code, out = _rollout(tmp_path, "-e", "xzgov_rollout_max_fail_percentage=50", broken=("h2",))
    assert code == 2, out[-3000:]  # Ansible: a host failed
    said = _say(out)
    assert ("Rollout completed: every batch of every level play ran to its end; 1 of 4 hosts failed or could not "
            "be reached, within xzgov_rollout_max_fail_percentage=50 % per batch: h2.") in said, out[-3000:]
    assert "Rollout stopped:" not in out and _ran(out, "h4"), out[-3000:]


def test_a_stop_exits_2_without_saying_completed(tmp_path: Path) -> None:
    code, out = _rollout(tmp_path, broken=("h2",))
    assert code == 2, out[-3000:]
    assert STOPPED in _say(out) and COMPLETED not in out and not _ran(out, "h4"), out[-3000:]


def test_a_stop_ends_the_run_when_the_lost_host_also_became_unreachable_in_its_handlers(tmp_path: Path) -> None:
    # h2 fails, then its forced handler cuts it off: Ansible counts it failed and unreachable (2 of a batch of 2)
    # and, without the note on the controller, started batch 3 (h4) and the summary play ("Rollout completed:")
    code, out = _rollout(tmp_path, "-e", json.dumps({"xzgov_test_cut_off": ["h2"]}), broken=("h2",))
    assert code == 4, out[-3000:]  # Ansible: a host became unreachable
    said = _say(out)
    assert STOPPED in said and COMPLETED not in out and not _ran(out, "h4"), out[-3000:]
    assert "Rollout stopped earlier: a batch lost more hosts than tolerated (h2)" in said, out[-3000:]


def test_a_stop_in_the_last_batch_ends_the_run_at_the_summary_play(tmp_path: Path) -> None:
    # the lost host of the last batch (h4) becomes unreachable too: no next batch reads the note, the summary does
    code, out = _rollout(tmp_path, "-e", json.dumps({"xzgov_test_cut_off": ["h4"], "xzgov_rollout_batches": [1, 3]}),
                         broken=("h4",))
    assert code == 4, out[-3000:]
    said = _say(out)
    assert "Rollout stopped: 1 of 3 hosts" in said and COMPLETED not in out, out[-3000:]
    assert "Rollout stopped earlier: a batch lost more hosts than tolerated (h4); the rollout did not complete" \
        in said, out[-3000:]


@pytest.mark.parametrize(("batches", "broken", "cut_off", "lost"), [
    ([1, 2, 1], ["h1"], ["h1"], "h1"),  # the canary fails, then its forced handler cuts it off
    ([1, 2, 1], ["h2", "h3"], ["h2"], "h2, h3"),  # the whole second batch, one of its hosts cut off
    ([1, 2, 1], ["h4"], ["h4"], "h4"),  # the last batch: the summary play reads it
    ([1, 3], ["h2", "h3", "h4"], ["h3"], "h2, h3, h4"),
], ids=["canary", "middle-batch", "last-batch", "three-hosts"])
def test_a_batch_that_lost_every_host_stops_the_rollout(
    tmp_path: Path, batches: list[int], broken: list[str], cut_off: list[str], lost: str,
) -> None:
    # Every host of the batch lost, one of them failed and then unreachable: Ansible counts it twice, so its own
    # "the whole batch failed" stop never matched, and no host was left to run the gate: the next batch started
    # and the summary said "Rollout completed:". The batch stays open on the controller instead.
    code, out = _rollout(tmp_path, "-e", json.dumps({"xzgov_rollout_batches": batches, "xzgov_test_cut_off": cut_off}),
                         broken=tuple(broken))
    assert code == 4, out[-3000:]
    said = _say(out)
    assert ("Rollout stopped earlier: every host of a batch was lost before its end, so no host was left to judge "
            f"it ({lost}); the rollout did not complete") in said, out[-3000:]
    assert COMPLETED not in out, out[-3000:]
    later = [host for host in HOSTS if host > max(broken)]
    assert not any(_ran(out, host) for host in later), out[-3000:]


@pytest.mark.parametrize("skipped", ["always", "tagged", "always,gbt22239_8_1_4_1_b"])
def test_skipping_the_rollouts_own_tasks_is_refused_before_any_play_changes_a_host(
    tmp_path: Path, skipped: str,
) -> None:
    # --skip-tags always (or tagged, which skips always-tagged tasks too) skipped every check and the gate: [0]
    # rolled every host out in one batch, no canary, and a failed host passed ("Rollout completed: ... within
    # 0 %"); refused in the level play's serial, it came after the security-management plays had changed hosts
    marker = tmp_path / "security-management-ran"
    touch = {"ansible.builtin.file": {"path": str(marker), "state": "touch"}}
    before_levels = {"name": "Stand-in for the security-management plays", "hosts": "os_debian",
                     "gather_facts": False, "tasks": [touch]}
    given = {"xzgov_rollout_batches": [0], "xzgov_test_broken": ["h2"]}
    code, out = _run(tmp_path, [_play("Contract"), before_levels, _level_play(), _play("Rollout | Summary")],
                     "--skip-tags", skipped, "-e", json.dumps(given))
    assert code == 4, out[-3000:]
    assert "Rollout not started: --skip-tags " in _say(out), out[-3000:]
    assert "skips the rollout checks and the batch gate" in _say(out), out[-3000:]
    assert not marker.exists() and not any(_ran(out, host) for host in HOSTS) and COMPLETED not in out, out[-3000:]


def test_a_host_variable_that_cannot_be_read_yet_does_not_fail_the_contract(tmp_path: Path) -> None:
    # the bookkeeping check read every variable of every host, which renders it: a group var made of facts
    # (not gathered in the contract play) failed the play
    code, out = _run(tmp_path, [_play("Contract")],
                     inventory_vars={"app_listen_address": "{{ ansible_facts['default_ipv4']['address'] }}"})
    assert code == 0, out[-3000:]


@pytest.mark.parametrize("batches", [[0], [], [1, "2.5%"], [5, "25%"]], ids=json.dumps)
def test_an_unusable_batch_list_is_refused_by_serial_when_the_contract_play_is_skipped(
    tmp_path: Path, batches: list[object],
) -> None:
    # --start-at-task past the contract play skipped its check: [0] or [] was one batch of every host, no canary
    code, out = _rollout(tmp_path, "--start-at-task", "Reach the host*", "-e",
                         json.dumps({"xzgov_rollout_batches": batches}))
    assert code == 4, out[-3000:]
    assert (f"Rollout not started: Rollout settings: xzgov_rollout_batches={json.dumps(batches)} is unusable"
            in _say(out)), out[-3000:]
    assert not any(_ran(out, host) for host in HOSTS), out[-3000:]


def test_a_batch_whose_hosts_were_not_noted_stops_the_rollout(tmp_path: Path) -> None:
    # --start-at-task past the note: the gate counted the lost hosts against the survivors only (a failed host
    # passed); a batch it cannot judge now stops the rollout, failed hosts or not
    code, out = _rollout(tmp_path, "--start-at-task", "Reach the host*", "-e",
                         json.dumps({"xzgov_rollout_batches": [1, 3]}))
    assert code == 2, out[-3000:]
    assert "Rollout stopped: the hosts of this batch were not noted when it started" in _say(out), out[-3000:]
    assert _ran(out, "h1") and not _ran(out, "h2") and COMPLETED not in out, out[-3000:]


@pytest.mark.parametrize("given", [
    {"xzgov_rollout_within_tolerance": True},
    {"xzgov_rollout_open_batch": []},
    {"xzgov_rollout_batch_hosts": ["h2"]},
    {"xzgov_rollout_batches_usable": True},
], ids=lambda given: next(iter(given)))
def test_a_bookkeeping_variable_given_as_an_extra_var_is_refused(tmp_path: Path, given: dict[str, object]) -> None:
    # an extra var outranks set_fact and task vars: xzgov_rollout_within_tolerance=true turned the gate off
    code, out = _rollout(tmp_path, "-e", json.dumps(given), broken=("h2",))
    assert code == 2, out[-3000:]
    (name,) = given
    assert f"Rollout settings: {name} given (as an extra var or in the inventory)" in _say(out), out[-3000:]
    assert not any(_ran(out, host) for host in HOSTS), out[-3000:]


def test_a_bookkeeping_variable_in_the_inventory_is_refused(tmp_path: Path) -> None:
    code, out = _run(tmp_path, [_play("Contract")], host_vars={"h3": {"xzgov_rollout_stopped_by": []}})
    assert code == 2, out[-3000:]
    assert "Rollout settings: xzgov_rollout_stopped_by given" in _say(out), out[-3000:]


@pytest.mark.parametrize(("level_groups", "named"), [
    ({"level1": ("h1", "h2", "h4")}, ("h3", 'xzgov_level=1 but is in the level group(s) []')),
    ({"level1": HOSTS, "level3": ("h2",)}, ("h2", 'xzgov_level=1 but is in the level group(s) ["level1", "level3"]')),
    ({"level1": ("h1", "h2", "h3"), "level2": ("h4",)},
     ("h4", 'xzgov_level=1 but is in the level group(s) ["level2"]')),
], ids=["in-none", "in-two", "in-another"])
def test_a_host_outside_the_level_group_of_its_level_is_refused(
    tmp_path: Path, level_groups: dict[str, tuple[str, ...]], named: tuple[str, str],
) -> None:
    # in no level group, a host was never hardened and the run ended "Rollout completed: ... no host failed"
    code, out = _run(tmp_path, [_play("Contract"), _level_play(), _play("Rollout | Summary")], *BATCHES,
                     level_groups=level_groups)
    assert code == 2, out[-3000:]
    host, said = named
    assert f"{host} lacks contract variables" in _say(out) and said in _say(out), out[-3000:]
    assert not any(_ran(out, host) for host in HOSTS) and COMPLETED not in out, out[-3000:]


def test_a_failed_canary_ends_the_run_without_the_gate_and_without_completed(tmp_path: Path) -> None:
    # every host of the batch failed: Ansible ends the run itself, before the gate (documented)
    code, out = _rollout(tmp_path, broken=("h1",))
    assert code == 2, out[-3000:]
    assert COMPLETED not in out and "Rollout stopped:" not in out and not _ran(out, "h2"), out[-3000:]
    # a host never reached shows the contract check alone (docs/hardening.md, "Resuming")
    assert re.search(r"h4\s*:\s*ok=1\s+changed=0\s+unreachable=0\s+failed=0", out), out[-3000:]


def test_the_docs_name_the_exit_codes_and_the_stable_lines() -> None:
    docs = (repo_root() / "docs/hardening.md").read_text(encoding="utf-8")
    section = docs.split("**Exit codes", 1)[1].split("\n\n**", 1)[0]
    for code in ("| 0 |", "| 2 |", "| 4 |", "| 250 |"):
        assert code in section, code
    site = site_path().read_text(encoding="utf-8")
    for line in ("Rollout stopped:", "Rollout completed:", "Rollout settings:", "Rollout settings in the inventory:",
                 "Rollout not started:"):
        assert line in section and line in site, line
    assert "silently ignored" not in docs


# --- finding: the gate compares exactly ------------------------------------------------------------------------

def _gate_passes(started: int, lost: int, tolerance: object) -> bool:
    gate = _play("Harden 等保 level 1 ")["post_tasks"][-1]  # type: ignore[index]
    hosts = [f"h{i}" for i in range(started)]
    variables = {"xzgov_rollout_batch_hosts": hosts, "ansible_play_batch": hosts[lost:],
                 "xzgov_rollout_max_fail_percentage": tolerance,
                 "xzgov_rollout_started": trust_as_template(gate["vars"]["xzgov_rollout_started"]),
                 "xzgov_rollout_within_tolerance": trust_as_template(gate["vars"]["xzgov_rollout_within_tolerance"])}
    templar = Templar(loader=DataLoader(), variables=variables)
    return bool(templar.evaluate_conditional(trust_as_template(gate["ansible.builtin.assert"]["that"])))


@pytest.mark.parametrize(("started", "lost", "tolerance", "passes"), [
    (10000, 57, "0.57", True),  # exactly the tolerance: floating point stopped here
    (10000, 57, 0.57, True),
    (10000, 58, "0.57", False),
    (750, 15, "2", True),  # the docs' example
    (750, 16, 2, False),
    (3, 1, "33.33", False),
    (3, 1, "33.34", True),
    (10000, 29, 0.29, True),  # 0.29 * 100 == 28.999999999999996
    (1, 1, "100", True),
    (5, 0, 0, True),
    (5, 1, 0, False),
])
def test_the_gate_stops_only_when_strictly_more_than_the_tolerance_is_lost(
    started: int, lost: int, tolerance: object, passes: bool
) -> None:
    assert _gate_passes(started, lost, tolerance) is passes


@pytest.mark.parametrize("started", [10000, 3000, 750, 7])
def test_the_gate_matches_exact_arithmetic_at_every_boundary(started: int) -> None:
    for hundredths in range(0, 10001, 97):
        text = f"{hundredths // 100}.{hundredths % 100:02d}"
        most = int(Fraction(hundredths, 10000) * started)  # the most hosts the tolerance lets the batch lose
        for tolerance in (text, hundredths / 100):
            assert _gate_passes(started, most, tolerance), (started, most, tolerance)
            if most < started:
                assert not _gate_passes(started, most + 1, tolerance), (started, most + 1, tolerance)

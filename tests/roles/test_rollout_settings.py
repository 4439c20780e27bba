"""site.yml's contract play refuses unusable rollout settings before any change (docs/hardening.md, "Fleets").

`serial` takes whatever it is given: `[]`, `[0]` or `[-1]` would roll every host out in one batch without a
canary, and a batch list passed in the `key=value` form (a string) crashed Ansible after the
security-management plays had already changed hosts. The contract play of the real site.yml is run on its
own (it only asserts; nothing else of site.yml runs) against two local hosts that satisfy the inventory contract.
Whatever it accepts must be something Ansible can cut batches from: a decimal percentage ("2.5%") passed the old
check and crashed Ansible (exit 250) when a level play reached that size, after earlier plays had changed hosts.
The batch gate and the stop itself are checked on booted hosts (`test_rollout_batches.py`) and, with local hosts
and the roles replaced by a task, in `test_rollout_gate.py`. XZGOV_ROLLOUT_SITE_YML points both at another copy
of site.yml (e.g. `git show HEAD:site.yml`) to check that a test fails on it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from ansible.utils.helpers import pct_to_int

from tests.hosts.pool import ansible_playbook, repo_root

CONTRACT = {
    "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3", "xzgov_level": 3,
    "xzgov_os_family": "debian", "xzgov_time_sources": ["192.0.2.1"],
    "xzgov_log_servers": [{"host": "192.0.2.2", "port": 6514, "protocol": "tcp+tls", "tls_name": "logs.example.test"}],
    "xzgov_log_retention_days": 180, "xzgov_allowed_flows": [], "xzgov_management_cidrs": ["192.0.2.0/24"],
}


def site_path() -> Path:
    return Path(os.environ.get("XZGOV_ROLLOUT_SITE_YML") or repo_root() / "site.yml")


def _site() -> list[dict[str, object]]:
    plays = yaml.safe_load(site_path().read_text(encoding="utf-8"))
    assert isinstance(plays, list)
    return plays


@pytest.fixture(scope="module")
def contract_play(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(playbook holding only site.yml's contract play, inventory of two local hosts)."""
    base = tmp_path_factory.mktemp("rollout-settings")
    first = _site()[0]
    assert str(first["name"]).startswith("Contract"), first["name"]
    playbook = base / "contract.yml"
    playbook.write_text(yaml.safe_dump([first], allow_unicode=True), encoding="utf-8")
    inventory = base / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"vars": CONTRACT, "children": {
        "os_debian": {"hosts": {"h1": None, "h2": None}}, "level3": {"hosts": {"h1": None, "h2": None}}}}}),
        encoding="utf-8")
    return playbook, inventory


def _run(contract_play: tuple[Path, Path], *extra: str) -> tuple[int, str]:
    playbook, inventory = contract_play
    result = ansible_playbook(inventory, *extra, playbook=playbook, timeout=120)
    return result.returncode, result.stdout + result.stderr


def _said(out: str) -> str:
    """The run's output with the folding of long messages undone."""
    return " ".join(out.split())


@pytest.mark.parametrize("extra", [
    (),
    ("-e", json.dumps({"xzgov_rollout_batches": [1, "10%", "25%"]})),
    ("-e", json.dumps({"xzgov_rollout_batches": [1, 10, 100, "1%", "10%", "99%", "100%"]})),
    ("-e", json.dumps({"xzgov_rollout_batches": [1]})),
    ("-e", "xzgov_rollout_max_fail_percentage=2", "-e", "xzgov_rollout_connect_timeout=10"),  # key=value: strings
    ("-e", "xzgov_rollout_max_fail_percentage=0.57", "-e", "xzgov_rollout_connect_timeout=0060"),
    ("-e", json.dumps({"xzgov_rollout_max_fail_percentage": 0.5, "xzgov_rollout_connect_timeout": 30})),
    ("-e", json.dumps({"xzgov_rollout_max_fail_percentage": 100})),
    ("-e", json.dumps({"xzgov_rollout_max_fail_percentage": "100.00"})),
    ("-e", json.dumps({"xzgov_rollout_max_fail_percentage": 12.25})),
], ids=["defaults", "default-list", "counts-and-percentages", "canary-only", "key-value-numbers",
        "key-value-hundredths", "json-numbers", "tolerate-all", "tolerate-all-decimals", "json-hundredths"])
def test_usable_settings_pass(contract_play: tuple[Path, Path], extra: tuple[str, ...]) -> None:
    code, out = _run(contract_play, *extra)
    assert code == 0, out[-3000:]
    given = [json.loads(arg) for arg in extra if arg.startswith("{")]
    for batches in [settings["xzgov_rollout_batches"] for settings in given if "xzgov_rollout_batches" in settings]:
        # what the contract accepts, Ansible can run: the batch cutting of its PlaybookExecutor (pct_to_int) takes
        # every size, for any number of hosts, and never makes a batch of every host (a size <= 0)
        for hosts in (1, 7, 40, 3000):
            assert all(pct_to_int(size, hosts) >= 1 for size in batches), (batches, hosts)


@pytest.mark.parametrize("settings", [
    {"xzgov_rollout_batches": []},  # one batch of every host, no canary
    {"xzgov_rollout_batches": [0]},
    {"xzgov_rollout_batches": [-1]},
    {"xzgov_rollout_batches": [1, 0]},  # the canary, then everything at once
    {"xzgov_rollout_batches": [5, "25%"]},  # no canary
    {"xzgov_rollout_batches": [1, "0%"]},
    {"xzgov_rollout_batches": [1, "150%"]},
    {"xzgov_rollout_batches": [1, "101%"]},
    {"xzgov_rollout_batches": [1, "-5%"]},
    {"xzgov_rollout_batches": [1, True]},
    {"xzgov_rollout_batches": [True, 10]},
    {"xzgov_rollout_batches": {"first": 1}},
    {"xzgov_rollout_batches": None},
    {"xzgov_rollout_batches": 5},
    # Ansible reads a percentage with int(): these crashed it (exit 250) when a level play reached the size
    {"xzgov_rollout_batches": [1, "2.5%"]},
    {"xzgov_rollout_batches": [1, "10.0%"]},
    {"xzgov_rollout_batches": [1, "5%\n"]},  # "$" matched before the newline; Ansible crashed on int("5%\\n")
    # forms Ansible would read, but not as the contract documents them: refused with the form to use
    {"xzgov_rollout_batches": [1, " 5%"]},
    {"xzgov_rollout_batches": [1, "05%"]},
    {"xzgov_rollout_batches": [1, "5 %"]},
    {"xzgov_rollout_batches": [1, "%"]},
    {"xzgov_rollout_batches": [1, "10"]},  # a count as a string
    {"xzgov_rollout_batches": ["1", 10]},
    {"xzgov_rollout_batches": [1.0, 10]},
    {"xzgov_rollout_batches": [1, 2.0]},
    {"xzgov_rollout_batches": [1, 2.5]},  # Ansible would silently take int(2.5) == 2
    {"xzgov_rollout_batches": [1, -5]},
    {"xzgov_rollout_batches": [1, None]},
    {"xzgov_rollout_batches": [1, [2]]},
    {"xzgov_rollout_max_fail_percentage": 101},
    {"xzgov_rollout_max_fail_percentage": -1},
    {"xzgov_rollout_max_fail_percentage": "100.01"},
    {"xzgov_rollout_max_fail_percentage": "0.575"},  # the gate compares whole hundredths
    {"xzgov_rollout_max_fail_percentage": "2%"},
    {"xzgov_rollout_max_fail_percentage": " 2"},
    {"xzgov_rollout_max_fail_percentage": "2\n"},
    {"xzgov_rollout_max_fail_percentage": "1e1"},
    {"xzgov_rollout_max_fail_percentage": True},
    {"xzgov_rollout_max_fail_percentage": None},
    {"xzgov_rollout_connect_timeout": 0},
    {"xzgov_rollout_connect_timeout": -1},
    {"xzgov_rollout_connect_timeout": 30.0},
    {"xzgov_rollout_connect_timeout": "30.5"},
    {"xzgov_rollout_connect_timeout": "1e3"},
    {"xzgov_rollout_connect_timeout": True},
    {"xzgov_rollout_connect_timeout": None},
], ids=lambda settings: json.dumps(settings))
def test_unusable_settings_stop_the_run(contract_play: tuple[Path, Path], settings: dict[str, object]) -> None:
    code, out = _run(contract_play, "-e", json.dumps(settings))
    assert code == 2, out[-3000:]
    (name,) = settings
    # the message names the variable, what it got and how to give it
    assert f"Rollout settings: {name}=" in _said(out), out[-3000:]
    assert "-e " in _said(out).split(f"Rollout settings: {name}=", 1)[1][:600], out[-3000:]


def test_a_batch_list_in_key_value_form_is_named(contract_play: tuple[Path, Path]) -> None:
    # `-e xzgov_rollout_batches=[1,10]` passes the string "[1,10]": Ansible crashed on it (exit 250) when the
    # level play started, after the security-management plays had run
    code, out = _run(contract_play, "-e", 'xzgov_rollout_batches=[1,10,"25%"]')
    assert code == 2, out[-3000:]
    assert "the key=value form passes a string" in _said(out), out[-3000:]


def test_every_level_play_is_gated_and_the_security_management_plays_stop_on_a_failure() -> None:
    """The gate replaces max_fail_percentage (not counted with force_handlers, ansible/ansible#36308)."""
    levels = [play for play in _site() if str(play.get("name", "")).startswith("Harden 等保 level")]
    assert len(levels) == 4
    for play in levels:
        assert "max_fail_percentage" not in play, play["name"]
        assert play["serial"] and play["gather_facts"] is False, play["name"]
        gate = play["post_tasks"][-1]  # type: ignore[index]
        assert gate["run_once"] is True and gate["any_errors_fatal"] is True, play["name"]
        stopped_before = play["pre_tasks"][0]  # type: ignore[index]
        assert stopped_before["any_errors_fatal"] is True, play["name"]
        asked = json.dumps(stopped_before["ansible.builtin.assert"]["that"])
        assert "xzgov_rollout_stopped_by" in asked and "xzgov_rollout_open_batch" in asked, play["name"]
        opened, noted = play["pre_tasks"][1:3]  # type: ignore[index]
        assert opened["ansible.builtin.set_fact"] == {"xzgov_rollout_open_batch": "{{ ansible_play_batch }}"}
        assert opened["delegate_to"] == "localhost" and opened["delegate_facts"] is True, play["name"]
        assert noted["ansible.builtin.set_fact"], play["name"]
        noted_check, closed = play["post_tasks"][:2]  # type: ignore[index]
        assert noted_check["ansible.builtin.assert"]["that"] == "xzgov_rollout_batch_hosts is defined", play["name"]
        assert noted_check["any_errors_fatal"] is True and noted_check["run_once"] is True, play["name"]
        assert closed["ansible.builtin.set_fact"] == {"xzgov_rollout_open_batch": []}, play["name"]
        assert closed["when"] == "xzgov_rollout_within_tolerance", play["name"]
        note = play["post_tasks"][-2]  # type: ignore[index]
        assert note["delegate_to"] == "localhost" and note["delegate_facts"] is True, play["name"]
    secmgmt = yaml.safe_load((repo_root() / "playbooks/security_management.yml").read_text(encoding="utf-8"))
    assert secmgmt and all(play.get("any_errors_fatal") is True for play in secmgmt)


def test_a_retention_below_six_months_is_the_scans_finding_not_a_stopped_rollout(
        contract_play: tuple[Path, Path]) -> None:
    # A manifest may declare audit.retention_days: 90 (validate accepts it; the scan's XZ-MAN-LOG-RETENTION fails
    # it): the contract play stopped every host of the site for it. The hosts keep 180 days anyway (log_forwarding).
    code, out = _run(contract_play, "-e", json.dumps({"xzgov_log_retention_days": 90}))
    assert code == 0, out[-3000:]
    code, out = _run(contract_play, "-e", json.dumps({"xzgov_log_retention_days": 0}))
    assert code != 0 and "xzgov_log_retention_days >= 1" in _said(out), out[-3000:]

"""site.yml's contract play refuses unusable rollout settings before any change (docs/hardening.md, "Fleets").

`serial` takes whatever it is given: `[]`, `[0]` or `[-1]` would roll every host out in one batch without a
canary, and a batch list passed in the `key=value` form (a string) crashed Ansible after the
security-management plays had already changed hosts. The contract play of the real site.yml is run on its
own (it only asserts; nothing else of site.yml runs) against two local hosts that satisfy the inventory contract.
The batch gate and the stop itself are checked on booted hosts (`test_rollout_batches.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.hosts.pool import ansible_playbook, repo_root

CONTRACT = {
    "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3", "xzgov_level": 3,
    "xzgov_os_family": "debian", "xzgov_time_sources": ["192.0.2.1"],
    "xzgov_log_servers": [{"host": "192.0.2.2", "port": 6514, "protocol": "tcp+tls"}],
    "xzgov_log_retention_days": 180, "xzgov_allowed_flows": [], "xzgov_management_cidrs": ["192.0.2.0/24"],
}


def _site() -> list[dict[str, object]]:
    plays = yaml.safe_load((repo_root() / "site.yml").read_text(encoding="utf-8"))
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
    inventory.write_text(yaml.safe_dump({"all": {"vars": CONTRACT, "children": {"os_debian": {
        "hosts": {"h1": None, "h2": None}}}}}), encoding="utf-8")
    return playbook, inventory


def _run(contract_play: tuple[Path, Path], *extra: str) -> tuple[int, str]:
    playbook, inventory = contract_play
    result = ansible_playbook(inventory, *extra, playbook=playbook, timeout=120)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("extra", [
    (),
    ("-e", json.dumps({"xzgov_rollout_batches": [1, "10%", "25%"]})),
    ("-e", json.dumps({"xzgov_rollout_batches": [1, 10, 100, "2.5%", "100%"]})),
    ("-e", "xzgov_rollout_max_fail_percentage=2", "-e", "xzgov_rollout_connect_timeout=10"),  # key=value: strings
    ("-e", json.dumps({"xzgov_rollout_max_fail_percentage": 0.5, "xzgov_rollout_connect_timeout": 30})),
], ids=["defaults", "default-list", "counts-and-percentages", "key-value-numbers", "json-numbers"])
def test_usable_settings_pass(contract_play: tuple[Path, Path], extra: tuple[str, ...]) -> None:
    code, out = _run(contract_play, *extra)
    assert code == 0, out[-3000:]


@pytest.mark.parametrize("settings", [
    {"xzgov_rollout_batches": []},  # one batch of every host, no canary
    {"xzgov_rollout_batches": [0]},
    {"xzgov_rollout_batches": [-1]},
    {"xzgov_rollout_batches": [1, 0]},  # the canary, then everything at once
    {"xzgov_rollout_batches": [5, "25%"]},  # no canary
    {"xzgov_rollout_batches": [1, "0%"]},
    {"xzgov_rollout_batches": [1, "150%"]},
    {"xzgov_rollout_batches": [1, True]},
    {"xzgov_rollout_batches": {"first": 1}},
    {"xzgov_rollout_max_fail_percentage": 101},
    {"xzgov_rollout_max_fail_percentage": -1},
    {"xzgov_rollout_connect_timeout": 0},
], ids=lambda settings: json.dumps(settings))
def test_unusable_settings_stop_the_run(contract_play: tuple[Path, Path], settings: dict[str, object]) -> None:
    code, out = _run(contract_play, "-e", json.dumps(settings))
    assert code == 2, out[-3000:]
    assert "Rollout settings:" in out, out[-3000:]


def test_a_batch_list_in_key_value_form_is_named(contract_play: tuple[Path, Path]) -> None:
    # `-e xzgov_rollout_batches=[1,10]` passes the string "[1,10]": Ansible crashed on it (exit 250) when the
    # level play started, after the security-management plays had run
    code, out = _run(contract_play, "-e", 'xzgov_rollout_batches=[1,10,"25%"]')
    assert code == 2, out[-3000:]
    assert "the key=value form passes a string" in out.replace("\n", " ").replace("  ", " "), out[-3000:]


def test_every_level_play_is_gated_and_the_security_management_plays_stop_on_a_failure() -> None:
    """The gate replaces max_fail_percentage (not counted with force_handlers, ansible/ansible#36308)."""
    levels = [play for play in _site() if str(play.get("name", "")).startswith("Harden 等保 level")]
    assert len(levels) == 4
    for play in levels:
        assert "max_fail_percentage" not in play, play["name"]
        assert play["serial"] and play["gather_facts"] is False, play["name"]
        gate = play["post_tasks"][-1]  # type: ignore[index]
        assert gate["run_once"] is True and gate["any_errors_fatal"] is True, play["name"]
        assert play["pre_tasks"][0]["ansible.builtin.set_fact"], play["name"]  # type: ignore[index]
    secmgmt = yaml.safe_load((repo_root() / "playbooks/security_management.yml").read_text(encoding="utf-8"))
    assert secmgmt and all(play.get("any_errors_fatal") is True for play in secmgmt)

"""Review of the crypto service's replication (no host booted; tests/cryptosvc/test_ha_live.py converges and fails
over booted hosts): secrets never on the controller's disk, the peer's pg_hba address, a probe that leaves nothing in
the primary's log, no automatic reboot of the two key-management hosts.
"""

from __future__ import annotations

import base64
import grp
import json
import os
import pwd
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hosts.pool import ansible_env, repo_root
from tests.roles.render import render, role_templar, trust_as_template, value

ROLE = Path(__file__).resolve().parents[2] / "roles" / "crypto_service"


def _tasks() -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in yaml.safe_load((ROLE / "tasks" / "database.yml").read_text())}


def _all_tasks(path: Path) -> list[dict[str, Any]]:
    """Every task of a tasks file, those inside blocks too."""
    found: list[dict[str, Any]] = []
    pending = list(yaml.safe_load(path.read_text()) or [])
    while pending:
        task = pending.pop()
        found.append(task)
        pending += task.get("block", []) + task.get("rescue", []) + task.get("always", [])
    return found


def _write(dest: Path, content: bytes, mode: str = "0600") -> str:
    """Run plugins/modules/xzgov_secret_file for real (ansible, local connection, the repository's ansible.cfg):
    ``CHANGED`` or ``SUCCESS`` (unchanged)."""
    owner, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    args = json.dumps({"dest": str(dest), "content_base64": base64.b64encode(content).decode(), "owner": owner,
                       "group": group, "mode": mode})
    done = subprocess.run([str(repo_root() / ".venv/bin/ansible"), "localhost", "-c", "local", "-m",
                           "xzgov_secret_file", "-a", args], cwd=repo_root(), env=ansible_env(),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert base64.b64encode(content).decode() not in done.stdout  # the module's argument is no_log
    return done.stdout.split(" | ", 1)[1].split(" ", 1)[0]


def test_no_secret_goes_through_copy_content_which_writes_it_on_the_controller() -> None:
    # ansible.builtin.copy with content writes it to a temporary file in the controller's local tmp first
    for name, task in _tasks().items():
        copy = task.get("ansible.builtin.copy") or {}
        if "content" in copy:
            assert "b64decode" not in str(copy["content"]) and "secret" not in str(copy["content"]), name
    for name in ("Write the master key on the standby",
                 "Write the replication password file of the postgres user (standby)"):
        assert "xzgov_secret_file" in _tasks()[name] and _tasks()[name]["no_log"] is True, name



def test_no_role_writes_a_secret_through_a_file_on_the_controller() -> None:
    """The class: a task that writes a file and hides its arguments (no_log) writes a secret. ansible.builtin.copy
    with content and ansible.builtin.template both put it in a temporary file on the controller first (the
    template action renders there): such tasks write with xzgov_secret_file (a copy from a controller file, src,
    reads what is on the controller's disk already)."""
    writers = 0
    for path in sorted(ROLE.parent.glob("*/tasks/*.yml")):
        for task in _all_tasks(path):
            if task.get("no_log") is not True:
                continue
            name = (path.relative_to(ROLE.parent).as_posix(), task.get("name"))
            assert "ansible.builtin.template" not in task and "template" not in task, name
            copy = task.get("ansible.builtin.copy") or task.get("copy") or {}
            assert "content" not in copy, name
            if "xzgov_secret_file" in task:
                # without pipelining Ansible writes a module's payload (its arguments: the secret) to a temporary
                # file on the controller as well; a lookup of ANSIBLE_PIPELINING read false with ansible.cfg's
                # [ssh_connection] pipelining = True (the ssh plugin's own option), so each task sets it itself
                assert (task.get("vars") or {}).get("ansible_pipelining") is True, name
                writers += 1
    assert writers >= 7  # master key, .pgpass, systems file, two TLS keys, sssd.conf, pgbackrest, restic


def test_the_module_writes_atomically_with_owner_and_mode_and_reports_unchanged(tmp_path: Path) -> None:
    dest = tmp_path / "master.key"
    assert _write(dest, b"00112233445566778899aabbccddeeff\n") == "CHANGED"
    assert dest.read_bytes() == b"00112233445566778899aabbccddeeff\n" and dest.stat().st_mode & 0o7777 == 0o600
    assert _write(dest, b"00112233445566778899aabbccddeeff\n") == "SUCCESS"  # a re-run changes nothing
    dest.chmod(0o644)
    assert _write(dest, b"00112233445566778899aabbccddeeff\n") == "CHANGED" and dest.stat().st_mode & 0o777 == 0o600
    assert _write(dest, b"\x00\xffbinary") == "CHANGED" and dest.read_bytes() == b"\x00\xffbinary"
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]  # no temporary file left beside it


@pytest.mark.parametrize(("peer", "hba"), [
    ("10.8.1.12", "10.8.1.12/32"),
    ("fd00:10::2", "fd00:10::2/128"),  # /32 admitted a whole IPv6 /32
    ("kms02.xzgov.internal", "kms02.xzgov.internal"),  # a name with a mask: PostgreSQL refuses pg_hba, won't start
])
def test_the_peer_is_admitted_as_itself(peer: str, hba: str) -> None:
    assert value("crypto_service", "{{ crypto_service_db_peer_hba_address }}",
                 {"crypto_service_db_peer_address": peer}) == hba
    block = _tasks()["Admit the replication connection from the other host (TLS, SCRAM)"]["ansible.builtin.blockinfile"]
    assert "crypto_service_db_peer_hba_address" in block["block"]


def test_the_watchdog_probes_as_the_replication_role_without_a_password() -> None:
    # as postgres it matched no pg_hba line: one FATAL in the primary's log per probe (every 2 s)
    host = {"crypto_service_db_peer_address": "10.8.1.11", "crypto_service_db_role": "standby"}
    script = render("crypto_service", "xzgov-cryptosvc-db-watchdog.j2", host)
    probe = next(line for line in script.splitlines() if "pg_isready" in line and not line.lstrip().startswith("#"))
    assert "user=xzgov_replicator" in probe and "replication=true" in probe and "passfile=/dev/null/none" in probe
    assert "password" not in probe.replace("passfile", "") and " -h " not in probe


def test_the_key_management_hosts_are_not_rebooted_automatically() -> None:
    task = _tasks()["No automatic reboot of a key-management host (a reboot of the primary would promote the standby)"]
    copy = task["ansible.builtin.copy"]
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in copy["content"]
    patching = (ROLE.parent / "patching" / "tasks" / "main.yml").read_text()
    ours, theirs = Path(copy["dest"]).name, "52xzgov-unattended-upgrades"
    assert theirs in patching and ours > theirs  # apt reads apt.conf.d in order: the later file wins


@pytest.mark.parametrize(("role", "recovery", "cloned", "agrees"), [
    ("primary", "f", False, True),
    ("primary", "t", False, False),  # rejoined as the standby, the inventory not swapped
    ("standby", "t", True, True),
    ("standby", "f", False, True),  # first run: installed, not cloned yet
    ("standby", "f", True, False),  # promoted by the watchdog: it is the primary now
    ("standby", "", True, True),  # PostgreSQL does not answer: nothing to compare
])
def test_a_run_with_the_roles_a_failover_swapped_is_refused_before_any_change(
    role: str, recovery: str, cloned: bool, agrees: bool,
) -> None:
    names = list(_tasks())
    check = "The inventory's database role is the host's (a failover swaps them)"
    assert names.index(check) < names.index("Configure PostgreSQL for synchronous streaming replication")
    assert names.index(check) < min(i for i, n in enumerate(names) if n.startswith("Give PostgreSQL"))
    that = _tasks()[check]["ansible.builtin.assert"]["that"]
    host = {"crypto_service_db_role": role, "crypto_service_db_cloned": {"stat": {"exists": cloned}},
            "crypto_service_db_in_recovery": {"rc": 0 if recovery else 2, "stdout": recovery}}
    assert value("crypto_service", "{{ " + that + " }}", host) is agrees


@pytest.mark.parametrize(("peer", "line"), [
    ("10.8.1.11", "10.8.1.11:5432:replication:xzgov_replicator:pw\n"),
    # the passfile's fields are ':'-separated: an IPv6 peer unescaped matched no connection (no password sent)
    ("fd00:10::1", "fd00\\:10\\:\\:1:5432:replication:xzgov_replicator:pw\n"),
])
def test_the_standbys_passfile_names_the_peer_as_libpq_matches_it(peer: str, line: str) -> None:
    task = _tasks()["Write the replication password file of the postgres user (standby)"]["xzgov_secret_file"]
    host = {"crypto_service_db_peer_address": peer,
            "crypto_service_db_replication_secret": {"content": base64.b64encode(b"pw\n").decode()}}
    assert value("crypto_service", task["content"], host) == line


def test_the_role_checks_refuse_whole_and_exactly() -> None:
    settings = _tasks()["Check the replication settings"]["ansible.builtin.assert"]["that"]
    name_check = next(check for check in settings if "crypto_service_db_name" in check)
    for name, valid in (("xzgov_cryptosvc", True), ("xzgov\n", False), ('x"; DROP', False), ("X", False)):
        templar = role_templar("crypto_service", {"crypto_service_db_name": name})
        assert templar.evaluate_conditional(trust_as_template(name_check)) is valid, name  # as `that:` is read
    roles = _tasks()["The inventory's database role is the host's (a failover swaps them)"]
    assert roles["any_errors_fatal"] is True  # the other host must not go on to start as a second primary


def test_no_task_argument_names_ansible_managed() -> None:
    # ansible_managed is defined while a template file renders (the template action, the template lookup), not in
    # a task's own arguments: the key-management hosts' apt override wrote it in copy's content and failed there
    for path in sorted(ROLE.parent.glob("*/tasks/*.yml")):
        for task in _all_tasks(path):
            arguments = {key: value for key, value in task.items() if key not in ("block", "rescue", "always")}
            assert "ansible_managed" not in yaml.safe_dump(arguments, allow_unicode=True), (path.name, task.get("name"))

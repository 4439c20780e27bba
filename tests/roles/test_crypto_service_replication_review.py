"""Review of the crypto service's replication (no host booted; tests/cryptosvc/test_ha_live.py converges and fails
over booted hosts): secrets never on the controller's disk, the peer's pg_hba address, a probe that leaves nothing in
the primary's log, no automatic reboot of the two key-management hosts.
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles.render import render, value

ROLE = Path(__file__).resolve().parents[2] / "roles" / "crypto_service"
WRITER = ROLE / "files" / "write_secret.py"


def _tasks() -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in yaml.safe_load((ROLE / "tasks" / "database.yml").read_text())}


def _write(dest: Path, content: bytes, mode: str = "0600") -> str:
    owner, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    done = subprocess.run([sys.executable, "-I", "-c", WRITER.read_text(), str(dest), owner, group, mode],
                          input=base64.b64encode(content), capture_output=True, check=True)
    return done.stdout.decode().strip()


def test_no_secret_goes_through_copy_content_which_writes_it_on_the_controller() -> None:
    # ansible.builtin.copy with content writes it to a temporary file in the controller's local tmp first
    for name, task in _tasks().items():
        copy = task.get("ansible.builtin.copy") or {}
        if "content" in copy:
            assert "b64decode" not in str(copy["content"]) and "secret" not in str(copy["content"]), name
    master = _tasks()["Write the master key on the standby"]
    assert "write_secret.py" in str(master["ansible.builtin.command"]["argv"]) and master["no_log"] is True
    pgpass = _tasks()["Write the replication password file of the postgres user (standby)"]
    assert "write_secret.py" in str(pgpass["ansible.builtin.command"]["argv"]) and pgpass["no_log"] is True
    guard = _tasks()["Secrets reach the standby only through the SSH session (ansible.cfg pipelining on)"]
    assert "ANSIBLE_PIPELINING" in guard["ansible.builtin.assert"]["that"]
    cfg = (ROLE.parents[1] / "ansible.cfg").read_text()
    assert "\npipelining = True\n" in cfg


def test_the_writer_writes_atomically_with_owner_and_mode_and_reports_unchanged(tmp_path: Path) -> None:
    dest = tmp_path / "master.key"
    assert _write(dest, b"00112233445566778899aabbccddeeff\n") == "written"
    assert dest.read_bytes() == b"00112233445566778899aabbccddeeff\n" and dest.stat().st_mode & 0o7777 == 0o600
    assert _write(dest, b"00112233445566778899aabbccddeeff\n") == "unchanged"  # a re-run changes nothing
    dest.chmod(0o644)
    assert _write(dest, b"00112233445566778899aabbccddeeff\n") == "written" and dest.stat().st_mode & 0o777 == 0o600
    assert _write(dest, b"\x00\xffbinary") == "written" and dest.read_bytes() == b"\x00\xffbinary"
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

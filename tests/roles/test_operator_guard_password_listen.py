"""The operator guard's checks a reviewer found missing (no host booted: the guard's own decisions and asserts,
evaluated with the role's defaults and the repository's filters through Ansible's templar).

* A run that logged in with a password and named its key only in the SSH arguments (``-o IdentitiesOnly=yes -o
  IdentityFile=KEY``, what the key-first message recommends) had no controller key to check: it passed on another
  administrator's authorized key, then hardening turned password login off.
* Nothing compared ``ssh_hardening_listen_addresses`` with the address the session reached: a list without it, or
  an entry with another port, passed ``sshd -t`` and cut every new login.
* An unreadable SSH_CONNECTION skipped the firewall check instead of refusing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles.render import task, value

BASE = {"operator_guard_ssh_cfg_args": "-o ControlMaster=auto -o ControlPersist=120s"}


def _guard(expression: str, **host: Any) -> Any:
    return value("operator_guard", expression, {**BASE, **host})


@pytest.mark.parametrize(("host", "key"), [
    ({}, ""),
    ({"ansible_ssh_private_key_file": "~/.ssh/xzops"}, "~/.ssh/xzops"),
    ({"ansible_ssh_common_args": "-o IdentitiesOnly=yes -o IdentityFile=~/.ssh/xzops_ed25519"}, "~/.ssh/xzops_ed25519"),
    ({"ansible_ssh_common_args": '-o "IdentityFile /keys/op" -o IdentitiesOnly=yes'}, "/keys/op"),
    ({"ansible_ssh_extra_args": "-i /keys/op2"}, "/keys/op2"),
    ({"ansible_ssh_args": "-o identityfile=/keys/op3 -o ControlMaster=auto"}, "/keys/op3"),
    ({"ansible_ssh_common_args": "-o IdentitiesOnly=yes"}, ""),  # default identities: none named
    ({"ansible_ssh_private_key_file": "/a", "ansible_ssh_common_args": "-i /b"}, "/a"),
    # a review: -I is a PKCS#11 library (a UKey login), and a -i inside a quoted ProxyCommand is the bastion's key
    ({"ansible_ssh_common_args": "-I /usr/lib/opensc-pkcs11.so"}, ""),
    ({"ansible_ssh_common_args": '-o ProxyCommand="ssh -i ~/.ssh/bastion -W %h:%p jump" -o IdentityFile=/k'}, "/k"),
    ({"ansible_ssh_extra_args": "-i/keys/op4"}, "/keys/op4"),
], ids=["none", "key-file", "identity-file", "quoted", "dash-i", "ssh-args", "identities-only", "key-file-first",
        "pkcs11", "proxy-command", "joined"])
def test_the_key_checked_is_the_one_the_run_connects_with(host: dict[str, Any], key: str) -> None:
    assert _guard("{{ operator_guard_controller_key_file }}", **host) == key


@pytest.mark.parametrize(("host", "refused"), [
    ({"ansible_password": "s3cret"}, True),
    ({"ansible_ssh_pass": "s3cret"}, True),
    ({"ansible_ssh_password": "s3cret"}, True),  # a review: the ssh connection's other names
    ({"ansible_paramiko_password": "s3cret", "ansible_connection": "paramiko"}, True),
    ({"ansible_paramiko_pass": "s3cret", "ansible_connection": "paramiko"}, True),
    ({"ansible_password": "", "ansible_ssh_pass": "s3cret"}, True),
    ({"ansible_password": None}, False),  # null is no password
    ({"ansible_password": "s3cret", "ansible_ssh_common_args": "-o IdentitiesOnly=yes -o IdentityFile=/k"}, False),
    ({"ansible_password": "s3cret", "ansible_ssh_private_key_file": "/k"}, False),
    ({}, False),
], ids=["password", "ssh-pass", "ssh-password", "paramiko-password", "paramiko-pass", "empty-then-ssh-pass", "null",
        "password-and-identity-file", "password-and-key-file", "key-only"])
def test_a_password_login_without_a_key_of_its_own_is_refused(host: dict[str, Any], refused: bool) -> None:
    guard = task("operator_guard", "AUDIT | Refuse to continue when this run logs in with a password")
    [condition] = guard["ansible.builtin.assert"]["that"]
    variables = {**host, "operator_guard_controller_key": _guard("{{ operator_guard_controller_key_file }}", **host),
                 "operator_guard_password_login": _guard("{{ operator_guard_password_configured | bool }}", **host)}
    assert _guard("{{ " + condition + " }}", **variables) is (not refused)
    assert "ansible_password" in guard["ansible.builtin.assert"]["fail_msg"]


@pytest.mark.parametrize(("listen", "server", "problems"), [
    (["10.20.0.5"], "10.20.0.5", []),
    (["10.20.0.6"], "10.20.0.5", ["no ListenAddress holds 10.20.0.5"]),
    (["10.20.0.5:2222"], "10.20.0.5", ["names port 2222", "no ListenAddress holds"]),
    (["10.20.0.5:22", "[fd00::5]:22"], "10.20.0.5", []),
    (["0.0.0.0"], "10.20.0.5", []),
    (["::"], "10.20.0.5", ["no ListenAddress holds 10.20.0.5"]),  # sshd's IPv6 sockets are v6-only
    (["[fd00::5]"], "fd00::5", []),
    (["mgmt.example"], "10.20.0.5", ["is no IP address", "no ListenAddress holds"]),
    (["10.20.0.5"], "::ffff:10.20.0.5", []),
], ids=["listed", "other-address", "other-port", "with-port", "any-v4", "any-v6-for-v4", "v6", "host-name",
        "v4-mapped"])
def test_listen_addresses_must_keep_the_address_the_session_reached(listen: list[str], server: str,
                                                                   problems: list[str]) -> None:
    found = _guard("{{ listen | xzgov_listen_problems(server, 22) }}", listen=listen, server=server)
    assert len(found) == len(problems), found
    assert all(expected in said for expected, said in zip(problems, found, strict=True)), found


def test_the_controller_key_is_read_with_its_home_expanded_and_the_session_address_without_sudo() -> None:
    """A review: ``-o IdentityFile=~/.ssh/xzops_ed25519`` reached ``ssh-keygen -f`` with a literal ``~``; and an
    inventory's ``ansible_become: true`` beats a task's ``become: false`` keyword, so sudo dropped SSH_CONNECTION."""
    derive = task("operator_guard", "AUDIT | Derive the public half of the controller's private key")
    assert derive["ansible.builtin.command"]["argv"][-1] == "{{ operator_guard_controller_key | expanduser }}"
    read = task("operator_guard", "AUDIT | Read the address this SSH session comes from")
    assert read["become"] is False and read["vars"]["ansible_become"] is False


def test_the_guard_asserts_the_listen_addresses_and_a_readable_session_address() -> None:
    listen = task("operator_guard", "AUDIT | Refuse to continue if sshd's ListenAddress")
    assert "ssh_hardening_listen_addresses | default([]) | length > 0" in listen["when"]
    assert "xzgov_listen_problems" in listen["vars"]["operator_guard_listen_problems"]
    readable = task("operator_guard", "AUDIT | Refuse to continue without the address this SSH session comes from")
    assert "operator_guard_ssh_connection.rc == 0" in readable["ansible.builtin.assert"]["that"]
    firewall = task("operator_guard", "AUDIT | Refuse to continue if nftables would drop")
    assert firewall["when"] == "operator_guard_ssh_connection is not skipped"  # no longer skipped on rc != 0

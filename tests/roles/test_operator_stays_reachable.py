"""Hardening never locks the operator out, whichever switch or input form the inventory uses (no host booted).

Each case is one a review reproduced: the firewall's SSH rule vanished when x.1.4.4.c was switched off or when a
management CIDR was written with a netmask (the template dropped what its regex did not match, the guard parsed it
with Python and passed); an operator account with a UID below 1000 got a nologin shell; sshd's AllowGroups could
exclude the operator unseen; the guard refused a passphrase-protected controller key. The template and the
guard's and roles' asserts are evaluated through Ansible's templar with the roles' own variables.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.roles.render import assertion_holds, render, value

FIREWALL = {"xzgov_level": 3, "inventory_hostname": "web01", "xzgov_allowed_flows": [],
            "xzgov_management_cidrs": ["10.69.0.0/16"], "firewall_gbt": "8.1", "firewall_item": {}}


def _ssh_rules(ruleset: str) -> list[str]:
    return [line.strip() for line in ruleset.splitlines() if re.search(r"tcp dport 22 ct state new accept", line)]


def test_ssh_stays_open_from_anywhere_when_the_management_restriction_is_switched_off() -> None:
    ruleset = render("firewall", "xzgov.nft.j2", {**FIREWALL, "firewall_rule_4_4_c_management_ssh": False})
    assert "policy drop;" in ruleset
    assert [rule.split(" comment")[0] for rule in _ssh_rules(ruleset)] == ["tcp dport 22 ct state new accept"]
    restricted = render("firewall", "xzgov.nft.j2", FIREWALL)
    assert [rule.split(" comment")[0] for rule in _ssh_rules(restricted)] == [
        "ip saddr @management_v4 tcp dport 22 ct state new accept"]


@pytest.mark.parametrize(("given", "in_set"), [
    (["10.69.0.0/255.255.0.0"], "10.69.0.0/16"),
    (["10.69.1.5/16"], "10.69.0.0/16"),
    (["10.69.1.5"], "10.69.1.5/32"),
    (["10.69.0.0/16", "fd00:69::/64"], "10.69.0.0/16"),
])
def test_every_management_network_form_the_guard_accepts_reaches_the_ssh_rule(given: list[str], in_set: str) -> None:
    host = {**FIREWALL, "xzgov_management_cidrs": given}
    ruleset = render("firewall", "xzgov.nft.j2", host)
    elements = re.search(r"set management_v4 \{.*?elements = \{ (?P<e>[^}]*) \}", ruleset, re.S)
    assert elements is not None and elements["e"].strip() == in_set, ruleset
    assert any(rule.startswith("ip saddr @management_v4") for rule in _ssh_rules(ruleset))
    guard = {"operator_guard_management_cidrs": given, "operator_guard_user": "xzops", "ssh_hardening_allow_users": []}
    assert assertion_holds("operator_guard", "AUDIT | Refuse to continue without management CIDRs", guard)
    assert assertion_holds("firewall", "AUDIT | Flows and management CIDRs are well-formed", host)


@pytest.mark.parametrize("bad", ["10.69.0.0/33", "10.69.0.0/16 ", "lhasa-mgmt", "", "10.69.0.0/255.0.255.0"])
def test_what_is_no_network_is_refused_by_both_before_any_change(bad: str) -> None:
    host = {**FIREWALL, "xzgov_management_cidrs": ["10.69.0.0/16", bad]}
    guard = {"operator_guard_management_cidrs": [bad], "operator_guard_user": "xzops", "ssh_hardening_allow_users": []}
    assert not assertion_holds("operator_guard", "AUDIT | Refuse to continue without management CIDRs", guard)
    assert not assertion_holds("firewall", "AUDIT | Flows and management CIDRs are well-formed", host)
    flows = [{"direction": "in", "protocol": "tcp", "port": 443, "peer": "x", "peer_cidrs": [bad]}]
    assert not assertion_holds("firewall", "AUDIT | Flows and management CIDRs are well-formed",
                               {**FIREWALL, "xzgov_allowed_flows": flows})


@pytest.mark.parametrize(("address", "inside"), [("10.69.4.2", True), ("10.70.0.1", False), ("fd00:69::9", True)])
def test_the_guard_places_the_controller_address_as_the_firewall_does(address: str, inside: bool) -> None:
    host = {"operator_guard_management_cidrs": ["10.69.0.0/255.255.0.0", "fd00:69::/64"],
            "operator_guard_ssh_port": 22,
            "operator_guard_ssh_connection": {"rc": 0, "stdout": f"{address} 50000 10.69.9.9 22"}}
    assert assertion_holds("operator_guard", "AUDIT | Refuse to continue if nftables would drop", host) is inside


@pytest.mark.parametrize(("firewall", "passes"), [
    (["10.70.0.0/16"], False),  # the firewall's own override leaves the controller out: the SSH rule drops it
    (["10.69.4.0/24", "10.70.0.0/16"], True),
    ([], False), (["lhasa-mgmt"], False),
])
def test_the_guard_checks_the_networks_the_firewall_writes(firewall: list[str], passes: bool) -> None:
    """A review: the guard compared the controller with xzgov_management_cidrs while the firewall writes its SSH rule
    from firewall_management_cidrs, which an inventory may override — the run went on and nftables locked the
    operator out."""
    host = {"operator_guard_management_cidrs": ["10.69.0.0/16"], "operator_guard_ssh_port": 22,
            "operator_guard_ssh_connection": {"rc": 0, "stdout": "10.69.4.2 50000 10.69.9.9 22"},
            "firewall_management_cidrs": firewall, "operator_guard_user": "xzops", "ssh_hardening_allow_users": []}
    assert (assertion_holds("operator_guard", "AUDIT | Refuse to continue if nftables would drop", host)
            and assertion_holds("operator_guard", "AUDIT | Refuse to continue without management CIDRs", host)
            ) is passes
    unset = {key: item for key, item in host.items() if key != "firewall_management_cidrs"}
    assert assertion_holds("operator_guard", "AUDIT | Refuse to continue if nftables would drop", unset)


PASSWD = {"root": ["x", "0", "0", "root", "/root", "/bin/bash"],
          "daemon": ["x", "1", "1", "daemon", "/usr/sbin", "/usr/sbin/nologin"],
          "backup": ["x", "34", "34", "backup", "/var/backups", "/bin/sh"],
          "xzops": ["x", "998", "998", "", "/home/xzops", "/bin/bash"],  # useradd --system
          "alice": ["x", "1000", "1000", "", "/home/alice", "/bin/bash"]}


@pytest.mark.parametrize("operator", [{"operator_guard_user": "xzops"}, {"ansible_user": "xzops"}])
def test_an_operator_below_uid_1000_keeps_its_shell_and_password(operator: dict[str, Any]) -> None:
    names = value("os_hardening", "{{ os_hardening_system_accounts | map(attribute='key') | list }}",
                  {"ansible_facts": {"getent_passwd": PASSWD}, "xzgov_level": 3, **operator})
    assert "xzops" not in names
    assert {"daemon", "backup"} <= set(names)  # other system accounts are still locked


@pytest.mark.parametrize(("groups", "allowed", "holds"), [
    ("xzops sudo", ["xzadmins"], False),
    ("xzops sudo xzadmins", ["xzadmins"], True),
    ("xzops", [], True),
    ("", ["xzadmins"], False),  # id -Gn failed
])
def test_the_guard_refuses_an_allow_groups_that_excludes_the_operator(groups: str, allowed: list[str],
                                                                      holds: bool) -> None:
    host = {"ssh_hardening_allow_groups": allowed, "operator_guard_user": "xzops",
            "operator_guard_groups": {"rc": 0 if groups else 1, "stdout": groups}}
    assert assertion_holds("operator_guard", "AUDIT | Refuse to continue if sshd's AllowGroups", host) is holds


PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxzb3BzLWtleS1mb3ItdGhlLWd1YXJkLXRlc3QtMDE xzops@controller"


@pytest.mark.parametrize(("pub_file", "authorized", "holds"), [
    (PUBLIC, PUBLIC, True),  # the .pub beside a passphrase-protected key, authorized
    (PUBLIC, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKey other@host", False),
    ("", PUBLIC, False),  # no .pub: refused (the message says how to make one)
])
def test_a_passphrase_protected_key_is_checked_through_its_pub_file(pub_file: str, authorized: str,
                                                                     holds: bool) -> None:
    host = {"operator_guard_controller_key": "~/.ssh/xzops_ed25519", "operator_guard_user": "xzops",
            "operator_guard_controller_pub": {"rc": 255, "stdout": "", "stderr": "incorrect passphrase supplied"},
            "operator_guard_controller_pub_file": {"content": base64.b64encode(pub_file.encode()).decode()},
            "operator_guard_keys": {"content": base64.b64encode(authorized.encode()).decode()}}
    assert assertion_holds("operator_guard", "AUDIT | Refuse to continue unless the controller's key is authorized",
                           host) is holds
    readable = {**host, "operator_guard_controller_pub": {"rc": 0, "stdout": PUBLIC, "stderr": ""}}
    assert assertion_holds("operator_guard", "AUDIT | Refuse to continue unless the controller's key is authorized",
                           readable) is (authorized == PUBLIC)


CIPHERTEXT = "$XZGOV-SM4VAULT;2;0ca110c0ffee0001;" + "A" * 60


@pytest.mark.parametrize(("role", "name", "secrets"), [
    ("host_backup", "AUDIT | Credentials are decrypted", {"host_backup_restic_password": CIPHERTEXT,
                                                          "host_backup_s3_key_id": "AKIA", "host_backup_s3_secret": "s",
                                                          "host_backup_pg_cipher_pass": "p"}),
    ("directory", "AUDIT | The directory's passwords are decrypted", {"xzgov_directory_reader_password": CIPHERTEXT}),
    ("directory_client", "AUDIT | The reader password is decrypted", {"xzgov_directory_reader_password": CIPHERTEXT}),
])
def test_a_secret_still_vaulted_is_refused_not_used_as_the_password(role: str, name: str,
                                                                     secrets: dict[str, str]) -> None:
    # an extra var (-e @vault/host-backup.yml) never passes through the xzgov_sm4vault vars plugin
    assert not assertion_holds(role, name, {**secrets, "xzgov_level": 3})
    plain = {key: "decrypted-secret-value" for key in secrets}
    assert assertion_holds(role, name, {**plain, "xzgov_level": 3})


@pytest.mark.parametrize(("host", "holds"), [
    ({"ansible_user": "xzops", "os_hardening_unused_accounts": ["games", "xzops"]}, False),
    ({"operator_guard_user": "xzops", "os_hardening_unused_accounts": ["xzops"]}, False),
    ({"os_hardening_unused_accounts": ["root"]}, False),  # connecting as root (no ansible_user)
    ({"ansible_user": "xzops", "os_hardening_unused_accounts": ["games", "lp"]}, True),
])
def test_the_operator_is_never_among_the_accounts_to_lock(host: dict[str, Any], holds: bool) -> None:
    """"Lock and expire unused accounts" took the operator too when listed (expires: 1 refuses an SSH login even
    with a valid key); the guard now refuses the run before it, with an OPERATOR GUARD message."""
    name = "AUDIT | The operator is not among the accounts to lock"
    assert assertion_holds("os_hardening", name, {"xzgov_level": 3, **host}, "accounts.yml") is holds
    names = [str(entry.get("name", "")) for entry in _accounts_tasks()]
    guard = next(i for i, n in enumerate(names) if n.startswith(name))
    assert guard < next(i for i, n in enumerate(names) if n.startswith("PATCH | Lock and expire unused accounts"))


def _accounts_tasks() -> list[dict[str, Any]]:
    import yaml

    from tests.roles.render import ROLES
    path = ROLES / "os_hardening" / "tasks" / "accounts.yml"
    loaded: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(("given", "port"), [({}, 22), ({"xzgov_ssh_port": 2222}, 2222),
                                            ({"xzgov_ssh_port": "2200"}, 2200)])
def test_the_three_roles_and_the_live_scan_read_one_ssh_port(given: dict[str, Any], port: int) -> None:
    """The live scan allowed SSH on xzgov_ssh_port while the roles listened and opened the firewall on their own
    ssh_hardening_port / firewall_ssh_port / operator_guard_ssh_port (22): a port moved as the roles expected was
    reported undeclared, one moved as the scan's text said left sshd and the firewall on 22. The three defaults
    now derive from the one contract variable."""
    for role, name in (("ssh_hardening", "ssh_hardening_port"), ("firewall", "firewall_ssh_port"),
                       ("operator_guard", "operator_guard_ssh_port")):
        assert int(value(role, "{{ " + name + " }}", given)) == port, role
    from xzgov.facts.host import HostTarget

    assert int(HostTarget("h", "10.67.3.10", "s", given).context()["ssh_port"]) == port

"""The operator directory on booted test hosts: one directory host and its SSSD clients on a ZoneLan,
the directory's certificate from the region's CA (zone.Pki), and the playbook that converges them
(playbooks/security_management.yml for the directory, then on the clients the hardening roles the
directory client meets - operator_guard, firewall (default deny; flows to the directory only), ssh_hardening
(key-only SSH) - and directory_client, in site.yml's order. os_hardening (PAM) is left to the full site.yml
run: add it to ``client_roles`` to converge it here too).

Operators are managed the way the security administrator would: LDIF through ldapi on the directory host.
Passwords are generated per run and passed to ansible-playbook in a 0600 extra-vars file, never in the
inventory.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, ansible_playbook, repo_root
from tests.secmgmt.zone import Pki, ZoneLan

DOMAIN = "xzgov.test"
SUFFIX = "dc=xzgov,dc=test"
DIRECTORY_NAME = f"directory.{DOMAIN}"
OPERATORS = f"ou=operators,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
ROLE_GID = {"sysadmin": 20001, "auditadmin": 20002, "secadmin": 20003}


@dataclass
class Operator:
    uid: str
    number: int
    role: str
    password: str
    key: Path

    @property
    def dn(self) -> str:
        return f"uid={self.uid},{OPERATORS}"


@dataclass
class DirectoryZone:
    pool: HostPool
    workdir: Path
    directory: str  # inventory name of the directory host
    clients: tuple[str, ...]
    cache_timeout: int = 15
    client_roles: tuple[str, ...] = ("operator_guard", "firewall", "ssh_hardening", "directory_client")
    lan: ZoneLan = field(init=False)
    pki: Pki = field(init=False)
    secrets_file: Path = field(init=False)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    reader_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def __post_init__(self) -> None:
        self.lan = ZoneLan(self.pool.session)
        self.pki = Pki(self.workdir / "pki")
        self.secrets_file = self.workdir / "vault-vars.yml"

    def start(self) -> None:
        if not self.lan.addresses:  # a LAN made by another zone on the same pool (zone.Zone) is shared
            self.lan.create(self.pool.hosts)
        self.cert = self.pki.issue(DIRECTORY_NAME, server=True)
        # the zone's DNS: every host resolves the directory's name to its LAN address
        line = f"{self.lan.addresses[self.directory]} {DIRECTORY_NAME}"
        for host in self.pool.hosts:
            host.sudo(f"grep -qF {shlex.quote(line)} /etc/hosts || echo {shlex.quote(line)} >> /etc/hosts",
                      check=True)
        self.secrets_file.write_text(yaml.safe_dump({
            # an old inventory's administrator password: no longer read by the role (the rootDN has none)
            "xzgov_directory_admin_password": self.admin_password,
            "xzgov_directory_reader_password": self.reader_password,
        }))
        self.secrets_file.chmod(0o600)

    def close(self) -> None:
        self.lan.destroy()

    @property
    def directory_host(self) -> TestHost:
        return self.pool.host(self.directory)

    def write_inventory(self, path: Path) -> Path:
        inventory = self.pool.inventory(extra_host_vars=self.host_vars())
        inventory["all"]["children"].update(self.groups())
        path.write_text(yaml.safe_dump(inventory, sort_keys=False))
        return path

    def groups(self) -> dict[str, Any]:
        return {"secmgmt_directory": {"hosts": {self.directory: None}},
                "directory_clients": {"hosts": dict.fromkeys(self.clients)}}

    def host_vars(self, flows: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, dict[str, Any]]:
        """The directory's and its clients' variables; a client's firewall flows are ``flows[name]`` (the
        pool's by default) with LDAPS / LDAP+StartTLS to the directory added."""
        extra: dict[str, dict[str, Any]] = {
            self.directory: {
                "xzgov_directory_domain": DOMAIN,
                "directory_tls_ca_src": str(self.pki.ca_file),
                "directory_tls_cert_src": str(self.cert[0]),
                "directory_tls_key_src": str(self.cert[1]),
            }
        }
        directory_cidr = f"{self.lan.addresses[self.directory]}/32"
        for name in self.clients:
            client_flows = list((flows or {}).get(name) or
                                self.pool.host_vars(self.pool.host(name))["xzgov_allowed_flows"])
            client_flows += [{"direction": "out", "protocol": "tcp", "port": port, "peer": "directory",
                              "peer_cidrs": [directory_cidr], "purpose": purpose}
                             for port, purpose in ((636, "LDAPS to the operator directory"),)]
            extra[name] = {
                "xzgov_allowed_flows": client_flows,
                "xzgov_directory_uri": f"ldaps://{DIRECTORY_NAME}",
                "xzgov_directory_domain": DOMAIN,
                "directory_client_ca_src": str(self.pki.ca_file),
                "directory_client_entry_cache_timeout": self.cache_timeout,
            }
        return extra

    def write_playbook(self, path: Path) -> Path:
        root = repo_root()
        path.write_text(yaml.safe_dump([
            {"name": "Security-management zone (the directory)",
             "ansible.builtin.import_playbook": str(root / "playbooks/security_management.yml")},
            {"name": "Directory clients (hardening roles, then SSSD)", "hosts": "directory_clients",
             "become": True,
             "pre_tasks": [{"name": "Refresh the package index when older than a day",
                            "ansible.builtin.apt": {"update_cache": True, "cache_valid_time": 86400}}],
             "roles": [{"role": role} for role in self.client_roles]},
        ], sort_keys=False))
        return path

    def converge(self, inventory: Path, playbook: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return ansible_playbook(inventory, "-e", f"@{self.secrets_file}", playbook=playbook, timeout=timeout,
                                extra_env={"ANSIBLE_ROLES_PATH": str(repo_root() / "roles")})

    # ------------------------------------------------------------------ the security administrator's work
    def ldap(self, tool: str, ldif: str) -> subprocess.CompletedProcess[str]:
        """ldapadd / ldapmodify / ldapdelete as root over ldapi on the directory host."""
        return self.directory_host.sudo(f"{tool} -Q -Y EXTERNAL -H ldapi:/// <<'EOF'\n{ldif}\nEOF")

    def search(self, base: str, *attrs: str, scope: str = "base") -> str:
        out = self.directory_host.sudo(f"ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H ldapi:/// -s {scope} "
                                       f"-b {shlex.quote(base)} '(objectClass=*)' {' '.join(attrs)}")
        return out.stdout

    def new_operator(self, uid: str, number: int, role: str) -> Operator:
        key = self.workdir / f"{uid}_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{uid}@directory", "-f", str(key)],
                       check=True)
        op = Operator(uid, number, role, "Op-" + secrets.token_urlsafe(15), key)
        public = key.with_suffix(".pub").read_text().strip()
        added = self.ldap("ldapadd", "\n".join([
            f"dn: {op.dn}", "objectClass: inetOrgPerson", "objectClass: posixAccount", "objectClass: ldapPublicKey",
            f"uid: {uid}", f"cn: {uid}", f"sn: {uid}", f"uidNumber: {number}", f"gidNumber: {ROLE_GID[role]}",
            f"homeDirectory: /home/{uid}", "loginShell: /bin/bash", f"userPassword: {op.password}",
            f"sshPublicKey: {public}"]))
        assert added.returncode == 0, added.stderr
        member = self.ldap("ldapmodify", f"dn: cn={role},{GROUPS}\nchangetype: modify\nadd: memberUid\n"
                                         f"memberUid: {uid}")
        assert member.returncode == 0, member.stderr
        return op

    def remove_operator(self, op: Operator) -> None:
        member = self.ldap("ldapmodify", f"dn: cn={op.role},{GROUPS}\nchangetype: modify\ndelete: memberUid\n"
                                         f"memberUid: {op.uid}")
        assert member.returncode == 0, member.stderr
        gone = self.directory_host.sudo(f"ldapdelete -Q -Y EXTERNAL -H ldapi:/// {shlex.quote(op.dn)}")
        assert gone.returncode == 0, gone.stderr

    # ------------------------------------------------------------------ as the operator
    def operator_ssh(self, host: TestHost, op: Operator, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
             "-o", f"UserKnownHostsFile={host.known_hosts}", "-o", "ConnectTimeout=10", "-o", "ControlMaster=no",
             "-o", "ControlPath=none", "-o", "LogLevel=ERROR", "-i", str(op.key), f"{op.uid}@{host.address}",
             command],
            text=True, capture_output=True, timeout=120, check=False)

    def bind(self, client: TestHost, dn: str, password: str, uri: str = f"ldaps://{DIRECTORY_NAME}",
             extra: str = "") -> subprocess.CompletedProcess[str]:
        """ldapwhoami from a client host (the password travels on stdin to a 0600 file, not in argv)."""
        ca = "/etc/sssd/xzgov-directory-ca.pem"
        script = (f"umask 077; f=$(mktemp); cat > \"$f\"; "
                  f"LDAPTLS_CACERT={ca} LDAPTLS_REQCERT=demand ldapwhoami -x {extra} -H {uri} "
                  f"-D {shlex.quote(dn)} -y \"$f\"; rc=$?; rm -f \"$f\"; exit $rc")
        return subprocess.run(["ssh", *client.ssh_options(), f"{client.ssh_user}@{client.address}", script],
                              input=password, text=True, capture_output=True, timeout=60, check=False)

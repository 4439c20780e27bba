"""A pool of booted test hosts with their runner-side services, usable from pytest and scripts.

    with HostPool([HostSpec("deb-l2", 2), HostSpec("deb-l3", 3)]) as pool:
        pool.write_inventory(path)
        ...

Everything the pool creates (namespaces, veth pairs, nspawn processes, host copies) is removed by
`close()`, which `__exit__` and the pytest fixture call even when a test or the boot fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.hosts import netns, nspawn, rootfs, services

#: the DNS name of the test log receiver's certificate, the hosts' xzgov_log_servers tls_name
LOG_CENTRE_NAME = "log-centre.test.xzgov.internal"
_REQUIRED_TOOLS = ("systemd-nspawn", "debootstrap", "ip", "ssh", "ssh-keygen", "chroot", "cp")


@dataclass(frozen=True)
class HostSpec:
    """A host to boot: inventory name and 等保 level."""

    name: str
    level: int


def unavailable_reason() -> str | None:
    """Why real hosts cannot be booted here, or None when they can."""
    if os.geteuid() != 0:
        return "booting test hosts needs root (systemd-nspawn, ip netns, debootstrap)"
    missing = [tool for tool in _REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return (
            f"missing tools for test hosts: {', '.join(missing)} "
            "(apt-get install debootstrap systemd-container iproute2 openssh-client)"
        )
    return None


class HostPool:
    """Boots `specs` as systemd-nspawn hosts, each in its own netns, with the runner-side services."""

    def __init__(
        self,
        specs: Sequence[HostSpec],
        workdir: Path | None = None,
        operator_user: str = "xzops",
        rootfs_spec: rootfs.RootfsSpec | None = None,
    ) -> None:
        self.specs = list(specs)
        self.session = secrets.token_hex(3)
        nspawn.STATE_ROOT.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"session-{self.session}-", dir=nspawn.STATE_ROOT))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        self.operator_user = operator_user
        self.rootfs_spec = rootfs_spec or rootfs.RootfsSpec()
        self.hosts: list[nspawn.TestHost] = []
        self.links: list[netns.Link] = []
        self.apt_proxy: services.AptProxy | None = None
        self.ntp: services.NtpResponder | None = None
        self.syslog: services.TlsSyslogReceiver | None = None
        self.client_certs: dict[str, tuple[Path, Path]] = {}
        self.ca_file: Path | None = None
        self.known_hosts = self.workdir / "known_hosts"
        self.operator: nspawn.Operator | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> HostPool:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> list[nspawn.TestHost]:
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> list[nspawn.TestHost]:
        image = rootfs.ensure_rootfs(self.rootfs_spec)
        self.operator = nspawn.make_operator(self.workdir / "operator", self.operator_user)
        # Concurrent sessions (CI beside a developer's run) must not pick the same free subnets.
        with open(nspawn.STATE_ROOT / ".subnets.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subnets = netns.free_subnets(len(self.specs))
            for index, subnet in enumerate(subnets):
                self.links.append(netns.create_link(self.session, index, subnet))
        runner_addresses = [link.runner_address for link in self.links]
        self.apt_proxy = services.AptProxy(runner_addresses, rootfs.CACHE_ROOT / "apt-proxy")
        self.ntp = services.NtpResponder(runner_addresses)
        # the receiver's certificate carries the DNS name the hosts check (rsyslog's gtls never matches an address)
        self.ca_file, cert, key = services.make_test_pki(self.workdir / "pki", [*runner_addresses, LOG_CENTRE_NAME])
        self.syslog = services.TlsSyslogReceiver(runner_addresses, cert, key, ca_file=self.ca_file)
        for spec, link in zip(self.specs, self.links, strict=True):
            root = self.workdir / "machines" / spec.name
            rootfs.copy_rootfs(image, root)
            proxy_url = f"http://{link.runner_address}:{self.apt_proxy.port}/"
            root_pw, op_pw = nspawn.prepare_root(root, spec.name, self.operator, proxy_url)
            self.hosts.append(
                nspawn.TestHost(
                    name=spec.name,
                    level=spec.level,
                    address=link.host_address,
                    runner_address=link.runner_address,
                    ssh_user=self.operator.user,
                    key_path=self.operator.key_path,
                    known_hosts=self.known_hosts,
                    root=root,
                    link=link,
                    log_path=self.workdir / f"{spec.name}.console.log",
                    root_password=root_pw,
                    operator_password=op_pw,
                )
            )
        nspawn.write_known_hosts(self.known_hosts, self.hosts)
        for host in self.hosts:
            nspawn.boot(host)
        for host in self.hosts:
            nspawn.boot_and_wait(host)
        return self.hosts

    def close(self) -> None:
        """Tear everything down; safe to call twice and after a partial start."""
        for host in self.hosts:
            with contextlib.suppress(Exception):
                nspawn.shutdown(host)
        for server in (self.apt_proxy, self.ntp, self.syslog):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
        for link in self.links:
            netns.destroy_link(link)
        if os.environ.get("XZGOV_TEST_KEEP_HOSTS") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.hosts, self.links = [], []
        self.apt_proxy = self.ntp = self.syslog = None

    # ------------------------------------------------------------------ helpers
    def host(self, name: str) -> nspawn.TestHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def client_certificate_vars(self, host: nspawn.TestHost) -> dict[str, str]:
        """`log_forwarding_cert_src` / `_key_src` for `host`: a client certificate named after the host, issued
        once per pool by the test CA (the receiver checks it against that CA)."""
        assert self.ca_file is not None
        cert, key = self.client_certs.get(host.name) or services.issue_client_certificate(self.ca_file.parent,
                                                                                          host.name)
        self.client_certs[host.name] = (cert, key)
        return {"log_forwarding_cert_src": str(cert), "log_forwarding_key_src": str(key)}

    def host_vars(self, host: nspawn.TestHost) -> dict[str, Any]:
        """The inventory contract variables (docs/architecture.md) for one test host."""
        assert self.apt_proxy is not None and self.syslog is not None and self.ca_file is not None
        runner = f"{host.runner_address}/32"
        return {
            "ansible_host": host.address,
            "ansible_user": host.ssh_user,
            "ansible_ssh_private_key_file": str(host.key_path),
            "ansible_ssh_common_args": host.ssh_config_args(),
            "ansible_python_interpreter": "/usr/bin/python3",
            "xzgov_system": "hardening-test",
            "xzgov_department": "test-dept",
            "xzgov_zone": "test",
            "xzgov_site": "test",
            "xzgov_tier": "region",
            "xzgov_level": host.level,
            "xzgov_crypto_level": host.level,
            "xzgov_os_family": "debian",
            "xzgov_os_version": "12",
            "xzgov_time_sources": [host.runner_address],
            "xzgov_log_servers": [{"host": host.runner_address, "port": self.syslog.port, "protocol": "tcp+tls",
                                   "tls_name": LOG_CENTRE_NAME}],
            "xzgov_log_retention_days": 180,
            "xzgov_allowed_flows": [
                {
                    "direction": "out",
                    "protocol": "tcp",
                    "port": self.apt_proxy.port,
                    "peer": "apt-proxy",
                    "peer_cidrs": [runner],
                    "purpose": "package mirror (test runner)",
                },
                {
                    "direction": "out",
                    "protocol": "udp",
                    "port": 123,
                    "peer": "time",
                    "peer_cidrs": [runner],
                    "purpose": "NTP (test runner)",
                },
                {
                    "direction": "out",
                    "protocol": "tcp",
                    "port": self.syslog.port,
                    "peer": "log-centre",
                    "peer_cidrs": [runner],
                    "purpose": "syslog over TLS (test runner)",
                },
            ],
            "xzgov_management_cidrs": [runner],
            # Test-environment settings, not part of the contract:
            "log_forwarding_ca_src": str(self.ca_file),
            # each host's client certificate from the test CA (mutual TLS, XZ-HOST-LOG-MTLS)
            **self.client_certificate_vars(host),
            # The runner's kernel has no audit support (checked and reported by the audit role).
            "audit_require_kernel_support": False,
        }

    def inventory(
        self,
        hosts: Sequence[nspawn.TestHost] | None = None,
        extra_host_vars: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        hosts = list(hosts if hosts is not None else self.hosts)
        extra = extra_host_vars or {}
        host_vars = {h.name: {**self.host_vars(h), **extra.get(h.name, {})} for h in hosts}
        groups: dict[str, list[str]] = {}
        for h in hosts:
            hv = host_vars[h.name]
            for group in (
                f"site_{hv['xzgov_site']}",
                f"zone_{hv['xzgov_zone']}",
                f"level{hv['xzgov_level']}",
                f"tier_{hv['xzgov_tier']}",
                f"dept_{hv['xzgov_department']}".replace("-", "_"),
                f"os_{hv['xzgov_os_family']}",
                f"system_{hv['xzgov_system']}".replace("-", "_"),
            ):
                groups.setdefault(group, []).append(h.name)
        return {
            "all": {
                "hosts": host_vars,
                "children": {g: {"hosts": {n: None for n in names}} for g, names in sorted(groups.items())},
            }
        }

    def write_inventory(
        self,
        path: Path,
        hosts: Sequence[nspawn.TestHost] | None = None,
        extra_host_vars: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        """Write a YAML inventory for `hosts` (default: all) in the layout `xzgov inventory` writes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.inventory(hosts, extra_host_vars), sort_keys=False))
        return path

    def ansible_env(self) -> dict[str, str]:
        """Environment for ansible-playbook against the pool (works without the vault plugin)."""
        return ansible_env()


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def ansible_env() -> dict[str, str]:
    """Environment to run ansible-playbook from the repo root in tests.

    The repo's ansible.cfg enables the `xzgov_sm4vault` vars plugin; while that plugin is not in
    plugins/vars/ yet, only host_group_vars is enabled so the run does not fail on a missing plugin.
    """
    env = dict(os.environ)
    root = repo_root()
    env["ANSIBLE_CONFIG"] = str(root / "ansible.cfg")
    env.setdefault("ANSIBLE_FORCE_COLOR", "0")
    env["ANSIBLE_NOCOLOR"] = "1"
    if not (root / "plugins/vars/xzgov_sm4vault.py").is_file():
        env["ANSIBLE_VARS_ENABLED"] = "host_group_vars"
    venv_bin = root / ".venv/bin"
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    return env


def ansible_playbook(
    inventory: Path,
    *args: str,
    timeout: float = 1800,
    extra_env: Mapping[str, str] | None = None,
    playbook: str | Path = "site.yml",
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `ansible-playbook -i inventory PLAYBOOK ARGS` from ``cwd`` (the repo root unless given; PLAYBOOK:
    site.yml unless given), with :func:`ansible_env` and ``extra_env`` over it. The one way the tests run it."""
    root = repo_root()
    exe = root / ".venv/bin/ansible-playbook"
    cmd = [str(exe) if exe.exists() else "ansible-playbook", "-i", str(inventory), str(playbook), *args]
    env = {**ansible_env(), **(extra_env or {})}
    return subprocess.run(cmd, cwd=cwd or root, env=env, text=True, capture_output=True, timeout=timeout,
                          check=False)


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines → {host: {ok, changed, unreachable, failed, skipped, rescued, ignored}}."""
    recap: dict[str, dict[str, int]] = {}
    in_recap = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap and ":" in line and "=" in line:
            name, _, counters = line.partition(":")
            values: dict[str, int] = {}
            for item in counters.split():
                key, _, value = item.partition("=")
                if value.isdigit():
                    values[key] = int(value)
            recap[name.strip()] = values
    return recap


@contextlib.contextmanager
def booted(specs: Sequence[HostSpec]) -> Iterator[HostPool]:
    """Context manager form for scripts (bench/)."""
    pool = HostPool(specs)
    try:
        pool.start()
        yield pool
    finally:
        pool.close()

"""A security-management zone on booted test hosts: a LAN between the hosts, the region's PKI, and the
inventory that `site.yml` converges (log centre first, then the hardened hosts that forward to it).

The test hosts each live in their own network namespace joined to the runner only. `ZoneLan` adds a
second interface (`lan0`, 10.250.0.0/24) to every host, bridged in a namespace of its own, so hosts
talk to each other as in a real zone without touching the runner's routing or forwarding. The
addresses exist only inside these namespaces, so concurrent sessions do not collide.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool

LAN = ipaddress.IPv4Network("10.250.0.0/24")
CENTRE_NAME = "log-centre.xzgov.test"
LOG_PORT = 6514


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, text=True, capture_output=True)


@dataclass
class ZoneLan:
    """A bridge in namespace `xzlan-<session>` and one veth per host (`lan0` inside the host)."""

    session: str
    addresses: dict[str, str] = field(default_factory=dict)

    @property
    def netns(self) -> str:
        return f"xzlan-{self.session}"

    def create(self, hosts: list[TestHost]) -> None:
        _ip("netns", "add", self.netns)
        _ip("-n", self.netns, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.netns, "link", "set", "br0", "up")
        for index, host in enumerate(hosts):
            outer, inner = f"xl{self.session[:6]}{index:02d}b", f"xl{self.session[:6]}{index:02d}h"
            address = str(LAN.network_address + 10 + index)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", outer, "netns", self.netns)
            _ip("-n", self.netns, "link", "set", outer, "master", "br0", "up")
            _ip("link", "set", inner, "netns", host.link.netns)
            _ip("-n", host.link.netns, "link", "set", inner, "name", "lan0")
            _ip("-n", host.link.netns, "addr", "add", f"{address}/{LAN.prefixlen}", "dev", "lan0")
            _ip("-n", host.link.netns, "link", "set", "lan0", "up")
            self.addresses[host.name] = address

    def destroy(self) -> None:
        _ip("netns", "del", self.netns, check=False)  # the veths go with it


# ----------------------------------------------------------------------------------------------- PKI
def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Pki:
    """The region's CA (ECDSA P-256: GnuTLS in rsyslog has no SM2) with issued certificates."""

    directory: Path
    name: str = "xzgov test region CA"
    ca_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._ca_key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = datetime.datetime.now(datetime.UTC)
        self._ca = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self._ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        slug = self.name.replace(" ", "-")
        self.ca_file = _write(self.directory / f"{slug}.pem", self._ca.public_bytes(serialization.Encoding.PEM), 0o644)

    def issue(self, name: str, *, server: bool) -> tuple[Path, Path]:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage, ExtendedKeyUsageOID.CLIENT_AUTH,
                                                  ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        cert_file = _write(self.directory / f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return cert_file, _write(self.directory / f"{name}.key", _pem_key(key))


# ------------------------------------------------------------------------------------------ the zone
@dataclass
class Zone:
    pool: HostPool
    workdir: Path
    centre: str  # inventory name of the log-centre host
    time_source: str | None = None  # inventory name of the time-source host, if any
    lan: ZoneLan = field(init=False)
    pki: Pki = field(init=False)
    rogue: Pki = field(init=False)
    certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    seal_public_key: Path = field(init=False)

    def __post_init__(self) -> None:
        self.lan = ZoneLan(self.pool.session)
        self.pki = Pki(self.workdir / "pki")
        self.rogue = Pki(self.workdir / "rogue", name="rogue CA")
        self.seal_public_key = self.workdir / "seal.pub.pem"

    def start(self) -> None:
        self.lan.create(self.pool.hosts)
        self.certs[CENTRE_NAME] = self.pki.issue(CENTRE_NAME, server=True)
        for host in self.pool.hosts:
            self.certs[host.name] = self.pki.issue(f"{host.name}.xzgov.test", server=False)
        self.certs["runner"] = self.pki.issue("runner.xzgov.test", server=False)
        self.certs["rogue"] = self.rogue.issue("intruder.xzgov.test", server=False)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.lan.destroy()

    @property
    def centre_host(self) -> TestHost:
        return self.pool.host(self.centre)

    @property
    def centre_address(self) -> str:
        return self.lan.addresses[self.centre]

    def storage(self) -> Path:
        """The log centre's storage, read through the container's root on the runner."""
        return self.centre_host.root / "var/log/xzgov-centre"

    def host_vars(self) -> dict[str, dict[str, Any]]:
        lan_peer = [f"{self.centre_address}/32"]
        ntp = self.lan.addresses[self.time_source] if self.time_source else None
        extra: dict[str, dict[str, Any]] = {}
        for host in self.pool.hosts:
            base = self.pool.host_vars(host)
            cert, key = self.certs[host.name]
            flows = [f for f in base["xzgov_allowed_flows"] if f["peer"] != "log-centre"]
            flows.append({"direction": "out", "protocol": "tcp", "port": LOG_PORT, "peer": "log-centre",
                          "peer_cidrs": lan_peer, "purpose": "syslog over TLS to the log centre"})
            values: dict[str, Any] = {
                "xzgov_log_servers": [{"host": self.centre_address, "port": LOG_PORT, "protocol": "tcp+tls"}],
                "log_forwarding_ca_src": str(self.pki.ca_file),
                "log_forwarding_cert_src": str(cert),
                "log_forwarding_key_src": str(key),
                "log_forwarding_permitted_peers": {self.centre_address: CENTRE_NAME},
            }
            if host.name == self.centre:
                ccert, ckey = self.certs[CENTRE_NAME]
                flows.append({"direction": "in", "protocol": "tcp", "port": LOG_PORT, "peer": "zone-hosts",
                              "peer_cidrs": [str(LAN), f"{host.runner_address}/32"],
                              "purpose": "syslog over TLS from the region's hosts"})
                # who may send, by address and certificate name: the zone's hosts and the runner, which sends as
                # "runner-client" from its own link (xzgov inventory writes xzgov_log_centre_sources for a region)
                sources = [{"name": h.name, "address": self.lan.addresses[h.name]} for h in self.pool.hosts]
                sources.append({"name": "runner-client", "address": host.runner_address})
                values.update({
                    "log_centre_sources": sources,
                    "log_centre_permitted_peers": [f"{h.name}.xzgov.test" for h in self.pool.hosts]
                    + ["runner.xzgov.test"],
                    "log_centre_ca_src": str(self.pki.ca_file),
                    "log_centre_cert_src": str(ccert),
                    "log_centre_key_src": str(ckey),
                    "log_centre_fetch_public_key_to": str(self.seal_public_key),
                })
            if ntp is not None and host.name == self.time_source:
                # upstream: the runner's NTP (time_sync keeps it); serves the zone's LAN only
                flows.append({"direction": "in", "protocol": "udp", "port": 123, "peer": "zone-hosts",
                              "peer_cidrs": [str(LAN), f"{host.runner_address}/32"],
                              "purpose": "NTP for the region's hosts"})
                values["xzgov_time_source_allow"] = [str(LAN)]
            elif ntp is not None:
                values["xzgov_time_sources"] = [ntp]
                flows = [f for f in flows if f["peer"] != "time"]
                flows.append({"direction": "out", "protocol": "udp", "port": 123, "peer": "time",
                              "peer_cidrs": [f"{ntp}/32"], "purpose": "NTP from the region's time source"})
            values["xzgov_allowed_flows"] = flows
            extra[host.name] = values
        return extra

    def write_inventory(self, path: Path, overlay: dict[str, dict[str, Any]] | None = None,
                        groups: dict[str, Any] | None = None) -> Path:
        """The zone's inventory; ``overlay`` adds host variables over the zone's (another zone sharing the pool,
        e.g. tests/secmgmt/directory.py), ``groups`` more groups."""
        import yaml

        host_vars = self.host_vars()
        for name, values in (overlay or {}).items():
            host_vars[name] = {**host_vars.get(name, {}), **values}
        inventory = self.pool.inventory(extra_host_vars=host_vars)
        inventory["all"]["children"].update(groups or {})
        inventory["all"]["children"]["secmgmt_log_centre"] = {"hosts": {self.centre: None}}
        if self.time_source:
            inventory["all"]["children"]["secmgmt_time_source"] = {"hosts": {self.time_source: None}}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(inventory, sort_keys=False))
        return path


# ------------------------------------------------------------------------------------ running site.yml
#: The security-management files this work owns; everything else comes from the tree being tested.
OWN_PATHS = ("roles/log_centre", "roles/time_source", "roles/log_forwarding", "roles/time_sync",
             "playbooks/security_management.yml")
ISOLATE_ENV = "XZGOV_SECMGMT_ISOLATE"


def site_root(workdir: Path, own_paths: tuple[str, ...] = OWN_PATHS) -> Path:
    """Where site.yml runs from: the working tree, or with ``XZGOV_SECMGMT_ISOLATE=1`` the committed
    tree (HEAD) with this work's roles and playbook laid over it and the one import line added, so
    that roles other people are editing at the same moment cannot break this test's run."""
    import os
    import shutil

    from tests.hosts.pool import repo_root

    root = repo_root()
    if os.environ.get(ISOLATE_ENV) != "1":
        return root
    tree = workdir / "tree"
    if tree.exists():
        return tree
    tree.mkdir(parents=True)
    committed = subprocess.run(["git", "-C", str(root), "ls-tree", "--name-only", "HEAD"], check=True,
                               capture_output=True, text=True).stdout.split()
    wanted = [p for p in ("site.yml", "ansible.cfg", "roles", "plugins", "playbooks") if p in committed]
    archive = subprocess.run(["git", "-C", str(root), "archive", "HEAD", *wanted], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    for path in own_paths:
        source, target = root / path, tree / path
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    site = tree / "site.yml"
    text = site.read_text()
    if "playbooks/security_management.yml" in text:  # the committed site.yml imports it already
        return tree
    marker = "- name: Contract | Check the inventory host variables"
    site.write_text(text.replace(marker, "- name: Security-management zone\n  ansible.builtin.import_playbook: "
                                 "playbooks/security_management.yml\n\n" + marker, 1))
    return tree


def run_site(inventory: Path, root: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook -i inventory site.yml`` from ``root`` (see :func:`site_root`)."""
    from tests.hosts.pool import ansible_env, repo_root

    exe = repo_root() / ".venv/bin/ansible-playbook"
    env = {**ansible_env(), "ANSIBLE_CONFIG": str(root / "ansible.cfg")}
    log = inventory.parent / "site-run.log"
    with log.open("a") as out:  # streamed, so a run that overstays its timeout shows where it was
        out.write(f"\n=== ansible-playbook -i {inventory} site.yml (timeout {timeout:.0f} s)\n")
        out.flush()
        proc = subprocess.Popen([str(exe), "-i", str(inventory), "site.yml"], cwd=root, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines: list[str] = []
        errors: list[str] = []

        import threading
        import time

        started = time.monotonic()

        def pump(stream: Any, into: list[str], echo: bool) -> None:
            for line in stream:
                into.append(line)
                if echo:  # seconds since the start, to see where a slow run spends its time
                    out.write(f"{time.monotonic() - started:7.1f} {line}")
                    out.flush()

        readers = [threading.Thread(target=pump, args=(proc.stdout, lines, True), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, errors, False), daemon=True)]
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            tasks = [line.strip() for line in lines if line.startswith(("TASK [", "PLAY ["))]
            raise AssertionError(f"site.yml did not finish in {timeout:.0f} s; last task started: "
                                 f"{tasks[-1] if tasks else '(none)'}; full output in {log}") from None
        finally:
            for reader in readers:
                reader.join(timeout=10)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines), "".join(errors))


#: security_management.yml's service groups and their roles, in its order
SERVICE_ROLES = (("secmgmt_log_centre", "log_centre"), ("secmgmt_time_source", "time_source"),
                 ("secmgmt_directory", "directory"))


def _parallel_play(forwarders: tuple[str, ...], roles: tuple[str, ...],
                   wait_for: tuple[tuple[str, int, str], ...]) -> list[dict[str, Any]]:
    """One play over the services and the ``forwarders`` with ``strategy: free``: every host works through its
    own roles at its own pace (security_management.yml's plays, and site.yml's, run one after the other). Before
    a forwarder's role named in ``wait_for`` (address, port, role) it waits until that service answers, as it
    could count on when the services' play had finished before it."""
    tasks: list[dict[str, Any]] = [
        {"name": f"Service | {role}", "ansible.builtin.include_role": {"name": role},
         "when": f"inventory_hostname in groups.get('{group}', [])"}
        for group, role in SERVICE_ROLES
    ]
    for role in roles:
        tasks += [
            {"name": f"Wait for the service at {address}:{port}",
             "ansible.builtin.wait_for": {"host": address, "port": port, "timeout": 1200},
             "when": "inventory_hostname in xzgov_test_forwarders"}
            for address, port, before in wait_for if before == role
        ]
        tasks.append({"name": f"Host | {role}", "ansible.builtin.include_role": {"name": role},
                      "when": "inventory_hostname in xzgov_test_forwarders"})
    return [{"name": "Security-management services and their hosts, each at its own pace",
             "hosts": ":".join([*(group for group, _role in SERVICE_ROLES), *forwarders]), "become": True,
             "strategy": "free", "vars": {"xzgov_test_forwarders": list(forwarders)},
             "pre_tasks": [{"name": "Refresh the package index when older than a day",
                            "ansible.builtin.apt": {"update_cache": True, "cache_valid_time": 86400}}],
             "tasks": tasks}]


def converge_centre(zone: Zone, workdir: Path, forwarders: tuple[str, ...], *,
                    roles: tuple[str, ...] = ("log_forwarding",), overlay: dict[str, dict[str, Any]] | None = None,
                    groups: dict[str, Any] | None = None, extra_args: tuple[str, ...] = (),
                    parallel: bool = False, wait_for: tuple[tuple[str, int, str], ...] = (),
                    timeout: float = 2400) -> tuple[subprocess.CompletedProcess[str], float]:
    """The security-management services (playbooks/security_management.yml: the log centre, and whatever other
    service ``groups`` add) and on ``forwarders`` only ``roles`` (roles/log_forwarding by default): a focused
    playbook, a few minutes, where the whole zone through site.yml (test_log_centre_live.py) takes a quarter of
    an hour. ``parallel``: the same roles in one play with ``strategy: free`` (see :func:`_parallel_play`).
    Returns the ansible-playbook run and its wall time in seconds; its output is kept in ``converge.log``."""
    import time

    import yaml

    from tests.hosts.pool import ansible_playbook, repo_root

    root = repo_root()
    inventory = zone.write_inventory(workdir / "hosts.yml", overlay=overlay, groups=groups)
    playbook = workdir / "centre.yml"
    plays: list[dict[str, Any]] = _parallel_play(forwarders, roles, wait_for) if parallel else [
        {"name": "Security-management zone (the log centre)",
         "ansible.builtin.import_playbook": str(root / "playbooks/security_management.yml")},
        {"name": "Forwarders", "hosts": ",".join(forwarders), "become": True,
         "pre_tasks": [{"name": "Refresh the package index when older than a day",
                        "ansible.builtin.apt": {"update_cache": True, "cache_valid_time": 86400}}],
         "roles": [{"role": role} for role in roles]},
    ]
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    started = time.monotonic()
    run = ansible_playbook(inventory, *extra_args, playbook=playbook, timeout=timeout,
                           extra_env={"ANSIBLE_ROLES_PATH": str(root / "roles")})
    (workdir / "converge.log").write_text(run.stdout + run.stderr)  # kept with pytest's temporary directories
    return run, time.monotonic() - started


def tls_client(zone: Zone, cert: tuple[Path, Path] | None, timeout: float = 10) -> ssl.SSLSocket:
    """A TLS connection from the runner to the zone's log centre, with ``cert`` as client certificate (or none)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(zone.pki.ca_file))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    raw = socket.create_connection((zone.centre_host.address, LOG_PORT), timeout=timeout)
    return context.wrap_socket(raw, server_hostname=CENTRE_NAME)


def frame(host: str, message: str) -> bytes:
    """One RFC 5425 frame (octet counting) of an RFC 5424 message from ``host``."""
    body = f"<14>1 {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {host} bench - - - {message}".encode()
    return str(len(body)).encode() + b" " + body


def send_direct(zone: Zone, cert: tuple[Path, Path] | None, host: str, messages: list[str]) -> bool:
    """Send over TLS from the runner; False when the centre refused (handshake or connection closed)."""
    try:
        with tls_client(zone, cert) as conn:
            conn.sendall(b"".join(frame(host, m) for m in messages))
            conn.settimeout(2)
            try:
                return conn.recv(1) != b""  # the centre never answers; b"" = it closed the connection
            except TimeoutError:
                return True
    except (ssl.SSLError, OSError):
        return False

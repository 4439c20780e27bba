"""Boot test hosts with systemd-nspawn, each in its own network namespace, reached over SSH."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.hosts.netns import Link

STATE_ROOT = Path(os.environ.get("XZGOV_TEST_STATE", "/var/lib/xzgov-tests"))


@dataclass(frozen=True)
class Operator:
    """The throwaway operator identity of one test session (key generated per session)."""

    user: str
    key_path: Path
    public_key: str


@dataclass
class TestHost:
    """A booted host, reachable exactly as production reaches it (address + operator key)."""

    __test__ = False  # not a pytest test class

    name: str
    level: int
    address: str
    runner_address: str
    ssh_user: str
    key_path: Path
    known_hosts: Path
    root: Path
    link: Link
    log_path: Path
    root_password: str = field(repr=False, default="")
    operator_password: str = field(repr=False, default="")
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def ssh_options(self) -> list[str]:
        return [
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            "-i",
            str(self.key_path),
        ]

    def ssh(
        self, command: str, *, user: str | None = None, timeout: float = 300, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run `command` on the host over SSH as the operator (or `user`)."""
        return subprocess.run(
            ["ssh", *self.ssh_options(), f"{user or self.ssh_user}@{self.address}", command],
            text=True,
            capture_output=True,
            timeout=timeout,
            check=check,
        )

    def sudo(self, command: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self.ssh(f"sudo -n sh -c {shlex.quote(command)}", **kwargs)  # type: ignore[arg-type]

    def testinfra_url(self) -> str:
        return f"ssh://{self.ssh_user}@{self.address}"

    def testinfra_host(self, sudo: bool = True) -> Any:
        """A testinfra Host over SSH with this host's key and pinned host key (testinfra.host.Host)."""
        import testinfra

        return testinfra.get_host(
            self.testinfra_url(),
            ssh_identity_file=str(self.key_path),
            sudo=sudo,
            ssh_extra_args=f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={self.known_hosts} "
            "-o IdentitiesOnly=yes -o LogLevel=ERROR",
        )

    def ssh_config_args(self) -> str:
        """`ansible_ssh_common_args` / testinfra `ssh_extra_args` for this host."""
        return (
            f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={self.known_hosts} "
            "-o IdentitiesOnly=yes -o ControlMaster=auto -o ControlPersist=120s"
        )


def make_operator(directory: Path, user: str = "xzops") -> Operator:
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    if key.exists():
        key.unlink()
        key.with_suffix(".pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{user}@xzgov-test", "-f", str(key)],
        check=True,
    )
    return Operator(user=user, key_path=key, public_key=key.with_suffix(".pub").read_text().strip())


def _chroot(root: Path, *cmd: str, stdin: str | None = None) -> None:
    subprocess.run(["chroot", str(root), *cmd], check=True, text=True, input=stdin, capture_output=True)


def prepare_root(root: Path, name: str, operator: Operator, proxy_url: str) -> tuple[str, str]:
    """Give a copied image its identity: hostname, host keys, operator with key + sudo, apt proxy.

    Returns (root password, operator password): random per host, never stored, used only to prove
    that password logins are refused after hardening.
    """
    (root / "etc/hostname").write_text(f"{name}\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {name}\n")
    subprocess.run(["ssh-keygen", "-A", "-f", str(root)], check=True, capture_output=True)
    _chroot(root, "useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", operator.user)
    ssh_dir = root / "home" / operator.user / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(operator.public_key + "\n")
    (ssh_dir / "authorized_keys").chmod(0o600)
    _chroot(root, "chown", "-R", f"{operator.user}:{operator.user}", f"/home/{operator.user}/.ssh")
    sudoers = root / "etc/sudoers.d" / f"90-{operator.user}"
    sudoers.write_text(f"{operator.user} ALL=(ALL:ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    root_password, operator_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    _chroot(root, "chpasswd", stdin=f"root:{root_password}\n{operator.user}:{operator_password}\n")
    (root / "etc/apt/apt.conf.d/01xzgov-test-proxy").write_text(
        f'Acquire::http::Proxy "{proxy_url}";\nAcquire::http::Pipeline-Depth "0";\nAcquire::Retries "3";\n'
    )
    return root_password, operator_password


def host_known_hosts_line(root: Path, address: str) -> str:
    key_type, key = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2]
    return f"{address} {key_type} {key}"


def boot(host: TestHost) -> None:
    """Start `systemd-nspawn --boot` for the host inside its network namespace."""
    env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="network")
    log = open(host.log_path, "ab")  # noqa: SIM115 - closed with the process in `shutdown`
    host.process = subprocess.Popen(
        [
            "systemd-nspawn",
            "--quiet",
            "--boot",
            "--register=no",
            "--keep-unit",
            f"--directory={host.root}",
            f"--machine={host.name}",
            f"--hostname={host.name}",
            f"--network-namespace-path=/run/netns/{host.link.netns}",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            # nftables inside the host's own network namespace (nspawn drops it without --private-network)
            "--capability=CAP_NET_ADMIN",
            "--console=passive",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    log.close()


def wait_for_ssh(host: TestHost, timeout: float = 120.0) -> None:
    """Wait until the host's sshd accepts the operator's key; the error says which stage never came."""
    deadline = time.monotonic() + timeout
    last = "port 22 never accepted a TCP connection"
    while time.monotonic() < deadline:
        if host.process is not None and host.process.poll() is not None:
            raise BootError(f"{host.name}: systemd-nspawn exited early\n{console_tail(host)}")
        with contextlib.suppress(OSError), socket.create_connection((host.address, 22), timeout=2):
            result = host.ssh("true", timeout=20)
            if result.returncode == 0:
                return
            last = f"ssh exited {result.returncode}: {result.stderr.strip()}"
        time.sleep(0.5)
    raise BootError(
        f"{host.name}: sshd not reachable at {host.address} after {timeout:.0f}s ({last})\n{console_tail(host)}"
    )


class BootError(RuntimeError):
    """A test host did not come up; the message carries the end of its console."""


def console_tail(host: TestHost, lines: int = 40) -> str:
    try:
        text = host.log_path.read_text(errors="replace")
    except OSError:
        return "(no console log)"
    return "console (last lines):\n" + "\n".join(text.splitlines()[-lines:])


def boot_and_wait(host: TestHost, timeout: float = 120.0, attempts: int = 2) -> None:
    """Boot (already started by `boot`) and wait; a host that never comes up is powered off and booted again.

    On a 2-core runner one container in a parallel batch has been seen never to reach sshd (a clean-clone CI
    run, idle machine); a second boot of the same root filesystem is what an operator would do. Every failed
    attempt is reported on stderr with the console's last lines, so a systematic failure stays visible.
    """
    for attempt in range(1, attempts + 1):
        try:
            wait_for_ssh(host, timeout)
            return
        except BootError as error:
            if attempt == attempts:
                raise
            print(f"\n[test hosts] boot attempt {attempt} failed, rebooting: {error}", file=sys.stderr)
            shutdown(host)
            boot(host)


def shutdown(host: TestHost, grace: float = 20.0) -> None:
    """Power the host off (SIGTERM makes nspawn ask the container's init), SIGKILL after `grace`."""
    proc = host.process
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        # The container's init runs in a session of its own: killing nspawn's group leaves it (and everything
        # under it) running with no parent: every process left in the host's network namespace is killed.
        kill_processes_in_namespace(host.link.netns)


def processes_in_namespace(netns: str) -> list[int]:
    """PIDs of the processes in a network namespace (a container's, whose own view of its root hides the path)."""
    result = subprocess.run(["ip", "netns", "pids", netns], text=True, capture_output=True, check=False)
    return [int(pid) for pid in result.stdout.split()]


def kill_processes_in_namespace(netns: str, timeout: float = 10.0) -> None:
    """SIGKILL every process in `netns` and wait until none is left."""
    deadline = time.monotonic() + timeout
    while pids := processes_in_namespace(netns):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} still run in {netns} {timeout:.0f}s after SIGKILL")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def remove_root(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def write_known_hosts(path: Path, hosts: Sequence[TestHost]) -> None:
    path.write_text("".join(host_known_hosts_line(h.root, h.address) + "\n" for h in hosts))

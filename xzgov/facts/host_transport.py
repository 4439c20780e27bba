"""How the gather script reaches a host: the :class:`Transport` protocol and its two implementations.

* :class:`TestinfraTransport` — ``testinfra.get_host("ssh://user@address", ...)`` (the default);
* :class:`LocalTransport` — runs the script on this machine (tests, and scanning the scanner's host).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import Protocol


class Transport(Protocol):
    """Runs the gather script on one host; returns (exit status, stdout, stderr)."""

    def run(self, script: str, timeout: float) -> tuple[int, str, str]: ...


@dataclass
class LocalTransport:
    """Run the script on this machine (as the current user, or through ``sudo -n`` when asked)."""

    sudo: bool = False

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        command = ["sudo", "-n", "/bin/sh", "-s"] if self.sudo else ["/bin/sh", "-s"]
        done = subprocess.run(command, input=script, text=True, capture_output=True, timeout=timeout, check=False)
        return done.returncode, done.stdout, done.stderr


@dataclass
class TestinfraTransport:
    """SSH through pytest-testinfra's ``ssh`` backend (OpenSSH client, batch mode, no password prompts)."""

    __test__ = False

    address: str
    user: str
    port: int | None = None
    identity_file: str | None = None
    ssh_extra_args: str = ""
    connect_timeout: int = 10

    def url(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"ssh://{self.user}@{self.address}{port}"

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        import testinfra  # imported lazily: only the live scan needs it

        extra = " ".join(
            [
                "-o BatchMode=yes",
                "-o ServerAliveInterval=5",
                "-o ServerAliveCountMax=2",
                "-o ControlMaster=no",
                "-o ControlPath=none",
                self.ssh_extra_args,
            ]
        ).strip()
        host = testinfra.get_host(
            self.url(), ssh_identity_file=self.identity_file, ssh_extra_args=extra, timeout=self.connect_timeout
        )
        # `timeout` bounds the remote side; the ssh options bound connection and liveness.
        remote = f"timeout {int(max(timeout, 1))} sudo -n /bin/sh -c {shlex.quote(script)}"
        try:
            result = host.run(remote)
        except RuntimeError as error:  # testinfra raises on ssh's own exit status 255
            detail = getattr(error.args[0], "stderr", "") if error.args else ""
            return 255, "", str(detail or error)
        return result.rc, result.stdout, result.stderr

"""How the gather script reaches a host: the :class:`Transport` protocol and its two implementations.

* :class:`SshTransport` — the OpenSSH client (the default);
* :class:`LocalTransport` — runs the script on this machine (tests, and scanning the scanner's host).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from xzgov.core.text import visible_text


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


#: process groups of the ssh sessions running now (each runs in a session of its own, out of reach of the
#: terminal's Ctrl-C): what :func:`kill_sessions` ends when a scan is interrupted
_SESSIONS: set[int] = set()
_SESSIONS_LOCK = threading.Lock()
#: set by :func:`stop_sessions`: a session starting after it is killed at once (a worker that took a host
#: while the scan was being stopped)
_STOPPED = threading.Event()


class SessionsStopped(Exception):
    """A session was started after :func:`stop_sessions`: the scan is ending, the host is not scanned."""


def kill_sessions() -> None:
    """Kill every session :func:`run_bounded` is running (a scan interrupted: its workers then end at once
    instead of at their hosts' deadlines)."""
    with _SESSIONS_LOCK:
        groups = list(_SESSIONS)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def stop_sessions() -> None:
    """Kill every running session and every one started from now on, until :func:`allow_sessions` (a scan
    interrupted or out of time: a worker freed by the kill may already hold the next host)."""
    _STOPPED.set()
    kill_sessions()


def allow_sessions() -> None:
    """Sessions may run again (a scan starting)."""
    _STOPPED.clear()


def connect_seconds(timeout: float, connect_timeout: int = 10) -> int:
    """Seconds ssh may take to connect: ``connect_timeout``, never more than the host's whole time."""
    return max(1, min(connect_timeout, int(timeout)))


def session_time(timeout: float, connect_timeout: int = 10) -> float:
    """The most one :class:`SshTransport` session takes for a host given ``timeout`` seconds: connecting (at
    most ``connect_timeout``, never more than the host's time), the run (bounded on the host by ``timeout``)
    and 5 s for ssh to report its end. Past it the session is killed; the scan's overall net counts in it."""
    return timeout + connect_seconds(timeout, connect_timeout) + 5


class BadConnectionArgs(ValueError):
    """A host's connection variables cannot make an ssh command (an unbalanced quote in its extra arguments)."""


class AnswerTooLarge(Exception):
    """A host printed more than the transport takes (:attr:`SshTransport.output_limit`)."""


def run_bounded(argv: Sequence[str], stdin: bytes, timeout: float, limit: int) -> tuple[int, str, str]:
    """Run ``argv`` (no shell) with ``stdin``; return (exit status, stdout, stderr) decoded as UTF-8 with
    undecodable bytes replaced (a GBK comment in a config file is not a reason to lose the host).

    The process runs in a session of its own and the whole session is killed when ``timeout`` passes
    (:class:`subprocess.TimeoutExpired`) or the output passes ``limit`` bytes (:class:`AnswerTooLarge`):
    a hung login or a remote child holding the connection open cannot hold a scan's worker forever."""
    process = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    with _SESSIONS_LOCK:
        _SESSIONS.add(process.pid)
        stopped = _STOPPED.is_set()  # checked under the lock stop_sessions' kill takes: never missed by both
    if stopped:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        with _SESSIONS_LOCK:
            _SESSIONS.discard(process.pid)
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()
        raise SessionsStopped("the scan stopped before this host's session")

    def feed() -> None:
        try:
            assert process.stdin is not None
            process.stdin.write(stdin)
            process.stdin.close()
        except OSError:  # the other side went away: its exit status says why
            pass

    writer = threading.Thread(target=feed, name="xzgov-ssh-stdin", daemon=True)
    writer.start()
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ, out)
            selector.register(process.stderr, selectors.EVENT_READ, err)
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise subprocess.TimeoutExpired(list(argv), timeout)
                for key, _ in selector.select(remaining):
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    key.data.extend(chunk)
                    if len(out) + len(err) > limit:
                        raise AnswerTooLarge(f"answer larger than {limit // 2**20} MiB")
        rc = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        with _SESSIONS_LOCK:
            _SESSIONS.discard(process.pid)
        for stream in (process.stdout, process.stderr):
            stream.close()
        writer.join(timeout=1)
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@dataclass
class SshTransport:
    """The OpenSSH client, run as an argument list (nothing on this side goes through a shell, so
    ``ansible_ssh_common_args`` is split as Ansible splits it and never executed): batch mode (no prompts),
    no connection sharing, the script on standard input to ``sudo -n /bin/sh -s`` under a remote
    ``timeout``; one connection per host. The whole exchange is bounded here as well (:func:`run_bounded`)."""

    address: str
    user: str
    port: int | None = None
    identity_file: str | None = None
    ssh_extra_args: str = ""
    connect_timeout: int = 10
    #: the most a host may print; past it the host is an error, never a parse of part of its answer. A hardened
    #: Debian host answers about 12 KB; reading an answer costs about 27 times its size at its peak (its lines
    #: split), so 8 MiB keeps a flooding host — eight at once by default — to a few hundred MiB each
    output_limit: int = 8 * 2**20

    def command(self, timeout: float) -> list[str]:
        """The ssh argument list for a run bounded by ``timeout`` seconds on the host."""
        connect = connect_seconds(timeout, self.connect_timeout)
        try:
            extra = shlex.split(self.ssh_extra_args)
        except ValueError as error:  # the inventory's mistake, said as such (not "a defect in xzgov")
            raise BadConnectionArgs(f"ansible_ssh_common_args cannot be split as Ansible splits it ({error}): "
                                    f"{visible_text(self.ssh_extra_args)[:200]!r}") from None
        argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect}", "-o", "ServerAliveInterval=5",
                "-o", "ServerAliveCountMax=2", "-o", "ControlMaster=no", "-o", "ControlPath=none", *extra]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.identity_file:
            argv += ["-i", str(self.identity_file)]
        # the address as its own argument after "--": an IPv6 address needs no brackets, and nothing in it
        # can be read as an option
        return [*argv, "-l", self.user, "--", self.address, f"timeout {int(max(timeout, 1))} sudo -n /bin/sh -s"]

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        return run_bounded(self.command(timeout), script.encode("utf-8"), session_time(timeout, self.connect_timeout),
                           self.output_limit)

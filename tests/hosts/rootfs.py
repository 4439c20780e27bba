"""Debian root filesystem for test hosts: built once with debootstrap, cached, copied per host.

The image is keyed by a hash of everything that shapes it (suite, variant, mirror, package list and
the version of the post-processing below), built into a temporary directory beside the cache and
renamed into place atomically, so a crashed or concurrent build never leaves a half image behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("XZGOV_TEST_CACHE", "/var/cache/xzgov-tests"))

# The minimal set for "reachable over SSH and manageable by Ansible". Everything the roles need is
# installed by the roles themselves, through the runner-side apt proxy, exactly as in production.
BASE_PACKAGES: tuple[str, ...] = (
    "openssh-server",
    "python3",
    "systemd",
    "systemd-sysv",
    "dbus",
    "sudo",
    "iproute2",
)

# Bump when the post-processing in `_finish_image` changes, so old cached images are not reused.
_IMAGE_FORMAT = 2


@dataclass(frozen=True)
class RootfsSpec:
    """What a cached image is made of."""

    suite: str = "bookworm"
    variant: str = "minbase"
    mirror: str = "http://deb.debian.org/debian"
    security_mirror: str = "http://deb.debian.org/debian-security"
    packages: tuple[str, ...] = field(default=BASE_PACKAGES)

    def key(self) -> str:
        payload = json.dumps(
            {
                "suite": self.suite,
                "variant": self.variant,
                "mirror": self.mirror,
                "security": self.security_mirror,
                "packages": sorted(self.packages),
                "format": _IMAGE_FORMAT,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def _finish_image(root: Path, spec: RootfsSpec) -> None:
    """Make a fresh debootstrap tree a reusable host image (no identity baked in)."""
    (root / "etc/apt/sources.list").write_text(
        f"deb {spec.mirror} {spec.suite} main\n"
        f"deb {spec.mirror} {spec.suite}-updates main\n"
        f"deb {spec.security_mirror} {spec.suite}-security main\n"
    )
    # Each host gets its own machine-id and SSH host keys at boot / copy time.
    machine_id = root / "etc/machine-id"
    machine_id.write_text("")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # No package cache in the image: hosts fetch through the proxy.
    _run(["chroot", str(root), "apt-get", "clean"])
    # Keep the journal small and in memory: test hosts are short-lived.
    journald = root / "etc/systemd/journald.conf.d"
    journald.mkdir(parents=True, exist_ok=True)
    (journald / "xzgov-test.conf").write_text("[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n")
    (root / "etc/xzgov-test-image").write_text(json.dumps({"key": spec.key()}) + "\n")


def ensure_rootfs(spec: RootfsSpec | None = None, cache_root: Path = CACHE_ROOT) -> Path:
    """Return the path of the cached image for `spec`, building it with debootstrap if needed."""
    spec = spec or RootfsSpec()
    images = cache_root / "rootfs"
    images.mkdir(parents=True, exist_ok=True)
    final = images / spec.key()
    if (final / "etc/xzgov-test-image").is_file():
        return final
    # One builder at a time (parallel pytest sessions wait for the first one).
    with open(images / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "etc/xzgov-test-image").is_file():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{spec.key()}-", dir=images))
        tmp.chmod(0o755)  # becomes the hosts' "/": mkdtemp's 0700 would hide every path from users
        try:
            _run(
                [
                    "debootstrap",
                    f"--variant={spec.variant}",
                    f"--include={','.join(sorted(spec.packages))}",
                    spec.suite,
                    str(tmp),
                    spec.mirror,
                ],
                timeout=1800,
            )
            _finish_image(tmp, spec)
            if final.exists():  # a stale, unfinished image under the final name
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def copy_rootfs(image: Path, dest: Path) -> None:
    """Copy the image to `dest` (reflink where the filesystem can, a plain copy otherwise)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    _run(["cp", "--reflink=auto", "-a", str(image), str(dest)])


if __name__ == "__main__":  # pragma: no cover - manual warm-up: python -m tests.hosts.rootfs
    print(ensure_rootfs())

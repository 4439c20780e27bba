"""The service's offline wheelhouse: the xzgov wheel plus the wheels of what the service imports at run time.

The hosts of the crypto-service system have no package index (the role installs with ``--no-index``), so the
controller collects the wheels once. Only the service's run-time dependencies go in — not Pulumi, Ansible or
the report tooling the rest of xzgov needs — pinned to the versions the controller itself runs, so the service
on the host runs the code the tests ran. ``requirements.txt`` in the wheelhouse is what the role installs.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

# What `python -m xzgov.cryptosvc` imports (tests/cryptosvc/test_wheelhouse.py checks it); transitive
# dependencies are resolved by pip.
# psycopg (pure Python) uses the host's libpq5 (crypto_service_packages), for the PostgreSQL backend.
SERVICE_REQUIREMENTS: tuple[str, ...] = ("fastapi", "uvicorn", "cryptography", "cffi", "gmssl", "PyYAML", "psycopg")
# The hosts run Debian 12 (CPython 3.11, glibc 2.36).
TARGET_PYTHON = "3.11"
TARGET_PLATFORMS: tuple[str, ...] = ("manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64",
                                     "manylinux_2_17_x86_64")


class WheelhouseError(RuntimeError):
    """pip could not collect a wheel (message carries pip's last lines and what to do)."""


def pinned_requirements() -> list[str]:
    """``name==version`` for each service requirement, at the version installed here."""
    return [f"{name}=={metadata.version(name)}" for name in SERVICE_REQUIREMENTS]


def _pip(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise WheelhouseError(f"pip {args[0]} failed:\n{tail}\nCheck the package index is reachable "
                              "(PIP_INDEX_URL) or copy the wheels in by hand.")


def build_wheelhouse(directory: Path, source: Path) -> list[Path]:
    """Collect the xzgov wheel (built from ``source``) and the service's dependency wheels into ``directory``.

    Returns the wheel files. Writes ``requirements.txt`` (pinned) last, so a directory with one is complete.
    """
    directory.mkdir(parents=True, exist_ok=True)
    requirements = pinned_requirements()
    _pip(["wheel", "--quiet", "--no-deps", "--wheel-dir", str(directory), str(source)])
    platform_args = [arg for platform in TARGET_PLATFORMS for arg in ("--platform", platform)]
    _pip(["download", "--quiet", "--dest", str(directory), "--only-binary=:all:",
          "--python-version", TARGET_PYTHON, "--implementation", "cp", *platform_args, *requirements])
    (directory / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return sorted(directory.glob("*.whl"))

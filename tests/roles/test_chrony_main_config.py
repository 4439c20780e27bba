"""What time_sync and time_source leave of Debian 12's own /etc/chrony/chrony.conf (chrony 4.3-2+deb12u3,
tests/roles/fixtures/debian12-chrony.conf): the roles' replace tasks applied as ansible.builtin.replace applies them
(Python's re, MULTILINE). chrony keeps the last value of a directive and reads the main file's lines after its
confdir's files: a main-file line the roles leave wins over their drop-ins."""

from __future__ import annotations

import re
from pathlib import Path

from tests.roles.render import task

DEBIAN_CHRONY_CONF = (Path(__file__).parent / "fixtures" / "debian12-chrony.conf").read_text(encoding="utf-8")


def _replaced(role: str, name: str) -> str:
    replace = task(role, name)["ansible.builtin.replace"]
    return re.sub(replace["regexp"], replace["replace"], DEBIAN_CHRONY_CONF, flags=re.MULTILINE)


def _directives(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_time_sync_leaves_no_public_pool_and_no_makestep_of_its_own() -> None:
    """time_sync_makestep (its drop-in) had no effect: Debian's `makestep 1 3` comes after the confdir line."""
    kept = _directives(_replaced("time_sync", "PATCH | Drop the distribution's public pools"))
    assert "pool" not in kept and "makestep" not in kept and "confdir" in kept
    assert "# disabled by xzgov time_sync: makestep 1 3" in _replaced(
        "time_sync", "PATCH | Drop the distribution's public pools")
    assert "/run/chrony-dhcp" not in "\n".join(
        line for line in _replaced("time_sync", "PATCH | Drop the distribution's public pools").splitlines()
        if not line.startswith("#"))


def test_the_time_source_never_serves_the_public_pool() -> None:
    """time_source ran before time_sync and kept `pool 2.debian.pool.ntp.org`: the region's clock followed (and
    served) the public pool wherever time_sync was skipped (a review)."""
    text = _replaced("time_source", "PATCH | Drop the distribution's public pools")
    kept = _directives(text)
    assert "pool" not in kept and "server" not in kept and "peer" not in kept
    assert "sourcedir" in kept and "/run/chrony-dhcp" not in "\n".join(
        line for line in text.splitlines() if not line.startswith("#"))
    assert "makestep" in kept  # the time source sets none of its own: Debian's stays

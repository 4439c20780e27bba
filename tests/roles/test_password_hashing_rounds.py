"""os_hardening puts the level's yescrypt cost on pam_unix's line (rounds=), where Debian 12's pam_unix reads it.

Linux-PAM 1.5.2 reads ENCRYPT_METHOD and SHA_CRYPT_MAX_ROUNDS from login.defs but not YESCRYPT_COST_FACTOR: every
hardened host hashed new passwords at cost 5 (`$y$j9T$`, measured in the test rootfs with the factor 8 in
login.defs), below level 3's 8 and level 4's 10. The role's edit of the `unix` pam-configs profile is applied here
to Debian 12's own profile text, with the regular expression the replace module uses (MULTILINE).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.roles.render import ROLES, value

PAM_TASKS = ROLES / "os_hardening" / "tasks" / "pam_debian.yml"
#: /usr/share/pam-configs/unix of Debian 12 (libpam-runtime 1.5.2-6), the lines the edit may touch
UNIX_PROFILE = """Name: Unix authentication
Default: yes
Priority: 256
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_unix.so nullok try_first_pass
Auth-Initial:
\t[success=end default=ignore]\tpam_unix.so nullok
Password-Type: Primary
Password:
\t[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt
Password-Initial:
\t[success=end default=ignore]\tpam_unix.so obscure yescrypt
"""


def _task() -> dict[str, Any]:
    tasks: list[dict[str, Any]] = yaml.safe_load(PAM_TASKS.read_text(encoding="utf-8"))
    return next(t for t in tasks if "rounds= on pam_unix" in t["name"])["ansible.builtin.replace"]


def _edited(text: str, level: int) -> str:
    replace = _task()
    cost = value("os_hardening", "{{ os_hardening_yescrypt_cost | int }}", {"xzgov_level": level})
    return re.compile(replace["regexp"], re.MULTILINE).sub(
        replace["replace"].replace("{{ os_hardening_yescrypt_cost | int }}", str(cost)), text)


@pytest.mark.parametrize(("level", "cost"), [(1, 5), (2, 5), (3, 8), (4, 10)])
def test_the_password_lines_carry_the_levels_cost(level: int, cost: int) -> None:
    edited = _edited(UNIX_PROFILE, level)
    password = [line for line in edited.splitlines() if "yescrypt" in line]
    assert password == [f"\t[success=end default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt "
                        f"rounds={cost}", f"\t[success=end default=ignore]\tpam_unix.so obscure yescrypt rounds={cost}"]
    assert [line for line in edited.splitlines() if "yescrypt" not in line] == \
        [line for line in UNIX_PROFILE.splitlines() if "yescrypt" not in line]  # the auth lines untouched
    assert _edited(edited, level) == edited  # a second run changes nothing
    assert "rounds=5" not in _edited(_edited(UNIX_PROFILE, 1), 4)  # a level raised replaces the old cost


def test_the_stacks_are_regenerated_when_the_cost_is_missing() -> None:
    tasks: list[dict[str, Any]] = yaml.safe_load(PAM_TASKS.read_text(encoding="utf-8"))
    regenerate = next(t for t in tasks if t["name"].startswith("PATCH | Regenerate the PAM stacks"))
    assert "yescrypt rounds=" in regenerate["when"] and "os_hardening_yescrypt_cost" in regenerate["when"]

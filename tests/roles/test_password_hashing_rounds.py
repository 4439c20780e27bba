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


#: common-auth / common-password as pam-auth-update writes them from the role's profiles at level 3 (Debian 12)
HARDENED_STACKS = ("auth\trequisite\tpam_faillock.so preauth\n"
                   "auth\t[success=2 default=ignore]\tpam_unix.so try_first_pass\n"
                   "auth\t[default=die]\tpam_faillock.so authfail\n"
                   "password\trequisite\tpam_pwquality.so retry=3\n"
                   "password\trequired\tpam_pwhistory.so use_authtok enforce_for_root remember=5\n"
                   "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt "
                   "rounds=8\n")


def _gaps(text: str, level: int = 3) -> Any:
    return value("os_hardening", "{{ os_hardening_pam_gaps }}", {"xzgov_level": level, "os_hardening_pam_text": text})


@pytest.mark.parametrize(("text", "gaps"), [
    (HARDENED_STACKS, []),
    (HARDENED_STACKS.replace(" rounds=8", ""), ["pam_unix.so yescrypt rounds=8"]),
    (HARDENED_STACKS.replace("try_first_pass\n", "nullok try_first_pass\n", 1), ["no nullok on pam_unix.so"]),
    # stacks edited by hand, which pam-auth-update --package then leaves as they are (exit 0)
    ("auth required pam_tally2.so\n" + HARDENED_STACKS.replace("pam_faillock.so authfail", "pam_deny.so"),
     ["pam_faillock.so authfail"]),
    (HARDENED_STACKS.replace("pam_pwhistory.so", "pam_deny.so"), ["pam_pwhistory.so"]),
])
def test_what_the_stacks_lack_is_named(text: str, gaps: list[str]) -> None:
    assert _gaps(text) == gaps


def test_the_stacks_are_regenerated_when_something_is_missing_and_checked_after() -> None:
    """pam-auth-update exits 0 without writing when it finds hand-made lines in the stacks: the run ended green
    with no lockout in place. The stacks are read again after it and the same gaps fail the run."""
    tasks: list[dict[str, Any]] = yaml.safe_load(PAM_TASKS.read_text(encoding="utf-8"))
    names = [t.get("name", "") for t in tasks]
    regenerate = tasks[next(i for i, n in enumerate(names) if n.startswith("PATCH | Regenerate the PAM stacks"))]
    assert regenerate["when"] == "os_hardening_pam_gaps | length > 0"
    flush = names.index("Apply PAM profile changes now")
    check = next(i for i, n in enumerate(names) if n.startswith("AUDIT | The PAM stacks carry the hardening"))
    reread = next(i for i, n in enumerate(names) if n.startswith("AUDIT | Read the PAM stacks pam-auth-update wrote"))
    assert flush < reread < check
    assert tasks[check]["ansible.builtin.assert"]["that"] == "os_hardening_pam_gaps | length == 0"
    assert "os_hardening_pam_written" in tasks[check]["vars"]["os_hardening_pam_text"]


def test_the_package_profile_is_diverted_before_the_role_edits_it() -> None:
    """/usr/share/pam-configs/unix is no conffile: a libpam-runtime update replaced it and ran pam-auth-update,
    putting nullok back. The role diverts it (outside pam-configs, which pam-auth-update reads whole) first."""
    tasks: list[dict[str, Any]] = yaml.safe_load(PAM_TASKS.read_text(encoding="utf-8"))
    names = [t.get("name", "") for t in tasks]
    divert = next(i for i, n in enumerate(names) if "(dpkg-divert)" in n)
    first_edit = next(i for i, n in enumerate(names) if n.startswith("PATCH | No empty passwords"))
    assert divert < first_edit
    argv = tasks[divert]["ansible.builtin.command"]["argv"]
    assert argv[:3] == ["dpkg-divert", "--local", "--rename"]
    target = value("os_hardening", "{{ os_hardening_pam_unix_distrib }}",
                   {"xzgov_level": 3, **yaml.safe_load((PAM_TASKS.parents[1] / "vars/debian.yml").read_text())})
    assert target.startswith("/usr/") and not target.startswith("/usr/share/pam-configs/")

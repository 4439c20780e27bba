"""The idle timeout every interactive bash keeps, and su for the administrators' group only (os_hardening; no host
booted: the role's template is run by the local bash, the role's lineinfile task by Ansible's own module on a copy
of Debian 12's /etc/pam.d/su)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.roles.render import ROLES, assertion_holds, render, task, value

#: The head of Debian 12's /etc/pam.d/su (util-linux 2.38.1-5+deb12u3), up to the lines the role touches.
DEBIAN_SU = """#
# The PAM configuration file for the Shadow `su' service
#

# This allows root to su without passwords (normal operation)
auth       sufficient pam_rootok.so

# Uncomment this to force users to be a member of group wheel
# before they can use `su'. You can also add "group=foo"
# to the end of this line if you want to use a group other
# than the default "wheel" (but this may have side effect of
# denying "root" user, unless she's a member of "foo" or explicitly
# permitted earlier by e.g. "sufficient pam_rootok.so").
# (Replaces the `SU_WHEEL_ONLY' option from login.defs)
# auth       required   pam_wheel.so

# Uncomment this if you want wheel members to be able to
# su without a password.
# auth       sufficient pam_wheel.so trust

@include common-auth
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_a_shell_that_reads_no_profile_cannot_drop_the_idle_timeout(tmp_path: Path) -> None:
    """readonly is not inherited: a child interactive bash (or `ssh -t host bash`, which reads no profile) could
    unset TMOUT, and while it runs the login shell's own timeout never fires."""
    rc = tmp_path / "bash.bashrc"
    rc.write_text(value("os_hardening", "{{ os_hardening_tmout_block }}", {"xzgov_level": 3}), encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    child = subprocess.run(["bash", "--rcfile", str(rc), "-i", "-c", "unset TMOUT && echo unset"],
                           capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    assert "unset" not in child.stdout.split() and "readonly variable" in child.stderr, child
    shown = subprocess.run(["bash", "--rcfile", str(rc), "-i", "-c", "echo $TMOUT"], capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL)
    assert shown.stdout.split()[-1] == str(value("os_hardening", "{{ os_hardening_tmout }}", {"xzgov_level": 3}))
    # one text for the login shells' profile.d file and the bashrc block
    profile = render("os_hardening", "profile-session.sh.j2", {"xzgov_level": 3})
    assert rc.read_text(encoding="utf-8").strip() in profile
    block = task("os_hardening", "PATCH | Idle timeout in every interactive bash", "session.yml")
    assert block["ansible.builtin.blockinfile"]["block"] == "{{ os_hardening_tmout_block }}"
    for family, path in (("debian", "/etc/bash.bashrc"), ("redhat", "/etc/bashrc")):
        assert f"os_hardening_bashrc: {path}" in (ROLES / f"os_hardening/vars/{family}.yml").read_text(encoding="utf-8")


def test_su_is_for_the_administrators_group_only(tmp_path: Path) -> None:
    """Debian ships pam_wheel commented out: any local user could guess root's password through su without a lockout
    below level 4 (pam_faillock spares root there) — the audit and security administrators included (三员分立)."""
    entry = task("os_hardening", "PATCH | Only the administrators' group may use su", "accounts.yml")
    args = {key: value("os_hardening", item, {"xzgov_level": 3, "os_hardening_sudo_group": "sudo"})
            for key, item in entry["ansible.builtin.lineinfile"].items()}
    target = tmp_path / "su"
    target.write_text(DEBIAN_SU, encoding="utf-8")
    args["path"] = str(target)
    outputs = []
    for _ in range(2):
        run = subprocess.run([str(Path(os.sys.executable).parent / "ansible"), "localhost", "-c", "local",
                              "-m", "ansible.builtin.lineinfile", "-a", json.dumps(args)],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        outputs.append(run.stdout)
    lines = target.read_text(encoding="utf-8").splitlines()
    active = [line.split() for line in lines if line.startswith("auth")]
    assert active == [["auth", "sufficient", "pam_rootok.so"],
                      ["auth", "required", "pam_wheel.so", "use_uid", "group=sudo"]]
    assert "# auth       sufficient pam_wheel.so trust" in lines  # the other comment untouched
    assert "changed: false" in outputs[1] and "changed: true" in outputs[0]  # a second run changes nothing


@pytest.mark.parametrize(("days_since_change", "holds"), [(0, True), (60, True), (75, True), (76, False), (90, False),
                                                           (400, False)])
def test_the_operators_password_may_not_expire_before_the_next_run(days_since_change: int, holds: bool) -> None:
    """The guard checked only that the new ageing did not expire the operator's password today: it expired a few
    days later, between runs, and PAM refused the key logins' account phase and sudo (the automation locked out until
    someone used the console). It now fails while the password has PASS_WARN_AGE days or fewer left (level 3: 90,
    14)."""
    today = 20_000
    host = {"xzgov_level": 3, "ansible_facts": {"date_time": {"epoch": str(today * 86400 + 3600)}},
            "os_hardening_shadow": {"xzops": ["$y$j9T$salt$hash", str(today - days_since_change)]},
            "operator_guard_user": "xzops"}
    check = "AUDIT | The operator's password will not be expired by the new ageing policy"
    assert assertion_holds("os_hardening", check, host, "accounts.yml") is holds
    assert assertion_holds("os_hardening", check, {**host, "os_hardening_shadow": {"xzops": ["!", "0"]}},
                           "accounts.yml")  # no password: nothing expires

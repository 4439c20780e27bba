"""Pure checks of the directory roles (no booted host): the cn=config helper's password hashing and LDIF
encoding, argument specs covering every default, the sudoers the client writes, and site.yml's wiring."""

from __future__ import annotations

import base64
import importlib.machinery
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _helper() -> ModuleType:
    path = ROOT / "roles/directory/files/xzgov-ldap-ensure"
    loader = importlib.machinery.SourceFileLoader("xzgov_ldap_ensure", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_only_one_value_of_the_scheme_counts_as_hashed() -> None:
    helper = _helper()
    assert helper.hashed_by(["{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"], "{ARGON2}")
    assert helper.hashed_by(["{argon2}$argon2id$..."], "{ARGON2}")  # slapd matches schemes case-insensitively
    assert not helper.hashed_by(["{SSHA}cGFzc3dvcmRzYWx0"], "{ARGON2}")  # the old default is rehashed
    assert not helper.hashed_by(["{ARGON2}$a", "{ARGON2}$b"], "{ARGON2}")  # two passwords: replaced by one
    assert not helper.hashed_by([], "{ARGON2}")
    stored = "{ARGON2}$argon2i$v=19$m=32768,t=4,p=1$c2FsdA$aGFzaA"
    assert helper.hashed_by([stored], "{ARGON2}", "m=32768,t=4,p=1")
    assert not helper.hashed_by([stored], "{ARGON2}", "m=65536,t=4,p=1")  # a raised cost rehashes
    assert not helper.hashed_by([stored.replace("t=4", "t=44")], "{ARGON2}", "m=32768,t=4,p=1")


def test_the_module_loads_with_the_cost_the_helper_checks() -> None:
    variables = _yaml(ROOT / "roles/directory/vars/main.yml")
    env = jinja2.Environment(autoescape=False)
    module = env.from_string(variables["directory_password_hash_module"]).render(variables)
    cost = variables["directory_password_hash_cost"]
    assert module == "argon2 " + " ".join(cost.split(",")) == "argon2 m=32768 t=4 p=1"


def test_a_module_loaded_with_other_arguments_is_refused_with_the_way_to_change_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    """slapd cannot load the argon2 module twice: a changed cost stops the run with how to change it offline."""
    helper = _helper()
    assert helper.module_name("argon2.so m=32768 t=4 p=1") == helper.module_name("argon2") == "argon2"
    helper.refuse_reloading("cn=module{0},cn=config", ["back_mdb", "ppolicy", "argon2 m=32768 t=4 p=1"], [])
    helper.refuse_reloading("cn=module{0},cn=config", ["back_mdb"], ["ppolicy", "argon2 m=32768 t=4 p=1"])
    with pytest.raises(SystemExit) as stopped:
        helper.refuse_reloading("cn=module{0},cn=config", ["back_mdb", "ppolicy", "argon2 m=32768 t=4 p=1"],
                                ["argon2 m=65536 t=4 p=1"])
    assert stopped.value.code == 1
    message = capsys.readouterr().err
    assert "loads module argon2 as 'argon2 m=32768 t=4 p=1', not 'argon2 m=65536 t=4 p=1'" in message
    assert "slapmodify -n0" in message


def test_the_secret_file_is_private_exact_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = _helper()
    monkeypatch.setattr(helper.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(helper.os.path, "isdir", lambda path: False)  # not /run: the test's own directory
    with helper.secret_file("pässwörd ") as path:
        assert Path(path).parent == tmp_path
        assert Path(path).stat().st_mode & 0o777 == 0o600
        assert Path(path).read_bytes() == "pässwörd ".encode()  # the whole secret, no newline added
    assert not Path(path).exists()
    with pytest.raises(RuntimeError), helper.secret_file("x") as path:
        raise RuntimeError
    assert not Path(path).exists()  # removed on error too


def test_ldif_values_are_encoded_when_needed() -> None:
    helper = _helper()
    assert helper.ldif_value("cn", "sysadmin") == "cn: sysadmin"
    encoded = helper.ldif_value("description", "系统管理员")
    assert encoded.startswith("description:: ")
    assert base64.b64decode(encoded.split(":: ")[1]).decode() == "系统管理员"
    assert helper.ldif_value("x", " leading").startswith("x:: ")
    assert helper.norm(["{0}to * by self read", "{12}ppolicy", "plain"]) == ["to * by self read", "ppolicy", "plain"]


@pytest.mark.parametrize("role", ["directory", "directory_client"])
def test_every_default_has_an_argument_spec(role: str) -> None:
    defaults = _yaml(ROOT / "roles" / role / "defaults/main.yml")
    specs = _yaml(ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(set(defaults) - set(specs)) == []
    for name, value in defaults.items():
        assert specs[name]["default"] == value, name
    secret = [name for name in specs if "password" in name and not name.endswith(("_length", "_quality",
              "_history", "_failure", "_seconds", "_interval", "_days", "_level", "_change"))]
    assert secret and all(specs[name].get("no_log") for name in secret), secret


def test_tasks_carrying_secrets_are_no_log() -> None:
    for role in ("directory", "directory_client"):
        for task in _yaml(ROOT / "roles" / role / "tasks/main.yml"):
            for sub in task.get("block", [task]):
                text = yaml.safe_dump(sub)
                if "password_ops" in text or "sssd.conf.j2" in text:
                    assert sub.get("no_log") is True, sub["name"]


def _repository_filters(name: str) -> dict[str, object]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "plugins" / "filter" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.FilterModule().filters())


def test_sudoers_gives_each_role_its_own_commands() -> None:
    from ansible.plugins.filter.core import FilterModule

    defaults = _yaml(ROOT / "roles/directory_client/defaults/main.yml")
    rules = defaults["directory_client_sudo_rules"]
    assert rules["sysadmin"]["units"] == "{{ directory_client_sysadmin_units }}"  # resolved by Ansible
    rules["sysadmin"]["units"] = defaults["directory_client_sysadmin_units"]
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(FilterModule().filters())
    env.filters.update(_repository_filters("xzgov_sudoers"))  # ansible.cfg filter_plugins, as ansible-playbook has
    env.tests["match"] = lambda value, pattern: re.match(pattern, value) is not None
    text = env.from_string((ROOT / "roles/directory_client/templates/sudoers.j2").read_text()).render(
        directory_client_sudo_rules=defaults["directory_client_sudo_rules"], directory_client_sudo_nopasswd=False,
        directory_client_gbt="8.1", ansible_managed="managed")
    grants = dict(re.findall(r"^%(\w+) ALL=\(root\) (.*)$", text, re.M))
    # the audit administrator only through the read-only wrapper, which runs the reader NOEXEC itself (a NOEXEC
    # rule would stop the wrapper from starting it)
    assert grants == {"sysadmin": "XZGOV_SYSADMIN", "auditadmin": "XZGOV_AUDITADMIN", "secadmin": "XZGOV_SECADMIN"}
    aliases = dict(re.findall(r"^Cmnd_Alias (\w+) = (.*)$", text, re.M))
    assert aliases["XZGOV_AUDITADMIN"] == "/usr/local/sbin/xzgov-audit-read *"
    assert "systemctl restart" not in aliases["XZGOV_AUDITADMIN"]
    assert "journalctl" not in aliases["XZGOV_SYSADMIN"] and "journalctl" not in aliases["XZGOV_SECADMIN"]
    assert "ALL" not in " ".join(aliases.values()).split(", ")
    assert "/usr/bin/systemctl restart cron.service" in aliases["XZGOV_SYSADMIN"]


def test_site_yml_joins_hosts_and_the_zone_deploys_the_directory() -> None:
    site = _yaml(ROOT / "site.yml")
    roles = [r["role"] for r in next(p for p in site if "level1" in str(p.get("hosts", "")))["roles"]]
    assert roles.index("directory_client") > roles.index("ssh_hardening")
    plays = _yaml(ROOT / "playbooks/security_management.yml")
    directory = next(p for p in plays if p["hosts"] == "secmgmt_directory")
    assert directory["roles"] == [{"role": "directory"}]
    tasks = _yaml(ROOT / "roles/directory_client/tasks/main.yml")
    # no directory named: nothing happens — every top-level task (the join, and the warning for a host the role
    # does not support) runs only where a directory URI is set
    guarded = [t for t in tasks if "block" in t or "ansible.builtin.debug" in t]
    assert len(guarded) == 2 and all(t["when"][0] == "directory_client_uri | length > 0" for t in guarded)


def test_sssd_filters_the_local_accounts_and_groups_out() -> None:
    """A directory entry named like a local account (the break-glass operator) is never taken, nor its SSH keys:
    filter_users / filter_groups name root and every local account and group the run read (getent -s files)."""
    from tests.roles.render import render
    read = {"results": [
        {"item": "passwd", "ansible_facts": {"getent_passwd": {"root": ["x"], "xzops": ["x"], "daemon": ["x"]}}},
        {"item": "group", "ansible_facts": {"getent_group": {"root": ["x"], "sudo": ["x"], "xzops": ["x"]}}}]}
    host = {"xzgov_level": 3, "directory_client_uri": "ldaps://directory.xzgov.test",
            "directory_client_bind_password": "reader-pw", "directory_client_local": read}
    conf = render("directory_client", "sssd.conf.j2", host)
    assert "\nfilter_users = daemon, root, xzops\n" in conf
    assert "\nfilter_groups = root, sudo, xzops\n" in conf
    # nothing read (a --check run that never reached the task): root still filtered
    bare = render("directory_client", "sssd.conf.j2", {**host, "directory_client_local": {"results": []}})
    assert "\nfilter_users = root\n" in bare and "\nfilter_groups = root\n" in bare


def test_directory_accounts_log_in_only_in_a_role_and_unlocked() -> None:
    """Who may log in is checked for key logins too: SSSD's access filter refuses the administrative lock, the
    PAM account profile the accounts from min_id on outside the three role groups (local accounts skip it)."""
    from tests.roles.render import render
    host = {"xzgov_level": 3, "directory_client_uri": "ldaps://directory.xzgov.test",
            "directory_client_bind_password": "reader-pw"}
    conf = render("directory_client", "sssd.conf.j2", host)
    assert "\naccess_provider = ldap\nldap_access_order = filter\n" in conf
    assert "\nldap_access_filter = (!(pwdAccountLockedTime=000001010000Z))\n" in conf
    assert "simple_allow_groups" not in conf
    profile = render("directory_client", "xzgov-directory-access.j2", host).splitlines()
    assert "Account-Type: Additional" in profile
    account = [line.split("\t") for line in profile if line.startswith("\t")]
    assert account == [["", "[success=1 default=ignore]", "pam_succeed_if.so quiet uid < 10000"],
                       ["", "requisite", "pam_succeed_if.so quiet user ingroup sysadmin:auditadmin:secadmin"]]
    # the reader sees the lock (the filter needs it), and nothing else of the policy state
    config = next(t for t in _yaml(ROOT / "roles/directory/tasks/main.yml")
                  if str(t.get("name", "")).startswith("PATCH | cn=config"))
    access = next(op for op in config["vars"]["directory_config_ops"] if "olcAccess" in op.get("replace", {}))
    rules = access["replace"]["olcAccess"]
    assert rules[2] == ('{2}to attrs=pwdAccountLockedTime by self read by dn.exact="{{ directory_reader_dn }}" read '
                        "by * none")
    assert "reader" not in rules[3] and "pwdFailureTime" in rules[3]


#: Debian 12's common-account as pam-auth-update writes it with libpam-sss 2.8.2's profile (its Additional block)
#: and the role's xzgov-directory-access profile (priority 0: last); os_hardening's faillock line first
COMMON_ACCOUNT = """# /etc/pam.d/common-account - authorization settings common to all services
account\trequired\t\t\tpam_faillock.so
account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so
account\trequisite\t\t\tpam_deny.so
account\trequired\t\t\tpam_permit.so
account\tsufficient\t\t\tpam_localuser.so
account\t[default=bad success=ok user_unknown=ignore]\tpam_sss.so
{profile}# end of pam-auth-update config
"""
DEBIAN_SSHD_PAM = "@include common-auth\naccount    required     pam_nologin.so\n@include common-account\n"


def _gather_directory(root: Path) -> dict[str, Any]:
    """The live scan's directory_client section run over ``root`` (its /etc/sssd and /etc/pam.d), parsed."""
    import subprocess

    from xzgov.facts.host_parsers import directory_client
    from xzgov.facts.host_script import _SECTIONS, Section

    command = dict(_SECTIONS)["directory_client"].replace("/etc/sssd", f"{root}/sssd").replace(
        "/etc/pam.d", f"{root}/pam.d")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False).stdout
    return directory_client({"directory_client": Section(out, 0)})


@pytest.mark.parametrize("level", [2, 3, 4])
def test_the_roles_own_files_pass_the_directory_rule_through_the_real_gather(tmp_path: Path, level: int) -> None:
    """sssd.conf and the PAM profile as the role renders them, read by the scan's own shell section: the rule's
    account-stack and domain checks pass them (the rule once failed every host the role enrolled)."""
    from policies.rules.host_hardening import _directory_login_groups
    from tests.roles.render import render

    host = {"xzgov_level": level, "directory_client_uri": "ldaps://directory.xzgov.test",
            "directory_client_bind_password": "reader-pw"}
    (tmp_path / "sssd/conf.d").mkdir(parents=True)
    (tmp_path / "pam.d").mkdir()
    (tmp_path / "sssd/sssd.conf").write_text(render("directory_client", "sssd.conf.j2", host), encoding="utf-8")
    profile = render("directory_client", "xzgov-directory-access.j2", host)
    account = "".join(f"account{line}\n" for line in profile.splitlines() if line.startswith("\t"))
    (tmp_path / "pam.d/common-account").write_text(COMMON_ACCOUNT.format(profile=account), encoding="utf-8")
    (tmp_path / "pam.d/sshd").write_text(DEBIAN_SSHD_PAM, encoding="utf-8")
    (tmp_path / "pam.d/common-auth").write_text("auth\trequired\tpam_faillock.so preauth\n", encoding="utf-8")
    client = _gather_directory(tmp_path)
    assert "reader-pw" not in str(client)
    groups, problems = _directory_login_groups(client)
    assert (groups, problems) == ({"sysadmin", "auditadmin", "secadmin"}, [])
    # lines PAM reads that a case-sensitive, line-by-line grep missed (a review): the type in capitals, a line
    # continued after a backslash, an include of a file whose name has a colon
    written = (tmp_path / "pam.d/common-account").read_text(encoding="utf-8")
    for extra in ("ACCOUNT sufficient pam_permit.so\n", "account \\\n   sufficient pam_permit.so\n",
                  "account include x:y\n"):
        (tmp_path / "pam.d/x:y").write_text("account sufficient pam_permit.so\n", encoding="utf-8")
        (tmp_path / "pam.d/common-account").write_text(extra + written, encoding="utf-8")
        assert any("role groups" in p for p in _directory_login_groups(_gather_directory(tmp_path))[1]), extra
    (tmp_path / "pam.d/common-account").write_text(written, encoding="utf-8")
    assert _directory_login_groups(_gather_directory(tmp_path))[1] == []
    # the same files with a snippet that permits everyone: the later value wins, whatever its case
    (tmp_path / "sssd/conf.d/50-local.conf").write_text("[domain/xzgov]\nACCESS_PROVIDER = permit\n",
                                                        encoding="utf-8")
    assert any("locked operator" in p for p in _directory_login_groups(_gather_directory(tmp_path))[1])


def test_the_run_fails_when_pam_auth_update_left_the_stack_without_the_role_groups() -> None:
    """pam-auth-update exits 0 without writing a hand-edited stack: the run read nothing back and ended green while
    every unlocked directory user could log in (a review)."""
    import base64 as b64

    from tests.roles.render import assertion_holds

    line = "account\trequisite\tpam_succeed_if.so quiet user ingroup sysadmin:auditadmin:secadmin \n"

    def holds(text: str) -> bool:
        written = {"content": b64.b64encode(text.encode()).decode()}
        return assertion_holds("directory_client", "AUDIT | The role-group line is in /etc/pam.d/common-account",
                               {"xzgov_level": 3, "directory_client_account_written": written})

    assert holds(COMMON_ACCOUNT.format(profile=line))
    assert not holds(COMMON_ACCOUNT.format(profile=""))
    assert not holds(COMMON_ACCOUNT.format(profile=line.replace(":secadmin", ":secadmin:wheel")))
    assert not holds(COMMON_ACCOUNT.format(profile=line.replace("requisite", "sufficient")))

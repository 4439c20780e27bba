"""Host rules over parsed gather output: a hardened host passes, an unhardened one fails each rule;
the gather script itself runs (here, locally) and its output parses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policies.engine import Facts, Point, Status, run_rules
from policies.registry import RULES_BY_ID, rules_for_point
from tests.secmgmt.log_centre_sample import centre_section, client_tls_section
from xzgov.facts.baseline import CRON_ALLOW_FILES, CRON_PATHS, FILE_MODES, KERNEL_SYSCTL_EXPECTED, SYSCTL_EXPECTED
from xzgov.facts.host import (
    GATHER_SCRIPT,
    HostTarget,
    LocalTransport,
    Section,
    gather_host_facts,
    parse_rsyslog,
    parse_sections,
    split_sections,
)
from xzgov.facts.host_parsers import chrony_selected, chrony_tracking, shell_timeout

HARDENED: dict[str, str] = {
    "whoami": "0",
    "sshd": "\n".join([
        "permitrootlogin no", "permitemptypasswords no", "hostbasedauthentication no", "x11forwarding no",
        "ignorerhosts yes", "maxauthtries 3", "clientaliveinterval 300", "clientalivecountmax 2",
        "ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com",
        "macs hmac-sha2-512-etm@openssh.com", "kexalgorithms curve25519-sha256",
    ]),
    "faillock_conf": "deny = 5\nunlock_time = 900\n",
    "pam_auth": "auth required pam_faillock.so preauth\nauth [success=1 default=bad] pam_unix.so\n"
                "auth [default=die] pam_faillock.so authfail\naccount required pam_faillock.so\n",
    "pam_password": "password requisite pam_pwquality.so retry=3\n"
                    "password [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt "
                    "rounds=8",
    "pwquality": "minlen = 12\nminclass = 3\n",
    "login_defs": "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7",
    "tmout": "/etc/profile.d/99-tmout.sh:readonly TMOUT=600\n/etc/profile.d/99-tmout.sh:export TMOUT",
    "auditd_active": "active",
    "auditctl_rules": "\n".join([
        "-w /etc/passwd -p wa -k identity", "-w /etc/shadow -p wa -k identity", "-w /etc/sudoers -p wa -k scope",
        "-w /var/log/lastlog -p wa -k logins", "-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time",
        "-a always,exit -F arch=b64 -S execve -F euid=0 -k privileged", "-w /etc/audit/ -p wa -k auditconfig",
    ]),
    "auditctl_status": "enabled 2\nfailure 1",
    "audit_dir": "700 root root /var/log/audit\n600 root root /var/log/audit/audit.log",
    "auditd_conf": "max_log_file_action = keep_logs\nspace_left_action = email\ndisk_full_action = halt\n"
                   "disk_error_action = halt",
    "syslog_active": "rsyslog active\nsyslog-ng inactive",
    "rsyslog_conf": 'global(DefaultNetstreamDriver="gtls")\naction(type="omfwd" target="10.69.1.10" port="6514"\n'
                    '  protocol="tcp" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name")',
    "time_active": "chrony active\nchronyd inactive\nsystemd-timesyncd inactive",
    "chrony_conf": "server 10.69.0.123 iburst\nserver 10.69.0.124 iburst",
    "timesyncd_conf": "",
    "ntp_synchronized": "yes",
    "services_enabled": "ssh.service enabled enabled\nrsyslog.service enabled enabled",
    "services_active": "ssh.service loaded active running OpenSSH",
    "stat": "\n".join(f"{'0' if path != '/etc/passwd' and path != '/etc/group' else '644'} root "
                      f"{'shadow' if 'shadow' in path else 'root'} {path}" for path in FILE_MODES),
    "sysctl": "\n".join(f"{key} = {values[0]}" for key, values in SYSCTL_EXPECTED.items()),
}
UNHARDENED: dict[str, str] = {
    "whoami": "0",
    "sshd": "permitrootlogin yes\npermitemptypasswords no\nx11forwarding yes\nmaxauthtries 6\n"
            "clientaliveinterval 0\nclientalivecountmax 3\nciphers aes128-cbc,aes256-ctr",
    "pam_auth": "auth [success=1 default=ignore] pam_unix.so nullok",
    "pam_password": "password [success=1 default=ignore] pam_unix.so obscure yescrypt",
    "login_defs": "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0",
    "tmout": "",
    "auditd_active": "inactive",
    "syslog_active": "rsyslog inactive\nsyslog-ng inactive",
    "time_active": "chrony inactive\nsystemd-timesyncd inactive",
    "services_enabled": "ssh.service enabled enabled\ncups.service enabled enabled\nrpcbind.socket enabled enabled",
    "services_active": "ssh.service loaded active running OpenSSH",
    "stat": "644 root root /etc/passwd\n644 root root /etc/shadow\n644 root root /etc/ssh/sshd_config",
    "sysctl": "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.accept_redirects = 1",
}
# Hardening depth (issue 17, policies/rules/host_hardening.py).
HARDENED["sshd"] += ("\nmaxsessions 4\nallowtcpforwarding no\nallowagentforwarding no\n"
                     "allowstreamlocalforwarding no\npermittunnel no\ngatewayports no")
HARDENED.update({
    "kernel_params": "container no\n" + "\n".join(f"live {key} = {values[0]}"
                                                   for key, values in KERNEL_SYSCTL_EXPECTED.items()),
    "login_defs_hashing": "ENCRYPT_METHOD\tYESCRYPT\nYESCRYPT_COST_FACTOR\t8",
    "cron_stat": "\n".join(f"{'600' if path in CRON_ALLOW_FILES or path == '/etc/crontab' else '700'} root root "
                           f"{path}" for path in CRON_PATHS) + "\nallow /etc/cron.allow root\nallow /etc/at.allow root",
    "login_banner": "/etc/issue 1\n/etc/issue.net 1",
    "security_updates": "source Suites: bookworm-security\nconfig U='1'\nconfig R='true'\nconfig T='03:30'\n"
                        "config L='1'\n"
                        "installed install ok installed\ntimer apt-daily-upgrade.timer enabled\n"
                        "timer apt-daily.timer enabled\npending 0",
    "mandatory_access": "lsm Y\nparser yes\ncompiles usr.sbin.chronyd\ncompiles usr.sbin.rsyslogd\n"
                        "compiles usr.sbin.sshd\nloaded /usr/sbin/chronyd (enforce)\nloaded rsyslogd (enforce)\n"
                        "loaded xzgov-sshd (complain)",
    "listening": "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\ntcp LISTEN 0 128 [::]:22 [::]:*\n"
                 "udp UNCONN 0 0 127.0.0.1:323 0.0.0.0:*\nudp UNCONN 0 0 [::1]:323 [::]:*",
    "anti_malware": "scanner yes\nunit xzgov-malware-scan.timer enabled\nunit clamav-freshclam.service enabled\n"
                    "mirror PrivateMirror http://clamav.xzgov.internal\ndb 1 /var/lib/clamav/daily.cvd\n"
                    "db 3 /var/lib/clamav/main.cvd\ndb 0 /var/lib/clamav/xzgov-local.hdb",
    "file_integrity": "aide yes\ndb 0 /var/lib/aide/xzgov-aide.db\nunit xzgov-aide-check.timer enabled\n"
                      "check Result=success\ncheck ExecMainStatus=0\ncheck ExecMainExitTimestamp=Mon 2026-11-30\n"
                      "alert yes\nreport report_url=stdout",
    "mounts": "container no\nlive /proc proc rw,nosuid,nodev,noexec,relatime,gid=997,hidepid=invisible\n"
              "live /dev/shm tmpfs rw,nosuid,nodev,noexec\nlive /tmp tmpfs rw,nosuid,nodev\n"
              "fstab proc /proc proc defaults,hidepid=invisible,gid=997\n"
              "fstab tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec\n"
              "fstab tmpfs /tmp tmpfs mode=1777,nodev,nosuid\ngroup xzgov-procmon 997\n"
              "tmpfiles D /tmp -\ntmpfiles D /var/tmp 10d",
})
UNHARDENED.update({
    "kernel_params": "container no\nlive kernel.kptr_restrict = 0\nabsent kernel.sysrq",
    "login_defs_hashing": "ENCRYPT_METHOD SHA512",
    "cron_stat": "755 root root /etc/cron.d\n644 root root /etc/crontab",
    "login_banner": "/etc/issue 0\n/etc/issue.net 0",
    "security_updates": "pending 3",
    "mandatory_access": "lsm absent\nmissing usr.sbin.chronyd",
    "listening": "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\ntcp LISTEN 0 5 0.0.0.0:23 0.0.0.0:*",
    "anti_malware": "unit xzgov-malware-scan.timer \nunit clamav-freshclam.service ",
    "file_integrity": "unit xzgov-aide-check.timer \nunit dailyaidecheck.timer ",
    "mounts": "container no\nlive /proc proc rw,relatime\nlive /dev/shm tmpfs rw,nosuid,nodev\n"
              "fstab UUID=1234 none swap sw\nswap /dev/vda3 partition\ntmpfiles D /tmp -",
})
# Operator directory (issue 15, XZ-HOST-DIRECTORY): output of a host joined by roles/directory_client.
#: Debian 12's /etc/pam.d/sshd and common-account as pam-auth-update writes them with os_hardening's faillock,
#: libpam-sss 2.8's profile and directory_client's xzgov-directory-access (only account and include lines)
PAM_ACCOUNT = [
    "pamfile common-auth", "pamfile common-account", "pamfile common-session", "pamfile common-password",
    "pamfile sshd", "pamfile other",
    "pamline common-account account\trequired\t\t\tpam_faillock.so",
    "pamline common-account account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so ",
    "pamline common-account account\trequisite\t\t\tpam_deny.so",
    "pamline common-account account\trequired\t\t\tpam_permit.so",
    "pamline common-account account\tsufficient\t\t\tpam_localuser.so ",
    "pamline common-account account\t[default=bad success=ok user_unknown=ignore]\tpam_sss.so ",
    "pamline common-account account\t[success=1 default=ignore]\tpam_succeed_if.so quiet uid < 10000",
    "pamline common-account account\trequisite\tpam_succeed_if.so quiet user ingroup "
    "sysadmin:auditadmin:secadmin",
    "pamline other @include common-auth", "pamline other @include common-account",
    "pamline sshd @include common-auth", "pamline sshd account    required     pam_nologin.so",
    "pamline sshd @include common-account", "pamline sshd @include common-session",
]
HARDENED["directory_client"] = "\n".join([
    "sssd active", "conf 600 root root /etc/sssd/sssd.conf", "section [sssd]", "option domains = xzgov",
    "section [domain/xzgov]", "option id_provider = ldap", "option auth_provider = ldap",
    "option access_provider = ldap", "option ldap_access_order = filter",
    "option ldap_access_filter = (!(pwdAccountLockedTime=000001010000Z))", "option ldap_uri = ldaps://directory01:636",
    "option ldap_tls_reqcert = demand", "option ldap_tls_cacert = /etc/sssd/xzgov-directory-ca.pem",
    "option min_id = 10000", *PAM_ACCOUNT,
    "cacert present", "nss passwd:         files systemd sss", "nss group:          files systemd sss", "pam sss",
    "sudoers 440 root root /etc/sudoers.d/xzgov-directory-roles",
    r"rule Cmnd_Alias XZGOV_SYSADMIN = /usr/bin/systemctl start *, /usr/sbin/reboot",
    "rule %sysadmin ALL=(root) XZGOV_SYSADMIN",
    "rule Cmnd_Alias XZGOV_AUDITADMIN = /usr/bin/journalctl, /usr/sbin/ausearch",
    "rule %auditadmin ALL=(root) NOEXEC: XZGOV_AUDITADMIN",
    "rule Cmnd_Alias XZGOV_SECADMIN = /usr/sbin/nft list ruleset, /usr/sbin/aa-status",
    "rule %secadmin ALL=(root) XZGOV_SECADMIN",
    "sshd authorizedkeyscommand /usr/bin/sss_ssh_authorizedkeys %u", "sshd authorizedkeyscommanduser nobody",
])
# Joined by hand: plain LDAP, no certificate check, every directory user may log in, one group with sudo ALL.
UNHARDENED["directory_client"] = "\n".join([
    "sssd active", "conf 644 root root /etc/sssd/sssd.conf", "option id_provider = ldap",
    "option ldap_uri = ldap://10.69.3.10", "option ldap_tls_reqcert = never", "nss passwd: files sss",
    "sudoers 644 root root /etc/sudoers.d/xzgov-directory-roles", "rule %sysadmin ALL=(ALL:ALL) ALL",
    "sshd authorizedkeyscommand none",
])
# The log centre itself (issue 15, XZ-HOST-LOG-CENTRE): one sealing daily with a signed head, and one keeping
# 30 days with its sealing timer off.
HARDENED["log_centre"] = centre_section()
HARDENED["log_tls"] = client_tls_section()  # XZ-HOST-LOG-MTLS: a client certificate of the region's CA
UNHARDENED["log_tls"] = client_tls_section(with_cert=False)
UNHARDENED["log_centre"] = ("receiver yes\nsealer yes\ntoday 2026-01-01\narg --retention-days 30\n"
                            "timer disabled inactive\n")
# Kernel command line (issue 17, XZ-HOST-KERNEL-CMDLINE): a VM booted with the parameters, and one without them.
HARDENED["kernel_cmdline"] = ("container no\ncmdline BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=/dev/vda1 ro "
                              "init_on_free=1 init_on_alloc=1\n"
                              'grub GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }init_on_free=1 '
                              'init_on_alloc=1"')
UNHARDENED["kernel_cmdline"] = ("container no\ncmdline BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=/dev/vda1 ro "
                                'quiet\nbuild CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y\ngrub GRUB_CMDLINE_LINUX=""')
# Real `nft -j list ruleset` output: a ruleset shaped as roles/firewall writes it, and Debian 12's default
# /etc/nftables.conf (accept policies) (XZ-HOST-STATEFUL-FILTER, tests/policies/test_stateful_filter.py).
_NFT = Path(__file__).resolve().parent / "data"
HARDENED["nftables"] = (_NFT / "nft-ruleset-hardened.json").read_text(encoding="utf-8")
UNHARDENED["nftables"] = (_NFT / "nft-ruleset-debian-default.json").read_text(encoding="utf-8")
CONTEXT = {"hostname": "h1", "time_sources": ["10.69.0.123", "10.69.0.124"],
           "log_servers": [{"host": "10.69.1.10", "port": 6514, "protocol": "tcp+tls"}],
           "directory_uri": "ldaps://directory01:636"}


def _facts(raw: dict[str, str]) -> Facts:
    values, _missing = parse_sections({name: Section(text, 0) for name, text in raw.items()})
    values["host"] = CONTEXT
    return Facts("sys", Point.HOST, values, {}, "2026-01-01T00:00:00Z", "h1", level=3)


def test_hardened_host_passes_every_host_rule() -> None:
    results = run_rules(rules_for_point(Point.HOST), _facts(HARDENED))
    assert {r.rule_id for r in results} == {rule.id for rule in rules_for_point(Point.HOST)}
    assert [(r.rule_id, r.message) for r in results if r.status is not Status.PASS] == []


def test_unhardened_host_fails_every_host_rule() -> None:
    results = run_rules(rules_for_point(Point.HOST), _facts(UNHARDENED))
    not_failing = [(r.rule_id, r.status, r.message) for r in results if r.status is not Status.FAIL]
    assert not_failing == []
    assert {r.rule_id for r in results} == {rule.id for rule in rules_for_point(Point.HOST)}


def test_rsyslog_parsing() -> None:
    legacy = ("$DefaultNetstreamDriver gtls\n$ActionSendStreamDriverMode 1\n$ActionSendStreamDriverAuthMode x509/name\n"
              "*.* @@10.69.1.10:6514\n*.* @10.0.0.9")
    assert parse_rsyslog(legacy) == [
        {"host": "10.69.1.10", "port": 6514, "protocol": "tcp", "tls": True, "encrypted": True,
         "auth_mode": "x509/name"},
        {"host": "10.0.0.9", "port": 514, "protocol": "udp", "tls": False, "encrypted": False,
         "auth_mode": "x509/name"},
    ]
    # without an auth mode rsyslog encrypts to whoever answers (anon): not forwarding to the log centre over TLS
    anonymous = parse_rsyslog(legacy.replace("$ActionSendStreamDriverAuthMode x509/name\n", ""))[0]
    assert (anonymous["tls"], anonymous["encrypted"], anonymous["auth_mode"]) == (False, True, "anon")
    plain = 'action(type="omfwd" target="10.69.1.10" port="6514" protocol="tcp")'
    assert parse_rsyslog(plain)[0]["tls"] is False


TLS_ACTION = ('action(type="omfwd" target="10.69.1.10" port="6514" protocol="tcp" StreamDriver="gtls" '
              'StreamDriverMode="1" StreamDriverAuthMode="x509/name"{extra})')


@pytest.mark.parametrize(("text", "forwarded"), [
    (TLS_ACTION.format(extra=""), True),
    (TLS_ACTION.format(extra=' config.enabled="on"'), True),
    ("/* " + TLS_ACTION.format(extra="") + " */", False),  # a block comment: rsyslog never sees it
    ("/*\n * old:\n" + TLS_ACTION.format(extra="") + "\n */\n", False),
    (TLS_ACTION.format(extra=' config.enabled="off"'), False),  # rsyslog 8.33+: anything but "on" disables it
    (TLS_ACTION.format(extra=' config.enabled="no"'), False),
])
def test_what_rsyslog_ignores_forwards_nothing(text: str, forwarded: bool) -> None:
    # both passed XZ-HOST-LOG-FORWARD as "forwarded over TLS"
    assert bool(parse_rsyslog(text)) is forwarded


@pytest.mark.parametrize(("never", "after", "passes"), [
    ("-a never,task", False, False),  # an old default audit.rules: no task is audited at all
    ("-a never,exit -F arch=b64 -S execve", False, False),  # before the execve rule: privileged commands unseen
    ("-a never,exit -F arch=b64 -S execve", True, True),  # after it: the execve rule matched first
    ("-a never,exit -F arch=b64 -S adjtimex -F auid=unset -F uid=chrony", False, True),  # noise reduction only
    ("-a never,exit -F arch=b64 -S mount", False, True),  # another system call
    # `auditctl -l` prints an all-system-call rule as `-S all`: it stops every rule after it, watches included
    ("-a never,exit -F arch=b64 -S all\n-a never,exit -F arch=b32 -S all", False, False),
    ("-a never,exit -S all", False, False),
    ("-a never,exit -F arch=b32 -S execve", False, True),  # the 32-bit calls only: the b64 rules still record
])
def test_a_never_rule_that_stops_the_rules_after_it_is_seen(never: str, after: bool, passes: bool) -> None:
    # XZ-HOST-AUDIT-RULES matched its needles anywhere in `auditctl -l` and passed with `-a never,task` loaded
    rules = HARDENED["auditctl_rules"].splitlines()
    loaded = [*rules, *never.splitlines()] if after else [*never.splitlines(), *rules]
    facts = _facts({**HARDENED, "auditctl_rules": "\n".join(loaded)})
    result = run_rules([RULES_BY_ID["XZ-HOST-AUDIT-RULES"]], facts)[0]
    assert (result.status is Status.PASS) is passes, result.message


def test_one_narrowed_all_call_rule_covers_nothing() -> None:
    """The second reading: `-S all` narrowed to pid 1 (or one program) counted for every category at once."""
    for narrowed in ("-a always,exit -F arch=b64 -S all -F pid=1 -F key=x",
                     "-a always,exit -F arch=b64 -S all -F exe=/usr/bin/true"):
        facts = _facts({**HARDENED, "auditctl_rules": narrowed})
        assert run_rules([RULES_BY_ID["XZ-HOST-AUDIT-RULES"]], facts)[0].status is Status.FAIL, narrowed
    everything = _facts({**HARDENED, "auditctl_rules": "-a always,exit -F arch=b64 -S all -F key=all"})
    assert run_rules([RULES_BY_ID["XZ-HOST-AUDIT-RULES"]], everything)[0].status is Status.PASS


@pytest.mark.parametrize(("replaced", "by", "passes"), [
    ("-w /etc/passwd -p wa -k identity", "-w /etc/passwd -p r -k identity", True),  # /etc/shadow still watched
    ("-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers -p r -k scope", False),  # reads only: no change recorded
    ("-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers- -p wa -k scope", False),  # visudo's backup, another file
    ("-w /etc/sudoers -p wa -k scope", "-w /tmp -p wa -k /etc/sudoers", False),  # a key names no file
    ("-w /etc/sudoers -p wa -k scope", "-w /etc/sudoers -k scope", True),  # no -p: every permission
    ("-w /etc/sudoers -p wa -k scope", "-w /etc/ -p wa -k etc", True),  # a directory watch covers what is under it
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F arch=b64 -S all -F path=/etc/sudoers -F perm=wa", True),
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -F success=0", False),
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -F success!=0", True),
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers.d -F perm=wa", False),
    ("-w /etc/sudoers -p wa -k scope", "-a never,exit -F path=/etc/sudoers -F perm=wa", False),
    ("-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time", "-w /etc/localtime -p wa -k time", True),
    ("-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time", "-w /etc/localtime -p r -k adjtimex", False),
    ("-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time",
     "-a always,exit -F arch=b64 -S adjtimex -F exit=-EPERM -k time", False),  # failed calls only
    ("-a always,exit -F arch=b64 -S execve -F euid=0 -k privileged", "-w /usr/bin/sudo -p x -k privileged", True),
    ("-a always,exit -F arch=b64 -S execve -F euid=0 -k privileged", "-w /usr/bin/sudo -p wa -k execve", False),
    ("-a always,exit -F arch=b64 -S execve -F euid=0 -k privileged",
     "-a always,exit -F path=/usr/bin/su -F perm=x -F auid>=1000 -F auid!=unset -k privileged", True),
    ("-w /etc/audit/ -p wa -k auditconfig", "-w /etc/audit -p wa -k auditconfig", True),
    ("-w /etc/audit/ -p wa -k auditconfig", "-w /etc/audit/auditd.conf -p wa -k auditconfig", False),
    # a second reading: filters that narrow a rule to some processes or to failures
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -F uid=4242", False),
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -F exit<0", False),
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -F success!=1", False),
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -F exit!=-EPERM", True),
    ("-w /etc/sudoers -p wa -k scope",
     "-a always,exit -F path=/etc/sudoers -F perm=wa -F auid>=1000 -F auid!=-1 -F key=scope", False),  # root's own
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -C uid!=euid", False),
    ("-w /etc/sudoers -p wa -k scope", "-a always,exit -F path=/etc/sudoers -F perm=wa -F uid=0", False),
    ("-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time",
     "-a always,exit -F arch=b64 -S adjtimex,settimeofday -C uid!=euid -k time", False),
    ("-a always,exit -F arch=b64 -S execve -F euid=0 -k privileged",
     "-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged", True),
    ("-a always,exit -F arch=b64 -S execve -F euid=0 -k privileged",
     "-a always,exit -F arch=b64 -S execve -F auid!=-1 -C uid!=euid -F key=user_emulation", True),
    ("-a always,exit -F arch=b64 -S execve -F euid=0 -k privileged",
     "-a always,exit -F arch=b64 -S execve -F exe=/usr/bin/true", False),
    ("-a always,exit -F arch=b64 -S adjtimex,settimeofday -k time",
     "-a always,exit -F arch=b64 -S adjtimex,settimeofday -C uid=euid -k time", False),
])
def test_audit_rules_are_read_as_auditd_reads_them(replaced: str, by: str, passes: bool) -> None:
    # XZ-HOST-AUDIT-RULES matched its needles anywhere in a rule's text: a read-only watch, a watch of another file
    # beginning with the same name and a key spelling a path all counted as recording the category's changes
    rules = [by if rule == replaced else rule for rule in HARDENED["auditctl_rules"].splitlines()]
    assert by in rules
    facts = _facts({**HARDENED, "auditctl_rules": "\n".join(rules)})
    result = run_rules([RULES_BY_ID["XZ-HOST-AUDIT-RULES"]], facts)[0]
    assert (result.status is Status.PASS) is passes, result.message


@pytest.mark.parametrize(("text", "value", "readonly"), [
    ("/etc/profile.d/99-tmout.sh:readonly TMOUT=600\n/etc/profile.d/99-tmout.sh:export TMOUT", 600, True),
    # a vendor's read-only 3600 first: bash keeps it and refuses the later 600 ("TMOUT: readonly variable")
    ("/etc/profile.d/00-vendor.sh:readonly TMOUT=3600\n/etc/profile.d/xzgov-tmout.sh:TMOUT=600\n"
     "/etc/profile.d/xzgov-tmout.sh:readonly TMOUT", 3600, True),
    ("/etc/profile.d/a.sh:TMOUT=600; export TMOUT  # 待办: readonly TMOUT", 600, False),  # a comment
    ("/etc/profile.d/a.sh:TMOUT=900\n/etc/profile.d/b.sh:TMOUT=600\n/etc/profile.d/b.sh:readonly TMOUT", 600, True),
    # roles/os_hardening's own file: its check whether TMOUT is read-only already is no declaration
    ("/etc/profile.d/xzgov-session.sh:if ! readonly -p 2>/dev/null | grep -q ' TMOUT='; then\n"
     "/etc/profile.d/xzgov-session.sh:    TMOUT=600\n/etc/profile.d/xzgov-session.sh:    readonly TMOUT\n"
     "/etc/profile.d/xzgov-session.sh:    export TMOUT", 600, True),
    ("/etc/profile:declare -rx TMOUT=300", 300, True),
    ("/etc/profile:typeset -r TMOUT=300", 300, True),
    # bash exports a variable named "readonly" here; TMOUT stays writable
    ("/etc/profile.d/99-tmout.sh:export readonly TMOUT=600", 600, False),
    ("/etc/profile.d/a.sh:echo readonly TMOUT", None, False),
    ("/etc/profile.d/a.sh:TMOUT=600; readonly TMOUT", 600, True),
])
def test_the_tmout_in_effect_is_the_shells(text: str, value: int | None, readonly: bool) -> None:
    found = shell_timeout(text)
    assert (found["tmout"], found["readonly"]) == (value, readonly)


@pytest.mark.parametrize(("match", "rule", "passes"), [
    ("/etc/ssh/sshd_config\tMatch Address 0.0.0.0/0,::/0\n/etc/ssh/sshd_config\t    PermitRootLogin yes\n"
     "/etc/ssh/sshd_config\t    PasswordAuthentication yes", "XZ-HOST-SSH", False),
    ("/etc/ssh/sshd_config.d/50-ops.conf\tMatch User backup\n/etc/ssh/sshd_config.d/50-ops.conf\tX11Forwarding=yes",
     "XZ-HOST-SSH", False),
    ("/etc/ssh/sshd_config\tMatch Group sftp\n/etc/ssh/sshd_config\tAllowTcpForwarding yes",
     "XZ-HOST-SSH-SESSIONS", False),
    ("/etc/ssh/sshd_config\tMatch Group sftp\n/etc/ssh/sshd_config\tChrootDirectory /srv/sftp", "XZ-HOST-SSH", True),
    ("/etc/ssh/sshd_config\tMatch all\n/etc/ssh/sshd_config\tPermitRootLogin yes", "XZ-HOST-SSH", True),  # in -T
    # ClientAlive* is allowed in a Match block: the admins' sessions never timed out, and the rule passed
    ("/etc/ssh/sshd_config\tMatch Group admins\n/etc/ssh/sshd_config\t    ClientAliveInterval 0\n"
     "/etc/ssh/sshd_config\t    ClientAliveCountMax 0", "XZ-HOST-IDLE-TIMEOUT", False),
    ("/etc/ssh/sshd_config\tMatch Group admins\n/etc/ssh/sshd_config\t    ClientAliveInterval 120",
     "XZ-HOST-IDLE-TIMEOUT", True),
])
def test_a_conditional_match_block_is_judged_too(match: str, rule: str, passes: bool) -> None:
    # `sshd -T` without -C leaves conditional Match blocks out: one allowing root login passed XZ-HOST-SSH
    result = run_rules([RULES_BY_ID[rule]], _facts({**HARDENED, "sshd_match": match}))[0]
    assert (result.status is Status.PASS) is passes, (result.message, result.evidence)
    if not passes:
        assert any("Match " in e.observed for e in result.evidence)


def test_missing_root_withholds_root_only_facts() -> None:
    raw = dict(HARDENED, whoami="1000")
    values, missing = parse_sections({name: Section(text, 0) for name, text in raw.items()})
    assert "audit_rules" not in values and "sshd_effective_config" not in values
    assert "not gathered as root" in missing["audit_rules"]


def test_the_gather_script_runs_and_parses_here() -> None:
    sections = split_sections(LocalTransport().run(GATHER_SCRIPT, 60)[1])
    assert {"hostname", "sysctl", "stat", "pam_auth"} <= set(sections)
    gathering = gather_host_facts(HostTarget("local", "127.0.0.1", "sys", {"xzgov_level": 3}), LocalTransport())
    assert gathering.reachable and gathering.facts is not None
    assert {"host", "pam_faillock", "password_policy", "file_permissions"} <= set(gathering.facts.values)
    assert gathering.facts.level == 3


def _directory(raw: str, uri: str = "ldaps://directory01:636") -> tuple[Status, str]:
    facts = _facts(dict(HARDENED, directory_client=raw))
    facts.values["host"] = dict(CONTEXT, directory_uri=uri)  # type: ignore[index]
    rule = next(rule for rule in rules_for_point(Point.HOST) if rule.id == "XZ-HOST-DIRECTORY")
    result = run_rules([rule], facts)[0]
    return result.status, result.message


def test_directory_rule_names_each_gap() -> None:
    """XZ-HOST-DIRECTORY: each single gap of an enrolled host fails, naming it; no directory: not applicable."""
    hardened = HARDENED["directory_client"]
    assert _directory(hardened) == (Status.PASS, _directory(hardened)[1])
    assert _directory(hardened, uri="")[0] is Status.NOT_APPLICABLE
    gaps = {
        "sssd not active": ("sssd active", "sssd inactive"),
        "ldaps://directory02:636": ("ldaps://directory01:636", "ldaps://directory02:636"),
        "LDAP without TLS": ("ldaps://directory01:636", "ldaps://directory01:636,ldap://directory01"),
        "ldap_tls_reqcert=allow": ("reqcert = demand", "reqcert = allow"),
        "a locked operator still logs in": ("option access_provider = ldap", "option access_provider = simple\n"
                                            "option simple_allow_groups = sysadmin, auditadmin, secadmin"),
        "login not limited to the role groups": ("ingroup sysadmin:auditadmin:secadmin",
                                                 "ingroup sysadmin:auditadmin:secadmin:wheel"),
        "0640": ("sudoers 440 root root", "sudoers 640 root root"),
        "no sudo rule for %secadmin": ("rule %secadmin ALL=(root) XZGOV_SECADMIN", ""),
        "may run any command": ("rule %secadmin ALL=(root) XZGOV_SECADMIN", "rule %secadmin ALL=(ALL) ALL"),
        "%sysadmin 与 %auditadmin 权限相同": ("NOEXEC: XZGOV_AUDITADMIN", "XZGOV_SYSADMIN"),
        "AuthorizedKeysCommand none": ("authorizedkeyscommand /usr/bin/sss_ssh_authorizedkeys %u",
                                       "authorizedkeyscommand none"),
        "pam_sss=False": ("pam sss", ""),
    }
    for needle, (old, new) in gaps.items():
        assert old in hardened, old
        status, message = _directory(hardened.replace(old, new))
        assert status is Status.FAIL and needle in message, (needle, message)


def test_the_directory_section_never_prints_the_reader_password() -> None:
    assert "===XZ:directory_client===" in GATHER_SCRIPT
    assert "authtok" not in GATHER_SCRIPT and "ldap_default" not in GATHER_SCRIPT
    values, missing = parse_sections({"whoami": Section("1000", 0),
                                      "directory_client": Section(HARDENED["directory_client"], 0)})
    assert "directory_client" not in values and "not gathered as root" in missing["directory_client"]


@pytest.mark.parametrize(("change", "rule", "said"), [
    # TLS to whoever answers (anon, rsyslog's default): anyone on the path poses as the log centre
    ({"rsyslog_conf": HARDENED["rsyslog_conf"].replace(' StreamDriverAuthMode="x509/name"', "")},
     "XZ-HOST-LOG-FORWARD", "StreamDriverAuthMode anon: the server is not authenticated"),
    ({"rsyslog_conf": HARDENED["rsyslog_conf"].replace("x509/name", "anon")}, "XZ-HOST-LOG-MTLS", "no TLS forwarding"),
    ({"rsyslog_conf": HARDENED["rsyslog_conf"].replace("x509/name", "x509/certvalid")}, "XZ-HOST-LOG-FORWARD",
     "StreamDriverAuthMode x509/certvalid"),  # any host's client certificate of the region's CA would pass
    # pam_faillock in the account stack only, or preauth without authfail: no failure is ever counted
    ({"pam_auth": "auth required pam_env.so\nauth sufficient pam_unix.so\nauth required pam_deny.so\n"
                  "account required pam_faillock.so\naccount required pam_unix.so"}, "XZ-HOST-LOCKOUT",
     "does not count failures"),
    ({"pam_auth": "auth required pam_faillock.so preauth\nauth [success=1 default=bad] pam_unix.so\n"},
     "XZ-HOST-LOCKOUT", "does not count failures"),
    # authfail after pam_deny: a wrong password falls from pam_unix (default=ignore) to the requisite pam_deny, which
    # ends the stack before authfail runs (an authfail line anywhere in the stack passed)
    ({"pam_auth": "auth requisite pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so nullok\n"
                  "auth requisite pam_deny.so\nauth required pam_permit.so\n"
                  "auth [default=die] pam_faillock.so authfail\n"}, "XZ-HOST-LOCKOUT", "a failed pam_unix reaches"),
    # a failure skipping over authfail, or ending the stack at pam_unix itself
    ({"pam_auth": "auth requisite pam_faillock.so preauth\nauth [success=2 default=1] pam_unix.so\n"
                  "auth [default=die] pam_faillock.so authfail\nauth requisite pam_deny.so\n"
                  "auth required pam_permit.so\n"}, "XZ-HOST-LOCKOUT", "a failed pam_unix reaches"),
    ({"pam_auth": "auth requisite pam_faillock.so preauth\nauth requisite pam_unix.so\n"
                  "auth [default=die] pam_faillock.so authfail\n"}, "XZ-HOST-LOCKOUT", "a failed pam_unix reaches"),
    # enforcing = 0: a weak password is only warned about (the PAM argument overrides the file)
    ({"pwquality": "minlen = 12\nminclass = 3\nenforcing = 0\n"}, "XZ-HOST-PASSWORD", "enforcing=0"),
    ({"pam_password": "password requisite pam_pwquality.so retry=3 enforcing=0\npassword [success=1] pam_unix.so"},
     "XZ-HOST-PASSWORD", "enforcing=0"),
    # the scheduled scan's last run found malware (clamscan exit 1): everything else configured is no pass
    ({"anti_malware": HARDENED["anti_malware"] + "\nscan Result=exit-code\nscan ExecMainStatus=1\n"
                      "scan ExecMainExitTimestamp=Mon 2026-12-07 03:12:09 UTC"}, "XZ-HOST-ANTI-MALWARE",
     "found malware"),
    # unattended-upgrades configured, but nothing starts it
    ({"security_updates": HARDENED["security_updates"].replace("apt-daily-upgrade.timer enabled",
                                                               "apt-daily-upgrade.timer masked")},
     "XZ-HOST-SECURITY-UPDATES", "apt-daily-upgrade.timer masked"),
    # nullok back in the auth stack (Debian's profile, restored by a libpam-runtime update): empty passwords log in
    ({"pam_auth": HARDENED["pam_auth"].replace("pam_unix.so\n", "pam_unix.so nullok\n")}, "XZ-HOST-PASSWORD",
     "empty password"),
])
def test_a_setting_that_undoes_the_control_fails_it(change: dict[str, str], rule: str, said: str) -> None:
    result = run_rules([RULES_BY_ID[rule]], _facts({**HARDENED, **change}))[0]
    assert result.status is not Status.PASS
    assert said in result.message + " ".join(e.observed for e in result.evidence), (result.message, result.evidence)


@pytest.mark.parametrize("stack", [
    # Debian's pam_faillock(8) example: authfail right after pam_unix, which skips it on success
    "auth requisite pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so nullok\n"
    "auth [default=die] pam_faillock.so authfail\nauth sufficient pam_faillock.so authsucc\n"
    "auth requisite pam_deny.so\nauth required pam_permit.so\n",
    # common-auth as pam-auth-update writes it from roles/os_hardening's xzgov-faillock* profiles (Debian 12)
    "auth\trequisite\tpam_faillock.so preauth\nauth\t[success=2 default=ignore]\tpam_unix.so try_first_pass\n"
    "auth\t[default=die]\tpam_faillock.so authfail\nauth\trequisite\t\t\tpam_deny.so\n"
    "auth\trequired\t\t\tpam_permit.so\nauth\toptional\t\t\tpam_cap.so \n",
    # authselect's system-auth (RHEL 9, with-faillock): pam_unix sufficient, pam_usertype skipping pam_sss
    "auth required pam_env.so\nauth required pam_faildelay.so delay=2000000\n"
    "auth required pam_faillock.so preauth silent\nauth [default=1 ignore=ignore success=ok] pam_usertype.so "
    "isregular\nauth [default=1 ignore=ignore success=ok] pam_localuser.so\nauth sufficient pam_unix.so nullok\n"
    "auth [default=1 ignore=ignore success=ok] pam_usertype.so isregular\nauth sufficient pam_sss.so forward_pass\n"
    "auth required pam_faillock.so authfail\nauth required pam_deny.so\n",
])
def test_an_authfail_line_a_failed_password_reaches_counts(stack: str) -> None:
    result = run_rules([RULES_BY_ID["XZ-HOST-LOCKOUT"]], _facts({**HARDENED, "pam_auth": stack}))[0]
    assert result.status is Status.PASS, result.evidence


def test_the_pam_file_may_override_enforcing_back_on() -> None:
    raw = {**HARDENED, "pwquality": "minlen = 12\nminclass = 3\nenforcing = 0\n",
           "pam_password": "password requisite pam_pwquality.so retry=3 enforcing=1\npassword [success=1] pam_unix.so"}
    assert run_rules([RULES_BY_ID["XZ-HOST-PASSWORD"]], _facts(raw))[0].status is Status.PASS


PLAIN_UNIX = "password requisite pam_pwquality.so retry=3\npassword [success=1] pam_unix.so"


@pytest.mark.parametrize(("change", "passes"), [
    # the pam_unix line's algorithm and rounds= override login.defs: MD5-crypt, or yescrypt at cost 3
    ({"pam_password": "password requisite pam_pwquality.so retry=3\n"
                      "password [success=1 default=ignore] pam_unix.so obscure use_authtok md5"}, False),
    ({"pam_password": "password requisite pam_pwquality.so\npassword [success=1] pam_unix.so use_authtok yescrypt "
                      "rounds=3"}, False),
    # pam_unix reads SHA_CRYPT_MAX_ROUNDS: with MIN alone it hashes at the default 5000 rounds (a pam_unix line
    # naming no method: login.defs' ENCRYPT_METHOD is the one)
    ({"login_defs_hashing": "ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 500000", "pam_password": PLAIN_UNIX}, False),
    ({"login_defs_hashing": "ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 500000\nSHA_CRYPT_MAX_ROUNDS 500000",
      "pam_password": PLAIN_UNIX}, True),
    ({"login_defs_hashing": "ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 5000\nSHA_CRYPT_MAX_ROUNDS 500000",
      "pam_password": PLAIN_UNIX}, False),
    # Debian 12's pam_unix (Linux-PAM 1.5.2) reads no YESCRYPT_COST_FACTOR: `obscure yescrypt` without rounds= hashes
    # at cost 5 (measured: $y$j9T$ with the factor 8 in login.defs) — unless the module reads the factor (1.5.3+)
    ({"pam_password": "password [success=1 default=ignore] pam_unix.so obscure yescrypt",
      "login_defs_hashing": "ENCRYPT_METHOD YESCRYPT\nYESCRYPT_COST_FACTOR 8"}, False),
    ({"pam_password": "password [success=1 default=ignore] pam_unix.so obscure yescrypt",
      "login_defs_hashing": "ENCRYPT_METHOD YESCRYPT\nYESCRYPT_COST_FACTOR 8",
      "pam_unix_cost": "module /usr/lib/x86_64-linux-gnu/security/pam_unix.so\nreads-yescrypt-cost-factor"}, True),
    # what the roles write: Debian's pam_unix line with the level's rounds= (measured: $y$jCT$); RHEL's sha512 line
    ({"pam_password": "password [success=1 default=ignore] pam_unix.so obscure yescrypt rounds=8",
      "login_defs_hashing": "ENCRYPT_METHOD YESCRYPT\nYESCRYPT_COST_FACTOR 8"}, True),
    ({"pam_password": "password sufficient pam_unix.so sha512 shadow nullok use_authtok",
      "login_defs_hashing": "ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 500000\nSHA_CRYPT_MAX_ROUNDS 500000"}, True),
])
def test_the_hash_passwd_uses_is_judged(change: dict[str, str], passes: bool) -> None:
    """XZ-HOST-PASSWORD-HASHING read login.defs only: a pam_unix line hashing with MD5 passed."""
    result = run_rules([RULES_BY_ID["XZ-HOST-PASSWORD-HASHING"]], _facts({**HARDENED, **change}))[0]
    assert (result.status is Status.PASS) is passes, (result.message, result.evidence)


@pytest.mark.parametrize(("change", "passes"), [
    # ntpd running: judged by its own ntp.conf, not a leftover timesyncd.conf naming the region's servers
    ({"time_active": "chrony inactive\nchronyd inactive\nsystemd-timesyncd inactive\nntp active\nntpsec inactive",
      "chrony_conf": "", "timesyncd_conf": "[Time]\nNTP=10.69.0.123 10.69.0.124",
      "ntp_conf": "pool 0.debian.pool.ntp.org iburst"}, False),
    ({"time_active": "chrony inactive\nchronyd inactive\nsystemd-timesyncd inactive\nntp inactive\nntpsec active",
      "chrony_conf": "", "timesyncd_conf": "", "ntp_conf": "server 10.69.0.123 iburst\nserver 10.69.0.124 iburst"},
     True),
])
def test_the_running_time_daemon_is_judged_by_its_own_configuration(change: dict[str, str], passes: bool) -> None:
    result = run_rules([RULES_BY_ID["XZ-HOST-TIME-SYNC"]], _facts({**HARDENED, **change}))[0]
    assert (result.status is Status.PASS) is passes, (result.message, result.evidence)


@pytest.mark.parametrize("level", [3, 4])
def test_the_audit_roles_own_rules_cover_every_category(level: int) -> None:
    """The rule files roles/audit writes, as the running kernel would load them and as auditctl -l prints its
    comparisons and unset ids, pass XZ-HOST-AUDIT-RULES: reading rules as auditd does must not fail the host the
    role hardened (no host booted: the templates rendered with the role's variables)."""
    from tests.roles.render import render

    variables = {"xzgov_level": level, "ansible_facts": {"architecture": "x86_64"},
                 "audit_privileged_found": {"stdout_lines": ["/usr/bin/sudo", "/usr/bin/su", "/usr/bin/passwd"]}}
    rules = [line.strip() for name in ("50-xzgov-identity.rules.j2", "50-xzgov-logins.rules.j2",
                                       "50-xzgov-privilege.rules.j2", "50-xzgov-system.rules.j2",
                                       "50-xzgov-time.rules.j2")
             for line in render("audit", name, variables).splitlines() if line.strip().startswith("-")]
    assert any("-S execve" in rule for rule in rules) and any("perm=x" in rule for rule in rules)
    printed = [rule.replace("auid!=unset", "auid!=-1").replace("-C euid!=uid", "-C uid!=euid") for rule in rules]
    for loaded in (rules, printed):
        facts = _facts({**HARDENED, "auditctl_rules": "\n".join(loaded)})
        result = run_rules([RULES_BY_ID["XZ-HOST-AUDIT-RULES"]], facts)[0]
        assert result.status is Status.PASS, result.message


def test_a_scan_that_never_ran_or_found_nothing_is_no_finding() -> None:
    # clamscan exits 2 on an error as ordinary as a file gone from /tmp during the scan: not judged
    for last in ("", "\nscan Result=success\nscan ExecMainStatus=0\nscan ExecMainExitTimestamp=",
                 "\nscan Result=exit-code\nscan ExecMainStatus=2\nscan ExecMainExitTimestamp=Mon 2026-12-07 03:12",
                 "\nscan Result=success\nscan ExecMainStatus=0\n"
                 "scan ExecMainExitTimestamp=Mon 2026-12-07 03:12:09 UTC"):
        result = run_rules([RULES_BY_ID["XZ-HOST-ANTI-MALWARE"]],
                           _facts({**HARDENED, "anti_malware": HARDENED["anti_malware"] + last}))[0]
        assert result.status is Status.PASS, (last, result.message)


def test_the_directory_clients_own_form_passes_and_each_gap_of_it_fails() -> None:
    """directory_client moved to `access_provider = ldap` (a locked operator logs in by no means) with the role
    groups checked by pam_succeed_if in the account stack; the rule still wanted `access_provider = simple`, so
    every enrolled host failed XZ-HOST-DIRECTORY (the opt-in live suite showed it)."""
    form = HARDENED["directory_client"]
    assert _directory(form)[0] is Status.PASS, _directory(form)
    ingroup = ("pamline common-account account\trequisite\tpam_succeed_if.so quiet user ingroup "
               "sysadmin:auditadmin:secadmin")
    gaps = {
        "no ingroup line": (ingroup, "", "role groups"),
        "another group": ("ingroup sysadmin:auditadmin:secadmin", "ingroup sysadmin:auditadmin:secadmin:wheel",
                          "role groups"),
        "a check that decides nothing": ("\trequisite\tpam_succeed_if.so quiet user", "\tsufficient\tpam_succeed_if.so"
                                         " quiet user", "role groups"),
        "no lock filter": ("option ldap_access_filter = (!(pwdAccountLockedTime=000001010000Z))\n", "", "locked"),
        "a filter that locks nobody": ("(!(pwdAccountLockedTime=000001010000Z))", "(objectClass=*)", "locked"),
        "the filter not applied": ("option ldap_access_order = filter", "option ldap_access_order = expire",
                                   "locked"),
        "permit everyone": ("option access_provider = ldap", "option access_provider = permit", "locked"),
    }
    for reason, (old, new, said) in gaps.items():
        assert old in form, reason
        status, message = _directory(form.replace(old, new))
        assert status is Status.FAIL and said in message, (reason, message)


#: a line of common-account placed before the role lines (pam-auth-update leaves a hand-edited file as it is)
def _before_roles(line: str) -> str:
    first = "pamline common-account account\trequired\t\t\tpam_faillock.so"
    return HARDENED["directory_client"].replace(first, f"{first}\npamline common-account {line}")


@pytest.mark.parametrize(("raw", "passes"), [
    # a review: each of these ends or skips the stack before the role-group check, and passed
    (_before_roles("account sufficient pam_succeed_if.so quiet user ingroup wheel"), False),
    (HARDENED["directory_client"].replace(
        "pamline common-account account\t[success=1 default=ignore]\tpam_succeed_if.so quiet uid < 10000",
        "pamline common-account account [success=2 default=ignore] pam_succeed_if.so quiet uid >= 0\n"
        "pamline common-account account\t[success=1 default=ignore]\tpam_succeed_if.so quiet uid < 10000"),
     False),
    (_before_roles("account sufficient pam_permit.so"), False),
    # the check only in a file sshd never reads
    (HARDENED["directory_client"].replace("pamline common-account account\trequisite\tpam_succeed_if",
                                          "pamline system-auth account\trequisite\tpam_succeed_if"),
     False),
    # SSSD's min_id unset: a directory user may have a uid under 10000 and jump over the check
    (HARDENED["directory_client"].replace("option min_id = 10000\n", ""), False),
    # the second reading (Linux-PAM's _pam_dispatch_aux): a jump in the account stack only skips modules, it
    # counts no result — a failure that jumps over the check admitted the outsider
    (HARDENED["directory_client"].replace("[success=1 default=ignore]\tpam_succeed_if.so quiet uid < 10000",
                                          "[success=ignore default=1]\tpam_localuser.so"), False),
    # OpenSSH accepts PAM_NEW_AUTHTOK_REQD (a password change, then the session), and PAM keeps the status of
    # the first `bad`: where SSSD may ask for a renewal, pam_sss's answer outlives the role-group check
    (HARDENED["directory_client"].replace("ldap_access_order = filter",
                                          "ldap_access_order = filter, pwd_expire_policy_renew"), False),
    # use_uid judges sshd's own uid (root): `uid < 10000` holds and the jump skips the check
    (HARDENED["directory_client"].replace("pam_succeed_if.so quiet uid < 10000",
                                          "pam_succeed_if.so quiet use_uid uid < 10000"), False),
    # a bracket without default= is bad for the other codes; PAM's bracket words have case (a token it does not
    # know fails every result): neither lets the outsider in
    (HARDENED["directory_client"].replace("\trequisite\tpam_succeed_if.so quiet user",
                                          "\t[success=ok]\tpam_succeed_if.so quiet user"), True),
    (_before_roles("account [SUCCESS=DONE default=ignore] pam_permit.so"), True),
    # equivalent forms PAM reads as the role's: they pass
    (HARDENED["directory_client"].replace("\trequisite\tpam_succeed_if.so quiet user",
                                          "\t[success=ok default=die]\tpam_succeed_if.so quiet user"), True),
    (HARDENED["directory_client"].replace("\trequisite\tpam_succeed_if.so quiet user",
                                          "\tRequisite\tpam_succeed_if.so quiet user"), True),
    (HARDENED["directory_client"].replace("account\trequisite\tpam_succeed_if.so quiet user",
                                          "-account\trequisite\tpam_succeed_if.so quiet user"), True),
    (HARDENED["directory_client"].replace("ldap_access_order = filter", "ldap_access_order = Filter"), True),
    # a failing required line keeps the stack failing: the role groups still decide
    (_before_roles("account required pam_access.so"), True),
])
def test_the_account_stack_sshd_runs_is_followed_through(raw: str, passes: bool | None) -> None:
    status, message = _directory(raw)
    assert (status is Status.PASS) is bool(passes), message


def _substack(parent: list[str], sub: list[str]) -> str:
    """The role's host with sshd's account stack replaced by ``parent``, which may `substack sub`."""
    raw = "\n".join(line for line in HARDENED["directory_client"].splitlines()
                     if not line.startswith("pamline sshd ")).replace("pamfile sshd", "pamfile sshd\npamfile sub")
    return raw + "\n" + "\n".join([*(f"pamline sshd {line}" for line in parent),
                                    *(f"pamline sub {line}" for line in sub)])


ROLE_CHECK = "account requisite pam_succeed_if.so quiet user ingroup sysadmin:auditadmin:secadmin"


@pytest.mark.parametrize(("parent", "sub", "passes"), [
    # PAM jumps over a whole substack as one module: pam_unix's success skips the check inside it
    (["account [success=1 default=ignore] pam_unix.so", "account substack sub", "account required pam_permit.so"],
     ["account required pam_permit.so", ROLE_CHECK], False),
    # `done` inside a substack ends the substack only: the check after it still runs
    (["account substack sub", ROLE_CHECK], ["account sufficient pam_permit.so"], True),
    (["account include sub", ROLE_CHECK], ["account sufficient pam_permit.so"], False),
    # an include loop reads as a module nothing is known of: the check after it still decides
    (["account include sub", ROLE_CHECK], ["account include sub"], True),
    (["account include sub"], ["account include sub"], False),
])
def test_substacks_and_includes_are_followed_as_pam_runs_them(parent: list[str], sub: list[str],
                                                            passes: bool) -> None:
    status, message = _directory(_substack(parent, sub))
    assert (status is Status.PASS) is passes, message


ACCESS_LINES = ("option access_provider = ldap\noption ldap_access_order = filter\n"
                "option ldap_access_filter = (!(pwdAccountLockedTime=000001010000Z))\n")
SNIPPET_AT = "option min_id = 10000\n"  # the last sssd.conf line: what follows reads as a conf.d snippet


@pytest.mark.parametrize(("change", "passes"), [
    # a review: the role's lines in an unused domain, or in [pam], while the domain in use permits everyone
    ([(ACCESS_LINES, "option access_provider = permit\n"),
      (SNIPPET_AT, SNIPPET_AT + "section [domain/retired]\n" + ACCESS_LINES)], False),
    ([(ACCESS_LINES, ""), (SNIPPET_AT, SNIPPET_AT + "section [pam]\n" + ACCESS_LINES)], False),
    # a conf.d snippet read after sssd.conf wins, whatever the case of the option's name
    ([(SNIPPET_AT, SNIPPET_AT + "section [domain/xzgov]\noption ACCESS_PROVIDER = permit\n")], False),
    ([(SNIPPET_AT, SNIPPET_AT + "section [Domain/XZGOV]\noption Access_Provider = permit\n")], False),
    # every domain in use needs the lock: one with ppolicy passes, one without fails
    ([("option domains = xzgov", "option domains = xzgov, other"),
      (SNIPPET_AT, SNIPPET_AT + "section [domain/other]\noption access_provider = ldap\n"
                                "option ldap_access_order = ppolicy\n")], True),
    ([("option domains = xzgov", "option domains = xzgov, other"),
      (SNIPPET_AT, SNIPPET_AT + "section [domain/other]\noption id_provider = files\n")], False),
    ([("option domains = xzgov", "option domains = ")], False),
])
def test_only_the_domains_sssd_uses_are_read_as_sssd_reads_them(change: list[tuple[str, str]],
                                                                 passes: bool) -> None:
    raw = HARDENED["directory_client"]
    for old, new in change:
        assert old in raw, old
        raw = raw.replace(old, new, 1)
    status, message = _directory(raw)
    assert (status is Status.PASS) is passes, message


# ------------------------------------------------------------------------------------------- time (chrony)
def _tracking(reference: str = "0A45007B (10.69.0.123)", leap: str = "Normal", offset: str = "0.000012345 seconds "
              "slow of NTP time", dispersion: str = "0.000123456 seconds") -> str:
    """``chronyc -n tracking`` as chrony 4.3 prints it."""
    return (f"Reference ID    : {reference}\nStratum         : 3\nRef time (UTC)  : Mon Dec 07 10:00:00 2026\n"
            f"System time     : {offset}\nLast offset     : +0.000001234 seconds\n"
            f"RMS offset      : 0.000012345 seconds\nFrequency       : 1.234 ppm slow\n"
            f"Residual freq   : +0.000 ppm\nSkew            : 0.012 ppm\nRoot delay      : 0.001234567 seconds\n"
            f"Root dispersion : {dispersion}\nUpdate interval : 64.2 seconds\nLeap status     : {leap}\n")


SOURCES_HEADER = ("MS Name/IP address         Stratum Poll Reach LastRx Last sample               \n"
                  "===============================================================================\n")


def _sources(*lines: str) -> str:
    return SOURCES_HEADER + "".join(f"{line}\n" for line in lines)


SELECTED_123 = "^* 10.69.0.123                 2   6   377    12    +12us[  +15us] +/-  812us"
CANDIDATE_124 = "^+ 10.69.0.124                 2   6   377    13    -20us[  -18us] +/-  901us"
LOST_123 = "^? 10.69.0.123                 2   6     0   41h    +12us[  +15us] +/-  812us"
LOST_124 = "^? 10.69.0.124                 2   6     0   41h    -20us[  -18us] +/-  901us"
CHRONY = {**HARDENED, "ntp_synchronized": "yes"}


@pytest.mark.parametrize(("tracking", "sources", "status"), [
    (_tracking(), _sources(SELECTED_123, CANDIDATE_124), Status.PASS),
    # every source lost: chrony 4.3 keeps its leap status Normal (it only logs "Can't synchronise")
    (_tracking(dispersion="52.000123456 seconds"), _sources(LOST_123, LOST_124), Status.PARTIAL),
    (_tracking(), _sources(LOST_123, LOST_124), Status.PARTIAL),
    # the local directive: no external source (Reference ID 7F7F0101)
    (_tracking(reference="7F7F0101 ()"), _sources(CANDIDATE_124), Status.PARTIAL),
    # selected a server that is not the region's
    (_tracking(reference="C0A80101 (192.168.1.1)"),
     _sources(SELECTED_123.replace("10.69.0.123", "192.168.1.1 "), CANDIDATE_124), Status.FAIL),
    # an hour off
    (_tracking(offset="3600.000012345 seconds fast of NTP time"), _sources(SELECTED_123), Status.PARTIAL),
    (_tracking(leap="Not synchronised"), _sources(LOST_123), Status.PARTIAL),
    # a leap second announced is still synchronised
    (_tracking(leap="Insert second"), _sources(SELECTED_123), Status.PASS),
    # a peer (=) selected
    (_tracking(), _sources("=* 10.69.0.124                 2   6   377    12    +12us[  +15us] +/-  812us"),
     Status.PASS),
])
def test_chrony_is_judged_by_the_source_it_follows(tracking: str, sources: str, status: Status) -> None:
    """chrony's leap status alone passed a host whose sources had all been lost for days, one running on its
    local clock, one following a foreign server and one an hour off (a review with chrony 4.3's own output)."""
    result = run_rules([RULES_BY_ID["XZ-HOST-TIME-SYNC"]],
                       _facts({**CHRONY, "chrony_tracking": tracking, "chrony_sources": sources}))[0]
    assert result.status is status, (result.message, result.evidence)


def test_the_tracking_and_sources_parsers() -> None:
    figures = chrony_tracking(_tracking(offset="0.5 seconds slow of NTP time"))
    assert figures == {"reference": "0A45007B", "reference_address": "10.69.0.123", "leap": "Normal",
                       "offset_seconds": -0.5, "root_dispersion": 0.000123456}
    assert chrony_tracking("")["offset_seconds"] is None
    assert chrony_selected(_sources(CANDIDATE_124, SELECTED_123)) == "10.69.0.123"
    assert chrony_selected(_sources(LOST_123, CANDIDATE_124)) == ""
    assert chrony_selected("") == ""


def _time_source_facts(tracking: str, sources: str, conf: str, upstream: list[dict[str, Any]]) -> Facts:
    facts = _facts({**CHRONY, "chrony_tracking": tracking, "chrony_sources": sources, "chrony_conf": conf})
    pair = ["10.69.0.123", "10.69.0.124"] if "10.69.0.124" in conf else ["10.69.0.123"]  # or a lone time source
    facts.values["host"] = {**CONTEXT, "address": "10.69.0.123", "secmgmt_role": "time-source",
                            "time_sources": pair, "time_upstream": upstream}
    return facts


UPSTREAM = [{"host": "ntp.ntsc.ac.cn", "networks": ["114.118.7.0/24"]}]
TIME_SOURCE_CONF = "server 10.69.0.124 iburst\nserver ntp.ntsc.ac.cn iburst nts"


@pytest.mark.parametrize(("tracking", "sources", "conf", "upstream", "status"), [
    # as the roles render it: the other time source and the upstream; following the upstream
    (_tracking(reference="7276079F (114.118.7.159)"),
     _sources("^* 114.118.7.159               1   6   377    12    +12us[  +15us] +/-  2ms",
              CANDIDATE_124), TIME_SOURCE_CONF, UPSTREAM, Status.PASS),
    # following the other time source (orphan mode keeps the pair on one clock)
    (_tracking(reference="0A45007C (10.69.0.124)"),
     _sources("^? 114.118.7.159               1   6     0   3h     +12us[  +15us] +/-  2ms",
              CANDIDATE_124.replace("^+", "^*")), TIME_SOURCE_CONF, UPSTREAM, Status.PASS),
    # every source lost: it serves its local clock
    (_tracking(reference="7F7F0101 ()"), _sources(LOST_124), TIME_SOURCE_CONF, UPSTREAM, Status.PARTIAL),
    # a lone time source with no upstream declared serves its own clock by design
    (_tracking(reference="7F7F0101 ()"), _sources(), "", [], Status.PASS),
    (_tracking(reference="7F7F0101 ()"), _sources(), "pool 2.debian.pool.ntp.org iburst", [], Status.PARTIAL),
    # an inventory written before the upstream's networks: the named upstream's address cannot be told
    (_tracking(reference="7276079F (114.118.7.159)"),
     _sources("^* 114.118.7.159               1   6   377    12    +12us[  +15us] +/-  2ms"),
     TIME_SOURCE_CONF, [{"host": "ntp.ntsc.ac.cn", "networks": []}], Status.PARTIAL),
    # an upstream outside the declared networks
    (_tracking(reference="C0A80101 (192.0.2.1)"),
     _sources("^* 192.0.2.1                   1   6   377    12    +12us[  +15us] +/-  2ms"),
     TIME_SOURCE_CONF, UPSTREAM, Status.FAIL),
])
def test_a_time_source_is_judged_by_its_own_upstream(tracking: str, sources: str, conf: str,
                                                     upstream: list[dict[str, Any]], status: Status) -> None:
    """A time source listed the upstream the region declares and so was 'foreign servers' (partial), and one
    without other sources failed 'not using the region's time sources' (a review)."""
    result = run_rules([RULES_BY_ID["XZ-HOST-TIME-SYNC"]], _time_source_facts(tracking, sources, conf, upstream))[0]
    assert result.status is status, (result.message, result.evidence)

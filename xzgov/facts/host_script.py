"""The gather script run on each host and the split of its output into sections.

One POSIX shell script (:data:`GATHER_SCRIPT`) runs on the host through sudo and prints every
section the rules need between ``===XZ:<name>===`` markers, then an end mark (:data:`END`), so a host costs
one SSH connection.
Nothing secret is gathered: no file contents beyond configuration, no password hashes
(``/etc/shadow`` is only ``stat``-ed).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from xzgov.facts.baseline import (
    AIDE_ALERT_SERVICE,
    AIDE_CHECK_SERVICE,
    AIDE_DATABASES,
    AIDE_TIMERS,
    AIDE_UNREVIEWED,
    CLEARED_AT_BOOT,
    CRON_ALLOW_FILES,
    CRON_PATHS,
    FILE_MODES,
    KERNEL_CMDLINE_EXPECTED,
    KERNEL_SYSCTL_EXPECTED,
    MAC_PROFILES,
    MOUNT_OPTIONS,
    SYSCTL_EXPECTED,
)

MARK = "===XZ:"

# ---- operator directory client (roles/directory_client, rule XZ-HOST-DIRECTORY)
#: sudoers file of the three administrator roles (directory_client_sudoers)
DIRECTORY_SUDOERS = "/etc/sudoers.d/xzgov-directory-roles"
#: the directory groups of the three administrator roles (三员分立: system / audit / security)
DIRECTORY_ROLE_GROUPS = ("sysadmin", "auditadmin", "secadmin")
#: sssd.conf options gathered — never ldap_default_authtok (the reader's password)
DIRECTORY_SSSD_OPTIONS = ("id_provider", "auth_provider", "access_provider", "simple_allow_groups",
                          "simple_allow_users", "ldap_uri", "ldap_tls_reqcert", "ldap_tls_cacert",
                          "ldap_id_use_start_tls", "ldap_access_order", "ldap_access_filter", "domains", "min_id")

# ---- log centre (roles/log_centre, rule XZ-HOST-LOG-CENTRE)
#: the unit that seals closed days (its ExecStart carries --root and --retention-days)
LOG_CENTRE_SEAL_UNIT = "/etc/systemd/system/xzgov-log-seal.service"
#: rsyslog's receiving configuration on the log centre
LOG_CENTRE_RECEIVER = "/etc/rsyslog.d/20-xzgov-centre.conf"
#: the public half of the centre's SM2 seal key (log_centre_seal_public_key)
LOG_CENTRE_PUBLIC_KEY = "/etc/xzgov-logcentre/seal.pub.pem"

_SECTIONS: tuple[tuple[str, str], ...] = (
    # (a host without the hostname binary answered nothing, and the "is this the host we meant" check was skipped)
    ("hostname", "hostname 2>/dev/null || cat /proc/sys/kernel/hostname"),
    ("whoami", "id -u"),
    ("sshd", "sshd -T 2>/dev/null || /usr/sbin/sshd -T"),
    # the conditional Match blocks `sshd -T` (without -C) leaves out: file, tab, line — from each Match line on;
    # and every Include line (one in a Match block, or of other files, holds settings the scan does not read)
    ("sshd_match", "for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf; do [ -f \"$f\" ] && "
                   "awk -v f=\"$f\" 'tolower($1) ~ /^match/ {m = 1} (m || tolower($1) ~ /^include/) && "
                   "$0 !~ /^[[:space:]]*(#|$)/ {print f \"\\t\" $0}' \"$f\"; done; true"),
    ("faillock_conf", "cat /etc/security/faillock.conf"),
    # each file after a mark of its own (host_parsers.PAM_FILE_MARK): a stack ends with its file
    ("pam_auth", "for f in /etc/pam.d/common-auth /etc/pam.d/system-auth /etc/pam.d/password-auth; do "
                 "[ -r \"$f\" ] && { echo \"@file $f\"; cat \"$f\"; echo; }; done; true"),
    ("pam_password", "cat /etc/pam.d/common-password /etc/pam.d/system-auth 2>/dev/null; true"),
    # in libpwquality's order (pwquality.conf(5)): the drop-ins first, then the main file, whose values win
    ("pwquality", "cat /etc/security/pwquality.conf.d/*.conf /etc/security/pwquality.conf 2>/dev/null; true"),
    # whether pam_pwquality is installed at all: a `-password` line naming a missing module is skipped in silence
    ("pwquality_module", "for f in /usr/lib/*/security/pam_pwquality.so /lib/*/security/pam_pwquality.so "
                         "/usr/lib64/security/pam_pwquality.so /lib64/security/pam_pwquality.so; do "
                         "[ -f \"$f\" ] && { echo \"module $f\"; break; }; done; true"),
    ("login_defs", "grep -E '^[[:space:]]*PASS_(MAX|MIN|WARN)_' /etc/login.defs; true"),
    # the ageing of each account that has a password (login.defs covers accounts made later): its name and maximum
    # age only — never the hash (field 2 is matched, not printed); root only, as /etc/shadow is
    ("shadow_ageing", "awk -F: '$2 ~ /^[$]/ {print $1, ($5 == \"\" ? \"-\" : $5)}' /etc/shadow"),
    # in the order a Debian login shell reads them: /etc/profile sources /etc/bash.bashrc before its profile.d loop
    ("tmout", "grep -Hs TMOUT /etc/profile /etc/bash.bashrc /etc/profile.d/*.sh /etc/bashrc; true"),
    ("auditd_active", "systemctl is-active auditd"),
    ("auditctl_rules", "auditctl -l"),
    ("auditctl_status", "auditctl -s 2>&1"),
    ("audit_rules_files", "cat /etc/audit/rules.d/*.rules 2>/dev/null; true"),
    ("audit_dir", "stat -c '%a %U %G %n' /var/log/audit /var/log/audit/*"),
    ("auditd_conf", "cat /etc/audit/auditd.conf"),
    ("syslog_active", 'for u in rsyslog syslog-ng; do printf \'%s %s\\n\' "$u" "$(systemctl is-active $u)"; done'),
    ("rsyslog_conf", "cat /etc/rsyslog.conf /etc/rsyslog.d/*.conf 2>/dev/null; true"),
    (
        "time_active",
        "for u in chrony chronyd systemd-timesyncd ntp ntpsec; do "
        'printf \'%s %s\\n\' "$u" "$(systemctl is-active $u)"; done',
    ),
    (
        "chrony_conf",
        "cat /etc/chrony/chrony.conf /etc/chrony.conf /etc/chrony/conf.d/*.conf "
        "/etc/chrony/sources.d/*.sources 2>/dev/null; true",
    ),
    ("timesyncd_conf", "cat /etc/systemd/timesyncd.conf /etc/systemd/timesyncd.conf.d/*.conf 2>/dev/null; true"),
    ("ntp_conf", "cat /etc/ntpsec/ntp.conf /etc/ntp.conf 2>/dev/null; true"),
    ("ntp_synchronized", "timedatectl show -p NTPSynchronized --value"),
    ("chrony_tracking", "chronyc -n tracking"),
    ("chrony_sources", "chronyc -n sources"),
    ("services_enabled", "systemctl list-unit-files --type=service,socket --state=enabled --no-legend --no-pager"),
    ("services_active", "systemctl list-units --type=service,socket --state=active --no-legend --no-pager --plain"),
    ("stat", "for f in " + " ".join(FILE_MODES) + '; do [ -e "$f" ] && stat -c \'%a %U %G %n\' "$f"; done; true'),
    ("sysctl", "sysctl " + " ".join(SYSCTL_EXPECTED) + " 2>/dev/null; true"),
    # ---- hardening depth (issue 17; parsed by host_parsers.kernel_params and friends)
    (
        "kernel_params",
        "systemd-detect-virt -c -q && echo 'container yes' || echo 'container no'; for k in "
        + " ".join(KERNEL_SYSCTL_EXPECTED)
        + '; do p=/proc/sys/$(echo "$k" | tr . /); if [ -e "$p" ]; then echo "live $k = $(cat "$p")"; '
        'else echo "absent $k"; fi; done; '
        "grep -h -E '^[[:space:]]*-?[a-z][a-z0-9_.]*[[:space:]]*=' /etc/sysctl.conf /etc/sysctl.d/*.conf "
        "| sed 's/^[[:space:]]*-\\{0,1\\}/conf /'; true",
    ),
    (
        # the running kernel's command line, the build defaults of its parameters, and the GRUB configuration
        # for the next boot (parsed by host_parsers.kernel_cmdline)
        "kernel_cmdline",
        "systemd-detect-virt -c -q && echo 'container yes' || echo 'container no'; "
        'echo "cmdline $(cat /proc/cmdline)"; '
        "grep -hE '^CONFIG_(" + "|".join(key.upper() for key in KERNEL_CMDLINE_EXPECTED)
        + ")_DEFAULT_ON=' \"/boot/config-$(uname -r)\" 2>/dev/null | sed 's/^/build /'; "
        "grep -hsE '^[[:space:]]*GRUB_CMDLINE_LINUX(_DEFAULT)?=' /etc/default/grub /etc/default/grub.d/*.cfg "
        "| sed 's/^[[:space:]]*/grub /'; true",
    ),
    (
        "login_defs_hashing",
        "grep -E '^[[:space:]]*(ENCRYPT_METHOD|YESCRYPT_COST_FACTOR|SHA_CRYPT_M(IN|AX)_ROUNDS)[[:space:]]' "
        "/etc/login.defs; true",
    ),
    (
        # whether the installed pam_unix reads YESCRYPT_COST_FACTOR from login.defs (Linux-PAM 1.5.3 and later);
        # Debian 12's (1.5.2) does not: without rounds= it hashes yescrypt at cost 5 whatever login.defs says
        "pam_unix_cost",
        "for f in /usr/lib/*/security/pam_unix.so /lib/*/security/pam_unix.so /usr/lib64/security/pam_unix.so "
        "/lib64/security/pam_unix.so; do [ -f \"$f\" ] || continue; echo \"module $f\"; "
        "grep -q YESCRYPT_COST_FACTOR \"$f\" && echo reads-yescrypt-cost-factor; break; done; true",
    ),
    (
        "cron_stat",
        "for f in " + " ".join(CRON_PATHS) + '; do [ -e "$f" ] && stat -c \'%a %U %G %n\' "$f"; done; '
        "for f in " + " ".join(CRON_ALLOW_FILES) + '; do [ -f "$f" ] && sed "s|^|allow $f |" "$f"; done; true',
    ),
    (
        "login_banner",
        "for f in /etc/issue /etc/issue.net; do "
        "printf '%s %s\\n' \"$f\" \"$(grep -c -i -E '授权|authori[sz]ed' \"$f\" 2>/dev/null)\"; done; true",
    ),
    (
        "security_updates",
        "grep -rhsE '^[[:space:]]*(deb[[:space:]].*-security|Suites:.*-security)' /etc/apt/sources.list "
        "/etc/apt/sources.list.d/ | sed 's/^/source /'; "
        "apt-config shell U APT::Periodic::Unattended-Upgrade R Unattended-Upgrade::Automatic-Reboot "
        "T Unattended-Upgrade::Automatic-Reboot-Time L APT::Periodic::Update-Package-Lists | sed 's/^/config /'; "
        "dpkg-query -W -f='installed ${Status}\\n' unattended-upgrades 2>/dev/null; "
        # what starts unattended-upgrades and refreshes the lists: masked or disabled, nothing is ever installed
        "for u in apt-daily-upgrade.timer apt-daily.timer; do "
        'printf \'timer %s %s\\n\' "$u" "$(systemctl is-enabled "$u" 2>/dev/null)"; done; '
        # apt-get's own status (the pipeline's was grep's: a failing simulation read as 0 pending)
        "if command -v apt-get >/dev/null; then if o=$(apt-get -s -o Debug::NoLocking=1 dist-upgrade 2>/dev/null); "
        "then echo \"pending $(printf '%s\\n' \"$o\" | grep '^Inst ' | grep -ci security)\"; "
        "else echo 'pending error'; fi; fi; true",
    ),
    (
        "mandatory_access",
        "if [ -r /sys/module/apparmor/parameters/enabled ]; then "
        "echo \"lsm $(cat /sys/module/apparmor/parameters/enabled)\"; "
        "else echo 'lsm absent'; fi; command -v apparmor_parser >/dev/null && echo 'parser yes'; for p in "
        + " ".join(MAC_PROFILES)
        + '; do f=/etc/apparmor.d/$p; if [ -f "$f" ]; then '
        'if apparmor_parser --skip-kernel-load --skip-cache --quiet "$f" >/dev/null 2>&1; then echo "compiles $p"; '
        'else echo "broken $p"; fi; [ -e "/etc/apparmor.d/disable/$p" ] && echo "disabled $p"; '
        'else echo "missing $p"; fi; done; '
        "[ -r /sys/kernel/security/apparmor/profiles ] && "
        "sed 's/^/loaded /' /sys/kernel/security/apparmor/profiles; "
        # the confinement of each running daemon (started by systemd): a profile loaded after the daemon started
        # does not confine it until it restarts
        "for d in /proc/[0-9]*; do c=$(cat \"$d/comm\" 2>/dev/null); case \" " + " ".join(
            name.rsplit(".", 1)[-1] for name in MAC_PROFILES) + " \" in *\" $c \"*) "
        "grep -q '^PPid:[[:space:]]*1$' \"$d/status\" 2>/dev/null && echo \"process $c "
        "$(cat \"$d/attr/apparmor/current\" 2>/dev/null || cat \"$d/attr/current\" 2>/dev/null)\";; esac; done; true",
    ),
    ("listening", "ss -Htuln"),
    # the live packet filter as JSON (parsed by host_parsers.packet_filter; rule XZ-HOST-STATEFUL-FILTER)
    ("nftables", "if command -v nft >/dev/null; then nft -j list ruleset; else echo 'nft absent'; fi"),
    (
        "anti_malware",
        "command -v clamscan >/dev/null && echo 'scanner yes'; "
        "for u in xzgov-malware-scan.timer clamav-freshclam.service; do "
        'printf \'unit %s %s\\n\' "$u" "$(systemctl is-enabled "$u" 2>/dev/null)"; done; '
        # Debian's path, then the RPM family's (clamav-update)
        "grep -hE '^(PrivateMirror|DatabaseMirror)[[:space:]]' /etc/clamav/freshclam.conf /etc/freshclam.conf "
        "2>/dev/null | sed 's/^/mirror /'; now=$(date +%s); for f in /var/lib/clamav/*.cvd /var/lib/clamav/*.cld "
        '/var/lib/clamav/*.hdb /var/lib/clamav/*.ndb; do [ -f "$f" ] && '
        'echo "db $(( (now - $(stat -c %Y "$f")) / 86400 )) $f"; done; '
        # the scheduled scan's last result: clamscan exits 1 when it found malware, 2 on an error
        "systemctl show -p Result -p ExecMainStatus -p ExecMainExitTimestamp xzgov-malware-scan.service "
        "2>/dev/null | sed 's/^/scan /'; true",
    ),
    (
        "file_integrity",
        "command -v aide >/dev/null && echo 'aide yes'; now=$(date +%s); for f in " + " ".join(AIDE_DATABASES)
        + '; do [ -s "$f" ] && echo "db $(( (now - $(stat -c %Y "$f")) / 86400 )) $f"; done; for u in '
        + " ".join(AIDE_TIMERS)
        + '; do printf \'unit %s %s\\n\' "$u" "$(systemctl is-enabled "$u" 2>/dev/null)"; done; '
        f"systemctl show -p Result -p ExecMainStatus -p ExecMainExitTimestamp {AIDE_CHECK_SERVICE} 2>/dev/null "
        "| sed 's/^/check /'; "
        f"systemctl show -p OnFailure {AIDE_CHECK_SERVICE} 2>/dev/null | grep -q '{AIDE_ALERT_SERVICE}' "
        "&& echo 'alert yes'; grep -hE '^[[:space:]]*report_url[[:space:]]*=' /etc/aide/*.conf /etc/aide.conf "
        "2>/dev/null | sed 's/^/report /'; "
        f'[ -e {AIDE_UNREVIEWED} ] && echo "unreviewed $(( (now - $(stat -c %Y {AIDE_UNREVIEWED})) / 86400 ))"; true',
    ),
    (
        # only the listed sssd.conf options: the reader's password (ldap_default_authtok) is never printed
        "directory_client",
        "printf 'sssd %s\\n' \"$(systemctl is-active sssd 2>/dev/null)\"; "
        "[ -e /etc/sssd/sssd.conf ] && stat -c 'conf %a %U %G %n' /etc/sssd/sssd.conf; "
        # sssd.conf then its conf.d snippets (read after it, in name order: a later value wins), with the section
        # headers (only the domains [sssd] lists are used) and SSSD's case-insensitive option names
        "for f in /etc/sssd/sssd.conf /etc/sssd/conf.d/*.conf; do [ -f \"$f\" ] && "
        "grep -iE '^[[:space:]]*(\\[.*\\]|(" + "|".join(DIRECTORY_SSSD_OPTIONS) + ")[[:space:]]*=)' \"$f\" "
        "| sed -E -e 's/^[[:space:]]+//' -e 's/^(\\[)/section \\1/' -e '/^section /!s/^/option /'; done; "
        "ca=$(sed -n 's/^[[:space:]]*ldap_tls_cacert[[:space:]]*=[[:space:]]*//p' /etc/sssd/sssd.conf 2>/dev/null "
        '| tail -n 1); [ -n "$ca" ] && [ -s "$ca" ] && echo \'cacert present\'; '
        "grep -E '^[[:space:]]*(passwd|group):' /etc/nsswitch.conf | sed 's/^/nss /'; "
        "grep -qsE '^[^#]*pam_sss\\.so' /etc/pam.d/common-auth /etc/pam.d/system-auth && echo 'pam sss'; "
        # every account line and include of /etc/pam.d: the stack sshd runs is resolved from them (the role groups'
        # pam_succeed_if check must be reached on every way through it)
        # (lines joined at a trailing backslash and the type read without case, as PAM reads them)
        'for f in /etc/pam.d/*; do [ -f "$f" ] || continue; n=${f##*/}; echo "pamfile $n"; '
        "awk -v n=\"$n\" '{ if (sub(/\\\\$/, \"\")) { held = held $0 \" \"; next } line = held $0; held = \"\"; "
        "if (tolower(line) ~ /^[[:space:]]*-?account[[:space:]]/ || line ~ /^[[:space:]]*@include[[:space:]]/) "
        "print \"pamline \" n \" \" line }' \"$f\"; done; "
        f"f={DIRECTORY_SUDOERS}; "
        '[ -e "$f" ] && stat -c \'sudoers %a %U %G %n\' "$f" && '
        "grep -E '^[[:space:]]*(%|Cmnd_Alias[[:space:]])' \"$f\" | sed 's/^[[:space:]]*/rule /'; "
        "(sshd -T 2>/dev/null || /usr/sbin/sshd -T 2>/dev/null) | grep -iE '^authorizedkeyscommand(user)? ' "
        "| sed 's/^/sshd /'; true",
    ),
    (
        # the log centre (roles/log_centre, rule XZ-HOST-LOG-CENTRE): retention and sealing from the seal unit,
        # the newest seal of each source (public JSON) and its chain file's last value; empty elsewhere
        "log_centre",
        f"u={LOG_CENTRE_SEAL_UNIT}; [ -f {LOG_CENTRE_RECEIVER} ] && echo 'receiver yes'; "
        '[ -f "$u" ] || exit 0; echo "sealer yes"; echo "today $(date +%F)"; '
        "grep -h '^ExecStart=' \"$u\" | tr ' ' '\\n' | awk 'p != \"\" {print \"arg\", p, $0; p=\"\"} "
        "/^--(root|retention-days)$/ {p=$0}'; "
        "printf 'timer %s %s\\n' \"$(systemctl is-enabled xzgov-log-seal.timer 2>/dev/null)\" "
        "\"$(systemctl is-active xzgov-log-seal.timer 2>/dev/null)\"; "
        "systemctl show -p Result -p ExecMainStatus -p ExecMainExitTimestamp xzgov-log-seal.service 2>/dev/null "
        "| sed 's/^/run /'; "
        f"[ -r {LOG_CENTRE_PUBLIC_KEY} ] && echo \"pubkey $(grep -v -- ----- {LOG_CENTRE_PUBLIC_KEY} | tr -d '\\n')\"; "
        "root=$(sed -n 's/^ExecStart=.*--root[[:space:]]\\{1,\\}\\([^[:space:]]*\\).*/\\1/p' \"$u\" | tail -n 1); "
        'for d in "${root:-/nonexistent}"/*/; do [ -d "$d" ] || continue; src=$(basename "$d"); '
        'o=$(ls "$d" | grep -E \'^[0-9]{4}-[0-9]{2}-[0-9]{2}\\.log$\' | head -n 1); '
        'echo "source $src logs=$(ls "$d" | grep -cE \'\\.log$\') oldest=${o%.log}"; '
        's=$(ls "$d" | grep -E \'^[0-9]{4}-[0-9]{2}-[0-9]{2}\\.seal$\' | tail -n 1); [ -n "$s" ] || continue; '
        'printf "seal %s " "$src"; tr -d \'\\n\' < "$d$s"; echo; c="$d${s%.seal}.chain"; '
        '[ -s "$c" ] && echo "chainhead $src $(tail -c 32 "$c" | od -An -v -tx1 | tr -d \' \\n\')"; done; true',
    ),
    (
        # the files of rsyslog's TLS (CA, client certificate, key) for XZ-HOST-LOG-MTLS (parameter names in any case,
        # as rsyslog reads them: sed's I flag): stat of each, and the CA
        # and certificate PEM (public) for the scanner to check the chain; never the key's content (a certificate
        # file that also holds the key is sent without its PRIVATE KEY blocks)
        "log_tls",
        "c=$(cat /etc/rsyslog.conf /etc/rsyslog.d/*.conf 2>/dev/null | grep -v '^[[:space:]]*#'); "
        "for kind in CAFile CertFile KeyFile; do printf '%s\\n' \"$c\" | sed -n -E \"s/.*(StreamDriver\\.$kind|"
        "DefaultNetstreamDriver$kind)[[:space:]]*=?[[:space:]]*\\\"?([^\\\" )]+).*/\\2/Ip\" "
        "| sort -u | while read -r f; do if [ -f \"$f\" ]; then "
        "echo \"file $kind $(stat -c '%a %U %G' \"$f\") $f\"; "
        "[ \"$kind\" != KeyFile ] && echo \"pem $kind $f $(sed '/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/,"
        "/-----END [A-Z0-9 ]*PRIVATE KEY-----/d' \"$f\" | base64 -w0)\"; "
        "else echo \"missing $kind $f\"; fi; done; done; true",
    ),
    (
        "mounts",
        "systemd-detect-virt -c -q && echo 'container yes' || echo 'container no'; for t in /proc "
        + " ".join(MOUNT_OPTIONS)
        + '; do findmnt -rn -o TARGET,FSTYPE,OPTIONS "$t" | tail -n 1 | sed "s/^/live /"; done; '
        "awk '$1 !~ /^#/ && NF >= 4 && ($2 == \"/proc\" || $2 == \"/dev/shm\" || $2 == \"/tmp\" || $3 == \"swap\") "
        "{print \"fstab\", $1, $2, $3, $4}' /etc/fstab; "
        "g=$(findmnt -rn -o OPTIONS /proc | tail -n 1 | tr , '\\n' | sed -n 's/^gid=//p'); "
        '[ -n "$g" ] && getent group "$g" | cut -d: -f1,3 | tr : " " | sed "s/^/group /"; '
        # /proc/swaps names a dm-crypt swap by its node (/dev/dm-1): its mapper name is what crypttab and fstab use
        "sed 1d /proc/swaps | while read -r n t rest; do case \"$n\" in /dev/dm-*) "
        "m=$(cat \"/sys/block/${n#/dev/}/dm/name\" 2>/dev/null) && [ -n \"$m\" ] && n=/dev/mapper/$m;; esac; "
        "echo \"swap $n $t\"; done; "
        "[ -r /etc/crypttab ] && awk '$1 !~ /^#/ && NF >= 3 {print \"crypttab\", $1, $3}' /etc/crypttab; "
        "systemd-tmpfiles --cat-config 2>/dev/null | awk '$1 !~ /^#/ && ("
        + " || ".join(f'$2 == \"{path}\"' for path in CLEARED_AT_BOOT)
        + ") {print \"tmpfiles\", $1, $2, $6}'; true",
    ),
)


#: the script's last line of output: without it the answer was cut short (the remote `timeout`, a dropped
#: connection), and sections it lacks would read as empty configuration
END = f"{MARK}end==="


#: Seconds one section may run on the host. A command that hangs (``systemctl`` waiting on a wedged D-Bus, a
#: stale NFS mount under ``stat``) is ended with its children (``timeout`` signals its process group) and only the
#: facts read from that section are missing: before, it held the whole answer until the host's time ran out and
#: every host rule of the host was an error. The slowest section measured on a Debian 12 machine (the simulated
#: ``apt-get upgrade`` of ``security_updates``) took 1.7 s.
SECTION_SECONDS = 20

#: Exit statuses of a section ``timeout`` ended: 124 (TERM at the limit), 137 (KILL two seconds later, or
#: killed from outside). No command of the script exits so otherwise.
ENDED_STATUSES = (124, 137)


def gather_script(section_seconds: int = SECTION_SECONDS,
                  sections: tuple[tuple[str, str], ...] | None = None) -> str:
    """The gather script of ``sections`` (by default every section the rules read), each bounded by
    ``section_seconds`` (:data:`SECTION_SECONDS`). Each command runs in a shell of its own with no input (a command
    reading its input took the rest of the script), its text quoted whole."""
    parts = ["export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             f'xz_section() {{ timeout -k 2 {int(section_seconds)} /bin/sh -c "$1" </dev/null 2>/dev/null; }}']
    for name, command in _SECTIONS if sections is None else sections:
        parts.append(f"echo '{MARK}{name}==='; xz_section {shlex.quote(command)}; echo \"{MARK}{name}:rc=$?===\"")
    parts.append(f"echo '{END}'")
    return "\n".join(parts) + "\n"


def finished(output: str) -> bool:
    """Whether the script's output ends with :data:`END` (the whole answer arrived)."""
    lines = output.rstrip().rsplit("\n", 1)
    return lines[-1].strip() == END


#: The script run on each host (as root through ``sudo -n``).
GATHER_SCRIPT = gather_script()


@dataclass(frozen=True)
class Section:
    """One section of the script's output: its text and its command's exit status."""

    text: str
    rc: int

    @property
    def ended(self) -> bool:
        """Whether ``timeout`` ended the section's command (:data:`ENDED_STATUSES`): its text is partial."""
        return self.rc in ENDED_STATUSES


#: What a section that is not in the output reads as: empty and failed.
ABSENT = Section("", 1)


def split_sections(output: str) -> dict[str, Section]:
    """The script's output → section name → (text, exit status)."""
    sections: dict[str, Section] = {}
    current: str | None = None
    lines: list[str] = []
    pattern = re.compile(r"^===XZ:([a-z_]+)(?::rc=(\d+))?===$")
    for line in output.splitlines():
        found = pattern.match(line.strip())
        if not found:
            if current is not None:
                lines.append(line)
            continue
        name, rc = found.group(1), found.group(2)
        if rc is None:
            current, lines = name, []
        elif current == name:
            sections[name] = Section("\n".join(lines), int(rc))
            current = None
    return sections

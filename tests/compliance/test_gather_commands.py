"""Gather-script sections run for real by sh against files in a temporary tree (their /etc paths moved there),
then parsed as the live scan parses them: what a section sends is what the host's software does with the files."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

from xzgov.facts.host import Section
from xzgov.facts.host_parsers import password_policy
from xzgov.facts.host_script import _SECTIONS

COMMANDS = dict(_SECTIONS)


def _run(name: str, root: Path) -> Section:
    command = COMMANDS[name].replace("/etc/", f"{root}/etc/")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False, timeout=30)
    return Section(done.stdout.rstrip("\n"), done.returncode)


def test_pwquality_is_read_in_libpwquality_s_order(tmp_path: Path) -> None:
    # pwquality.conf(5): the drop-ins are read first, the main file last — its values win. The scan read the main
    # file first and passed minlen=14 where libpwquality enforced 8.
    (tmp_path / "etc/security/pwquality.conf.d").mkdir(parents=True)
    (tmp_path / "etc/security/pwquality.conf.d/50-xzgov.conf").write_text("minlen = 14\nminclass = 4\n")
    (tmp_path / "etc/security/pwquality.conf").write_text("minlen = 8\nminclass = 1\n")
    policy = password_policy({"pwquality": _run("pwquality", tmp_path),
                              "pam_password": Section("password requisite pam_pwquality.so retry=3", 0)})
    assert (policy["minlen"], policy["minclass"]) == ("8", "1"), policy


def test_a_certificate_file_holding_the_key_is_sent_without_it(tmp_path: Path) -> None:
    # log_tls sends the client certificate's PEM for the scanner to check; a combined PEM sent the key too
    certificate = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END PRIVATE KEY-----\n"
    combined = tmp_path / "etc/ssl/client.pem"
    combined.parent.mkdir(parents=True)
    combined.write_text(certificate + key)
    (tmp_path / "etc/rsyslog.d").mkdir(parents=True)
    (tmp_path / "etc/rsyslog.conf").write_text(
        f'global(DefaultNetstreamDriverCertFile="{combined}" DefaultNetstreamDriverKeyFile="{combined}")\n')
    sent = _run("log_tls", tmp_path).text
    pems = [line.split(" ", 3)[3] for line in sent.splitlines() if line.startswith("pem CertFile")]
    assert len(pems) == 1
    decoded = base64.b64decode(pems[0]).decode()
    assert "BEGIN CERTIFICATE" in decoded and "PRIVATE KEY" not in decoded and "secretkeymaterial" not in sent


def test_a_host_without_the_hostname_binary_still_names_itself(tmp_path: Path) -> None:
    # the answer's hostname was empty there, and the check that the host answering is the one meant was skipped
    only_cat = tmp_path / "bin"
    only_cat.mkdir()
    (only_cat / "cat").symlink_to(shutil.which("cat") or "/bin/cat")
    done = subprocess.run(["/bin/sh", "-c", COMMANDS["hostname"]], capture_output=True, text=True, check=False,
                          timeout=30, env={"PATH": str(only_cat)})
    assert done.returncode == 0 and done.stdout.strip() == Path("/proc/sys/kernel/hostname").read_text().strip()


def test_the_conditional_match_blocks_are_gathered_with_their_file(tmp_path: Path) -> None:
    from xzgov.facts.host_parsers import sshd_match_blocks

    (tmp_path / "etc/ssh/sshd_config.d").mkdir(parents=True)
    (tmp_path / "etc/ssh/sshd_config").write_text(
        "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n# Match User ignored\n"
        "Match Address 10.0.0.0/8\n    PermitRootLogin yes\n\n    # a comment\n    MaxAuthTries 10\n")
    (tmp_path / "etc/ssh/sshd_config.d/50-ops.conf").write_text("match user backup\nX11Forwarding=yes\n")
    blocks = sshd_match_blocks(_run("sshd_match", tmp_path).text)
    assert [(b["criteria"], b["settings"]) for b in blocks] == [
        ("Address 10.0.0.0/8", {"permitrootlogin": "yes", "maxauthtries": "10"}),
        ("user backup", {"x11forwarding": "yes"})]
    assert blocks[1]["source"].endswith("/etc/ssh/sshd_config.d/50-ops.conf")

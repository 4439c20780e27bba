"""XZ-HOST-LOG-CENTRE: the live scan's check of the log centre itself - retention ≥ 180 days and ≥ every
declared retention, the daily sealing timer enabled and its last run successful, each source's newest seal
signed by the centre's SM2 key with its head equal to the chain file's last value.

Scenarios on sample output (tests/secmgmt/log_centre_sample.py), then end to end on this machine: the real
sealer (roles/log_centre/files/xzgov-log-seal, OpenSSL SM2) seals a day, the real gather-script section reads
it (paths moved to a temporary directory; ``systemctl`` answered by a stub, the one piece that needs a booted
host - tests/secmgmt/test_log_centre_live.py runs the section on the booted log centre)."""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policies.engine import Facts, Point, Status, run_rules
from policies.registry import rules_for_point
from tests.secmgmt.log_centre_sample import centre_section
from xzgov.crypto import sm2
from xzgov.facts.host_parsers import parse_sections
from xzgov.facts.host_script import (
    _SECTIONS,
    LOG_CENTRE_PUBLIC_KEY,
    LOG_CENTRE_RECEIVER,
    LOG_CENTRE_SEAL_UNIT,
    Section,
)

SEALER = Path(__file__).resolve().parents[2] / "roles/log_centre/files/xzgov-log-seal"
CENTRE_HOST = {"hostname": "logc01", "level": 3, "log_retention_days": 180, "secmgmt_role": "log-centre",
               "log_centre_retention_days": None}


def judge(section: str, **host: Any) -> tuple[Status, str]:
    values, _missing = parse_sections({"whoami": Section("0", 0), "log_centre": Section(section, 0)})
    values["host"] = {**CENTRE_HOST, **host}
    facts = Facts("secmgmt", Point.HOST, values, {}, "2026-01-01T08:00:00Z", "logc01", level=3)
    rule = next(rule for rule in rules_for_point(Point.HOST) if rule.id == "XZ-HOST-LOG-CENTRE")
    result = run_rules([rule], facts)[0]
    return result.status, result.message


def test_a_sealing_centre_with_enough_retention_passes() -> None:
    status, message = judge(centre_section())
    assert status is Status.PASS, message
    assert judge(centre_section(retention=400), log_centre_retention_days=365)[0] is Status.PASS


@pytest.mark.parametrize(("section", "host", "needle"), [
    ({"retention": 90}, {}, "retention 90 d below the required 180 d"),
    ({"retention": 180}, {"log_retention_days": 365}, "below the required 365 d"),  # the centre's own system
    ({"retention": 365}, {"log_centre_retention_days": 400}, "below the required 400 d"),  # a system sending here
    ({"timer": "disabled inactive"}, {}, "xzgov-log-seal.timer disabled inactive"),
    ({"result": "exit-code", "status": 1}, {}, "last sealing failed"),
    ({"signer": sm2.SM2PrivateKey.generate()}, {}, "SM2 signature untrusted"),
    ({"tamper": True}, {}, "SM2 signature invalid"),
    ({"sealed": "2025-12-20"}, {}, "newest seal 12 days old"),
])
def test_each_gap_fails_naming_it(section: dict[str, Any], host: dict[str, Any], needle: str) -> None:
    status, message = judge(centre_section(**section), **host)
    assert status is Status.FAIL and needle in message, message


def test_a_sealer_that_never_ran_and_a_missing_centre_fail() -> None:
    never = centre_section().replace("run ExecMainExitTimestamp=Thu 2026-01-01 00:10:03 UTC",
                                     "run ExecMainExitTimestamp=")
    status, message = judge(never)
    assert status is Status.FAIL and "has not run since boot" in message, message
    status, message = judge("")  # the inventory says log centre, nothing is installed
    assert status is Status.FAIL and "no xzgov-log-seal.service" in message, message


def test_nothing_sealed_yet_is_partial_and_other_hosts_are_not_applicable() -> None:
    kept = [line for line in centre_section().splitlines() if not line.startswith(("seal ", "chainhead ", "source "))]
    fresh = "\n".join([*kept, "source web-01 logs=1 oldest=2026-01-01"]) + "\n"
    status, message = judge(fresh)
    assert status is Status.PARTIAL and "no day sealed yet" in message, message
    assert judge("", secmgmt_role="")[0] is Status.NOT_APPLICABLE


# ------------------------------------------------------------------------ end to end on this machine
def _section_script(tmp: Path) -> str:
    script = dict(_SECTIONS)["log_centre"]
    for constant, name in ((LOG_CENTRE_SEAL_UNIT, "xzgov-log-seal.service"), (LOG_CENTRE_RECEIVER, "centre.conf"),
                           (LOG_CENTRE_PUBLIC_KEY, "seal.pub.pem")):
        assert constant in script
        script = script.replace(constant, str(tmp / name))
    return script


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_the_real_sealer_and_section_pass_and_tampering_fails(tmp_path: Path) -> None:
    root, key, public = tmp_path / "centre", tmp_path / "seal.key", tmp_path / "seal.pub.pem"
    probe = subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(key)], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        pytest.skip("this OpenSSL has no SM2")
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(public)], check=True)
    source = root / "web-01"
    source.mkdir(parents=True)
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    (source / f"{yesterday}.log").write_bytes(b"".join(b"<14>1 %d message\n" % i for i in range(50)))
    (source / f"{dt.date.today().isoformat()}.log").write_bytes(b"<14>1 today\n")
    seal = subprocess.run([sys.executable, str(SEALER), "--root", str(root), "--key", str(key)],
                          capture_output=True, text=True, check=False)
    assert seal.returncode == 0, seal.stderr
    (tmp_path / "centre.conf").write_text("# rsyslog receiving configuration\n")
    (tmp_path / "xzgov-log-seal.service").write_text(
        f"[Service]\nExecStart=/usr/local/sbin/xzgov-log-seal --root {root} --key {key} --retention-days 180 "
        "--status /var/lib/xzgov-logcentre/status\n")
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "systemctl").write_text(  # what systemd says on the log centre after the timer's run
        "#!/bin/sh\ncase \"$1\" in is-enabled) echo enabled;; is-active) echo active;; show) "
        "echo Result=success; echo ExecMainStatus=0; echo 'ExecMainExitTimestamp=Mon 2026-11-30 00:10:02 UTC';; "
        "esac\n")
    (stub / "systemctl").chmod(0o755)
    env = {**os.environ, "PATH": f"{stub}:{os.environ['PATH']}", "LC_ALL": "C"}

    def gather() -> str:
        run = subprocess.run(["sh", "-c", _section_script(tmp_path)], capture_output=True, text=True, env=env,
                             check=False)
        assert run.returncode == 0, run.stderr
        return run.stdout

    output = gather()
    assert "ldap_default_authtok" not in output and "PRIVATE" not in output  # public material only
    status, message = judge(output)
    assert status is Status.PASS, (message, output)
    # a seal edited after signing (fewer lines claimed) no longer verifies
    seal_file = source / f"{yesterday}.seal"
    document = json.loads(seal_file.read_text())
    seal_file.chmod(0o640)
    seal_file.write_text(json.dumps(dict(document, lines=49), indent=1) + "\n")
    status, message = judge(gather())
    assert status is Status.FAIL and "SM2 signature invalid" in message, message
    seal_file.write_text(json.dumps(document, indent=1) + "\n")
    assert judge(gather())[0] is Status.PASS
    # a chain file cut short no longer ends at the signed head
    chain = source / f"{yesterday}.chain"
    chain.chmod(0o640)
    chain.write_bytes(chain.read_bytes()[:-32])
    status, message = judge(gather())
    assert status is Status.FAIL and "head differs from the chain file" in message, message


# ------------------------------------------------------------------------------ XZ-HOST-LOG-MTLS
def judge_mtls(section: str) -> tuple[Status, str]:
    forwarding = 'action(type="omfwd" target="10.69.1.10" port="6514" protocol="tcp" StreamDriver="gtls" ' \
                 'StreamDriverMode="1" StreamDriverAuthMode="x509/name")'  # as roles/log_forwarding writes it
    values, _missing = parse_sections({"whoami": Section("0", 0), "log_tls": Section(section, 0),
                                       "rsyslog_conf": Section(forwarding, 0),
                                       "syslog_active": Section("rsyslog active\nsyslog-ng inactive", 0)})
    values["host"] = dict(CENTRE_HOST, secmgmt_role="")
    facts = Facts("secmgmt", Point.HOST, values, {}, "2026-01-01T08:00:00Z", "web-01", level=3)
    rule = next(rule for rule in rules_for_point(Point.HOST) if rule.id == "XZ-HOST-LOG-MTLS")
    result = run_rules([rule], facts)[0]
    return result.status, result.message


def test_the_real_tls_section_checks_the_client_certificate_against_the_ca(tmp_path: Path) -> None:
    from tests.secmgmt.log_centre_sample import client_certificate

    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key"
    conf = tmp_path / "forward.conf"

    def gather(*, days: int = 365, other_ca: bool = False, key_mode: int = 0o600, global_form: bool = False) -> str:
        ca, cert = client_certificate(days=days, other_ca=other_ca)
        ca_file.write_bytes(ca)
        cert_file.write_bytes(cert)
        key_file.write_text("(key)\n")
        key_file.chmod(key_mode)
        if global_form:  # rsyslog's legacy global directives
            conf.write_text(f"$DefaultNetstreamDriverCAFile {ca_file}\n$DefaultNetstreamDriverCertFile {cert_file}\n"
                            f"$DefaultNetstreamDriverKeyFile {key_file}\n")
        else:
            conf.write_text(f'action(type="omfwd" target="10.69.1.10" StreamDriver="gtls"\n'
                            f'    StreamDriver.CAFile="{ca_file}"\n    StreamDriver.CertFile="{cert_file}"\n'
                            f'    StreamDriver.KeyFile="{key_file}"\n)\n# StreamDriver.CertFile="/commented/out"\n')
        script = dict(_SECTIONS)["log_tls"].replace("/etc/rsyslog.conf /etc/rsyslog.d/*.conf", str(conf))
        run = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr
        assert "(key)" not in run.stdout  # the key's content is never gathered
        if os.geteuid() == 0:
            return run.stdout
        # not root here: files are the runner user's; on a host they are root's (what the rule wants)
        user = pwd.getpwuid(os.geteuid()).pw_name
        return run.stdout.replace(f" {user} ", " root ")

    status, message = judge_mtls(gather())
    assert status is Status.PASS, message
    assert judge_mtls(gather(global_form=True))[0] is Status.PASS
    status, message = judge_mtls(gather(other_ca=True))
    assert status is Status.FAIL and "not issued by the configured CA" in message, message
    status, message = judge_mtls(gather(key_mode=0o644))
    assert status is Status.FAIL and "want 0600 root" in message, message
    status, message = judge_mtls(gather(days=10))
    assert status is Status.PARTIAL and "expires in" in message, message
    key_file.unlink()
    conf.write_text(conf.read_text())
    script = dict(_SECTIONS)["log_tls"].replace("/etc/rsyslog.conf /etc/rsyslog.d/*.conf", str(conf))
    output = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    status, message = judge_mtls(output)
    assert status is Status.FAIL and f"KeyFile {key_file} 不存在" in message, message

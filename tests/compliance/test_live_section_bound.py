"""A hung command costs the facts read from its section, not the host: each section of the gather script runs under
``timeout`` (xzgov.facts.host_script.gather_script), in a shell of its own with no input."""

from __future__ import annotations

import time

from xzgov.facts.host_parsers import parse_sections
from xzgov.facts.host_script import GATHER_SCRIPT, SECTION_SECONDS, finished, gather_script, split_sections
from xzgov.facts.host_transport import LocalTransport

_STAT = "stat -c '%a %U %G %n' /etc/passwd"


def _run(sections: tuple[tuple[str, str], ...], seconds: int = 1) -> tuple[float, str]:
    started = time.monotonic()
    rc, stdout, _ = LocalTransport().run(gather_script(seconds, sections), 60)
    assert rc == 0
    return time.monotonic() - started, stdout


def test_a_hung_section_is_ended_and_only_its_facts_go_missing() -> None:
    # a hung sysctl (with a child of its own, which must be ended too) between two sections that answer
    elapsed, stdout = _run((("whoami", "id -u"), ("sysctl", "sleep 30 & wait; echo 'kernel.x = 1'"),
                            ("stat", _STAT)))
    assert elapsed < 15, f"the hung section held the answer {elapsed:.0f}s"
    assert finished(stdout)
    sections = split_sections(stdout)
    assert sections["sysctl"].ended and not sections["stat"].ended and not sections["whoami"].ended
    facts, missing = parse_sections(sections)
    assert "sysctl" not in facts
    assert "did not finish in its time on the host" in missing["sysctl"] and "sysctl" in missing["sysctl"]
    assert "/etc/passwd" in facts["file_permissions"]  # the section after the hung one was gathered and judged


def test_a_fact_read_from_several_sections_is_missing_when_one_of_them_hung() -> None:
    # password hashing reads login.defs and pam_unix's sections besides the kernel parameters: one hung → missing
    _, stdout = _run((("kernel_params", "echo 'container no'"), ("login_defs_hashing", "sleep 30"),
                      ("pam_unix_cost", "true")))
    facts, missing = parse_sections(split_sections(stdout))
    assert "password_hashing" not in facts and "login_defs_hashing" in missing["password_hashing"]
    assert "kernel_params" in facts  # read from the section that answered only


def test_a_section_reading_its_input_does_not_swallow_the_rest_of_the_script() -> None:
    _, stdout = _run((("sysctl", "cat; echo 'kernel.y = 2'"), ("stat", _STAT)))
    sections = split_sections(stdout)
    assert finished(stdout) and "stat" in sections and sections["sysctl"].rc == 0


def test_every_section_of_the_real_script_is_bounded() -> None:
    assert f"timeout -k 2 {SECTION_SECONDS} /bin/sh -c" in GATHER_SCRIPT
    body = [line for line in GATHER_SCRIPT.splitlines()[2:] if not line.startswith("echo '===XZ:end")]
    assert body and all(" xz_section '" in line for line in body)

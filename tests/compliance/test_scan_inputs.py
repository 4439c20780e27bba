"""Hostile or malformed scan inputs beside the register: located exit-2 errors, never exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.results import ScanResult
from compliance.scanner import ScanOptions, scan
from xzgov.core.errors import ExitCode, XzgovError


def _config(root: Path, data: bytes) -> None:
    (root / "compliance").mkdir(exist_ok=True)
    (root / "compliance" / "config.yaml").write_bytes(data)


@pytest.mark.parametrize("data", [
    b"thresholds:\n  min_log_retention_days: \xff\xfe\n",  # not UTF-8
    b"thresholds: [1, 2]\n",  # wrongly typed
    b"thresholds: !!python/object/apply:os.system [true]\n",  # a foreign tag
    b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
])
def test_bad_scan_configuration_is_a_located_usage_error(register_root: Path, data: bytes) -> None:
    _config(register_root, data)
    with pytest.raises(XzgovError) as raised:
        scan(ScanOptions(root=register_root))
    assert raised.value.exit_code is ExitCode.USAGE
    assert raised.value.diagnostics and all(d.file == "compliance/config.yaml" and d.line >= 1
                                             for d in raised.value.diagnostics)


def test_a_waiver_id_with_a_trailing_newline_is_refused(register_root: Path) -> None:
    directory = register_root / "compliance" / "waivers"
    directory.mkdir(parents=True)
    (directory / "w.yaml").write_text(
        'apiVersion: xzgov.io/v1\nkind: Waivers\nwaivers:\n  - id: "W-2026-001\\n"\n    system: bad-retention\n'
        "    rule: XZ-MAN-LOG-RETENTION\n    reason: 日志中心扩容前临时保存 90 天\n"
        "    approver: {name: 张三, role: 网络安全负责人}\n    approved: \"2026-01-05\"\n"
        '    expires: "2026-12-31"\n', encoding="utf-8")
    with pytest.raises(XzgovError) as raised:
        scan(ScanOptions(root=register_root))
    assert raised.value.exit_code is ExitCode.USAGE
    assert any(d.path.endswith("id") and d.line == 4 for d in raised.value.diagnostics), raised.value.diagnostics


DECISION = """    crypto_level_decision:
      scheme: MMYY-FA-2026-007
      reason: 系统仅发布公开信息, 密码应用方案经评估确定为第二级
      approver: {name: 张三, role: 网络安全负责人}
      approved: "2026-03-01"
"""


@pytest.mark.parametrize(("decision", "flagged"), [("", True), (DECISION, False)])
def test_a_lowered_crypto_level_needs_its_recorded_decision(register_root: Path, decision: str, flagged: bool) -> None:
    manifest = register_root / "systems" / "fx" / "clean-l3.yaml"
    text = manifest.read_text("utf-8")
    lowered = text.replace("    filing_number: 54010013001-23001\n",
                           "    filing_number: 54010013001-23001\n    crypto_level: 2\n" + decision)
    assert lowered != text
    manifest.write_text(lowered, "utf-8")
    system = next(s for s in scan(ScanOptions(root=register_root, systems=("clean-l3",))).systems)
    statuses = {f.result.rule_id: f.result.status.value for f in system.findings}
    assert (statuses.get("XZ-MAN-CRYPTO-LEVEL") == "fail") is flagged, statuses


def test_a_static_scan_reports_progress_per_system(register_root: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    result = scan(ScanOptions(root=register_root, progress=lambda done, total, what: calls.append((done, total, what))))
    total = len(result.systems)
    assert [(done, size) for done, size, _ in calls] == [(n, total) for n in range(1, total + 1)]
    assert [what.split()[-1] for *_, what in calls] == [s.name for s in result.systems]


@pytest.mark.parametrize(("text", "fields"), [
    ("thresholds:\n  min_log_retention_days: abc\n", ["thresholds.min_log_retention_days"]),
    ("thresholds:\n  min_log_retention_days: -5\n", ["thresholds.min_log_retention_days"]),
    ("thresholds:\n  min_log_retention_days: .nan\n", ["thresholds.min_log_retention_days"]),
    ("thresholds:\n  min_log_retention_day: 200\n", ["thresholds.min_log_retention_day"]),  # a typo
    ("thresholds:\n  min_module_level: [1, 2]\n", ["thresholds.min_module_level"]),
    ("thresholds:\n  min_module_level: 2\n", ["thresholds.min_module_level"]),
    ("thresholds:\n  min_module_level: {5: 1, 3: x}\n", ["thresholds.min_module_level.5",
                                                        "thresholds.min_module_level.3"]),
    ("thresholds:\n  continuity: {3: {max_rpo_minutes: abc, rpo: 1}}\n",
     ["thresholds.continuity.3.max_rpo_minutes", "thresholds.continuity.3.rpo"]),
    ("thresholds:\n  ssh_root_login: [false]\n", ["thresholds.ssh_root_login"]),
    ("thresholds:\n  ssh_root_login: [no]\n", ["thresholds.ssh_root_login[0]"]),  # YAML 1.1's no, at its place
    ("thresholds:\n  audit_immutable_required: 1\n", ["thresholds.audit_immutable_required"]),
    ("thresholds:\n  trusted_registries: registry.xzgov.internal\n", ["thresholds.trusted_registries"]),
    # the right shape, no meaning (written into sshd and PAM by the roles, or judged against what nothing gives)
    ("thresholds:\n  ssh_max_auth_tries: 0\n", ["thresholds.ssh_max_auth_tries"]),
    ("thresholds:\n  ssh_max_sessions: 0\n", ["thresholds.ssh_max_sessions"]),
    ("thresholds:\n  ssh_root_login: [maybe]\n", ["thresholds.ssh_root_login"]),
    ("thresholds:\n  ssh_root_login: [yes]\n", ["thresholds.ssh_root_login[0]"]),  # (YAML 1.1's true, first)
    ("thresholds:\n  ssh_root_login: ['yes']\n", ["thresholds.ssh_root_login"]),
    ("thresholds:\n  password_min_classes: 5\n", ["thresholds.password_min_classes"]),
    ("thresholds:\n  password_hash_min_sha_rounds: 10\n", ["thresholds.password_hash_min_sha_rounds"]),
    ("thresholds:\n  min_module_level: {3: 9}\n", ["thresholds.min_module_level.3"]),
    ("thresholds:\n  continuity: {3: {min_dr_tier: 7}}\n", ["thresholds.continuity.3.min_dr_tier"]),
    ("thresholds:\n  faillock_min_unlock_seconds: 0\n", ["thresholds.faillock_min_unlock_seconds"]),
    ("thresholds:\n  password_min_length: 3\n", ["thresholds.password_min_length"]),
])
def test_a_threshold_of_the_wrong_shape_is_refused_where_it_is_written(register_root: Path, text: str,
                                                                       fields: list[str]) -> None:
    """Only the mapping was checked: ``min_module_level: {3: 2}`` (the documented default, restated) crashed the
    scan (exit 3, KeyError), ``abc`` became a rule error blamed on every manifest, a typo was ignored."""
    _config(register_root, text.encode())
    with pytest.raises(XzgovError) as raised:
        scan(ScanOptions(root=register_root))
    assert raised.value.exit_code is ExitCode.USAGE
    found = raised.value.diagnostics
    assert sorted(d.path for d in found) == sorted(fields), [d.render() for d in found]
    assert all(d.file == "compliance/config.yaml" and d.line >= 2 and d.hint for d in found)


def test_thresholds_restating_the_defaults_judge_as_the_defaults(register_root: Path) -> None:
    """A per-level table may name some levels (the others keep their defaults), keyed as YAML writes them."""
    plain = scan(ScanOptions(root=register_root))
    _config(register_root, b"thresholds:\n  min_module_level: {1: 1, 2: 1, 3: 2, 4: 3}\n  min_replicas: {3: 2}\n"
                           b"  continuity: {'3': {max_rpo_minutes: 60}}\n  max_miping_assessment_age_days: {1: null}\n"
                           b"  ssh_root_login: ['no']\n  min_log_retention_days: 180\n")
    restated = scan(ScanOptions(root=register_root))
    assert [(s.name, [(f.result.rule_id, f.result.status) for f in s.findings]) for s in restated.systems] == \
        [(s.name, [(f.result.rule_id, f.result.status) for f in s.findings]) for s in plain.systems]
    _config(register_root, b"thresholds:\n  min_log_retention_days: 100000\n")
    stricter = scan(ScanOptions(root=register_root))
    def retention_failures(result: ScanResult) -> int:
        return sum(f.result.rule_id == "XZ-MAN-LOG-RETENTION" and f.result.status.value == "fail"
                   for s in result.systems for f in s.findings)

    assert retention_failures(stricter) > retention_failures(plain)


def test_a_key_beside_thresholds_is_refused_at_its_line(register_root: Path) -> None:
    """`threshold:` (a typo of the one key) kept every default without a word."""
    _config(register_root, b"threshold:\n  min_log_retention_days: 90\n")
    with pytest.raises(XzgovError) as raised:
        scan(ScanOptions(root=register_root))
    assert raised.value.exit_code is ExitCode.USAGE
    [found] = raised.value.diagnostics
    assert (found.file, found.line, found.path) == ("compliance/config.yaml", 1, "threshold")
    assert "thresholds" in found.hint


@pytest.mark.parametrize("make", ["loop", "dangling", "folder"])
def test_a_config_that_is_no_file_is_refused_not_read_as_absent(register_root: Path, make: str) -> None:
    """A looping or dangling link, or a folder, at compliance/config.yaml was read as "no overrides"."""
    path = register_root / "compliance" / "config.yaml"
    path.parent.mkdir(exist_ok=True)
    if make == "loop":
        path.symlink_to("config.yaml")
    elif make == "dangling":
        path.symlink_to("/nonexistent/config.yaml")
    else:
        path.mkdir()
    with pytest.raises(XzgovError) as raised:
        scan(ScanOptions(root=register_root))
    assert raised.value.exit_code is ExitCode.USAGE
    assert any(d.file == "compliance/config.yaml" for d in raised.value.diagnostics)

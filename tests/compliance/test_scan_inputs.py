"""Hostile or malformed scan inputs beside the register: located exit-2 errors, never exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

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
        '    expires: "2099-12-31"\n', encoding="utf-8")
    with pytest.raises(XzgovError) as raised:
        scan(ScanOptions(root=register_root))
    assert raised.value.exit_code is ExitCode.USAGE
    assert any(d.path.endswith("id") and d.line == 4 for d in raised.value.diagnostics), raised.value.diagnostics

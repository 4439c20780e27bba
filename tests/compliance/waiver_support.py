"""A waiver the compliance tests share: bad-retention's log-retention finding of the fixture register, waived
until the end of 2026 (tests vary it by replacing its lines), and the one way a test writes a waiver file."""

from __future__ import annotations

from pathlib import Path

RULE_WAIVER = """  - id: W-2026-001
    system: bad-retention
    rule: XZ-MAN-LOG-RETENTION
    reason: 日志中心扩容前临时保存 90 天, 由集中审计平台另存副本
    approver: {name: 张三, role: 网络安全负责人}
    approved: "2026-01-05"
    expires: "2026-12-31"
"""


def write_waiver(root: Path, body: str = RULE_WAIVER) -> None:
    """``compliance/waivers/w.yaml`` of the register at ``root`` with the waiver entries ``body``."""
    directory = root / "compliance" / "waivers"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "w.yaml").write_text("apiVersion: xzgov.io/v1\nkind: Waivers\nwaivers:\n" + body, encoding="utf-8")

"""The host fact parsers on captured command output (no host needed): the time sources of
systemd-timesyncd and the immutable-audit flag."""

from __future__ import annotations

from xzgov.facts.host import Section, parse_sections

TIMESYNCD_ACTIVE = "chrony inactive\nchronyd inactive\nsystemd-timesyncd active\nntp inactive\nntpsec inactive\n"


def _time_servers(timesyncd_conf: str) -> list[str]:
    facts, _ = parse_sections({"whoami": Section("0", 0), "time_active": Section(TIMESYNCD_ACTIVE, 0),
                               "timesyncd_conf": Section(timesyncd_conf, 0)})
    servers: list[str] = facts["time_sync"]["servers"]
    return servers


def test_timesyncd_uses_fallback_ntp_when_ntp_is_empty() -> None:
    # /etc/systemd/timesyncd.conf as Debian ships it, with only the fallback set (timesyncd.conf(5):
    # FallbackNTP= is used when no NTP= server is known)
    captured = "[Time]\n#NTP=\nFallbackNTP=10.250.0.10 10.250.0.11\n#RootDistanceMaxSec=5\n"
    assert _time_servers(captured) == ["10.250.0.10", "10.250.0.11"]
    assert _time_servers("[Time]\nNTP=\nFallbackNTP=ntp.xz.gov.cn\n") == ["ntp.xz.gov.cn"]


def test_timesyncd_ntp_takes_precedence_and_empty_assignments_reset() -> None:
    main = "[Time]\nNTP=10.250.0.10\nFallbackNTP=0.debian.pool.ntp.org\n"
    assert _time_servers(main) == ["10.250.0.10"]
    # a drop-in (concatenated after the main file) adds to the list; an empty NTP= resets it
    assert _time_servers(main + "[Time]\nNTP=10.250.0.11\n") == ["10.250.0.10", "10.250.0.11"]
    assert _time_servers(main + "[Time]\nNTP=\n") == ["0.debian.pool.ntp.org"]
    assert _time_servers("[Time]\nFallbackNTP=a\nFallbackNTP=\n") == []


def _audit(status: Section) -> dict[str, object]:
    facts, _ = parse_sections({"whoami": Section("0", 0), "auditctl_status": status,
                               "auditd_active": Section("active", 0)})
    protection: dict[str, object] = facts["audit_log_protection"]
    return protection


def test_immutable_audit_rules_only_from_a_successful_auditctl_status() -> None:
    locked = "enabled 2\nfailure 1\npid 812\nrate_limit 0\nbacklog_limit 8192\nlost 0\nbacklog 0\n"
    assert _audit(Section(locked, 0))["immutable"] is True
    assert _audit(Section(locked.replace("enabled 2", "enabled 1"), 0))["immutable"] is False
    # `auditctl -s` failed (its output is not a status): no evidence that the rules are locked
    assert _audit(Section(locked, 1))["immutable"] is False
    failed = "Error sending status request (Operation not permitted)\nenabled 2\n"
    assert _audit(Section(failed, 255))["immutable"] is False

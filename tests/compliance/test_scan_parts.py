"""Parts of the scan on their own: parallel gathering with its progress callback, and the one verdict text."""

from __future__ import annotations

from compliance.results import ScoreCard, verdict_text
from compliance.scan.gather import gather_all
from xzgov.facts.host import GATHER_SCRIPT, HostTarget, Transport
from xzgov.facts.host_script import END


class _Captured:
    """Answers with captured gather output (a root user, nothing else), complete (the end mark)."""

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        assert script == GATHER_SCRIPT
        return 0, f"===XZ:whoami===\n0\n===XZ:whoami:rc=0===\n{END}\n", ""


class _Broken:
    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        raise RuntimeError("transport defect")


def test_gather_all_keeps_order_reports_progress_and_turns_defects_into_errors() -> None:
    targets = [HostTarget(f"h{i}", f"10.0.0.{i}", "clean-l3", {"xzgov_level": 3}) for i in range(5)]

    def transport_for(target: HostTarget) -> Transport:
        return _Broken() if target.name == "h2" else _Captured()

    calls: list[tuple[int, int, str]] = []
    gathered = gather_all(targets, transport_for, timeout=5, workers=2,
                          progress=lambda done, total, name: calls.append((done, total, name)))
    assert [g.target.name for g in gathered] == ["h0", "h1", "h2", "h3", "h4"]
    assert [done for done, _, _ in calls] == [1, 2, 3, 4, 5] and {total for _, total, _ in calls} == {5}
    assert sorted(name for _, _, name in calls) == ["h0", "h1", "h2", "h3", "h4"]
    broken = gathered[2]
    assert broken.facts is None and "transport defect" in broken.error
    assert all(g.reachable and g.facts is not None and g.facts.level == 3 for g in gathered if g.target.name != "h2")


def _card(verdict: str | None, verdict_range: tuple[str, str] | None, error: str = "") -> ScoreCard:
    return ScoreCard("等保", verdict, verdict_range, None, (0.0, 0.0), False, (), (), error)


def test_verdict_text() -> None:
    assert verdict_text(None) == "未评分"
    assert verdict_text(_card("良", ("良", "良"), error="bad scoring.yaml")) == "未评分"
    assert verdict_text(_card("优", ("优", "优"))) == "优"
    assert verdict_text(_card(None, ("差", "良"))) == "差–良"
    assert verdict_text(_card(None, None)) == "未评分"


def test_a_host_whose_transport_cannot_be_built_is_that_hosts_error_not_the_fleets() -> None:
    # transport_for raised in the submitting thread: one host's unusable connection settings aborted the scan
    targets = [HostTarget(f"h{i}", f"10.0.0.{i}", "clean-l3", {"xzgov_level": 3}) for i in range(3)]

    def transport_for(target: HostTarget) -> Transport:
        if target.name == "h1":
            raise ValueError("bad connection variable")
        return _Captured()

    gathered = gather_all(targets, transport_for, timeout=5, workers=2)
    assert [g.target.name for g in gathered] == ["h0", "h1", "h2"]
    assert gathered[1].facts is None and "bad connection variable" in gathered[1].error
    assert gathered[0].facts is not None and gathered[2].facts is not None

"""The KPIs of the example region against figures computed by hand from the manifests.

Hand count (39 systems, none exempt; as of 2025-06-30):

- 上云: 3 migrating (special-equipment 2025-03-31 — late, nagqu-grassland, changzhu-town-service) → 36/39
- 编目: 6 not catalogued (special-equipment, nagqu-grassland, changzhu-town-service, gyantse-town-service,
  cultural-relics, karuo-grassroots) → 33/39
- 归集: those 6 + nyingchi-tourism, shigatse-bianmin, eco-bigdata, zhufeng-qiyun, hotline-12345 → 28/39
- 打通: the 17 systems with a flow to data-exchange + data-exchange itself → 18/39
- 等保备案: special-equipment has no filing number → 38/39
- 密评通过: figures computed with the 14 systems below as passing (the scan's own conclusions pass none on this
  date: docs/kpi.md's table, tests/kpi/test_kpi_docs.py) → 14/39
- tiers: 自治区 31, 地市 4, 县区 2, 乡镇 2 (see the expectations below)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from compliance.kpi import compute_kpi, crypto_verdicts
from compliance.scanner import ScanOptions, scan
from xzgov.core.register import load_register

from .conftest import REPO, edit

AS_OF = "2025-06-30"
CRYPTO_PASSING = {
    "e-invoice", "public-payment", "crypto-service", "data-exchange", "e-license", "e-seal", "credit-sharing",
    "police-bigdata", "market-enforcement", "medical-insurance", "smart-emergency", "gov-service-platform",
    "info-publishing", "zangzhengtong-app",
}
#: metric → (met, total), overall and per tier
EXPECTED = {
    "全区合计": {"on-cloud": (36, 39), "catalogued": (33, 39), "aggregated": (28, 39), "connected": (18, 39),
             "filed": (38, 39), "crypto-passed": (14, 39)},
    "自治区": {"on-cloud": (30, 31), "catalogued": (29, 31), "aggregated": (26, 31), "connected": (16, 31),
            "filed": (30, 31), "crypto-passed": (14, 31)},
    "地市": {"on-cloud": (3, 4), "catalogued": (3, 4), "aggregated": (1, 4), "connected": (1, 4), "filed": (4, 4),
           "crypto-passed": (0, 4)},
    "县区": {"on-cloud": (2, 2), "catalogued": (1, 2), "aggregated": (1, 2), "connected": (1, 2), "filed": (2, 2),
           "crypto-passed": (0, 2)},
    "乡镇": {"on-cloud": (1, 2), "catalogued": (0, 2), "aggregated": (0, 2), "connected": (0, 2), "filed": (2, 2),
           "crypto-passed": (0, 2)},
}
#: task → (met, total, status, missed checkpoint)
TASKS = {
    "cloud-migration": (36, 39, "on-track", ""),            # milestones 60% (2023) and 85% (2024) met
    "data-catalogue": (33, 39, "overdue", "2024-12-31"),
    "data-aggregation": (28, 39, "on-track", ""),           # 71.8% ≥ the 2024 milestone of 60%
    "silo-connection": (18, 39, "overdue", "2024-12-31"),   # 46.2% < the 2024 milestone of 70%
    "one-network-service": (3, 11, "overdue", "2024-12-31"),  # 11 serving systems, 3 connected
    "dengbao-filing": (38, 39, "overdue", "2023-12-31"),
    "crypto-assessment": (14, 39, "on-track", ""),          # 35.9% ≥ the 2024 milestone of 30%
}


def _shares(group: object) -> dict[str, tuple[int, int]]:
    return {metric: (share.met, share.total) for metric, share in group.shares.items()}  # type: ignore[attr-defined]


def test_example_region_figures_match_the_hand_count() -> None:
    report = compute_kpi(load_register(REPO), AS_OF, {name: "基本符合" for name in CRYPTO_PASSING})
    assert _shares(report.overall) == EXPECTED["全区合计"]
    tiers = {k: v for k, v in EXPECTED.items() if k != "全区合计"}
    assert {tier.label: _shares(tier) for tier in report.tiers} == tiers
    assert {t.id: (t.share.met, t.share.total, t.status, t.missed) for t in report.tasks} == TASKS
    assert [t.id for t in report.overdue] == ["data-catalogue", "silo-connection", "one-network-service",
                                              "dengbao-filing"]
    leads = {t.id: [d for d, _ in t.lead] for t in report.overdue}
    assert leads == {"data-catalogue": ["dsjj"], "silo-connection": ["dsjj", "zfbgt"],
                     "one-network-service": ["zfbgt"], "dengbao-filing": ["gat"]}
    assert [(x.system, x.planned) for x in report.late_migrations] == [("special-equipment", "2025-03-31")]
    scjgj = next(g for g in report.departments if g.key == "scjgj")
    assert _shares(scjgj) == {"on-cloud": (3, 4), "catalogued": (3, 4), "aggregated": (3, 4), "connected": (2, 4),
                              "filed": (3, 4), "crypto-passed": (1, 4)}
    assert round(report.overall.shares["on-cloud"].percent or 0, 1) == 92.3
    data = report.to_json()
    assert data["overall"]["shares"]["connected"] == {"met": 18, "total": 39, "percent": 46.2}
    assert data["overdue_tasks"] == [t.id for t in report.overdue]


#: the two level-4 systems whose video records (GB/T 39786 8.1.c, PE-3, 应 at level 4) have no declared
#: mechanism fail 密评 since door access no longer scores PE-3 as well (their `# known gap:`)
VIDEO_RECORD_GAPS = {"police-bigdata", "crypto-service"}


#: systems whose 密评 score reaches 60 although management units are still pending: the three that rules decide
#: (8.7.a XZ-MAN-CRYPTO-LEVEL, 8.7.d / 8.7.e XZ-MAN-MIPING-ASSESSMENT) count on the card, so the lowest score (every
#: pending unit 不符合) still reaches 60 — food-safety at 60.04; the pending 应 units keep the worst case 不符合
SETTLED_BY_RULED_MANAGEMENT = {
    "internet-gateway", "security-ops-dr", "security-ops",
    "financial-risk", "zhufeng-qiyun", "lhasa-city-ops", "food-safety", "online-trade-monitor", "special-equipment",
    "eco-bigdata", "cultural-relics", "drug-supervision", "hotline-12345", "tianditu-xizang",
}


#: systems declaring an SM2 application login that none of their logins uses (password + SMS / TOTP only): the
#: 应 unit 身份鉴别 (AD-1) has no cryptography in use — a veto (since the December 2026 review; 基本符合 before)
LOGIN_WITHOUT_SM2 = {"duilongdeqing-service-hall", "ai-platform"}


#: systems whose 密评 score ranges over 基本符合–符合 (units still untested); the untested 应 units keep the worst
#: case 不符合 until an assessor judges them
PASSING_EITHER_WAY = {"gyantse-town-service", "karuo-grassroots", "nyingchi-tourism", "changzhu-town-service",
                      "nagqu-grassland", "shigatse-bianmin"}


def test_crypto_passing_systems_are_the_scans_settled_conclusions() -> None:
    """No system passes the static scan's 密评 on 2025-06-30: each has untested 应 management units that may still
    hold a high risk (before the December 2026 review a score reaching 60 with 19 such units untested counted as
    a settled 基本符合 — 31 of 39 systems). The signed assessor record settles medical-insurance later."""
    result = scan(ScanOptions(root=REPO, today=dt.date(2025, 6, 30)))
    verdicts = crypto_verdicts(result)
    assert {name for name, verdict in verdicts.items() if verdict in ("符合", "基本符合")} == set()
    ranges = {s.name: s.miping.verdict_range for s in result.systems if s.miping}
    for name in (CRYPTO_PASSING - VIDEO_RECORD_GAPS) | SETTLED_BY_RULED_MANAGEMENT:
        assert ranges[name] == ("不符合", "基本符合"), name
    for name in PASSING_EITHER_WAY:
        assert ranges[name] == ("不符合", "符合"), name
    for system in result.systems:
        card = system.miping
        assert card is not None and card.verdict_range is not None
        if card.verdict_range[0] == "不符合" and card.verdict_range[1] != "不符合":
            assert any(label.startswith("未测单元可能构成高风险") for label, _, _ in card.steps), system.name
    assert {verdicts[name] for name in VIDEO_RECORD_GAPS | LOGIN_WITHOUT_SM2} == {"不符合"}
    later = crypto_verdicts(scan(ScanOptions(root=REPO, today=dt.date(2026, 12, 1))))
    assert {name for name, verdict in later.items() if verdict in ("符合", "基本符合")} == {"medical-insurance"}


def test_deadlines_are_judged_as_of_the_date() -> None:
    register = load_register(REPO)
    early = {t.id: t.status for t in compute_kpi(register, "2023-06-30", {}).tasks}
    assert set(early.values()) == {"on-track"}
    late = compute_kpi(register, "2026-01-01", {n: "符合" for n in CRYPTO_PASSING})
    assert {t.id for t in late.overdue} == set(TASKS), "after every deadline each unmet task is overdue"
    assert {x.system for x in late.late_migrations} == {"special-equipment", "nagqu-grassland",
                                                        "changzhu-town-service"}


def test_exempt_and_undeclared_systems(region: Path) -> None:
    edit(region / "systems/scjgj/special-equipment.yaml", 'migration: {state: migrating, date: "2025-03-31"}',
         "migration: {state: exempt, reason: \"涉密信息系统, 不纳入政务云\"}")
    text = (region / "systems/wwj/cultural-relics.yaml").read_text(encoding="utf-8")
    start = text.index("  programme:")
    end = text.index("  lifecycle:")
    (region / "systems/wwj/cultural-relics.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    report = compute_kpi(load_register(region), AS_OF, {})
    overall = report.overall
    assert (overall.systems, overall.exempt, overall.undeclared) == (39, 1, 1)
    # special-equipment leaves every denominator; cultural-relics (no programme) meets no programme metric
    assert _shares(overall)["on-cloud"] == (35, 38)  # 38 in scope - 2 migrating - 1 undeclared
    assert _shares(overall)["catalogued"] == (33, 38)
    assert _shares(overall)["filed"] == (38, 38)
    assert report.exempt == (("special-equipment", "涉密信息系统, 不纳入政务云"),)
    assert report.late_migrations == ()


@pytest.mark.parametrize("as_of", ["2025-06-30"])
def test_json_is_stable(as_of: str) -> None:
    data = compute_kpi(load_register(REPO), as_of).to_json()
    assert data["format"] == "xzgov-kpi" and data["crypto_source"] == "none"
    crypto = next(t for t in data["tasks"] if t["metric"] == "crypto-passed")
    assert crypto["status"] == "unmeasured", "without a scan 密评 is not judged"
    assert [m["id"] for m in data["metrics"]] == ["on-cloud", "catalogued", "aggregated", "connected", "filed",
                                                  "crypto-passed"]
    assert [t["key"] for t in data["tiers"]] == ["自治区", "地市", "县区", "乡镇"]


def test_the_reports_kpis_are_judged_on_the_scans_as_of_day() -> None:
    """The report's KPI page was judged on the day the scan finished, whatever ``--as-of`` said: a scan pinned to
    2023-06-30 showed every programme task overdue beside 等保/密评 items judged on that earlier day."""
    import json
    import re

    from compliance.reports.html import render_site

    result = scan(ScanOptions(root=REPO, as_of=dt.date(2023, 6, 30)))
    page = render_site(result)["report.html"]
    found = re.search(r'<script type="application/json" id="xzgov-kpi">(.*?)</script>', page)
    assert found is not None
    kpi = json.loads(found.group(1))
    assert kpi["as_of"] == result.as_of == "2023-06-30"
    assert {task["status"] for task in kpi["tasks"]} == {"on-track"}, "judged before every deadline"


def test_the_kpi_page_shows_hidden_characters_of_the_programme_title_as_escapes() -> None:
    """The programme's title (region.yaml) reached the page's heading raw: a right-to-left override, a line
    separator or an escape sequence in it reordered or hid what the page and its source show."""
    import dataclasses

    from compliance.kpi_html import render_kpi_section

    report = compute_kpi(load_register(REPO), "2026-01-01", {})
    hostile = dataclasses.replace(report, title="三年行动\u202e计划\u2028\u200f\x1b[2J<b>")
    section = render_kpi_section(hostile)
    assert not any(c in section for c in "\u202e\u2028\u200f\x1b"), section
    assert "&lt;b&gt;" in section and "三年行动" in section


def test_the_filing_rate_counts_the_systems_the_filing_rule_judges(region: Path) -> None:
    """等保备案率 counted every system, a level-1 one (never filed) and a planned one (not live) as unfiled: the task
    could not reach 100 % while the scan's XZ-MAN-FILING found nothing to file. It counts what the rule judges."""
    from policies.engine import Status
    from policies.rules.manifest import filing
    from xzgov.facts.manifest import manifest_facts

    day = "2026-12-01"
    edit(region / "systems/sthjt/eco-bigdata.yaml", '    level: 2\n    filing_number: "54010013030-23026"',
         "    level: 1")  # level 1: not filed, never due
    edit(region / "systems/wwj/cultural-relics.yaml", '    filing_number: "54010013029-24003"\n', "")
    edit(region / "systems/wwj/cultural-relics.yaml", "lifecycle: {status: running,", "lifecycle: {status: planned,")
    edit(region / "systems/zfbgt/hotline-12345.yaml", '    filing_number: "54010013014-23013"\n', "")
    edit(region / "systems/zfbgt/hotline-12345.yaml", "lifecycle: {status: running,",
         'lifecycle: {go_live: "2026-11-20", status: running,')  # 11 days live: still within its 30 days
    register = load_register(region)
    report = compute_kpi(register, day, {})
    counted = 39 - 3  # special-equipment (running, no number, no go-live) stays counted, unfiled
    assert _shares(report.overall)["filed"] == (counted - 1, counted)
    assert next(t for t in report.tasks if t.id == "dengbao-filing").lagging == ("special-equipment",)
    judged = set()
    for system in register:  # the rule's verdicts over the same register: judged exactly where the KPI counts
        outcome = filing.check(manifest_facts(register, system, as_of=day)) if system.level >= 2 else None
        if outcome is not None and outcome.status is not Status.NOT_APPLICABLE and not outcome.silent:
            judged.add(system.name)
    assert len(judged) == counted and {"eco-bigdata", "cultural-relics", "hotline-12345"}.isdisjoint(judged)


def test_a_task_with_no_system_in_its_scope_is_not_achieved(region: Path) -> None:
    """A serving task no manifest names measured 0 of 0 and was reported 已达成 (its percentage taken as 100)."""
    edit(region / "region.yaml", "    tasks:\n", "    tasks:\n      - id: nobody-serves\n"
         "        title: 无人服务的任务\n        lead: [dsjj]\n        deadline: \"2024-06-30\"\n"
         "        measure: {metric: catalogued, target: 100, scope: serving}\n")
    report = compute_kpi(load_register(region), AS_OF, {})
    task = next(t for t in report.tasks if t.id == "nobody-serves")
    assert (task.share.total, task.status, task.status_label) == (0, "no-systems", "无适用系统")
    assert task.to_json()["status"] == "no-systems" and task not in report.overdue
    assert task.whole_region is False and next(t for t in report.tasks if t.id == "data-catalogue").whole_region


def test_a_lead_department_without_systems_has_its_row_and_page_for_the_tasks_it_leads() -> None:
    """jxt (经信厅) leads two tasks and owns no system: it had no department row and no page, so the tasks it leads
    were on no department page (docs/kpi.md: one page per department, with the tasks it leads)."""
    from compliance.kpi_html import kpi_script
    from compliance.reports.html import render_site

    report = compute_kpi(load_register(REPO), AS_OF)
    (jxt,) = [g for g in report.departments if g.key == "jxt"]
    assert jxt.systems == 0 and all(share.percent is None for share in jxt.shares.values())
    assert {t.id for t in report.tasks if any(d == "jxt" for d, _ in t.lead)} == {"cloud-migration",
                                                                                 "crypto-assessment"}
    site = render_site(scan(ScanOptions(root=REPO, as_of=dt.date(2025, 6, 30))))
    page = site["report-pages/dept-jxt.html"]
    assert "西藏自治区经济和信息化厅" in page and "0 个系统" in page and "牵头任务" in page
    # the KPI page says how 密评 passes as the figure counts it: a range settled at 基本符合 or better counts
    assert "区间未定的不计" not in kpi_script() and "基本符合–符合 计入" in kpi_script()


def test_an_unmeasured_task_reports_no_share_and_no_lagging_systems() -> None:
    """Without a scan the 密评 task is 未测算, yet it showed 0.0% (0/39) and named all 39 systems as lagging."""
    report = compute_kpi(load_register(REPO), AS_OF)
    (crypto,) = [t for t in report.tasks if t.metric == "crypto-passed"]
    assert crypto.status == "unmeasured"
    assert crypto.share.percent is None and crypto.share.text() == "—" and crypto.lagging == ()
    measured = compute_kpi(load_register(REPO), AS_OF, {})
    (judged,) = [t for t in measured.tasks if t.metric == "crypto-passed"]
    assert judged.status != "unmeasured" and judged.share.total > 0 and judged.lagging

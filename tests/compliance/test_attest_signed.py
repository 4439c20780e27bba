"""Signed attestation sets and the platform's inherited record: accepted only when the SM2 signature
verifies, the signer is pinned for the department and every evidence digest matches; tampered,
unauthorised-signer and wrong-digest sets are located errors (exit 2); expired ones put the items back
to pending with a warning; inherited items trace to the platform record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance.attest import signing
from compliance.results import ItemOutcome, ItemState, SystemReport
from compliance.scanner import ScanOptions, scan
from policies.engine import Severity
from xzgov.cli.main import _dispatch
from xzgov.core.errors import Diagnostic, ExitCode, XzgovError
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .attest_support import ATTESTATIONS, evidence, pin, platform_set, system_set, write_signed

TODAY = dt.date(2026, 6, 1)
MANUAL = "GB/T 22239-2019:8.1.9.2.a"  # 安全方案设计 (manual) of clean-l3 (dsjj, level 3)
MANUAL_2 = "GB/T 22239-2019:8.1.6.1.a"
PHYSICAL = "GB/T 22239-2019:8.1.1.1.a"  # inherited from the platform
EMC = "GB/T 22239-2019:8.1.1.10.b"
CABLES = "GB/T 22239-2019:8.1.1.3.b"  # at level 2: 7.1.1.3.b (the catalogue's equivalents)


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def _system(root: Path, name: str = "clean-l3") -> SystemReport:
    return scan(ScanOptions(root=root, systems=(name,), today=TODAY)).systems[0]


def _item(report: SystemReport, item: str) -> ItemOutcome:
    return next(i for i in report.items if i.item_id == item)


def _refused(root: Path) -> list[Diagnostic]:
    with pytest.raises(XzgovError) as caught:
        scan(ScanOptions(root=root, systems=("clean-l3",), today=TODAY))
    assert caught.value.exit_code is ExitCode.USAGE
    return list(caught.value.diagnostics)


def _signed(root: Path, key: SM2PrivateKey, **options: object) -> Path:
    pin(root, key, ["dsjj"])
    evidence(root, "evidence/record.pdf.txt")
    rows = [(MANUAL, "符合", "核查安全设计方案 v2.1 及专家论证意见"),
            (MANUAL_2, "部分符合", "访谈安全主管: 方针已发布, 未年度评审")]
    return write_signed(root, "dsjj.yaml", system_set("clean-l3", "dsjj", rows, **options), key)  # type: ignore[arg-type]


def _one_row(root: Path, key: SM2PrivateKey, item: str, result: str, reason: str, *, high_risk: bool | None = None,
             scopes: list[str] | None = None) -> dict[str, Any]:
    """A set of clean-l3 with one row (and the assessor's high-risk judgement, if any), its signer pinned for dsjj
    (with ``scopes``) and its evidence written: to sign."""
    if scopes is None:
        pin(root, key, ["dsjj"])
    else:
        pin(root, key, ["dsjj"], scopes)
    evidence(root, "evidence/record.pdf.txt")
    document = system_set("clean-l3", "dsjj", [(item, result, reason)])
    if high_risk is not None:
        document["attestations"][0]["high_risk"] = high_risk
    return document


def test_a_signed_set_decides_its_items_with_a_trail(register_root: Path, key: SM2PrivateKey) -> None:
    path = _signed(register_root, key)
    report = _system(register_root)
    item = _item(report, MANUAL)
    assert item.state is ItemState.PASS and item.attestation == "A-2026-001"
    assert _item(report, MANUAL_2).state is ItemState.PARTIAL
    trail = item.trail
    assert trail["by"] == "attestation" and trail["signer_fingerprint"] == keys.fingerprint(key.public_key)
    assert trail["file"].startswith(f"{ATTESTATIONS / 'dsjj.yaml'}:")
    line = int(trail["file"].rsplit(":", 1)[1])
    assert path.read_text(encoding="utf-8").splitlines()[line - 1].lstrip("- ").startswith("item: " + MANUAL)
    assert trail["evidence"][0]["file"] == "evidence/record.pdf.txt" and len(trail["evidence"][0]["sm3"]) == 64
    assert item.decided_by == "attestation"
    audit = report.audit_trail()
    assert audit["records"]["A-2026-001"]["items"] == 2 and audit["by"]["attestation"] == 2


def test_a_tampered_set_is_refused(register_root: Path, key: SM2PrivateKey) -> None:
    path = _signed(register_root, key)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("result: 部分符合", "result: 符合"), encoding="utf-8")  # upgraded after signing
    (problem,) = _refused(register_root)
    assert problem.code == "signature" and "changed after it was signed" in problem.message
    assert problem.file == str(ATTESTATIONS / "dsjj.yaml") and problem.line > 1 and problem.hint


def test_a_signer_who_is_not_pinned_is_refused(register_root: Path, key: SM2PrivateKey) -> None:
    _signed(register_root, key)
    stranger = SM2PrivateKey.generate()
    write_signed(register_root, "dsjj.yaml", system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查方案")]), stranger)
    (problem,) = _refused(register_root)
    assert problem.code == "signer" and "not pinned" in problem.message and problem.line > 1


def test_a_signer_pinned_for_another_department_is_refused(register_root: Path) -> None:
    other = SM2PrivateKey.generate()
    pin(register_root, other, ["jyt"])
    evidence(register_root, "evidence/record.pdf.txt")
    write_signed(register_root, "dsjj.yaml", system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查方案")]), other)
    (problem,) = _refused(register_root)
    assert problem.code == "signer" and "may not attest system sets for department dsjj" in problem.message
    assert "region.yaml:" in problem.message


def test_a_key_pinned_twice_is_refused_not_the_first_grant_dropped(register_root: Path, key: SM2PrivateKey) -> None:
    """A fingerprint listed twice in spec.attestation_signers kept the last entry without a word: the first
    entry's departments and scopes were gone (a set it authorised was refused as unauthorised, or a grant
    withdrawn in the first entry came back from the second). Now a located error at the second entry."""
    _signed(register_root, key)
    pin(register_root, key, ["jyt"], name="李四")
    (problem,) = _refused(register_root)
    assert problem.file == "region.yaml" and problem.path.endswith("fingerprint") and problem.line > 1
    assert "pinned already" in problem.message and "王五" in problem.message and "one entry per key" in problem.hint


def test_a_set_signed_in_someone_elses_name_is_refused(register_root: Path, key: SM2PrivateKey) -> None:
    pin(register_root, key, ["dsjj"], name="李四")  # the key is 李四's; the set claims 王五 attested
    evidence(register_root, "evidence/record.pdf.txt")
    write_signed(register_root, "dsjj.yaml", system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查方案")]), key)
    (problem,) = _refused(register_root)
    assert problem.code == "signer" and problem.path == "attested_by.name" and "李四" in problem.message


def test_a_set_for_a_system_of_another_department_is_refused(register_root: Path, key: SM2PrivateKey) -> None:
    pin(register_root, key, ["jyt"])
    evidence(register_root, "evidence/record.pdf.txt")
    write_signed(register_root, "jyt.yaml", system_set("clean-l3", "jyt", [(MANUAL, "符合", "核查方案")]), key)
    problems = _refused(register_root)
    assert any(p.code == "reference" and "belongs to dsjj" in p.message for p in problems)


def test_a_wrong_evidence_digest_is_refused(register_root: Path, key: SM2PrivateKey) -> None:
    _signed(register_root, key)
    evidence(register_root, "evidence/record.pdf.txt", "被替换的证据\n")
    problems = _refused(register_root)  # both rows cite the changed file
    assert {p.code for p in problems} == {"digest"} and "changed after attestation" in problems[0].message
    assert [p.path for p in problems] == ["attestations[0].evidence[0].sm3", "attestations[1].evidence[0].sm3"]
    assert all(p.line > 1 and p.file == str(ATTESTATIONS / "dsjj.yaml") for p in problems)


def test_a_missing_evidence_file_is_refused(register_root: Path, key: SM2PrivateKey) -> None:
    _signed(register_root, key)
    (register_root / ATTESTATIONS / "evidence" / "record.pdf.txt").unlink()
    problems = _refused(register_root)
    assert {p.code for p in problems} == {"missing"}


def test_an_expired_set_puts_its_items_back_to_pending(register_root: Path, key: SM2PrivateKey) -> None:
    _signed(register_root, key, date="2025-01-10", expires="2026-01-09")
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    item = _item(result.systems[0], MANUAL)
    assert item.state is ItemState.MANUAL_PENDING and item.attestation is None
    assert "2026-01-09" in item.note and "A-2026-001" in item.note
    assert any("expired on 2026-01-09" in w for w in result.warnings)


def test_an_unsigned_set_and_the_old_unsigned_format_are_refused(register_root: Path) -> None:
    folder = register_root / ATTESTATIONS
    folder.mkdir(parents=True)
    (folder / "draft.yaml").write_text(yaml.safe_dump(system_set("clean-l3", "dsjj", [(MANUAL, "符合", "x")]),
                                                      allow_unicode=True), encoding="utf-8")
    (folder / "old.yaml").write_text("apiVersion: xzgov.io/v1\nkind: Attestations\nattestations: []\n",
                                     encoding="utf-8")
    problems = _refused(register_root)
    assert {p.code for p in problems} == {"unsigned"}
    assert {p.file for p in problems} == {str(ATTESTATIONS / "draft.yaml"), str(ATTESTATIONS / "old.yaml")}


# ------------------------------------------------------------------------------------ the platform record


def _platform(root: Path, key: SM2PrivateKey, **options: object) -> None:
    pin(root, key, ["dsjj"], ["platform"])
    evidence(root, "platform/evidence/report.txt", "等级测评报告 结论与单项结果\n")
    rows = [(EMC, "部分符合", "报告 §5.1.10: 存储区机柜未做电磁屏蔽"), (CABLES, "不符合", "报告 §5.1.3: 线缆明敷")]
    write_signed(root, "platform/record.yaml", platform_set(rows=rows, **options), key)  # type: ignore[arg-type]


def test_inherited_items_trace_to_the_platform_record(register_root: Path, key: SM2PrivateKey) -> None:
    _platform(register_root, key)
    report = _system(register_root)
    physical = _item(report, PHYSICAL)
    assert physical.state is ItemState.INHERITED and physical.underlying is ItemState.PASS
    assert physical.score_status == "符合" and "DJCP-2026-0001" in physical.note
    trail = physical.trail
    assert trail["by"] == "platform-record" and trail["set"] == "P-2026-001" and trail["report"] == "DJCP-2026-0001"
    emc = _item(report, EMC)
    assert emc.underlying is ItemState.PARTIAL and emc.trail["result"] == "部分符合"
    record = register_root / ATTESTATIONS / "platform" / "record.yaml"
    line = int(emc.trail["file"].rsplit(":", 1)[1])
    assert record.read_text(encoding="utf-8").splitlines()[line - 1].lstrip("- ") == f"item: {EMC}"
    assert physical.decided_by == "platform-record"
    # the same requirement at level 2 takes the report's line for it through the catalogue's equivalents
    level2 = _system(register_root, "clean-l2")
    cables = next(i for i in level2.items if i.item_id == "GB/T 22239-2019:7.1.1.3.b")
    assert cables.underlying is ItemState.FAIL and cables.trail is not None and cables.trail["result"] == "不符合"
    assert _item(level2, "GB/T 22239-2019:7.1.1.1.a").underlying is ItemState.PASS


@pytest.mark.parametrize(("judged", "vetoed", "possible"), [(True, True, False), (False, False, False),
                                                            (None, False, True)])
def test_a_platform_records_failure_of_a_mitigable_case_follows_the_reports_high_risk_judgement(
    register_root: Path, key: SM2PrivateKey, judged: bool | None, vetoed: bool, possible: bool
) -> None:
    """8.1.1.2.a (a physical item every tenant inherits; its case lists mitigations) 不符合 in the platform's
    record never vetoed, whatever the report said of its risk: the record's row takes the same high_risk as a
    system's attested row (without it the failure may be a high risk), and the tenant's card follows it."""
    door = "GB/T 22239-2019:8.1.1.2.a"
    pin(register_root, key, ["dsjj"], ["platform"])
    evidence(register_root, "platform/evidence/report.txt", "等级测评报告 结论与单项结果\n")
    document = platform_set(rows=[(door, "不符合", "报告 §5.1.2: 机房门禁未启用")])
    if judged is not None:
        document["attestations"][0]["high_risk"] = judged
    write_signed(register_root, "platform/record.yaml", document, key)
    report = _system(register_root)
    item = _item(report, door)
    assert item.state is ItemState.INHERITED and item.underlying is ItemState.FAIL
    assert item.trail is not None and item.trail.get("high_risk") is judged
    assert report.dengbao is not None
    assert (door in report.dengbao.high_risk) is vetoed
    steps = " ".join(formula for _, formula, _ in report.dengbao.steps)
    assert (door in steps and "high_risk" in steps) is possible
    assert item.high_risk is (vetoed or possible)
    # the veto gates the scan as a high finding would (it exited 0 beside the 等保 不符合 it forced); an open
    # 可能高风险 does not
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    gated = [(s.name, o.item_id) for s, o in result.attested_blocking()]
    assert gated == ([("clean-l3", door)] if vetoed else [])
    assert result.attested_blocking(Severity.CRITICAL) == []


def test_a_missing_or_expired_platform_record_leaves_inherited_items_pending(register_root: Path,
                                                                            key: SM2PrivateKey) -> None:
    physical = _item(_system(register_root), PHYSICAL)
    assert physical.state is ItemState.INHERITED and physical.score_status == "未测"
    assert physical.decided_by == "pending"
    _platform(register_root, key, date="2025-01-10", expires="2026-01-09")
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    physical = _item(result.systems[0], PHYSICAL)
    assert physical.score_status == "未测" and "已于 2026-01-09 过期" in physical.note
    assert any("P-2026-001" in w for w in result.warnings)


def test_a_platform_assessed_below_the_system_level_is_not_inherited(register_root: Path,
                                                                     key: SM2PrivateKey) -> None:
    _platform(register_root, key, level=2)
    physical = _item(_system(register_root), PHYSICAL)
    assert physical.score_status == "未测" and "低于本系统第3级" in physical.note


def test_the_platform_record_needs_a_platform_signer(register_root: Path, key: SM2PrivateKey) -> None:
    pin(register_root, key, ["dsjj"], ["system"])  # may attest the department's own items only
    evidence(register_root, "platform/evidence/report.txt")
    write_signed(register_root, "platform/record.yaml", platform_set(), key)
    (problem,) = _refused(register_root)
    assert problem.code == "signer" and "platform sets" in problem.message


def test_only_the_platform_operator_signs_the_platform_record(register_root: Path, key: SM2PrivateKey,
                                                              tmp_path: Path) -> None:
    """A key pinned with scope platform for a tenant department (ybj) signed a platform set for ybj, and every
    tenant inherited its results: only a department holding the operator groups (dsjj: platform-ops) may."""
    pin(register_root, key, ["ybj"], ["platform"])
    evidence(register_root, "platform/evidence/report.txt", "等级测评报告 结论与单项结果\n")
    document = platform_set(department="ybj")
    write_signed(register_root, "platform/record.yaml", document, key)  # signed without the CLI's checks
    (problem,) = _refused(register_root)
    assert (problem.code, problem.path) == ("reference", "metadata.department")
    assert "does not operate the cloud platform" in problem.message and "dsjj" in problem.message
    # `xzgov attest sign` refuses it before signing, and leaves the worksheet as it was
    key_file = tmp_path / "signer.pem"
    keys.write_private_key(key_file, key)
    worksheet = register_root / ATTESTATIONS / "platform" / "draft.yaml"
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    before = worksheet.read_bytes()
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01"]) == ExitCode.USAGE
    assert worksheet.read_bytes() == before
    # the platform operator's own set, by a key pinned for dsjj, is accepted as before (another key: one pin
    # entry per key)
    (register_root / ATTESTATIONS / "platform" / "record.yaml").unlink()
    worksheet.unlink()
    _platform(register_root, SM2PrivateKey.generate())
    assert _item(_system(register_root), PHYSICAL).score_status == "符合"


# ------------------------------------------------------------------------------------------------ the CLI


def _signable(register_root: Path, key: SM2PrivateKey, tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """(the signer's key file, the worksheet path, a filled set of clean-l3 with its evidence): pinned, to write."""
    pin(register_root, key, ["dsjj"])
    key_file = tmp_path / "signer.pem"
    keys.write_private_key(key_file, key)
    evidence(register_root, "evidence/record.pdf.txt")
    document = system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查方案")], expires=None)
    return key_file, register_root / ATTESTATIONS / "dsjj.yaml", document


def test_sign_command_signs_a_filled_worksheet(register_root: Path, key: SM2PrivateKey, tmp_path: Path) -> None:
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    document["attestations"].append({"item": MANUAL_2, "result": None, "reason": None, "evidence": []})
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01"]) == ExitCode.OK
    signed = yaml.safe_load(worksheet.read_text(encoding="utf-8"))
    assert [row["item"] for row in signed["attestations"]] == [MANUAL]  # the empty row is left out
    assert signed["expires"] == "2027-02-01" and signed["signature"]["algorithm"] == "SM2-SM3"
    assert _item(_system(register_root), MANUAL).state is ItemState.PASS
    assert _dispatch(["attest", "check", "--root", str(register_root), "--today", "2026-06-01"]) == ExitCode.OK
    # two signatures of the same set differ (fresh nonces), both verify
    again = tmp_path / "again.yaml"
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01", "--out", str(again)]) == ExitCode.USAGE  # evidence not beside --out


def test_sign_refuses_a_set_in_another_persons_name(register_root: Path, key: SM2PrivateKey, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A review: sign said "authorised": true, exited 0 and signed in place a set whose attested_by names someone
    else than the key's pinned owner — which every scan then refuses (exit 2 for the whole region)."""
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    document["attested_by"]["name"] = "张三"
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    worksheet.write_text(text, encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01"]) == ExitCode.USAGE
    assert "attested_by.name" in capsys.readouterr().err
    assert worksheet.read_text(encoding="utf-8") == text  # nothing signed


def test_sign_and_check_say_when_the_set_was_judged_at_another_level(
        register_root: Path, key: SM2PrivateKey, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A review: a set judged at level 2 for a level-3 system signed without a warning and `attest check` counted its
    rows as attested, while every scan drops them (a signed 不符合 with high_risk: true, and the gate with it)."""
    import json

    key_file, worksheet, _ = _signable(register_root, key, tmp_path)
    document = system_set("clean-l3", "dsjj", [(MANUAL, "不符合", "核查方案未编制")], expires=None, level=2)
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    capsys.readouterr()
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01", "--format", "json"]) == ExitCode.OK
    signed = capsys.readouterr()
    assert any("等保 level 2" in said for said in json.loads(signed.out)["not_used"]), signed.out
    assert "the system is at 3" in signed.err
    assert _dispatch(["attest", "check", "--root", str(register_root), "--today", "2026-06-01", "--format",
                      "json"]) == ExitCode.OK
    checked = json.loads(capsys.readouterr().out)
    assert checked["systems"] == {} and any("等保 level 2" in said for said in checked["warnings"])
    assert _item(_system(register_root), MANUAL).attestation is None  # what the scan does, as said


def test_sign_refuses_a_row_without_reason_or_evidence(register_root: Path, key: SM2PrivateKey,
                                                       tmp_path: Path) -> None:
    key_file = tmp_path / "signer.pem"
    keys.write_private_key(key_file, key)
    worksheet = register_root / ATTESTATIONS / "dsjj.yaml"
    worksheet.parent.mkdir(parents=True)
    document = system_set("clean-l3", "dsjj", [(MANUAL, "符合", "")], evidence_file="evidence/none.pdf")
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    before = worksheet.read_text(encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root)]
                     ) == ExitCode.USAGE
    assert worksheet.read_text(encoding="utf-8") == before  # nothing signed, nothing changed


@pytest.mark.parametrize(("change", "field"), [
    ({"item": "GB/T 22239-2019:99.9.9.z"}, "attestations[0].item"),
    ({"system": "no-such-system"}, "metadata.system"),
    ({"department": "no-such-dept"}, "metadata.department"),
    ({"date": "1900-01-01"}, "expires"),
    ({"date": "2099-01-01"}, "date"),
    ({"date": "2027-02-30"}, "date"),  # the schema checks the form only: was a ValueError, exit 3
    ({"system": None}, "metadata"),  # reported as "unknown system 'None'"
])
def test_sign_refuses_what_the_scan_would_refuse(register_root: Path, key: SM2PrivateKey, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str], change: dict[str, str],
                                                 field: str) -> None:
    """Unknown items, systems and departments, a set expired already or dated ahead were signed, then refused
    by every scan: one check (compliance.attest.loader) now runs at both."""
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    for name in ("system", "department"):
        document["metadata"][name] = change.get(name, document["metadata"][name])
        if document["metadata"][name] is None:
            del document["metadata"][name]
    document["attestations"][0]["item"] = change.get("item", MANUAL)
    document["date"] = change.get("date", document["date"])
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    before = worksheet.read_text(encoding="utf-8")
    capsys.readouterr()
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root)]
                     ) == ExitCode.USAGE
    assert f"[{field}]" in capsys.readouterr().err
    assert worksheet.read_text(encoding="utf-8") == before


def test_sign_refuses_a_day_ahead(register_root: Path, key: SM2PrivateKey, tmp_path: Path) -> None:
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    del document["date"]
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    sign = ["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root), "--today"]
    assert _dispatch([*sign, "2099-01-01"]) == ExitCode.USAGE
    assert _dispatch([*sign, "2026-11-30"]) == ExitCode.OK  # the same set, dated on a day already passed


def test_sign_without_today_keeps_working_after_the_pinned_day(register_root: Path, key: SM2PrivateKey,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """The suite pins $XZGOV_AS_OF (the scan's day); a set signed without --today is dated by the clock, which
    was compared with the pinned day: every such signature was refused once the clock passed it."""
    monkeypatch.setenv("XZGOV_AS_OF", "2026-04-01")  # the clock is well past it
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    del document["date"]
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root)]
                     ) == ExitCode.OK
    signed = yaml.safe_load(worksheet.read_text(encoding="utf-8"))
    assert signed["date"] == "2026-04-01"  # dated the scan's day, not the clock's: the scan of that day counts it


def test_sign_refuses_a_set_dated_after_the_scans_day(register_root: Path, key: SM2PrivateKey, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """compliance/attestations/README.md: sign refuses a date after the scan's day. It signed one, and every scan of
    that day then left its items pending."""
    monkeypatch.setenv("XZGOV_AS_OF", "2026-04-01")
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    document["date"] = "2026-04-02"
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root)]
                     ) == ExitCode.USAGE


def test_an_item_of_another_level_is_reported_not_used(register_root: Path, key: SM2PrivateKey) -> None:
    pin(register_root, key, ["dsjj"])
    evidence(register_root, "evidence/record.pdf.txt")
    level2 = "GB/T 22239-2019:7.1.9.2.a"  # a worksheet made with --level 2 for a level-3 system
    write_signed(register_root, "dsjj.yaml", system_set("clean-l3", "dsjj", [(level2, "符合", "核查方案")]), key)
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    assert any(level2 in w and "not an item of clean-l3" in w for w in result.warnings)
    assert all(i.item_id != level2 for i in result.systems[0].items)


def test_sign_locates_a_set_dated_ahead_or_expired(register_root: Path, key: SM2PrivateKey, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The set's own date and expires are checked where prepare reads them: each problem at its line."""
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    sign = ["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root)]
    for field, value in (("date", "2099-01-01"), ("expires", "2000-01-01")):
        changed = {**document, field: value}
        text = yaml.safe_dump(changed, allow_unicode=True, sort_keys=False)
        worksheet.write_text(text, encoding="utf-8")
        assert _dispatch(sign) == ExitCode.USAGE
        line = next(number for number, row in enumerate(text.splitlines(), 1) if row.startswith(f"{field}:"))
        assert f"{worksheet}:{line}" in capsys.readouterr().err
        assert worksheet.read_text(encoding="utf-8") == text  # nothing signed


# ------------------------------------------------------------------ periods: in force from date to expires


def test_a_set_dated_after_the_judged_day_is_not_applied(register_root: Path, key: SM2PrivateKey) -> None:
    """A scan judging an earlier day ($XZGOV_AS_OF) applied a set signed later: the report showed attestations
    that did not exist yet."""
    _signed(register_root, key, date="2026-07-01", expires="2027-06-30")  # TODAY is 2026-06-01
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    item = _item(result.systems[0], MANUAL)
    assert item.state is ItemState.MANUAL_PENDING and item.attestation is None
    assert any("A-2026-001" in w and "after the day judged" in w for w in result.warnings), result.warnings


def test_a_platform_assessment_older_than_the_level_allows_is_not_inherited(register_root: Path,
                                                                            key: SM2PrivateKey) -> None:
    """A 2017 assessment signed until 2099 decided every tenant's physical items: the record's age is the
    assessment's, and a level-3 platform is re-assessed within 365 days."""
    _platform(register_root, key, date="2025-02-01", expires="2027-01-31")  # 485 days before TODAY
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    physical = _item(result.systems[0], PHYSICAL)
    assert physical.score_status == "未测" and physical.decided_by == "pending"
    assert any("older than 365 days" in w for w in result.warnings), result.warnings


def _unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign without the period rule (as an older xzgov, or a hand-made signature, would): the loader checks."""
    monkeypatch.setattr(signing, "period_problems", lambda *_: [])


@pytest.mark.parametrize(("scope", "change", "field"), [
    ("system", {"expires": "2099-12-31"}, "expires"),
    ("platform", {"expires": "2099-12-31"}, "expires"),
    ("platform", {"default_result": "不适用"}, "assessment.default_result"),
    ("platform", {"conclusion": "不符合"}, "assessment.default_result"),
    ("platform", {"assessment_date": "2026-03-01"}, "assessment.date"),
])
def test_a_period_or_platform_record_that_makes_no_sense_is_refused_at_signing_and_loading(
        register_root: Path, key: SM2PrivateKey, monkeypatch: pytest.MonkeyPatch, scope: str,
        change: dict[str, str], field: str) -> None:
    if scope == "system":
        document = system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查安全设计方案")], **change)
        pin(register_root, key, ["dsjj"])
        evidence(register_root, "evidence/record.pdf.txt")
        relative = "dsjj.yaml"
    else:
        document = platform_set(**{k: v for k, v in change.items() if k == "expires"})
        for name in ("default_result", "conclusion"):
            document["assessment"][name] = change.get(name, document["assessment"][name])
        document["assessment"]["date"] = change.get("assessment_date", document["assessment"]["date"])
        pin(register_root, key, ["dsjj"], ["platform"])
        evidence(register_root, "platform/evidence/report.txt", "等级测评报告\n")
        relative = "platform/record.yaml"
    with pytest.raises(XzgovError) as refused:
        write_signed(register_root, relative, document, key)
    assert field in {d.path for d in refused.value.diagnostics}, refused.value.diagnostics
    _unchecked(monkeypatch)
    write_signed(register_root, relative, document, key)
    assert field in {d.path for d in _refused(register_root)}


def test_yaml_evidence_is_not_read_as_a_set(register_root: Path, key: SM2PrivateKey) -> None:
    """A configuration export kept as evidence broke every scan (exit 2: not an attestation set)."""
    _signed(register_root, key)
    evidence(register_root, "evidence/firewall-export.yaml", "rules:\n  - {port: 443}\n")
    assert _item(_system(register_root), MANUAL).state is ItemState.PASS


def test_an_evidence_path_that_is_no_path_is_a_located_error(register_root: Path, key: SM2PrivateKey) -> None:
    """A NUL byte in an evidence path was an internal error (exit 3) in sign, check and scan."""
    pin(register_root, key, ["dsjj"])
    document = system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查")], evidence_file="evidence/a\x00b.txt")
    with pytest.raises(XzgovError) as refused:
        write_signed(register_root, "dsjj.yaml", document, key)
    assert refused.value.exit_code is ExitCode.USAGE
    assert "missing" in [d.code for d in refused.value.diagnostics]


def test_an_attested_result_a_rule_overrides_or_a_tenant_gives_a_platform_item_is_named(
        register_root: Path, key: SM2PrivateKey) -> None:
    """A signed 不符合 on an item a rule decides was dropped without a word; a tenant's own set decided
    云平台 items (skipping the platform record and its level)."""
    ruled = "GB/T 22239-2019:8.1.4.1.d"  # XZ-MAN-AUTH-MFA decides it (and passes it on clean-l3)
    pin(register_root, key, ["dsjj"])
    evidence(register_root, "evidence/record.pdf.txt")
    rows = [(ruled, "符合", "现场核查: 双因素登录"), (PHYSICAL, "符合", "自评: 机房在云平台")]
    write_signed(register_root, "dsjj.yaml", system_set("clean-l3", "dsjj", rows), key)
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    said = result.system_warnings.get("clean-l3", [])
    assert any(ruled in w and "a rule decides this item" in w for w in said), said
    assert any(PHYSICAL in w and "platform-responsibility" in w for w in said), said
    # the assessor's signed 不符合 outranks the rule's pass (it was discarded with that warning, the item passed)
    rows[0] = (ruled, "不符合", "现场核查: 管理员仅口令登录")
    write_signed(register_root, "dsjj.yaml", system_set("clean-l3", "dsjj", rows), key)
    outranked = _item(_system(register_root), ruled)
    assert outranked.state is ItemState.FAIL and outranked.attestation == "A-2026-001"
    assert outranked.decided_by == "attestation" and "现场核查结果优先于规则结果" in outranked.note
    physical = _item(result.systems[0], PHYSICAL)
    assert physical.attestation is None and physical.decided_by == "pending"


@pytest.mark.parametrize(("judged", "vetoed", "possible"), [(True, True, False), (False, False, False),
                                                            (None, False, True)])
def test_an_attested_failure_of_a_mitigable_case_follows_the_assessors_high_risk_judgement(
    register_root: Path, key: SM2PrivateKey, judged: bool | None, vetoed: bool, possible: bool
) -> None:
    """8.1.4.2.e (case 6.4.2.2 越权访问, mitigations listed) attested 不符合: the signed row's high_risk is the
    assessor's judgement after weighing them — it vetoes or not; without it the failure may be a high risk (the
    conclusion keeps 不符合 as its worst case). Before, such a 不符合 never vetoed."""
    policy = "GB/T 22239-2019:8.1.4.2.e"
    document = _one_row(register_root, key, policy, "不符合", "访谈并测试: 普通用户可越权查看他人案卷",
                        high_risk=judged)
    write_signed(register_root, "dsjj.yaml", document, key)
    report = _system(register_root)
    item = _item(report, policy)
    assert item.state is ItemState.FAIL and item.attestation == "A-2026-001"
    assert report.dengbao is not None
    assert (policy in report.dengbao.high_risk) is vetoed
    steps = " ".join(formula for _, formula, _ in report.dengbao.steps)
    assert (policy in steps and "high_risk" in steps) is possible
    assert item.high_risk is (vetoed or possible)  # 高风险 / 可能高风险 where the card says so
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    assert [(s.name, o.item_id) for s, o in result.attested_blocking()] == ([("clean-l3", policy)] if vetoed else [])
    # every report counts what the gate counts (the gate alone did: JUnit, JSON and Markdown said 0)
    import xml.etree.ElementTree as ET

    from compliance.reports.formats import junit, markdown

    gate = result.blocking_count()
    assert gate == len(result.blocking()) + (1 if vetoed else 0)
    assert result.to_json()["summary"]["blocking_findings"] == gate
    assert int(ET.fromstring(junit(result)).get("failures", "0")) + int(
        ET.fromstring(junit(result)).get("errors", "0")) == gate
    assert f"blocking findings (≥ high): {gate};" in markdown(result)


def test_diff_lists_an_attested_high_risk_that_now_gates_among_the_blocking_findings(register_root: Path,
                                                                                      key: SM2PrivateKey) -> None:
    """The assessor now judges an attested 不符合 a 高风险 the card vetoes on: the item failed before and fails now
    (no new failure), and ``xzgov diff``'s blocking findings, which list what newly blocks the gate, did not name
    it (the scan's gate counts it: rule XZ-ATTESTED)."""
    from compliance.diff import diff_reports
    from compliance.reports.formats import ATTESTED_RULE, report_json

    policy = "GB/T 22239-2019:8.1.4.2.e"
    document = _one_row(register_root, key, policy, "不符合", "访谈并测试: 普通用户可越权查看他人案卷", high_risk=False)
    reports = []
    for judged in (False, True):
        document["attestations"][0]["high_risk"] = judged
        write_signed(register_root, "dsjj.yaml", document, key)
        reports.append(report_json(scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))))
    before, after = reports
    result = diff_reports(before, after)
    assert not result.new_failures and result.gates
    assert [(e["system"], e["rule"], e["point"], e["severity"], e["target"]) for e in result.blocking_findings
            if e["rule"] == ATTESTED_RULE] == [("clean-l3", ATTESTED_RULE, policy, "high", "A-2026-001")]
    blocking = [(e["system"], e["rule"], e["point"], e["target"]) for e in result.blocking_findings]
    assert blocking == sorted(blocking)  # one list sorted by system, as every list of the diff
    assert all(e["rule"] != ATTESTED_RULE for e in diff_reports(after, before).blocking_findings)
    assert all(e["rule"] != ATTESTED_RULE for e in diff_reports(after, after).blocking_findings)
    # a gate above high does not count it, and the diff does not list it
    assert all(e["rule"] != ATTESTED_RULE for e in diff_reports(before, {**after, "fail_on": "critical"})
               .blocking_findings)


def test_sign_refuses_a_high_risk_judgement_of_a_result_that_is_no_failure(register_root: Path, key: SM2PrivateKey,
                                                                         tmp_path: Path) -> None:
    document = _one_row(register_root, key, MANUAL, "符合", "核查安全设计方案 v2.1", high_risk=True)
    with pytest.raises(XzgovError) as caught:
        write_signed(register_root, "dsjj.yaml", document, key)
    assert any(d.path.endswith("high_risk") and "judges a 不符合 or 部分符合" in d.message
               for d in caught.value.diagnostics)


def test_an_item_an_assessor_failed_is_in_sarif_junit_and_oscal(register_root: Path, key: SM2PrivateKey) -> None:
    """A signed 不符合 no rule decides was in the JSON, HTML and OSCAL, and in no SARIF result: a code-scanning
    view showed the system clean. It is a result of rule XZ-ATTESTED, located at the set's row."""
    from compliance.reports import formats

    policy = "GB/T 22239-2019:8.1.4.2.e"
    document = _one_row(register_root, key, policy, "不符合", "访谈并测试: 普通用户可越权查看他人案卷", high_risk=True)
    written = write_signed(register_root, "dsjj.yaml", document, key)
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    sarif = formats.sarif(result)
    (entry,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == formats.ATTESTED_RULE]
    assert entry["properties"]["item"] == policy and entry["properties"]["high_risk"] == [policy]
    assert entry["level"] == "error" and entry["properties"]["record"] == "A-2026-001"
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rules[entry["ruleIndex"]]["id"] == formats.ATTESTED_RULE
    uri = entry["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith(written.name)
    junit = formats.junit(result)
    assert f'name="attested_failures" value="{policy} 不符合"' in junit
    from compliance.reports import validate

    assert validate.errors(validate.SARIF_SCHEMA, sarif) == []
    assert validate.errors(validate.OSCAL_SCHEMA, formats.oscal(result)) == []


def test_an_assessors_high_risk_on_a_partial_result_of_a_case_without_mitigation_vetoes(
        register_root: Path, key: SM2PrivateKey) -> None:
    """8.1.6.2.a (case 6.6.1.1, 可能的缓解措施: 无) attested 部分符合 with high_risk: true: the judgement was dropped —
    only a mitigable case read it — and the verdict stayed 符合 beside a trail saying high_risk: true."""
    item = "GB/T 22239-2019:8.1.6.2.a"
    document = _one_row(register_root, key, item, "部分符合", "核查: 安全管理机构职责未全部落实", high_risk=True)
    write_signed(register_root, "dsjj.yaml", document, key)
    report = _system(register_root)
    assert report.dengbao is not None and item in report.dengbao.high_risk
    assert _item(report, item).high_risk


@pytest.mark.parametrize("case", ["twice", "no-result"])
def test_sign_refuses_an_item_twice_and_a_row_filled_in_without_its_result(
        register_root: Path, key: SM2PrivateKey, case: str) -> None:
    """Two rows of one item signed (every scan then refused the set, with a hint to withdraw an older set); a
    row with reason and evidence but no result (a merged 结果 cell reads empty below its first row) was dropped."""
    pin(register_root, key, ["dsjj"])
    evidence(register_root, "evidence/record.pdf.txt")
    rows = [(MANUAL, "符合", "核查安全设计方案"), (MANUAL if case == "twice" else MANUAL_2, "不符合", "核查: 缺失")]
    document = system_set("clean-l3", "dsjj", rows)
    if case == "no-result":
        document["attestations"][1]["result"] = None
    with pytest.raises(XzgovError) as refused:
        write_signed(register_root, "dsjj.yaml", document, key)
    (problem,) = [d for d in refused.value.diagnostics if d.path.startswith("attestations[1]")]
    assert problem.path == ("attestations[1].item" if case == "twice" else "attestations[1].result")
    assert ("attested twice" in problem.message) if case == "twice" else ("without a result" in problem.message)


def test_the_platform_records_age_limit_is_the_regions_own(register_root: Path, key: SM2PrivateKey) -> None:
    """compliance/config.yaml shortened max_dengbao_assessment_age_days: the tenants' assessments were judged by
    it, the platform's 4-month-old record went on deciding every inherited item."""
    _platform(register_root, key)  # assessed 2026-02-01, judged 2026-06-01: 120 days
    assert _item(_system(register_root), PHYSICAL).decided_by == "platform-record"
    (register_root / "compliance" / "config.yaml").write_text(
        "thresholds:\n  max_dengbao_assessment_age_days: {1: 730, 2: 730, 3: 90, 4: 90}\n", encoding="utf-8")
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    physical = _item(result.systems[0], PHYSICAL)
    assert physical.decided_by == "pending" and "90" in physical.note
    assert any("older than 90 days" in w for w in result.warnings)


def test_diff_names_a_conclusion_made_worse_by_a_judgement_or_the_platform_record(
        register_root: Path, key: SM2PrivateKey) -> None:
    """An assessor adding high_risk: true (the item stays 部分符合), or the platform's record failing an inherited
    item (it stays `inherited`), turned 符合 into 不符合 while `xzgov diff` said nothing and exited 0."""
    from compliance.diff import diff_reports
    from compliance.reports import formats

    def report() -> dict[str, Any]:
        return formats.report_json(scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY)))

    policy = "GB/T 22239-2019:8.1.4.2.e"
    document = _one_row(register_root, key, policy, "部分符合", "测试: 部分页面可越权查看",
                        scopes=["system", "platform"])
    write_signed(register_root, "dsjj.yaml", document, key)
    before = report()
    document["attestations"][0]["high_risk"] = True
    write_signed(register_root, "dsjj.yaml", document, key)
    judged = report()
    difference = diff_reports(before, judged)
    assert not difference.new_failures and difference.gates
    (worse,) = difference.verdicts_worse
    assert worse["standard"] == "等保" and worse["high_risk_added"] == [policy]
    assert (worse["now"] if isinstance(worse["now"], str) else worse["now"][0]) == "不符合"
    # the platform's record now fails the door access every tenant inherits
    evidence(register_root, "platform/evidence/report.txt", "等级测评报告 结论与单项结果\n")
    door = "GB/T 22239-2019:8.1.1.2.a"
    write_signed(register_root, "platform/record.yaml", platform_set(rows=[(door, "符合", "报告 §5.1.2")]), key)
    passing = report()
    write_signed(register_root, "platform/record.yaml", platform_set(rows=[(door, "不符合", "报告 §5.1.2")]), key)
    failing = diff_reports(passing, report())
    assert [(e["item"], e["state"], e["underlying"]) for e in failing.new_failures] == [(door, "inherited", "fail")]
    assert failing.gates


def test_sign_says_which_rows_a_scan_will_not_use(register_root: Path, key: SM2PrivateKey, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A tenant's row on a platform-responsibility item (the template lists them all) and a row of another
    level signed in silence; only the scan said "未采用" later, and `attest check` counted them as attested."""
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    level2 = "GB/T 22239-2019:7.1.9.2.a"
    document["attestations"] += [{"item": PHYSICAL, "result": "不符合", "reason": "自评: 机房门禁",
                                  "evidence": [{"file": "evidence/record.pdf.txt"}]},
                                 {"item": level2, "result": "符合", "reason": "核查方案",
                                  "evidence": [{"file": "evidence/record.pdf.txt"}]}]
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    capsys.readouterr()
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01"]) == ExitCode.OK
    err = capsys.readouterr().err
    assert f"{PHYSICAL} is a platform-responsibility item" in err
    assert f"{level2} is not an item of clean-l3 at its level" in err
    assert MANUAL not in err  # the row the scan uses is not named


@pytest.mark.parametrize(("result", "high_risk", "vetoed"), [
    ("不符合", True, True), ("部分符合", True, True), ("不符合", False, False), ("不符合", None, False)])
def test_an_assessors_high_risk_judgement_of_a_crypto_management_unit_vetoes_the_miping_card(
        register_root: Path, key: SM2PrivateKey, result: str, high_risk: bool | None, vetoed: bool) -> None:
    # GB/T 39786 8.5.a (MP-1, 密码应用安全管理制度): no rule decides it; the assessor's signed row does. Its
    # high_risk: true was accepted by `attest sign` and dropped by the scan (密评 stayed 基本符合).
    unit = "GB/T 39786-2021:8.5.a"
    report = _attested_once(register_root, key, unit, result, "无密码应用安全管理制度, 经风险分析", high_risk)
    assert report.miping is not None
    assert ("MP-1" in report.miping.high_risk) is vetoed
    assert (report.miping.verdict == "不符合") is vetoed or report.miping.verdict == "不符合"
    assert _item(report, unit).high_risk is vetoed


def test_a_set_judged_at_another_level_is_not_used(register_root: Path, key: SM2PrivateKey) -> None:
    # GB/T 39786 unit ids are the same at every level: a set judged while the system was level 2 kept counting
    # once it was level 3 (clean-l3)
    unit = "GB/T 39786-2021:8.5.a"
    document = _one_row(register_root, key, unit, "符合", "已制定密码应用安全管理制度")
    document["metadata"]["level"] = 2
    write_signed(register_root, "dsjj.yaml", document, key)
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    item = _item(result.systems[0], unit)
    assert item.attestation is None and item.state is ItemState.MANUAL_PENDING
    assert any("judged at 密评 level 2, the system is at 3" in w for w in result.warnings)
    document["metadata"]["level"] = 3
    write_signed(register_root, "dsjj.yaml", document, key)
    assert _item(_system(register_root), unit).attestation == "A-2026-001"
    # the level left out: the check was skipped and the rows counted at any level — a system set names it now
    del document["metadata"]["level"]
    with pytest.raises(XzgovError) as refused:
        write_signed(register_root, "dsjj.yaml", document, key)
    assert any("metadata.level" in d.hint for d in refused.value.diagnostics)
    # judged at 密评 level 2 (a set of the 等保 level the system still has): its GB/T 39786 rows are not used, its
    # 等保 rows are
    document = system_set("clean-l3", "dsjj", [(unit, "符合", "已制定密码应用安全管理制度"), (MANUAL, "符合", "核查")],
                          crypto_level=2)
    write_signed(register_root, "dsjj.yaml", document, key)
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    assert _item(result.systems[0], unit).attestation is None
    assert _item(result.systems[0], MANUAL).attestation == "A-2026-001"
    assert any("judged at 密评 level 2, the system is at 3" in w for w in result.warnings)


@pytest.mark.parametrize("key_name", ["unit", "title"])
def test_a_row_whose_id_is_not_its_texts_is_refused_at_sign_and_at_load(
        register_root: Path, key: SM2PrivateKey, tmp_path: Path, key_name: str) -> None:
    """Id cells swapped (a column sorted on its own in Excel) put the assessor's 不符合 on another item: the row's
    unit and title (a worksheet writes both) must be the catalogue's for its id."""
    from compliance.attest.worksheet import rows_of, template

    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    rows = {row["item"]: row for row in rows_of(template(register_root, "clean-l3"))}
    row = document["attestations"][0]
    row["unit"], row["title"] = rows[MANUAL]["unit"], rows[MANUAL]["title"]
    row[key_name] = rows[MANUAL_2][key_name]  # MANUAL's result beside MANUAL_2's text
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    before = worksheet.read_bytes()
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01"]) == ExitCode.USAGE
    assert worksheet.read_bytes() == before
    write_signed(register_root, "dsjj.yaml", document, key)  # signed without the CLI's checks: the scan refuses it
    (problem,) = _refused(register_root)
    assert (problem.code, problem.path) == ("reference", f"attestations.0.{key_name}".replace(".0.", "[0]."))
    assert MANUAL in problem.message and str(rows[MANUAL_2][key_name]) in problem.message


@pytest.mark.parametrize("evidence", ["evidence/a.pdf", ["evidence/a.pdf"]])
def test_evidence_written_as_bare_file_names_gets_the_shape_as_its_hint(
        register_root: Path, key: SM2PrivateKey, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        evidence: object) -> None:
    """The worksheet header said "evidence (证据文件)": a file name or a list of names was refused with the schema's
    "'…' is not of type 'array'" and no hint of the `{file: …}` entries it wants."""
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    document["attestations"][0]["evidence"] = evidence
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "attestations[0].evidence" in err and "evidence: [{file: " in err


def test_attest_check_takes_as_of_like_the_scan(register_root: Path, key: SM2PrivateKey, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`scan` and `kpi` judge on `--as-of`; `attest check` took only `--today` (an unknown option to a pipeline
    passing the same flag to each command)."""
    key_file, worksheet, document = _signable(register_root, key, tmp_path)
    worksheet.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert _dispatch(["attest", "sign", str(worksheet), "--key", str(key_file), "--root", str(register_root),
                      "--today", "2026-02-01"]) == ExitCode.OK
    capsys.readouterr()
    expired = {}
    for flag, day in (("--as-of", "2026-06-01"), ("--as-of", "2027-06-01"), ("--today", "2027-06-01")):
        assert _dispatch(["attest", "check", "--root", str(register_root), flag, day, "--format", "json"]) == 0
        expired[(flag, day)] = yaml.safe_load(capsys.readouterr().out)["expired"]
    assert expired == {("--as-of", "2026-06-01"): 0, ("--as-of", "2027-06-01"): 1, ("--today", "2027-06-01"): 1}


@pytest.mark.parametrize(("change", "message", "hint"), [
    (lambda d: d["attestations"][0].update(result="pass"), "'pass' is not an allowed value", "符合"),
    (lambda d: d["metadata"].pop("id"), "missing required field 'id'", "add 'id:'"),
    (lambda d: d["metadata"].update(department=5), "must be a string, found int 5", "department"),
    (lambda d: d["attestations"][0].update(item="8.1.9.2.a"), "has the wrong format", "GB/T 22239-2019:"),
    (lambda d: d["attestations"][0].update(results="符合"), "unknown field 'results'", "result"),
])
def test_a_set_schema_error_uses_the_manifests_words(register_root: Path, key: SM2PrivateKey,
                                                     change: Any, message: str, hint: str) -> None:
    """The loader passed the validator's messages on ("'pass' is not one of ['符合', …]", "5 is not of type
    'string'"): one wording for every YAML record, located at the field (xzgov.core.schema.explain)."""
    path = _signed(register_root, key)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(signing.dump(document), encoding="utf-8")
    problems = _refused(register_root)
    assert any(message in p.message and hint in p.hint for p in problems), problems
    assert all(p.line > 1 and p.file.endswith("dsjj.yaml") for p in problems), problems
    validator_words = ("is a required property", "is not of type", "does not match", "is not one of",
                       "Additional properties", "{'")
    assert not any(words in p.message for p in problems for words in validator_words), problems


@pytest.mark.parametrize(("result", "high_risk", "unit_score"), [
    ("不符合", None, "0.0"), ("部分符合", None, "0.5"), ("不符合", True, "0.0")])
def test_an_assessors_finding_on_a_crypto_technical_unit_is_what_the_miping_card_scores(
        register_root: Path, key: SM2PrivateKey, result: str, high_risk: bool | None, unit_score: str) -> None:
    # GB/T 39786 8.4.d (AD-4, 重要数据传输机密性): the rules pass it from the declared TLCP/SM4 mechanism; the
    # assessor's signed 不符合 became the item's state while the card kept scoring the mechanism's 1
    unit = "GB/T 39786-2021:8.4.d"
    before = _system(register_root)
    assert _item(before, unit).state is ItemState.PASS and before.miping is not None
    assert _unit_score(before, "AD-4") == "1.0"
    report = _attested_once(register_root, key, unit, result, "现场测试: 重要数据传输未使用 SM4", high_risk)
    assert report.miping is not None
    assert _item(report, unit).state is (ItemState.FAIL if result == "不符合" else ItemState.PARTIAL)
    assert _unit_score(report, "AD-4") == unit_score
    assert report.miping.value_range[1] < before.miping.value_range[1]  # the best the card can still reach
    assert ("AD-4" in report.miping.high_risk) is bool(high_risk)


def _attested_once(root: Path, key: SM2PrivateKey, unit: str, result: str, reason: str,
                   high_risk: bool | None) -> SystemReport:
    """clean-l3 scanned with one signed row for ``unit`` (``high_risk`` on it unless ``None``)."""
    pin(root, key, ["dsjj"])
    evidence(root, "evidence/record.pdf.txt")
    document = system_set("clean-l3", "dsjj", [(unit, result, reason)])
    if high_risk is not None:
        document["attestations"][0]["high_risk"] = high_risk
    write_signed(root, "dsjj.yaml", document, key)
    return _system(root)


def _unit_score(report: SystemReport, unit: str) -> str:
    """The score the 密评 card gives a technical unit (its step ``单元 <unit>``)."""
    assert report.miping is not None
    steps = [value for label, _, value in report.miping.steps if unit in label and "对象" not in label]
    assert steps, report.miping.steps
    return steps[0]


@pytest.mark.parametrize("high_risk", [None, True])
def test_an_assessors_failure_of_a_unit_the_scheme_leaves_out_brings_it_into_the_miping_card(
        register_root: Path, key: SM2PrivateKey, high_risk: bool | None) -> None:
    # GB/T 39786 8.2.e (NC-5, 安全接入认证): 可 at level 3 and not implemented, so out of the score (不适用). A
    # signed 不符合 made the item fail while the card left the unit out, its high_risk: true with it (a second
    # reading of the fix above)
    unit = "GB/T 39786-2021:8.2.e"
    before = _system(register_root)
    assert _item(before, unit).state is ItemState.NOT_APPLICABLE and _unit_score(before, "NC-5") == "None"
    report = _attested_once(register_root, key, unit, "不符合", "现场核查: 远程接入未做安全接入认证", high_risk)
    assert report.miping is not None and before.miping is not None
    assert _item(report, unit).state is ItemState.FAIL and _unit_score(report, "NC-5") == "0.0"
    assert report.miping.value_range[1] < before.miping.value_range[1]
    assert ("NC-5" in report.miping.high_risk) is bool(high_risk)


def test_a_signed_failure_stands_where_a_rule_fails_the_item_too(register_root: Path, key: SM2PrivateKey) -> None:
    """A review: an assessor's signed 不符合 of 8.1.5.4.b (its case lists no mitigation) vetoed the card; once
    the manifest got worse — its log flow removed, so XZ-MAN-MGMT-CHANNEL (medium) failed the item too — the signed
    row was dropped as "found no worse" and the veto with it: the card opened to a range and the gate let it pass."""
    channel = "GB/T 22239-2019:8.1.5.4.b"
    pin(register_root, key, ["dsjj"])
    evidence(register_root, "evidence/record.pdf.txt")
    write_signed(register_root, "dsjj.yaml", system_set("clean-l3", "dsjj", [
        (channel, "不符合", "现场核查: 日志经明文 UDP 514 上送")]), key)
    signed_only = _system(register_root)
    assert channel in (signed_only.dengbao.high_risk if signed_only.dengbao else ())
    manifest = next((register_root / "systems").rglob("clean-l3.yaml"))
    text = manifest.read_text(encoding="utf-8")
    flow = "  - to:\n      zone: security-management\n    protocol: tcp\n    port: 6514\n    purpose: 审计日志上送\n"
    assert flow in text
    manifest.write_text(text.replace(flow, ""), encoding="utf-8")
    report = _system(register_root)
    item = _item(report, channel)
    assert "XZ-MAN-MGMT-CHANNEL" in {f.result.rule_id for f in report.findings
                                     if f.result.status.value in ("fail", "partial")}
    assert item.attestation is not None and item.state is ItemState.FAIL
    assert report.dengbao is not None and channel in report.dengbao.high_risk


def _item_waiver(register_root: Path, waiver: str, item: str) -> None:
    """A waiver of ``item`` of clean-l3 (approved for 2026) in the register's waiver file."""
    waivers = register_root / "compliance" / "waivers"
    waivers.mkdir(parents=True, exist_ok=True)
    (waivers / "w.yaml").write_text(
        f"apiVersion: xzgov.io/v1\nkind: Waivers\nwaivers:\n  - id: {waiver}\n    system: clean-l3\n"
        f"    item: \"{item}\"\n    reason: 已采取补偿措施, 访问控制经堡垒机二次授权\n"
        "    approver: {name: 某某, role: 某某}\n"
        "    approved: \"2026-01-01\"\n    expires: \"2026-12-31\"\n", encoding="utf-8")


def test_an_unsigned_waiver_does_not_reverse_a_signed_high_risk(register_root: Path, key: SM2PrivateKey) -> None:
    """A review: a waiver file (unsigned, any approver) on an item an assessor signed 不符合 with high_risk: true
    lifted the veto and the gate."""
    policy = "GB/T 22239-2019:8.1.4.2.e"  # case 6.4.2.2: mitigations listed
    document = _one_row(register_root, key, policy, "不符合", "访谈并测试: 普通用户可越权查看他人案卷", high_risk=True)
    write_signed(register_root, "dsjj.yaml", document, key)
    _item_waiver(register_root, "W-2026-099", policy)
    report = _system(register_root)
    assert _item(report, policy).state is ItemState.WAIVED
    assert report.dengbao is not None and policy in report.dengbao.high_risk


def test_a_signed_failure_replaces_an_error_and_is_compared_with_what_a_waiver_waived() -> None:
    """An unreachable host's error (a rule that could not run) discarded a signed 不符合 ("a rule decides this
    item"); a waived rule failure ranked as nothing the signed result could replace. A signed 符合 never replaces
    an error (what the scan could not check today stays unchecked, as docs/compliance.md says)."""
    from compliance.scan.items import _attested_stands, _same_failure

    def ruled(state: ItemState, underlying: ItemState) -> ItemOutcome:
        return ItemOutcome("GB/T 22239-2019:8.1.4.1.d", "GB/T 22239-2019", "t", state, underlying, ("XZ-X",), ())

    assert _attested_stands(ItemState.FAIL, ruled(ItemState.ERROR, ItemState.ERROR))
    assert not _attested_stands(ItemState.PASS, ruled(ItemState.ERROR, ItemState.ERROR))
    assert _attested_stands(ItemState.FAIL, ruled(ItemState.WAIVED, ItemState.PARTIAL))
    assert _same_failure(ItemState.FAIL, ruled(ItemState.WAIVED, ItemState.FAIL))  # as bad: the veto decides
    assert not _attested_stands(ItemState.PARTIAL, ruled(ItemState.WAIVED, ItemState.FAIL))
    assert not _attested_stands(ItemState.PASS, ruled(ItemState.PASS, ItemState.PASS))
    assert not _same_failure(ItemState.PASS, ruled(ItemState.PASS, ItemState.PASS))
    assert not _attested_stands(ItemState.PASS, ruled(ItemState.FAIL, ItemState.FAIL))


@pytest.mark.parametrize("judged", [None, False, True])
def test_a_signed_failure_never_lifts_a_rules_veto(register_root: Path, key: SM2PrivateKey,
                                                   judged: bool | None) -> None:
    """The third reading: the first mend let a signed 不符合 without high_risk (or with false) replace the rule's
    own high-severity failure of the same item — XZ-MAN-AUTH-MFA failing 8.1.4.1.d — and the veto was gone (a
    definite 不符合 became 不符合–符合). A signed row only ever adds a veto."""
    mfa = "GB/T 22239-2019:8.1.4.1.d"
    manifest = next((register_root / "systems").rglob("clean-l3.yaml"))
    text = manifest.read_text(encoding="utf-8")
    listed = "    factors:\n    - password\n    - sm2-certificate\n    admin_factors:\n    - password\n    - ukey\n"
    assert listed in text
    manifest.write_text(text.replace(listed, "    factors:\n    - password\n    admin_factors:\n    - password\n"),
                        encoding="utf-8")
    ruled_only = _system(register_root)
    assert ruled_only.dengbao is not None and mfa in ruled_only.dengbao.high_risk
    document = _one_row(register_root, key, mfa, "不符合", "现场核查: 管理员仅口令登录", high_risk=judged)
    write_signed(register_root, "dsjj.yaml", document, key)
    report = _system(register_root)
    assert report.dengbao is not None and mfa in report.dengbao.high_risk
    assert report.dengbao.verdict_range == ruled_only.dengbao.verdict_range


def test_a_platform_row_for_a_tenant_item_is_said_to_be_unused(register_root: Path, key: SM2PrivateKey,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A review: the platform record's row for an item each tenant decides (8.1.4.1.a, with high_risk: true) was
    ignored by sign, check and scan without a word — the tenants' item stayed pending."""
    import json

    tenant = "GB/T 22239-2019:8.1.4.1.a"
    pin(register_root, key, ["dsjj"], ["platform"])
    evidence(register_root, "platform/evidence/report.txt", "等级测评报告 结论与单项结果\n")
    write_signed(register_root, "platform/record.yaml",
                 platform_set(rows=[(EMC, "部分符合", "报告 §5.1.10"), (tenant, "不符合", "报告 §5.4.1: 弱口令")]), key)
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",), today=TODAY))
    assert any(tenant in said and "is not used" in said for said in result.warnings), result.warnings
    assert not any(EMC in said and "is not used" in said for said in result.warnings)
    capsys.readouterr()
    assert _dispatch(["attest", "check", "--root", str(register_root), "--today", "2026-06-01", "--format",
                      "json"]) == ExitCode.OK
    assert any(tenant in said for said in json.loads(capsys.readouterr().out)["warnings"])


@pytest.mark.parametrize("result", ["不符合", "部分符合"])
def test_an_item_waiver_waives_a_signed_failure_or_partial_result(register_root: Path, key: SM2PrivateKey,
                                                                   result: str) -> None:
    """An item waiver applies to a signed 不符合 and to a signed 部分符合 alike (a review's mutation dropped the
    partial case and no test noticed): the item is 豁免, scored by its signed result, and the waiver is used."""
    policy = "GB/T 22239-2019:8.1.4.2.e"
    document = _one_row(register_root, key, policy, result, "访谈并测试: 部分案卷缺少访问控制")
    write_signed(register_root, "dsjj.yaml", document, key)
    _item_waiver(register_root, "W-2026-098", policy)
    report = _system(register_root)
    item = _item(report, policy)
    assert (item.state, item.waiver) == (ItemState.WAIVED, "W-2026-098") and item.attestation is not None
    assert item.underlying is {"不符合": ItemState.FAIL, "部分符合": ItemState.PARTIAL}[result]

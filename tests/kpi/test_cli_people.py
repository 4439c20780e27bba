"""The CLI for people: ``xzgov kpi``, ``xzgov validate DIR``, tables that never cut cells to "…",
``xzgov onboard --template KIND``, and the department CI script (an example run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .conftest import REPO

Cli = Callable[..., CliResult]
XZGOV = [sys.executable, "-c", "from xzgov.cli.main import run; run()"]


def _piped(*args: str | Path, columns: int, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    env.pop("XZGOV_DEBUG", None)
    return subprocess.run([*XZGOV, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300, check=False)


def test_kpi_as_of_judges_the_crypto_share_on_that_day(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # --as-of alone judged assessment ages on the machine's clock (the share was today's whatever the day given);
    # only $XZGOV_AS_OF moved them: both must give the figures of the day named
    def share() -> dict[str, object]:
        done = cli("kpi", "--root", REPO, "--as-of", "2025-06-01", "--format", "json")
        assert done.code == 0, done.err
        return dict(json.loads(done.out)["overall"]["shares"]["crypto-passed"])

    monkeypatch.delenv("XZGOV_AS_OF", raising=False)
    alone = share()
    monkeypatch.setenv("XZGOV_AS_OF", "2025-06-01")
    assert alone == share()


def test_kpi_without_as_of_judges_the_day_xzgov_as_of_pins(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """$XZGOV_AS_OF was ignored by `xzgov kpi` (the machine's day was taken) while `xzgov scan` and the KPIs it
    embeds in report.html judged the pinned day: one pipeline showed two days' statuses. --as-of still wins."""
    def judged(*extra: str) -> dict[str, object]:
        done = cli("kpi", "--root", REPO, "--no-scan", "--format", "json", *extra)
        assert done.code == 0, done.err
        return dict(json.loads(done.out))

    monkeypatch.setenv("XZGOV_AS_OF", "2025-06-30")
    pinned = judged()
    assert pinned["as_of"] == "2025-06-30" and pinned == judged("--as-of", "2025-06-30")
    assert judged("--as-of", "2026-12-01")["as_of"] == "2026-12-01"
    monkeypatch.setenv("XZGOV_AS_OF", "2025-13-01")
    done = cli("kpi", "--root", REPO, "--no-scan")
    assert done.code == 2 and "XZGOV_AS_OF" in done.err


def test_kpi_json(cli: Cli) -> None:
    done = cli("kpi", "--root", REPO, "--as-of", "2025-06-30", "--no-scan", "--format", "json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert data["as_of"] == "2025-06-30" and data["crypto_source"] == "none"
    assert data["overall"]["shares"]["on-cloud"] == {"met": 36, "total": 39, "percent": 92.3}
    assert data["overdue_tasks"] == ["data-catalogue", "silo-connection", "one-network-service", "dengbao-filing"]
    one = next(t for t in data["tasks"] if t["id"] == "one-network-service")
    assert one["lead"] == [{"id": "zfbgt", "name": "西藏自治区人民政府办公厅"}] and one["status_label"] == "逾期"


def test_kpi_text_never_truncates_when_piped_and_narrow() -> None:
    done = _piped("kpi", "--as-of", "2025-06-30", "--no-scan", columns=50)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    for text in ("上云率: 92.3% (36/39)", "西藏自治区市场监督管理局", "逾期任务 4 项", "牵头: 西藏自治区公安厅",
                 "逾期未上云: special-equipment"):
        assert text in done.stdout, text


def test_kpi_usage_errors(cli: Cli, tmp_path: Path) -> None:
    assert cli("kpi", "--root", REPO, "--as-of", "2025-13-01").code == 2
    root = tmp_path / "r"
    root.mkdir()
    region = (REPO / "region.yaml").read_text(encoding="utf-8")
    start, end = region.index("  # 西藏自治区数字政府建设三年行动"), region.index("  operators:")
    (root / "region.yaml").write_text(region[:start] + region[end:], encoding="utf-8")
    shutil.copytree(REPO / "systems", root / "systems")
    for manifest in (root / "systems").rglob("*.yaml"):  # no spec.programme: tasks cannot resolve
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("    tasks: [one-network-service]\n", ""), encoding="utf-8")
    done = cli("kpi", "--root", root, "--no-scan")
    assert done.code == 2 and "spec.programme" in done.err


def test_kpi_trend_since_an_earlier_signed_report(cli: Cli, tmp_path: Path) -> None:
    key = SM2PrivateKey.generate()
    keys.write_private_key(tmp_path / "k.pem", key)
    (tmp_path / "k.pub").write_text(keys.public_key_to_pem(key.public_key), encoding="ascii")
    out = tmp_path / "reports"
    scanned = cli("scan", "--root", REPO, "--out", out, "--key", tmp_path / "k.pem", "--format", "html")
    assert scanned.code in (0, 1), scanned.err
    done = cli("kpi", "--root", REPO, "--no-scan", "--since", out, "--trusted-key", tmp_path / "k.pub",
               "--format", "json")
    assert done.code == 0, done.err
    trend = json.loads(done.out)["trend"]
    assert trend["shares"]["on-cloud"] == {"before": 92.3, "now": 92.3, "change": 0.0}
    other = SM2PrivateKey.generate()
    (tmp_path / "other.pub").write_text(keys.public_key_to_pem(other.public_key), encoding="ascii")
    assert cli("kpi", "--root", REPO, "--no-scan", "--since", out, "--trusted-key", tmp_path / "other.pub").code == 2
    # the same trend on the HTML report's KPI page, when the scan is given the earlier signed report
    later = tmp_path / "later"
    rescanned = cli("scan", "--root", REPO, "--out", later, "--key", tmp_path / "k.pem", "--format", "html",
                    "--kpi-since", out, "--kpi-trusted-key", tmp_path / "k.pub")
    assert rescanned.code in (0, 1), rescanned.err
    page = (later / "report.html").read_text(encoding="utf-8")
    assert "趋势 (对比" in page and "上云率" in page
    refused = cli("scan", "--root", REPO, "--out", tmp_path / "third", "--key", tmp_path / "k.pem",
                  "--kpi-since", out, "--kpi-trusted-key", tmp_path / "other.pub")
    assert refused.code == 2 and not (tmp_path / "third").exists()  # an untrusted earlier report: no scan


def test_validate_a_directory(cli: Cli, tmp_path: Path) -> None:
    done = cli("validate", "--root", REPO, REPO / "systems" / "dsjj")
    assert done.code == 0 and "9 manifest(s)" in done.out, done.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("validate", "--root", REPO, empty).code == 2
    broken = tmp_path / "drafts"
    broken.mkdir()
    text = (REPO / "systems/jyt/zhufeng-qiyun.yaml").read_text(encoding="utf-8")
    (broken / "draft.yaml").write_text(text.replace("name: zhufeng-qiyun", "name: zhufeng-draft")
                                       .replace("level: 3", "level: 5"), encoding="utf-8")
    done = cli("validate", "--root", REPO, broken)
    assert done.code == 1 and "draft.yaml:" in done.err and "spec.classification.level" in done.err


def test_register_tables_do_not_truncate_when_narrow() -> None:
    for columns in (40, 80):
        done = _piped("register", columns=columns)
        assert done.returncode == 0, done.stderr
        assert "…" not in done.stdout
        # the name column, read down the (possibly wrapped) rows, holds every name whole
        names = "".join(line.split("│")[2].strip() for line in done.stdout.splitlines()
                        if line.startswith("│") and line.count("│") >= 4)
        for name in ("日喀则市江孜县人民政府", "西藏自治区市场监督管理局", "林芝 同城/异地灾备中心"):
            assert name.replace(" ", "") in names.replace(" ", ""), (columns, name)


def test_onboard_template_writes_a_commented_chinese_skeleton_that_validates(cli: Cli, tmp_path: Path) -> None:
    for kind in ("workload", "hosts", "township"):
        target = tmp_path / f"{kind}.yaml"
        done = cli("onboard", "--root", REPO, "--template", kind, "--department", "jyt", target)
        assert done.code == 0, done.err
        text = target.read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=") and "# 西藏自治区教育厅 信息系统上云登记清单" in text
        assert "等保 安全保护等级" in text and "programme:" in text
        assert cli("validate", "--root", REPO, target).code == 0
    again = cli("onboard", "--root", REPO, "--template", "workload", tmp_path / "workload.yaml")
    assert again.code == 2 and "already exists" in again.err
    assert cli("onboard", "--root", REPO, "--template", "workload", "--department", "nope",
               tmp_path / "x.yaml").code == 2
    assert cli("onboard", "--root", REPO).code == 2


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed for the CI script")
def test_department_ci_script_example_run(cli: Cli, tmp_path: Path) -> None:
    """The example run documented in docs/kpi.md: a department's new manifest is validated, its tenancy
    and findings shown, and the step fails on blocking findings; the repository is not changed."""
    manifest = tmp_path / "jyt-new-system.yaml"
    assert cli("onboard", "--root", REPO, "--template", "workload", "--department", "jyt", manifest).code == 0
    env = {**os.environ, "XZGOV": str(Path(sys.executable).parent / "xzgov"), "COLUMNS": "120"}
    before = subprocess.run(["git", "status", "--porcelain", "--", "systems", "inventories"], cwd=REPO,
                            capture_output=True, text=True, check=False).stdout
    done = subprocess.run(["bash", str(REPO / "scripts/department-ci.sh"), "--root", str(REPO), str(manifest)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    print(done.stdout[-3000:], done.stderr[-2000:])
    assert done.returncode == 1, done.stderr
    for step in ("== 1/4 校验清单", "== 2/4", "== 3/4 租户", "== 4/4 合规扫描"):
        assert step in done.stdout
    assert "jyt-new-system @ lhasa (primary):" in done.stdout and "Namespace 1" in done.stdout
    assert "XZ-MAN-PI-STORAGE" in done.stderr and "存在达到 high 的未豁免发现" in done.stderr
    docs = (REPO / "docs" / "kpi.md").read_text(encoding="utf-8")
    example = docs[docs.index("Example run (tested in `tests/kpi/test_cli_people.py`"):]
    example = example[:example.index("department-ci: ")]
    def listed(text: str) -> list[str]:
        return re.findall(r"^  (XZ-[A-Z0-9-]+) \[", text, re.MULTILINE)
    assert listed(example) == listed(done.stderr), "docs/kpi.md's example run lists the findings the run prints"
    assert f"{len(listed(done.stderr))} unwaived finding(s)" in example
    after = subprocess.run(["git", "status", "--porcelain", "--", "systems", "inventories"], cwd=REPO,
                           capture_output=True, text=True, check=False).stdout
    assert after == before, "the CI step must not change the repository"
    invalid = tmp_path / "bad.yaml"
    invalid.write_text(manifest.read_text(encoding="utf-8").replace("level: 3", "level: 7"), encoding="utf-8")
    done = subprocess.run(["bash", str(REPO / "scripts/department-ci.sh"), "--root", str(REPO), "--no-plan",
                           str(invalid)], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 1 and "bad.yaml:" in done.stderr and "== 2/4" not in done.stdout


def test_onboarding_points_the_drafts_schema_line_at_the_register(cli: Cli, region: Path, tmp_path: Path) -> None:
    """A draft's `$schema` path is relative to where `onboard --template` wrote it; filed under
    systems/<department>/ it named nothing (editors stopped checking fields): filing rewrites it."""
    schemas = region / "xzgov" / "core" / "schemas"
    schemas.mkdir(parents=True)
    shutil.copy(REPO / "xzgov" / "core" / "schemas" / "system.schema.json", schemas)
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    draft = drafts / "new.yaml"
    assert cli("onboard", "--root", region, "--template", "workload", "--department", "jyt", draft).code == 0
    assert cli("onboard", "--root", region, draft).code == 0
    filed = region / "systems" / "jyt" / "jyt-new-system.yaml"
    first = filed.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../xzgov/core/schemas/system.schema.json"
    assert (filed.parent / first.split("=", 1)[1]).resolve() == (schemas / "system.schema.json").resolve()
    # the rest of the draft is filed as written
    assert filed.read_text(encoding="utf-8").splitlines()[1:] == draft.read_text(encoding="utf-8").splitlines()[1:]


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("git") is None, reason="bash and git are needed")
def test_department_ci_never_passes_changes_it_did_not_find(tmp_path: Path) -> None:
    """Without manifests the script finds them with git diff: a base the checkout lacks (a shallow clone), a register
    that is no repository, a renamed or moved manifest and a *.yml one all exited 0 ("nothing to check") while a
    broken manifest went in."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy2(REPO / "region.yaml", root / "region.yaml")
    shutil.copytree(REPO / "systems", root / "systems")
    env = {**os.environ, "XZGOV": str(Path(sys.executable).parent / "xzgov"), "COLUMNS": "120",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}

    def ci(*, base: str = "base") -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(REPO / "scripts/department-ci.sh"), "--root", str(root), "--no-plan"],
                              capture_output=True, text=True, env={**env, "XZGOV_CI_BASE": base}, timeout=300,
                              check=False)

    not_a_repo = ci()
    assert not_a_repo.returncode == 2 and "not a git work tree" in not_a_repo.stderr

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "register")
    git("tag", "base")
    assert ci(base="origin/main").returncode == 2  # the base the checkout lacks
    assert ci().returncode == 0  # nothing changed since the base: passes, saying so
    moved = root / "systems" / "czt" / "einv" / "e-invoice.yaml"
    moved.parent.mkdir()
    git("mv", "systems/czt/e-invoice.yaml", str(moved.relative_to(root)))
    moved.write_text(moved.read_text(encoding="utf-8") + "bogus_top_level: 1\n", encoding="utf-8")
    git("commit", "-qam", "moved and broken")
    renamed = ci()
    assert renamed.returncode == 1 and "einv/e-invoice.yaml" in renamed.stdout + renamed.stderr, renamed.stdout
    git("reset", "-q", "--hard", "base")
    (root / "systems" / "czt" / "extra.yml").write_text("apiVersion: [\n", encoding="utf-8")
    git("add", "-A")
    git("commit", "-qm", "a yml manifest")
    yml = ci()
    assert yml.returncode == 1 and "extra.yml" in yml.stdout + yml.stderr


def test_a_template_never_replaces_a_file_written_after_the_check(cli: Cli, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The skeleton checked that its file did not exist, then wrote it replacing whatever was there by then (a draft
    saved meanwhile): it is created only where nothing is (exit 2 otherwise, the draft kept)."""
    target = tmp_path / "draft.yaml"
    real = os.path.lexists

    def absent_then_written(path: object) -> bool:
        if Path(str(path)) == target and not real(target):
            target.write_text("# the department's draft\n", encoding="utf-8")  # saved just after the check
            return False
        return real(str(path))

    monkeypatch.setattr(os.path, "lexists", absent_then_written)
    res = cli("onboard", "--root", REPO, "--template", "workload", target)
    assert res.code == 2 and "already exists" in res.err, res.text
    assert target.read_text(encoding="utf-8") == "# the department's draft\n"

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from tests.register.conftest import edit


def test_validate_ok(region: Path, cli: Callable[..., CliResult]) -> None:
    code, out, _ = cli("validate", "--root", str(region))
    assert code == 0 and "3 registered system(s)" in out


def test_validate_invalid_reports_location_and_exits_1(region: Path, cli: Callable[..., CliResult]) -> None:
    edit(region / "systems/dsjj/idp.yaml", "  tier: 自治区", "  teir: 自治区")
    code, _, err = cli("validate", "--root", str(region))
    assert code == 1
    assert "systems/dsjj/idp.yaml:10:3: error [spec.teir]: unknown field 'teir'" in err
    assert "hint: did you mean 'tier'?" in err


def test_validate_json(region: Path, cli: Callable[..., CliResult]) -> None:
    edit(region / "systems/dsjj/idp.yaml", "level: 3", "level: 9")
    code, out, _ = cli("validate", "--root", str(region), "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["valid"] is False
    assert report["errors"][0] | {"message": ""} == {
        "file": "systems/dsjj/idp.yaml", "line": 12, "column": 12, "path": "spec.classification.level",
        "message": "", "hint": "use a value at most 4 (等保 安全保护等级)", "code": "range", "severity": "error",
    }


def test_validate_json_says_when_other_files_would_refuse_onboarding(region: Path,
                                                                      cli: Callable[..., CliResult]) -> None:
    """Text output notes that the register has errors elsewhere (onboarding would be refused); JSON said only
    valid: true."""
    edit(region / "systems/gat/case-app.yaml", "level: 2", "level: 9")
    code, out, _ = cli("validate", "--root", str(region), str(region / "systems/dsjj/idp.yaml"), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["valid"] is True and report["errors_elsewhere"] == 1
    code, out, _ = cli("validate", "--root", str(region), "--format", "json")
    assert code == 1 and json.loads(out)["errors_elsewhere"] == 0


def test_validate_the_root_checks_its_manifests_not_every_yaml_file(region: Path,
                                                                   cli: Callable[..., CliResult]) -> None:
    """`validate .` read every YAML file of the repository as a manifest (stack files, roles, tests: 1,825 errors)."""
    (region / "Pulumi.yaml").write_text("name: xzgov\nruntime: python\n", encoding="utf-8")
    (region / "roles").mkdir()
    (region / "roles" / "main.yml").write_text("- name: a task\n", encoding="utf-8")
    code, out, err = cli("validate", "--root", str(region), str(region))
    assert code == 0, err
    assert "3 manifest(s)" in out


def test_validate_one_path_filters_to_that_file(region: Path, cli: Callable[..., CliResult]) -> None:
    edit(region / "systems/gat/case-app.yaml", "status: running", "status: live")
    code, _, _ = cli("validate", "--root", str(region), str(region / "systems/dsjj/idp.yaml"))
    assert code == 0
    code, _, err = cli("validate", "--root", str(region), str(region / "systems/gat/case-app.yaml"))
    assert code == 1 and "case-app.yaml" in err


def test_usage_errors_exit_2(region: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("validate", "--root", str(region), str(region / "nope.yaml"))[0] == 2
    # a name the file system refuses to look up is the path's problem (exit 2), not xzgov's (it was exit 3)
    too_long = cli("validate", "--root", str(region), str(region / ("a" * 300 + ".yaml")))
    assert too_long.code == 2 and "File name too long" in too_long.err
    assert cli("onboard", str(region / ("a" * 300 + ".yaml")), "--root", str(region)).code == 2
    assert cli("validate", "--no-such-option")[0] == 2
    assert cli("validate", "--format", "xml")[0] == 2
    assert cli("frobnicate")[0] == 2
    assert cli("validate", "--root", str(region / "systems"))[0] == 2  # no region.yaml there


def test_a_path_that_is_no_file_is_named_for_what_it_is(region: Path, cli: Callable[..., CliResult]) -> None:
    """`validate /dev/null` said "file not found" of a device that exists."""
    code, _, err = cli("validate", "--root", str(region), "/dev/null")
    assert code == 2 and "not a regular file" in err and "not found" not in err, err
    code, _, err = cli("validate", "--root", str(region), str(region / "nope.yaml"))
    assert code == 2 and "no such file" in err and "file not found" in err, err


def test_onboard_of_a_directory_says_it_is_a_directory_and_how_onboard_is_used(
        region: Path, cli: Callable[..., CliResult]) -> None:
    """`onboard DIR` said "not a regular file (a device, pipe or socket)" and told the user to give "a directory
    of them" - a directory is what was given, and onboard takes one manifest."""
    folder = region / "systems" / "dsjj"
    code, out, err = cli("onboard", str(folder), "--root", str(region))
    assert code == 2 and out == "", err
    assert "a directory" in err and "device" not in err and "pipe" not in err, err
    assert "a directory of them" not in err and "one manifest" in err and f"xzgov validate {folder}" in err, err
    assert "Traceback" not in err


def test_a_path_that_is_no_file_is_named_for_what_it_is_in_each_command(
        region: Path, cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """Each kind of path is named for what it is, with the hint of the command it was given to."""
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    dangling = tmp_path / "gone.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    cases = {loop: "symbolic link loop", dangling: "symbolic link to", fifo: "named pipe (FIFO)",
             Path("/dev/null"): "a device"}
    for path, what in cases.items():
        code, _, err = cli("onboard", str(path), "--root", str(region))
        assert code == 2 and what in err and "not found" not in err, err
        assert "to onboard" in err and "a directory of them" not in err, err
        code, _, err = cli("validate", "--root", str(region), str(path))
        assert code == 2 and what in err and "a directory of them" in err and "to onboard" not in err, err
    code, _, err = cli("onboard", str(tmp_path / "nope.yaml"), "--root", str(region))
    assert code == 2 and "no such file" in err and "file not found" in err and "to onboard" in err, err


def test_register_summary(region: Path, cli: Callable[..., CliResult]) -> None:
    code, out, _ = cli("register", "--root", str(region), "--format", "json")
    summary = json.loads(out)
    assert code == 0
    assert summary["systems"] == 3 and summary["hosts"] == 3
    assert summary["level"] == {"第2级": 1, "第3级": 1, "第4级": 1}
    assert summary["tier"] == {"地市": 1, "自治区": 2}
    code, out, _ = cli("register", "--root", str(region))
    assert code == 0 and "部门 Department" in out and "大数据中心" in out


def test_register_on_invalid_register_exits_1(region: Path, cli: Callable[..., CliResult]) -> None:
    edit(region / "systems/dsjj/idp.yaml", "level: 3", "level: 9")
    code, _, err = cli("register", "--root", str(region))
    assert code == 1 and "idp.yaml:12:12" in err


def test_validate_one_path_shows_a_clash_reported_at_another_file(region: Path, cli: Callable[..., CliResult]
                                                                   ) -> None:
    """An address clash was reported at the second file in order, so validating the first (the new one) named it
    valid; then it was shown at the other file. Now it is reported at the file named, naming the other."""
    clash = region / "systems/dsjj/aaa-clash.yaml"  # sorts before idp.yaml: idp's host is the second user
    clash.write_text((region / "systems/dsjj/idp.yaml").read_text(encoding="utf-8")
                     .replace("name: idp", "name: aaa-clash").replace("idp-db01", "aaa-db01"), encoding="utf-8")
    code, _, err = cli("validate", "--root", str(region), str(clash))
    assert code == 1 and err.startswith("systems/dsjj/aaa-clash.yaml:"), err
    assert "already used by systems/dsjj/idp.yaml" in err


def test_validate_one_valid_path_says_when_the_register_is_not(region: Path, cli: Callable[..., CliResult]) -> None:
    edit(region / "systems/gat/case-app.yaml", "status: running", "status: live")
    code, out, err = cli("validate", "--root", str(region), str(region / "systems/dsjj/idp.yaml"))
    assert code == 0 and "valid: 1 manifest(s)" in out and "registered system" not in out
    assert "1 error(s) in other files" in err and "onboarding would be refused" in err


def test_a_looping_link_is_named_as_such(region: Path, cli: Callable[..., CliResult], tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    code, _, err = cli("validate", "--root", str(region), str(loop))
    assert code == 2 and "symbolic link loop" in err and "file not found" not in err, err


def test_a_register_folder_of_the_wrong_kind_is_named_for_what_it_is(region: Path,
                                                                     cli: Callable[..., CliResult]) -> None:
    """A missing systems/ reported its providers as unregistered (exit 1), a file there likewise, and a folder
    at region.yaml "the region file is missing": each is now a usage error (exit 2) saying what is there."""
    import shutil

    shutil.rmtree(region / "systems")
    missing = cli("validate", "--root", str(region))
    assert missing.code == 2 and "folder of system manifests is missing" in missing.err, missing.text
    (region / "systems").write_text("", encoding="utf-8")
    a_file = cli("validate", "--root", str(region))
    assert a_file.code == 2 and "systems: error: not a folder" in a_file.err, a_file.text
    (region / "region.yaml").unlink()
    (region / "region.yaml").mkdir()
    a_folder = cli("register", "--root", str(region))
    assert a_folder.code == 2 and "region.yaml: error: not a regular file" in a_folder.err, a_folder.text


def test_a_manifest_with_an_upper_case_suffix_is_named_not_skipped(region: Path, cli: Callable[..., CliResult]) -> None:
    """systems/gat/new.YAML was left out of the register in silence (its system never registered), while
    `validate` of that very file said it was valid."""
    (region / "systems/dsjj/idp.yaml").rename(region / "systems/dsjj/idp.YAML")
    checked = cli("validate", "--root", str(region))
    assert checked.code == 2 and "rename it to idp.yaml" in checked.err


def test_validate_names_the_file_given_not_a_registered_one_of_the_same_relative_name(
        region: Path, cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run outside the root, `validate --root R systems/gat/case-app.yaml` checked the registered file of that
    name and said "valid" for a broken draft; now the draft is checked, under its absolute path."""
    work = tmp_path / "work"
    (work / "systems" / "gat").mkdir(parents=True)
    draft = work / "systems" / "gat" / "case-app.yaml"
    draft.write_text("apiVersion: xzgov.io/v1\nkind: System\nmetadata: {name: broken}\n", encoding="utf-8")
    monkeypatch.chdir(work)
    code, out, err = cli("validate", "--root", str(region), "systems/gat/case-app.yaml", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["valid"] is False, (out, err)
    assert {e["file"] for e in report["errors"]} == {str(draft.resolve())}


def test_a_file_named_twice_is_one_candidate(region: Path, cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """`validate drafts drafts/new.yaml` reported the draft as clashing with itself."""
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    new = drafts / "new.yaml"
    new.write_text((region / "systems/dsjj/kms.yaml").read_text(encoding="utf-8").replace("name: kms", "name: kms2")
                   .replace("kms-", "kms2-"), encoding="utf-8")
    alone = cli("validate", "--root", str(region), str(new))
    twice = cli("validate", "--root", str(region), str(drafts), str(new), str(new))
    assert (twice.code, twice.out, twice.err) == (alone.code, alone.out, alone.err)
    assert "already registered by" not in twice.err


def test_validate_one_file_shows_region_errors_not_those_of_a_file_ending_in_region_yaml(
        region: Path, cli: Callable[..., CliResult]) -> None:
    """`d.file.endswith("region.yaml")` also took systems/gat/old-region.yaml's errors as the region's: the named,
    valid file was reported invalid. Naming region.yaml itself checks the register (it was read as a System)."""
    (region / "systems/gat/old-region.yaml").write_text("apiVersion: xzgov.io/v1\nkind: System\nmetadata: {name: x}\n",
                                                        encoding="utf-8")
    code, out, _ = cli("validate", "--root", str(region), str(region / "systems/dsjj/idp.yaml"), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["valid"] is True and report["errors_elsewhere"] >= 1, report
    (region / "systems/gat/old-region.yaml").unlink()
    code, out, err = cli("validate", "--root", str(region), str(region / "region.yaml"))
    assert code == 0 and "does not belong here" not in err, (out, err)


def test_an_over_long_root_is_the_input_not_the_machine(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    # ENAMETOOLONG took the path for an environment failure (exit 3, "nothing was changed")
    done = cli("validate", "--root", tmp_path / ("a/" * 3000))
    assert done.code == 2 and "too long" in done.err


@pytest.mark.parametrize("command", [("validate",), ("register",), ("inventory", "--check"), ("kpi",),
                                     ("onboard", "systems/dsjj/idp.yaml")])
def test_a_manifest_that_cannot_be_read_is_exit_2_for_every_command(
        region: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]) -> None:
    """README: a missing or unreadable file is exit 2. `validate` said 2 for a manifest it could not read (as a
    non-root user: mode 000), `register`, `kpi`, `inventory` and `onboard` said 1 (an invalid manifest)."""
    from xzgov.core import yamlio
    from xzgov.core.errors import Diagnostic

    real = yamlio.read_input
    locked = region / "systems/gat/case-app.yaml"

    def read_input(path: Path, display: str | None = None) -> tuple[bytes | None, Diagnostic | None]:
        if Path(path).resolve() == locked.resolve():  # what EACCES gives (root reads a mode-000 file)
            return None, Diagnostic(display or str(path), 0, 0, "", "cannot read: Permission denied", "check the path",
                                    "io")
        return real(path, display)

    monkeypatch.setattr(yamlio, "read_input", read_input)
    monkeypatch.chdir(region)
    code, _, err = cli(command[0], "--root", str(region), *command[1:])
    assert code == 2, err
    assert "case-app.yaml" in err and "Permission denied" in err


def test_a_malformed_manifest_does_not_hide_the_register_errors_of_the_others(
        region: Path, cli: Callable[..., CliResult]) -> None:
    """One manifest failing its schema stopped every register check: an address used twice or outside its zone in
    another file went unreported, and `validate FILE` called that file valid (exit 0). Now the well-formed
    manifests meet the register checks; a flow to the refused manifest's system is not an error meanwhile."""
    edit(region / "systems/dsjj/kms.yaml", "address: 10.66.2.10", "address: 10.66.300.10")  # kms: schema error
    edit(region / "systems/gat/case-app.yaml", "address: 10.67.3.10", "address: 10.66.1.11")  # idp's, wrong zone
    code, _, err = cli("validate", "--root", str(region))
    assert code == 1, err
    assert "'10.66.300.10' is not a valid ipv4" in err
    assert "address 10.66.1.11 is already used by systems/dsjj/idp.yaml" in err and "outside zone" in err
    assert "unknown system" not in err and "kms" not in err.replace("systems/dsjj/kms.yaml", ""), err
    code, _, err = cli("validate", "--root", str(region), str(region / "systems/gat/case-app.yaml"))
    assert code == 1 and err.startswith("systems/gat/case-app.yaml:"), err
    # a manifest whose name cannot be read (not YAML) leaves the others' references unjudged: as before
    (region / "systems/dsjj/kms.yaml").write_text("metadata: [\n", encoding="utf-8")
    code, _, err = cli("validate", "--root", str(region))
    assert code == 1 and "unknown system" not in err and "already used" not in err, err


@pytest.mark.parametrize(("old", "new"), [("title: 案件管理系统", 'title: "   "'),
                                          ("purpose: 加密", 'purpose: " \\t "')])
def test_a_required_text_of_only_spaces_is_blank_not_valid(region: Path, cli: Callable[..., CliResult],
                                                          old: str, new: str) -> None:
    """A title of three spaces met minLength 2 and showed as an invisible link in report.html."""
    edit(region / "systems/gat/case-app.yaml", old, new)
    code, _, err = cli("validate", "--root", str(region))
    assert code == 1 and "is blank (only spaces)" in err and "hint: write the text" in err, err


def test_validate_answers_json_on_every_refusal_and_counts_the_manifests(region: Path, tmp_path: Path,
                                                                          cli: Callable[..., CliResult]) -> None:
    """A review: `validate --format json` printed nothing on stdout for a missing path, a FIFO, an empty folder, a
    missing region.yaml or a link under systems/ (exit 2), and said "systems": 0 whenever a file failed to load."""
    import json

    fifo = tmp_path / "draft.yaml"
    os.mkfifo(fifo)
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in ([str(tmp_path / "missing.yaml")], [str(fifo)], [str(empty)]):
        code, out, err = cli("validate", "--root", str(region), *args, "--format", "json")
        answer = json.loads(out)
        assert code == 2 and answer["valid"] is False and answer["errors"], (args, out, err)
        assert answer["errors"][0]["message"] and err
    (region / "systems" / "link.yaml").symlink_to(region / "systems" / "dsjj" / "idp.yaml")
    code, out, _ = cli("validate", "--root", str(region), "--format", "json")
    assert code == 2 and json.loads(out)["errors"]
    (region / "systems" / "link.yaml").unlink()
    (region / "region.yaml").rename(region / "region.yml")
    code, out, _ = cli("validate", "--root", str(region), "--format", "json")
    assert code == 2 and "region" in json.loads(out)["errors"][0]["file"]
    (region / "region.yml").rename(region / "region.yaml")
    broken = region / "systems" / "dsjj" / "idp.yaml"
    broken.write_text(broken.read_text(encoding="utf-8") + "\n  : [", encoding="utf-8")
    code, out, _ = cli("validate", "--root", str(region), "--format", "json")
    assert code == 1 and json.loads(out)["systems"] == 3  # the manifests read, not 0

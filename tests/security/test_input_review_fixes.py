"""Bad input from a fuzzing review (952 mutants of the example inputs): each was read as absent, accepted, or an
internal error (exit 3); each is now a located exit 2 that names the path and a fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult

Cli = Callable[..., CliResult]


@pytest.mark.parametrize("folder", ["attestations", "waivers"])
@pytest.mark.parametrize("make", ["file", "dangling", "loop", "link"])
def test_a_records_folder_that_is_no_folder_fails_the_scan(root: Path, cli: Cli, tmp_path: Path, folder: str,
                                                            make: str) -> None:
    """A file or a dangling link at compliance/attestations dropped every signed set (and its vetoes) in silence;
    a waivers folder behind a link was read while the attestations one was refused."""
    path = root / "compliance" / folder
    path.parent.mkdir(exist_ok=True)
    if make == "file":
        path.write_text("x\n", encoding="utf-8")
    elif make == "dangling":
        path.symlink_to("/nonexistent/folder")
    elif make == "loop":
        path.symlink_to(folder)
    else:
        real = tmp_path / "real"
        real.mkdir()
        path.symlink_to(real)
    result = cli("scan", "--root", root, "--unsigned")
    assert result.code == 2, result.text
    assert f"compliance/{folder}" in result.err
    assert "hint:" in result.err or "replace the link" in result.err


def test_a_link_loop_in_the_inputs_is_the_inputs_fault(root: Path, cli: Cli, tmp_path: Path) -> None:
    """Path.resolve() raises RuntimeError on a loop (Python 3.11): it reached the user as an internal error."""
    (root / "region.yaml").unlink()
    (root / "region.yaml").symlink_to("region.yaml")
    for args in (("validate", "--root", root), ("scan", "--root", root, "--out", tmp_path / "out", "--unsigned")):
        result = cli(*args)
        assert result.code == 2, result.text
        assert "symbolic link loop" in result.err and "region.yaml" in result.err
        assert "internal error" not in result.err


def test_a_manifest_replaced_by_a_folder_is_refused(root: Path, cli: Cli) -> None:
    """The register said "valid" without the system whose manifest had become a folder."""
    manifest = root / "systems" / "gat" / "case-app.yaml"
    manifest.unlink()
    manifest.mkdir()
    result = cli("validate", "--root", root)
    assert result.code == 2, result.text
    assert "systems/gat/case-app.yaml" in result.err and "folder" in result.err


@pytest.mark.parametrize("group", ["gat-ops\\u00a0", "gat-ops\\u0085", "gat\\u200bops", "gat-ops\\u202e"])
def test_a_group_with_an_invisible_character_is_no_group(root: Path, cli: Cli, group: str) -> None:
    """A no-break space, NEL, zero-width space or direction mark passed: the binding matched no one's group."""
    region = root / "region.yaml"
    text = region.read_text(encoding="utf-8")
    assert "groups: [gat-ops]" in text
    region.write_text(text.replace("groups: [gat-ops]", f'groups: ["{group}"]'), encoding="utf-8")
    result = cli("validate", "--root", root)
    assert result.code == 1, result.text
    assert "is not a group name" in result.out + result.err
    # a group with an inner space or in Chinese is a group
    region.write_text(text.replace("groups: [gat-ops]", "groups: [公安厅 运维组]"), encoding="utf-8")
    assert cli("validate", "--root", root).code == 0


def test_a_blank_display_name_in_region_yaml_is_refused(root: Path, cli: Cli) -> None:
    region = root / "region.yaml"
    text = region.read_text(encoding="utf-8")
    assert "{id: gat, name: 公安厅," in text
    region.write_text(text.replace("{id: gat, name: 公安厅,", '{id: gat, name: " ",'), encoding="utf-8")
    result = cli("validate", "--root", root)
    assert result.code == 1, result.text
    assert "departments[1].name" in result.out + result.err


def test_an_evidence_folder_named_like_yaml_is_evidence_not_a_set(root: Path, cli: Cli) -> None:
    """The folder check refused a sub-folder named *.yaml inside an attestation set's evidence/ (any shape)."""
    (root / "compliance" / "attestations" / "set1" / "evidence" / "dump.yaml").mkdir(parents=True)
    result = cli("attest", "check", "--root", root)
    assert result.code == 0, result.text
    assert cli("scan", "--root", root, "--unsigned").code in (0, 1)

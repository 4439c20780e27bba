"""The Pulumi project and policy pack as files (issue 14, item 10): what `pulumi up` and `pulumi policy publish`
see outside `make setup` — the SDK requirements, a pinned state backend, an explicit cluster per stack, the dev
stack's own backup prefix, and a policy pack that imports nothing the published ``xzgov`` wheel lacks."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "lhasa", "dr")


def _yaml(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text("utf-8"))


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text("utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)", line.strip())
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return project


def _dependency_pins() -> dict[str, str]:
    pins = {}
    for spec in _project()["dependencies"]:
        name, _, version = spec.partition("==")
        pins[name.lower()] = version
    return pins


def test_the_pip_toolchain_finds_the_sdk_at_the_tested_versions() -> None:
    runtime = _yaml("Pulumi.yaml")["runtime"]
    assert runtime["name"] == "python" and runtime["options"]["toolchain"] == "pip"
    assert runtime["options"]["virtualenv"] == ".venv"
    requirements = _pins(ROOT / "requirements.txt")
    tested = _dependency_pins()
    for package in ("pulumi", "pulumi-kubernetes"):
        assert requirements[package] == tested[package], package
    assert "-e ." in (ROOT / "requirements.txt").read_text("utf-8").splitlines()  # the program's own packages


def test_state_never_goes_to_the_saas_default() -> None:
    url = _yaml("Pulumi.yaml")["backend"]["url"]
    assert url.startswith(("s3://", "file://")) and "pulumi.com" not in url


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_names_its_cluster_and_the_dev_stack_keeps_its_backups_apart(stack: str) -> None:
    config = _yaml(f"Pulumi.{stack}.yaml")["config"]
    assert config.get("xzgov:kubeContext"), stack  # an explicit provider, checked against xzgov:clusterUid
    prefix = config.get("xzgov:backupPrefix", "velero")
    if stack == "dev":
        assert prefix != "velero" and config["xzgov:protectStateful"] is False
    else:
        assert prefix == "velero" and config.get("xzgov:protectStateful", True) is not False


def test_the_policy_pack_is_self_contained() -> None:
    """The pack directory has its own runtime and requirements (pulumi-policy and the xzgov wheel of this
    version); its entry point's imports resolve to packages that wheel ships, nothing else from the tree."""
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text("utf-8"))
    assert pack["runtime"]["name"] == "python" and pack["runtime"]["options"]["virtualenv"] == "venv"
    requirements = _pins(ROOT / "policies" / "requirements.txt")
    assert requirements["pulumi-policy"] == _dependency_pins()["pulumi-policy"]
    assert requirements["xzgov"] == _project()["version"]
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"]["find"][
        "include"]
    probe = (
        "import pathlib, sys\n"
        "import policies.crossguard\n"
        f"root = pathlib.Path({str(ROOT)!r})\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    path = getattr(module, '__file__', None)\n"
        "    if path and pathlib.Path(path).resolve().is_relative_to(root) and '.venv' not in path:\n"
        "        print(name)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                          timeout=300)
    loaded = {line.split(".")[0] for line in done.stdout.split()}
    assert loaded and loaded <= {"policies", "xzgov"}, loaded
    assert all(any(re.fullmatch(p.replace("*", ".*"), top) for p in shipped) for top in loaded), (loaded, shipped)
    for source in (ROOT / "policies").rglob("*.py"):
        assert "sys.path" not in source.read_text("utf-8"), source  # no reaching outside the installed packages

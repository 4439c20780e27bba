"""``--stack NAME`` / ``--project-dir DIR`` of the offline commands (``xzgov plan``, ``xzgov dr``): the
settings a stack file gives, read as ``stacks/__main__.py`` reads the Pulumi configuration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from stacks.settings import SUPPORTED_KUBERNETES_VERSIONS, Settings, settings_from_stack_file
from xzgov.core.errors import Diagnostic, UsageError

StackName = Annotated[str | None, typer.Option(
    "--stack", help="Use a stack's configuration (Pulumi.STACK.yaml in --project-dir: its site, register root, "
    "backup prefix, scanner, quotas …), as `pulumi up` on that stack would.")]
ProjectDir = Annotated[Path, typer.Option(
    "--project-dir", help="The Pulumi project directory (Pulumi.yaml and the stack files).", file_okay=False)]


def _check_kubernetes_version(value: str | None) -> str | None:
    """A --kubernetes-version the schemas do not cover is the command line's error (exit 2 naming the option);
    checked with the stack's settings it was reported as the stack file's (Pulumi.<stack>.yaml)."""
    if value is not None and value not in SUPPORTED_KUBERNETES_VERSIONS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)}")
    return value


KubernetesVersion = Annotated[str | None, typer.Option(
    "--kubernetes-version", callback=_check_kubernetes_version, metavar="MINOR",
    help="Kubernetes minor version for Pod Security labels and schemas (default: the stack's with --stack, "
         "else 1.30).")]


def stack_settings(project: Path, stack: str, sites: list[str] | None) -> Settings:
    """The settings of ``Pulumi.<stack>.yaml`` in the project directory ``project``, its ``registerRoot``
    resolved against it as ``stacks/__main__.py`` does (exit 2: no such stack, or --site elsewhere)."""
    path = project / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project.glob("Pulumi.*.yaml"))
        raise UsageError(f"no stack {stack!r}: {path} does not exist", [Diagnostic(
            str(path), 0, 0, "--stack", "no such stack file",
            f"choose one of: {', '.join(known)}" if known else "run from the directory holding Pulumi.yaml "
            "(or give --project-dir)", "usage")])
    settings = settings_from_stack_file(path)
    if sites and sites != [settings.site]:
        raise UsageError(f"--site {', '.join(sites)} is not stack {stack}'s site ({settings.site})", [Diagnostic(
            "<command line>", 0, 0, "--site", f"stack {stack} plans site {settings.site}",
            "drop --site (the stack names its site), or drop --stack", "usage")])
    root = Path(settings.register_root)
    return replace(settings, register_root=str(root if root.is_absolute() else project / root))

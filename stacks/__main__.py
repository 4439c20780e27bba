"""Pulumi entry point (``main: stacks/``): configuration → Settings → components → outputs.

The only place that reads ``pulumi.Config``. Keys are documented in ``docs/stacks.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config

from stacks.program import build, cluster_provider
from stacks.settings import (
    CONFIG_KEYS,
    located_in_stack_file,
    misplaced_key,
    misplaced_problem,
    settings_from_config,
)
from xzgov.core.errors import UsageError, XzgovError
from xzgov.core.register import load_register

NAMESPACE = "xzgov"


def stack_config(config: pulumi.Config) -> dict[str, Any]:
    """Every key the stack sets in the ``xzgov`` namespace, as Pulumi holds it (text; lists and mappings as JSON),
    the documented ones and any other: a mistyped key (``xzgov:disasterDecalred``) must reach the reader's
    unknown-key check, as it does under ``xzgov plan --stack`` — read by the documented keys only, it was dropped
    and the disaster it meant to declare silently was not. ``pulumi up`` hands the configuration over in
    ``PULUMI_CONFIG``; the runtime mocks and the automation API set it in the runtime's own map."""
    given = {**pulumi.runtime.get_config_env(), **pulumi_config.CONFIG.get()}
    project = pulumi.get_project()
    misplaced = [misplaced_problem(key, meant, f"Pulumi.{pulumi.get_stack()}.yaml", project) for key in sorted(given)
                 if (meant := misplaced_key(key, project)) is not None]
    if misplaced:
        raise UsageError(f"{len(misplaced)} stack key(s) outside the xzgov: namespace", misplaced)
    named = sorted({key.partition(":")[2] for key in given if key.partition(":")[0] == NAMESPACE} - set(CONFIG_KEYS))
    return {key: config.get(key) for key in [*CONFIG_KEYS, *named]}


def run_error(error: XzgovError) -> pulumi.RunError:
    """``error`` as Pulumi shows a program's failure without a traceback, with every located diagnostic (the key,
    value and fix): the traceback of the error itself printed only its message."""
    return pulumi.RunError("\n".join([error.message, *(d.render() for d in error.diagnostics)]))


try:
    # read into Settings by the one reader the offline plan uses too (`xzgov plan --stack NAME`)
    settings = settings_from_config(stack_config(pulumi.Config(NAMESPACE)), f"Pulumi.{pulumi.get_stack()}.yaml")
    root = Path(settings.register_root)
    if not root.is_absolute():
        root = Path(pulumi.get_root_directory() or ".") / root  # relative to Pulumi.yaml
    try:
        cloud = build(load_register(root), settings, provider=cluster_provider(settings))
    except UsageError as error:  # a setting the render finds wrong (an unknown site): at its line, as the plan says
        stack_file = Path(pulumi.get_root_directory() or ".") / settings.source_file
        raise located_in_stack_file(error, stack_file if stack_file.is_file() else Path(settings.source_file)) \
            from None
except XzgovError as error:
    raise run_error(error) from None
for key, value in cloud.outputs().items():
    pulumi.export(key, value)

"""Pulumi entry point (``main: stacks/``): configuration → Settings → components → outputs.

The only place that reads ``pulumi.Config``. Keys are documented in ``docs/stacks.md``.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from stacks.program import build, cluster_provider
from stacks.settings import CONFIG_KEYS, settings_from_config
from xzgov.core.register import load_register

config = pulumi.Config("xzgov")
# Every key as Pulumi holds it (text; lists and mappings as JSON), read into Settings by the one reader the
# offline plan uses too (`xzgov plan --stack NAME`).
settings = settings_from_config({key: config.get(key) for key in CONFIG_KEYS}, f"Pulumi.{pulumi.get_stack()}.yaml")

root = Path(settings.register_root)
if not root.is_absolute():
    root = Path(pulumi.get_root_directory() or ".") / root  # relative to Pulumi.yaml
cloud = build(load_register(root), settings, provider=cluster_provider(settings))
for key, value in cloud.outputs().items():
    pulumi.export(key, value)

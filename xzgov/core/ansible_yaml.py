"""YAML written for Ansible (inventories, vars files): text that came from a manifest is never a template.

Ansible templates the strings of an inventory file or a vars file it loads (``{{ … }}``, ``{% … %}``, ``{# … #}``):
a flow's ``purpose`` written as ``"{{ lookup('pipe', 'touch /tmp/x') }}"`` ran a command on the controller once a
role read it, from the committed ``inventories/<site>/hosts.yml`` (the inventory plugin marks the same values
unsafe). :func:`dump` writes every string holding a template marker as ``!unsafe`` text, which Ansible never
templates; :func:`load` reads such a file back (``!unsafe`` as plain text) for the scan's own use.
"""

from __future__ import annotations

from typing import Any

import yaml

#: what starts a Jinja expression, statement or comment in Ansible's templating
TEMPLATE_MARKERS = ("{{", "{%", "{#")
UNSAFE_TAG = "!unsafe"


class _Dumper(yaml.SafeDumper):
    pass


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if any(marker in value for marker in TEMPLATE_MARKERS):
        return dumper.represent_scalar(UNSAFE_TAG, value, style="'")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_text)


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor(UNSAFE_TAG, lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


def dump(data: Any, **options: Any) -> str:
    """``yaml.safe_dump`` of ``data`` with template markers in strings written ``!unsafe``."""
    return str(yaml.dump(data, Dumper=_Dumper, allow_unicode=True, **options))


def dump_all(documents: Any, **options: Any) -> str:
    return str(yaml.dump_all(documents, Dumper=_Dumper, allow_unicode=True, **options))


def load(text: str) -> Any:
    """``yaml.safe_load`` that also reads what :func:`dump` wrote."""
    return yaml.load(text, Loader=_Loader)

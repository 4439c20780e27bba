"""Render a role's templates with the role's own variables through Ansible's templar (no host needed).

Used for branches no test host can run (openEuler / Kylin with dnf, a VM's GRUB): the role's defaults and
vars/main.yml are loaded as Ansible loads them, host facts are given by the test, and the template files are
rendered by the same engine the ``ansible.builtin.template`` module uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLES = Path(__file__).resolve().parents[2] / "roles"


def _trusted(value: Any) -> Any:
    """Role files are trusted templates (as Ansible treats them when it loads a role)."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, Mapping):
        return {key: _trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def role_templar(role: str, host_vars: Mapping[str, Any]) -> Templar:
    """A templar with ``role``'s defaults, then its vars/main.yml, then ``host_vars`` (inventory and facts)."""
    loader = DataLoader()
    variables: dict[str, Any] = {"ansible_managed": "Ansible managed"}
    for layer in ("defaults", "vars"):
        path = ROLES / role / layer / "main.yml"
        if path.exists():
            variables.update(loader.load_from_file(str(path)) or {})
    variables.update(host_vars)
    return Templar(loader=loader, variables=_trusted(variables))


def render(role: str, template: str, host_vars: Mapping[str, Any]) -> str:
    """``roles/<role>/templates/<template>`` rendered for a host with ``host_vars``."""
    text = (ROLES / role / "templates" / template).read_text(encoding="utf-8")
    return str(role_templar(role, host_vars).template(trust_as_template(text)))


def value(role: str, expression: str, host_vars: Mapping[str, Any]) -> Any:
    """The value of a Jinja expression (``"{{ ... }}"``) with the role's variables."""
    return role_templar(role, host_vars).template(trust_as_template(expression))

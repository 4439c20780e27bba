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
from ansible.plugins.loader import filter_loader
from ansible.template import Templar, trust_as_template

ROLES = Path(__file__).resolve().parents[2] / "roles"
# the repository's filters (ansible.cfg filter_plugins), found as ansible-playbook finds them
filter_loader.add_directory(str(ROLES.parent / "plugins" / "filter"))


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


def task(role: str, name: str, tasks_file: str = "main.yml") -> dict[str, Any]:
    """The task of ``roles/<role>/tasks/<tasks_file>`` whose name starts with ``name`` (blocks, their rescue and
    always sections searched)."""
    def walk(entries: list[dict[str, Any]]) -> Any:
        for entry in entries:
            if str(entry.get("name", "")).startswith(name):
                yield entry
            for section in ("block", "rescue", "always"):
                yield from walk(entry.get(section, []))

    loaded = DataLoader().load_from_file(str(ROLES / role / "tasks" / tasks_file))
    found = list(walk(loaded))
    assert len(found) == 1, f"{len(found)} tasks named {name!r} in {role}/{tasks_file}"
    return dict(found[0])


def runs(role: str, entry: Mapping[str, Any], host_vars: Mapping[str, Any]) -> bool:
    """Whether a task or handler ``entry`` of ``role`` runs for a host with ``host_vars``: every condition of its
    ``when`` holds, evaluated as Ansible evaluates a conditional."""
    when = entry.get("when", [])
    templar = role_templar(role, host_vars)
    return all(bool(templar.evaluate_conditional(trust_as_template(str(c))))
               for c in ([when] if isinstance(when, str) else when))


def assertion_holds(role: str, name: str, host_vars: Mapping[str, Any], tasks_file: str = "main.yml") -> bool:
    """Whether every ``that`` of the assert task ``name`` holds for a host with ``host_vars`` (the task's own
    ``vars`` applied), evaluated as Ansible evaluates a conditional."""
    entry = task(role, name, tasks_file)
    variables = {**host_vars, **{key: trust_as_template(v) if isinstance(v, str) else v
                                 for key, v in (entry.get("vars") or {}).items()}}
    that = entry["ansible.builtin.assert"]["that"]
    conditions = [that] if isinstance(that, str) else list(that)
    templar = role_templar(role, variables)
    return all(bool(templar.evaluate_conditional(trust_as_template(str(c)))) for c in conditions)

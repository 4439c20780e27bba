"""Scan targets: the hosts of an Ansible inventory (through ansible-core), and how to reach each one."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path

import yaml

from xzgov.core import ansible_yaml
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.vault import KEY_FILE_ENV
from xzgov.facts.host import HostTarget, SshTransport, Transport
from xzgov.facts.host_parsers import port_number

#: the inventory variables the live scan connects with (a vaulted one cannot be read without the vault password)
CONNECTION_VARIABLES = ("ansible_host", "ansible_user", "ansible_port", "ansible_ssh_private_key_file",
                        "ansible_ssh_common_args")
#: An ``xzgov_*`` variable named as a secret (a role's input, e.g. ``xzgov_directory_admin_password``): never read by
#: the scan, and the documented place for it is the vault.
SECRET_NAME = re.compile(r"_(?:password|passphrase|secret|token)$")


def read_by_scan(name: str) -> bool:
    """Whether the live scan reads inventory variable ``name``: the connection variables, and every ``xzgov_*``
    value (the host context, and the contract values it compares with the register) but a secret's. A
    vault-encrypted one is an error (the scan holds no vault password); any other may be vaulted."""
    return name in CONNECTION_VARIABLES or (name.startswith("xzgov_") and not SECRET_NAME.search(name))
#: connection variables a command-line option replaces (``--ssh-user``, ``--ssh-key``)
OVERRIDABLE = ("ansible_user", "ansible_ssh_private_key_file")


def _plugin_config(path: Path) -> bool:
    """Whether ``path`` configures an inventory plugin (``plugin: NAME``, e.g. ``inventories/<site>.xzgov.yml``
    for the register's own plugin): Ansible finds such plugins through ``ansible.cfg`` at the repository
    root only, so read from elsewhere the file would fail to parse."""
    if not path.is_file() or path.suffix not in (".yml", ".yaml"):
        return False
    try:
        data = ansible_yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # Ansible reads it and says what is wrong
    return isinstance(data, dict) and "plugin" in data


def inventory_sources(directory: Path) -> list[Path]:
    """What Ansible reads of ``directory``: the directory itself, or — when it holds site directories and
    nothing else, or inventory plugin configurations — its site directories and plain inventory files. The
    plugin configurations are left out: the site directories hold the same hosts (``xzgov inventory`` writes
    both from the register, ``xzgov inventory --check`` says when they differ)."""
    if not directory.is_dir():
        return [directory]
    entries = sorted(p for p in directory.iterdir()
                     if p.name not in ("group_vars", "host_vars") and not p.name.startswith("."))
    plugins = [p for p in entries if _plugin_config(p)]
    subdirs = [p for p in entries if p.is_dir()]
    files = [p for p in entries if p.is_file() and p not in plugins]
    return [*subdirs, *files] if plugins or (subdirs and not files) else [directory]


def inventory_hosts(directory: Path, overridden: Collection[str] = ()) -> list[HostTarget]:
    """Hosts of an Ansible inventory directory (``inventories/`` or ``inventories/<site>/``) with merged
    variables (group_vars / host_vars included), through ansible-core's inventory manager. A source Ansible
    cannot parse, a vault-encrypted value the scan reads (:func:`read_by_scan`, except those ``overridden`` by
    ``--ssh-user`` / ``--ssh-key``) or a port that is not a number is exit 2."""
    if not directory.exists():
        raise UsageError(f"inventory {directory} does not exist",
                         [Diagnostic(str(directory), 0, 0, "", "no such file or directory",
                                     "run `xzgov inventory` first or pass --inventory DIR", "unreadable")])
    from ansible import constants  # imported lazily: only the live scan needs ansible-core
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import EncryptedString
    from ansible.vars.manager import VariableManager

    sources = inventory_sources(directory)
    loader = DataLoader()
    targets: list[HostTarget] = []
    seen: set[str] = set()
    # A source Ansible cannot parse is an error, not a warning: skipping it would scan fewer hosts and
    # still sign the report.
    any_unparsed, constants.INVENTORY_ANY_UNPARSED_IS_FAILED = constants.INVENTORY_ANY_UNPARSED_IS_FAILED, True
    try:
        for source in sources:
            try:
                manager = InventoryManager(loader=loader, sources=[str(source)])
                variables = VariableManager(loader=loader, inventory=manager)
                hosts = [(host, variables.get_vars(host=host, include_hostvars=False))
                         for host in manager.get_hosts() if host.name not in seen]
            except AnsibleError as error:  # unparsable, or a vault-encrypted vars file (no password here)
                said = " ".join(str(error).split())
                # the register's vars plugin decrypts SM4-vaulted values as it loads them, read or not
                hint = (f"set {KEY_FILE_ENV} to the vault key file: the inventory's vars plugin decrypts every "
                        "SM4-vaulted value as Ansible loads it (the scan itself reads none of the secrets)"
                        if KEY_FILE_ENV in said else
                        "fix the file Ansible names above (`ansible-inventory -i DIR --list` shows it), keep the "
                        "variables the scan reads unencrypted, or regenerate with `xzgov inventory`")
                raise UsageError(f"inventory {source} cannot be read", [Diagnostic(
                    str(source), 0, 0, "", said[:500], hint, "unreadable")]) from None
            for host, merged in hosts:  # an earlier source's hosts were left out above
                seen.add(host.name)
                # a vaulted value the scan does not read (a become password, a directory password) is left out:
                # nothing downstream ever handles it, even to compare it
                values = {k: v for k, v in merged.items() if k.startswith(("xzgov_", "ansible_"))
                          and not (isinstance(v, EncryptedString) and not read_by_scan(k))}
                for key, value in values.items():
                    if key in overridden or not read_by_scan(key):
                        continue
                    if isinstance(value, EncryptedString):
                        raise UsageError(f"inventory {source}: {key} of host {host.name} is vault-encrypted", [
                            Diagnostic(str(source), 0, 0, f"{host.name}.{key}", "the live scan reads this variable "
                                       "in the clear (it holds no vault password)",
                                       "keep it unencrypted (the connection variables and the xzgov_* values "
                                       "`xzgov inventory` writes are not secrets)"
                                       + (", or pass --ssh-user / --ssh-key" if key in OVERRIDABLE else ""),
                                       "unreadable")])
                port = values.get("ansible_port")
                if port is not None and not is_port(port):
                    raise UsageError(f"inventory {source}: ansible_port of host {host.name} is not a port number", [
                        Diagnostic(str(source), 0, 0, f"{host.name}.ansible_port", f"{str(port)[:80]!r}: not a port "
                                   "from 1 to 65535 in ASCII digits (the live scan does not expand templates)",
                                   "write the port number, or leave ansible_port out for 22", "unreadable")])
                system = str(values.get("xzgov_system", ""))
                if not system:
                    continue
                targets.append(HostTarget(host.name, str(values.get("ansible_host", host.name)), system, values))
    finally:
        constants.INVENTORY_ANY_UNPARSED_IS_FAILED = any_unparsed
    if not targets:
        raise UsageError(f"no xzgov hosts in inventory {directory}",
                         [Diagnostic(str(directory), 0, 0, "", "no host with xzgov_system",
                                     "generate inventories with `xzgov inventory`", "empty")])
    return targets


def is_port(value: object) -> bool:
    """Whether an inventory value is a TCP port as ssh takes it: ASCII digits, 1 to 65535 (a YAML boolean is
    not one, though Python counts it as an int)."""
    return not isinstance(value, bool) and port_number(str(value)) is not None


def transports(*, default_user: str, ssh_user: str | None = None, ssh_key: str | None = None,
               factory: Callable[[HostTarget], Transport] | None = None) -> Callable[[HostTarget], Transport]:
    """The transport per host: ``factory`` when given (tests), else SSH with the inventory's connection
    variables, overridden by ``--ssh-user`` / ``--ssh-key``."""
    if factory is not None:
        return factory

    def ssh(target: HostTarget) -> Transport:
        v = target.variables
        port = v.get("ansible_port")
        return SshTransport(
            address=target.address,
            user=ssh_user or str(v.get("ansible_user") or default_user),
            port=int(port) if port else None,
            identity_file=ssh_key or v.get("ansible_ssh_private_key_file"),
            ssh_extra_args=str(v.get("ansible_ssh_common_args") or ""),
        )

    return ssh

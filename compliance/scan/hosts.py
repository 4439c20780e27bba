"""Scan targets: the hosts of an Ansible inventory (through ansible-core), and how to reach each one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.facts.host import HostTarget, SshTransport, Transport

#: the inventory variables the live scan connects with (a vaulted one cannot be read without the vault password)
CONNECTION_VARIABLES = ("xzgov_system", "ansible_host", "ansible_user", "ansible_port",
                        "ansible_ssh_private_key_file", "ansible_ssh_common_args")


def inventory_hosts(directory: Path) -> list[HostTarget]:
    """Hosts of an Ansible inventory directory (``inventories/`` or ``inventories/<site>/``) with merged
    variables (group_vars / host_vars included), through ansible-core's inventory manager."""
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

    sources = [directory]
    if directory.is_dir():
        subdirs = sorted(p for p in directory.iterdir() if p.is_dir() and p.name not in ("group_vars", "host_vars"))
        if subdirs and not any(p.is_file() for p in directory.iterdir()):
            sources = subdirs
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
            except AnsibleError as error:
                raise UsageError(f"inventory {source} cannot be read", [Diagnostic(
                    str(source), 0, 0, "", " ".join(str(error).split())[:500],
                    "fix the file Ansible names above (`ansible-inventory -i DIR --list` shows it), or "
                    "regenerate with `xzgov inventory`", "unreadable")]) from None
            variables = VariableManager(loader=loader, inventory=manager)
            for host in manager.get_hosts():
                if host.name in seen:
                    continue
                seen.add(host.name)
                merged = variables.get_vars(host=host, include_hostvars=False)
                values = {k: v for k, v in merged.items() if k.startswith(("xzgov_", "ansible_"))}
                for key in CONNECTION_VARIABLES:
                    if isinstance(values.get(key), EncryptedString):
                        raise UsageError(f"inventory {source}: {key} of host {host.name} is vault-encrypted", [
                            Diagnostic(str(source), 0, 0, f"{host.name}.{key}", "the live scan reads its connection "
                                       "variables in the clear (it holds no vault password)",
                                       "keep connection variables unencrypted (they are not secrets), or pass "
                                       "--ssh-user / --ssh-key", "unreadable")])
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

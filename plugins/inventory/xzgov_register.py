"""Ansible inventory plugin: read the xzgov register (systems/ + region.yaml) directly."""

from __future__ import annotations

DOCUMENTATION = r"""
name: xzgov_register
short_description: Hosts of the xzgov system register, grouped by site, zone, level, tier, department and OS
description:
  - Loads and validates C(region.yaml) and every manifest under C(systems/) with the same code as
    C(xzgov validate), and yields the hosts of one site with the groups and host variables that
    C(xzgov inventory) writes to C(inventories/<site>/hosts.yml).
  - The configuration file name must end with C(.xzgov.yml) or C(.xzgov.yaml).
options:
  plugin:
    description: The name of this plugin.
    required: true
    choices: [xzgov_register]
  site:
    description: The site whose hosts to list (an id from region.yaml spec.sites).
    required: true
    type: str
  root:
    description: Repository root holding region.yaml and systems/; relative paths are taken from the
      folder of this configuration file. Defaults to that folder's parent.
    type: str
"""

EXAMPLES = r"""
# inventories/lhasa.xzgov.yml
plugin: xzgov_register
site: lhasa
"""

import os  # noqa: E402 - Ansible plugins start with their documentation
from pathlib import Path  # noqa: E402

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin  # noqa: E402

#: the options DOCUMENTATION declares: any other key of the configuration file is refused
_OPTIONS = ("plugin", "site", "root")


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    NAME = "xzgov_register"

    def verify_file(self, path: str) -> bool:
        return bool(super().verify_file(path)) and path.endswith((".xzgov.yml", ".xzgov.yaml"))

    def parse(self, inventory: object, loader: object, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        # a misspelt option ("roots:") was ignored and the default root listed another register's hosts
        unknown = sorted(str(key) for key in config if key not in _OPTIONS)
        if unknown:
            from difflib import get_close_matches

            hints = [f"'{key}'" + (f" (did you mean '{near[0]}'?)" if (near := get_close_matches(key, _OPTIONS, 1))
                                   else "") for key in unknown]
            raise AnsibleParserError(f"{path}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
                                     f"the options are {', '.join(_OPTIONS)}")
        from xzgov.core.errors import XzgovError
        from xzgov.core.inventory import build_inventory
        from xzgov.core.register import load_register
        from xzgov.facts.thresholds import load_thresholds

        folder = os.path.dirname(os.path.abspath(path))
        root = os.path.normpath(os.path.join(folder, self.get_option("root") or os.pardir))
        site = self.get_option("site")
        try:
            register = load_register(root)
            overrides = load_thresholds(Path(root))
        except XzgovError as error:
            details = "\n".join(d.render() for d in error.diagnostics)
            raise AnsibleParserError(f"xzgov register at {root} is invalid: {error}\n{details}") from None
        if site not in register.region.sites:
            raise AnsibleParserError(f"{path}: unknown site '{site}'; sites: {', '.join(register.region.sites)}")
        data = build_inventory(register, site, overrides)["all"]
        for hostname, variables in data["hosts"].items():
            self.inventory.add_host(hostname)
            for key, value in variables.items():
                self.inventory.set_variable(hostname, key, value)
        for group, members in data["children"].items():
            self.inventory.add_group(group)
            for hostname in members["hosts"]:
                self.inventory.add_host(hostname, group=group)

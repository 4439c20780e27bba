"""``xzgov_sudoers_commands``: a list of commands as the body of a sudoers ``Cmnd_Alias`` (``a, b, c``), each with the
characters sudoers treats specially in a command's arguments escaped (``,`` ``:`` ``=`` and the backslash).

One rule for both roles that write sudoers (directory_client, os_hardening): os_hardening wrote its role commands
unescaped, so a least-privilege command such as ``/usr/bin/ps -eo pid,user,args`` failed ``visudo -cf`` and the
host's hardening (and with it the rollout's batch) stopped. Wildcards (``*``) are left as they are: the roles
assert where one may stand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

DOCUMENTATION = r"""
name: xzgov_sudoers_commands
short_description: Commands as a sudoers Cmnd_Alias body, special characters escaped
description: See the module docstring.
"""

_SPECIAL = re.compile(r"([,:=\\])")


def sudoers_commands(commands: Iterable[Any]) -> str:
    return ", ".join(_SPECIAL.sub(r"\\\1", str(command)) for command in commands)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_sudoers_commands": sudoers_commands}

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

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: xzgov_sudoers_commands
short_description: Commands as a sudoers Cmnd_Alias body, special characters escaped
description: See the module docstring.
"""

_SPECIAL = re.compile(r"([,:=\\])")
_LINE_BREAK = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def sudoers_commands(commands: Iterable[Any]) -> str:
    listed = [str(command) for command in commands]
    broken = [command for command in listed if _LINE_BREAK.search(command)]
    if broken:  # sudoers reads line by line: the rest of the command would be a sudoers line of its own
        raise AnsibleFilterError(f"a sudo command holds a line break or a control character: {broken!r}; write "
                                 "each command on one line")
    return ", ".join(_SPECIAL.sub(r"\\\1", command) for command in listed)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_sudoers_commands": sudoers_commands}

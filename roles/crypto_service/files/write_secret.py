"""Write a secret file on the host from stdin (run by tasks/database.yml): the secret reaches the host inside the
module's own payload, piped over the SSH session (ansible.cfg: pipelining), never as a file on the controller —
``ansible.builtin.copy`` with ``content`` writes its content to a temporary file there first.

argv: DEST OWNER GROUP MODE (octal). stdin: the file's content, base64 (binary-safe). stdout: ``unchanged`` when DEST
already holds exactly that content with that owner, group and mode, else ``written`` (atomically: a temporary file
beside DEST, created 0600, owned and moded, synced, then renamed over DEST).
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import sys
import tempfile


def main(dest: str, owner: str, group: str, mode_text: str) -> str:
    content = base64.b64decode(sys.stdin.buffer.read(), validate=True)
    uid, gid, mode = pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid, int(mode_text, 8)
    try:
        with open(dest, "rb") as current:
            status = os.fstat(current.fileno())
            if (current.read() == content and (status.st_uid, status.st_gid) == (uid, gid)
                    and status.st_mode & 0o7777 == mode):
                return "unchanged"
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(dest))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".xzgov-secret-")  # created 0600
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), mode)
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, dest)
    except BaseException:
        os.unlink(temporary)
        raise
    folder = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return "written"


if __name__ == "__main__":
    print(main(*sys.argv[1:5]))

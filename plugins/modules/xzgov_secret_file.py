"""Ansible module ``xzgov_secret_file``: write a secret file on the host from the module's own arguments.

``ansible.builtin.copy`` with ``content`` first writes the content into a temporary file on the controller (its
action plugin, in ``DEFAULT_LOCAL_TMP``), where it stays if the controller dies mid-run: a master key or a TLS private
key decrypted from the vault must not. This module's arguments travel inside its payload, which pipelining
(ansible.cfg) sends over the SSH session's stdin: the secret is never a file on the controller. The file is written
atomically (a temporary file beside it, created 0600, owned and moded, synced, renamed), and only when its content,
owner, group or mode differ.
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: xzgov_secret_file
short_description: Write a secret file without it touching the controller's disk
description:
  - Writes O(content) (or O(content_base64)) to O(dest) atomically with O(owner), O(group) and O(mode).
  - Reports changed only when the file's content, owner, group or mode differ. Supports check mode.
options:
  dest: {type: path, required: true, description: The file to write.}
  content: {type: str, description: The file's text (no_log).}
  content_base64: {type: str, description: The file's bytes, base64 (no_log), e.g. a slurp result.}
  owner: {type: str, required: true, description: Owner name.}
  group: {type: str, required: true, description: Group name.}
  mode: {type: str, default: "0600", description: Octal mode.}
"""


def _current(dest: str) -> tuple[bytes, os.stat_result] | None:
    try:
        with open(dest, "rb") as handle:
            return handle.read(), os.fstat(handle.fileno())
    except FileNotFoundError:
        return None


def _write(dest: str, content: bytes, uid: int, gid: int, mode: int) -> None:
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


def main() -> None:
    module = AnsibleModule(
        argument_spec={"dest": {"type": "path", "required": True},
                       "content": {"type": "str", "no_log": True},
                       "content_base64": {"type": "str", "no_log": True},
                       "owner": {"type": "str", "required": True},
                       "group": {"type": "str", "required": True},
                       "mode": {"type": "str", "default": "0600"}},
        required_one_of=[("content", "content_base64")], mutually_exclusive=[("content", "content_base64")],
        supports_check_mode=True)
    params = module.params
    try:
        content = (params["content"].encode() if params["content"] is not None
                   else base64.b64decode(params["content_base64"], validate=True))
        uid, gid = pwd.getpwnam(params["owner"]).pw_uid, grp.getgrnam(params["group"]).gr_gid
        mode = int(params["mode"], 8)
    except (ValueError, KeyError) as error:
        module.fail_json(msg=f"xzgov_secret_file {params['dest']}: unusable argument: {type(error).__name__}")
    current = _current(params["dest"])
    same = current is not None and current[0] == content and (current[1].st_uid, current[1].st_gid) == (uid, gid) \
        and current[1].st_mode & 0o7777 == mode
    if not same and not module.check_mode:
        try:
            _write(params["dest"], content, uid, gid, mode)
        except OSError as error:
            module.fail_json(msg=f"xzgov_secret_file {params['dest']}: {error.strerror or error}")
    module.exit_json(changed=not same, dest=params["dest"])


if __name__ == "__main__":
    main()

"""Every task that handles a secret (a private key's file or PEM, a password, a storage secret) is ``no_log``.

The directory role's copy of its TLS private key was not: ``ansible-playbook site.yml --check --diff`` (the dry run
docs/hardening.md recommends) printed the key. Checked for every task of every role, by the variables it reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"

#: Variables that hold a secret or name a file holding one (the private key, not the certificate).
SECRET = re.compile(r"\b\w*(_key_src|_key_pem|_password|_secret|_secrets|_passphrase)\b")
#: Modules that print nothing of the values they test: a failed assert shows its condition, not the values.
QUIET = {"ansible.builtin.assert", "ansible.builtin.meta"}


def _tasks(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for entry in entries or []:
        if "block" in entry:
            if entry.get("no_log") is True:
                continue  # the block's no_log covers every task in it
            yield from _tasks(entry["block"])
            yield from _tasks(entry.get("rescue", []))
            yield from _tasks(entry.get("always", []))
        else:
            yield entry


def _secret_tasks() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(ROLES.glob("*/tasks/*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if QUIET & set(task):
                continue
            body = {key: value for key, value in task.items() if key not in ("name", "when", "tags", "notify")}
            if SECRET.search(yaml.safe_dump(body)):
                yield f"{path.relative_to(ROLES)}: {task.get('name')}", task


SECRET_TASKS = list(_secret_tasks())


def test_some_tasks_handle_secrets() -> None:
    assert len(SECRET_TASKS) >= 5  # the pattern finds what it is meant to find


@pytest.mark.parametrize(("where", "task"), SECRET_TASKS, ids=[where for where, _ in SECRET_TASKS])
def test_a_task_handling_a_secret_is_no_log(where: str, task: dict[str, Any]) -> None:
    assert task.get("no_log") is True, f"{where}: reads a secret without no_log: true"

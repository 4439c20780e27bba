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


#: Reads the shadow database (every account's password hash): getent's facts, or the files themselves.
SHADOW = re.compile(r"getent_shadow|/etc/g?shadow\b")


def _reads_shadow(task: dict[str, Any]) -> bool:
    getent = task.get("ansible.builtin.getent") or task.get("getent")
    if isinstance(getent, dict) and "shadow" in str(getent.get("database", "")) + str(task.get("loop", "")):
        return True
    body = {key: value for key, value in task.items() if key not in ("name", "tags")}
    return bool(SHADOW.search(yaml.safe_dump(body)))


SHADOW_TASKS = [(f"{path.relative_to(ROLES)}: {task.get('name')}", task)
                for path in sorted(ROLES.glob("*/tasks/*.yml"))
                for task in _tasks(yaml.safe_load(path.read_text(encoding="utf-8"))) if _reads_shadow(task)]


def test_tasks_reading_the_shadow_database_are_no_log() -> None:
    """os_hardening read `getent shadow` without no_log and looped over its entries: `ansible-playbook -v` printed
    every account's password hash. Only no_log tasks read it; the others use its hash-free summary."""
    assert SHADOW_TASKS  # the pattern finds the read
    assert [where for where, task in SHADOW_TASKS if task.get("no_log") is not True] == []


def test_the_shadow_summary_keeps_no_hash() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("xzgov_secrets", ROLES.parent / "plugins/filter/xzgov_secrets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shadow = {"ops": ["$6$salt$hash", "20000", "1", "90", "7", "30", "", ""], "empty": ["", "19000", "", "", "", "", "",
              ""], "locked": ["!$6$s$h", "1"], "nologin": ["*", "1"], "des": ["abJnggxhB/yWI", "1"]}
    summary = module.FilterModule().filters()["xzgov_shadow_ageing"](shadow)
    assert summary == {"ops": ["$", "20000", "1", "90", "7", "30", ""], "empty": ["", "19000", "", "", "", "", ""],
                       "locked": ["!", "1"], "nologin": ["*", "1"], "des": ["?", "1"]}
    assert "hash" not in str(summary) and "abJ" not in str(summary)

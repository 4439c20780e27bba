"""A handler topic that checks a configuration before reloading its service never reloads after a failed check.

ansible.cfg sets ``force_handlers``: on a host whose earlier handler failed, Ansible still runs the topic's later
handlers. A reviewer showed the reload of sshd running after ``sshd -t`` had failed (an sshd whose reload is a
plain SIGHUP — openEuler, Kylin — restarts on the bad file and takes no more logins), and the same for rsyslog
after ``rsyslogd -N1``. No host is booted: each role's real handler file runs on the controller (connection
local), flushed in the middle of the tasks as the roles flush them, with the check made to fail
(``/bin/false``, or no ``rsyslogd`` on the PATH) and a service name that does not exist, so a reload that runs
fails visibly and touches nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from tests.hosts.pool import ansible_playbook, repo_root

NO_SUCH_SERVICE = "xzgov-test-no-such-service"

#: (role, topic, check handler, reload handler, variables making the check fail and the service unknown)
TOPICS = [
    ("ssh_hardening", "Reload sshd", "Validate sshd configuration", "Reload sshd service",
     {"ssh_hardening_sshd_binary": "/bin/false", "ssh_hardening_service": NO_SUCH_SERVICE}),
    ("log_forwarding", "Restart rsyslog", "Validate rsyslog configuration", "Restart rsyslog service",
     {"log_forwarding_service": NO_SUCH_SERVICE}),
    ("log_centre", "Restart log centre", "Validate rsyslog configuration", "Restart rsyslog on the log centre", {}),
]


def _handlers(role: str) -> list[dict[str, object]]:
    return yaml.safe_load((repo_root() / "roles" / role / "handlers" / "main.yml").read_text(encoding="utf-8"))


def test_every_check_first_topic_is_listed() -> None:
    """The class: every role whose handlers check a configuration (a handler named Validate …) is run below, and
    flushes its handlers in its tasks (the case where forced handlers go on after a failed one)."""
    roles = {path.parent.parent.name for path in (repo_root() / "roles").glob("*/handlers/main.yml")
             if any(str(h.get("name", "")).startswith("Validate") for h in _handlers(path.parent.parent.name))}
    assert roles == {role for role, *_ in TOPICS}
    for role in roles:
        tasks = (repo_root() / "roles" / role / "tasks" / "main.yml").read_text(encoding="utf-8")
        assert "ansible.builtin.meta: flush_handlers" in tasks, role


@pytest.mark.parametrize(("role", "topic", "check", "reload", "variables"), TOPICS, ids=[t[0] for t in TOPICS])
def test_a_failed_check_stops_the_reload_even_with_forced_handlers(
        tmp_path: Path, role: str, topic: str, check: str, reload: str, variables: dict[str, str]) -> None:
    play = [{
        "name": "Handlers of one role", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "force_handlers": True,
        "environment": {"PATH": str(tmp_path / "empty")},  # no rsyslogd (nor anything else) to find
        "vars": {"ansible_python_interpreter": sys.executable, **variables},
        # as each of these roles does: its handlers flushed in the middle of its tasks
        "tasks": [{"name": "Change the configuration", "ansible.builtin.debug": {"msg": "changed"},
                   "changed_when": True, "notify": topic},
                  {"name": "Flush the handlers", "ansible.builtin.meta": "flush_handlers"},
                  {"name": "Go on", "ansible.builtin.debug": {"msg": "after"}}],
        "handlers": [{"ansible.builtin.import_tasks": str(repo_root() / "roles" / role / "handlers" / "main.yml")}],
    }]
    (tmp_path / "empty").mkdir()
    playbook = tmp_path / "handlers.yml"
    playbook.write_text(yaml.safe_dump(play, allow_unicode=True), encoding="utf-8")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("localhost\n", encoding="utf-8")
    result = ansible_playbook(inventory, playbook=playbook, timeout=300,
                              extra_env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
                                         "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "true"})
    out = result.stdout + result.stderr
    assert result.returncode == 2, out[-3000:]
    ran = {part.split("]", 1)[0]: part.split("PLAY RECAP", 1)[0]
           for part in result.stdout.split("RUNNING HANDLER [")[1:]}
    assert "fatal: [localhost]: FAILED!" in ran[check], out[-3000:]
    assert "skipping: [localhost]" in ran[reload] and "fatal:" not in ran[reload], out[-3000:]

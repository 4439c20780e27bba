"""The Ansible vars plugin, for real: ansible-inventory and `ansible -m debug` on localhost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from xzgov.crypto import vault
from xzgov.crypto.vault import VaultKey

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def _tool(name: str) -> str:
    candidate = BIN / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} not installed")
    return found


@pytest.fixture(params=["", "vars_plugins_enabled = host_group_vars,xzgov_sm4vault\n"],
                ids=["path-only", "enabled-after-host_group_vars"])
def inventory(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, dict[str, str]]:
    key = VaultKey.generate()
    key_file = tmp_path / "vault.key"
    vault.write_vault_key(key_file, key)
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars" / "localhost").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    ordinary = "db:\n  host: db.xz.gov.cn\n  password: 'p@ss word'\nplain: hello\n"
    # values are bound to their file (scope group_vars/all.yml, ...): encrypt them for the path they live at
    all_yml = inv / "group_vars" / "all.yml"
    all_yml.write_text(vault.encrypt_text(ordinary, key, ["db.password"], source=str(all_yml))[0])
    all_vault = inv / "group_vars" / "all.sm4vault.yml"
    all_vault.write_text(vault.encrypt_text("api_token: 令牌-123\nusers:\n  - {name: ops, pw: x1~!}\n", key,
                                            source=str(all_vault))[0])
    host_vault = inv / "host_vars" / "localhost" / "secrets.sm4vault.yml"
    host_vault.write_text(vault.encrypt_text("host_secret: |\n  line1\n  line2\n", key, source=str(host_vault))[0])
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(f"[defaults]\nvars_plugins = {REPO / 'plugins' / 'vars'}\ninventory = {inv / 'hosts.yml'}\n"
                   f"local_tmp = {tmp_path / 'ansible-tmp'}\n" + request.param)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(cfg),
        "XZGOV_VAULT_KEY_FILE": str(key_file),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": str(BIN / "python"),
    }
    return tmp_path, env


def _inventory(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("ansible-inventory"), *args], cwd=root, env=env, capture_output=True, text=True,
                          check=False, timeout=120)


SECRETS = ("p@ss word", "令牌-123", "x1~!", "line1")  # not base64 text, or too long to occur in it by chance


def test_ansible_inventory_never_prints_plaintext(inventory: tuple[Path, dict[str, str]]) -> None:
    """Finding 7: inventory dumps used to contain every decrypted secret. The plugin now hands Ansible
    its own vaulted-value type (as `!vault` values are), so dumps show the ciphertext, not the secret."""
    root, env = inventory
    done = _inventory(env, root, "--host", "localhost")
    assert done.returncode == 0, done.stderr
    hostvars = json.loads(done.stdout)
    assert hostvars["db"]["host"] == "db.xz.gov.cn" and hostvars["plain"] == "hello"
    for value in (hostvars["db"]["password"], hostvars["api_token"], hostvars["users"][0]["pw"],
                  hostvars["host_secret"]):
        assert set(value) == {"__ansible_vault"} and value["__ansible_vault"].startswith("$XZGOV-SM4VAULT;2;")
    assert hostvars["users"][0]["name"] == {"__ansible_vault": hostvars["users"][0]["name"]["__ansible_vault"]}
    listing = _inventory(env, root, "--list")
    yaml_listing = _inventory(env, root, "--list", "--yaml")
    for dump in (done, listing, yaml_listing):
        assert dump.returncode == 0, dump.stderr
        for secret in SECRETS:
            assert secret not in dump.stdout, (secret, dump.stdout)
def test_ansible_debug_on_localhost(inventory: tuple[Path, dict[str, str]]) -> None:
    root, env = inventory
    done = subprocess.run(
        [_tool("ansible"), "localhost", "-m", "debug", "-a", "msg={{ db.password }}|{{ api_token }}|{{ users[0].pw }}"],
        cwd=root, env=env, capture_output=True, text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"msg": "p@ss word|令牌-123|x1~!"' in done.stdout


def test_an_unsafe_password_is_vaulted_and_reaches_plays_untemplated(inventory: tuple[Path, dict[str, str]]) -> None:
    """`!unsafe` marks a password holding `{{`: `vault encrypt` used to skip it (left in clear, "encrypted N
    value(s)", exit 0). It is vaulted with its tag kept, and a play sees the literal password, not a template."""
    root, env = inventory
    unsafe = root / "inv" / "host_vars" / "localhost" / "unsafe.yml"
    unsafe.write_text('db_unsafe: !unsafe "Unsafe{{Plain}}-666"\n', encoding="utf-8")
    key = vault.load_vault_key(Path(env["XZGOV_VAULT_KEY_FILE"]))
    sealed, count = vault.encrypt_text(unsafe.read_text(encoding="utf-8"), key, source=str(unsafe))
    assert count == 1 and "Plain" not in sealed and sealed.startswith("db_unsafe: !unsafe $XZGOV-SM4VAULT;2;")
    unsafe.write_text(sealed, encoding="utf-8")
    done = subprocess.run([_tool("ansible"), "localhost", "-m", "debug", "-a", "msg={{ db_unsafe }}"],
                          cwd=root, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"msg": "Unsafe{{Plain}}-666"' in done.stdout
    opened, _ = vault.decrypt_text(sealed, key, source=str(unsafe))
    assert opened == 'db_unsafe: !unsafe "Unsafe{{Plain}}-666"\n'


def test_ansible_fails_loudly(inventory: tuple[Path, dict[str, str]]) -> None:
    root, env = inventory
    without_key = {k: v for k, v in env.items() if k != "XZGOV_VAULT_KEY_FILE"}
    done = subprocess.run([_tool("ansible-inventory"), "--host", "localhost"], cwd=root, env=without_key,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode != 0 and "XZGOV_VAULT_KEY_FILE" in done.stderr
    vault_file = root / "inv" / "group_vars" / "all.sm4vault.yml"
    data = yaml.safe_load(vault_file.read_text())
    vault_file.write_text(f"api_token: {data['users'][0]['pw']}\nusers: []\n")  # value moved to another field
    moved = subprocess.run([_tool("ansible-inventory"), "--host", "localhost"], cwd=root, env=env,
                           capture_output=True, text=True, check=False, timeout=120)
    assert moved.returncode != 0
    assert "all.sm4vault.yml" in moved.stderr and "api_token" in moved.stderr
    vault_file.write_text("api_token: clear-text\n")
    clear = subprocess.run([_tool("ansible-inventory"), "--host", "localhost"], cwd=root, env=env,
                           capture_output=True, text=True, check=False, timeout=120)
    assert clear.returncode != 0 and "plaintext value in a vault file" in clear.stderr


def test_ansible_templates_see_plaintext_of_every_kind(inventory: tuple[Path, dict[str, str]]) -> None:
    root, env = inventory
    expression = "{{ host_secret | trim }}|{{ db.password | upper }}|{{ users | map(attribute='pw') | join(',') }}"
    done = subprocess.run([_tool("ansible"), "localhost", "-m", "debug", "-a", f"msg={expression}"],
                          cwd=root, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"msg": "line1\\nline2|P@SS WORD|x1~!"' in done.stdout


def test_ansible_refuses_alias_and_other_file(inventory: tuple[Path, dict[str, str]]) -> None:
    """Finding 2 in the plugin: an alias, or a value copied from another file, must not decrypt."""
    root, env = inventory
    all_yml = root / "inv" / "group_vars" / "all.yml"
    ciphertext = yaml.safe_load(all_yml.read_text())["db"]["password"]
    all_yml.write_text(f"db:\n  password: &x {ciphertext}\nplain: *x\n")
    aliased = _inventory(env, root, "--host", "localhost")
    assert aliased.returncode != 0 and "alias" in aliased.stderr and "all.yml" in aliased.stderr
    assert "db.password" in aliased.stderr and "p@ss word" not in aliased.stdout + aliased.stderr
    all_yml.write_text("db:\n  password: ok\n")
    host_file = root / "inv" / "host_vars" / "localhost" / "other.yml"
    host_file.write_text(f"db:\n  password: {ciphertext}\n")  # same field, another file
    moved = _inventory(env, root, "--host", "localhost")
    assert moved.returncode != 0 and "other.yml" in moved.stderr and "another field or file" in moved.stderr

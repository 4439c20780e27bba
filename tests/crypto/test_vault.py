"""SM4-GCM vaulted values: format, field binding, tamper detection, in-place YAML editing."""

from __future__ import annotations

import base64
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from xzgov.crypto import vault
from xzgov.crypto.vault import VaultError, VaultKey
from xzgov.errors import ExitCode, UsageError

KEY = VaultKey.generate()


def test_round_trip_and_format() -> None:
    value = vault.encrypt_value(KEY, "口令 s3cret", "db.password")
    assert vault.is_vaulted(value) and not vault.is_vaulted("plain") and not vault.is_vaulted(5)
    prefix, version, key_id, payload = value.split(";")
    assert (prefix, version, key_id) == ("$XZGOV-SM4VAULT", "1", KEY.key_id)
    assert len(base64.b64decode(payload)) == 12 + len("口令 s3cret".encode()) + 16
    assert vault.decrypt_value(KEY, value, "db.password") == "口令 s3cret"
    assert vault.encrypt_value(KEY, "x", "f") != vault.encrypt_value(KEY, "x", "f")  # fresh nonces
    assert yaml.safe_load(f"k: {value}\n") == {"k": value}  # a valid plain YAML scalar


def test_value_bound_to_field() -> None:
    value = vault.encrypt_value(KEY, "secret", "db.password")
    with pytest.raises(VaultError) as caught:
        vault.decrypt_value(KEY, value, "db.user", source="group_vars/all.yml", line=3, column=13)
    error = caught.value
    assert error.exit_code == ExitCode.FAILED
    assert "group_vars/all.yml" in error.message and "db.user" in error.message
    assert "moved from another field" in error.message
    assert error.diagnostics[0].line == 3 and error.diagnostics[0].path == "db.user"


def test_wrong_key_names_both_keys() -> None:
    other = VaultKey.generate()
    value = vault.encrypt_value(KEY, "secret", "a")
    with pytest.raises(VaultError, match=f"encrypted with vault key {KEY.key_id}.*{other.key_id}"):
        vault.decrypt_value(other, value, "a", source="f.yml")
    assert vault.decrypt_value([other, KEY], value, "a") == "secret"  # a keyring picks by key id


def test_every_single_character_change_is_detected() -> None:
    value = vault.encrypt_value(KEY, "hunter2", "db.password")
    alphabet = string.ascii_letters + string.digits + "+/=;$-"
    checked = 0
    for position, original in enumerate(value):
        for replacement in alphabet:
            if replacement == original:
                continue
            tampered = value[:position] + replacement + value[position + 1:]
            with pytest.raises(VaultError):
                vault.decrypt_value(KEY, tampered, "db.password")
            checked += 1
    for position in range(len(value)):  # deletions
        with pytest.raises(VaultError):
            vault.decrypt_value(KEY, value[:position] + value[position + 1:], "db.password")
    assert checked > 5000


def test_non_canonical_base64_is_rejected() -> None:
    value = vault.encrypt_value(KEY, "a", "f")  # 12 + 1 + 16 = 29 bytes -> one '=' and 2 spare bits
    payload = value.rsplit(";", 1)[1]
    assert payload.endswith("=") and not payload.endswith("==")
    last = payload[-2]
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    sibling = alphabet[alphabet.index(last) ^ 1]  # same decoded bytes, different text
    assert base64.b64decode(payload[:-2] + sibling + "=") == base64.b64decode(payload)
    with pytest.raises(VaultError, match="bad base64"):
        vault.decrypt_value(KEY, value[:-2] + sibling + "=", "f")


def test_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k"
    vault.write_vault_key(path, KEY)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert vault.load_vault_key(path) == KEY
    monkeypatch.setenv(vault.KEY_FILE_ENV, str(path))
    assert vault.load_vault_key() == KEY
    monkeypatch.delenv(vault.KEY_FILE_ENV)
    with pytest.raises(UsageError, match="XZGOV_VAULT_KEY_FILE"):
        vault.load_vault_key()
    (tmp_path / "bad").write_text("nope")
    with pytest.raises(UsageError, match="not an xzgov vault key file"):
        vault.load_vault_key(tmp_path / "bad")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        vault.write_vault_key(path, VaultKey.generate())
    assert KEY.key.hex() not in repr(KEY)


DOC = """\
# database settings (comment kept)
db:
  host: db.xz.gov.cn   # inline comment kept
  port: 5432
  password: "p@ss: word #1"
  users:
    - name: ops
      token: 'tok,en{1}'
    - {name: audit, token: t2}
motd: |
  多行
  text
anchor: &shared shared-secret
alias: *shared
tagged: !!str tagged-secret
enabled: true
"""


def test_encrypt_text_keeps_layout_and_round_trips() -> None:
    sealed, count = vault.encrypt_text(DOC, KEY, source="all.yml")
    assert count == 9  # every string value; port and enabled stay in clear, the alias is not repeated
    assert "# database settings (comment kept)" in sealed and "# inline comment kept" in sealed
    assert "port: 5432" in sealed and "enabled: true" in sealed and "alias: *shared" in sealed
    assert "p@ss" not in sealed and "多行" not in sealed and "shared-secret" not in sealed
    data = vault.load_yaml_decrypted(sealed, KEY, source="all.yml")
    assert data == yaml.safe_load(DOC)
    opened, opened_count = vault.decrypt_text(sealed, KEY, source="all.yml")
    assert opened_count == 9
    assert yaml.safe_load(opened) == yaml.safe_load(DOC)


def test_encrypt_named_fields_only() -> None:
    sealed, count = vault.encrypt_text(DOC, KEY, ["db.password", "db.users[1].token"], source="all.yml")
    assert count == 1 + 1
    data = yaml.safe_load(sealed)
    assert vault.is_vaulted(data["db"]["password"]) and vault.is_vaulted(data["db"]["users"][1]["token"])
    assert data["db"]["host"] == "db.xz.gov.cn"
    with pytest.raises(UsageError, match="no such field"):
        vault.encrypt_text(DOC, KEY, ["db.nope"], source="all.yml")
    with pytest.raises(UsageError, match="only string values"):
        vault.encrypt_text(DOC, KEY, ["db.port"], source="all.yml")
    again, zero = vault.encrypt_text(sealed, KEY, ["db.password"], source="all.yml")
    assert zero == 0 and again == sealed


def test_moved_value_in_file_is_detected() -> None:
    sealed, _ = vault.encrypt_text("a: one\nb: two\n", KEY, source="f.yml")
    data = yaml.safe_load(sealed)
    swapped = f"a: {data['b']}\nb: {data['a']}\n"
    with pytest.raises(VaultError) as caught:
        vault.load_yaml_decrypted(swapped, KEY, source="f.yml")
    assert caught.value.diagnostics[0].path == "a" and caught.value.diagnostics[0].line == 1


def test_strict_vault_files_refuse_plaintext() -> None:
    with pytest.raises(VaultError, match="plaintext value in a vault file"):
        vault.load_yaml_decrypted("a: clear\n", KEY, source="group_vars/all.sm4vault.yml")
    assert vault.load_yaml_decrypted("a: clear\n", KEY, source="group_vars/all.yml") == {"a": "clear"}


def test_rekey_and_reseal() -> None:
    new = VaultKey.generate()
    sealed, _ = vault.encrypt_text(DOC, KEY, source="x.yml")
    rekeyed, count = vault.rekey_text(sealed, KEY, new, source="x.yml")
    assert count == 9 and KEY.key_id not in rekeyed and new.key_id in rekeyed
    assert vault.load_yaml_decrypted(rekeyed, new, source="x.yml") == yaml.safe_load(DOC)
    with pytest.raises(VaultError):
        vault.load_yaml_decrypted(rekeyed, KEY, source="x.yml")
    plain, _ = vault.decrypt_text(rekeyed, new, source="x.yml")
    edited = plain.replace("db.xz.gov.cn", "db2.xz.gov.cn")
    resealed, _ = vault.reseal_edited(rekeyed, edited, new, source="x.yml")
    before = {leaf.path: leaf.value for leaf in vault.leaves(rekeyed)}
    after = {leaf.path: leaf.value for leaf in vault.leaves(resealed)}
    assert after["db.password"] == before["db.password"]  # unchanged value keeps its ciphertext
    assert after["db.host"] != before["db.host"]
    assert vault.load_yaml_decrypted(resealed, new)["db"]["host"] == "db2.xz.gov.cn"


def test_decrypt_tree_for_manifests() -> None:
    manifest = {"spec": {"hosts": [{"password": vault.encrypt_value(KEY, "pw", "spec.hosts[0].password")}]},
                "odd key": {"x": vault.encrypt_value(KEY, "v", '["odd key"].x')}}
    assert vault.decrypt_tree(KEY, manifest) == {"spec": {"hosts": [{"password": "pw"}]}, "odd key": {"x": "v"}}


@settings(max_examples=120, deadline=None)
@given(value=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
       style=st.sampled_from(["plain", "single", "double", "flow", "list"]))
def test_property_any_string_survives_encrypt_decrypt_in_place(value: str, style: str) -> None:
    dumped = yaml.safe_dump({"secret": value}, allow_unicode=True, width=1 << 20)
    if style == "single":
        dumped = yaml.safe_dump({"secret": value}, default_style="'", allow_unicode=True, width=1 << 20)
    elif style == "double":
        dumped = yaml.safe_dump({"secret": value}, default_style='"', allow_unicode=True, width=1 << 20)
    elif style == "flow":
        dumped = "outer: " + yaml.safe_dump({"secret": value, "n": 1}, default_flow_style=True,
                                             allow_unicode=True, width=1 << 20)
    elif style == "list":
        dumped = "items:\n" + "".join("  " + line + "\n" for line in
                                      yaml.safe_dump([value, "x"], allow_unicode=True, width=1 << 20).splitlines())
    expected = yaml.safe_load(dumped)
    sealed, _ = vault.encrypt_text(dumped, KEY)
    assert vault.load_yaml_decrypted(sealed, KEY) == expected
    opened, _ = vault.decrypt_text(sealed, KEY)
    assert yaml.safe_load(opened) == expected

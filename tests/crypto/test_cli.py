"""The CLI through ``xzgov.cli.main._dispatch``: exit codes and messages, never a traceback."""

from __future__ import annotations

import io
import json
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.cli import CliResult
from xzgov.crypto import keys, vault

Cli = Callable[..., CliResult]
FIXTURE_REGISTER = Path(__file__).resolve().parents[1] / "compliance" / "fixtures" / "register"


def test_keys_generate_show_fingerprint(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XZGOV_KEY_PASSPHRASE", raising=False)
    key_path = tmp_path / "signer.pem"
    result = cli("keys", "generate", key_path)
    assert result.code == 0, result.text
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    pub = tmp_path / "signer.pub.pem"
    expected = keys.fingerprint(keys.load_public_key(pub))
    assert expected in result.out
    assert cli("keys", "fingerprint", pub).out.strip() == expected
    assert cli("keys", "fingerprint", key_path).out.strip() == expected
    shown = cli("keys", "show", key_path, "--format", "json")
    info = json.loads(shown.out)
    assert info["fingerprint"] == expected and info["kind"] == "private"
    assert "PRIVATE" not in shown.out
    again = cli("keys", "generate", key_path)
    assert again.code == 2 and "refusing to overwrite" in again.err
    assert cli("keys", "generate", key_path, "--force").code == 0
    assert keys.fingerprint(keys.load_public_key(pub)) != expected


def test_encrypted_key_passphrase_from_env(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XZGOV_KEY_PASSPHRASE", "correct horse")
    key_path = tmp_path / "k.pem"
    assert cli("keys", "generate", key_path).code == 0
    assert "ENCRYPTED PRIVATE KEY" in key_path.read_text()
    assert cli("keys", "fingerprint", key_path).code == 0
    monkeypatch.setenv("XZGOV_KEY_PASSPHRASE", "wrong")
    wrong = cli("keys", "fingerprint", key_path)
    assert wrong.code == 2 and "wrong passphrase" in wrong.err and str(key_path) in wrong.err
    monkeypatch.delenv("XZGOV_KEY_PASSPHRASE")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    missing = cli("keys", "show", key_path)
    assert missing.code == 2 and "XZGOV_KEY_PASSPHRASE" in missing.err


def test_an_empty_passphrase_variable_never_makes_an_unencrypted_key(tmp_path: Path, cli: Cli,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI secret that did not arrive (XZGOV_KEY_PASSPHRASE set to "") gave a plaintext signing key in silence;
    with --encrypt it was refused. It is refused either way, nothing written."""
    monkeypatch.setenv("XZGOV_KEY_PASSPHRASE", "")
    key_path = tmp_path / "k.pem"
    for extra in ((), ("--encrypt",)):
        refused = cli("keys", "generate", key_path, *extra)
        assert refused.code == 2 and "set but empty" in refused.err, refused.err
        assert not key_path.exists() and not (tmp_path / "k.pub.pem").exists()


def test_no_passphrase_option_exists(cli: Cli) -> None:
    assert "--passphrase" not in cli("keys", "generate", "--help").out


def test_sign_and_verify_exit_codes(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XZGOV_KEY_PASSPHRASE", raising=False)
    key_path = tmp_path / "keys" / "signer.pem"
    key_path.parent.mkdir()
    assert cli("keys", "generate", key_path).code == 0
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "report.json").write_text('{"ok": true}')
    (evidence / "scan.txt").write_text("pass")
    bundle_path = evidence / "bundle.json"
    signed = cli("sign", evidence / "report.json", evidence / "scan.txt", "--key", key_path, "--out", bundle_path)
    assert signed.code == 0, signed.text
    ok = cli("verify", bundle_path, "--trusted-key", tmp_path / "keys" / "signer.pub.pem")
    assert ok.code == 0 and "OK: 2 file(s) verified" in ok.out
    pin = ("--trusted-key", tmp_path / "keys" / "signer.pub.pem")
    (evidence / "scan.txt").write_text("fail")
    changed = cli("verify", bundle_path, *pin)
    assert changed.code == 1 and "changed: scan.txt" in changed.err
    (evidence / "scan.txt").unlink()
    missing = cli("verify", bundle_path, "--format", "json", *pin)
    assert missing.code == 1 and json.loads(missing.out)["missing"] == ["scan.txt"]
    (evidence / "scan.txt").write_text("pass")
    stranger = tmp_path / "stranger.pem"
    assert cli("keys", "generate", stranger).code == 0
    untrusted = cli("verify", bundle_path, "--trusted-key", tmp_path / "stranger.pub.pem")
    assert untrusted.code == 1 and "not trusted" in untrusted.err
    assert cli("verify", tmp_path / "nope.json").code == 2
    (tmp_path / "garbage.json").write_text("{not json")
    garbage = cli("verify", tmp_path / "garbage.json")
    assert garbage.code == 2 and "garbage.json" in garbage.err
    assert cli("sign", evidence / "report.json", "--out", bundle_path).code == 2  # no key


def test_sign_directory_reports_added(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XZGOV_KEY_PASSPHRASE", raising=False)
    assert cli("keys", "generate", tmp_path / "k.pem").code == 0
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("a")
    monkeypatch.setenv("XZGOV_SIGNING_KEY", str(tmp_path / "k.pem"))
    assert cli("sign", tmp_path / "out", "--out", tmp_path / "out" / "sig.json").code == 0
    (tmp_path / "out" / "b.txt").write_text("b")
    added = cli("verify", tmp_path / "out" / "sig.json", "--trusted-key", tmp_path / "k.pub.pem")
    assert added.code == 1 and "added: b.txt" in added.err


def test_a_signing_key_variable_that_names_no_key_is_blamed(tmp_path: Path, cli: Cli,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``$XZGOV_SIGNING_KEY`` pointing at nothing (or at no key) is an error naming the variable: the user typed
    no path. The same for every command that signs."""
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "notakey.pem").write_text("hello\n")
    for named in (tmp_path / "gone.pem", tmp_path / "notakey.pem"):
        monkeypatch.setenv("XZGOV_SIGNING_KEY", str(named))
        for args in (("sign", tmp_path / "a.txt", "--out", tmp_path / "b.json"),
                     ("scan", "--root", FIXTURE_REGISTER, "--out", tmp_path / "reports")):
            res = cli(*args)
            assert res.code == 2, res.text
            assert "XZGOV_SIGNING_KEY" in res.err and named.name in res.err and "--key" in res.err, res.err
            assert not (tmp_path / "b.json").exists() and not (tmp_path / "reports").exists()
        typed = cli("sign", tmp_path / "a.txt", "--out", tmp_path / "b.json", "--key", tmp_path / "typed.pem")
        assert typed.code == 2 and "typed.pem" in typed.err and "XZGOV_SIGNING_KEY" not in typed.err
    # the right file and the wrong passphrase: the passphrase is at fault, not the variable
    monkeypatch.setenv("XZGOV_KEY_PASSPHRASE", "correct horse")
    assert cli("keys", "generate", tmp_path / "enc.pem", "--encrypt").code == 0
    monkeypatch.setenv("XZGOV_SIGNING_KEY", str(tmp_path / "enc.pem"))
    monkeypatch.setenv("XZGOV_KEY_PASSPHRASE", "wrong")
    wrong = cli("sign", tmp_path / "a.txt", "--out", tmp_path / "b.json")
    assert wrong.code == 2 and "XZGOV_KEY_PASSPHRASE" in wrong.err
    assert "$XZGOV_SIGNING_KEY names" not in wrong.err and "point XZGOV_SIGNING_KEY" not in wrong.err


def test_vault_commands(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert cli("vault", "keygen", key_file).code == 2
    secrets_file = tmp_path / "all.yml"
    secrets_file.write_text("# keep me\ndb:\n  password: hunter2\n  port: 5432\nname: public\n")
    enc = cli("vault", "encrypt", secrets_file, "--field", "db.password", "--key-file", key_file)
    assert enc.code == 0, enc.text
    text = secrets_file.read_text()
    assert "hunter2" not in text and "# keep me" in text and "name: public" in text
    monkeypatch.setenv("XZGOV_VAULT_KEY_FILE", str(key_file))
    view = cli("vault", "view", secrets_file)
    assert view.code == 0 and "password: hunter2" in view.out
    assert secrets_file.read_text() == text  # view writes nothing
    new_key = tmp_path / "new.key"
    assert cli("vault", "keygen", new_key).code == 0
    assert cli("vault", "rekey", secrets_file, "--new-key-file", new_key).code == 0
    old = cli("vault", "view", secrets_file)
    assert old.code == 1 and "all.yml" in old.err and "db.password" in old.err and "encrypted with vault key" in old.err
    assert cli("vault", "decrypt", secrets_file, "--key-file", new_key).code == 0
    assert yaml.safe_load(secrets_file.read_text())["db"]["password"] == "hunter2"
    monkeypatch.delenv("XZGOV_VAULT_KEY_FILE")
    nokey = cli("vault", "view", secrets_file)
    assert nokey.code == 2 and "XZGOV_VAULT_KEY_FILE" in nokey.err
    # a key file the variable names that is missing or no key: the error names the variable, not only the path
    (tmp_path / "junk.key").write_text("junk\n")
    for named in (tmp_path / "gone.key", tmp_path / "junk.key"):
        monkeypatch.setenv("XZGOV_VAULT_KEY_FILE", str(named))
        wrong = cli("vault", "view", secrets_file)
        assert wrong.code == 2 and "$XZGOV_VAULT_KEY_FILE" in wrong.err and named.name in wrong.err, wrong.err
    monkeypatch.delenv("XZGOV_VAULT_KEY_FILE")
    assert cli("vault", "view", tmp_path / "missing.yml", "--key-file", key_file).code == 2


def test_vault_tampered_value_names_file_and_field(tmp_path: Path, cli: Cli) -> None:
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "hv.yml"
    f.write_text("a: one\nb: two\n")
    assert cli("vault", "encrypt", f, "--key-file", key_file).code == 0
    data = yaml.safe_load(f.read_text())
    f.write_text(f"a: {data['b']}\nb: {data['a']}\n")  # values swapped between fields
    result = cli("vault", "decrypt", f, "--key-file", key_file)
    assert result.code == 1
    assert f"{f}:1:4" in result.err and "field a" in result.err and "tampered" in result.err


def test_vault_edit_and_encrypt_string(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    key = vault.load_vault_key(key_file)
    f = tmp_path / "web.sm4vault.yml"
    f.write_text("token: abc\nother: def\n")
    assert cli("vault", "encrypt", f, "--key-file", key_file).code == 0
    before = yaml.safe_load(f.read_text())
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "t = p.read_text()\n"
        "assert 'token: abc' in t, t\n"
        "p.write_text(t.replace('def', 'changed') + 'added: new-secret\\n')\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    assert cli("vault", "edit", f, "--key-file", key_file).code == 0
    after = yaml.safe_load(f.read_text())
    assert after["token"] == before["token"]  # unchanged value: same ciphertext
    assert all(vault.is_vaulted(v) for v in after.values())
    assert vault.load_file_decrypted(f, key) == {"token": "abc", "other": "changed", "added": "new-secret"}
    assert not list(tmp_path.glob("xzgov-vault-*"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    out = cli("vault", "encrypt-string", "--field", "db.password", "--key-file", key_file)
    assert out.code == 0
    assert vault.decrypt_value(key, out.out.strip(), "db.password") == "s3cret"


def test_verify_requires_trust(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 5: with no trusted key configured `xzgov verify` fails unless --any-signer is explicit."""
    monkeypatch.delenv("XZGOV_KEY_PASSPHRASE", raising=False)
    assert cli("keys", "generate", tmp_path / "k.pem").code == 0
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "r.txt").write_text("ok")
    bundle_path = evidence / "b.json"
    assert cli("sign", evidence / "r.txt", "--key", tmp_path / "k.pem", "--out", bundle_path).code == 0
    unpinned = cli("verify", bundle_path)
    assert unpinned.code == 1 and "signer not trusted" in unpinned.text
    assert "--trusted-key" in unpinned.err and "XZGOV_TRUSTED_KEYS" in unpinned.err
    assert "API:" not in unpinned.text + unpinned.err  # a library's keyword is no help on the command line
    anyone = cli("verify", bundle_path, "--any-signer")
    assert anyone.code == 0 and "not checked against trusted keys" in anyone.err
    fingerprint = keys.fingerprint(keys.load_public_key(tmp_path / "k.pub.pem"))
    assert cli("verify", bundle_path, "--trusted-fingerprint", fingerprint.upper()).code == 0
    assert cli("verify", bundle_path, "--trusted-fingerprint", "abc").code == 2
    assert cli("verify", bundle_path, "--any-signer", "--trusted-fingerprint", fingerprint).code == 2
    store = tmp_path / "trusted"
    store.mkdir()
    (store / "k.pub.pem").write_bytes((tmp_path / "k.pub.pem").read_bytes())
    monkeypatch.setenv("XZGOV_TRUSTED_KEYS", str(store))
    assert cli("verify", bundle_path).code == 0
    (tmp_path / "fps").write_text("0" * 64 + "\n")
    monkeypatch.setenv("XZGOV_TRUSTED_KEYS", str(tmp_path / "fps"))
    other = cli("verify", bundle_path)
    assert other.code == 1 and "not one of the trusted keys" in other.text
    # --any-signer checks self-consistency only, as its warning says: the store set in the environment neither
    # refuses the bundle nor is said to be unchecked while it was checked
    anyone = cli("verify", bundle_path, "--any-signer")
    assert anyone.code == 0 and "not checked against trusted keys" in anyone.err, anyone.text
    # a store others may write is a store others choose the signers of: said (it was trusted without a word)
    monkeypatch.setenv("XZGOV_TRUSTED_KEYS", str(store))
    store.chmod(0o777)
    exposed = cli("verify", bundle_path)
    assert exposed.code == 0 and "writable by group or others" in exposed.err and "chmod go-w" in exposed.err
    store.chmod(0o755)
    assert "writable by group or others" not in cli("verify", bundle_path).err


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\nt = p.read_text()\n" + body)
    return f"{sys.executable} {script}"


def test_vault_edit_rename_keeps_secret_vaulted(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 3: renaming a vaulted field in the editor wrote the secret back in clear."""
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "all.yml"
    f.write_text("db:\n  password: hunter2\nmotd: hello\n")
    assert cli("vault", "encrypt", f, "--field", "db.password", "--key-file", key_file).code == 0
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "p.write_text(t.replace('password:', 'passwd:'))\n"))
    assert cli("vault", "edit", f, "--key-file", key_file).code == 0
    assert "hunter2" not in f.read_text()
    key = vault.load_vault_key(key_file)
    assert vault.load_file_decrypted(f, key) == {"db": {"passwd": "hunter2"}, "motd": "hello"}
    before = f.read_text()
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "p.write_text(t + '# was hunter2\\n')\n"))
    leak = cli("vault", "edit", f, "--key-file", key_file)
    assert leak.code == 2 and "unencrypted" in leak.err and f.read_text() == before
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "p.write_text(t.replace('hunter2', '12345'))\n"))
    downgrade = cli("vault", "edit", f, "--key-file", key_file)
    assert downgrade.code == 2 and "was vaulted" in downgrade.err and f.read_text() == before


def test_vault_edit_reopens_after_yaml_error(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "s.sm4vault.yml"
    f.write_text("token: abc\n")
    assert cli("vault", "encrypt", f, "--key-file", key_file).code == 0
    counter = tmp_path / "count"
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", _editor(tmp_path, (
        f"c = pathlib.Path({str(counter)!r})\n"
        "n = int(c.read_text()) if c.exists() else 0\n"
        "c.write_text(str(n + 1))\n"
        "p.write_text(t + 'broken: [\\n' if n == 0 else t.replace('broken: [', 'fixed: later'))\n")))
    stdin = io.StringIO("y\n")
    stdin.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdin", stdin)
    result = cli("vault", "edit", f, "--key-file", key_file)
    assert result.code == 0, result.text
    assert counter.read_text() == "2" and "not valid YAML" in result.err
    assert vault.load_file_decrypted(f, vault.load_vault_key(key_file)) == {"token": "abc", "fixed": "later"}


def test_vault_commands_refuse_symlinks(tmp_path: Path, cli: Cli) -> None:
    """Finding 4: encrypt/decrypt/rekey/edit replaced a symlinked vars file by a regular file."""
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    real = tmp_path / "shared.yml"
    real.write_text("pw: secret\n")
    link = tmp_path / "host.yml"
    link.symlink_to(real)
    for command in (("encrypt",), ("decrypt",), ("rekey",), ("edit",)):
        result = cli("vault", *command, link, "--key-file", key_file)
        assert result.code == 2 and "symbolic link" in result.err, (command, result.text)
        assert link.is_symlink() and real.read_text() == "pw: secret\n"


def test_vault_rekey_upgrades_version_1(tmp_path: Path, cli: Cli) -> None:
    from tests.crypto.test_vault import _v1_value
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    key = vault.load_vault_key(key_file)
    f = tmp_path / "group_vars" / "all.yml"
    f.parent.mkdir()
    f.write_text(f"pw: {_v1_value(key, 'old', 'pw')}\n")
    view = cli("vault", "view", f, "--key-file", key_file)
    assert view.code == 0 and "pw: old" in view.out and "version 1" in view.err and "vault rekey" in view.err
    upgraded = cli("vault", "rekey", f, "--key-file", key_file)
    assert upgraded.code == 0 and "warning" not in upgraded.err
    assert ";2;" in f.read_text()
    clean = cli("vault", "view", f, "--key-file", key_file)
    assert clean.code == 0 and "pw: old" in clean.out and "warning" not in clean.err


@pytest.mark.parametrize("written", ["relative", "absolute"])
def test_encrypt_string_for_a_new_file_decrypts_once_pasted_in(
        tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    # --file of a file not written yet bound the value to the path as typed ('app.yaml', or the whole absolute
    # path), not to the scope the file has once written (systems/d/app.yaml): it never decrypted there
    (tmp_path / ".git").mkdir()
    folder = tmp_path / "systems" / "d"
    folder.mkdir(parents=True)
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "stdin", io.StringIO("hunter2\n"))
    given = Path("app.yaml") if written == "relative" else folder / "app.yaml"
    out = cli("vault", "encrypt-string", "--field", "db.password", "--file", given, "--key-file", key_file)
    assert out.code == 0
    (folder / "app.yaml").write_text(f"db:\n  password: {out.out.strip()}\n")
    assert vault.load_file_decrypted(folder / "app.yaml", vault.load_vault_key(key_file)) == {
        "db": {"password": "hunter2"}}


def test_encrypt_string_for_a_file_and_key_permission_warning(
        tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    target = tmp_path / "host_vars" / "web1.sm4vault.yml"
    target.parent.mkdir()
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    out = cli("vault", "encrypt-string", "--field", "pw", "--file", target, "--key-file", key_file)
    assert out.code == 0
    target.write_text(f"pw: {out.out.strip()}\n")
    key = vault.load_vault_key(key_file)
    assert vault.load_file_decrypted(target, key) == {"pw": "s3cret"}
    other = tmp_path / "host_vars" / "web2.sm4vault.yml"
    other.write_text(target.read_text())
    with pytest.raises(vault.VaultError):
        vault.load_file_decrypted(other, key)
    # a key others may read is refused, as OpenSSH refuses such a private key: nothing is decrypted
    key_file.chmod(0o644)
    exposed = cli("vault", "view", target, "--key-file", key_file)
    assert exposed.code == 2 and "s3cret" not in exposed.out, exposed.err
    assert f"{key_file}: error: vault key file {key_file} can be read or written by others (mode 0644)" in exposed.err
    assert f"chmod 600 {key_file}" in exposed.err
    key_file.chmod(0o602)  # written by others: they choose the key
    assert cli("vault", "view", target, "--key-file", key_file).code == 2
    # one its group may read is used with a warning (a Kubernetes Secret mounted for a pod's fsGroup is 0440)
    key_file.chmod(0o440)
    grouped = cli("vault", "view", target, "--key-file", key_file)
    assert grouped.code == 0 and "s3cret" in grouped.out and "readable by its group (mode 0440)" in grouped.err
    monkeypatch.delenv("XZGOV_KEY_PASSPHRASE", raising=False)
    assert cli("keys", "generate", tmp_path / "k.pem").code == 0
    (tmp_path / "k.pem").chmod(0o640)
    shown = cli("keys", "fingerprint", tmp_path / "k.pem")
    assert shown.code == 0 and "readable by its group" in shown.err
    (tmp_path / "k.pem").chmod(0o604)
    refused = cli("keys", "fingerprint", tmp_path / "k.pem")
    assert refused.code == 2 and "private key file" in refused.err and "chmod 600" in refused.err


def test_crypto_command_modules_import_cheaply_and_register_their_commands() -> None:
    """Importing a command module must not import the crypto package (``xzgov --help`` stays fast)."""
    import subprocess

    code = (
        "import sys, typer\n"
        "from xzgov.cli import keys_cmds, sign_cmds, vault_cmds\n"
        "assert not [m for m in sys.modules if m.startswith(('xzgov.crypto', 'gmssl', 'cryptography'))]\n"
        "for module, names in ((keys_cmds, {'keys'}), (vault_cmds, {'vault'}), (sign_cmds, {'sign', 'verify'})):\n"
        "    app = typer.Typer()\n"
        "    module.register(app)\n"
        "    found = {g.name for g in app.registered_groups} | {c.name for c in app.registered_commands}\n"
        "    assert found == names, (module.__name__, found)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_sign_default_bundle_name_is_the_bundle_default() -> None:
    from xzgov.cli import sign_cmds
    from xzgov.crypto import bundle

    assert sign_cmds.DEFAULT_BUNDLE == bundle.DEFAULT_NAME


def test_verify_takes_a_report_sets_folder_and_names_a_wrong_trust_store(
        tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`xzgov verify DIR` said "it is a directory" (diff and merge take the folder); a PEM key named as the trust
    store was "not a key fingerprint" with a hint to print one; a byte-order mark made a good fingerprint file
    unreadable."""
    key = tmp_path / "k.pem"
    assert cli("keys", "generate", key).code == 0
    public = tmp_path / "k.pub.pem"
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n", encoding="utf-8")
    assert cli("sign", folder / "a.txt", "--key", key, "--out", folder / "xzgov-bundle.json").code == 0
    assert cli("verify", folder, "--trusted-key", public).code == 0
    empty = cli("verify", tmp_path, "--trusted-key", public)
    assert empty.code == 2 and "without xzgov-bundle.json" in empty.err and "xzgov scan --out" in empty.err
    monkeypatch.setenv("XZGOV_TRUSTED_KEYS", str(public))
    pem = cli("verify", folder)
    assert pem.code == 2 and "is a PEM key file, not a trust store" in pem.err, pem.text
    assert "directory holding k.pub.pem" in pem.err and "--trusted-key" in pem.err
    marked = tmp_path / "trusted.txt"
    marked.write_text("\ufeff" + cli("keys", "fingerprint", public).out.strip() + "\n", encoding="utf-8")
    monkeypatch.setenv("XZGOV_TRUSTED_KEYS", str(marked))
    assert cli("verify", folder).code == 0


@pytest.mark.parametrize("signal_name", ["HUP", "TERM"])
def test_vault_edit_wipes_the_copy_when_hung_up(tmp_path: Path, cli: Cli, signal_name: str) -> None:
    """A closed terminal (SIGHUP) or a kill (SIGTERM) during the edit ends it as Ctrl-C does: the plaintext copy
    is wiped (Python's default handling of those signals skips every `finally`), the file is left as it was, and
    the exit code is 128 + the signal's number."""
    import os
    import signal
    import subprocess

    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "db.sm4vault.yml"
    f.write_text("password: S3cretPassw0rd\n")
    assert cli("vault", "encrypt", f, "--key-file", key_file).code == 0
    sealed = f.read_bytes()
    seen = tmp_path / "copy-path"
    editor = tmp_path / "editor.py"
    editor.write_text(  # the editor records where the copy is, then the session hangs up on its parent
        "import os, pathlib, signal, sys, time\n"
        f"pathlib.Path({str(seen)!r}).write_text(sys.argv[1])\n"
        f"os.kill(os.getppid(), signal.SIG{signal_name})\n"
        "time.sleep(5)\n")
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor}", "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("VISUAL", None)
    done = subprocess.run([sys.executable, "-m", "xzgov", "vault", "edit", str(f), "--key-file", str(key_file)],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    copy = Path(seen.read_text())
    assert done.returncode == 128 + getattr(signal, f"SIG{signal_name}"), done.stderr
    assert "Traceback" not in done.stderr
    assert not copy.exists() and not copy.parent.exists()
    assert f.read_bytes() == sealed


def test_vault_edit_wipes_copies_that_a_killed_edit_left(tmp_path: Path, cli: Cli,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy whose editing process is gone (killed with SIGKILL) is wiped by the next edit, with a warning; a copy
    of a live edit (this process's) is left alone."""
    import os
    import subprocess

    from xzgov.cli import vault_cmds

    monkeypatch.setattr(vault_cmds, "_SHM", str(tmp_path / "shm"))
    (tmp_path / "shm").mkdir()
    dead = subprocess.Popen(["true"])  # a process that has ended: its id names no process now
    dead.wait()
    left = tmp_path / "shm" / f"xzgov-vault-{dead.pid}-abc"
    left.mkdir(mode=0o700)
    (left / "vars.yml").write_text("password: S3cretPassw0rd\n")
    live = tmp_path / "shm" / f"xzgov-vault-{os.getpid()}-def"
    live.mkdir(mode=0o700)
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "web.sm4vault.yml"
    f.write_text("token: abc\n")
    assert cli("vault", "encrypt", f, "--key-file", key_file).code == 0
    monkeypatch.setenv("EDITOR", "true")
    monkeypatch.delenv("VISUAL", raising=False)
    result = cli("vault", "edit", f, "--key-file", key_file)
    assert result.code == 0, result.err
    assert not left.exists() and live.exists()
    assert f"wiped {left}" in result.err.replace("\n", "")


def test_a_missing_bundle_folder_is_called_missing_and_named(tmp_path: Path, cli: Cli,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`sign --out missing/b.json` said the folder "is not a directory" (it does not exist), with no hint."""
    monkeypatch.delenv("XZGOV_KEY_PASSPHRASE", raising=False)
    key_path = tmp_path / "signer.pem"
    assert cli("keys", "generate", key_path).code == 0
    (tmp_path / "report.json").write_text('{"ok": true}')
    missing = cli("sign", tmp_path / "report.json", "--key", key_path, "--out", tmp_path / "nowhere" / "b.json")
    assert missing.code == 2
    assert f"error [--out]: the folder {tmp_path / 'nowhere'} does not exist" in missing.err
    assert f"mkdir -p {tmp_path / 'nowhere'}" in missing.err
    (tmp_path / "file").write_text("")
    a_file = cli("sign", tmp_path / "report.json", "--key", key_path, "--out", tmp_path / "file" / "b.json")
    assert a_file.code == 2 and "is not a directory" in a_file.err


def test_vault_bad_input_is_a_located_usage_error(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of nested brackets (RecursionError) and a lone surrogate escape (UnicodeEncodeError) stopped vault
    encrypt/view with exit 3, "a defect in xzgov"; a CRLF-terminated piped value kept its \\r."""
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    deep = tmp_path / "deep.yml"
    deep.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    for command in ("encrypt", "view"):
        done = cli("vault", command, deep, "--key-file", key_file)
        assert done.code == 2 and "nested too deeply" in done.err, done.text
    surrogate = tmp_path / "sur.yml"
    surrogate.write_text('p: "\\uD800SecretPw"\n')
    done = cli("vault", "encrypt", surrogate, "--key-file", key_file)
    assert done.code == 2 and "sur.yml:1:4" in done.err and "lone surrogate" in done.err and "SecretPw" not in done.err
    monkeypatch.setattr(sys, "stdin", io.StringIO("Secret9\r\n"))
    out = cli("vault", "encrypt-string", "--field", "x", "--key-file", key_file)
    assert out.code == 0 and vault.decrypt_value(vault.load_vault_key(key_file), out.out.strip(), "x") == "Secret9"


def test_a_passphrase_that_is_not_utf8_is_used_as_given(tmp_path: Path, cli: Cli,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A passphrase with a byte that is no UTF-8 (\\xff) stopped `keys generate` with an internal error (exit 3)."""
    import os

    monkeypatch.setitem(os.environb, b"XZGOV_KEY_PASSPHRASE", b"pa\xffss")
    key_path = tmp_path / "k.pem"
    assert cli("keys", "generate", key_path).code == 0
    assert keys.load_private_key(key_path, b"pa\xffss") is not None


def test_vault_decrypt_warns_when_the_plaintext_file_is_readable_by_others(tmp_path: Path, cli: Cli) -> None:
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    shared = tmp_path / "web1.yml"
    shared.write_text("password: S3cretPassw0rd\n")
    shared.chmod(0o644)
    assert cli("vault", "encrypt", shared, "--key-file", key_file).code == 0
    done = cli("vault", "decrypt", shared, "--key-file", key_file)
    assert done.code == 0 and "readable by others" in done.err and "chmod 600" in done.err
    assert "S3cretPassw0rd" not in done.text
    private = tmp_path / "web2.yml"
    private.write_text("password: S3cretPassw0rd\n")
    private.chmod(0o600)
    assert cli("vault", "encrypt", private, "--key-file", key_file).code == 0
    quiet = cli("vault", "decrypt", private, "--key-file", key_file)
    assert quiet.code == 0 and "readable by others" not in quiet.err


def test_a_vault_command_on_a_file_being_edited_is_refused(tmp_path: Path, cli: Cli,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A `rekey` while a `vault edit` was open rewrote the file under the new key; the edit then saved what it had
    read, under the old key, and both said they succeeded: whoever retired the old key could no longer read the
    file. The edit holds the file: the rekey is refused (exit 2, nothing written) and the edit saves."""
    old_key, new_key = tmp_path / "old.key", tmp_path / "new.key"
    assert cli("vault", "keygen", old_key).code == 0 and cli("vault", "keygen", new_key).code == 0
    f = tmp_path / "secrets.yml"
    f.write_text("db:\n  password: hunter2\n  user: admin\n", encoding="utf-8")
    assert cli("vault", "encrypt", f, "--key-file", old_key).code == 0
    said = tmp_path / "rekey.out"
    monkeypatch.setenv("EDITOR", _editor(tmp_path, (
        "import subprocess\n"
        f"done = subprocess.run([sys.executable, '-m', 'xzgov', 'vault', 'rekey', {str(f)!r}, '--key-file', "
        f"{str(old_key)!r}, '--new-key-file', {str(new_key)!r}], capture_output=True, text=True)\n"
        f"pathlib.Path({str(said)!r}).write_text(str(done.returncode) + '\\n' + done.stderr)\n"
        "p.write_text(t.replace('admin', 'root'))\n")))
    monkeypatch.delenv("VISUAL", raising=False)
    assert cli("vault", "edit", f, "--key-file", old_key).code == 0
    code, _, stderr = said.read_text(encoding="utf-8").partition("\n")
    assert code == "2" and "being changed by another command" in stderr and "vault edit" in stderr, stderr
    assert vault.load_file_decrypted(f, vault.load_vault_key(old_key)) == {"db": {"password": "hunter2",
                                                                                  "user": "root"}}


def test_an_edit_is_not_saved_over_a_file_rewritten_meanwhile(tmp_path: Path, cli: Cli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program (a `git checkout`, a second editor) rewrote the file while the edit was open: saving would
    undo its change. Refused (exit 2, vault-changed), the file as the other program left it."""
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "secrets.yml"
    f.write_text("token: abc\n", encoding="utf-8")
    assert cli("vault", "encrypt", f, "--key-file", key_file).code == 0
    monkeypatch.setenv("EDITOR", _editor(tmp_path, (
        f"pathlib.Path({str(f)!r}).write_text('token: from-elsewhere\\n')\n"
        "p.write_text(t.replace('abc', 'mine'))\n")))
    monkeypatch.delenv("VISUAL", raising=False)
    res = cli("vault", "edit", f, "--key-file", key_file)
    assert res.code == 2 and "changed while this command ran" in res.err, res.text
    assert f.read_text(encoding="utf-8") == "token: from-elsewhere\n"


def test_two_forced_generations_leave_a_matching_pair(tmp_path: Path, cli: Cli,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `keys generate --force` of one pair interleaved: the private key of one beside the public key of the
    other, both exit 0. The pair is written under a lock on its folder: a second run waits (here: is stopped
    while it waits) and the pair on disk matches."""
    import subprocess

    out = tmp_path / "signer.pem"
    assert cli("keys", "generate", out).code == 0
    real = keys.write_public_key
    waited: list[bool] = []

    def then_another(path: Path, *args: object, **kwargs: object) -> None:
        real(path, *args, **kwargs)  # type: ignore[arg-type]
        try:  # another run of the same pair, between this run's public and private halves
            subprocess.run([sys.executable, "-m", "xzgov", "keys", "generate", str(out), "--force"],
                           capture_output=True, timeout=4, check=False)
            waited.append(False)
        except subprocess.TimeoutExpired:
            waited.append(True)

    monkeypatch.setattr(keys, "write_public_key", then_another)
    assert cli("keys", "generate", out, "--force").code == 0
    private = keys.load_private_key(out, None)
    public = keys.load_public_key(out.with_name("signer.pub.pem"))
    assert keys.fingerprint(private.public_key) == keys.fingerprint(public)
    assert waited == [True]


def test_a_file_named_twice_is_not_held_against_itself(tmp_path: Path, cli: Cli) -> None:
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "d.yml"
    f.write_text("token: abc\n", encoding="utf-8")
    (tmp_path / "hard.yml").hardlink_to(f)
    assert cli("vault", "encrypt", f, tmp_path / "hard.yml", "--key-file", key_file).code == 0
    assert cli("vault", "rekey", f, f, "--key-file", key_file).code == 0
    assert vault.load_file_decrypted(f, vault.load_vault_key(key_file)) == {"token": "abc"}


def test_vault_edit_refuses_a_value_it_cannot_vault(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`vault encrypt` refuses a value under an unknown tag; `vault edit` saved one added in the editor in clear."""
    key_file = tmp_path / "vault.key"
    assert cli("vault", "keygen", key_file).code == 0
    f = tmp_path / "all.yml"
    f.write_text("token: abc\n", encoding="utf-8")
    assert cli("vault", "encrypt", f, "--key-file", key_file).code == 0
    before = f.read_text(encoding="utf-8")
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "p.write_text(t + 'newtag: !foo topsecret\\n')\n"))
    monkeypatch.delenv("VISUAL", raising=False)
    res = cli("vault", "edit", f, "--key-file", key_file)
    assert res.code == 2 and "!foo" in res.text and "topsecret" not in f.read_text(encoding="utf-8"), res.text
    assert f.read_text(encoding="utf-8") == before

"""Review findings 1, 2 and 4d through the service: SM2 ciphertexts and base64 fields have exactly one
accepted encoding, and a malformed systems file (HMAC keys) or configuration is reported by problem, line and
column — never by quoting the line that holds a key."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.cryptosvc.conftest import Harness, b64
from xzgov.crypto import der, files, sm2, sm2_engine
from xzgov.cryptosvc.__main__ import main
from xzgov.cryptosvc.config import load_config, parse_systems
from xzgov.cryptosvc.errors import ConfigError

native = pytest.mark.skipif(sm2.ENGINE != sm2_engine.NAME, reason="SM2 encryption needs OpenSSL 3")


def _altered(ciphertext: bytes) -> dict[str, bytes]:
    items = der.sequence(ciphertext)
    x, y, c3, c2 = der.as_integer(items[0]), der.as_integer(items[1]), items[2].value, items[3].value
    integer, octets = der.encode_integer, der.encode_octet_string
    return {
        "trailing bytes": ciphertext + b"GARBAGE",
        "long-form length": der.encode_sequence(integer(x), integer(y), bytes([0x04, 0x81, len(c3)]) + c3,
                                                octets(c2)),
        "non-minimal INTEGER": der.encode_sequence(der.encode_tlv(der.INTEGER, b"\x00" + integer(x)[2:]),
                                                   integer(y), octets(c3), octets(c2)),
        "x + p": der.encode_sequence(integer(x + sm2.P), integer(y), octets(c3), octets(c2)),
    }


@native
@pytest.mark.parametrize("variant", ["trailing bytes", "long-form length", "non-minimal INTEGER", "x + p"])
def test_sm2_decrypt_refuses_altered_encodings(service: Harness, variant: str) -> None:
    kid = service.create_key("dept-a", "sm2", usage="encrypt")
    sealed = service.call("dept-a", "POST", "/v1/sm2/encrypt", {"key_id": kid, "plaintext": b64(b"dk")})
    raw = base64.b64decode(sealed.body["ciphertext"])
    opened = service.call("dept-a", "POST", "/v1/sm2/decrypt", {"key_id": kid, "ciphertext": b64(raw)})
    assert base64.b64decode(opened.body["plaintext"]) == b"dk"
    refused = service.call("dept-a", "POST", "/v1/sm2/decrypt",
                           {"key_id": kid, "ciphertext": b64(_altered(raw)[variant])})
    assert (refused.status, refused.code) == (400, "decryption_failed"), refused.body


def test_base64_fields_must_be_canonical(service: Harness) -> None:
    """``ZGs=`` and ``ZGt=`` both decode to b"dk": only the canonical one is accepted, as by the bundle
    verifier."""
    assert base64.b64decode("ZGt=") == base64.b64decode("ZGs=") == b"dk"
    good = service.call("dept-a", "POST", "/v1/sm3/digest", {"data": "ZGs="})
    assert good.status == 200 and good.body["digest"] == service.call(
        "dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"dk")}).body["digest"]
    for text in ("ZGt=", "ZGs", "ZA==ZA==", "ZB==", " ZGs=", "ZGs=\n"):
        refused = service.call("dept-a", "POST", "/v1/sm3/digest", {"data": text})
        assert (refused.status, refused.code) == (400, "invalid_base64"), (text, refused.body)
        assert refused.body["error"]["message"].startswith("data is not")
    kid = service.create_key("dept-a", "sm4")
    refused = service.call("dept-a", "POST", "/v1/sm4/encrypt", {"key_id": kid, "plaintext": "ZGs=", "aad": "ZGt="})
    assert (refused.status, refused.code) == (400, "invalid_base64")
    assert "aad" in refused.body["error"]["message"]


# ------------------------------------------------------------------------------------ YAML errors


SECRET = "a1b2c3d4e5f60718" * 4


def _shown(message: str) -> int:
    """The longest run of the key's hex digits that the message shows."""
    return max((len(run) for run in re.findall(r"[0-9a-f]{6,}", message) if run in SECRET), default=0)


MALFORMED = {
    "block, unterminated quote": f'systems:\n  portal:\n    role: tenant\n    hmac_key: "{SECRET}\n',
    "block, bad indentation": f"systems:\n  p:\n    hmac_key: {SECRET}\n   role: admin\n",
    "block, mapping after scalar": f"systems:\n  portal:\n    hmac_key: {SECRET}\n    role: tenant\n  x\n  y: 1\n",
    "flow mapping, unterminated": f"systems:\n  portal: {{hmac_key: {SECRET}, role: tenant\n",
    "flow mapping, then bad list": f"systems:\n  portal: {{role: tenant, hmac_key: {SECRET}}}\n  bad: [\n",
    "single-quoted, unterminated": f"systems:\n  p:\n    hmac_key: '{SECRET}\n",
    "double-quoted, bad escape": f'systems:\n  p:\n    hmac_key: "{SECRET}\\q"\n',
    "key as an undefined alias": f"systems:\n  p:\n    hmac_key: *{SECRET}\n",
    "key as an unknown tag": f"systems:\n  p:\n    hmac_key: !<{SECRET}> x\n",
    "key as a local tag": f"systems:\n  p:\n    hmac_key: !{SECRET} x\n",
    "tab after the key": f"systems:\n  p:\n    hmac_key: {SECRET}\n\t- x\n",
}


@pytest.mark.parametrize("shape", [*MALFORMED, "not UTF-8"])
def test_a_malformed_systems_file_never_shows_key_material(shape: str) -> None:
    data = f"systems:\n  p:\n    hmac_key: {SECRET}\n".encode() + b"\xff\n" if shape == "not UTF-8" \
        else MALFORMED[shape].encode()
    with pytest.raises(ConfigError) as raised:
        parse_systems(data, "/etc/xzgov-cryptosvc/systems.yml")
    message = str(raised.value)
    assert message.startswith("systems file /etc/xzgov-cryptosvc/systems.yml: not "), message
    assert _shown(message) == 0, message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # nothing quoted in a traceback
    expected = r"at byte \d+\)$" if shape == "not UTF-8" else r"\(line \d+, column \d+\)$"
    assert re.search(expected, message), message


def test_the_service_start_reports_a_malformed_systems_file_without_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xzgov.cryptosvc.setup import write_service_files

    hmac_keys = write_service_files(tmp_path / "etc", tmp_path / "state", {"dept-a": "tenant"})
    systems = tmp_path / "etc" / "systems.yml"
    key = hmac_keys["dept-a"].hex()
    systems.write_text(systems.read_text().replace(f"hmac_key: {key}", f'hmac_key: "{key}'))
    assert main(["--config", str(tmp_path / "etc" / "config.yml")]) == 2
    err = capsys.readouterr().err
    assert "systems file" in err and "not valid YAML" in err and "line " in err
    assert not any(key[i:i + 8] in err for i in range(0, 57)), err
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "etc" / "config.yml")
    assert raised.value.__cause__ is None  # no chained YAMLError (its text quotes the line) in a traceback


def test_a_malformed_configuration_is_reported_by_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text('state_dir: /x\ndatabase_dsn: "host=db password=hunter2secret\n')
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert "hunter2" not in str(raised.value) and "(line 3, column 1)" in str(raised.value)


def test_yaml_problem_keeps_single_characters_and_token_names() -> None:
    import yaml

    for text, expected in (("a: b\n\t- c\n", "found character '\\t' that cannot start any token"),
                           ("[a, b\n", "expected ',' or ']', but got '<stream end>'"),
                           ("a: *secretalias\n", "found undefined alias '…'")):
        with pytest.raises(yaml.YAMLError) as raised:
            yaml.safe_load(text)
        assert files.yaml_problem(raised.value)[0] == expected


def test_a_key_where_a_system_name_goes_is_not_quoted_a_short_bad_name_is() -> None:
    """A mis-edit that put an hmac_key where the system's name goes printed the whole key in the error (the
    journal keeps it): a name that may be a key is shown by its place and length, a short bad one quoted."""
    with pytest.raises(ConfigError) as raised:
        parse_systems(f"systems:\n  dept-a:\n    hmac_key: {'1' * 64}\n  {SECRET}:\n    role: tenant\n".encode(),
                      "systems.yml")
    assert _shown(str(raised.value)) == 0 and "entry 2 of systems:, 64 characters" in str(raised.value)
    with pytest.raises(ConfigError, match="bad system name 'Dept_A'"):
        parse_systems(b"systems:\n  Dept_A:\n    role: tenant\n", "systems.yml")


@pytest.mark.parametrize(("line", "expected"), [
    ("state_dir: [1]\n", "state_dir must be a path (a string), not a list"),
    ("state_dir: ''\n", "state_dir must be a path (a string), not an empty or NUL-holding string"),
    ("other: 1\n", "missing state_dir: write the path it names"),
])
def test_a_configuration_path_of_the_wrong_type_is_named_not_called_missing(
        tmp_path: Path, line: str, expected: str) -> None:
    """``state_dir: [1]`` said "missing expected str, bytes or os.PathLike object, not list"."""
    config = tmp_path / "config.yml"
    config.write_text(line + "master_key_file: m\nsigning_key_file: s\nsystems_file: y\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert str(raised.value) == f"configuration {config}: {expected}" + (
        " (xzgov cryptosvc init writes every one)" if "missing" in expected else "")


def test_a_configuration_init_wrote_under_a_relative_folder_loads_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``init cs/etc --state-dir cs/state`` wrote relative paths, and ``serve`` (systemd runs it from /) found no
    master key: init writes absolute paths, and a relative path a person writes is relative to the file."""
    from xzgov.cryptosvc.setup import write_service_files

    monkeypatch.chdir(tmp_path)
    write_service_files(Path("cs/etc"), Path("cs/state"), {"dept-a": "tenant"})
    monkeypatch.chdir("/")
    config = load_config(tmp_path / "cs" / "etc" / "config.yml")
    assert config.state_dir == tmp_path / "cs" / "state" and "dept-a" in config.systems
    edited = tmp_path / "cs" / "etc" / "config.yml"
    edited.write_text(edited.read_text().replace(str(tmp_path / "cs" / "etc") + "/", ""))  # relative by hand
    assert load_config(edited).state_dir == tmp_path / "cs" / "state"

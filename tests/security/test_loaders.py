"""Hostile input through every loader (adversarial review): each defect is a located exit 1 or 2,
never a traceback, a runaway or an acceptance. One test per defect, then the same class per loader."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from compliance.catalogue import CatalogueError, load_catalogue
from compliance.scoring.config import load_scoring_config
from compliance.waivers import load_records
from tests.register.conftest import FIXTURE
from tests.security.helpers import MANIFEST, VALID_TEXT, assert_located, errors_of, validate
from xzgov.core import schema as schema_mod
from xzgov.core.errors import MAX_DIAGNOSTICS_PER_FILE, UsageError, XzgovError
from xzgov.core.register import vault_envelope_problem
from xzgov.core.yamlio import LocatedDocument, load_documents
from xzgov.crypto.vault.envelope import encrypt_value
from xzgov.crypto.vault.keyfile import VaultKey

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def region(tmp_path: Path) -> Path:
    """A private copy of the register fixture (region.yaml + three systems)."""
    target = tmp_path / "region"
    shutil.copytree(FIXTURE, target)
    return target


def laughs(levels: int = 9, fanout: int = 9) -> str:
    """A billion-laughs alias tree (fanout**levels leaves) in a few KB, as a top-level key."""
    lines = ["lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * fanout)
        lines.append(f"lol{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def write(region: Path, text: str, name: str = MANIFEST) -> Path:
    target = region / name
    target.write_text(text, encoding="utf-8")
    return target


def codes(report: dict[str, Any]) -> set[str]:
    return {error["code"] for error in errors_of(report)}


# --------------------------------------------------------------------------- alias expansion


@pytest.mark.parametrize("duplicate", [True, False], ids=["slow-path", "fast-path"])
def test_billion_laughs_manifest_is_a_located_error_in_bounded_memory(region: Path, duplicate: bool) -> None:
    bomb = laughs() + ("tier: 自治区\ntier: 自治区\n" if duplicate else "")
    assert len(bomb) < 4096
    write(region, VALID_TEXT + bomb)
    # Under a 1 GB address-space limit: the old builder expanded every alias (MemoryError, exit 3).
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from xzgov.cli.main import _dispatch
        sys.exit(_dispatch(["validate", "--root", {str(region)!r}, "--format", "json"]))
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 1, done.stderr[-2000:]
    assert time.monotonic() - started < 60
    assert "yaml-limit" in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert f'"file": "{MANIFEST}"' in done.stdout


def test_alias_bounds_apply_to_every_document_kind(tmp_path: Path) -> None:
    _, errors = load_documents(laughs(), "x.yaml")
    assert [e.code for e in errors] == ["yaml-limit"] and errors[0].line >= 1
    recursive = "a: &a [*a]\n"
    _, errors = load_documents(recursive, "x.yaml")
    assert errors and "recursive" in errors[0].message
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * 1500) + "]\n"
    _, errors = load_documents(many, "x.yaml")
    assert errors and "aliases" in errors[0].message


def test_region_file_bomb(region: Path) -> None:
    write(region, (region / "region.yaml").read_text(encoding="utf-8") + laughs() + "x: 1\nx: 2\n", "region.yaml")
    code, report, _ = validate(region)
    assert code == 1 and "yaml-limit" in codes(report)
    assert_located(report)


WAIVER = """\
apiVersion: xzgov.io/v1
kind: Waivers
waivers:
  - id: W-2026-001
    system: idp
    rule: XZ-NET-001
    reason: 测试用豁免
    compensating: 加强监测
    approver: {name: 张三, role: 安全负责人}
    approved: "2026-01-05"
    expires: "2099-01-05"
"""


def records(tmp_path: Path, text: str) -> UsageError:
    folder = tmp_path / "waivers"
    folder.mkdir(exist_ok=True)
    (folder / "w.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_records(tmp_path, waivers_dir=folder, attestations_dir=tmp_path / "none")
    assert caught.value.exit_code == 2
    for diagnostic in caught.value.diagnostics:
        assert diagnostic.file and diagnostic.line >= 1, diagnostic
    return caught.value


def test_waiver_bomb_tag_and_bad_dates(tmp_path: Path) -> None:
    assert any(d.code == "yaml-limit" for d in records(tmp_path, WAIVER + laughs()).diagnostics)
    tagged = WAIVER.replace("reason: 测试用豁免", "reason: !!python/object/apply:os.system [id]")
    assert any(d.code == "yaml-tag" for d in records(tmp_path, tagged).diagnostics)
    # Unquoted and impossible: a ValueError while building the date, exit 3, before the fix.
    for bad in ('approved: 2026-02-30', 'approved: "2026-02-30"', 'approved: "2026-01-05\\n"'):
        error = records(tmp_path, WAIVER.replace('approved: "2026-01-05"', bad))
        assert any(d.path.endswith("approved") for d in error.diagnostics), error.diagnostics


def test_scoring_config_and_catalogue_bombs(tmp_path: Path) -> None:
    scoring = tmp_path / "scoring.yaml"
    scoring.write_text((REPO / "standards" / "scoring.yaml").read_text(encoding="utf-8") + laughs(),
                       encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_scoring_config(scoring)
    assert [d.code for d in caught.value.diagnostics] == ["yaml-limit"]
    scoring.write_bytes(b"dengbao: \xff\xfe\n")  # not UTF-8
    with pytest.raises(CatalogueError) as caught:
        load_scoring_config(scoring)
    assert caught.value.exit_code in (1, 2) and caught.value.diagnostics[0].code == "encoding"
    assert (caught.value.diagnostics[0].line, caught.value.diagnostics[0].column) == (1, 10)
    scoring.write_text("- just\n- a list\n", encoding="utf-8")  # wrongly typed
    with pytest.raises(CatalogueError) as caught:
        load_scoring_config(scoring)
    assert caught.value.diagnostics and all(d.line >= 1 for d in caught.value.diagnostics)
    catalogue = tmp_path / "gbt22239-2019" / "bomb.yaml"
    catalogue.parent.mkdir()
    catalogue.write_text(laughs() + "a: !!set {x}\n", encoding="utf-8")
    with pytest.raises(XzgovError) as failed:
        load_catalogue(tmp_path, files=[catalogue])
    assert failed.value.exit_code in (1, 2)
    assert {d.code for d in failed.value.diagnostics} >= {"yaml-limit"}


# --------------------------------------------------------------------------- trailing newlines


IMAGE = "registry.xzgov.internal/dsjj/auth@sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("name: idp\n", 'name: "idp\\n"\n', "metadata.name"),
        ("hostname: idp-db01", 'hostname: "idp-db01\\n"', "spec.hosts[0].hostname"),
        (f"image: {IMAGE}", f'image: "{IMAGE}\\n"', "spec.workloads[0].image"),
        ("contact: idp@dsjj.xizang.gov.cn", 'contact: "idp@dsjj.xizang.gov.cn\\n"', "spec.owner.contact"),
    ],
)
def test_trailing_newline_does_not_pass_a_pattern(region: Path, old: str, new: str, field: str) -> None:
    assert old in VALID_TEXT
    write(region, VALID_TEXT.replace(old, new, 1))
    code, report, _ = validate(region)
    assert code == 1, report
    assert any(error["path"] == field for error in errors_of(report)), report
    assert_located(report)


def test_every_schema_pattern_rejects_a_trailing_newline() -> None:
    """Every format pattern is anchored at the end of the text; the one unanchored pattern is the blank-text check
    of free text (a title, a purpose), which looks for any non-space character and needs no anchor."""
    for kind in ("System", "Region"):
        stack: list[Any] = [schema_mod.schema_for(kind)]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if isinstance(node.get("pattern"), str) and node["pattern"] != schema_mod.BLANK_PATTERN:
                    assert node["pattern"].endswith("$(?!\\n)"), node["pattern"]
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


def test_screen_rejecting_what_the_explainer_accepts_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_mod, "explain", lambda document, schema: [])
    document = load_documents("name: 'UPPER'\n", "f.yaml")[0][0]
    found = schema_mod.validate_document(
        document, {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}}
    )
    assert len(found) == 1 and found[0].path == "name" and found[0].line == 1 and found[0].column == 7


def test_explainer_reads_dollar_as_end_of_text_for_any_schema() -> None:
    document = load_documents('name: "abc\\n"\n', "f.yaml")[0][0]
    schema = {"$id": "urn:test:dollar", "type": "object",
              "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}}
    assert [d.path for d in schema_mod.validate_document(document, schema)] == ["name"]


# --------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system [id]",
        "!!python/object/apply:os.system {cmd: id}",
        "!!set {https://a.example}",
        "!custom [https://a.example]",
        "!!binary aGVsbG8=",
        "!!timestamp 2026-01-01",
        "[!!python/name:os.system x]",
    ],
)
@pytest.mark.parametrize("duplicate", [True, False], ids=["slow-path", "fast-path"])
def test_foreign_tags_are_refused_on_scalars_and_collections(region: Path, value: str, duplicate: bool) -> None:
    text = VALID_TEXT.replace("endpoints: [https://tyrz.xizang.gov.cn]", f"endpoints: {value}")
    write(region, text + ("tier: 自治区\n" if duplicate else ""))
    code, report, _ = validate(region)
    assert code == 1 and "yaml-tag" in codes(report), report
    tagged = [e for e in errors_of(report) if e["code"] == "yaml-tag"]
    assert tagged[0]["path"].startswith("spec.exposure.endpoints") and tagged[0]["line"] == 17
    assert_located(report)


def test_core_scalar_tags_stay_allowed() -> None:
    documents, errors = load_documents("a: !!str 12\nb: !!int '3'\nc: !!bool true\nd: !!null ''\ne: !!float 1\n"
                                       "f: !!map {x: 1}\ng: !!seq [1]\n", "f.yaml")
    assert not errors
    assert documents[0].data == {"a": "12", "b": 3, "c": True, "d": None, "e": 1.0, "f": {"x": 1}, "g": [1]}


# --------------------------------------------------------------------------- secrets


def manifest_with_secret(value: str) -> str:
    return VALID_TEXT.replace("  audit: {destination: log-centre}\n",
                              f"  audit: {{destination: log-centre}}\n  secrets:\n    db_password: {value}\n")


@pytest.mark.parametrize("value", ["'$XZGOV-SM4VAULT;'", "'$XZGOV-SM4VAULT;anything at all'",
                                   "'$XZGOV-SM4VAULT;2;0123456789abcdef;AAAA'",
                                   "'$XZGOV-SM4VAULT;9;0123456789abcdef;" + "A" * 40 + "'"])
def test_fake_vaulted_secret_is_refused(region: Path, value: str) -> None:
    write(region, manifest_with_secret(value))
    code, report, output = validate(region)
    assert code == 1 and any(e["path"] == "spec.secrets.db_password" for e in errors_of(report)), report
    assert value.strip("'") not in output


def test_real_vaulted_secret_is_accepted(region: Path) -> None:
    key = VaultKey.generate()
    for plaintext in ("", "x", "xy", "Sbjb#2025-db-rotate", "长" * 50):
        value = encrypt_value(key, plaintext, "spec.secrets.db_password", scope=MANIFEST)
        assert vault_envelope_problem(value) is None
        write(region, manifest_with_secret(value))
        code, report, _ = validate(region)
        assert code == 0, report
        assert vault_envelope_problem(value + "\n") is not None
        assert vault_envelope_problem(value[:-1]) is not None


def test_register_checks_the_whole_envelope() -> None:
    key_id = "0123456789abcdef"
    assert vault_envelope_problem(f"$XZGOV-SM4VAULT;2;{key_id};AAAA") is not None  # 3 bytes: too short
    assert vault_envelope_problem(f"$XZGOV-SM4VAULT;2;{key_id};" + "A" * 38 + "B=") is not None  # not canonical
    assert vault_envelope_problem(f"$XZGOV-SM4VAULT;3;{key_id};" + "A" * 40) is not None  # version
    assert vault_envelope_problem(f"$XZGOV-SM4VAULT;2;{key_id.upper()};" + "A" * 40) is not None
    assert vault_envelope_problem(f"$XZGOV-SM4VAULT;2;{key_id};" + "A" * 40) is None


SECRET = "Sbjb#2025-db-rotate"


@pytest.mark.parametrize("value", [f"'{SECRET}'", f"['{SECRET}']", f"{{inner: '{SECRET}'}}",
                                   f"'{SECRET}\\n'", f"'$XZGOV-SM4VAULT;{SECRET}'"])
def test_secret_values_never_appear_in_diagnostics(region: Path, value: str) -> None:
    write(region, manifest_with_secret(value))
    for extra in ((), ("--format", "text")):  # the last --format given wins
        code, _, output = validate(region, *extra)
        assert code == 1
        assert SECRET not in output, output
        assert "spec.secrets.db_password" in output


def test_secret_in_a_wrongly_typed_parent_is_not_echoed(region: Path) -> None:
    text = VALID_TEXT.replace("  audit: {destination: log-centre}\n",
                              f"  audit: [{{destination: log-centre, password: '{SECRET}'}}]\n")
    write(region, text)
    code, _, output = validate(region)
    assert code == 1 and SECRET not in output  # a whole list or mapping is never quoted


# --------------------------------------------------------------------------- low items


@pytest.mark.parametrize(
    ("edit", "code_wanted"),
    [
        (("rpo_minutes: 15", "rpo_minutes: 1" + "0" * 5000), "yaml-limit"),
        (("rpo_minutes: 15", "rpo_minutes: 2026-02-30"), "type"),
        (("  tier: 自治区\n", "  tier: 自治区\n  x: " + "[" * 900 + "]" * 900 + "\n  tier: 自治区\n"), "yaml-limit"),
        (("  tier: 自治区\n", "  tier: 自治区\n  x: " + "{a: " * 600 + "1" + "}" * 600 + "\n  tier: 自治区\n"),
         "yaml-limit"),
    ],
    ids=["huge-int", "invalid-date", "deep-900-dup", "deep-600-map-dup"],
)
def test_low_items_are_located(region: Path, edit: tuple[str, str], code_wanted: str) -> None:
    assert edit[0] in VALID_TEXT
    write(region, VALID_TEXT.replace(*edit, 1))
    code, report, output = validate(region)
    assert code == 1 and code_wanted in codes(report), report
    assert "Traceback" not in output
    assert_located(report)


def test_two_merge_keys_in_one_mapping_are_refused() -> None:
    text = "base: &b {x: 1}\nother: &o {x: 2}\nm:\n  <<: *b\n  <<: *o\n"
    documents, errors = load_documents(text, "f.yaml")
    assert not documents and len(errors) == 1
    assert (errors[0].line, errors[0].column, errors[0].path) == (5, 3, "m.<<")
    assert load_documents("base: &b {x: 1}\nm:\n  <<: [*b]\n  y: 2\n", "f.yaml")[0][0].data["m"] == {"x": 1, "y": 2}


def test_diagnostics_are_capped_per_file_and_fast(region: Path) -> None:
    # 200,000 wrong entries: every one a schema error. Reporting them all took minutes.
    hosts = "  hosts: [" + ", ".join(["1"] * 200_000) + "]\n"
    text = VALID_TEXT.replace("  hosts:\n", "  old_hosts:\n", 1) + hosts
    write(region, text.replace("  old_hosts:\n", "  hosts_gone:\n"))
    started = time.monotonic()
    code, report, _ = validate(region)
    assert time.monotonic() - started < 30
    assert code == 1
    mine = [e for e in errors_of(report) if e["file"] == MANIFEST]
    assert len(mine) <= MAX_DIAGNOSTICS_PER_FILE + 1
    assert mine[-1]["code"] == "truncated" and "more error" in mine[-1]["message"]
    assert_located(report)


def test_a_huge_input_is_refused_quickly(region: Path) -> None:
    text = VALID_TEXT + "padding: [" + ", ".join(["1"] * 1_500_000) + "]\n"  # 4.5 MB, 1.5 M values
    write(region, text)
    started = time.monotonic()
    code, report, _ = validate(region)
    assert code == 1 and "yaml-limit" in codes(report)
    assert time.monotonic() - started < 10
    assert_located(report)
    _, errors = load_documents("a: [" + ",".join(["1"] * 300_000) + "]\n", "f.yaml")  # < 1 MB, too many values
    assert [e.code for e in errors] == ["yaml-limit"] and errors[0].path.startswith("a[")


def test_non_utf8_manifest_is_located(region: Path) -> None:
    (region / MANIFEST).write_bytes(VALID_TEXT.encode("utf-8").replace("平台负责人".encode(), b"\xff\xfe"))
    code, report, _ = validate(region)
    assert code in (1, 2) and codes(report) == {"encoding"}
    assert_located(report)


def test_located_documents_keep_their_index_when_one_fails() -> None:
    documents, errors = load_documents("a: 1\n---\nb: !!set {x}\n---\nc: 3\n", "f.yaml")
    assert errors and [d.data for d in documents] == [{"a": 1}, {"c": 3}]
    third: LocatedDocument = documents[1]
    assert third.position(("c",)) == (5, 4)


def test_scan_does_not_echo_a_secret_either(region: Path) -> None:
    import contextlib
    import io

    from xzgov.cli.main import _dispatch

    write(region, manifest_with_secret(f"'{SECRET}'"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = _dispatch(["scan", "--root", str(region)])
    assert code == 2 and SECRET not in out.getvalue() and "spec.secrets.db_password" in out.getvalue()


@pytest.mark.parametrize("text", ["a: .nan\n", "a: [1, .NaN]\n", "a: {b: .NAN}\n", "a: &x .nan\nb: *x\n"])
def test_not_a_number_is_refused_where_it_is_written(text: str) -> None:
    """No range check refuses NaN (every comparison with it is false): ``score: .nan`` passed validation and a
    programme target ``.nan`` was printed as ``NaN`` in JSON no reader accepts. The loader refuses it, located;
    quoted, it is the text '.nan'."""
    documents, errors = load_documents(text, "f.yaml")
    assert errors and all(e.code == "range" and e.line >= 1 and "not a number" in e.message for e in errors)
    assert not documents or all(d.data is None for d in documents)
    quoted, fine = load_documents("a: '.nan'\nb: 1.5\nc: .inf\n", "f.yaml")
    assert not fine and quoted[0].data["a"] == ".nan"

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xzgov.core.yamlio import format_path, load_documents, read_text


def test_duplicate_keys_are_errors_with_both_positions() -> None:
    text = "a: 1\nb:\n  c: [1, 2]\n  d: x\n  c: 3\n"
    _, errors = load_documents(text, "f.yaml")
    assert [(e.line, e.column, e.path, e.code) for e in errors] == [(5, 3, "b.c", "duplicate-key")]
    assert "first defined on line 3" in errors[0].message


def test_every_duplicate_is_reported_not_just_the_first() -> None:
    text = "a: 1\na: 2\nb: {x: 1, x: 2}\n"
    _, errors = load_documents(text, "f.yaml")
    assert [(e.line, e.path) for e in errors] == [(2, "a"), (3, "b.x")]


def test_syntax_error_is_located() -> None:
    _, errors = load_documents("a:\n  - 1\n  b: [2\n", "f.yaml")
    assert len(errors) == 1 and errors[0].code == "yaml-syntax" and errors[0].line >= 3


def test_python_tags_are_refused() -> None:
    _, errors = load_documents("a: !!python/object:os.system x\n", "f.yaml")
    assert errors and errors[0].line == 1 and "tag" in errors[0].hint


def test_positions_are_lazy_but_exact() -> None:
    documents, errors = load_documents("a: 1\nb:\n  - {c: 2}\n  - d: 3\n", "f.yaml")
    assert not errors
    document = documents[0]
    assert document.position(("b", 1, "d")) == (4, 8)
    assert document.position(("b", 1, "d"), key=True) == (4, 5)
    assert document.position(("b", 0, "missing", "deeper")) == (3, 5)


def test_merge_keys_are_not_duplicates() -> None:
    documents, errors = load_documents("base: &b {p: 1}\nx:\n  <<: *b\n  q: 2\n", "f.yaml")
    assert not errors and documents[0].data["x"] == {"p": 1, "q": 2}


def test_format_path() -> None:
    assert format_path(("spec", "hosts", 0, "address")) == "spec.hosts[0].address"
    assert format_path(()) == ""


def test_keys_are_strings_on_both_paths() -> None:
    text = "1: a\ntrue: b\nnull: c\nx: {2: d}\n"
    fast, _ = load_documents(text, "f.yaml")
    slow, errors = load_documents(text + "x: again\n", "f.yaml")  # a duplicate forces the slow path
    assert fast[0].data == {"1": "a", "true": "b", "null": "c", "x": {"2": "d"}}
    assert [e.code for e in errors] == ["duplicate-key"]
    assert slow[0].data == fast[0].data


@pytest.mark.parametrize("written", ["0555", "0x1BB", "0b101", "1_000", "2:30", "-0755", "1_0.5", "1:30.5"])
def test_numbers_yaml_1_1_reads_as_another_value_are_refused(written: str) -> None:
    """``port: 0443`` was read as octal 291 and planned so; ``1:00`` as 60 — on both load paths."""
    for text in (f"a: 1\nport: {written}\n", f"a: 1\nport: {written}\nport: 2\n"):  # fast path, slow path
        documents, errors = load_documents(text, "f.yaml")
        refused = [e for e in errors if e.path == "port" and e.code == "yaml-syntax"]
        assert len(refused) == 1 and refused[0].line == 2, errors
        assert "YAML 1.1" in refused[0].message and "decimal" in refused[0].hint
        assert written not in refused[0].message  # values are never quoted (they may be secrets)
        assert not documents


@pytest.mark.parametrize("written", ["yes", "No", "ON", "off", "Yes"])
def test_yes_no_on_off_are_refused_as_values_and_keys(written: str) -> None:
    for text in (f"flag: {written}\n", f"{written}: 1\n"):
        _, errors = load_documents(text, "f.yaml")
        assert len(errors) == 1 and "boolean" in errors[0].message and "true or false" in errors[0].hint, errors


@pytest.mark.parametrize(("written", "value"), [("443", 443), ("0", 0), ("-5", -5), ("+7", 7), ("0.5", 0.5),
                                                ("1.0", 1.0), (".5", 0.5), ("1.5e+3", 1500.0),
                                                ("1.5e3", "1.5e3"), ("0o17", "0o17"), ("true", True),
                                                ("False", False), ("'0443'", "0443"), ('"yes"', "yes"), ("089", "089")])
def test_json_forms_and_quoted_text_still_load(written: str, value: object) -> None:
    documents, errors = load_documents(f"v: {written}\n", "f.yaml")
    assert not errors and documents[0].data == {"v": value}


def test_a_byte_that_is_not_utf8_is_located_in_characters(tmp_path: Path) -> None:
    """After five Chinese characters the column was counted in bytes (25), not as an editor shows it (13)."""
    path = tmp_path / "m.yaml"
    path.write_bytes("a: 1\ntitle: 西藏自治区".encode() + b"\xff x\n")
    text, problem = read_text(path)
    assert text is None and problem is not None and (problem.line, problem.column) == (2, 13)


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x7f", "\ufffe"])
def test_a_control_character_after_chinese_text_is_located_in_characters(character: str) -> None:
    """libyaml reports a refused character at its byte offset: after Chinese text (three bytes a character) a
    NUL on line 12 was reported at 17:11."""
    text = "a: 1\n" + "".join(f"k{n}: 西藏自治区政务云\n" for n in range(10)) + f'v: "ab{character}c"\n'
    _, errors = load_documents(text, "f.yaml")
    assert [(e.line, e.column) for e in errors] == [(12, 7)], errors
    assert f"U+{ord(character):04X}" in errors[0].message and "\\u" in errors[0].hint


@pytest.mark.parametrize(("written", "key"), [("~", "null"), ("Null", "null"), ("True", "true"), ('"~"', "~")])
def test_a_key_spelled_another_way_is_located_at_itself(written: str, key: str) -> None:
    """``~: 1`` is the key "null": an error about it pointed at its parent mapping, not at the key."""
    documents, errors = load_documents(f"spec:\n  a: 1\n  {written}: 2\n", "f.yaml")
    assert not errors and key in documents[0].data["spec"]
    assert documents[0].position(("spec", key), key=True) == (3, 3)


def test_a_second_document_is_located_where_it_begins(tmp_path: Path) -> None:
    from xzgov.core.yamlio import load_file

    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: xzgov.io/v1\nkind: System\n---\nkind: System\n", encoding="utf-8")
    document, errors = load_file(path, "m.yaml")
    assert document is None and [(e.line, e.column, e.code) for e in errors] == [(4, 1, "document-count")]
    assert "---" in errors[0].hint


@pytest.mark.parametrize(("text", "line", "column", "character"), [
    ("metadata:\n  name: x\n  title：请填写\n  department: czt\n", 3, 8, "："),  # the colon after a key
    ("spec:\n  a: 1\n\u3000\u3000b: 2\n  c: 3\n", 3, 1, "\u3000"),  # indentation with ideographic spaces
    ("spec:\n  factors:\n    - password\n    － ukey\n  level: 3\n", 4, 5, "－"),  # a list item's dash
])
def test_full_width_punctuation_is_named_where_it_was_typed(text: str, line: int, column: int, character: str) -> None:
    """A Chinese input method types '：' for ':' (or an ideographic space, a full-width dash): YAML read it as
    text and failed a line later, with a hint about tabs and indentation that named neither the line nor the
    character."""
    _, errors = load_documents(text, "m.yaml")
    (error,) = errors
    assert (error.line, error.column, error.code) == (line, column, "yaml-syntax"), error
    assert f"U+{ord(character):04X}" in error.message and "half-width" in error.hint


def test_full_width_punctuation_in_a_value_is_text_not_the_error() -> None:
    text = "metadata:\n  title: 说明：一, 二\n  name: [x\n"  # the colon is the title's; the bracket is the error
    _, errors = load_documents(text, "m.yaml")
    (error,) = errors
    assert "full-width" not in error.message


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_a_line_separator_editors_do_not_show_is_refused_where_it_was_typed(separator: str) -> None:
    """YAML 1.1 reads U+2028 / U+2029 / U+0085 as a line break, editors do not: in a comment it made the rest of
    the comment a key, and every later error's line number was one past the line the editor shows."""
    text = f"a: 1\n# 说明{separator}more\nb: [\n"
    documents, errors = load_documents(text, "f.yaml")
    assert not documents and len(errors) == 1, errors
    assert (errors[0].line, errors[0].column) == (2, 5) and f"U+{ord(separator):04X}" in errors[0].message
    assert "remove it" in errors[0].hint
    _, errors = load_documents(f"a: 1\nb: x{separator}y\n", "f.yaml")  # a plain value: a break there too
    assert [(e.line, e.column) for e in errors] == [(2, 5)], errors
    for quoted in (f'"x{separator}y"', f"'x{separator}y'"):  # text in a quoted value, as PyYAML dumps it; U+0085
        documents, errors = load_documents(f"a: {quoted}\n", "f.yaml")  # folds to a space there: refused
        assert documents[0].data == {"a": f"x{separator}y"} if separator != "\x85" else errors[0].line == 1
    documents, errors = load_documents('a: "x\\u2028y"\n', "f.yaml")  # the escape
    assert not errors and documents[0].data == {"a": "x\u2028y"}
    dumped = yaml.safe_dump({"title": f"第一行{separator}分隔"}, allow_unicode=True)
    documents, errors = load_documents(dumped, "f.yaml")  # (PyYAML reads its own U+0085 back as a space)
    if separator == "\x85":
        assert not documents and errors[0].code == "yaml-syntax"
    else:
        assert not errors and documents[0].data == {"title": f"第一行{separator}分隔"}


def test_a_manifest_after_an_empty_document_is_not_called_empty(tmp_path: Path) -> None:
    """``---`` ``---`` and then a 100-line manifest was "the file is empty — write one YAML mapping"; it is two
    documents. A file of empty documents only is empty."""
    from xzgov.core.yamlio import load_file

    path = tmp_path / "m.yaml"
    path.write_text("---\n---\napiVersion: xzgov.io/v1\nkind: System\n", encoding="utf-8")
    document, errors = load_file(path, "m.yaml")
    assert document is None and [e.code for e in errors] == ["document-count"]
    assert "found 2" in errors[0].message
    path.write_text("---\n---\n", encoding="utf-8")
    _, errors = load_file(path, "m.yaml")
    assert [e.code for e in errors] == ["empty"]

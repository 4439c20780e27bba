from __future__ import annotations

from xzgov.core.yamlio import format_path, load_documents


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

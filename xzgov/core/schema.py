"""JSON Schema validation that reports every error at its file:line:column with a fix hint."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema.exceptions import ValidationError

from xzgov.core.errors import Diagnostic
from xzgov.core.yamlio import LocatedDocument, PathKey

SCHEMA_FILES = {"System": "system.schema.json", "Region": "region.schema.json"}
_TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
    "number": "a number", "boolean": "true or false", "null": "null",
}


@cache
def schema_for(kind: str) -> dict[str, Any]:
    text = resources.files("xzgov.core.schemas").joinpath(SCHEMA_FILES[kind]).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


_VALIDATORS: dict[str, jsonschema.protocols.Validator] = {}


def _validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    key = _key(schema)
    if key not in _VALIDATORS:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATORS[key] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return _VALIDATORS[key]


_SCREENS: dict[str, Any] = {}


def _key(schema: Mapping[str, Any]) -> str:
    return str(schema.get("$id") or json.dumps(schema, sort_keys=True))


def _screen(schema: Mapping[str, Any]) -> Any:
    """A compiled validator (fastjsonschema): ~30x faster, but it stops at the first error.

    It only screens: a document it accepts is valid; one it rejects is explained in full by
    jsonschema. ``tests/register`` checks that both always agree.
    """
    key = _key(schema)
    if key not in _SCREENS:
        _SCREENS[key] = fastjsonschema.compile(dict(schema), use_formats=True)
    return _SCREENS[key]


def is_valid(data: Any, kind: str | Mapping[str, Any]) -> bool:
    """Whether ``data`` satisfies the schema of ``kind`` (or the schema given)."""
    try:
        _screen(schema_for(kind) if isinstance(kind, str) else kind)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def suggest(word: str, candidates: Iterable[str]) -> str:
    """A did-you-mean phrase for ``word`` among ``candidates`` ('' when nothing is close)."""
    options = [str(candidate) for candidate in candidates]
    matches = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else ""


def validate_document(document: LocatedDocument, kind: str | Mapping[str, Any]) -> list[Diagnostic]:
    """Every violation by ``document`` of the schema of ``kind`` (or of the schema given), located,
    with a fix hint. Valid documents pass the compiled screen and cost no more."""
    schema = schema_for(kind) if isinstance(kind, str) else kind
    if is_valid(document.data, schema):
        return []
    return explain(document, schema)


def explain(document: LocatedDocument, schema: Mapping[str, Any]) -> list[Diagnostic]:
    """Every violation of ``schema`` (any JSON Schema) by ``document``, located, with a fix hint."""
    diagnostics = [
        diagnostic
        for error in _validator(schema).iter_errors(document.data)
        for diagnostic in _explain(document, error)
    ]
    return sorted(set(diagnostics))


def _explain(document: LocatedDocument, error: ValidationError) -> list[Diagnostic]:
    path: PathKey = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    description = str(schema.get("description", ""))
    validator = error.validator
    instance = error.instance
    if validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = list(schema.get("properties", {}))
        extras = [key for key in instance if key not in allowed]
        return [
            document.diagnostic(
                (*path, key),
                f"unknown field '{key}'",
                suggest(key, allowed) or f"allowed fields here: {', '.join(allowed) or 'none'}",
                code="unknown-field",
                key=True,
            )
            for key in extras
        ] or [document.diagnostic(path, error.message, "", code="schema")]
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        sub = schema.get("properties", {}).get(missing, {})
        about = sub.get("description", "") if isinstance(sub, Mapping) else ""
        hint = f"add '{missing}:'" + (f" ({about})" if about else "")
        return [document.diagnostic(path, f"missing required field '{missing}'", hint, code="missing-field")]
    if validator == "enum":
        options = [str(option) for option in error.validator_value]
        hint = suggest(str(instance), options) or f"use one of: {', '.join(options)}"
        return [document.diagnostic(path, f"'{instance}' is not an allowed value", hint, code="enum")]
    if validator == "const":
        return [
            document.diagnostic(
                path, f"must be '{error.validator_value}', not '{instance}'",
                f"write {_field(path)}: {error.validator_value}", code="const",
            )
        ]
    if validator == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        return [
            document.diagnostic(
                path, f"must be {wanted}, found {type(instance).__name__} {instance!r:.40}",
                f"write {_field(path)} as {wanted}" + (f" ({description})" if description else ""),
                code="type",
            )
        ]
    if validator == "pattern":
        hint = description or f"the value must match {error.validator_value}"
        return [document.diagnostic(path, f"'{instance}' has the wrong format", hint, code="format")]
    if validator in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        bound = "at least" if "inimum" in validator else "at most"
        return [
            document.diagnostic(
                path, f"{instance} is out of range", f"use a value {bound} {error.validator_value}", code="range"
            )
        ]
    if validator in {"minItems", "minLength", "minProperties"}:
        return [document.diagnostic(path, "is empty or too short", description or error.message, code="range")]
    if validator in {"maxProperties"} and _field(path) == "to":
        return [
            document.diagnostic(path, "a flow goes to exactly one of system, service or zone",
                                "keep one key under 'to'", code="schema")
        ]
    if validator == "uniqueItems":
        return [document.diagnostic(path, "contains the same entry twice", "remove the repeated entry",
                                    code="duplicate")]
    if validator == "format":
        return [document.diagnostic(path, f"'{instance}' is not a valid {error.validator_value}",
                                    description or f"write a valid {error.validator_value}", code="format")]
    return [document.diagnostic(path, error.message, description, code="schema")]


def _field(path: PathKey) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "value"

"""JSON Schema validation that reports every error at its file:line:column with a fix hint."""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema.exceptions import ValidationError

from xzgov.core.errors import MAX_DIAGNOSTICS_PER_FILE, Diagnostic, cap_per_file
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
#: An unescaped ``$`` (fastjsonschema finds them with the same expression and rewrites them to ``\Z``).
_DOLLAR = re.compile(r"(?<!\\)\$")
#: jsonschema evaluates ``pattern`` with Python's ``re.search``, where ``$`` also matches before a
#: final newline: ``"idp\n"`` passed ``^[a-z]+$``. JSON Schema patterns are ECMA-262, where ``$`` is the
#: end of the text; :func:`pattern_regex` gives that meaning in Python. Our schemas also write
#: ``$(?!\n)`` so that any validator agrees.
_PATTERNS: dict[str, re.Pattern[str]] = {}


#: The pattern the schemas give a required text (with its ``minLength``): a title of spaces met ``minLength: 2`` and
#: showed as an invisible link in the reports.
BLANK_PATTERN = "\\S"


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` compiled for Python with ECMA-262's ``$`` (end of text only)."""
    if pattern not in _PATTERNS:
        _PATTERNS[pattern] = re.compile(_DOLLAR.sub(r"\\Z", pattern))
    return _PATTERNS[pattern]


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not pattern_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_integer(_checker: Any, instance: Any) -> bool:
    """JSON Schema calls 8443.0 an integer; no xzgov field does: ``port: 8443.0`` passed validation, then
    crashed the port model (``int('8443.0')``) or reached the inventory as a float."""
    return isinstance(instance, int) and not isinstance(instance, bool)


#: A mapping key or list index in an integer position's pattern: any key / any index.
_ANY_KEY, _ANY_INDEX = object(), object()
_INTEGER_POSITIONS: dict[int, tuple[Mapping[str, Any], frozenset[tuple[Any, ...]]]] = {}


def _integer_positions(schema: Mapping[str, Any]) -> frozenset[tuple[Any, ...]]:
    """Where ``schema`` admits an integer: the paths (keys, :data:`_ANY_KEY`, :data:`_ANY_INDEX`) of every
    subschema whose ``type`` names ``integer`` — through properties, pattern/additional properties, items and
    the combinators, with local references inlined. Kept per schema object."""
    kept = _INTEGER_POSITIONS.get(id(schema))
    if kept is not None and kept[0] is schema:
        return kept[1]
    found: set[tuple[Any, ...]] = set()

    def walk(node: Any, path: tuple[Any, ...], depth: int) -> None:
        if not isinstance(node, Mapping) or depth > 64:
            return
        types = node.get("type")
        if types == "integer" or (isinstance(types, list) and "integer" in types) or "$ref" in node:
            found.add(path)  # an unresolved reference counts as one, to be safe
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, (*path, name), depth + 1)
        for sub in (*(node.get("patternProperties") or {}).values(), node.get("additionalProperties")):
            walk(sub, (*path, _ANY_KEY), depth + 1)
        items = node.get("items")
        for sub in (items if isinstance(items, list) else [items]):
            walk(sub, (*path, _ANY_INDEX), depth + 1)
        for keyword in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(keyword) or []:
                walk(sub, path, depth + 1)
        for keyword in ("if", "then", "else", "not"):
            walk(node.get(keyword), path, depth + 1)

    walk(_inline_refs(schema), (), 0)
    positions = frozenset(found)
    _INTEGER_POSITIONS[id(schema)] = (schema, positions)
    return positions


def _matches(position: tuple[Any, ...], path: tuple[Any, ...]) -> bool:
    return len(position) == len(path) and all(
        (want is _ANY_KEY and isinstance(have, str)) or (want is _ANY_INDEX and isinstance(have, int)) or want == have
        for want, have in zip(position, path, strict=True))


def _whole_float_where_integer(data: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``data`` holds a whole float (``8443.0``) where ``schema`` admits an integer: the compiled screen
    takes one for an integer (as JSON Schema does), the explainer does not. A fractional float fails the screen
    where an integer is expected, and a whole one where only a number is (an assessment score of 93.0) is
    valid: neither needs the explainer's second look — checking any float sent every example manifest (each
    holds scores) through it, most of validation's time."""
    positions = None
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and value.is_integer():
            positions = _integer_positions(schema) if positions is None else positions
            if any(_matches(position, path) for position in positions):
                return True
        elif isinstance(value, Mapping):
            stack.extend((item, (*path, key)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
    return False


def full_match_validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    """A jsonschema validator for ``schema`` (formats checked) that reads ``$`` as ECMA-262 does,
    agreeing with the compiled screen. Every loader that validates with jsonschema should use it."""
    key = _key(schema)
    if key not in _VALIDATORS:
        base = jsonschema.validators.validator_for(schema)
        base.check_schema(schema)
        cls = jsonschema.validators.extend(base, {"pattern": _pattern},
                                           type_checker=base.TYPE_CHECKER.redefine("integer", _is_integer))
        _VALIDATORS[key] = cls(schema, format_checker=base.FORMAT_CHECKER)
    return _VALIDATORS[key]


_validator = full_match_validator


_SCREENS: dict[str, Any] = {}


def _key(schema: Mapping[str, Any]) -> str:
    return str(schema.get("$id") or json.dumps(schema, sort_keys=True))


def _screen(schema: Mapping[str, Any], translate: Callable[[str], str] | None = None,
            formats: Mapping[str, Callable[[Any], bool]] | None = None, document: bool = False) -> Any:
    """A compiled validator (fastjsonschema): ~30x faster, but it stops at the first error.

    It only screens: a document it accepts is valid; one it rejects is explained in full by
    jsonschema. ``tests/register`` and ``tests/compliance/test_report_screen.py`` check that both agree.
    fastjsonschema knows drafts 4 to 7: a 2020-12 ``prefixItems`` is given to it as draft 7 writes it
    (``items`` list, ``additionalItems``); ``translate`` rewrites each ``pattern`` for Python's ``re``;
    ``formats`` replaces its own check of a ``format`` (by name) — the explainer's, so both agree.
    ``document``: the screen of a whole document (a report) rather than of a manifest: references stay
    references (inlined, the report schema's ``oneOf`` branches made it 5.6x slower: 2.8 s instead of 0.5 s
    for a 500-system report) and no ``default`` is written into the data.
    """
    key = f"{_key(schema)}\t{id(translate)}\t{id(formats)}\t{document}"
    if key not in _SCREENS:
        prepared = _as_draft7(schema if document else _inline_refs(schema), translate)
        _SCREENS[key] = fastjsonschema.compile(prepared, use_formats=True, formats=dict(formats or {}),
                                               use_default=not document)
    return _SCREENS[key]


def _as_draft7(value: Any, translate: Callable[[str], str] | None) -> Any:
    """``value`` with 2020-12's tuple form (``prefixItems`` + ``items``) in draft 7's (``items`` list +
    ``additionalItems``), each ``pattern`` passed through ``translate``; the same schema otherwise."""
    if isinstance(value, list):
        return [_as_draft7(item, translate) for item in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _NAMED_SUBSCHEMAS and isinstance(item, Mapping):  # names, not keywords
            out[key] = {name: _as_draft7(sub, translate) for name, sub in item.items()}
        elif key in _VALUES:
            out[key] = item
        elif key == "pattern" and isinstance(item, str) and translate is not None:
            out[key] = translate(item)
        else:
            out[key] = _as_draft7(item, translate)
    if "prefixItems" in out:
        out["additionalItems"] = out.pop("items", True)
        out["items"] = out.pop("prefixItems")
    return out


#: Keywords whose value is data, not a schema.
_VALUES = frozenset(("enum", "const", "default", "examples"))
#: Keywords whose value maps names (properties, definitions) to subschemas.
_NAMED_SUBSCHEMAS = frozenset(("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"))


#: Keywords beside a ``$ref`` that only annotate: they change nothing a validator decides.
_ANNOTATIONS = frozenset(("description", "title", "$comment", "examples", "default"))


def _inline_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with every local ``#/$defs/NAME`` reference replaced by the definition itself.

    Equivalent for validation, and ~2x faster in fastjsonschema: its code for a ``$ref`` inside a list
    or map builds the field's name for error messages (``str.format(**locals())``) on every call, valid
    or not. A definition that refers to itself stays a reference; a ``$ref`` with validating siblings
    keeps them beside the definition (``allOf``), as JSON Schema 2020-12 reads them."""
    definitions = schema.get("$defs", {})

    def inline(value: Any, expanding: frozenset[str]) -> Any:
        if isinstance(value, list):
            return [inline(item, expanding) for item in value]
        if not isinstance(value, Mapping):
            return value
        reference = value.get("$ref")
        name = reference[len("#/$defs/"):] if isinstance(reference, str) and reference.startswith("#/$defs/") else ""
        if name in definitions and name not in expanding and isinstance(definitions[name], Mapping):
            target = inline(definitions[name], expanding | {name})
            siblings = {key: inline(item, expanding) for key, item in value.items() if key != "$ref"}
            if set(siblings) <= _ANNOTATIONS:
                return {**target, **siblings}
            return {"allOf": [target], **siblings}
        return {key: inline(item, expanding) for key, item in value.items()}

    inlined: dict[str, Any] = inline(schema, frozenset())
    return inlined


def screen_rejection(data: Any, schema: Mapping[str, Any], translate: Callable[[str], str] | None = None,
                     formats: Mapping[str, Callable[[Any], bool]] | None = None, document: bool = False,
                     ) -> fastjsonschema.JsonSchemaException | None:
    """Why the compiled screen of ``schema`` rejects ``data`` (``None``: ``data`` is valid). Explain a
    rejection with jsonschema; should it find nothing, :func:`screen_problem` says what the screen saw.
    ``translate``, ``formats`` and ``document``: as :func:`_screen` takes them (the same objects each call:
    the compiled screen is kept per schema and these)."""
    try:
        _screen(schema, translate, formats, document)(data)
    except fastjsonschema.JsonSchemaException as rejection:
        return rejection
    return None


def screen_problem(rejection: fastjsonschema.JsonSchemaException) -> tuple[PathKey, str]:
    """(field path, message) of a rejection the explainer did not confirm: the document is refused all the
    same (never accepted on the explainer's word), at the field the screen names."""
    name = str(getattr(rejection, "name", "") or "data")
    # fastjsonschema names the field as code would (``data.systems[0].states``): a bracketed number is a position
    parts = [int(m["index"]) if m["index"] else m["key"] for m in _NAME_PART.finditer(name)]
    path: PathKey = tuple(parts[1:])
    rule = getattr(rejection, "rule", None) or "schema"
    return path, f"does not satisfy the schema rule '{rule}'"


#: One part of a fastjsonschema field name: ``.key``/a leading name, or ``[index]``.
_NAME_PART = re.compile(r"\[(?P<index>\d+)\]|(?:^|\.)(?P<key>[^.\[]+)")


def is_valid(data: Any, kind: str | Mapping[str, Any]) -> bool:
    """Whether ``data`` satisfies the schema of ``kind`` (or the schema given)."""
    return _rejection(data, schema_for(kind) if isinstance(kind, str) else kind) is None


_rejection = screen_rejection


def suggest(word: str, candidates: Iterable[str]) -> str:
    """A did-you-mean phrase for ``word`` among ``candidates`` ('' when nothing is close)."""
    options = [str(candidate) for candidate in candidates]
    matches = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else ""


def validate_document(document: LocatedDocument, kind: str | Mapping[str, Any]) -> list[Diagnostic]:
    """Every violation by ``document`` of the schema of ``kind`` (or of the schema given), located,
    with a fix hint. Valid documents pass the compiled screen and cost no more."""
    schema = schema_for(kind) if isinstance(kind, str) else kind
    rejection = _rejection(document.data, schema)
    if rejection is None:
        # the screen accepts 8443.0 for an integer (as JSON Schema does); the explainer does not
        return explain(document, schema) if _whole_float_where_integer(document.data, schema) else []
    return explain(document, schema) or [_screen_only(document, rejection)]


def _screen_only(document: LocatedDocument, rejection: fastjsonschema.JsonSchemaException) -> Diagnostic:
    """The screen rejected what the explainer accepts: they disagree on a rule. The document is
    refused all the same (never accepted on the explainer's word), at the field the screen names."""
    path, message = screen_problem(rejection)
    definition = getattr(rejection, "definition", None)
    description = definition.get("description", "") if isinstance(definition, Mapping) else ""
    return document.diagnostic(path, message,
                               str(description) or "compare the value with the schema in xzgov/core/schemas/",
                               code="schema")


#: Schema errors examined per document. ``iter_errors`` is lazy: stopping here bounds the time a
#: hostile file (500,000 errors in 4.5 MB took 110 s) can take; the report says more exist.
MAX_SCHEMA_ERRORS = 4 * MAX_DIAGNOSTICS_PER_FILE


#: A record kind's own wording of some schema errors (a waiver record matching none of its forms): the
#: diagnostic for ``error`` at ``document``, or ``None`` to take the common explanation.
Special = Callable[[LocatedDocument, ValidationError], "Diagnostic | None"]


def explain(document: LocatedDocument, schema: Mapping[str, Any], special: Special | None = None) -> list[Diagnostic]:
    """Violations of ``schema`` (any JSON Schema) by ``document``, located, with a fix hint; at most
    :data:`~xzgov.core.errors.MAX_DIAGNOSTICS_PER_FILE`, then one saying how many more. Every loader of a
    YAML record (manifests, waivers, attestation sets and worksheets) words its schema errors here, so a
    value of the wrong type reads the same everywhere (never the validator's ``None is not of type 'array'``)."""
    errors = _validator(schema).iter_errors(document.data)
    examined = list(itertools.islice(errors, MAX_SCHEMA_ERRORS))
    unexamined = sum(1 for _ in itertools.islice(errors, MAX_SCHEMA_ERRORS))  # a lower bound, cheaply
    found: set[Diagnostic] = set()
    for error in examined:
        said = special(document, error) if special is not None else None
        found.update((said,) if said is not None else _explain(document, error))
    diagnostics = _one_format_error_per_value(sorted(found))
    return _scrub(cap_per_file(diagnostics, more=unexamined), _secret_values(document.data))


#: Fields whose values are never shown: everything under a ``secrets`` mapping and any vaulted value.
_SECRET_KEY = "secrets"
_VAULT_PREFIX = "$XZGOV-SM4VAULT"
_HIDDEN = "(value not shown: it may be a secret)"


def _is_secret(path: PathKey, schema: Mapping[str, Any], instance: Any) -> bool:
    return (_SECRET_KEY in path or bool(schema.get("writeOnly"))
            or (isinstance(instance, str) and instance.startswith(_VAULT_PREFIX)))


def _secret_values(data: Any, under_secret: bool = False) -> set[str]:
    """Every string under a ``secrets`` mapping (and every vaulted-looking string) in ``data``."""
    found: set[str] = set()
    stack: list[tuple[Any, bool]] = [(data, under_secret)]
    while stack:
        value, secret = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((child, secret or key == _SECRET_KEY) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, secret) for child in value)
        elif isinstance(value, str) and (secret or value.startswith(_VAULT_PREFIX)):
            found.add(value)
    return found


def _scrub(diagnostics: list[Diagnostic], secrets: set[str]) -> list[Diagnostic]:
    """Last line of defence: a message quoting a secret value (a generic jsonschema message about a
    whole mapping, say) is replaced; the field path still says where to look."""
    shown = [secret for secret in secrets if len(secret) >= 3]
    if not shown:
        return diagnostics
    return [
        replace(diagnostic, message=f"this value does not satisfy the schema {_HIDDEN}",
                hint="see the schema in xzgov/core/schemas/")
        if any(secret in diagnostic.message or secret in diagnostic.hint
               or repr(secret)[1:-1] in diagnostic.message for secret in shown)
        else diagnostic
        for diagnostic in diagnostics
    ]


def _one_format_error_per_value(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One format error per value: an address matching neither the pattern nor the ``ipv4`` format was
    reported twice at the same place, with two hints."""
    seen: set[tuple[int, int, str]] = set()
    kept: list[Diagnostic] = []
    for diagnostic in diagnostics:
        if diagnostic.code == "format":
            place = (diagnostic.line, diagnostic.column, diagnostic.path)
            if place in seen:
                continue
            seen.add(place)
        kept.append(diagnostic)
    return kept


def explain_error(document: LocatedDocument, error: ValidationError) -> list[Diagnostic]:
    """One schema error of ``document`` in the manifests' words (what :func:`explain` gives each error), for a
    loader that picks which errors to report itself."""
    return _scrub(_explain(document, error), _secret_values(document.data))


def _explain(document: LocatedDocument, error: ValidationError) -> list[Diagnostic]:
    path: PathKey = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    description = str(schema.get("description", ""))
    validator = error.validator
    instance = error.instance
    if _is_secret(path, schema, instance):
        return [_explain_secret(document, path, error)]
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
        wanted = _type_names(names)
        plain = _number_in_text(instance) if {"number", "integer"} & set(names) else None
        # the exponent rule only explains text with an exponent; a quoted plain number just loses its quotes
        why = (f"YAML 1.1 reads {instance!r} as text: an exponent needs a dot and a sign, 8.15e+1"
               if isinstance(instance, str) and "e" in instance.lower() else "remove the quotes")
        hint = f"write {_field(path)}: {plain} — a number, unquoted ({why})" if plain is not None else (
            f"write {_field(path)} as {wanted}" + (f" ({description})" if description else ""))
        return [document.diagnostic(path, type_mismatch(names, instance), hint, code="type")]
    if validator == "pattern" and error.validator_value == BLANK_PATTERN:
        return [document.diagnostic(path, "is blank (only spaces)", "write the text" + (
            f": {description}" if description else ""), code="range")]
    if validator == "pattern":
        hint = description or f"the value must match {error.validator_value}"
        return [document.diagnostic(path, f"'{instance}' has the wrong format", hint, code="format")]
    if validator in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        bound = "at least" if "inimum" in validator else "at most"
        return [
            document.diagnostic(
                path, f"{instance} is out of range",
                f"use a value {bound} {error.validator_value}" + (f" ({description})" if description else ""),
                code="range",
            )
        ]
    if validator in {"minItems", "minLength", "minProperties"}:
        least = error.validator_value
        unit = {"minItems": "entr", "minLength": "character", "minProperties": "key"}[validator]
        plural = ("y" if least == 1 else "ies") if unit == "entr" else ("" if least == 1 else "s")
        found = "is empty" if not instance else f"is too short ({len(instance)})"
        hint = f"give at least {least} {unit}{plural}" + (f": {description}" if description else "")
        return [document.diagnostic(path, found, hint, code="range")]
    if validator in {"maxProperties"} and _field(path) == "to":
        return [
            document.diagnostic(path, "a flow goes to exactly one of system, service or zone",
                                "keep one key under 'to'", code="schema")
        ]
    if validator in ("oneOf", "anyOf"):
        if "valid under each of" in error.message:
            return [document.diagnostic(path, "matches more than one of the allowed forms",
                                        description or "keep the fields of one form only", code="schema")]
        # The branch the value was meant for is one whose type it has: explain that branch's error (a result
        # `pass` against "one of 符合/… or null" is a value not allowed, not a value that should be null).
        aimed = [branch for branch in error.context or () if branch.validator != "type"] or list(error.context or ())
        if aimed:
            return _explain(document, aimed[0])
        return [document.diagnostic(path, "matches none of the allowed forms",
                                    description or "compare the value with the schema", code="schema")]
    if validator == "uniqueItems":
        return [document.diagnostic(path, "contains the same entry twice", "remove the repeated entry",
                                    code="duplicate")]
    if validator == "format":
        return [document.diagnostic(path, f"'{instance}' is not a valid {error.validator_value}",
                                    description or f"write a valid {error.validator_value}", code="format")]
    return [document.diagnostic(path, error.message, description, code="schema")]


def _type_names(names: Iterable[str]) -> str:
    return " or ".join(_TYPE_NAMES.get(name, name) for name in names)


def type_mismatch(expected: str | Iterable[str], instance: Any) -> str:
    """A value of the wrong JSON-schema type, in the manifests' words: ``must be a list, found null (no value)``
    (never the validator's Python spelling, ``None is not of type 'array'``)."""
    return f"must be {_type_names([expected] if isinstance(expected, str) else expected)}, found {_shown(instance)}"


def _number_in_text(instance: Any) -> str | None:
    """The plain number a text value spells (``8.15e1``, ``1e3``, a quoted ``"90"``) that YAML 1.1 did not read as
    one, written as YAML reads it; ``None`` when it spells none."""
    if not isinstance(instance, str):
        return None
    try:
        value = float(instance.replace("_", ""))
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _field(path: PathKey) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "value"


def _shown(instance: Any) -> str:
    """The type and, for a short scalar, the value: never a whole mapping or list (it could hold a
    secret further down)."""
    if isinstance(instance, Mapping | list):
        return f"a {'mapping' if isinstance(instance, Mapping) else 'list'}"
    if instance is None:  # as YAML writes them, not Python's repr ("NoneType None", "bool True")
        return "null (no value)"
    if isinstance(instance, bool):
        return f"{'true' if instance else 'false'} (a boolean)"
    return f"{type(instance).__name__} {instance!r:.40}"


def _explain_secret(document: LocatedDocument, path: PathKey, error: ValidationError) -> Diagnostic:
    """A violation by a secret field: the field and the rule, never the value."""
    if error.validator in {"pattern", "type"}:
        return document.diagnostic(
            path, f"is not a vaulted value {_HIDDEN}",
            "secrets must be SM4-vaulted: `xzgov vault encrypt-string` gives "
            "$XZGOV-SM4VAULT;2;<key id>;<base64>; plaintext is not accepted", code="secret",
        )
    return document.diagnostic(path, f"fails the schema rule '{error.validator}' {_HIDDEN}",
                               "see the schema in xzgov/core/schemas/", code="secret")

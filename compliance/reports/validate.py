"""Validate written reports against their schemas (the vendored official ones for SARIF and OSCAL)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import validators
from jsonschema.exceptions import best_match

SCHEMAS = Path(__file__).parent / "schemas"
REPORT_SCHEMA = "report.schema.json"
SARIF_SCHEMA = "sarif-schema-2.1.0.json"
OSCAL_SCHEMA = "oscal_complete_schema.json"


def _translate(pattern: str) -> str:
    """OSCAL uses the Unicode classes ``\\p{L}`` and ``\\p{N}`` that Python's ``re`` lacks."""
    return pattern.replace("\\p{L}", "[^\\W\\d_]").replace("\\p{N}", "\\d")


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    if isinstance(instance, str) and not re.search(_translate(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


@cache
def validator(name: str) -> Any:
    document = schema(name)
    base = validators.validator_for(document)
    cls = validators.extend(base, {"pattern": _pattern})
    return cls(document, format_checker=base.FORMAT_CHECKER)


def errors(name: str, instance: Any, limit: int = 20) -> list[str]:
    """Up to ``limit`` validation errors of ``instance`` against schema ``name`` (empty when valid)."""
    found: list[str] = []
    for error in validator(name).iter_errors(instance):
        if error.context:  # a oneOf/anyOf at the top: name the field the likeliest branch failed on
            error = best_match(error.context)
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message[:300]}")
        if len(found) >= limit:
            break
    return found

"""Offline validation of rendered objects: Kubernetes schemas (kubernetes-validate, strict) and the
vendored CRD schemas — Velero (``stacks/schemas/velero``) and the CSI snapshot classes
(``stacks/schemas/csi``) — with jsonschema, unknown fields rejected."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import referencing
import yaml
from kubernetes_validate import utils as kv

SCHEMA_DIR = Path(__file__).parent / "schemas" / "velero"
#: other vendored CRD schemas: (apiVersion, kind) → file
CRD_SCHEMAS = {("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"):
               Path(__file__).parent / "schemas" / "csi" / "volumesnapshotclass.yaml"}
VELERO_SCHEMAS = {"Schedule": "schedule.yaml", "BackupStorageLocation": "backupstoragelocation.yaml",
                  "Restore": "restore.yaml"}
#: The Velero release the vendored schemas come from (see ``stacks/schemas/velero/README.md``).
VELERO_RELEASE = "v1.13.1"


@dataclass(frozen=True)
class Problem:
    """One object that does not validate."""

    kind: str
    namespace: str
    name: str
    message: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}: {self.message}"


def _closed(schema: Any) -> Any:
    """Reject unknown fields: ``additionalProperties: false`` wherever properties are listed."""
    if isinstance(schema, dict):
        result = {key: _closed(value) for key, value in schema.items()}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@cache
def velero_validator(kind: str) -> jsonschema.protocols.Validator:
    return crd_validator(SCHEMA_DIR / VELERO_SCHEMAS[kind])


@cache
def crd_validator(path: Path) -> jsonschema.protocols.Validator:
    with path.open(encoding="utf-8") as handle:
        schema = _closed(copy.deepcopy(yaml.safe_load(handle)))
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


@cache
def kubernetes_validator(kubernetes_version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """The strict schema of ``kind`` exactly as ``kubernetes_validate.validate(..., strict=True)`` loads it,
    built once (the library re-reads the JSON files on every call)."""
    wanted = kv.major_minor(kubernetes_version)
    version = [v for v in kv.all_versions() if kv.major_minor(v) <= wanted][-1]
    if kv.major_minor(version) != wanted:
        raise kv.VersionNotSupportedError(version=wanted)
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    directory = f"kubernetes-json-schema/v{version}-local-strict"
    try:
        schema = kv.schema_contents(f"{directory}/{kind.lower()}-{group}.json", kubernetes_version)
    except FileNotFoundError:
        raise kv.SchemaNotFoundError(version=wanted, kind=kind, api_version=api_version) from None
    definitions = kv.schema_contents(f"{directory}/_definitions.json", kubernetes_version)
    registry: referencing.Registry[Any] = referencing.Resource.from_contents(schema) @ referencing.Registry()
    registry = referencing.Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_object(obj: Mapping[str, Any], kubernetes_version: str) -> list[Problem]:
    """Problems of one object (empty when valid). ``kubernetes_version`` like ``1.30``."""
    metadata = obj.get("metadata", {})
    kind, namespace, name = str(obj.get("kind")), metadata.get("namespace", ""), metadata.get("name", "")
    crd = CRD_SCHEMAS.get((str(obj.get("apiVersion", "")), kind))
    if crd is not None:
        return [Problem(kind, namespace, name, f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: "
                        f"{error.message}")
                for error in crd_validator(crd).iter_errors(dict(obj))]
    if str(obj.get("apiVersion", "")).startswith("velero.io/"):
        if kind not in VELERO_SCHEMAS:
            return [Problem(kind, namespace, name, f"no vendored Velero schema for kind {kind}")]
        return [Problem(kind, namespace, name, f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: "
                        f"{error.message}")
                for error in velero_validator(kind).iter_errors(dict(obj))]
    try:
        validator = kubernetes_validator(kubernetes_version, str(obj.get("apiVersion", "")), kind)
    except kv.SchemaNotFoundError:  # the library's exception carries no text
        return [Problem(kind, namespace, name, f"Kubernetes {kubernetes_version} serves no {kind} in "
                        f"{obj.get('apiVersion', '')} (no schema for it)")]
    except kv.VersionNotSupportedError:
        return [Problem(kind, namespace, name, f"no schemas of Kubernetes {kubernetes_version} are installed")]
    return [Problem(kind, namespace, name, f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}")
            for error in validator.iter_errors(dict(obj))]


def validate_with_library(obj: Mapping[str, Any], kubernetes_version: str) -> None:
    """Validate through the library's own entry point (raises ``kubernetes_validate.ValidationError``)."""
    kubernetes_validate.validate(dict(obj), f"{kubernetes_version}.0", strict=True)


def validate_objects(objects: Iterable[Mapping[str, Any]], kubernetes_version: str) -> list[Problem]:
    """Problems of every object."""
    problems: list[Problem] = []
    for obj in objects:
        problems.extend(validate_object(obj, kubernetes_version))
    return problems

"""Offline validation of rendered objects: Kubernetes schemas (kubernetes-validate, strict) and the
vendored CRD schemas — Velero (``stacks/schemas/velero``) and the CSI snapshot classes
(``stacks/schemas/csi``) — with jsonschema, unknown fields rejected."""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
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


#: The formats the API server checks in a CRD's schema (apiextensions): ``byte`` is base64 (``objectStorage.caCert``:
#: PEM text there is refused on every location), ``date-time`` RFC 3339. Without a format checker jsonschema
#: ignores ``format`` and the offline plan passed what ``pulumi up`` would fail on.
CRD_FORMATS = jsonschema.FormatChecker(formats=())


def _base64(value: object) -> bool:
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


def _rfc3339(value: object) -> bool:
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


CRD_FORMATS.checks("byte", raises=(binascii.Error, ValueError))(_base64)
CRD_FORMATS.checks("date-time", raises=ValueError)(_rfc3339)


@cache
def crd_validator(path: Path) -> jsonschema.protocols.Validator:
    with path.open(encoding="utf-8") as handle:
        schema = _closed(copy.deepcopy(yaml.safe_load(handle)))
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator: jsonschema.protocols.Validator = validator_class(schema, format_checker=CRD_FORMATS)
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


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
#: kinds whose names are DNS labels (at most 63) rather than subdomains; a Service's must start with a letter
_LABEL_NAMED = {"Namespace": _DNS_LABEL, "Service": _DNS_1035_LABEL}
#: kinds whose names are path segments only (RBAC: any text without '/' or '%', not '.' or '..')
_PATH_NAMED = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})
_ANNOTATIONS_BYTES = 256 * 1024


def api_server_problems(obj: Mapping[str, Any]) -> list[str]:
    """What the API server refuses beyond the OpenAPI schema: the object's name and namespace, its label keys and
    values, the size of its annotations (``k8s.io/apimachinery`` validation)."""
    metadata = obj.get("metadata") or {}
    kind, name, namespace = str(obj.get("kind")), str(metadata.get("name", "")), metadata.get("namespace")
    problems: list[str] = []
    if kind in _PATH_NAMED:
        if not name or name in (".", "..") or "/" in name or "%" in name:
            problems.append(f"metadata.name {name!r}: may not be empty, '.' or '..', nor contain '/' or '%'")
    elif kind in _LABEL_NAMED:
        if len(name) > 63 or not _LABEL_NAMED[kind].fullmatch(name):
            problems.append(f"metadata.name {name!r}: a {kind} name is a DNS label: at most 63 lower-case letters, "
                            f"digits and '-', {'starting with a letter' if kind == 'Service' else 'starting'} and "
                            "ending with a letter or digit")
    elif len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        problems.append(f"metadata.name {name!r}: a DNS subdomain: at most 253 lower-case letters, digits, '-' and '.'")
    if namespace is not None and (len(str(namespace)) > 63 or not _DNS_LABEL.fullmatch(str(namespace))):
        problems.append(f"metadata.namespace {namespace!r}: a DNS label (at most 63)")
    labels = metadata.get("labels") or {}
    for key, value in labels.items() if isinstance(labels, Mapping) else ():
        prefix, _, label = str(key).rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix))) or len(label) > 63 \
                or not _LABEL_NAME.fullmatch(label):
            problems.append(f"metadata.labels key {key!r}: [prefix/]name, the name at most 63 letters, digits, "
                            "'-', '_' and '.', starting and ending with a letter or digit")
        text = str(value)
        if len(text) > 63 or (text and not _LABEL_NAME.fullmatch(text)):
            problems.append(f"metadata.labels {key}: value {text!r}: at most 63 letters, digits, '-', '_' and '.', "
                            "starting and ending with a letter or digit (or empty)")
    annotations = metadata.get("annotations") or {}
    if isinstance(annotations, Mapping) and sum(len(str(k).encode()) + len(str(v).encode())
                                                for k, v in annotations.items()) > _ANNOTATIONS_BYTES:
        problems.append("metadata.annotations: more than 256 KiB in all")
    return problems


#: Velero copies a Schedule's name into the ``velero.io/schedule-name`` label of every Backup it creates
_VELERO_LABEL_MAX = 63


def velero_name_problems(obj: Mapping[str, Any]) -> list[str]:
    """What Velero refuses later although the API server admits the object: a Schedule whose name is longer than a
    label value (every Backup it creates is refused, so it never backs up), a Restore naming such a schedule."""
    if not str(obj.get("apiVersion", "")).startswith("velero.io/"):
        return []
    kind, name = str(obj.get("kind")), str((obj.get("metadata") or {}).get("name", ""))
    if kind == "Schedule" and len(name) > _VELERO_LABEL_MAX:
        return [f"metadata.name {name!r}: {len(name)} characters; Velero labels each Backup with the schedule's "
                f"name (velero.io/schedule-name, at most {_VELERO_LABEL_MAX}), so the API server refuses every "
                "Backup of this Schedule; name it with at most 63 characters (stacks.render.labels.dns_name)"]
    spec = obj.get("spec") or {}
    schedule = str(spec.get("scheduleName") or "") if isinstance(spec, Mapping) else ""
    if kind == "Restore" and len(schedule) > _VELERO_LABEL_MAX:
        return [f"spec.scheduleName {schedule!r}: {len(schedule)} characters; no Schedule with more than "
                f"{_VELERO_LABEL_MAX} can take a backup, so the Restore finds none; name the schedule with at most 63"]
    return []


def validate_objects(objects: Iterable[Mapping[str, Any]], kubernetes_version: str) -> list[Problem]:
    """Problems of every object: its schema, what the API server checks of its metadata, and an object whose
    kind, namespace and name another object already has (the second would replace the first)."""
    problems: list[Problem] = []
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        problems.extend(validate_object(obj, kubernetes_version))
        metadata = obj.get("metadata") or {}
        kind, namespace, name = str(obj.get("kind")), str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        problems.extend(Problem(kind, namespace, name, message)
                        for message in [*api_server_problems(obj), *velero_name_problems(obj)])
        key = (str(obj.get("apiVersion", "")).split("/")[0], kind, namespace, name)
        if key in seen:
            problems.append(Problem(kind, namespace, name, "another object has the same kind, namespace and name: "
                                    "one would replace the other"))
        seen.add(key)
    return problems

"""Find, read and validate the catalogue files; build the :class:`~compliance.catalogue.model.Catalogue`.

Validation runs in three steps, each reporting located diagnostics: YAML with positions (syntax errors
and duplicate keys), JSON Schema ``schema/catalogue.schema.json``, then the checks of
:mod:`compliance.catalogue.build`.

The default catalogues are the package ``standards`` found with :mod:`importlib.resources`, so they
load the same from a checkout and from an installed wheel; ``$XZGOV_STANDARDS_DIR`` or an explicit
directory (``--standards-dir``) overrides it.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from compliance.catalogue.build import Builder
from compliance.catalogue.model import Catalogue, CatalogueError
from compliance.catalogue.names import FAMILIES
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.core.fsutil import display_path
from xzgov.core.reads import cached_reads, read_bytes
from xzgov.core.schema import validate_document
from xzgov.core.yamlio import LocatedDocument as LocatedYaml
from xzgov.core.yamlio import load_file

#: The installed package holding the catalogue YAML, their schemas and ``scoring.yaml``.
STANDARDS_PACKAGE = "standards"
#: Environment variable overriding the catalogue directory (tests, a site's own copy).
STANDARDS_DIR_ENV = "XZGOV_STANDARDS_DIR"


def load_located_yaml(path: Path) -> tuple[LocatedYaml | None, list[Diagnostic]]:
    """Read ``path`` as one YAML document with positions (the project's one YAML loader), keeping its composed
    nodes: the catalogue's builder locates every item (``SourceRef``), which would compose the text again."""
    return load_file(path, display_path(path), keep_nodes=True)


def schema_diagnostics(doc: LocatedYaml, schema: Mapping[str, Any]) -> list[Diagnostic]:
    """Validate ``doc`` against a JSON Schema; every error is located, with a fix hint."""
    return validate_document(doc, schema)


def default_standards_dir() -> Path:
    """``$XZGOV_STANDARDS_DIR`` if set, else the directory of the installed ``standards`` package."""
    override = os.environ.get(STANDARDS_DIR_ENV)
    if override:
        directory = Path(override)
        if not directory.is_dir():
            problem = "is not a directory" if directory.exists() else "does not exist"
            raise UsageError(f"${STANDARDS_DIR_ENV}={override}: {problem}", [Diagnostic(
                f"${STANDARDS_DIR_ENV}", 0, 0, STANDARDS_DIR_ENV, f"{override} {problem}",
                "point it at a standards/ directory (scoring.yaml, schema/, <standard>/*.yaml), or unset it to "
                "use the installed catalogue", code="unreadable")])
        return directory
    return packaged_standards_dir()


@lru_cache(maxsize=1)
def packaged_standards_dir() -> Path:
    """The ``standards`` package's directory, located with :func:`importlib.resources.files`.

    The loader globs and reports file paths, so it needs a real directory: a regular install or a
    checkout gives one. A namespace package (a checkout without ``standards/__init__.py``) gives a
    multiplexed path whose files are real, so it is anchored on ``scoring.yaml``. A zipped install has
    no directory: that is an installation defect, reported as such.
    """
    hint = f"reinstall xzgov, or set ${STANDARDS_DIR_ENV} (`xzgov standards --standards-dir`) to a standards/ directory"
    try:
        root = importlib.resources.files(STANDARDS_PACKAGE)
    except ModuleNotFoundError:
        raise XzgovError(
            f"找不到标准目录：未安装 {STANDARDS_PACKAGE} 包 / standards catalogues not installed; {hint}",
            exit_code=ExitCode.INTERNAL,
        ) from None
    if isinstance(root, Path):
        return root
    anchor = root.joinpath("scoring.yaml")
    if isinstance(anchor, Path) and anchor.is_file():
        return anchor.parent
    raise XzgovError(
        f"标准目录不在文件系统上 / the {STANDARDS_PACKAGE} package is not a directory ({root}); {hint}",
        exit_code=ExitCode.INTERNAL,
    )


@cached_reads
def _schema(path: Path) -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(read_bytes(path))
    return data


def catalogue_files(directory: Path) -> list[Path]:
    """Catalogue files: ``<directory>/<standard>/*.yaml`` (``schema/`` and ``scoring.yaml`` excluded)."""
    return sorted(p for p in directory.glob("*/*.yaml") if p.parent.name != "schema")


def schema_path(directory: Path, name: str) -> Path:
    """``<directory>/schema/<name>``; a directory without its own schemas uses the packaged ones."""
    own = directory / "schema" / name
    return own if own.is_file() else packaged_standards_dir() / "schema" / name


def load_catalogue(directory: Path | None = None, files: Sequence[Path] | None = None) -> Catalogue:
    """Load and validate every catalogue file; raise :class:`CatalogueError` listing all problems."""
    directory = directory if directory is not None else default_standards_dir()
    paths = list(files) if files is not None else catalogue_files(directory)
    if not paths:
        raise CatalogueError(
            f"no catalogue files under {display_path(directory)}",
            [
                Diagnostic(
                    display_path(directory),
                    0,
                    0,
                    "",
                    "no <standard>/*.yaml catalogue files found",
                    f"point ${STANDARDS_DIR_ENV} (or `xzgov standards --standards-dir`) at the standards/ "
                    "directory",
                    "unreadable",
                )
            ],
        )
    schema = _schema(schema_path(directory, "catalogue.schema.json"))
    builder = Builder()
    skipped = False
    for path in paths:
        doc, problems = load_located_yaml(path)
        builder.problems.extend(problems)
        if doc is None or problems:
            skipped = True
            continue
        found = schema_diagnostics(doc, schema)
        if found:
            builder.problems.extend(found)
            skipped = True
            continue
        builder.add(doc)
    # references into a file that did not load, or that is missing, would all look dangling
    if not skipped and builder.check_complete(display_path(directory)):
        builder.cross_check()
    if builder.problems:
        problems = sorted(set(builder.problems))
        raise CatalogueError(f"the standards catalogue is invalid: {len(problems)} problem(s)", problems)
    categories = sorted(builder.categories, key=lambda c: (c.level, FAMILIES.index(c.family)))
    return Catalogue(tuple(builder.documents), tuple(categories), tuple(builder.aspects))


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The catalogue in :func:`default_standards_dir`, loaded once per process."""
    return load_catalogue()

"""YAML loading that keeps where every value came from.

PyYAML silently keeps the last of two duplicate keys and forgets positions once it has built
Python objects. Here a document is composed into nodes with the C parser when available, then
built into plain data while recording the line and column of every field path, and duplicate keys
are reported as errors. Only the YAML core types are produced (no Python object tags).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from xzgov.core.errors import Diagnostic

# The libyaml parser is ~10x faster; the pure-Python one gives the same nodes.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathKey = tuple[str | int, ...]


def format_path(path: PathKey) -> str:
    """Render ``("spec", "hosts", 0, "address")`` as ``spec.hosts[0].address``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class LocatedDocument:
    """One YAML document: its data plus the (line, column) of every field path (1-based).

    Positions are computed on first use (a second, position-keeping parse of the source text), so
    valid documents, the common case, cost no more than a plain parse.
    """

    def __init__(
        self, file: str, data: Any, *, text: str | None = None, index: int = 0,
        positions: dict[PathKey, tuple[int, int]] | None = None,
        key_positions: dict[PathKey, tuple[int, int]] | None = None,
    ) -> None:
        self.file = file
        self.data = data
        self._text = text
        self._index = index
        self._positions = positions
        self._key_positions = key_positions
        self._root: yaml.Node | None = None

    @property
    def positions(self) -> dict[PathKey, tuple[int, int]]:
        """Every value position (built on first use by a full located parse)."""
        self._locate_all()
        assert self._positions is not None
        return self._positions

    @property
    def key_positions(self) -> dict[PathKey, tuple[int, int]]:
        self._locate_all()
        assert self._key_positions is not None
        return self._key_positions

    def _locate_all(self) -> None:
        if self._positions is None:
            located, _ = _load_located(self._text or "", self.file)
            source = located[self._index] if self._index < len(located) else LocatedDocument(self.file, None)
            self._positions = source._positions or {}
            self._key_positions = source._key_positions or {}

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path`` (of its key with ``key``), or of its nearest existing ancestor."""
        if self._positions is None:  # not located yet: walk the composed node tree, no construction
            return self._walk(path, key=key)
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.key_positions:
                return self.key_positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def _walk(self, path: PathKey, *, key: bool) -> tuple[int, int]:
        if self._root is None:
            try:
                roots = list(yaml.compose_all(self._text or "", Loader=_Composer))
            except yaml.YAMLError:  # the text changed since it was validated: point at the file
                roots = []
            self._root = roots[self._index] if self._index < len(roots) else None
        node, mark = self._root, (1, 1)
        if node is not None:
            mark = _mark(node)
        for part in path:
            found = _child(node, part) if node is not None else None
            if found is None:
                break
            key_node, node = found
            mark = _mark(key_node) if key and key_node is not None and part == path[-1] else _mark(node)
        return mark

    def diagnostic(
        self, path: PathKey, message: str, hint: str = "", *, code: str = "invalid", key: bool = False
    ) -> Diagnostic:
        line, column = self.position(path, key=key)
        return Diagnostic(self.file, line, column, format_path(path), message, hint, code)


class _Composer(_Loader):  # type: ignore[misc]
    """libyaml's composer without implicit tag resolution: node positions only, no values built."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return "tag:yaml.org,2002:str"


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    """The (key node, value node) of ``part`` below ``node``; merged mappings (<<) are searched too."""
    if isinstance(node, yaml.SequenceNode):
        return (None, node.value[part]) if isinstance(part, int) and 0 <= part < len(node.value) else None
    if not isinstance(node, yaml.MappingNode):
        return None
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<":
            merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        elif isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
            return key_node, value_node
    for source in merged:
        found = _child(source, part)
        if found is not None:
            return found
    return None


class _Builder:
    """Builds plain data from composed nodes, recording positions and duplicate keys."""

    def __init__(self, document: LocatedDocument, constructor: yaml.constructor.SafeConstructor) -> None:
        self.doc = document
        self.constructor = constructor
        self.errors: list[Diagnostic] = []
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.key_positions: dict[PathKey, tuple[int, int]] = {}
        document._positions, document._key_positions = self.positions, self.key_positions

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        mark = node.start_mark
        self.positions[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, index)) for index, child in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode):
            return self.constructor.construct_object(node, deep=True)
        raise yaml.constructor.ConstructorError(None, None, f"unsupported node {node.tag}", mark)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        self.constructor.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.errors.append(
                    self._at(key_node, path, "a mapping key must be a plain scalar", "quote the key")
                )
                continue
            key_text = key_text_of(self.constructor.construct_object(key_node))
            child = (*path, key_text)
            if key_text in result:
                first_line, _ = self.key_positions[child]
                self.errors.append(
                    self._at(
                        key_node,
                        child,
                        f"duplicate key '{key_text}' (first defined on line {first_line}); "
                        "YAML would silently keep only the last value",
                        "remove or merge one of the two entries",
                        code="duplicate-key",
                    )
                )
                continue
            self.key_positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key_text] = self.build(value_node, child)
        return result

    def _at(
        self, node: yaml.Node, path: PathKey, message: str, hint: str, code: str = "yaml-syntax"
    ) -> Diagnostic:
        mark = node.start_mark
        return Diagnostic(
            self.doc.file, mark.line + 1, mark.column + 1, format_path(path), message, hint, code
        )


def key_text_of(key: Any) -> str:
    """Mapping keys as JSON sees them: ``1`` → ``"1"``, ``true`` → ``"true"``, ``null`` → ``"null"``."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return "true" if key is True else "false" if key is False else "null"
    return str(key)


_MERGE = "tag:yaml.org,2002:merge"


class _DuplicateKey(Exception):
    pass


class _FastLoader(_Loader):  # type: ignore[misc]
    """The plain C-accelerated safe loader, refusing duplicate keys instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        explicit = sum(1 for key, _ in node.value if not (isinstance(key, yaml.ScalarNode) and key.tag == _MERGE))
        self.flatten_mapping(node)  # merged pairs first, then the mapping's own: those override them
        pairs = node.value
        mapping: dict[str, Any] = {}
        for key, value in pairs[: len(pairs) - explicit]:
            mapping[key_text_of(self.construct_object(key, deep=deep))] = self.construct_object(value, deep=deep)
        seen: set[str] = set()
        for key, value in pairs[len(pairs) - explicit :]:
            if not isinstance(key, yaml.ScalarNode):
                raise _DuplicateKey("a non-scalar key")  # the located parse reports it
            text = key_text_of(self.construct_object(key, deep=deep))
            if text in seen:
                raise _DuplicateKey(text)
            seen.add(text)
            mapping[text] = self.construct_object(value, deep=deep)
        return mapping


def load_documents(text: str, file: str) -> tuple[list[LocatedDocument], list[Diagnostic]]:
    """Parse every document of ``text``; return them (positions computed on demand) and located errors.

    The fast path is a plain parse; any problem (syntax, duplicate key, a non-scalar key) falls back to
    the position-keeping parse, which reports every such problem with its line and column.
    """
    try:
        data = list(yaml.load_all(text, Loader=_FastLoader))  # a SafeLoader subclass
    except (yaml.YAMLError, _DuplicateKey, TypeError):
        return _load_located(text, file)
    documents = [LocatedDocument(file, item, text=text, index=index) for index, item in enumerate(data)]
    return documents, []


def _load_located(text: str, file: str) -> tuple[list[LocatedDocument], list[Diagnostic]]:
    """Parse every document of ``text`` keeping positions; return them and any located errors."""
    documents: list[LocatedDocument] = []
    errors: list[Diagnostic] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node guarantees a node
                break
            document = LocatedDocument(file, None)
            builder = _Builder(document, loader)
            document.data = builder.build(node, ())
            errors.extend(builder.errors)
            documents.append(document)
    except yaml.MarkedYAMLError as error:
        errors.append(_yaml_error(error, file))
    except yaml.reader.ReaderError as error:  # a character YAML does not allow (control characters, ...)
        before = text[: error.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        errors.append(Diagnostic(file, line, column, "", f"character {error.character!r} is not allowed in YAML",
                                 "remove the control character or quote the value", "yaml-syntax"))
    except yaml.YAMLError as error:  # pragma: no cover - other PyYAML errors carry marks
        errors.append(Diagnostic(file, 1, 1, "", f"YAML error: {error}", "", "yaml-syntax"))
    finally:
        loader.dispose()
    return documents, errors


def _yaml_error(error: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = error.problem or "invalid YAML"
    context = f" ({error.context})" if error.context else ""
    hint = "check indentation and quoting near this position; tabs are not allowed for indentation"
    if "could not determine a constructor" in problem:
        hint = "remove the YAML tag; manifests use plain YAML types only"
    return Diagnostic(file, line, column, "", f"YAML syntax error: {problem}{context}", hint, "yaml-syntax")


def read_text(path: Path, display: str | None = None) -> tuple[str | None, Diagnostic | None]:
    """Read a UTF-8 file, turning I/O and decoding problems into a diagnostic."""
    name = display or str(path)
    try:
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError as error:
        return None, Diagnostic(
            name, 0, 0, "", f"not UTF-8 text (byte {error.start})", "save the file as UTF-8", "encoding"
        )
    except OSError as error:
        return None, Diagnostic(name, 0, 0, "", f"cannot read: {error.strerror}", "check the path", "io")


def load_file(path: Path, display: str | None = None) -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """Read ``path`` as exactly one YAML document (positions kept); every problem is a diagnostic."""
    name = display or str(path)
    text, problem = read_text(path, name)
    if problem is not None or text is None:
        return None, [problem or Diagnostic(name, 0, 0, "", "cannot read", "check the path", "io")]
    documents, errors = load_documents(text, name)
    if errors:
        return None, errors
    if not documents or documents[0].data is None:
        return None, [Diagnostic(name, 1, 1, "", "the file is empty", "write one YAML mapping", "empty")]
    if len(documents) > 1:
        return None, [Diagnostic(name, 1, 1, "", f"expected exactly one YAML document, found {len(documents)}",
                                 "put one document per file", "document-count")]
    return documents[0], []


def iter_yaml_files(root: Path) -> Iterator[Path]:
    """Every ``*.yaml``/``*.yml`` below ``root`` in a stable order (hidden folders skipped)."""
    for path in sorted(root.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        if path.suffix in {".yaml", ".yml"} and not hidden and path.is_file():
            yield path

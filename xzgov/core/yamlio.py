"""YAML loading that keeps where every value came from.

PyYAML silently keeps the last of two duplicate keys and forgets positions once it has built
Python objects. Here a document is composed into nodes with the C parser when available, then
built into plain data while recording the line and column of every field path. Before anything is
built, every document is inspected: duplicate keys, tags other than JSON's types, over-long numbers,
deep nesting and alias expansion beyond fixed bounds are located errors (see :class:`_Inspector`).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from xzgov.core import reads
from xzgov.core.errors import Diagnostic, UsageError, cap_per_file
from xzgov.core.fsutil import listed_tree

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
        lines: LineIndex | None = None,
    ) -> None:
        self.file = file
        self.data = data
        #: the compact line index kept from the one parse (:class:`LineIndex`), when one was asked for
        self.lines = lines
        self._text = text
        self._index = index
        self._positions = positions
        self._key_positions = key_positions
        self._root: yaml.Node | None = None
        #: id(mapping node) -> {key: (key node, value node)} as :func:`_child` finds them (located lookups)
        self._children: dict[int, dict[str, tuple[yaml.Node | None, yaml.Node]]] = {}

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
            source = next((doc for doc in located if doc._index == self._index), LocatedDocument(self.file, None))
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
        children = self._children
        for part in path:
            if type(node) is yaml.MappingNode:  # a dict per mapping, built once: no scan per lookup
                table = children.get(id(node))
                if table is None:
                    table = children[id(node)] = _child_table(node)
                found = table.get(str(part))
            else:
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

    def calendar_day(self, path: PathKey, text: Any, sink: list[Diagnostic]) -> dt.date | None:
        """``text`` (the value at ``path``) as a date; a day the calendar lacks (2027-02-30: a schema checks
        only the form) is a problem located at ``path`` in ``sink``, and None, not a ValueError."""
        try:
            return dt.date.fromisoformat(str(text))
        except ValueError:
            sink.append(self.diagnostic(path, "not a valid date", "write a real calendar date as YYYY-MM-DD",
                                        code="format"))
            return None


class LineTrie:
    """The field paths whose lines a :class:`LineIndex` keeps: nested mapping keys, ``"*"`` for every
    item of a sequence. Built once from a nested dict (``{"spec": {"hosts": {"*": {}}}}``)."""

    __slots__ = ("children", "item", "keys", "slots")

    def __init__(self, spec: dict[str, Any]) -> None:
        self.keys: tuple[str, ...] = tuple(key for key in spec if key != "*")
        self.slots: dict[str, int] = {key: number for number, key in enumerate(self.keys, 1)}
        self.children: tuple[LineTrie, ...] = tuple(LineTrie(spec[key]) for key in self.keys)
        self.item: LineTrie | None = LineTrie(spec["*"]) if "*" in spec else None


#: One node's record: its line, or (line, record per trie key or None) for a mapping, or [line, record
#: per item] for a sequence; only the nodes the trie names are kept.
_Record = Any


class LineIndex:
    """Lines (1-based) of the value nodes at the paths of a :class:`LineTrie`, kept from the one parse.

    Compact (small tuples of ints, no paths or keys per document) and exactly what
    :meth:`LocatedDocument.position` walks to: :meth:`line` gives the line of a path, or of its nearest
    existing ancestor, and ``None`` for a path the trie does not cover (the caller locates it otherwise).
    """

    __slots__ = ("_root", "_trie")

    def __init__(self, root: yaml.Node, trie: LineTrie) -> None:
        self._trie = trie
        self._root: _Record = _record(root, trie)

    def line(self, path: PathKey) -> int | None:
        record, trie = self._root, self._trie
        for part in path:
            if type(part) is int:
                item = trie.item
                if item is None:
                    return None
                if type(record) is list and 0 <= part < len(record) - 1:
                    record, trie = record[part + 1], item
                    continue
                if type(record) is tuple:
                    return None  # a number looked up in a mapping: not what the index keeps
                break
            slot = trie.slots.get(str(part))
            if slot is None:
                return None
            if type(record) is not tuple:
                break  # not a mapping: the path ends here, as in the node walk
            child = record[slot]
            if child is None:
                break
            record, trie = child, trie.children[slot - 1]
        return record if type(record) is int else int(record[0])


def _record(node: yaml.Node, trie: LineTrie) -> _Record:
    line = node.start_mark.line + 1
    kind = type(node)
    if kind is yaml.MappingNode and trie.keys:
        found: list[_Record] = [None] * (len(trie.keys) + 1)
        found[0] = line
        slots = trie.slots
        for key_node, value_node in node.value:  # unique plain keys (the fast build checked them)
            slot = slots.get(key_node.value)
            if slot is not None and found[slot] is None:
                found[slot] = _record(value_node, trie.children[slot - 1])
        return tuple(found)
    if kind is yaml.SequenceNode and trie.item is not None:
        item = trie.item
        return [line, *(_record(child, item) for child in node.value)]
    return line


class _Composer(_Loader):  # type: ignore[misc]
    """libyaml's composer without implicit tag resolution: node positions only, no values built."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return "tag:yaml.org,2002:str"


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child_table(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node | None, yaml.Node]]:
    """Every key :func:`_child` can find below ``node``, with what it finds: the mapping's own keys
    first (the first of a repeated key), then those of its merged mappings (<<) in order."""
    table: dict[str, tuple[yaml.Node | None, yaml.Node]] = {}
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<":
            merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        elif isinstance(key_node, yaml.ScalarNode):
            table.setdefault(_key_text(key_node), (key_node, value_node))
    for source in merged:
        if isinstance(source, yaml.MappingNode):
            for key, found in _child_table(source).items():
                table.setdefault(key, found)
    return table


#: Plain key spellings that :func:`key_text_of` reads as another text: ``~: 1`` is the key "null".
_PLAIN_KEY_TEXT = {"~": "null", "": "null", "Null": "null", "NULL": "null", "True": "true", "TRUE": "true",
                   "False": "false", "FALSE": "false"}


def _key_text(node: yaml.ScalarNode) -> str:
    """The key a scalar key node becomes (:func:`key_text_of`), from its text: what a path names it by."""
    text: str = node.value
    return _PLAIN_KEY_TEXT.get(text, text) if not node.style else text  # libyaml: style "" when plain


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
        elif isinstance(key_node, yaml.ScalarNode) and _key_text(key_node) == str(part):
            return key_node, value_node
    for source in merged:
        found = _child(source, part)
        if found is not None:
            return found
    return None


class _PositionedBuilder:
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


_CORE = "tag:yaml.org,2002:"
_MERGE = _CORE + "merge"
#: The only tags a value may carry, explicit or resolved: JSON's types. Any other tag
#: (``!!python/object/apply:…``, ``!!set``, ``!!binary``, a local ``!tag``) on a scalar, list or
#: mapping is refused: consumers would silently drop it or build something else than was meant.
#: (Vaulted values are plain strings in an envelope, ``xzgov.crypto.vault``: there is no vault tag.)
_SCALAR_TAGS = frozenset(_CORE + name for name in ("str", "int", "float", "bool", "null"))
_COLLECTION_TAGS: dict[type[yaml.Node], str] = {yaml.SequenceNode: _CORE + "seq", yaml.MappingNode: _CORE + "map"}
#: Bounds per document. Aliases share nodes: a 4 KB "billion laughs" file composes cheaply but
#: expands to ~10^9 nodes in every consumer that walks the data (the located builder, jsonschema).
#: The largest real file (a level-4 catalogue) has ~8,000 nodes and no alias.
MAX_NODES = 250_000
MAX_ALIASES = 1_000
MAX_DEPTH = 64
#: Composing is linear but not free (~1 s per 100,000 nodes): a file over 1 MB (the largest real one is
#: 120 KB) is refused before it is parsed.
MAX_FILE_CHARS = 1_000_000
#: int() refuses more than 4,300 digits (and a few hundred are already slow); no field needs 40.
_MAX_NUMBER_CHARS = 40


class _StrictLoader(_Loader):  # type: ignore[misc]
    """The safe loader without implicit timestamps and ``=`` values: JSON has no date type (the
    schemas check ``format: date`` on strings), so an unquoted ``2026-02-30`` becomes a located schema
    error instead of a ValueError while building a date."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, Any]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_CORE + "timestamp", _CORE + "value")]
        for first, resolvers in _Loader.yaml_implicit_resolvers.items()
    }


class _DuplicateKey(Exception):
    pass


class _FastLoader(_StrictLoader):
    """The C-accelerated safe loader building plain data; keys become strings as JSON sees them."""

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
                raise _DuplicateKey("a non-scalar key")  # the inspection reports it first
            text = key_text_of(self.construct_object(key, deep=deep))
            if text in seen:
                raise _DuplicateKey(text)
            seen.add(text)
            mapping[text] = self.construct_object(value, deep=deep)
        return mapping


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _Inspector:
    """Checks a composed node graph before anything is built from it: tags, numbers, keys (not a
    scalar, duplicated, more than one ``<<``), depth, recursive aliases, alias count and expanded
    size. Iterative (no recursion limit to hit) and linear: an aliased node is inspected once.
    Messages never quote a value (it may be a secret), only the field."""

    def __init__(self, file: str, loader: Any, yaml11_scalars: bool = False) -> None:
        self.file = file
        self.loader = loader
        #: accept YAML 1.1's forms (a file whose values the caller reads as text, as Pulumi does a stack file)
        self.yaml11_scalars = yaml11_scalars
        self.errors: list[Diagnostic] = []
        self._merge_twice = False

    def buildable(self) -> bool:
        """Whether the only problems are duplicate or non-scalar keys, which the located builder
        skips (so the data is still there for callers that want it)."""
        return all(error.code == "duplicate-key" or error.message.startswith("a mapping key")
                   for error in self.errors) and not self._merge_twice

    def _error(self, node: yaml.Node, path: PathKey, message: str, hint: str, code: str = "yaml-syntax") -> None:
        line, column = _mark(node)
        self.errors.append(Diagnostic(self.file, line, column, format_path(path), message, hint, code))

    def run(self, root: yaml.Node) -> list[Diagnostic]:
        sizes: dict[int, int] = {}  # id(node) -> nodes it expands to (itself included)
        started: dict[int, int] = {}  # id(node) -> the running total when its inspection began
        open_nodes: set[int] = set()  # on the current path: reaching one again is a recursive alias
        aliases = total = 0  # total: nodes the document expands to so far, aliases followed
        stack: list[tuple[yaml.Node, PathKey, bool]] = [(root, (), False)]
        while stack:
            node, path, finished = stack.pop()
            ident = id(node)
            if finished:
                open_nodes.discard(ident)
                sizes[ident] = total - started.pop(ident)
                continue
            if ident in open_nodes:
                self._error(node, path, "a YAML alias refers to a value that contains it (a recursive "
                            "structure)", "replace the alias (*name) by the values it should hold", "yaml-limit")
                return self.errors
            if ident in sizes:
                aliases += 1
                total += sizes[ident]
                if aliases > MAX_ALIASES:
                    self._error(node, path, f"more than {MAX_ALIASES:,} YAML aliases (*name) in one document",
                                "write the values out instead of repeating them by alias", "yaml-limit")
                    return self.errors
            else:
                started[ident] = total
                total += 1 + (len(node.value) if isinstance(node, yaml.MappingNode) else 0)  # keys count
            if total > MAX_NODES:  # checked as we go: the first value past the bound is named
                self._error(node, path, f"the document expands to more than {MAX_NODES:,} YAML values "
                            "(through aliases or sheer size)", "write the values out, without aliases (*name) "
                            "that repeat large structures; split very large files", "yaml-limit")
                return self.errors
            if ident in sizes:
                continue
            if len(path) > MAX_DEPTH:
                self._error(node, path, f"values are nested more than {MAX_DEPTH} levels deep",
                            "flatten the structure; no xzgov file needs this depth", "yaml-limit")
                return self.errors
            below = self._check(node, path)
            open_nodes.add(ident)
            stack.append((node, path, True))
            stack.extend((child, child_path, False) for child, child_path in reversed(below))
        return self.errors

    def _check(self, node: yaml.Node, path: PathKey) -> list[tuple[yaml.Node, PathKey]]:
        """Problems of ``node`` itself; returns the children to inspect with their paths."""
        if isinstance(node, yaml.ScalarNode):
            self._scalar(node, path)
            return []
        if node.tag != _COLLECTION_TAGS.get(type(node)):
            self._tag(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [(child, (*path, index)) for index, child in enumerate(node.value)]
        return self._mapping(node, path) if isinstance(node, yaml.MappingNode) else []

    def _tag(self, node: yaml.Node, path: PathKey) -> None:
        self._error(node, path, f"YAML tag '{_short_tag(node.tag)}' is not allowed",
                    "remove the tag: only plain YAML values are accepted (strings, numbers, true/false, "
                    "null, lists, mappings)", "yaml-tag")

    def _scalar(self, node: yaml.ScalarNode, path: PathKey) -> bool:
        if node.tag not in _SCALAR_TAGS:
            self._tag(node, path)
            return False
        if node.tag in (_CORE + "int", _CORE + "float") and len(node.value) > _MAX_NUMBER_CHARS:
            self._error(node, path, f"a number of {len(node.value):,} characters is too long",
                        f"numbers have at most {_MAX_NUMBER_CHARS} characters; quote the value if it is text",
                        "yaml-limit")
            return False
        if node.tag == _FLOAT and _is_nan(node.value):
            self._error(node, path, f"'{node.value}' (not a number) is not a value any field accepts",
                        "write the number itself, or quote the text if a string was meant", "range")
            return False
        if not self.yaml11_scalars and _yaml11_only(node):  # never quoting the value (it may be a secret)
            if node.tag == _BOOL:
                self._error(node, path, "yes/no/on/off are read as booleans by YAML 1.1, not as written",
                            "write true or false; quote the value if it is text", "yaml-syntax")
            else:
                self._error(node, path, "a number with a leading zero, 0x, 0b, '_' or ':' is read by YAML 1.1 as "
                            "another value (0443 is octal 291, 1:00 is 60)", "write the number in decimal without "
                            "a leading zero (e.g. 443); quote the value if it is text", "yaml-syntax")
            return False
        return True

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> list[tuple[yaml.Node, PathKey]]:
        below: list[tuple[yaml.Node, PathKey]] = []
        seen: dict[str, int] = {}
        merge_line = 0
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._error(key_node, path, "a mapping key must be a plain scalar", "quote the key")
                continue
            if key_node.tag == _MERGE:
                if merge_line:
                    self._merge_twice = True
                    self._error(key_node, (*path, "<<"), f"a second '<<' merge key (the first is on line "
                                f"{merge_line}); YAML would silently keep only the last",
                                "merge several mappings with one key: <<: [*first, *second]", "duplicate-key")
                    continue
                merge_line = key_node.start_mark.line + 1
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                if not all(isinstance(source, yaml.MappingNode) for source in sources):
                    self._error(value_node, (*path, "<<"), "'<<' merges mappings only",
                                "give '<<' an alias of a mapping or a list of such aliases")
                    continue
                below.append((value_node, (*path, "<<")))
                continue
            if not self._scalar(key_node, path):
                continue
            text = key_text_of(self.loader.construct_object(key_node))
            child = (*path, text)
            if text in seen:
                self._error(key_node, child, f"duplicate key '{text}' (first defined on line {seen[text]}); "
                            "YAML would silently keep only the last value", "remove or merge one of the two "
                            "entries", "duplicate-key")
                continue
            seen[text] = key_node.start_mark.line + 1
            below.append((value_node, child))
        return below


class _Bail(Exception):
    """The fast build met something only the full inspection may judge (an alias, a merge key, a
    non-string key, a foreign tag, a bound reached, a duplicate key): start again on the slow path."""


_STR = _CORE + "str"
_SEQ = _CORE + "seq"
_MAP = _CORE + "map"
_NUMBERS = frozenset((_CORE + "int", _CORE + "float"))
_FLOAT = _CORE + "float"


def _is_nan(text: str) -> bool:
    """Whether a float scalar's text is YAML's not-a-number: no range check refuses it (every comparison with
    NaN is false), so ``score: .nan`` passed validation and reached the rules."""
    return text.lstrip("+-").lower() == ".nan"


_BOOL = _CORE + "bool"
_INT = _CORE + "int"
#: The plain forms of YAML 1.2's core schema (and JSON's): what a reader of the file takes the value to be.
#: PyYAML resolves YAML 1.1 besides: ``0443`` is octal 291, ``1_0`` is 10, ``1:00`` is 60 (base 60), ``0x1F``
#: hex, ``yes``/``no``/``on``/``off`` booleans — a port, an RPO or a flag other than the one written.
_CORE_FORMS: Mapping[str, re.Pattern[str]] = {
    _INT: re.compile(r"[-+]?(?:0|[1-9][0-9]*)"),
    _FLOAT: re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                       r"|\.(?:nan|NaN|NAN)"),
    _BOOL: re.compile(r"true|True|TRUE|false|False|FALSE"),
}


def _yaml11_only(node: yaml.ScalarNode) -> bool:
    """Whether a number or boolean is written in a form only YAML 1.1 reads so (octal, hex, binary, base 60,
    underscores, yes/no/on/off): refused, never read as another value than the one written."""
    form = _CORE_FORMS.get(node.tag)
    return form is not None and form.fullmatch(node.value) is None


def _fast_build(root: yaml.Node, loader: Any, yaml11_scalars: bool = False) -> Any:
    """Build a document that needs none of :class:`_Inspector`'s diagnostics, inspecting as it builds.

    One pass over the nodes, no field paths: scalar tags are JSON's, numbers short, keys plain strings
    and unique, nesting and size within bounds, and no node is reached twice (no alias, hence no
    recursive or expanding structure). Anything else raises :class:`_Bail` and the document takes the
    slow path (inspection, then the builder), which finds and reports the same problems as before. The
    data built equals what the constructor builds: scalars go through the same constructors."""
    constructors = loader.yaml_constructors
    seen: set[int] = set()
    total = 0

    def build(node: yaml.Node, depth: int) -> Any:
        nonlocal total
        ident = id(node)
        if ident in seen:
            raise _Bail
        seen.add(ident)
        tag = node.tag
        if type(node) is yaml.ScalarNode:
            total += 1
            if tag == _STR:
                return node.value
            if tag not in _SCALAR_TAGS or (tag in _NUMBERS and len(node.value) > _MAX_NUMBER_CHARS) or (
                    tag == _FLOAT and _is_nan(node.value)) or (not yaml11_scalars and _yaml11_only(node)):
                raise _Bail
            return constructors[tag](loader, node)
        if depth >= MAX_DEPTH:  # a child of this node would sit deeper than the bound
            raise _Bail
        if type(node) is yaml.MappingNode and tag == _MAP:
            pairs = node.value
            total += 1 + len(pairs)
            if total > MAX_NODES:
                raise _Bail
            mapping: dict[str, Any] = {}
            for key, value in pairs:
                if type(key) is not yaml.ScalarNode:
                    raise _Bail  # collections as keys
                if key.tag == _STR:
                    text = key.value
                    ident = id(key)
                    if ident in seen:
                        raise _Bail
                    seen.add(ident)
                else:
                    # a number, boolean or null key (the catalogue's level_notes: {1: …}), built as a value is (the
                    # same bail-outs: merge keys (<<), tags and forms the inspection refuses), then the text JSON
                    # gives it, as the constructor's mapping reads it (_FastLoader.construct_mapping) — when that is
                    # the text written (``1``; not ``~`` or ``1.0e3``), which a LineIndex looks the key up by
                    text = key_text_of(build(key, depth + 1))
                    total -= 1  # the key was counted with its mapping
                    if text != key.value:
                        raise _Bail
                if text in mapping:
                    raise _Bail
                mapping[text] = build(value, depth + 1)
            return mapping
        if type(node) is yaml.SequenceNode and tag == _SEQ:
            total += 1
            if total > MAX_NODES:
                raise _Bail
            return [build(child, depth + 1) for child in node.value]
        raise _Bail

    data = build(root, 0)
    if total > MAX_NODES:
        raise _Bail
    return data


def load_documents(
    text: str, file: str, *, index: LineTrie | None = None, yaml11_scalars: bool = False, keep_nodes: bool = False
) -> tuple[list[LocatedDocument], list[Diagnostic]]:
    """Parse every document of ``text``; return them (positions computed on demand) and located errors.

    Each document is composed into nodes (libyaml), inspected (:class:`_Inspector`: tags, keys,
    numbers, depth, aliases, size) and only then built, so no hostile input reaches a builder. Every
    problem is a diagnostic with its line and column; a document with one is not returned. With
    ``index``, each plainly built document keeps a :class:`LineIndex` of those paths (``document.lines``). With
    ``keep_nodes``, each plainly built document keeps its composed nodes, which :meth:`LocatedDocument.position`
    walks (instead of composing the text again on its first call): for a caller that locates many paths of a
    document it then drops (the catalogue records every item's line).
    """
    return _load(text, file, locate=False, trie=index, yaml11_scalars=yaml11_scalars, keep_nodes=keep_nodes)


def _load_located(text: str, file: str) -> tuple[list[LocatedDocument], list[Diagnostic]]:
    """As :func:`load_documents`, also recording the position of every field path."""
    return _load(text, file, locate=True)


def _load(
    text: str, file: str, *, locate: bool, trie: LineTrie | None = None, yaml11_scalars: bool = False,
    keep_nodes: bool = False,
) -> tuple[list[LocatedDocument], list[Diagnostic]]:
    documents: list[LocatedDocument] = []
    errors: list[Diagnostic] = []
    if len(text) > MAX_FILE_CHARS:
        return [], [Diagnostic(file, 1, 1, "", f"the file has {len(text):,} characters, more than the "
                               f"{MAX_FILE_CHARS:,} accepted", "split it; no xzgov file needs to be this large",
                               "yaml-limit")]
    if _YAML_ONLY_BREAK.search(text) is not None and (stray := _stray_break(text)) is not None:
        return [], [_only_yaml_breaks(text, stray, file)]
    loader = _FastLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node guarantees a node
                break
            if not locate:
                try:
                    data = _fast_build(node, loader, yaml11_scalars)
                except _Bail:
                    pass
                else:
                    lines = LineIndex(node, trie) if trie is not None else None
                    document = LocatedDocument(file, data, text=text, index=index, lines=lines)
                    if keep_nodes:  # the fast build changed no node: the tree _walk would compose again
                        document._root = node
                    documents.append(document)
                    index += 1
                    continue
            inspector = _Inspector(file, loader, yaml11_scalars)
            problems = inspector.run(node)
            errors.extend(problems)
            if problems and not inspector.buildable():
                pass  # never build what failed inspection: it may be a bomb or carry a foreign tag
            elif locate or problems:  # duplicate keys: build what is there (first key wins), located
                document = LocatedDocument(file, None, index=index)
                builder = _PositionedBuilder(document, loader)
                document.data = builder.build(node, ())
                errors.extend(builder.errors if not problems else ())  # the inspection reported them
                documents.append(document)
            else:
                try:
                    data = loader.construct_document(node)
                except (ValueError, OverflowError, TypeError, _DuplicateKey) as error:  # defence in depth
                    line, column = _mark(node)
                    errors.append(Diagnostic(file, line, column, "", f"cannot read this document "
                                             f"({type(error).__name__})", "check the values against the "
                                             "documentation", "yaml-syntax"))
                else:
                    documents.append(LocatedDocument(file, data, text=text, index=index))
            loader.constructed_objects = {}
            index += 1
    except yaml.MarkedYAMLError as error:
        errors.append(_full_width(text, error, file) or _yaml_error(error, file))
    except yaml.reader.ReaderError as error:  # a character YAML does not allow (control characters, ...)
        position = error.position
        if not isinstance(loader, yaml.reader.Reader):  # libyaml counts bytes of the UTF-8 text, not characters
            position = len(text.encode("utf-8", "surrogatepass")[:position].decode("utf-8", "ignore"))
        before = text[:position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        code = error.character if isinstance(error.character, int) else ord(error.character)
        errors.append(Diagnostic(file, line, column, "", f"character U+{code:04X} is not allowed in YAML",
                                 f"remove it, or write it as the escape \\u{code:04x} inside double quotes",
                                 "yaml-syntax"))
    except yaml.YAMLError as error:  # pragma: no cover - other PyYAML errors carry marks
        errors.append(Diagnostic(file, 1, 1, "", f"YAML error: {error}", "", "yaml-syntax"))
    finally:
        loader.dispose()
    return documents, cap_per_file(errors)


#: Characters YAML 1.1 (PyYAML, libyaml) reads as line breaks that editors do not show as one: outside a quoted
#: value, a comment went on as a mapping key and every later line number was one past the editor's.
_YAML_ONLY_BREAK = re.compile("[\x85\u2028\u2029]")


def _stray_break(text: str) -> int | None:
    """The offset of the first :data:`_YAML_ONLY_BREAK` character outside a quoted scalar (``None``: each is
    inside one). In a quoted value U+2028 / U+2029 are the characters themselves (PyYAML's own dumper writes a
    title holding one so, and reads it back); in a comment, a plain or block value they are breaks the editor
    does not show, and U+0085 is one everywhere."""
    quoted: list[tuple[int, int]] = []
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.ScalarToken) and token.style in ("'", '"'):
                quoted.append((token.start_mark.index, token.end_mark.index))
    except yaml.YAMLError:
        pass  # the characters before the error are judged; the loader then says the rest
    for found in _YAML_ONLY_BREAK.finditer(text):
        # U+0085 is a break even there: folded to a space, the value changed in silence
        if found.group() == "\x85" or not any(start < found.start() < end for start, end in quoted):
            return found.start()
    return None


def _only_yaml_breaks(text: str, position: int, file: str) -> Diagnostic:
    before = text[:position]
    line, column = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
    code = ord(text[position])
    return Diagnostic(file, line, column, "", f"character U+{code:04X} (a line separator editors do not show) is "
                      "read by YAML as a line break here",
                      f"remove it (in a value, quote the value: \"…\\u{code:04x}…\")", "yaml-syntax")


#: Full-width punctuation a Chinese input method types for YAML's own (the most likely typo in a manifest written
#: in Chinese): YAML reads it as text, and the syntax error lands later, on the next line.
FULL_WIDTH: Mapping[str, str] = {"：": ":", "　": "a space", "－": "-"}
_KEY_BEFORE = re.compile(r"^\s*(?:-\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*$")  # a manifest key (keys are ASCII)


def _full_width(text: str, error: yaml.MarkedYAMLError, file: str) -> Diagnostic | None:
    """The syntax error said at the full-width punctuation that caused it: the last such character outside a
    comment, on the error's line or the three before it, where YAML needed its ASCII twin — a colon right after a
    key, an ideographic space in the indentation, a dash opening a list item. ``None``: none there."""
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return None
    lines = text.splitlines()
    for number in range(min(mark.line, len(lines) - 1), max(0, mark.line - 3) - 1, -1):
        body = lines[number].split("#", 1)[0] if "#" in lines[number] else lines[number]
        for column, character in enumerate(body):
            before = body[:column]
            if (character == "　" and not before.strip(" 　")) or (character == "－" and not before.strip()) or (
                    character == "：" and _KEY_BEFORE.match(before)):
                return Diagnostic(file, number + 1, column + 1, "", f"YAML syntax error: full-width '{character}' "
                                  f"(U+{ord(character):04X}) where YAML needs {FULL_WIDTH[character]!r}",
                                  f"type the ASCII {FULL_WIDTH[character]!r} (switch the input method to half-width)",
                                  "yaml-syntax")
    return None


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
    """Read a UTF-8 file (:func:`read_input`), turning I/O and decoding problems into a diagnostic."""
    name = display or str(path)
    raw, problem = read_input(path, name)
    if raw is None:
        return None, problem
    try:
        return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), None  # as read_text did
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        # the column an editor shows: characters, not bytes, since the line's start (valid UTF-8 up to here)
        line_start = before.rfind(b"\n") + 1
        line, column = before.count(b"\n") + 1, len(before[line_start:].decode("utf-8", errors="replace")) + 1
        return None, Diagnostic(
            name, line, column, "", f"not UTF-8 text (byte {error.start})", "save the file as UTF-8", "encoding"
        )


def read_input(path: Path, display: str | None = None) -> tuple[bytes | None, Diagnostic | None]:
    """The bytes of an input file, or the diagnostic why not. What every command reads a manifest with, so
    ``validate`` and ``onboard`` accept the same files.

    Inputs are real files: a symbolic link (``compliance/waivers/w.yaml`` -> ``/etc/shadow`` had its target's
    lines shown in schema errors), a FIFO, device or folder is refused unread (code ``io``: exit 2). A folder
    on the way may be a link (a catalogue folder linked in from elsewhere is read)."""
    name = display or str(path)
    try:
        try:  # no link at the end of the path; a FIFO opens without waiting for a writer
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if error.errno == errno.ELOOP or path.is_symlink():
                return None, Diagnostic(name, 0, 0, "", f"is a symbolic link (to {os.readlink(path)}); inputs are "
                                        "read from real files only", f"replace the link with the file itself "
                                        f"(`cp --remove-destination \"$(readlink -f {path})\" {path}`)", "io")
            raise
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            return None, Diagnostic(name, 0, 0, "", "not a regular file (a folder, FIFO, socket or device)",
                                    "put the YAML file itself at this path", "io")
        with os.fdopen(descriptor, "rb") as stream:  # bounded: a huge file is refused without reading it all
            raw = stream.read(4 * MAX_FILE_CHARS + 1)
        if len(raw) > 4 * MAX_FILE_CHARS:
            return None, Diagnostic(name, 1, 1, "", f"the file is larger than {4 * MAX_FILE_CHARS:,} bytes",
                                    "split it; no xzgov file needs to be this large", "yaml-limit")
        reads.note(path, raw)  # what a recording command used is what it digests (xzgov.core.reads)
        return raw, None
    except OSError as error:
        return None, Diagnostic(name, 0, 0, "", f"cannot read: {error.strerror}", "check the path", "io")


def load_file(
    path: Path, display: str | None = None, *, index: LineTrie | None = None, yaml11_scalars: bool = False,
    keep_nodes: bool = False,
) -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """Read ``path`` as exactly one YAML document (positions kept); every problem is a diagnostic.
    ``index``: keep a :class:`LineIndex` of these paths (see :func:`load_documents`). ``yaml11_scalars``: accept
    the forms only YAML 1.1 reads as numbers or booleans, for a caller that reads every value as its text
    (a Pulumi stack file: Pulumi passes an unquoted 19:30 as "19:30"). ``keep_nodes``: see :func:`load_documents`."""
    name = display or str(path)
    text, problem = read_text(path, name)
    if problem is not None or text is None:
        return None, [problem or Diagnostic(name, 0, 0, "", "cannot read", "check the path", "io")]
    documents, errors = load_documents(text, name, index=index, yaml11_scalars=yaml11_scalars, keep_nodes=keep_nodes)
    if errors:
        return None, errors
    if all(document.data is None for document in documents):  # (no document, or only empty ones)
        return None, [Diagnostic(name, 1, 1, "", "the file is empty", "write one YAML mapping", "empty")]
    if len(documents) > 1:  # located where the second begins, which is what is too many (an empty one too)
        return None, [documents[1].diagnostic((), f"expected exactly one YAML document, found {len(documents)}",
                                              "put one document per file: remove the second (from its ---) or "
                                              "move it to a file of its own", code="document-count")]
    return documents[0], []


def iter_yaml_files(root: Path, *, evidence: str = "") -> Iterator[Path]:
    """Every ``*.yaml``/``*.yml`` below ``root`` in a stable order (hidden folders skipped; with ``evidence``, the
    folders of that name too: an attestation set's evidence files, in any format and shape, are no records).

    A symbolic link (``root`` itself, a folder or a manifest) is refused (exit 2): ``rglob`` would
    silently skip a linked folder that onboarding then writes through. So is a folder that cannot be listed
    (exit 2, as an unreadable manifest): ``rglob`` skipped it in silence, the register was "valid" without its
    systems and onboarding rewrote the inventories without their hosts.
    """
    for path in [root, *listed_tree(root, skip=evidence)]:
        parts = path.relative_to(root).parts
        if evidence and evidence in parts[:-1]:
            continue
        hidden = any(part.startswith(".") for part in parts)
        if path.is_symlink() and not hidden and (path.suffix in {".yaml", ".yml"} or path.is_dir()):
            _refuse_symlink(path)
        if path.suffix in {".yaml", ".yml"} and not hidden and path.is_file():
            yield path
        elif path.suffix.lower() in {".yaml", ".yml"} and not hidden and path.is_file():
            # new.YAML was left out in silence: its system was not registered, and validating it said "valid"
            raise UsageError(f"{path}: a manifest's name ends in .yaml or .yml (lower case)",
                             [Diagnostic(str(path), 0, 0, "", f"'{path.suffix}' is not read as a manifest",
                                         f"rename it to {path.with_suffix(path.suffix.lower()).name}", "io")])
        elif path.suffix in {".yaml", ".yml"} and not hidden and path.is_dir() and path != root:
            # a manifest replaced by a folder was skipped in silence, and the register said "valid" without it
            raise UsageError(f"{path} is a folder named like a manifest",
                             [Diagnostic(str(path), 0, 0, "", "a folder, not a manifest file",
                                         "replace it with the manifest file, or rename the folder (without .yaml)",
                                         "not-regular")])
        elif path.suffix in {".yaml", ".yml"} and not hidden and not path.is_dir():
            # a FIFO or device would hang the reader or be skipped in silence: neither is a manifest
            raise UsageError(f"{path} is not a regular file; the register holds manifests only",
                             [Diagnostic(str(path), 0, 0, "", "not a regular file (FIFO, socket or device)",
                                         f"remove it (`rm {path}`) or replace it with the manifest file",
                                         "not-regular")])


def input_folder(path: Path, display: str) -> bool:
    """Whether the input folder ``path`` (waivers, attestation sets) is there: ``False`` when nothing is at the path;
    a link (dangling, looping or not) or anything but a folder is refused (exit 2) — read as absent, every record in
    it vanished from the scan without a word."""
    try:
        status = path.lstat()
    except FileNotFoundError:
        return False
    except OSError as error:
        raise UsageError(f"cannot read {display}", [Diagnostic(display, 0, 0, "", f"cannot read: {error.strerror}",
                                                                "check the folder's permissions", "io")]) from None
    if stat.S_ISLNK(status.st_mode):
        raise UsageError(f"{display} is a symbolic link; inputs are read from real folders only",
                         [Diagnostic(display, 0, 0, "", "a symbolic link, not a folder",
                                     f"replace the link with the real folder (`rm {path}` and move the target there)",
                                     "symlink")])
    if not stat.S_ISDIR(status.st_mode):
        raise UsageError(f"{display} is not a folder", [Diagnostic(
            display, 0, 0, "", "not a folder (a file, FIFO, socket or device)",
            f"move it away and put the folder of records at {display}", "not-regular")])
    return True


def _refuse_symlink(path: Path) -> None:
    """The register is real files only: a link makes validation and onboarding disagree."""
    raise UsageError(f"{path} is a symbolic link; the register must not contain links",
                     [Diagnostic(str(path), 0, 0, "", f"symbolic link to {path.readlink()}",
                                 f"replace the link with the real folder or file (`rm {path}` and move "
                                 "the target there)", "symlink")])

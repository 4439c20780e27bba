"""The scalar leaves of a YAML file with their field paths, and the structure rules of vaulted files.

A vaulted value must be written out in the one field it is bound to: a YAML alias or ``<<`` merge
that reuses a vaulted value (or a collection holding one), and a vaulted value under a mapping key
that is not a string (``1:``, ``yes:``), are refused with the file, line and field. A strict vault
file (``*.sm4vault.yml``) holds only vaulted strings, integers, booleans and null.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.files import yaml_problem
from xzgov.crypto.vault.envelope import is_vaulted, vault_error
from xzgov.crypto.vault.paths import join_path

STR_TAG = "tag:yaml.org,2002:str"
#: Ansible's marker for a string never templated (a password holding ``{{`` or ``{%``): a string to vault like any
#: other, its tag kept in front of the vaulted value (which Ansible never templates either)
UNSAFE_TAG = "!unsafe"
#: ansible-vault's own ciphertext (``!vault-encrypted``: its older name, read until ansible-core 2.23): already
#: encrypted, left as it is
ANSIBLE_VAULT_TAGS = frozenset(("!vault", "!vault-encrypted"))
#: how Ansible reads an ``!unsafe`` plain scalar: by YAML 1.1's implicit types (``!unsafe 5`` is an int)
_IMPLICIT = yaml.resolver.Resolver()
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: Besides vaulted strings, the only values allowed in a strict ``*.sm4vault.yml`` file.
STRICT_TAGS = {"tag:yaml.org,2002:int": "integer", "tag:yaml.org,2002:bool": "boolean",
               "tag:yaml.org,2002:null": "null"}


@dataclass(frozen=True)
class Leaf:
    """A scalar value in a YAML file: its field path, node and text span.

    ``problem`` says why the value cannot hold a vaulted value (it is reused by a YAML alias or
    ``<<`` merge, or sits under a non-string mapping key); ``problem_line`` is where (1-based).
    """

    path: str
    node: yaml.ScalarNode
    problem: str = ""
    problem_line: int = 0

    @property
    def value(self) -> str:
        return str(self.node.value)

    @property
    def is_string(self) -> bool:
        """A string value (``!unsafe`` ones too, unless Ansible reads the plain scalar as a number, a boolean or
        null): what a vault may hold."""
        tag = self.node.tag
        if tag == UNSAFE_TAG:
            implicit: str = _IMPLICIT.resolve(yaml.ScalarNode, self.node.value,  # type: ignore[no-untyped-call]
                                              (True, False))
            return self.node.style is not None or implicit == STR_TAG
        return tag == STR_TAG

    @property
    def unknown_tag(self) -> bool:
        """Tagged with a local tag (``!name``) the vault cannot judge: not a string it knows, not ansible-vault's
        ciphertext, not a YAML type (a number, a boolean, null) that holds no secret."""
        tag = self.node.tag
        return tag.startswith("!") and tag != UNSAFE_TAG and tag not in ANSIBLE_VAULT_TAGS

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    @property
    def column(self) -> int:
        return int(self.node.start_mark.column) + 1


class TrackingLoader(yaml.SafeLoader):
    """SafeLoader that remembers where each anchored node is reused by an alias."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_lines: dict[int, list[int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            line = int(self.peek_event().start_mark.line) + 1  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            self.alias_lines.setdefault(id(node), []).append(line)
            return node
        return super().compose_node(parent, index)


def _key_text(node: yaml.Node, source: str) -> tuple[str, str]:
    """A mapping key's text, and the problem when it is not a string (empty otherwise)."""
    if not isinstance(node, yaml.ScalarNode):
        raise UsageError(f"{source}: complex mapping keys are not supported",
                         [Diagnostic(source, int(node.start_mark.line) + 1, int(node.start_mark.column) + 1, "",
                                     "complex mapping key", code="yaml-key")])
    if node.tag == STR_TAG:
        return str(node.value), ""
    return str(node.value), (f"is under the non-string mapping key {node.value!r} "
                             "(quote it: 1 and \"1\", yes and \"True\" would share a field path)")


def walk(node: yaml.Node, path: str, seen: set[int], source: str, aliases: Mapping[int, list[int]],
         problem: str = "", problem_line: int = 0) -> Iterator[Leaf]:
    """The leaves below ``node``; a node reached again through an alias is not repeated."""
    if id(node) in seen:  # an alias: checked at its anchor (problem "reused by the YAML alias")
        return
    seen.add(id(node))
    lines = aliases.get(id(node))
    if lines and not problem:
        problem = f"is reused by the YAML alias at line {', '.join(str(n) for n in lines)}"
        problem_line = lines[0]
    if isinstance(node, yaml.ScalarNode):
        yield Leaf(path, node, problem, problem_line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from walk(item, join_path(path, index), seen, source, aliases, problem, problem_line)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                here = int(key_node.start_mark.line) + 1
                yield from walk(value_node, join_path(path, "<<"), seen, source, aliases,
                                problem or "is merged into its mapping with <<", problem_line or here)
                continue
            text, key_problem = _key_text(key_node, source)
            yield from walk(value_node, join_path(path, text), seen, source, aliases,
                            problem or key_problem,
                            problem_line or (int(key_node.start_mark.line) + 1 if key_problem else 0))


def syntax_error(error: yaml.YAMLError, source: str) -> UsageError:
    """The located error for a YAML syntax error in a (possibly plaintext, secret-holding) vars file:
    the problem, line and column only — never ``str(error)``, which quotes the offending line."""
    problem, line, column = yaml_problem(error)
    return UsageError(
        f"{source}: not valid YAML",
        [Diagnostic(source, line, column, "", f"YAML syntax error: {problem}", code="yaml-syntax")],
    )


def compose(text: str, source: str) -> tuple[yaml.Node | None, dict[int, list[int]]]:
    """The document's root node and, per reused node, the lines of the aliases reusing it."""
    loader = TrackingLoader(text)
    try:
        return loader.get_single_node(), loader.alias_lines
    except yaml.YAMLError as error:
        raise syntax_error(error, source) from None  # the YAMLError quotes the line: not chained
    except RecursionError:  # thousands of nested [ or {: a located refusal, not an internal error (exit 3)
        raise UsageError(f"{source}: nested too deeply to read", [Diagnostic(
            source, 0, 0, "", "YAML nested too deeply (thousands of levels)", "flatten the structure",
            code="yaml-syntax")]) from None
    finally:
        loader.dispose()


def leaves(text: str, source: str = "<yaml>") -> list[Leaf]:
    """The scalar values of a YAML document with their field paths (aliases not repeated)."""
    root, aliases = compose(text, source)
    return [] if root is None else list(walk(root, "", set(), source, aliases))


def check_leaves(all_leaves: Iterable[Leaf], source: str, *, strict: bool) -> None:
    """Refuse vaulted values that are shared (alias, merge) or keyed by a non-string, and in a
    strict file anything but vaulted strings, integers, booleans and null."""
    for leaf in all_leaves:
        vaulted = leaf.is_string and is_vaulted(leaf.value)
        if vaulted and leaf.problem:
            raise vault_error(f"vaulted value {leaf.problem}; a vaulted value must be written out in the one "
                              "field it is bound to", source, leaf.path, leaf.problem_line or leaf.line,
                              leaf.column, "remove the alias/merge (repeat the vaulted value in each field, each "
                              "encrypted for its own field) or quote the key", "vault-shared")
        if not strict or vaulted:
            continue
        if leaf.is_string:
            raise vault_error("plaintext value in a vault file", source, leaf.path, leaf.line, leaf.column,
                              "every string in a *.sm4vault.yml file must be vaulted: run `xzgov vault encrypt`",
                              "vault-plaintext")
        if leaf.node.tag not in STRICT_TAGS:
            raise vault_error(f"value of type {leaf.node.tag!r} in a vault file", source, leaf.path, leaf.line,
                              leaf.column, "a *.sm4vault.yml file holds only vaulted strings, integers, booleans "
                              "and null", "vault-type")

"""Reading YAML files safely, and where a field of a YAML document is (lines by field path, for errors).

`parse` is the one way slateboard reads a scenario or policy file's YAML. It parses the text once (the node tree
for lines and the data built from that same tree) and refuses, with the file and line, what would make a small
file cost a lot: more than `MAX_BYTES` of text, nesting deeper than `MAX_DEPTH`, aliases that expand to more than
`MAX_NODES` nodes (a "billion laughs" tree), and integers longer than `MAX_INT_DIGITS` digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from slateboard.errors import PolicyError, ScenarioError

__all__ = ("Locator", "line_of", "dotted", "parse", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "MAX_INT_DIGITS")

MAX_BYTES = 4 * 1024 * 1024  # a scenario or policy file is written by hand: 4 MiB is far beyond any real one
MAX_DEPTH = 64  # nesting: the deepest real file has about 8 levels
MAX_NODES = 200_000  # nodes after expanding aliases; a real file has a few thousand
MAX_INT_DIGITS = 100  # an integer longer than this is a mistake or an attack, never a threshold or a count

FileError = type[ScenarioError] | type[PolicyError]


class _Refused(yaml.YAMLError):
    """A limit was crossed at a node: the message and where."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts nesting depth and expanded size while it composes, and refuses huge integers."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        if isinstance(event, yaml.AliasEvent) and id(self.anchors.get(event.anchor)) not in self._sizes:
            # The anchored node is still being composed: the alias is inside it, a structure that never ends.
            raise _Refused(f"the alias *{event.anchor} refers to a node that contains it", event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._count(node)
        return node

    def _count(self, node: yaml.Node) -> None:
        """The node's size with aliases expanded, from its children's (each composed, so counted, before it)."""
        if id(node) in self._sizes:  # an alias: the anchored node, counted once more where its parent adds it
            return
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes.get(id(child), 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        if size > MAX_NODES:
            message = f"aliases expand to more than {MAX_NODES} nodes (a 'billion laughs' tree?)"
            raise _Refused(message, node.start_mark)
        self._sizes[id(node)] = size

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(c.isalnum() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark)
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def parse(text: str, *, file: str, error: FileError) -> tuple[yaml.Node | None, Any]:
    """The node tree and the data of YAML `text`, parsed once; anything refused raises `error` naming `file`
    and the line."""
    if len(text) > MAX_BYTES:
        raise error(f"the file is {len(text)} characters long; the limit is {MAX_BYTES} (MAX_BYTES)", file=file)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # reads the first characters: a NUL or another unprintable one fails here
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except _Refused as exc:
        raise error(exc.message, file=file, line=line_of(exc.mark)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise error(f"not valid YAML: {exc.problem or exc}", file=file, line=line_of(mark)) from exc
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # a scalar a constructor cannot convert
        raise error(f"not valid YAML: {exc}", file=file) from exc
    finally:
        if loader is not None:
            loader.dispose()


class Locator:
    """Lines of the YAML nodes, by field path, for errors."""

    def __init__(self, node: yaml.Node | None, file: str) -> None:
        self.node = node
        self.file = file

    def line(self, path: Sequence[Any]) -> int | None:
        node, found = self.node, line_of(self.node.start_mark) if self.node is not None else None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
                if match is None:
                    return found
                found, node = line_of(match[0].start_mark), match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                found = line_of(node.start_mark)
            else:
                return found
        return found

    def error(self, path: Sequence[Any], message: str) -> ScenarioError:
        return ScenarioError(f"{dotted(path)}: {message}", file=self.file, line=self.line(path))


def line_of(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def dotted(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path if not str(p).startswith("function-")) or "scenario"

"""Where a field of a YAML document is: lines by field path, so errors name the line of what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from slateboard.errors import ScenarioError

__all__ = ("Locator", "line_of", "dotted")


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

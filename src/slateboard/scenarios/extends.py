"""`extends:` in scenario files: a file that starts from another and overrides parts of it.

```yaml
# refund-strict.yaml
extends: refund.yaml                 # relative to this file; the base may extend another in turn
name: refund-strict                  # required: boards and the file's own kinds are named after it
agents:                              # by name: replaces the base's agent of that name, or adds one
  - {name: entitlement, reads: [Case], writes: Entitlement, emit: {entitled: false, confidence: 0.9}}
policy: strict.toml
expect: {status: insufficient}
```

Every other top-level key the file gives replaces the base's (`inputs`, `rules`, `policy`, `sink`, `expect`, ...);
`kinds` and `variants` are merged by name and `import` adds modules. Kinds declared in the base keep the base's
names (`refund.Case`), so boards of both files hold the same kinds. A relative policy path is relative to the file
that gives it. A missing base, a base that is not YAML and a cycle are errors at the `extends:` line; an error
inside a base names the base file and its line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slateboard._internal import yamlpos
from slateboard._internal.yamlpos import Locator, dotted
from slateboard.errors import ScenarioError

__all__ = ("Part", "Sources", "parse", "resolve")

Path_ = tuple[Any, ...]
_BY_NAME = ("kinds", "variants")  # mappings merged key by key


def parse(text: str, file: str) -> tuple[object, yaml.Node | None]:
    """The YAML document in `text` and its node tree, parsed once by the bounded loader (size, depth, aliases and
    big integers refused); errors name `file` and line."""
    node, data = yamlpos.parse(text, file=file, error=ScenarioError)
    return data, node


@dataclass(frozen=True)
class Part:
    """Where a part of the merged document came from: the file (its locator), the part's path in that file, and
    that file's scenario name (its kinds are named after it)."""

    where: Locator
    at: Path_
    name: str


@dataclass
class Sources:
    """Lines and files for a merged document: each path is found in the file that gave it.

    Quacks like `Locator` (`file`, `line`, `error`), so the loader reports any field at its own file and line.
    """

    file: str
    parts: dict[Path_, Part] = field(default_factory=dict)

    def part(self, path: Sequence[Any]) -> tuple[Part, Path_]:
        """The part holding `path` (the longest prefix known) and the rest of the path below it."""
        path = tuple(path)
        for cut in range(len(path), -1, -1):
            found = self.parts.get(path[:cut])
            if found is not None:
                return found, path[cut:]
        raise ScenarioError(f"{dotted(path)}: no source for this part of the scenario", file=self.file)

    def file_of(self, path: Sequence[Any]) -> str:
        """The file that gave `path`."""
        return self.part(path)[0].where.file

    def name_of(self, path: Sequence[Any]) -> str:
        """The scenario name of the file that gave `path`."""
        return self.part(path)[0].name

    def line(self, path: Sequence[Any]) -> int | None:
        found, rest = self.part(path)
        return found.where.line((*found.at, *rest))

    def error(self, path: Sequence[Any], message: str) -> ScenarioError:
        return ScenarioError(f"{dotted(path)}: {message}", file=self.file_of(path), line=self.line(path))


def resolve(text: str, file: str) -> tuple[object, Sources]:
    """The document in `text` with every `extends:` applied, and where each of its parts came from."""
    return _resolve(text, file, ())


def _resolve(text: str, file: str, chain: tuple[Path, ...]) -> tuple[object, Sources]:
    data, node = parse(text, file)
    where = Locator(node, file)
    own_name = data.get("name") if isinstance(data, dict) else None
    mine = Part(where, (), own_name if isinstance(own_name, str) else "")
    if not isinstance(data, dict) or data.get("extends") is None:
        return data, Sources(file, {(): mine})
    base_file = _base_path(data["extends"], file, where, chain)
    if not isinstance(own_name, str):
        raise where.error(("extends",), "a file that extends another gives its own name: (name: ...)")
    try:
        base_text = base_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise where.error(("extends",), f"cannot read {data['extends']!r}: {exc}") from exc
    base, sources = _resolve(base_text, str(base_file), (*chain, _identity(file)))
    if not isinstance(base, dict):
        raise where.error(("extends",), f"{data['extends']!r} is not a scenario (a mapping of keys)")
    if base.get("name") == own_name:
        raise where.error(("name",), f"give this file a name of its own; {data['extends']!r} is {own_name!r} too")
    sources.file = file
    return _merge(base, data, sources, mine), sources


def _identity(file: str) -> Path:
    path = Path(file)
    return path.resolve() if path.is_file() else path


def _base_path(extends: object, file: str, where: Locator, chain: tuple[Path, ...]) -> Path:
    if not isinstance(extends, str) or Path(extends).suffix.lower() not in (".yaml", ".yml"):
        raise where.error(("extends",), f"extends names a scenario file (.yaml or .yml), got {extends!r}")
    base = Path(os.path.normpath(Path(file).parent / extends))  # errors name `base.yaml`, not `mine/../base.yaml`
    if not base.is_file():
        raise where.error(("extends",), f"no scenario file {extends!r} (looked for {base.resolve()})")
    here, there = _identity(file), base.resolve()
    if there == here or there in chain:
        loop = " -> ".join(str(p) for p in (*chain, here, there))
        raise where.error(("extends",), f"extends makes a cycle: {loop}")
    return base


def _merge(base: dict[str, Any], child: dict[str, Any], sources: Sources, mine: Part) -> dict[str, Any]:
    """`base` with `child`'s keys over it, recording in `sources` which file each merged part came from."""
    merged = {key: value for key, value in base.items() if key != "extends"}
    for key in merged:  # pin what the base gives to where it gives it: the whole document is the child's now
        if not any(path[:1] == (key,) for path in sources.parts):
            found, rest = sources.part((key,))
            sources.parts[(key,)] = Part(found.where, (*found.at, *rest), found.name)
    sources.parts[()] = mine
    for key, value in child.items():
        if key == "extends":
            continue
        if key in _BY_NAME and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
            for name in value:
                _claim(sources, (key, name), Part(mine.where, (key, name), mine.name))
        elif key == "agents" and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_agents(merged[key], value, sources, mine)
        elif key == "import" and isinstance(value, list) and isinstance(merged.get(key), list):
            known = list(merged[key])
            for position, module in enumerate(value):
                if module not in known:
                    _claim(sources, (key, len(known)), Part(mine.where, (key, position), mine.name))
                    known.append(module)
            merged[key] = known
        else:
            merged[key] = value
            _claim(sources, (key,), Part(mine.where, (key,), mine.name))
    return merged


def _merge_agents(base: list[Any], child: list[Any], sources: Sources, mine: Part) -> list[Any]:
    """The base's agents, each replaced by the child's agent of the same name; the child's new agents after them."""
    agents = list(base)
    names = [a.get("name") if isinstance(a, dict) else None for a in agents]
    for position, agent in enumerate(child):
        name = agent.get("name") if isinstance(agent, dict) else None
        index = names.index(name) if name is not None and name in names else len(agents)
        if index == len(agents):
            agents.append(agent)
            names.append(name)
        else:
            agents[index] = agent
        _claim(sources, ("agents", index), Part(mine.where, ("agents", position), mine.name))
    return agents


def _claim(sources: Sources, path: Path_, part: Part) -> None:
    """`path` (and everything under it) now comes from `part`."""
    for known in [p for p in sources.parts if p[: len(path)] == path]:
        del sources.parts[known]
    sources.parts[path] = part

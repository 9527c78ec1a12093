"""`slateboard schema scenario|policy`: the JSON Schema of a scenario or policy file, for editors.

The same documents as docs/schemas/, generated from the models the loaders validate with (scenarios.reference).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from slateboard.errors import ConfigurationError
from slateboard.scenarios.reference import SCHEMAS

__all__ = ("schema",)


def schema(
    what: Annotated[
        str,
        typer.Argument(metavar="scenario|policy", help="Which file format: scenario or policy.", show_default=False),
    ],
) -> None:
    """Print the JSON Schema of a scenario file or a policy file (for an editor's YAML or TOML support).

    The reference, field by field: docs/scenario-files.md."""
    make = SCHEMAS.get(what)
    if make is None:
        raise ConfigurationError(f"schema takes one of {', '.join(SCHEMAS)}, got {what!r}")
    sys.stdout.write(json.dumps(make(), indent=2) + "\n")

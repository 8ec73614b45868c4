"""What every command shares: the global state, consoles, JSON output and option helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from lwa_cli.errors import LwaUsageError
from lwa_cli.progress import RichReporter
from lwa_cli.workspace import Workspace

err_console = Console(stderr=True)
out_console = Console()


@dataclass
class AppState:
    """What the global options set, handed to every command through the click context."""

    workspace: Workspace
    quiet: bool
    debug: bool

    @property
    def reporter(self) -> RichReporter:
        return RichReporter(err_console, quiet=self.quiet)


def state(ctx: typer.Context) -> AppState:
    """The global state of the running command (set by the `lwa` callback)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):  # a sub-app invoked on its own, e.g. in a test
        obj = AppState(Workspace(Path("lwa-workspace")), quiet=False, debug=False)
    return obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    typer.echo(json.dumps(data, indent=1, sort_keys=True, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def parse_named_paths(values: list[str], option: str = "--benchmark") -> dict[str, Path]:
    """Parse repeated ``NAME=PATH`` option values."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise LwaUsageError(f"{option} expects NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out


def complete_model(incomplete: str) -> list[str]:
    """Shell completion of registry model names."""
    from lwa_cli.models.registry import REGISTRY

    return [name for name in REGISTRY if name.startswith(incomplete)]


def complete_layer(incomplete: str) -> list[str]:
    """Shell completion of layer names (the largest models' range)."""
    names = ["all", "C", "T", *(f"C{i}" for i in range(1, 8)), *(f"T{i}" for i in range(25))]
    return [name for name in names if name.startswith(incomplete)]

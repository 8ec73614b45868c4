"""What every command shares: the global state, consoles, JSON output and option helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from typer.core import TyperCommand, TyperGroup

from lwa_cli.errors import LwaUsageError
from lwa_cli.progress import RichReporter
from lwa_cli.workspace import Workspace

# Data (tables, JSON) go to stdout; status, progress, warnings and errors to stderr.
err_console = Console(stderr=True)
_UNLIMITED = 1 << 14  # a table on a pipe or in a file is never cut to the terminal width


class _DataConsole(Console):
    """stdout console: terminal width on a terminal, full width (no truncation) elsewhere."""

    @property
    def size(self) -> ConsoleDimensions:  # evaluated at each print: piped or not may change
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(_UNLIMITED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


out_console = _DataConsole()


class _PlainFlags:
    """Help shows a flag as ``--force``, not ``--force <bool>`` (newer typer adds the type)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and getattr(param, "metavar", None) is None:
                param.metavar = ""
        return params


class LwaCommand(_PlainFlags, TyperCommand):
    """Every lwa command's class."""


class PlainFlagsGroup(_PlainFlags, TyperGroup):
    """Every lwa command group's class."""


@dataclass
class AppState:
    """What the global options set, handed to every command through the click context."""

    workspace: Workspace
    quiet: bool
    debug: bool

    @property
    def reporter(self) -> RichReporter:
        return RichReporter(err_console, quiet=self.quiet)

    def say(self, message: str) -> None:
        """A status line on stderr (not data: `--quiet` silences it)."""
        if not self.quiet:
            err_console.print(message, highlight=False, soft_wrap=True)


def state(ctx: typer.Context) -> AppState:
    """The global state of the running command (set by the `lwa` callback)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):  # a sub-app invoked on its own, e.g. in a test
        obj = AppState(Workspace(Path("lwa-workspace")), quiet=False, debug=False)
    return obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    typer.echo(json.dumps(data, indent=1, sort_keys=True, default=_jsonable))
    sys.stdout.flush()


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


def complete_layer(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of layer names: those of the ``--model`` given so far (if any)."""
    from lwa_cli.models.registry import layer_choices

    model = (ctx.params or {}).get("model") if ctx is not None else None
    if isinstance(model, (list, tuple)):  # a repeatable --model: the first one
        model = model[0] if model else None
    names = layer_choices(model if isinstance(model, str) else None)
    return [name for name in names if name.startswith(incomplete)]


def complete_split(incomplete: str) -> list[str]:
    """Shell completion of split names (real and virtual)."""
    from lwa_cli.data.corpus import SPLITS, VIRTUAL_SPLITS

    return [s for s in (*SPLITS, *VIRTUAL_SPLITS) if s.startswith(incomplete)]


def complete_from(options: tuple[str, ...]):
    """Shell completion from a fixed list of choices."""
    return lambda incomplete: [o for o in options if o.startswith(incomplete)]


# Options that many commands share: one name, one default, one help text everywhere.
def model_option(help: str = "Model name: a registry name (see `lwa models`) or your own.",
                 ) -> Any:
    return typer.Option(..., "--model", autocompletion=complete_model, help=help)


def split_option(default: str | None = None,
                 help: str = "Split (or virtual split train-clean / train).") -> Any:
    return typer.Option(... if default is None else default, "--split",
                        autocompletion=complete_split, help=help)


def train_eval_split_options(train_help: str, eval_help: str) -> tuple[Any, Any]:
    """``--train-split`` (default train-clean) and ``--eval-split`` (default dev-clean)."""
    return (typer.Option("train-clean", "--train-split", autocompletion=complete_split,
                         help=train_help),
            typer.Option("dev-clean", "--eval-split", autocompletion=complete_split,
                         help=eval_help))


SAMPLE_OPT = typer.Option("1", "--sample", help="Name of the sample (e.g. 1, 2 for resamples).")
LAYER_OPT = typer.Option([], "--layer", autocompletion=complete_layer,
                         help="Layers: T4, C3, T0-T6, T, C, all; repeatable (default: all "
                              "extracted).")
JSON_OPT = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
FORCE_RESULTS_OPT = typer.Option(False, "--force",
                                 help="Recompute results even when stored ones are current.")
DEVICE_OPT = typer.Option("auto", "--device",
                          help="auto (cuda if available, else cpu), cpu, cuda, cuda:1, …")


def cached_note(records: list[dict]) -> str | None:
    """A status line saying how many of the layers were reused, or None if none were."""
    cached = sum(1 for r in records if r.get("cached"))
    if not cached:
        return None
    return (f"{cached} of {len(records)} layer(s) reused from stored results (current "
            "provenance; --force recomputes)")

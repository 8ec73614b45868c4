"""What every command shares: the global state, consoles, JSON output and option helpers."""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.progress import RichReporter
from lwa_cli.workspace import Workspace

# Data (tables, JSON) go to stdout; status, progress, warnings and errors to stderr.
# Every console lwa prints through is literal (markup and emoji codes off): text from the user
# (paths, file contents, option values) in a message, title or table cell is printed as it is.
# Where lwa itself styles a part of a line it passes a `Text` (see `labelled`).
LITERAL = {"markup": False, "emoji": False}
err_console = Console(stderr=True, **LITERAL)
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


out_console = _DataConsole(**LITERAL)


def labelled(label: str, style: str, message: object) -> Text:
    """``label message`` with only the label styled (e.g. ``error:`` in red); the message is
    literal whatever it holds."""
    return Text.assemble((label, style), " ", str(message))


#: Exit status of a data command whose stdout reader went away (`lwa results | head -1`):
#: what a shell reports for a tool ended by SIGPIPE (128 + 13).
CLOSED_PIPE_EXIT = 141


def is_closed_pipe(exc: BaseException) -> bool:
    """Whether `exc` means stdout's reader went away: a `BrokenPipeError`, or the
    ``SystemExit(1)`` that rich raises while handling one (`Console.on_broken_pipe`)."""
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, SystemExit) and isinstance(exc.__context__, BrokenPipeError))


def closed_pipe_exit(code: int = CLOSED_PIPE_EXIT):
    """End quietly after a write to a closed stdout: no message, no traceback, exit `code`.

    stdout is pointed at /dev/null first, so the interpreter's final flush of what is still
    buffered cannot fail again (Python's documented SIGPIPE recipe).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a descriptor (e.g. a test's capture)
        pass
    raise typer.Exit(code)


class _PlainFlags:
    """Help shows a flag as ``--force``, not ``--force <bool>`` (newer typer adds the type);
    help cut short by a closed pipe (`lwa --help | head -1`) exits 0."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:  # help (and no-args help) is printed while the context is made
            return super().make_context(info_name, args, parent=parent, **extra)
        except (BrokenPipeError, SystemExit) as exc:
            if not is_closed_pipe(exc):
                raise
            closed_pipe_exit(0)

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
    header: str | None = None  # what runs, for the top of a log (see `RichReporter`)
    _reporter: RichReporter | None = field(default=None, init=False, repr=False)

    @property
    def reporter(self) -> RichReporter:
        """The command's one reporter (its log header is printed once)."""
        if self._reporter is None:
            self._reporter = RichReporter(err_console, quiet=self.quiet, header=self.header)
        return self._reporter

    def say(self, message: str) -> None:
        """A status line on stderr (not data: `--quiet` silences it), printed literally."""
        if not self.quiet:
            err_console.print(message, highlight=False, soft_wrap=True, markup=False,
                              emoji=False)


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


# API parameter -> CLI flag, where the flag is not ``--`` + the name with ``-`` for ``_``.
PARAM_FLAGS: dict[str, str] = {
    "layers": "--layer",
    "n_clusters": "--clusters",
    "benchmarks": "--benchmark",
    "speaker_pairs": "--speakers",
    "items_file": "--items",
    "measures": "--measure",
    "other_layers": "--other-layer",
    "alpha": "--procrustes-alpha",
}


def flag_of(param: str) -> str:
    """The CLI flag of an API parameter: ``null_tol`` → ``--null-tol``, ``layers`` → ``--layer``."""
    return PARAM_FLAGS.get(param, "--" + param.replace("_", "-"))


def cli_error(exc: LwaError) -> LwaError:
    """`exc` with the API parameters its message names rewritten as the flags that set them.

    ``kmeans='x' is not one of …`` reads ``--kmeans x is not one of …``, and a parameter
    quoted as ```kmeans``` reads ``--kmeans``. Errors that name no parameter pass unchanged.
    """
    if not exc.params:
        return exc
    new = copy.copy(exc)
    new.args = (flags_in(str(exc), exc.params),)
    return new


def flags_in(text: str, params: tuple[str, ...]) -> str:
    """`text` with each of `params` written as its flag (see `cli_error`)."""
    for param in params:
        flag, name = flag_of(param), re.escape(param)
        text = re.sub(rf"(?<![\w-]){name}=(?:'([^']*)'|\"([^\"]*)\"|([^\s,;:)]+))",
                      lambda m, flag=flag: f"{flag} {next(g for g in m.groups() if g is not None)}",
                      text)
        text = text.replace(f"`{param}`", flag)
    return text


def parse_named_paths(values: list[str], option: str = "--benchmark") -> dict[str, Path]:
    """Parse repeated ``NAME=PATH`` option values."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise LwaUsageError(f"{option} expects NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out


def completion_workspace(ctx: Any) -> Workspace | None:
    """The workspace of the command line being completed (``-w``/``LWA_WORKSPACE`` or the
    default), or None when there is no context to read it from."""
    find_root = getattr(ctx, "find_root", None)
    if find_root is None:
        return None
    root = find_root()
    obj = getattr(root, "obj", None)
    if isinstance(obj, AppState):
        return obj.workspace
    path = (root.params or {}).get("workspace") or os.environ.get("LWA_WORKSPACE") \
        or "lwa-workspace"
    try:
        return Workspace(Path(path))
    except (OSError, RuntimeError, ValueError):
        return None


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):  # a repeatable option: the first one given
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of model names: the workspace's models (with features or results)
    first, then the registry's."""
    from lwa_cli.models.registry import REGISTRY
    from lwa_cli.workspace.names import stored_models

    ws = completion_workspace(ctx)
    names = dict.fromkeys([*(stored_models(ws) if ws else []), *REGISTRY])
    return [name for name in names if name.startswith(incomplete)]


def complete_layer(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of layer names: those stored for the ``--model`` given so far (read
    from its feature files), else those of its registry entry (or the largest one)."""
    from lwa_cli.models.layers import is_conv
    from lwa_cli.models.registry import layer_choices
    from lwa_cli.workspace.names import stored_layers

    model = _first((getattr(ctx, "params", None) or {}).get("model"))
    ws = completion_workspace(ctx)
    stored = stored_layers(ws, model) if ws is not None and model else []
    if stored:
        groups = ["all", "C", "T"] if any(is_conv(n) for n in stored) else ["all", "T"]
        names = groups + stored
    else:
        names = layer_choices(model)
    return [name for name in names if name.startswith(incomplete)]


def complete_split(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of split names: the workspace's (``sts`` too once prepared), then
    the real and virtual splits lwa knows."""
    from lwa_cli.data.corpus import SPLITS, VIRTUAL_SPLITS
    from lwa_cli.workspace.names import stored_splits

    ws = completion_workspace(ctx)
    names = dict.fromkeys([*(stored_splits(ws) if ws else []), *SPLITS, *VIRTUAL_SPLITS])
    return [s for s in names if s.startswith(incomplete)]


def complete_sample(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of sample names drawn in the workspace (of the ``--split`` given)."""
    from lwa_cli.workspace.names import stored_samples

    ws = completion_workspace(ctx)
    split = _first((getattr(ctx, "params", None) or {}).get("split"))
    names = stored_samples(ws, split) if ws else []
    return [s for s in names if s.startswith(incomplete)]


def complete_from(options: tuple[str, ...]):
    """Shell completion from a fixed list of choices."""
    return lambda incomplete: [o for o in options if o.startswith(incomplete)]


# Options that many commands share, declared here only: one flag, one default and one help
# frame everywhere; a command says what its value applies to.
LAYER_HELP = "Layers: T4, C3, T0-T6, T, C, all (any case); repeatable, comma-separated"


def model_option(help: str = "Model name: a registry name (see `lwa models`) or your own.",
                 ) -> Any:
    """``--model NAME`` (required)."""
    return typer.Option(..., "--model", autocompletion=complete_model, help=help)


def model_filter_option() -> Any:
    """``--model NAME`` as a repeatable filter of stored results."""
    return typer.Option([], "--model", autocompletion=complete_model,
                        help="Only this model (repeatable).")


def sample_filter_option() -> Any:
    """``--sample NAME`` as a repeatable filter of stored data."""
    return typer.Option([], "--sample", help="Only this sample (repeatable).")


def split_option(default: Any = None,
                 help: str = "Split (or virtual split train-clean / train).") -> Any:
    """``--split`` (required without a default; a list default makes it repeatable)."""
    return typer.Option(... if default is None else default, "--split",
                        autocompletion=complete_split, help=help)


def layer_option(default: Any = None, help: str = f"{LAYER_HELP} (default: all extracted).",
                 ) -> Any:
    """``--layer`` in the vocabulary of `lwa_cli.models.layers` (repeatable by default)."""
    return typer.Option([] if default is None else default, "--layer",
                        autocompletion=complete_layer, help=help)


def from_option() -> Any:
    """``--from WS`` (repeatable): gather stored results from these workspaces instead of -w."""
    return typer.Option([], "--from", metavar="WORKSPACE",
                        help="Gather results from this workspace instead of --workspace "
                             "(repeatable: one set across workspaces; a model in several "
                             "must have the same weights).")


def workspaces_of(ctx: typer.Context, sources: list[Path]) -> Workspace | list[Workspace]:
    """The global workspace, or the ``--from`` workspaces when any are given."""
    st = state(ctx)
    if not sources:
        return st.workspace
    return [Workspace(path, wait=st.workspace.wait) for path in sources]


def seed_option(of: str) -> Any:
    """``--seed`` (default 0) of the random draw `of`, e.g. ``"the k-means runs"``."""
    return typer.Option(0, "--seed", help=f"Random seed of {of}; the same seed gives the same "
                                          "output.")


def force_option(help: str = "Recompute results even when stored ones are current.") -> Any:
    """``--force``: redo (and replace) what is stored; `help` says what it replaces."""
    return typer.Option(False, "--force", help=help)


def train_eval_split_options(train_help: str, eval_help: str) -> tuple[Any, Any]:
    """``--train-split`` (default train-clean) and ``--eval-split`` (default dev-clean)."""
    return (typer.Option("train-clean", "--train-split", autocompletion=complete_split,
                         help=train_help),
            typer.Option("dev-clean", "--eval-split", autocompletion=complete_split,
                         help=eval_help))


SAMPLE_OPT = typer.Option("1", "--sample", autocompletion=complete_sample,
                          help="Name of the sample (e.g. 1, 2 for resamples).")
LAYER_OPT = layer_option()
JSON_OPT = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
FORCE_RESULTS_OPT = force_option()
DEVICE_OPT = typer.Option("auto", "--device",
                          help="auto (cuda if available, else cpu), cpu, cuda, cuda:1, …")


def cached_note(records: list[dict]) -> str | None:
    """A status line saying how many of the layers were reused, or None if none were."""
    cached = sum(1 for r in records if r.get("cached"))
    if not cached:
        return None
    return (f"{cached} of {len(records)} layer(s) reused from stored results (current "
            "provenance; --force recomputes)")

"""The `lwa` command: global options, error handling, and registration of the commands.

The CLI is thin: each command parses its options, calls the Python API and prints. The exit
codes are a contract: 0 success (``--help`` included, also when its reader closes the pipe),
1 a failure the user can act on (`LwaError`, one line on stderr), 2 a wrong command line
(click's usage line and hint), 130 interrupted, 141 stdout closed by its reader (as a shell
reports a tool ended by SIGPIPE; nothing printed); "internal error" is reserved for genuine
bugs (traceback with ``--debug``). Messages are literal (see `cli.common.LITERAL`).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import typer
from rich.text import Text

from lwa_cli import __version__
from lwa_cli.cli import abx as abx_cmds
from lwa_cli.cli import analysis as analysis_cmds
from lwa_cli.cli import awd_sts as awd_sts_cmds
from lwa_cli.cli import cca as cca_cmds
from lwa_cli.cli import clean as clean_cmds
from lwa_cli.cli import data as data_cmds
from lwa_cli.cli import demo as demo_cmds
from lwa_cli.cli import features as feature_cmds
from lwa_cli.cli import models as model_cmds
from lwa_cli.cli import probe as probe_cmds
from lwa_cli.cli import report as report_cmds
from lwa_cli.cli import results as results_cmds
from lwa_cli.cli import segment as segment_cmds
from lwa_cli.cli import similarity as similarity_cmds
from lwa_cli.cli import status as status_cmds
from lwa_cli.cli.common import (
    AppState,
    LwaCommand,
    PlainFlagsGroup,
    cli_error,
    closed_pipe_exit,
    err_console,
    is_closed_pipe,
    labelled,
)
from lwa_cli.cli.compat import PASSTHROUGH, UsageError
from lwa_cli.errors import LwaError
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.core import StorageError, storage_error

# Global options and whether they take a value; accepted after the subcommand too.
GLOBAL_OPTIONS = {"--workspace": True, "-w": True, "--quiet": False, "-q": False,
                  "--debug": False, "--wait": False, "--threads": True}


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options that follow the subcommand to the front, where click wants them.

    ``lwa cca mel --model m -q`` becomes ``lwa -q cca mel --model m``. Everything after a
    ``--`` is left alone.
    """
    front: list[str] = []
    rest: list[str] = []
    i, seen_command = 0, False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            width = 2 if GLOBAL_OPTIONS[name] and "=" not in arg else 1
            (front if seen_command else rest).extend(args[i:i + width])
            i += width
            continue
        seen_command = seen_command or not arg.startswith("-")
        rest.append(arg)
        i += 1
    return front + rest


class LwaGroup(PlainFlagsGroup):
    """Keeps the exit-code contract whatever typer/click version is installed."""

    def parse_args(self, ctx, args):  # noqa: D401 - click API
        ctx.meta["lwa_args"] = list(args)  # the command line, for a log's header
        args = hoist_global_options(list(args))
        given = [a for a in args[:args.index("--") if "--" in args else len(args)]
                 if a.split("=", 1)[0] in ("-w", "--workspace")]
        if len(given) > 1:  # click would silently keep the last one
            raise UsageError("--workspace/-w given more than once; to gather results "
                             "from several workspaces use `lwa report --from A --from B` "
                             "(or `lwa results --from ...`)", ctx=ctx)
        return super().parse_args(ctx, args)

    def _main_shell_completion(self, ctx_args, prog_name, complete_var=None):
        from lwa_cli.cli.completion import register

        register()  # after typer's classes: fish leaves path values to fish
        return super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def invoke(self, ctx):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except PASSTHROUGH:  # --help, usage errors, aborts: click/typer print and exit
            raise
        except LwaError as exc:
            _fail(ctx, cli_error(exc))  # API parameter names -> this command's flags
        except KeyboardInterrupt:
            err_console.print(Text("interrupted", style="red"))
            raise typer.Exit(130) from None
        except (BrokenPipeError, SystemExit) as exc:  # stdout's reader went away (`| head -1`)
            if not is_closed_pipe(exc):
                raise
            closed_pipe_exit()
        except OSError as exc:
            err = storage_error(exc, getattr(exc, "filename", None) or ".")
            _fail(ctx, err or exc, internal=err is None)
        except Exception as exc:  # a bug: one line unless --debug
            _fail(ctx, exc, internal=True)


def _fail(ctx, exc: BaseException, internal: bool = False):
    if _debug(ctx):
        raise exc
    if internal:
        err_console.print(labelled("internal error:", "red", f"{type(exc).__name__}: {exc} "
                                   "(rerun with --debug for the traceback)"),
                          highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    err_console.print(labelled("error:", "red", exc), highlight=False, soft_wrap=True)
    if isinstance(exc, StorageError) and exc.hdf5_broken:
        # HDF5 cannot close a file after a failed write and would crash at exit: end here,
        # with the message out and a plain exit code (the partial file keeps finished work).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    raise typer.Exit(getattr(exc, "exit_code", 1)) from None


def _debug(ctx) -> bool:
    return bool(getattr(ctx.obj, "debug", False))


app = typer.Typer(
    name="lwa",
    cls=LwaGroup,
    help="Layer-wise analysis of self-supervised speech models: what each layer encodes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lwa {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    workspace: Path = typer.Option(
        Path("lwa-workspace"), "--workspace", "-w", envvar="LWA_WORKSPACE",
        help="Workspace directory holding alignments, samples, features and results.",
        show_default=True),
    quiet: bool = typer.Option(False, "--quiet", "-q",
                               help="Print errors and data only (no progress, status or "
                                    "warnings)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    wait: bool = typer.Option(False, "--wait",
                              help="Wait for another lwa process that holds a file instead of "
                                   "failing at once."),
    threads: int = typer.Option(None, "--threads", envvar="LWA_THREADS", min=1,
                                help="Cap torch, BLAS and OpenMP threads (for parallel runs)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Layer-wise analysis of self-supervised speech models: what each layer encodes."""
    if threads:
        from lwa_cli.threads import limit_threads

        limit_threads(threads)
    ws = Workspace(workspace, wait=wait)
    ctx.obj = AppState(workspace=ws, quiet=quiet, debug=debug,
                       header=log_header(ctx.meta.get("lwa_args", []), ws))


def log_header(args: list[str], ws: Workspace) -> str:
    """One line saying what runs: ``lwa 0.5.0 | lwa cca phone --model m | workspace /ws``."""
    return f"lwa {__version__} | lwa {shlex.join(args)} | workspace {ws.root}"


# A command is registered here only once it works end to end.
app.command("prepare-alignments", cls=LwaCommand)(data_cmds.prepare_alignments)
app.add_typer(data_cmds.sample_app, name="sample")
app.add_typer(demo_cmds.demo_app, name="demo")
app.command("models", cls=LwaCommand)(model_cmds.models)
app.command("extract", cls=LwaCommand)(feature_cmds.extract)
app.command("combine", cls=LwaCommand)(feature_cmds.combine)
app.add_typer(analysis_cmds.embeddings_app, name="embeddings")
app.command("cca", cls=LwaCommand)(cca_cmds.cca)
app.command("similarity", cls=LwaCommand)(similarity_cmds.similarity)
app.command("mi", cls=LwaCommand)(analysis_cmds.mi)
app.command("wordsim", cls=LwaCommand)(analysis_cmds.wordsim)
app.add_typer(segment_cmds.segment_app, name="segment")
app.command("abx", cls=LwaCommand)(abx_cmds.abx)
app.command("awd", cls=LwaCommand)(awd_sts_cmds.awd)
app.command("prepare-sts", cls=LwaCommand)(awd_sts_cmds.prepare_sts)
app.command("sts", cls=LwaCommand)(awd_sts_cmds.sts)
app.command("probe", cls=LwaCommand)(probe_cmds.probe)
app.command("report", cls=LwaCommand)(report_cmds.report)
app.command("results", cls=LwaCommand)(results_cmds.results)
app.command("status", cls=LwaCommand)(status_cmds.status)
app.add_typer(clean_cmds.clean_app, name="clean")


def run() -> None:
    """Console-script entry point."""
    app(prog_name="lwa")

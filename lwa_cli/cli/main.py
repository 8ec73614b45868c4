"""The `lwa` command: global options, error handling, and registration of the commands.

The CLI is thin: each command parses its options, calls the Python API and prints. Errors
the user can act on (`LwaError`) become one line and an exit code (1 failure, 2 usage);
a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

from pathlib import Path

import click
import typer
from typer.core import TyperGroup

from lwa_cli import __version__
from lwa_cli.cli import analysis as analysis_cmds
from lwa_cli.cli import cca as cca_cmds
from lwa_cli.cli import data as data_cmds
from lwa_cli.cli import demo as demo_cmds
from lwa_cli.cli import features as feature_cmds
from lwa_cli.cli import models as model_cmds
from lwa_cli.cli import report as report_cmds
from lwa_cli.cli.common import AppState, err_console
from lwa_cli.errors import LwaError
from lwa_cli.workspace import Workspace


class LwaGroup(TyperGroup):
    """Turns LwaError (and unexpected errors, unless --debug) into one clear line."""

    def invoke(self, ctx: click.Context):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except LwaError as exc:
            if _debug(ctx):
                raise
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/red]")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: one line unless --debug
            if _debug(ctx):
                raise
            err_console.print(
                f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
                "(rerun with --debug for the traceback)", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


def _debug(ctx: click.Context) -> bool:
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or status lines."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    ctx.obj = AppState(workspace=Workspace(workspace), quiet=quiet, debug=debug)


# A command is registered here only once it works end to end.
app.command("prepare-alignments")(data_cmds.prepare_alignments)
app.add_typer(data_cmds.sample_app, name="sample")
app.add_typer(demo_cmds.demo_app, name="demo")
app.command("models")(model_cmds.models)
app.command("extract")(feature_cmds.extract)
app.command("combine")(feature_cmds.combine)
app.add_typer(analysis_cmds.embeddings_app, name="embeddings")
app.command("cca")(cca_cmds.cca)
app.command("mi")(analysis_cmds.mi)
app.command("wordsim")(analysis_cmds.wordsim)
app.command("report")(report_cmds.report)


def run() -> None:
    """Console-script entry point."""
    app()

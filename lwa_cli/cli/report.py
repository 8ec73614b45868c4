"""`lwa report`: the stored results as a table, CSV/JSON, plots and an HTML page."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.cli.common import JSON_OPT, complete_model, out_console, print_json, state


def _complete_analysis(incomplete: str) -> list[str]:
    """Shell completion of analysis names."""
    from lwa_cli.report.plots import TITLES

    return [name for name in TITLES if name.startswith(incomplete)]


def _number(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.4f}"


def report_table(rows: list[dict]) -> Table:
    """A rich table of aggregated rows; split and variant columns only when they differ."""
    from lwa_cli.report.table import short_variants

    short = short_variants(rows)
    show_split = len({r["split"] for r in rows}) > 1
    show_variant = any(short[(r["analysis"], r["variant"])] for r in rows)
    table = Table(title="layer-wise results (mean ± std over samples and iterations)")
    # Names fold rather than end in "…" on a narrow terminal: a cut name is ambiguous.
    table.add_column("model", overflow="fold")
    table.add_column("analysis", overflow="fold")
    if show_split:
        table.add_column("split", overflow="fold")
    if show_variant:
        table.add_column("variant", overflow="fold")
    table.add_column("layer", no_wrap=True)
    for col in ("mean", "std", "n"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        cells = [r["model"], r["analysis"]]
        if show_split:
            cells.append(r["split"])
        if show_variant:
            cells.append(short[(r["analysis"], r["variant"])])
        cells += [r["layer"], _number(r["mean"]), _number(r["std"]), str(r["n"])]
        table.add_row(*cells)
    return table


def report(ctx: typer.Context,
           out: Path = typer.Option(None, "--out", "-o",
                                    help="Report directory (default: <workspace>/report)."),
           model: list[str] = typer.Option([], "--model", autocompletion=complete_model,
                                           help="Report only this model (repeatable)."),
           analysis: list[str] = typer.Option([], "--analysis",
                                              autocompletion=_complete_analysis,
                                              help="Report only this analysis, e.g. cca-mel "
                                                   "(repeatable)."),
           depth: bool = typer.Option(False, "--depth",
                                      help="Plot against normalised depth (0..1 per model) "
                                           "instead of layer names."),
           as_json: bool = JSON_OPT) -> None:
    """Gather stored results: table, results.csv/.json, a plot per analysis and index.html."""
    st = state(ctx)
    from lwa_cli.report import build_report

    summary = build_report(st.workspace, out or st.workspace.root / "report",
                           models=model or None, analyses=analysis or None,
                           normalise_depth=depth, reporter=st.reporter)
    if as_json:
        print_json(summary.to_dict())
        return
    out_console.print(report_table(summary.rows))
    st.say(f"report: {summary.html}")
    st.say(f"tables: {summary.csv}, {summary.json}")

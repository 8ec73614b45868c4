"""`lwa report`: the stored results as a table, CSV/JSON, plots and an HTML page."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.choices import ANALYSIS_NAMES
from lwa_cli.cli.common import (
    JSON_OPT,
    complete_from,
    from_option,
    model_filter_option,
    out_console,
    print_json,
    state,
    workspaces_of,
)
from lwa_cli.errors import LwaUsageError
from lwa_cli.progress import plural


def _number(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.4f}"


def report_table(rows: list[dict]) -> Table:
    """A rich table of the aggregated scores (see `lwa results` for every measure)."""
    from lwa_cli.report.table import short_variants

    rows = [r for r in rows if r.get("measure", "score") == "score"]
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


def _pairs(values: list[str], option: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` texts → pairs (a usage error names the option and the text)."""
    out = []
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key or not value:
            raise LwaUsageError(f"{option} {text!r}: expected KEY=VALUE")
        out.append((key, value))
    return out


def parse_ylims(values: list[str]) -> dict[str, tuple[float, float]]:
    """``cca-mel=0:1`` / ``wordsim:macro=-0.1:0.5`` → {key: (lo, hi)}."""
    out = {}
    for key, value in _pairs(values, "--ylim"):
        lo, sep, hi = value.partition(":")
        try:
            low, high = float(lo), float(hi)
        except ValueError:
            low = high = math.nan
        if not sep or not (low < high):
            raise LwaUsageError(f"--ylim {key}={value}: expected LO:HI with LO < HI")
        out[key] = (low, high)
    return out


def parse_baselines(values: list[str]) -> dict[str, list[tuple[str, float]]]:
    """``wordsim=GloVe:0.41`` → {"wordsim": [("GloVe", 0.41)]} (the value after the last ``:``)."""
    out: dict[str, list[tuple[str, float]]] = {}
    for key, value in _pairs(values, "--baseline"):
        label, sep, number = value.rpartition(":")
        try:
            level = float(number)
        except ValueError:
            level = math.nan
        if not sep or not label or not math.isfinite(level):
            raise LwaUsageError(f"--baseline {key}={value}: expected ANALYSIS=LABEL:VALUE")
        out.setdefault(key, []).append((label, level))
    return out


def report(ctx: typer.Context,
           out: Path = typer.Option(None, "--out", "-o",
                                    help="Report directory (default: <workspace>/report)."),
           model: list[str] = model_filter_option(),
           analysis: list[str] = typer.Option([], "--analysis",
                                              autocompletion=complete_from(ANALYSIS_NAMES),
                                              help="Report only this analysis, e.g. cca-mel "
                                                   "(repeatable)."),
           fmt: str = typer.Option("png", "--format", help="Figure format: png, pdf or svg.",
                                   autocompletion=complete_from(("png", "pdf", "svg"))),
           dpi: int = typer.Option(150, "--dpi", min=1, help="Figure resolution (dots/inch)."),
           ylim: list[str] = typer.Option([], "--ylim",
                                          help="Fixed y range, e.g. cca-mel=0:1 or "
                                               "wordsim:macro=0:0.6 (repeatable)."),
           names: Path = typer.Option(None, "--names",
                                      help="File of `model = Display name` lines for "
                                           "legends and titles."),
           baseline: list[str] = typer.Option([], "--baseline",
                                              help="Reference line, e.g. "
                                                   "wordsim=GloVe:0.41 (repeatable)."),
           width: str = typer.Option("page", "--width",
                                     autocompletion=complete_from(("column", "page")),
                                     help="Print width of the figures: column (3.3 in) or "
                                          "page (7 in)."),
           colors: list[str] = typer.Option([], "--colors",
                                            help="Pin a model's colour, e.g. "
                                                 "hubert_base=#0072B2 (repeatable)."),
           table: bool = typer.Option(False, "--table",
                                      help="Print the table of results on stdout (the paths "
                                           "written go to stderr then)."),
           as_json: bool = JSON_OPT,
           sources: list[Path] = from_option()) -> None:
    """Gather stored results: results.csv/.json, figures (+ figures.json), index.html.

    Prints the paths written on stdout, the page first (`--table`: the results instead).
    `--from A --from B` reports the results of several workspaces together.
    """
    st = state(ctx)
    spaces = workspaces_of(ctx, sources)
    if out is None and isinstance(spaces, list) and len(spaces) > 1:
        raise LwaUsageError("--out is needed with several --from workspaces")
    from lwa_cli.report import build_report
    from lwa_cli.report.analyses import load_names
    from lwa_cli.report.figures import FORMATS
    from lwa_cli.report.style import parse_colours, width_preset

    if fmt not in FORMATS:
        raise LwaUsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    width_preset(width)  # a usage error before any work
    first = spaces if not isinstance(spaces, list) else spaces[0]
    summary = build_report(spaces, out or first.root / "report",
                           models=model or None, analyses=analysis or None, fmt=fmt, dpi=dpi,
                           ylims=parse_ylims(ylim), baselines=parse_baselines(baseline),
                           names=load_names(names) if names else None, width=width,
                           colours=parse_colours(colors), reporter=st.reporter)
    if as_json:
        print_json(summary.to_dict())
        return
    paths = [summary.html, summary.csv, summary.json, summary.figures,
             *summary.plots.values()]
    models = {r["model"] for r in summary.rows}
    analyses = {r["analysis"] for r in summary.rows}
    st.say(f"report of {plural(summary.n_records, 'result')} ({plural(len(models), 'model')}, "
           f"{plural(len(analyses), 'analysis')}): {plural(len(summary.plots), 'figure')} "
           f"in {summary.out_dir}")
    if table:
        out_console.print(report_table(summary.rows))
        for path in paths:
            st.say(str(path))
    else:
        for path in paths:
            typer.echo(str(path))

"""`lwa results`: print stored results (mean ± std per layer) without writing any file."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.choices import ANALYSIS_NAMES
from lwa_cli.cli.common import (
    JSON_OPT,
    LAYER_HELP,
    complete_from,
    from_option,
    layer_option,
    model_filter_option,
    out_console,
    split_option,
    state,
    workspaces_of,
)
from lwa_cli.errors import LwaUsageError


def _number(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.4f}"


def results_table(rows: list[dict]) -> Table:
    """A rich table of aggregated rows; split, variant and measure columns only when they
    tell rows apart, the CV-trial spread only when there is one."""
    from lwa_cli.report.table import short_variants

    short = short_variants(rows)
    show = {"split": len({r["split"] for r in rows}) > 1,
            "variant": any(short[(r["analysis"], r["variant"])] for r in rows),
            "measure": any(r["measure"] != "score" for r in rows),
            "trial_std": any(r.get("trial_std") is not None for r in rows)}
    table = Table(title="layer-wise results (mean ± std over samples and iterations)")
    # Names fold rather than end in "…" on a narrow terminal: a cut name is ambiguous.
    for col in ("model", "analysis", "split", "variant", "measure"):
        if col in ("model", "analysis") or show[col]:
            table.add_column(col, overflow="fold")
    table.add_column("layer", no_wrap=True)
    for col in ("mean", "std", "n"):
        table.add_column(col, justify="right", no_wrap=True)
    if show["trial_std"]:
        table.add_column("CV trial std", justify="right", no_wrap=True)
    for r in rows:
        cells = [r["model"], r["analysis"]]
        if show["split"]:
            cells.append(r["split"])
        if show["variant"]:
            cells.append(short[(r["analysis"], r["variant"])])
        if show["measure"]:
            cells.append(r["measure"])
        cells += [r["layer"], _number(r["mean"]), _number(r["std"]), str(r["n"])]
        if show["trial_std"]:
            cells.append(_number(r.get("trial_std")))
        table.add_row(*cells)
    return table


def results(ctx: typer.Context,
            model: list[str] = model_filter_option(),
            analysis: list[str] = typer.Option([], "--analysis",
                                               autocompletion=complete_from(ANALYSIS_NAMES),
                                               help="Only this analysis, e.g. cca-mel "
                                                    "(repeatable)."),
            split: list[str] = split_option([], "Only this split (repeatable)."),
            layer: list[str] = layer_option(help=f"Only these stored layers. {LAYER_HELP}."),
            measure: list[str] = typer.Option([], "--measure",
                                              help="Only this measure: score, or e.g. macro "
                                                   "for wordsim (repeatable)."),
            fmt: str = typer.Option("table", "--format",
                                    help="Output: table, csv, tsv or json."),
            as_json: bool = JSON_OPT,
            sources: list[Path] = from_option()) -> None:
    """Print stored results: mean ± std over samples and iterations, n, CV-trial spread.

    Stale results (inputs changed since) are left out and counted on stderr, as in
    `lwa report`. `--json` is `--format json`.
    """
    from lwa_cli.results import FORMATS, format_summary, gather

    if fmt not in FORMATS:
        raise LwaUsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if as_json:
        if fmt not in ("table", "json"):
            raise LwaUsageError(f"--json and --format {fmt} ask for two outputs; give one")
        fmt = "json"
    st = state(ctx)
    spaces = workspaces_of(ctx, sources)
    got = gather(spaces, model=model or None, analysis=analysis or None,
                 split=split or None, layer=layer or None)
    rows = got.aggregated
    if measure:
        known = sorted({r["measure"] for r in rows})
        unknown = [m for m in measure if m not in known]
        if unknown:
            raise LwaUsageError(f"--measure {unknown[0]}: no such measure in these results "
                                f"(they have: {', '.join(known) or 'none'})")
        rows = [r for r in rows if r["measure"] in set(measure)]
    if got.stale:
        from lwa_cli.report.collect import stale_warning

        st.reporter.warn(stale_warning(spaces, got.stale, "these results"))
    if fmt == "table":
        out_console.print(results_table(rows))
    else:
        typer.echo(format_summary(rows, fmt), nl=False)

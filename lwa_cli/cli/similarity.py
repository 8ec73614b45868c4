"""`lwa similarity`: layer × layer similarity maps between two models."""

from __future__ import annotations

import typer
from rich.table import Table

from lwa_cli.choices import SIMILARITY_MEASURES
from lwa_cli.cli.common import (
    DEVICE_OPT,
    FORCE_RESULTS_OPT,
    JSON_OPT,
    LAYER_OPT,
    SAMPLE_OPT,
    cached_note,
    complete_from,
    complete_layer,
    complete_model,
    model_option,
    out_console,
    print_json,
    seed_option,
    split_option,
    state,
)


def similarity(ctx: typer.Context,
               model: str = model_option(),
               other_model: str = typer.Option(..., "--other-model", autocompletion=complete_model,
                                               help="Model B (may equal --model)."),
               split: str = split_option("dev-clean", "Split of the sample to score."),
               sample: str = SAMPLE_OPT,
               layer: list[str] = LAYER_OPT,
               other_layer: list[str] = typer.Option(
                   [], "--other-layer", autocompletion=complete_layer,
                   help="Layers of model B, as --layer (default: all extracted)."),
               measure: list[str] = typer.Option(
                   ["cka"], "--measure", autocompletion=complete_from(SIMILARITY_MEASURES),
                   help="pwcca | cka | cka-debiased | rsa | procrustes | mknn; repeatable."),
               span: str = typer.Option("frame", "--span",
                                        autocompletion=complete_from(("frame", "phone", "word",
                                                                      "utt")),
                                        help="Rows to pair: frame (same frame rate only) | "
                                             "phone | word | utt."),
               rsa_rows: int = typer.Option(2000, "--rsa-rows", min=3,
                                            help="rsa: seeded subsample of rows for the RDMs."),
               knn_rows: int = typer.Option(2000, "--knn-rows", min=2,
                                            help="mknn: seeded subsample of rows."),
               k: int = typer.Option(10, "--k", min=1, help="mknn: nearest neighbours."),
               alpha: float = typer.Option(1.0, "--procrustes-alpha", min=0.0, max=1.0,
                                           help="procrustes whitening: 1 none (shape "
                                                "metric), 0 full (CCA-like)."),
               seed: int = seed_option("the subsamples and CV splits"),
               device: str = DEVICE_OPT,
               force: bool = FORCE_RESULTS_OPT,
               as_json: bool = JSON_OPT) -> None:
    """Layer × layer similarity maps of two models (each layer of A vs each layer of B)."""
    from lwa_cli.pipeline.similarity import run_similarity

    st = state(ctx)
    records = run_similarity(st.workspace, model=model, other_model=other_model, split=split,
                             sample=sample, layers=layer, other_layers=other_layer,
                             measures=measure, span=span, rsa_rows=rsa_rows,
                             knn_rows=knn_rows, k=k, alpha=alpha, seed=seed, device=device,
                             force=force, reporter=st.reporter)
    if as_json:
        print_json(records)
        return
    for name in dict.fromkeys(r["metric"] for r in records):
        out_console.print(map_table(f"{name}: {model} (rows) × {other_model} (columns)",
                                    [r for r in records if r["metric"] == name]))
    if note := cached_note(records):
        st.say(note)


def map_table(title: str, records: list[dict]) -> Table:
    """One measure's records as a matrix: layers of A down, layers of B across."""
    rows = list(dict.fromkeys(r["layer"] for r in records))
    cols = list(dict.fromkeys(r["other_layer"] for r in records))
    value = {(r["layer"], r["other_layer"]): r["score"] for r in records}
    table = Table(title=title)
    table.add_column("")
    for c in cols:
        table.add_column(c, justify="right")
    for row in rows:
        table.add_row(row, *(f"{value[(row, c)]:.3f}" for c in cols))
    return table

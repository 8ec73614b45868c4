"""`lwa abx`: phone ABX error rate per layer (ZeroSpeech / Libri-Light protocol)."""

from __future__ import annotations

from pathlib import Path

import typer

from lwa_cli.cli.analysis import show_records
from lwa_cli.cli.common import (
    DEVICE_OPT,
    FORCE_RESULTS_OPT,
    JSON_OPT,
    LAYER_OPT,
    SAMPLE_OPT,
    complete_from,
    model_option,
    seed_option,
    split_option,
    state,
)

_SPEAKERS = ("within", "across", "both")
_CONTEXTS = ("within", "any")
_DISTANCES = ("angular", "euclidean", "kl")
_POOLINGS = ("none", "mean")


def abx(ctx: typer.Context,
        model: str = model_option(),
        split: str = split_option("dev-clean", "Split of the frame sample."),
        sample: str = SAMPLE_OPT,
        layer: list[str] = LAYER_OPT,
        speaker: str = typer.Option("both", "--speaker", autocompletion=complete_from(_SPEAKERS),
                                    help="within | across | both (one result each)."),
        context: str = typer.Option("within", "--context",
                                    autocompletion=complete_from(_CONTEXTS),
                                    help="within (same previous and next phone) | any."),
        distance: str = typer.Option("angular", "--distance",
                                     autocompletion=complete_from(_DISTANCES),
                                     help="angular (ZeroSpeech's cosine) | euclidean | kl."),
        pooling: str = typer.Option("none", "--pooling", autocompletion=complete_from(_POOLINGS),
                                    help="none (DTW over frames) | mean (one vector a token)."),
        max_size_group: int = typer.Option(10, "--max-size-group", min=1,
                                           help="Tokens drawn per A/B/X group at most."),
        max_x_across: int = typer.Option(5, "--max-x-across", min=1,
                                         help="Other speakers drawn per A group (across)."),
        seed: int = seed_option("the subsampling draws"),
        device: str = DEVICE_OPT,
        items: Path = typer.Option(None, "--items", exists=True, dir_okay=False,
                                   help="A Libri-Light .item file instead of the items built "
                                        "from the alignments."),
        force: bool = FORCE_RESULTS_OPT,
        as_json: bool = JSON_OPT) -> None:
    """Phone ABX error rate (%, lower is better) of each layer's frame features."""
    from lwa_cli.pipeline.abx import run_abx

    st = state(ctx)
    records = run_abx(st.workspace, model=model, split=split, sample=sample, layers=layer,
                      speaker=speaker, context=context, distance=distance, pooling=pooling,
                      max_size_group=max_size_group, max_x_across=max_x_across, seed=seed,
                      device=device, items_file=items, force=force, reporter=st.reporter)
    if as_json:
        show_records(ctx, records, True, "", [])
        return
    by_layer: dict[str, dict] = {}
    for r in records:
        row = by_layer.setdefault(r["layer"], {"layer": r["layer"], "cached": True})
        row[f"{r['speakers']} spk %"] = r["score"]
        row["tokens"] = r["n_tokens"]
        row["cached"] = row["cached"] and r.get("cached", False)
    columns = [f"{s} spk %" for s in (("within", "across") if speaker == "both" else (speaker,))]
    show_records(ctx, list(by_layer.values()), False,
                 f"phone ABX error rate, {model}, {split}/{sample} ({context} context, "
                 f"{distance}, pooling {pooling})", [*columns, "tokens"])

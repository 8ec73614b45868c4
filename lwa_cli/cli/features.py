"""`lwa extract` and `lwa combine`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from lwa_cli.choices import SPANS
from lwa_cli.cli.common import (
    complete_layer,
    complete_model,
    out_console,
    print_json,
    state,
)
from lwa_cli.cli.data import _complete_split


def _complete_span(incomplete: str) -> list[str]:
    return [s for s in SPANS if s.startswith(incomplete)]


def extract(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", autocompletion=complete_model,
                              help="Model name: a registry name (see `lwa models`) or your own."),
    checkpoint: Path = typer.Option(None, "--checkpoint",
                                    help="HF model directory or fairseq/unilm .pt file "
                                         "(not needed for *_random models)."),
    split: str = typer.Option(..., "--split", autocompletion=_complete_split),
    sample: str = typer.Option("1", "--sample", help="Name of the sample to extract."),
    span: str = typer.Option("frame", "--span", autocompletion=_complete_span,
                             help="frame | phone | word | wordsim"),
    rep: str = typer.Option("contextualized", "--rep",
                            help="contextualized (T layers) | local (conv layers + log-mel)"),
    layer: list[str] = typer.Option([], "--layer", autocompletion=complete_layer,
                                    help="Layers: T4, C3, T0-T6, T, C, all; repeatable."),
    dtype: str = typer.Option("float32", "--dtype", help="Storage type: float32 | float16."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:1 … (default: cuda "
                                                      "if available)."),
    shard: str = typer.Option(None, "--shard", help="Process shard i of n (i/n, 0-based)."),
    subset: int = typer.Option(None, "--subset", help="Process one subset of a token sample."),
    seed: int = typer.Option(0, "--seed", help="Weight seed of *_random models."),
    force: bool = typer.Option(False, "--force", help="Extract again even if done."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Extract layer-wise features of a model over a sample (resumable, shardable)."""
    from lwa_cli.pipeline.extract import extract_features, parse_shard

    st = state(ctx)
    summary = extract_features(
        st.workspace, model=model, checkpoint=checkpoint, split=split, sample=sample,
        span=span, rep=rep, layers=layer, dtype=dtype, device=device,
        shard=parse_shard(shard), subset=subset, force=force, seed=seed,
        reporter=st.reporter)
    if as_json:
        print_json(asdict(summary))
    elif summary.status == "exists":
        out_console.print(f"{summary.path} exists (use --force to extract again)")
    else:
        rate = summary.units_run / summary.wall_seconds if summary.wall_seconds else 0.0
        out_console.print(
            f"{summary.status} {summary.units_run} utterance(s), {summary.rows} rows × "
            f"{len(summary.layers)} layers ({summary.layers[0]}…{summary.layers[-1]}) in "
            f"{summary.wall_seconds:.1f} s ({rate:.1f} utt/s, "
            f"{summary.audio_seconds / max(summary.wall_seconds, 1e-9):.1f} audio-s/s) → "
            f"{summary.path}")


def combine(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", autocompletion=complete_model),
    split: str = typer.Option(..., "--split", autocompletion=_complete_split),
    sample: str = typer.Option("1", "--sample"),
    span: str = typer.Option("frame", "--span", autocompletion=_complete_span),
    rep: str = typer.Option("contextualized", "--rep"),
    keep_parts: bool = typer.Option(False, "--keep-parts", help="Keep the part files."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Merge shard/subset parts of an extraction into one feature file."""
    from lwa_cli.pipeline.combine import combine_features

    st = state(ctx)
    summary = combine_features(st.workspace, model=model, split=split, sample=sample,
                               span=span, rep=rep, keep_parts=keep_parts, reporter=st.reporter)
    if as_json:
        print_json(asdict(summary))
    else:
        out_console.print(f"combined {summary.parts} part(s), {summary.units} utterance "
                          f"block(s), {summary.rows} rows → {summary.path}")

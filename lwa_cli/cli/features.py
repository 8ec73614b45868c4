"""`lwa extract` and `lwa combine`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from lwa_cli.choices import REPS, SPANS
from lwa_cli.cli.common import (
    DEVICE_OPT,
    JSON_OPT,
    LAYER_HELP,
    SAMPLE_OPT,
    complete_from,
    force_option,
    layer_option,
    model_option,
    print_json,
    seed_option,
    split_option,
    state,
)

SPAN_OPT = typer.Option("frame", "--span", autocompletion=complete_from(SPANS),
                        help=" | ".join(SPANS))
SPANS_OPT = typer.Option(["frame"], "--span", autocompletion=complete_from(SPANS),
                         help=f"{' | '.join(SPANS)} (repeatable: the model is loaded once for "
                              "every split and span; --json then prints a list).")
REP_OPT = typer.Option("contextualized", "--rep", autocompletion=complete_from(REPS),
                       help="contextualized (T layers) | local (conv layers + log-mel)")


def extract(
    ctx: typer.Context,
    model: str = model_option(),
    checkpoint: Path = typer.Option(None, "--checkpoint",
                                    help="HF model directory, fairseq/unilm .pt file, "
                                         "FaST-VGS(+) directory (args.pkl, best_bundle.pth), "
                                         "AV-HuBERT .pt, or a hub id org/name[@revision] in "
                                         "the local HF cache (not needed for *_random)."),
    download: bool = typer.Option(False, "--download",
                                  help="Let a hub id missing from the local Hugging Face "
                                       "cache be downloaded."),
    split: list[str] = split_option(help="Split of the sample to extract (repeatable: every "
                                         "split with every span)."),
    sample: str = SAMPLE_OPT,
    span: list[str] = SPANS_OPT,
    rep: str = REP_OPT,
    layer: list[str] = layer_option(help=f"{LAYER_HELP} (default: T, or C with --rep local)."),
    dtype: str = typer.Option("float32", "--dtype", autocompletion=complete_from(
        ("float32", "float16")), help="Storage type: float32 | float16."),
    device: str = DEVICE_OPT,
    shard: str = typer.Option(None, "--shard", help="Process shard i of n (i/n, 0-based)."),
    subset: int = typer.Option(None, "--subset", min=0,
                               help="Process one subset of a token sample."),
    seed: int = seed_option("the weights of *_random models"),
    force: bool = force_option(help="Extract again even if done, replacing features from other "
                                    "weights."),
    new_model: bool = typer.Option(False, "--new-model",
                                   help="Extract under a name close to a registry or workspace "
                                        "model (otherwise refused as a likely typo)."),
    overlap: bool | None = typer.Option(
        None, "--overlap/--no-overlap", show_default=False,
        help="Read audio ahead and pool/write features behind the forward pass in two threads "
             "(same file either way; default: on a GPU, or with CPU cores beyond --threads)."),
    batch_seconds: float = typer.Option(
        None, "--batch-seconds", min=0,
        help="Padded audio seconds per forward pass for models certified exact when batched "
             "(0: one utterance at a time; default: 120 with --device cuda, 0 on the CPU)."),
    dtype_compute: str = typer.Option(
        "float32", "--dtype-compute", autocompletion=complete_from(
            ("float32", "float16", "bfloat16")),
        help="Forward-pass precision: float32 | float16 (GPU only) | bfloat16; its deviation "
             "from float32 is measured and recorded."),
    as_json: bool = JSON_OPT,
) -> None:
    """Extract layer-wise features of a model over samples (resumable, shardable)."""
    from lwa_cli.pipeline.extract import extract_many, parse_shard
    from lwa_cli.pipeline.extract_io import retain_freed_memory

    st = state(ctx)
    retain_freed_memory()  # this process is ours: keep freed activations for the next forward
    summaries = extract_many(
        st.workspace, model=model, checkpoint=checkpoint, splits=split, spans=span,
        sample=sample, rep=rep, layers=layer, dtype=dtype, device=device,
        shard=parse_shard(shard), subset=subset, force=force, seed=seed,
        reporter=st.reporter, download=download, new_model=new_model, overlap=overlap,
        batch_seconds=batch_seconds, dtype_compute=dtype_compute)
    if as_json:
        found = [asdict(s) for s in summaries]
        print_json(found[0] if len(found) == 1 else found)
        return
    for summary in summaries:
        if summary.status == "exists":
            st.say(f"{summary.path} exists and is current (--force extracts again)")
            continue
        rate = summary.units_run / summary.wall_seconds if summary.wall_seconds else 0.0
        st.say(f"{summary.status} {summary.units_run} utterance(s), {summary.rows} rows × "
               f"{len(summary.layers)} layers ({summary.layers[0]}…{summary.layers[-1]}) in "
               f"{summary.wall_seconds:.1f} s ({rate:.1f} utt/s, "
               f"{summary.audio_seconds / max(summary.wall_seconds, 1e-9):.1f} audio-s/s) → "
               f"{summary.path}")


def combine(
    ctx: typer.Context,
    model: str = model_option(),
    split: str = split_option(help="Split of the sample whose parts are merged."),
    sample: str = SAMPLE_OPT,
    span: str = SPAN_OPT,
    rep: str = REP_OPT,
    keep_parts: bool = typer.Option(False, "--keep-parts", help="Keep the part files."),
    as_json: bool = JSON_OPT,
) -> None:
    """Merge shard/subset parts of an extraction into one feature file."""
    from lwa_cli.pipeline.combine import combine_features

    st = state(ctx)
    summary = combine_features(st.workspace, model=model, split=split, sample=sample,
                               span=span, rep=rep, keep_parts=keep_parts, reporter=st.reporter)
    if as_json:
        print_json(asdict(summary))
    else:
        st.say(f"combined {summary.parts} part(s), {summary.units} utterance block(s), "
               f"{summary.rows} rows → {summary.path}")

"""`lwa segment tune|apply|reference|score`: training-free word segmentation per layer."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.choices import SEGMENT_MATCHINGS, SEGMENT_METRICS
from lwa_cli.cli.analysis import show_records
from lwa_cli.cli.common import (
    FORCE_RESULTS_OPT,
    JSON_OPT,
    LAYER_OPT,
    SAMPLE_OPT,
    LwaCommand,
    PlainFlagsGroup,
    complete_from,
    complete_split,
    flags_in,
    force_option,
    layer_option,
    model_option,
    out_console,
    print_json,
    split_option,
    state,
)

segment_app = typer.Typer(help="Unsupervised word segmentation from each layer's frame "
                               "features (peaks of frame dissimilarity).",
                          no_args_is_help=True, cls=PlainFlagsGroup)

MATCHING_OPT = typer.Option("reference", "--matching",
                            autocompletion=complete_from(SEGMENT_MATCHINGS),
                            help="reference (many-to-one, as published) | one-to-one "
                                 "(vqwordseg/ZeroSpeech).")
TOLERANCE_OPT = typer.Option(0.02, "--tolerance", min=0.0,
                             help="Boundary tolerance in seconds.")
OUT_FORCE_OPT = force_option(help="Replace the interval files already in --out.")


@segment_app.command("tune", cls=LwaCommand)
def tune(ctx: typer.Context,
         model: str = model_option(),
         split: str = split_option("dev-clean", "Split of the frame sample (prepared, with "
                                                "alignments)."),
         sample: str = SAMPLE_OPT,
         layer: list[str] = LAYER_OPT,
         grid: Path = typer.Option(None, "--grid", help="JSON grid file {\"prominence\": [...], "
                                   "\"metric\": [...], \"window\": [...]} (default: the "
                                   "reference's 15 x 2 x 6 grid)."),
         matching: str = MATCHING_OPT,
         tolerance: float = TOLERANCE_OPT,
         force: bool = FORCE_RESULTS_OPT,
         as_json: bool = JSON_OPT) -> None:
    """Grid-search prominence, metric and window per layer against the word alignments."""
    from lwa_cli.data.grid_file import read_grid_file
    from lwa_cli.pipeline.segment import run_segment_tune

    st = state(ctx)
    records = run_segment_tune(st.workspace, model=model, split=split, sample=sample,
                               layers=layer, grid=read_grid_file(grid) if grid else None,
                               matching=matching, tolerance=tolerance, force=force,
                               reporter=st.reporter)
    rows = records if as_json else [{**r, "best_prominence": f"{r['best_prominence']:g}"}
                                    for r in records]
    show_records(ctx, rows, as_json, f"word segmentation ({matching} matching, ±"
                 f"{tolerance * 1000:g} ms), {model}",
                 ["best_metric", "best_window", "best_prominence", "precision", "recall", "f1",
                  "r_value"])


@segment_app.command("apply", cls=LwaCommand)
def apply(ctx: typer.Context,
          model: str = model_option(),
          split: str = split_option(help="Split of the frame sample to segment (any corpus)."),
          sample: str = SAMPLE_OPT,
          layer: str = layer_option(..., "The one layer to segment with, e.g. T8."),
          prominence: float = typer.Option(None, "--prominence",
                                           help="Peak prominence threshold (>= 0)."),
          metric: str = typer.Option(None, "--metric",
                                     autocompletion=complete_from(SEGMENT_METRICS),
                                     help="Frame dissimilarity: euclidean | cosine."),
          window: int = typer.Option(None, "--window", help="Moving-mean window in frames."),
          from_tune: bool = typer.Option(False, "--from-tune",
                                         help="Use the best configuration of the layer's "
                                              "stored `segment tune` result."),
          tune_split: str = typer.Option(None, "--tune-split", autocompletion=complete_split,
                                         help="Split of the tune result (default: --split)."),
          tune_sample: str = typer.Option(None, "--tune-sample",
                                          help="Sample of the tune result (default: --sample)."),
          matching: str = typer.Option("reference", "--matching",
                                       autocompletion=complete_from(SEGMENT_MATCHINGS),
                                       help="With --from-tune: the tune result's matching."),
          tolerance: float = typer.Option(0.02, "--tolerance", min=0.0,
                                          help="With --from-tune: the tune result's boundary "
                                               "tolerance in seconds."),
          out: Path = typer.Option(..., "--out", help="Folder for <utt_id>.txt interval files "
                                   "and segmentation.json."),
          force: bool = OUT_FORCE_OPT,
          as_json: bool = JSON_OPT) -> None:
    """Write word boundaries of every utterance as vqwordseg interval files."""
    from lwa_cli.pipeline.segment.files import run_segment_apply, summary_dict

    st = state(ctx)
    summary = run_segment_apply(st.workspace, model=model, split=split, sample=sample,
                                layer=layer, out=out, prominence=prominence, metric=metric,
                                window=window, from_tune=from_tune, tune_split=tune_split,
                                tune_sample=tune_sample, matching=matching,
                                tolerance=tolerance, force=force, reporter=st.reporter)
    _show_summary(summary_dict(summary), as_json, f"segmentation of {split} sample {sample}")


@segment_app.command("reference", cls=LwaCommand)
def reference(ctx: typer.Context,
              split: str = split_option("dev-clean", "Prepared split of the frame sample."),
              sample: str = SAMPLE_OPT,
              out: Path = typer.Option(..., "--out", help="Folder for <utt_id>.txt word "
                                       "interval files."),
              force: bool = OUT_FORCE_OPT,
              as_json: bool = JSON_OPT) -> None:
    """Write a frame sample's aligned words as reference interval files (for `score`)."""
    from lwa_cli.pipeline.segment.files import summary_dict, write_reference_intervals

    st = state(ctx)
    summary = write_reference_intervals(st.workspace, split=split, sample=sample, out=out,
                                        force=force, reporter=st.reporter)
    _show_summary(summary_dict(summary), as_json, f"reference intervals of {split} sample "
                  f"{sample}")


def _show_summary(summary: dict, as_json: bool, title: str) -> None:
    if as_json:
        print_json(summary)
        return
    table = Table(title=title)
    table.add_column("field")
    table.add_column("value", justify="right")
    config = summary.pop("config")
    for key, value in {**summary, **{k: v for k, v in config.items() if k != "source"}}.items():
        table.add_row(key, f"{value:g}" if isinstance(value, float) else str(value))
    out_console.print(table)


@segment_app.command("score", cls=LwaCommand)
def score(ctx: typer.Context,
          ref: Path = typer.Option(..., "--ref", help="Folder of reference <utt_id>.txt "
                                   "interval files."),
          hyp: Path = typer.Option(..., "--hyp", help="Folder of hypothesis <utt_id>.txt "
                                   "interval files."),
          tolerance: float = typer.Option(0.02, "--tolerance",
                                          help="Boundary tolerance in seconds (vqwordseg: 0.02). "
                                               "A whole number ≥ 1 is read as 10 ms frames, the "
                                               "old unit, with a note."),
          allow_overlap: bool = typer.Option(False, "--allow-overlap",
                                             help="Score files with overlapping intervals "
                                                  "(refused by default) and count them."),
          as_json: bool = JSON_OPT) -> None:
    """vqwordseg word-boundary P/R/F/OS/R-value and word-token P/R/F of two folders."""
    from dataclasses import asdict

    from lwa_cli.data.intervals import FRAMES_PER_SECOND, score_interval_dirs
    from lwa_cli.pipeline.segment.files import interval_tolerance_frames

    st = state(ctx)
    frames, note = interval_tolerance_frames(tolerance)
    if note:
        st.reporter.warn(flags_in(note, ("tolerance",)))
    res = score_interval_dirs(ref, hyp, frames, allow_overlap=allow_overlap)
    if res.overlaps:
        st.reporter.warn(f"{res.overlaps} interval(s) overlap the previous one in the scored "
                         "files (accepted with --allow-overlap; only interval ends count)")
    seconds = frames / FRAMES_PER_SECOND
    if res.missing_ref:
        st.reporter.warn(f"{len(res.missing_ref)} hypothesis file(s) have no reference and were "
                         f"skipped (e.g. {res.missing_ref[0]})")
    if res.empty:
        st.reporter.warn(f"{len(res.empty)} utterance(s) with an empty file were skipped")
    if as_json:
        print_json({"boundary": asdict(res.boundary), "word_token": asdict(res.word_token),
                    "tolerance_frames": frames, "tolerance_s": seconds,
                    "utterances": len(res.utt_ids),
                    "missing_ref": list(res.missing_ref), "empty": list(res.empty),
                    "overlaps": res.overlaps})
        return
    table = Table(title=f"{hyp} against {ref} (±{seconds:g} s = {frames} frames, "
                        f"{len(res.utt_ids)} utterances)")
    for col in ("", "precision", "recall", "F", "OS", "R-value", "hyp", "ref", "matched"):
        table.add_column(col, justify="left" if not col else "right")
    for name, s in (("word boundaries", res.boundary), ("word tokens", res.word_token)):
        table.add_row(name, *(f"{v:.4f}" for v in (s.precision, s.recall, s.f1, s.os,
                                                    s.r_value)),
                      str(s.n_pred), str(s.n_ref), str(s.n_hit_pred))
    out_console.print(table)

"""`lwa awd`, `lwa prepare-sts` and `lwa sts`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.choices import AWD_DISTANCES
from lwa_cli.cli.analysis import show_records
from lwa_cli.cli.common import (
    FORCE_RESULTS_OPT,
    JSON_OPT,
    LAYER_OPT,
    SAMPLE_OPT,
    complete_from,
    force_option,
    model_option,
    out_console,
    print_json,
    seed_option,
    split_option,
    state,
)


def awd(ctx: typer.Context,
        model: str = model_option(),
        split: str = split_option("dev-clean", "Split of the word sample."),
        sample: str = SAMPLE_OPT,
        layer: list[str] = LAYER_OPT,
        distance: str = typer.Option("cosine", "--distance",
                                     autocompletion=complete_from(AWD_DISTANCES),
                                     help="cosine | euclidean"),
        mvn: bool = typer.Option(False, "--mvn",
                                 help="Standardise each dimension over the tokens first."),
        min_chars: int = typer.Option(0, "--min-chars", min=0,
                                      help="Keep words of at least N characters (Carlin et "
                                           "al.: 6)."),
        min_seconds: float = typer.Option(0.0, "--min-seconds", min=0.0,
                                          help="Keep tokens at least S seconds long (Carlin "
                                               "et al.: 0.5)."),
        max_per_word: int = typer.Option(None, "--max-per-word", min=1,
                                         help="Keep at most K random tokens of each word."),
        seed: int = seed_option("the --max-per-word draw"),
        speakers: str = typer.Option("all", "--speakers",
                                     autocompletion=complete_from(("all", "different", "same")),
                                     help="Same-word pairs counted as positives: all, only "
                                          "from different speakers, or from the same one."),
        force: bool = FORCE_RESULTS_OPT,
        as_json: bool = JSON_OPT) -> None:
    """Acoustic word discrimination: same-different average precision of word segments."""
    from lwa_cli.pipeline.awd import run_awd

    st = state(ctx)
    records = run_awd(st.workspace, model=model, split=split, sample=sample, layers=layer,
                      distance=distance, mvn=mvn, min_chars=min_chars,
                      min_seconds=min_seconds, max_per_word=max_per_word, seed=seed,
                      speaker_pairs=speakers, force=force, reporter=st.reporter)
    rows = [{**r, "AP": r["ap"], "PRB": r["prb"], "AP ties min": r["ap_ties_min"],
             "AP ties max": r["ap_ties_max"], "N": r["n"], "same pairs": r["same_pairs"]}
            for r in records]
    what = f"{distance}{', MVN' if mvn else ''}, tokens: {records[0]['token_filter']}" \
        + ("" if speakers == "all" else f", same-word pairs: {speakers} speakers") \
        if records else distance
    show_records(ctx, records if as_json else rows, as_json,
                 f"same-different AP, word, {model} ({what})",
                 ["AP", "PRB", "AP ties min", "AP ties max", "N", "pairs", "same pairs",
                  "types"])


def prepare_sts(ctx: typer.Context,
                source: Path = typer.Option(..., "--from",
                                            help="Directory of juice500/spoken_sts parquet "
                                                 "shards, a .parquet file, or a TSV manifest."),
                name: str = typer.Option(..., "--name",
                                         help="Name of the set in the workspace (--pairs of "
                                              "`lwa sts`)."),
                score_note: str = typer.Option(None, "--score-note",
                                               help="What the similarity scores are (default: "
                                                    "human judgements from the source)."),
                force: bool = force_option(help="Replace a set of this name from another "
                                                "source (deletes its features and results)."),
                as_json: bool = JSON_OPT) -> None:
    """Read a spoken STS set offline (parquet or TSV) into the workspace, with a utt sample."""
    from lwa_cli.pipeline.sts.prepare import prepare_sts as run_prepare

    st = state(ctx)
    summary = run_prepare(st.workspace, source, name, score_note=score_note, force=force,
                          reporter=st.reporter)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"STS set {name!r}")
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    out_console.print(table)
    st.say(f"next: `lwa extract --model M --checkpoint CKPT --split sts --sample {name} "
           f"--span utt --layer all`, then `lwa sts --model M --pairs {name}`")


def sts(ctx: typer.Context,
        model: str = model_option(),
        pairs: str = typer.Option(..., "--pairs", help="Name of a set stored by `lwa "
                                                       "prepare-sts`."),
        layer: list[str] = LAYER_OPT,
        no_mean: bool = typer.Option(False, "--no-mean",
                                     help="Correlate every speaker combination, not one mean "
                                          "cosine per pair."),
        exclude_same_speaker: bool = typer.Option(
            False, "--exclude-same-speaker",
            help="Leave out combinations where one speaker read both sentences."),
        force: bool = FORCE_RESULTS_OPT,
        as_json: bool = JSON_OPT) -> None:
    """Spoken STS: Spearman ρ of utterance-embedding cosines with the similarity scores."""
    from lwa_cli.pipeline.sts import run_sts

    st = state(ctx)
    records = run_sts(st.workspace, model=model, pairs=pairs, layers=layer, mean=not no_mean,
                      exclude_same_speaker=exclude_same_speaker, force=force,
                      reporter=st.reporter)
    rows = [{**r, "ρ": r["rho"], "speakers/pair": " ".join(
        f"{k}:{v}" for k, v in r["speakers_per_pair"].items())} for r in records]
    show_records(ctx, records if as_json else rows, as_json,
                 f"spoken STS, {model}, set {pairs} ({'all combinations' if no_mean else 'mean'}"
                 f"{', other speakers only' if exclude_same_speaker else ''})",
                 ["ρ", "pairs", "values", "combinations", "speakers/pair"])
    if records and not as_json:
        st.say(f"similarity scores of {pairs!r}: {records[0]['scores']}")

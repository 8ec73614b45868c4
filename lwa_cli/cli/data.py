"""`lwa prepare-alignments` and `lwa sample frame|phone|word|wordsim|allwords`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.cli.common import (
    JSON_OPT,
    SAMPLE_OPT,
    LwaCommand,
    PlainFlagsGroup,
    force_option,
    out_console,
    parse_named_paths,
    print_json,
    seed_option,
    split_option,
    state,
)
from lwa_cli.pipeline.prepare import prepare_alignments as api_prepare
from lwa_cli.pipeline.sample import (
    DEFAULT_MAX_SUBSET_SECONDS,
    sample_frames,
    sample_phones,
    sample_summary,
    sample_words,
    sample_wordsim,
)


def prepare_alignments(
    ctx: typer.Context,
    corpus: Path = typer.Option(..., "--corpus", help="LibriSpeech root (holds <split>/...)."),
    alignments: Path = typer.Option(..., "--alignments",
                                    help="TextGrid root (holds <split>/<spk>/<ch>/*.TextGrid)."),
    split: list[str] = split_option(help="Split to prepare; repeatable. train-clean and train "
                                         "expand to their members."),
    skip_bad: bool = typer.Option(False, "--skip-bad",
                                  help="Skip and count malformed TextGrids instead of failing."),
    max_mismatch: float = typer.Option(
        0.1, "--max-mismatch", min=0.0,
        help="Largest allowed difference (s) between a TextGrid's end and its audio's length."),
    force: bool = force_option(help="Prepare again even if already done."),
    as_json: bool = JSON_OPT,
) -> None:
    """Read LibriSpeech audio and MFA TextGrid alignments into the workspace."""
    st = state(ctx)
    summaries = api_prepare(st.workspace, corpus, alignments, split, skip_bad=skip_bad,
                            max_mismatch=max_mismatch, force=force, reporter=st.reporter)
    if as_json:
        print_json([asdict(s) for s in summaries])
        return
    table = Table(title=f"alignments in {st.workspace.root}")
    for col in ("split", "status", "utterances", "phone segments", "word segments",
                "phone types", "word types", "missing audio", "skipped bad"):
        table.add_column(col, justify="left" if col in ("split", "status") else "right")
    for s in summaries:
        table.add_row(s.split, s.status, *(str(v) for v in (
            s.utterances, s.phone_segments, s.word_segments, s.phone_types, s.word_types,
            s.missing_audio, s.skipped_bad)))
    out_console.print(table)


sample_app = typer.Typer(help="Draw a named, seeded sample of utterances or segments.",
                         no_args_is_help=True, cls=PlainFlagsGroup)

SplitOpt = split_option(help="Split (or virtual split train-clean / train) to sample from.")
SampleOpt = SAMPLE_OPT
SeedOpt = seed_option("the draw (recorded in the workspace)")
ForceOpt = force_option(help="Replace an existing sample (deletes the features extracted from it "
                             "and the results computed from them).")
JsonOpt = JSON_OPT
SubsetOpt = typer.Option(DEFAULT_MAX_SUBSET_SECONDS, "--max-subset-seconds",
                         help="Cut the segments into subsets of at most this many seconds.")


def _show(sample, as_json: bool) -> None:
    summary = sample_summary(sample)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"{sample.kind} sample {sample.name!r} of {sample.split}")
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    out_console.print(table)


@sample_app.command("frame", cls=LwaCommand)
def frame(ctx: typer.Context, split: str = SplitOpt, sample: str = SampleOpt,
          utterances: int = typer.Option(None, "--utterances",
                                         help="Number of utterances (default 500; with "
                                              "--from-list all, in list order)."),
          from_list: Path = typer.Option(None, "--from-list",
                                         help="utt_id<TAB>audio path list of any corpus (no "
                                              "alignments needed); --split names it."),
          seed: int = SeedOpt, force: bool = ForceOpt, as_json: bool = JsonOpt) -> None:
    """Random utterances for frame-level features (mel and intra/inter CCA, segmentation)."""
    st = state(ctx)
    if from_list is not None:
        from lwa_cli.pipeline.sample.from_list import sample_frames_from_list

        _show(sample_frames_from_list(st.workspace, split, sample, list_file=from_list,
                                      utterances=utterances, seed=seed, force=force,
                                      reporter=st.reporter), as_json)
        return
    _show(sample_frames(st.workspace, split, sample,
                        utterances=500 if utterances is None else utterances, seed=seed,
                        force=force, reporter=st.reporter), as_json)


@sample_app.command("phone", cls=LwaCommand)
def phone(ctx: typer.Context, split: str = SplitOpt, sample: str = SampleOpt,
          max_subset_seconds: float = SubsetOpt, seed: int = SeedOpt, force: bool = ForceOpt,
          as_json: bool = JsonOpt) -> None:
    """Phone segments of the 39 phones (dev/test: up to 200 each; train: 3000-7000)."""
    st = state(ctx)
    _show(sample_phones(st.workspace, split, sample, seed=seed,
                        max_subset_seconds=max_subset_seconds, force=force,
                        reporter=st.reporter), as_json)


@sample_app.command("word", cls=LwaCommand)
def word(ctx: typer.Context, split: str = SplitOpt, sample: str = SampleOpt,
         words: int = typer.Option(500, "--words", help="Number of most frequent words."),
         max_subset_seconds: float = SubsetOpt, seed: int = SeedOpt, force: bool = ForceOpt,
         as_json: bool = JsonOpt) -> None:
    """Word segments of the most frequent words (dev/test: up to 15 each; train: 600-1200)."""
    st = state(ctx)
    _show(sample_words(st.workspace, split, sample, words=words, seed=seed,
                       max_subset_seconds=max_subset_seconds, force=force,
                       reporter=st.reporter), as_json)


@sample_app.command("wordsim", cls=LwaCommand)
def wordsim(ctx: typer.Context,
            split: str = split_option("train-clean", "Split to take the word instances from."),
            sample: str = SampleOpt,
            instances: int = typer.Option(200, "--instances", help="Instances per word."),
            benchmark: list[str] = typer.Option(
                [], "--benchmark", help="Extra benchmark NAME=PATH (word1 word2 score)."),
            max_subset_seconds: float = SubsetOpt, seed: int = SeedOpt,
            force: bool = ForceOpt, as_json: bool = JsonOpt) -> None:
    """Instances of every word of the word-similarity benchmarks (for `lwa wordsim`)."""
    st = state(ctx)
    _show(sample_wordsim(st.workspace, split, sample, benchmarks=parse_named_paths(benchmark),
                         instances=instances, seed=seed, max_subset_seconds=max_subset_seconds,
                         force=force, reporter=st.reporter), as_json)


@sample_app.command("allwords", cls=LwaCommand)
def allwords(ctx: typer.Context,
             split: str = split_option("train-clean", "Split to take the word instances from."),
             sample: str = SampleOpt,
             instances: int = typer.Option(200, "--instances", help="Instances per word."),
             vocabulary: str = typer.Option(None, "--vocabulary",
                                            help="Attribute maps whose words to sample, comma-"
                                                 "separated: semantic,syntactic (default: the "
                                                 "stored ones)."),
             max_subset_seconds: float = typer.Option(
                 DEFAULT_MAX_SUBSET_SECONDS, "--max-subset-seconds",
                 help="Pack whole words into subsets of at most this many seconds."),
             seed: int = SeedOpt, force: bool = ForceOpt, as_json: bool = JsonOpt) -> None:
    """Instances of every word with a semantic/syntactic attribute vector (for `lwa cca
    semantic|syntactic`)."""
    from lwa_cli.pipeline.sample.allwords import sample_allwords

    st = state(ctx)
    maps = [v.strip() for v in vocabulary.split(",") if v.strip()] if vocabulary else None
    _show(sample_allwords(st.workspace, split, sample, vocabulary=maps, instances=instances,
                          seed=seed, max_subset_seconds=max_subset_seconds, force=force,
                          reporter=st.reporter), as_json)

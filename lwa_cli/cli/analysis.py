"""`lwa embeddings`, `lwa mi`, `lwa wordsim` (and `lwa cca`, in cca.py)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.choices import KMEANS, MI_SPANS
from lwa_cli.cli.common import (
    DEVICE_OPT,
    FORCE_RESULTS_OPT,
    JSON_OPT,
    LAYER_OPT,
    SAMPLE_OPT,
    LwaCommand,
    PlainFlagsGroup,
    cached_note,
    complete_from,
    complete_split,
    force_option,
    model_option,
    out_console,
    parse_named_paths,
    print_json,
    seed_option,
    split_option,
    state,
)

embeddings_app = typer.Typer(help="Store embedding maps (one-hot, GloVe, AGWE, attribute "
                                  "oracles) in the workspace.",
                             no_args_is_help=True, cls=PlainFlagsGroup)


def _show_embeddings(summaries, as_json: bool) -> None:
    if as_json:
        print_json([asdict(s) for s in summaries])
        return
    table = Table(title="embedding maps")
    for col in ("name", "status", "words", "dims", "left out", "path"):
        table.add_column(col)
    for s in summaries:
        table.add_row(s.name, s.status, str(s.words), str(s.dims), str(s.left_out), s.path)
    out_console.print(table)


@embeddings_app.command("one-hot", cls=LwaCommand)
def one_hot_cmd(ctx: typer.Context,
                words: int = typer.Option(500, "--words", help="Top-W words to encode."),
                force: bool = force_option(help="Replace stored maps that differ (results "
                                                "computed from them become stale)."),
                as_json: bool = JSON_OPT) -> None:
    """One-hot codes of the 39 phones and of the top-W words."""
    from lwa_cli.pipeline.embeddings import store_one_hot

    st = state(ctx)
    _show_embeddings(store_one_hot(st.workspace, words=words, force=force,
                                   reporter=st.reporter), as_json)


def _vectors_command(name: str, what: str):
    def command(ctx: typer.Context,
                path: Path = typer.Option(..., "--path", help=f"{what} file: text (with or "
                                          "without a word2vec header), .gz, or word2vec .bin."),
                all_words: bool = typer.Option(False, "--all-words",
                                               help="Keep words absent from the corpus too."),
                force: bool = force_option(help="Read the file again even if it is stored; "
                                                "replace a map read from another file."),
                as_json: bool = JSON_OPT) -> None:
        from lwa_cli.pipeline.embeddings import store_word_vectors

        st = state(ctx)
        _show_embeddings([store_word_vectors(st.workspace, name, path, all_words=all_words,
                                             force=force, reporter=st.reporter)], as_json)

    command.__doc__ = f"Store a {what} word-vector map (words of the prepared splits)."
    return command


embeddings_app.command("glove", cls=LwaCommand)(_vectors_command("glove", "GloVe"))
embeddings_app.command("agwe", cls=LwaCommand)(
    _vectors_command("agwe", "AGWE (acoustically grounded)"))


def _oracle_command(name: str, what: str):
    def command(ctx: typer.Context,
                path: Path = typer.Option(..., "--path", help="QVEC oracle file (word<TAB>"
                                          "{json tag: probability} lines; .gz too)."),
                force: bool = force_option(help="Read the file again even if it is stored; "
                                                "replace a map read from another file."),
                as_json: bool = JSON_OPT) -> None:
        from lwa_cli.pipeline.oracle_maps import store_oracle

        st = state(ctx)
        _show_embeddings([store_oracle(st.workspace, name, path, force=force,
                                       reporter=st.reporter)], as_json)

    command.__doc__ = f"Store a {what} attribute oracle (for `lwa cca {name}`)."
    return command


embeddings_app.command("semantic", cls=LwaCommand)(
    _oracle_command("semantic", "semantic (SemCor supersense)"))
embeddings_app.command("syntactic", cls=LwaCommand)(
    _oracle_command("syntactic", "syntactic (Penn Treebank POS)"))


def layer_table(title: str, records: list[dict], columns: list[str]) -> Table:
    """A rich table with one row per result (`cached` marks reused ones)."""
    table = Table(title=title)
    table.add_column("layer")
    for col in columns:
        table.add_column(col, justify="right")
    table.add_column("stored")
    for r in records:
        cells = []
        for col in columns:
            value = r.get(col)
            cells.append(f"{value:.4f}" if isinstance(value, float) else str(value))
        table.add_row(r["layer"], *cells, "reused" if r.get("cached") else "new")
    return table


def show_records(ctx: typer.Context, records: list[dict], as_json: bool, title: str,
                 columns: list[str]) -> None:
    """Print the records of an analysis: JSON, or a table plus a status line on stderr."""
    if as_json:
        print_json(records)
        return
    out_console.print(layer_table(title, records, columns))
    if note := cached_note(records):
        state(ctx).say(note)


def mi(ctx: typer.Context,
       span: str = typer.Argument(..., autocompletion=complete_from(MI_SPANS),
                                  help="phone | word"),
       model: str = model_option(),
       layer: list[str] = LAYER_OPT,
       clusters: int = typer.Option(None, "--clusters", min=2,
                                    help="k-means clusters (default 500 phone / 5000 word)."),
       iteration: int = typer.Option(0, "--iter", min=0,
                                     help="Repetition number (own k-means seed)."),
       train_split: str = typer.Option("train-clean", "--train-split",
                                       autocompletion=complete_split,
                                       help="Split whose segments k-means is fitted on."),
       eval_split: str = typer.Option("dev-clean", "--eval-split",
                                      autocompletion=complete_split,
                                      help="Split to score; 'none' scores the train "
                                           "assignments."),
       sample: str = SAMPLE_OPT,
       kmeans: str = typer.Option("minibatch", "--kmeans", autocompletion=complete_from(KMEANS),
                                  help="minibatch (the reference's, default) | full | lloyd "
                                       "(converged) | faiss (fast; pip install faiss-cpu)"),
       seed: int = seed_option("the k-means runs"),
       device: str = DEVICE_OPT,
       force: bool = FORCE_RESULTS_OPT,
       as_json: bool = JSON_OPT) -> None:
    """Mutual information between k-means clusters of segments and their labels."""
    from lwa_cli.pipeline.mi import run_mi

    st = state(ctx)
    records = run_mi(st.workspace, model=model, span=span, layers=layer, clusters=clusters,
                     iteration=iteration, train_split=train_split,
                     eval_split=None if eval_split.lower() == "none" else eval_split,
                     sample=sample, seed=seed, kmeans=kmeans, device=device, force=force,
                     reporter=st.reporter)
    show_records(ctx, records, as_json, f"MI/H(label), {span}, {model}",
                 ["score", "n_train", "n_eval", "n_clusters"])


def wordsim(ctx: typer.Context,
            model: str = model_option(),
            split: str = split_option("train-clean", "Split of the wordsim sample."),
            sample: str = SAMPLE_OPT,
            layer: list[str] = LAYER_OPT,
            benchmark: list[str] = typer.Option(
                [], "--benchmark", help="Extra benchmark NAME=PATH (word1 word2 score)."),
            force: bool = FORCE_RESULTS_OPT,
            as_json: bool = JSON_OPT) -> None:
    """Word similarity (Spearman ρ) of static word embeddings built from each layer."""
    from lwa_cli.pipeline.wordsim import run_wordsim

    st = state(ctx)
    records = run_wordsim(st.workspace, model=model, split=split, sample=sample, layers=layer,
                          benchmarks=parse_named_paths(benchmark), force=force,
                          reporter=st.reporter)
    benches = sorted({b for r in records for b in r["benchmarks"]})
    rows = [{**r, **{b: r["benchmarks"][b]["rho"] for b in r["benchmarks"]}} for r in records]
    show_records(ctx, records if as_json else rows, as_json, f"word similarity, {model}",
                 ["micro", "macro", *benches, "words"])

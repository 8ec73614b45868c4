"""`lwa embeddings`, `lwa mi`, `lwa wordsim` (and `lwa cca`, in cca.py)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table

from lwa_cli.cli.common import (
    complete_layer,
    complete_model,
    out_console,
    parse_named_paths,
    print_json,
    state,
)
from lwa_cli.cli.data import _complete_split

embeddings_app = typer.Typer(help="Store embedding maps (one-hot, GloVe, AGWE) in the workspace.",
                             no_args_is_help=True)


def _show_embeddings(summaries, as_json: bool) -> None:
    if as_json:
        print_json([asdict(s) for s in summaries])
        return
    table = Table(title="embedding maps")
    for col in ("name", "words", "dims", "left out", "path"):
        table.add_column(col)
    for s in summaries:
        table.add_row(s.name, str(s.words), str(s.dims), str(s.left_out), s.path)
    out_console.print(table)


@embeddings_app.command("one-hot")
def one_hot_cmd(ctx: typer.Context,
                words: int = typer.Option(500, "--words", help="Top-W words to encode."),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """One-hot codes of the 39 phones and of the top-W words."""
    from lwa_cli.pipeline.embeddings import store_one_hot

    st = state(ctx)
    _show_embeddings(store_one_hot(st.workspace, words=words, reporter=st.reporter), as_json)


def _vectors_command(name: str, what: str):
    def command(ctx: typer.Context,
                path: Path = typer.Option(..., "--path", help=f"{what} file: text (with or "
                                          "without a word2vec header), .gz, or word2vec .bin."),
                all_words: bool = typer.Option(False, "--all-words",
                                               help="Keep words absent from the corpus too."),
                as_json: bool = typer.Option(False, "--json")) -> None:
        from lwa_cli.pipeline.embeddings import store_word_vectors

        st = state(ctx)
        _show_embeddings([store_word_vectors(st.workspace, name, path, all_words=all_words,
                                             reporter=st.reporter)], as_json)

    command.__doc__ = f"Store a {what} word-vector map (words of the prepared splits)."
    return command


embeddings_app.command("glove")(_vectors_command("glove", "GloVe"))
embeddings_app.command("agwe")(_vectors_command("agwe", "AGWE (acoustically grounded)"))


def layer_table(title: str, records: list[dict], columns: list[str]) -> Table:
    """A rich table with one row per stored result."""
    table = Table(title=title)
    table.add_column("layer")
    for col in columns:
        table.add_column(col, justify="right")
    for r in records:
        cells = []
        for col in columns:
            value = r.get(col)
            cells.append(f"{value:.4f}" if isinstance(value, float) else str(value))
        table.add_row(r["layer"], *cells)
    return table


def mi(ctx: typer.Context,
       span: str = typer.Argument(..., help="phone | word"),
       model: str = typer.Option(..., "--model", autocompletion=complete_model),
       layer: list[str] = typer.Option([], "--layer", autocompletion=complete_layer,
                                       help="Layers (default: all extracted)."),
       clusters: int = typer.Option(None, "--clusters",
                                    help="k-means clusters (default 500 phone / 5000 word)."),
       iteration: int = typer.Option(0, "--iter", help="Repetition number (own k-means seed)."),
       train_split: str = typer.Option("train-clean", "--train-split",
                                       autocompletion=_complete_split),
       eval_split: str = typer.Option("dev-clean", "--eval-split",
                                      autocompletion=_complete_split,
                                      help="Split to score; 'none' scores the train "
                                           "assignments."),
       sample: str = typer.Option("1", "--sample"),
       kmeans: str = typer.Option("minibatch", "--kmeans", help="minibatch | full"),
       seed: int = typer.Option(0, "--seed"),
       force: bool = typer.Option(False, "--force", help="Recompute stored results."),
       as_json: bool = typer.Option(False, "--json")) -> None:
    """Mutual information between k-means clusters of segments and their labels."""
    from lwa_cli.pipeline.mi import run_mi

    st = state(ctx)
    records = run_mi(st.workspace, model=model, span=span, layers=layer, clusters=clusters,
                     iteration=iteration, train_split=train_split,
                     eval_split=None if eval_split.lower() == "none" else eval_split,
                     sample=sample, seed=seed, kmeans=kmeans, force=force, reporter=st.reporter)
    if as_json:
        print_json(records)
    else:
        out_console.print(layer_table(f"MI/H(label), {span}, {model}", records,
                                      ["score", "n_train", "n_eval", "n_clusters"]))


def wordsim(ctx: typer.Context,
            model: str = typer.Option(..., "--model", autocompletion=complete_model),
            split: str = typer.Option("train-clean", "--split", autocompletion=_complete_split),
            sample: str = typer.Option("1", "--sample"),
            layer: list[str] = typer.Option([], "--layer", autocompletion=complete_layer),
            benchmark: list[str] = typer.Option(
                [], "--benchmark", help="Extra benchmark NAME=PATH (word1 word2 score)."),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Word similarity (Spearman ρ) of static word embeddings built from each layer."""
    from lwa_cli.pipeline.wordsim import run_wordsim

    st = state(ctx)
    records = run_wordsim(st.workspace, model=model, split=split, sample=sample, layers=layer,
                          benchmarks=parse_named_paths(benchmark), reporter=st.reporter)
    if as_json:
        print_json(records)
        return
    benches = sorted({b for r in records for b in r["benchmarks"]})
    rows = [{**r, **{b: r["benchmarks"][b]["rho"] for b in r["benchmarks"]}} for r in records]
    out_console.print(layer_table(f"word similarity, {model}", rows,
                                  ["micro", "macro", *benches, "words"]))

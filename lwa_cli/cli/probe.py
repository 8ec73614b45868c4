"""`lwa probe phone|word|speaker`: probing classifiers per layer (MDL, baselines)."""

from __future__ import annotations

import typer

from lwa_cli.choices import PROBE_KINDS, PROBE_TASKS
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
    state,
    train_eval_split_options,
)
from lwa_cli.errors import LwaUsageError

_SPLITS = train_eval_split_options(
    "Split the probe is trained on (phone, word).",
    "Split the probe is scored on (speaker: the split whose utterances are divided).")


def _grid(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise LwaUsageError(f"--c-grid expects comma-separated numbers, got {text!r}") from None
    if not values:
        raise LwaUsageError("--c-grid is empty")
    return values


def probe(ctx: typer.Context,
          task: str = typer.Argument(..., autocompletion=complete_from(PROBE_TASKS),
                                     help="phone | word | speaker"),
          model: str = model_option(),
          layer: list[str] = LAYER_OPT,
          kind: str = typer.Option("linear", "--probe", autocompletion=complete_from(PROBE_KINDS),
                                   help="linear (L2 logistic regression, C chosen on held-out "
                                        "training rows) | mlp (one hidden layer)"),
          mdl: bool = typer.Option(False, "--mdl",
                                   help="Add the online codelength (MDL, bits) and the "
                                        "compression against the uniform code."),
          train_split: str = _SPLITS[0],
          eval_split: str = _SPLITS[1],
          sample: str = SAMPLE_OPT,
          with_silence: bool = typer.Option(False, "--with-silence",
                                            help="phone: keep SIL frames as a class."),
          max_train: int = typer.Option(100_000, "--max-train", min=0,
                                        help="Training rows used at most (seeded subsample; "
                                             "0: all)."),
          c_grid: str = typer.Option("0.001,0.01,0.1,1", "--c-grid",
                                     help="Inverse L2 strengths tried by the linear probe."),
          hidden: int = typer.Option(256, "--hidden", min=1, help="MLP hidden units."),
          seed: int = seed_option("every random choice (subsamples, held-out rows, MLP, "
                                  "control task)"),
          device: str = DEVICE_OPT,
          force: bool = FORCE_RESULTS_OPT,
          as_json: bool = JSON_OPT) -> None:
    """Train a probing classifier on each layer; accuracy, macro-F1, baselines, MDL."""
    from lwa_cli.pipeline.probe import run_probe

    st = state(ctx)
    records = run_probe(st.workspace, task, model=model, layers=layer, probe=kind, mdl=mdl,
                        train_split=train_split, eval_split=eval_split, sample=sample,
                        with_silence=with_silence, max_train=max_train or None,
                        c_grid=_grid(c_grid), hidden=hidden, seed=seed, device=device,
                        force=force, reporter=st.reporter)
    columns = ["accuracy", "macro_f1", "cross_entropy", "majority_accuracy"]
    if task == "word":
        columns += ["control_accuracy", "selectivity"]
    if mdl:
        columns += ["mdl_bits", "compression"]
    show_records(ctx, records, as_json, f"{kind} probe, {task}, {model}",
                 [*columns, "n_train", "n_eval", "n_classes"])

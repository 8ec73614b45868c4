"""`lwa mi phone|word`: k-means on train segments, normalised MI with the labels (SPEC §7)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from lwa_cli import __version__
from lwa_cli.analysis.kmeans import KMEANS
from lwa_cli.analysis.mi import DEFAULTS, mi_score
from lwa_cli.errors import LwaUsageError
from lwa_cli.pipeline.extract import open_features, select_layers
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.results import result_exists, save_result


def mi_tag(iteration: int, clusters: int, span: str, kmeans: str) -> str:
    """Result file tag: the repetition, plus non-default clustering settings."""
    tag = f"iter{iteration}"
    if clusters != DEFAULTS[span].n_clusters:
        tag += f"-k{clusters}"
    # Each non-default backend gets its own file, so no backend reuses another's result.
    return tag + ("" if kmeans == "minibatch" else f"-{kmeans}")


def kmeans_seed(seed: int, iteration: int) -> int:
    """A distinct, reproducible k-means seed per (seed, repetition)."""
    return int(np.random.SeedSequence([seed, iteration]).generate_state(1)[0])


def run_mi(ws: Workspace, *, model: str, span: str, layers: Sequence[str] | None = None,
           clusters: int | None = None, iteration: int = 0, train_split: str = "train-clean",
           eval_split: str | None = "dev-clean", sample: str = "1", seed: int = 0,
           kmeans: str = "minibatch", force: bool = False,
           reporter: Reporter = SILENT) -> list[dict]:
    """Score each layer; one layer's features are in memory at a time.

    Results are stored per (layer, repetition) so parallel runs of different layers or
    repetitions never collide; a stored result is reused unless `force`.
    """
    if span not in DEFAULTS:
        raise LwaUsageError(f"mi span must be one of {', '.join(DEFAULTS)}")
    if kmeans not in KMEANS:
        raise LwaUsageError(f"--kmeans must be one of {', '.join(KMEANS)}")
    defaults = DEFAULTS[span]
    n_clusters = clusters or defaults.n_clusters
    analysis = f"mi-{span}"
    scored_split = eval_split or train_split
    tag = mi_tag(iteration, n_clusters, span, kmeans)
    train = open_features(ws, model, train_split, sample, span)
    evaluation = open_features(ws, model, eval_split, sample, span) if eval_split else None
    try:
        names = select_layers(train, layers)
        if evaluation is not None:
            select_layers(evaluation, names)
        records = []
        with reporter.task(f"{analysis} {model}", len(names), "layer") as advance:
            for name in names:
                if not force and result_exists(ws, analysis, model, scored_split, sample, name,
                                               tag):
                    advance(1)
                    continue
                t0 = time.perf_counter()
                res = mi_score(
                    train.features(name)[...], train.rows("label"),
                    None if evaluation is None else evaluation.features(name)[...],
                    None if evaluation is None else evaluation.rows("label"),
                    n_clusters=n_clusters, kmeans=kmeans, batch_size=defaults.batch_size,
                    max_iter=defaults.max_iter, seed=kmeans_seed(seed, iteration))
                record = {"analysis": analysis, "model": model, "split": scored_split,
                          "sample": sample, "layer": name, "iter": iteration,
                          "score": res.score, "path": res.path, "train_split": train_split,
                          "eval_split": eval_split, "n_train": res.n_train,
                          "n_eval": res.n_eval, "n_clusters": res.n_clusters,
                          "n_labels": res.n_labels, "kmeans": kmeans, "seed": seed,
                          "wall_seconds": round(time.perf_counter() - t0, 3),
                          "lwa_version": __version__}
                record["file"] = save_result(ws, record, tag=tag)
                records.append(record)
                advance(1)
    finally:
        train.close()
        if evaluation is not None:
            evaluation.close()
    return records

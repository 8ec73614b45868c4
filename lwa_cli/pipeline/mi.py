"""`lwa mi phone|word`: k-means on train segments, normalised MI with the labels (SPEC §7)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.mi import DEFAULTS, mi_score
from lwa_cli.analysis.mi.kmeans import FAISS_NITER, check_kmeans_settings
from lwa_cli.errors import param_error
from lwa_cli.pipeline.inputs import open_features, resolve_device_name, select_layers
from lwa_cli.pipeline.results import ResultSpec, features_input, record_field, score_layers
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace


@dataclass(frozen=True, kw_only=True)
class MIOptions:
    """The options that define an MI result."""

    n_clusters: int
    kmeans: str = record_field()
    seed: int = record_field()
    iter: int = record_field()
    train_split: str = record_field()
    eval_split: str | None = record_field()
    batch_size: int
    max_iter: int
    fit_dtype: str = "float64"
    niter: int | None  # faiss only (None otherwise)

    @classmethod
    def of(cls, span: str, *, clusters: int | None, kmeans: str, seed: int, iteration: int,
           train_split: str, eval_split: str | None) -> MIOptions:
        """The options of a run on `span` segments (`DEFAULTS` fill in what is not given)."""
        defaults = DEFAULTS[span]
        return cls(n_clusters=clusters or defaults.n_clusters, kmeans=kmeans, seed=seed,
                   iter=iteration, train_split=train_split, eval_split=eval_split,
                   batch_size=defaults.batch_size, max_iter=defaults.max_iter,
                   niter=FAISS_NITER if kmeans == "faiss" else None)


def kmeans_seed(seed: int, iteration: int) -> int:
    """A distinct, reproducible k-means seed per (seed, repetition)."""
    return int(np.random.SeedSequence([seed, iteration]).generate_state(1)[0])


def run_mi(ws: Workspace, *, model: str, span: str, layers: Sequence[str] | None = None,
           clusters: int | None = None, iteration: int = 0, train_split: str = "train-clean",
           eval_split: str | None = "dev-clean", sample: str = "1", seed: int = 0,
           kmeans: str = "minibatch", device: str = "auto", force: bool = False,
           reporter: Reporter = SILENT) -> list[dict]:
    """Score each layer; one layer's features are in memory at a time.

    Results are stored per (layer, repetition) so parallel runs of different layers or
    repetitions never collide; a stored result is reused while its provenance matches.
    """
    if span not in DEFAULTS:
        raise param_error("span", span, f"is not one of {', '.join(DEFAULTS)}")
    defaults = DEFAULTS[span]
    n_clusters = clusters or defaults.n_clusters
    check_kmeans_settings(n_clusters=n_clusters, kmeans=kmeans, batch_size=defaults.batch_size,
                          max_iter=defaults.max_iter, niter=FAISS_NITER, fit_dtype="float64",
                          device="cpu")  # `device` is resolved (and checked) below
    # Only faiss runs k-means on a GPU; the device does not change the other backends.
    device = resolve_device_name(device) if kmeans == "faiss" else "cpu"
    train = open_features(ws, model, train_split, sample, span)
    evaluation = open_features(ws, model, eval_split, sample, span) if eval_split else None
    try:
        names = select_layers(train, layers)
        inputs = {"train": features_input(ws, train)}
        if evaluation is not None:
            select_layers(evaluation, names)
            inputs["eval"] = features_input(ws, evaluation)
        options = MIOptions.of(span, clusters=clusters, kmeans=kmeans, seed=seed,
                               iteration=iteration, train_split=train_split,
                               eval_split=eval_split)
        spec = ResultSpec.build(f"mi-{span}", model, eval_split or train_split, sample, inputs,
                                options)

        def score(name: str) -> dict:
            res = mi_score(
                train.features(name)[...], train.rows("label"),
                None if evaluation is None else evaluation.features(name)[...],
                None if evaluation is None else evaluation.rows("label"),
                n_clusters=options.n_clusters, kmeans=kmeans, batch_size=options.batch_size,
                max_iter=options.max_iter, seed=kmeans_seed(seed, iteration),
                device=device)
            return {"score": res.score, "path": res.path, "n_train": res.n_train,
                    "n_eval": res.n_eval, "n_clusters": res.n_clusters,
                    "n_labels": res.n_labels, "n_singleton_labels": res.n_singleton_labels,
                    "fit_dtype": res.fit_dtype, "device": res.device, "n_iter": res.n_iter,
                    "inertia": res.inertia}

        return score_layers(ws, spec, names, score, force=force, reporter=reporter)
    finally:
        train.close()
        if evaluation is not None:
            evaluation.close()

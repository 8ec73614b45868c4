"""Mutual information between k-means clusters of layer features and phone/word labels.

SPEC §7: fit k-means on the train sample's segment features, assign clusters to the eval (dev)
sample's segments (or, with no eval data, take the training assignments) and report
``MI(cluster, label) / H(label)`` in nats, both from sklearn's ``mutual_info_score``.

The reference fits ``MiniBatchKMeans`` with no ``random_state`` (numpy's global RNG). lwa passes
the seed as ``random_state`` instead, so scores are reproducible without global state but do not
equal the reference bit-for-bit; they agree within the reference's own seed spread. The
clustering backends (``minibatch``, the default, plus ``full``, ``lloyd`` and ``faiss``) live in
`lwa_cli.analysis.mi.kmeans`; by default the scikit-learn ones fit on a float64 copy of the rows,
several times faster than float32 at thousands of clusters (``fit_dtype="float32"`` gives the
reference's arithmetic, bit-identical to it under the same library versions and seed).

Labels seen once in the training data are kept by default, as the reference does (they are
legitimate observations and the score stays well defined); their number is reported in
`MIResult.n_singleton_labels` so a caller can warn. ``min_label_count`` drops rare labels from
both splits instead and reports what it dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.metrics import mutual_info_score

from lwa_cli.analysis.mi.kmeans import (
    FAISS_NITER,
    Clustering,
    FitDtype,
    KMeansKind,
    check_kmeans_settings,
    fit_assign,
)
from lwa_cli.errors import LwaError, param_error


@dataclass(frozen=True)
class MIDefaults:
    """Clustering settings the reference uses for one span."""

    n_clusters: int
    batch_size: int
    max_iter: int = 500


#: Per-span defaults (SPEC §7): 500 clusters / batch 1500 for phones, 5000 / 4000 for words.
DEFAULTS: dict[str, MIDefaults] = {
    "phone": MIDefaults(n_clusters=500, batch_size=1500),
    "word": MIDefaults(n_clusters=5000, batch_size=4000),
}


@dataclass(frozen=True)
class MIResult:
    """Outcome of one `mi_score` call.

    Attributes
    ----------
    score : float
        ``MI(cluster, label) / H(label)`` on the scored split (natural log).
    path : {"train", "eval"}
        ``"eval"``: clusters predicted for the eval split; ``"train"``: training assignments.
    n_train, n_eval : int
        Segments used for fitting and for scoring on the eval split (``n_eval`` is 0 on the
        train path), after any ``min_label_count`` filtering.
    n_clusters : int
        Number of k-means clusters fitted.
    n_labels : int
        Distinct labels in the scored split.
    n_singleton_labels : int
        Labels that occur exactly once in the training data used for fitting.
    kmeans : str
        The k-means backend used.
    fit_dtype : str
        Dtype of the rows the k-means fit saw.
    device : str
        Where the k-means fit ran (``"cpu"`` or ``"cuda:N"``).
    n_iter : int
        k-means iterations run (mini-batch steps for ``minibatch``).
    inertia : float
        Mean squared distance of a training segment to its centroid.
    n_dropped_train, n_dropped_eval : int
        Segments removed by ``min_label_count`` (0 when nothing was filtered).
    """

    score: float
    path: Literal["train", "eval"]
    n_train: int
    n_eval: int
    n_clusters: int
    n_labels: int
    n_singleton_labels: int
    kmeans: str
    fit_dtype: str
    device: str
    n_iter: int
    inertia: float
    n_dropped_train: int = 0
    n_dropped_eval: int = 0


def normalized_mi(clusters: Sequence | np.ndarray, labels: Sequence | np.ndarray) -> float:
    """Return ``mutual_info_score(clusters, labels) / mutual_info_score(labels, labels)``.

    Parameters
    ----------
    clusters : array-like of int, shape (N,)
        Cluster id of each segment.
    labels : array-like of int or str, shape (N,)
        Phone or word label of each segment.

    Raises
    ------
    LwaError
        On empty or mismatched inputs, or when every segment has the same label (H = 0).
    """
    clusters = np.asarray(clusters)
    labels = np.asarray(labels)
    if clusters.ndim != 1 or labels.ndim != 1 or len(clusters) != len(labels):
        raise LwaError(
            f"cluster ids {clusters.shape} and labels {labels.shape} must be two 1-D arrays of "
            "the same length; pass one label per segment."
        )
    if len(labels) == 0:
        raise LwaError("no segments to score mutual information on; use a non-empty sample.")
    entropy = mutual_info_score(labels, labels)
    if entropy <= 0.0:
        raise LwaError(
            f"all {len(labels)} segments carry the same label {str(labels[0])!r}, so the label "
            "entropy is zero and normalised MI is undefined; use a sample with several labels."
        )
    return float(mutual_info_score(clusters, labels) / entropy)


def _check_features(X: np.ndarray, name: str) -> np.ndarray:
    """Validate a (N, D) feature matrix without copying it (float32 stays float32)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise LwaError(f"{name} features must be a 2-D (segments x dims) array, got {X.shape}.")
    if X.shape[0] == 0:
        raise LwaError(f"the {name} split has no segments; sample or extract it again.")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    # min/max propagate NaN and expose inf without allocating an N x D mask on the happy path.
    if not (np.isfinite(X.min()) and np.isfinite(X.max())):
        bad_rows = int(np.count_nonzero(~np.isfinite(X).all(axis=1)))
        raise LwaError(
            f"{bad_rows} of {X.shape[0]} {name} segments have NaN or infinite features; "
            "re-extract that layer (try dtype='float32' if it was stored as float16).",
            params=("dtype",))
    return X


def _check_labels(labels: Sequence | np.ndarray, n: int, name: str) -> np.ndarray:
    """Return labels as a 1-D array of length ``n``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n:
        raise LwaError(
            f"{name} has {n} feature rows but labels of shape {labels.shape}; the feature file "
            "and its label list do not match, so extract or combine that sample again."
        )
    return labels


def _check_same_dims(train_X: np.ndarray, eval_X: np.ndarray | None) -> None:
    """Both splits must have the same feature dimension."""
    if eval_X is not None and eval_X.shape[1] != train_X.shape[1]:
        raise LwaError(
            f"train features have {train_X.shape[1]} dims but eval features have "
            f"{eval_X.shape[1]}; both splits must come from the same model and layer."
        )


def cluster_assignments(
    train_X: np.ndarray,
    eval_X: np.ndarray | None = None,
    *,
    n_clusters: int,
    kmeans: KMeansKind = "minibatch",
    batch_size: int = 1500,
    max_iter: int = 500,
    niter: int = FAISS_NITER,
    seed: int = 0,
    fit_dtype: FitDtype = "float64",
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Fit k-means on ``train_X`` and return cluster ids for the training and eval rows.

    Parameters
    ----------
    train_X : ndarray, shape (N, D)
        Training features (float32 or float64).
    eval_X : ndarray, shape (M, D), optional
        Held-out features, assigned to the nearest fitted centroid by the same backend.
    n_clusters : int
        Number of clusters; must not exceed N.
    kmeans : {"minibatch", "full", "lloyd", "faiss"}
        The backend, see `lwa_cli.analysis.mi.kmeans`: ``MiniBatchKMeans(batch_size, max_iter)``
        as in the reference; Lloyd ``KMeans`` from a k-means++ (``full``) or random
        (``lloyd``) start, ``tol=1e-4``, at most ``max_iter`` iterations; or faiss with
        ``niter`` iterations.
    batch_size, max_iter, niter : int
        Mini-batch size (minibatch only), the scikit-learn iteration cap, faiss iterations.
    seed : int
        Seed of the backend.
    fit_dtype : {"float64", "float32"}
        Dtype the scikit-learn backends fit on (float64: a copy, much faster k-means++).
    device : str
        ``cpu`` or ``cuda[:N]`` (GPU faiss when installed; the other backends run on the CPU).

    Returns
    -------
    train_assign : ndarray of int64, shape (N,)
    eval_assign : ndarray of int64, shape (M,), or None when ``eval_X`` is None.
    """
    check_kmeans_settings(n_clusters=n_clusters, kmeans=kmeans, batch_size=batch_size,
                          max_iter=max_iter, niter=niter, fit_dtype=fit_dtype, device=device)
    train_X = _check_features(train_X, "train")
    if eval_X is not None:
        eval_X = _check_features(eval_X, "eval")
    done = _fit_assign(train_X, eval_X, n_clusters=n_clusters, kmeans=kmeans,
                       batch_size=batch_size, max_iter=max_iter, niter=niter, seed=seed,
                       fit_dtype=fit_dtype, device=device)
    return done.train_assign, done.eval_assign


def _fit_assign(train_X: np.ndarray, eval_X: np.ndarray | None, *, n_clusters: int,
                **settings: Any) -> Clustering:
    """Fit k-means on checked features; see `cluster_assignments`."""
    if n_clusters > train_X.shape[0]:
        raise LwaError(
            f"{n_clusters} clusters requested but the train split has only {train_X.shape[0]} "
            "segments; pass fewer `n_clusters` or sample more training segments.",
            params=("n_clusters",))
    _check_same_dims(train_X, eval_X)
    return fit_assign(train_X, eval_X, n_clusters=n_clusters, **settings)


def _filter_rare(
    train_X: np.ndarray,
    train_labels: np.ndarray,
    eval_X: np.ndarray | None,
    eval_labels: np.ndarray | None,
    min_label_count: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, int, int]:
    """Drop segments whose label has fewer than ``min_label_count`` training instances."""
    values, counts = np.unique(train_labels, return_counts=True)
    rare = values[counts < min_label_count]
    if rare.size == 0:
        return train_X, train_labels, eval_X, eval_labels, 0, 0
    keep = ~np.isin(train_labels, rare)
    dropped_train = int(np.count_nonzero(~keep))
    train_X, train_labels = train_X[keep], train_labels[keep]
    dropped_eval = 0
    if eval_X is not None and eval_labels is not None:
        keep_eval = ~np.isin(eval_labels, rare)
        dropped_eval = int(np.count_nonzero(~keep_eval))
        eval_X, eval_labels = eval_X[keep_eval], eval_labels[keep_eval]
    return train_X, train_labels, eval_X, eval_labels, dropped_train, dropped_eval


def mi_score(
    train_X: np.ndarray,
    train_labels: Sequence | np.ndarray,
    eval_X: np.ndarray | None = None,
    eval_labels: Sequence | np.ndarray | None = None,
    *,
    n_clusters: int,
    kmeans: KMeansKind = "minibatch",
    batch_size: int = 1500,
    max_iter: int = 500,
    niter: int = FAISS_NITER,
    seed: int = 0,
    fit_dtype: FitDtype = "float64",
    device: str = "cpu",
    min_label_count: int = 1,
) -> MIResult:
    """Cluster the training features and score ``MI(cluster, label) / H(label)``.

    With ``eval_X``/``eval_labels`` the clusters predicted for the eval split are scored
    against its labels (the reference's dev path); without them the training assignments are
    scored against the training labels (its train path).

    Parameters
    ----------
    train_X, eval_X : ndarray, shape (N, D) / (M, D)
        Segment features (float32 is fine and is not copied).
    train_labels, eval_labels : array-like, shape (N,) / (M,)
        Phone or word label per segment.
    n_clusters, kmeans, batch_size, max_iter, niter, seed, fit_dtype, device
        See `cluster_assignments`; `DEFAULTS` holds the per-span values.
    min_label_count : int
        Drop labels with fewer training instances than this from both splits before fitting
        (1 keeps everything, as the reference does); the drops are counted in the result.

    Raises
    ------
    LwaError
        Empty split, label/feature mismatch, NaN features, more clusters than training
        segments, or a scored split with a single label.
    """
    if (eval_X is None) != (eval_labels is None):
        raise LwaError("eval features and eval labels must be given together (or neither).")
    if not isinstance(min_label_count, (int, np.integer)) or min_label_count < 1:
        raise param_error("min_label_count", min_label_count, "must be a positive integer.")
    check_kmeans_settings(n_clusters=n_clusters, kmeans=kmeans, batch_size=batch_size,
                          max_iter=max_iter, niter=niter, fit_dtype=fit_dtype, device=device)
    train_X = _check_features(train_X, "train")
    train_labels = _check_labels(train_labels, train_X.shape[0], "the train split")
    if eval_X is not None:
        eval_X = _check_features(eval_X, "eval")
        eval_labels = _check_labels(eval_labels, eval_X.shape[0], "the eval split")
        _check_same_dims(train_X, eval_X)
    train_X, train_labels, eval_X, eval_labels, dropped_train, dropped_eval = _filter_rare(
        train_X, train_labels, eval_X, eval_labels, min_label_count
    )
    if train_X.shape[0] == 0 or (eval_X is not None and eval_X.shape[0] == 0):
        raise LwaError(
            f"no segments left after dropping labels seen fewer than {min_label_count} times "
            "in training; lower min_label_count or use a larger sample."
        )
    _, counts = np.unique(train_labels, return_counts=True)
    scored_labels = train_labels if eval_labels is None else eval_labels
    n_labels = int(np.unique(scored_labels).size)
    if n_labels < 2:
        # Checked before the (possibly long) k-means fit: H(label) = 0 makes the score undefined.
        raise LwaError(
            f"every {'train' if eval_labels is None else 'eval'} segment has the label "
            f"{str(scored_labels[0])!r}, so normalised MI is undefined; use a sample with several "
            "labels."
        )
    done = _fit_assign(train_X, eval_X, n_clusters=n_clusters, kmeans=kmeans,
                       batch_size=batch_size, max_iter=max_iter, niter=niter, seed=seed,
                       fit_dtype=fit_dtype, device=device)
    eval_assign = done.eval_assign
    scored = done.train_assign if eval_assign is None else eval_assign
    return MIResult(
        score=normalized_mi(scored, scored_labels),
        path="train" if eval_assign is None else "eval",
        n_train=int(train_X.shape[0]),
        n_eval=0 if eval_X is None else int(eval_X.shape[0]),
        n_clusters=int(n_clusters),
        n_labels=n_labels,
        n_singleton_labels=int(np.count_nonzero(counts == 1)),
        n_dropped_train=dropped_train,
        n_dropped_eval=dropped_eval,
        kmeans=kmeans,
        fit_dtype=done.fit_dtype,
        device=done.device,
        n_iter=done.n_iter,
        inertia=done.inertia,
    )

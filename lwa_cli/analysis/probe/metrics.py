"""What a probe is measured by, and the checks its inputs pass first.

- `check_probe_data`: features finite and two-dimensional, labels class indices, at least two
  classes, every class with a training example (the message names the class).
- `standardize`: z-score both splits with the training rows' mean and standard deviation
  (float64), so one regularisation grid suits every layer.
- `probe_metrics`: accuracy, macro-F1 (over the classes present in the evaluation data) and
  cross-entropy in nats of predicted probabilities (scikit-learn's metrics).
- `majority_accuracy`: the accuracy of always answering the most frequent training class.
- `control_labels`: the control task of Hewitt & Liang (2019): each type (e.g. a word) is
  mapped, once, to a class drawn at random (seeded), so a probe can only solve it by
  memorising types; selectivity = accuracy − control accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss

from lwa_cli.errors import LwaError


def check_probe_data(features: np.ndarray, labels: np.ndarray, n_classes: int, *,
                     name: str) -> tuple[np.ndarray, np.ndarray]:
    """The (features, labels) of one split as (2-D float array, int64 class indices).

    Raises
    ------
    LwaError : features not 2-D or not finite, labels not one per row or outside
        ``0 … n_classes-1`` (each message names `name`, e.g. "training features").
    """
    x = np.asarray(features)
    y = np.asarray(labels)
    if x.ndim != 2 or x.shape[0] == 0:
        raise LwaError(f"{name}: expected a non-empty (rows, dims) array, got shape {x.shape}")
    if y.shape != (x.shape[0],):
        raise LwaError(f"{name}: {y.shape[0] if y.ndim == 1 else y.shape} labels for "
                       f"{x.shape[0]} rows")
    if not np.issubdtype(y.dtype, np.integer):
        raise LwaError(f"{name}: labels must be class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise LwaError(f"{name}: labels must lie in 0…{n_classes - 1}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise LwaError(f"{name}: {int(bad.sum())} row(s) hold NaN or infinite values "
                       f"(first: row {int(np.flatnonzero(bad)[0])})")
    return x, y.astype(np.int64, copy=False)


def check_classes(train_labels: np.ndarray, class_names: Sequence[str]) -> None:
    """At least two classes, and every class with at least one training example.

    Raises
    ------
    LwaError : naming the classes without a training example.
    """
    if len(class_names) < 2:
        raise LwaError(f"a probe needs at least two classes, got {len(class_names)} "
                       f"({', '.join(map(str, class_names)) or 'none'})")
    counts = np.bincount(train_labels, minlength=len(class_names))
    empty = [str(class_names[i]) for i in np.flatnonzero(counts == 0)]
    if empty:
        raise LwaError(f"class(es) {', '.join(empty[:10])}{' …' if len(empty) > 10 else ''} "
                       "have no training example; drop them from the class list")


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """float64 copies z-scored with the training rows' statistics (constant dims: std 1)."""
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    out = [(train - mean) / std]
    for x in others:
        out.append((np.asarray(x, dtype=np.float64) - mean) / std)
    return out


def probe_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and cross-entropy (nats) of class probabilities ``(n, K)``."""
    y_true = np.asarray(y_true)
    pred = np.argmax(proba, axis=1)
    present = np.unique(y_true)
    return {"accuracy": float(accuracy_score(y_true, pred)),
            "macro_f1": float(f1_score(y_true, pred, labels=present, average="macro",
                                       zero_division=0)),
            "cross_entropy": float(log_loss(y_true, proba, labels=np.arange(proba.shape[1])))}


def majority_accuracy(y_train: np.ndarray, y_eval: np.ndarray) -> float:
    """Accuracy on `y_eval` of answering the most frequent class of `y_train` (ties: lowest)."""
    majority = int(np.argmax(np.bincount(y_train)))
    return float(np.mean(np.asarray(y_eval) == majority))


def control_labels(types: Sequence[str] | np.ndarray, n_classes: int,
                   seed: int) -> np.ndarray:
    """Hewitt & Liang control task: a random class per type, the same for every token.

    The classes are drawn uniformly from ``0 … n_classes-1`` by a generator seeded with
    `seed`, one per distinct type in sorted order, so the mapping depends only on the set of
    types and the seed (never on the order of the tokens). Pass the tokens of the training
    and evaluation data together, so both splits share one mapping.
    """
    if n_classes < 2:
        raise LwaError(f"a control task needs at least two classes, got {n_classes}")
    types = np.asarray(types, dtype=str)
    vocab, inverse = np.unique(types, return_inverse=True)
    classes = np.random.default_rng(seed).integers(0, n_classes, size=len(vocab))
    return classes[inverse].astype(np.int64)


def control_mapping(types: Sequence[str] | np.ndarray, n_classes: int,
                    seed: int) -> dict[str, int]:
    """The type → class map of `control_labels` (for inspection and tests)."""
    vocab = np.unique(np.asarray(types, dtype=str))
    return dict(zip(vocab.tolist(), control_labels(vocab, n_classes, seed).tolist(),
                    strict=True))

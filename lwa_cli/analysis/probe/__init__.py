"""Probing classifiers on one layer: fit on training rows, measure on evaluation rows.

`probe_layer` validates the data (`probe_metrics.check_probe_data`, `check_classes`),
standardises it with the training statistics, fits the probe (`--probe linear`: logistic
regression with C chosen on held-out training rows, `probe_linear`; `--probe mlp`:
`probe_mlp`) and reports accuracy, macro-F1 and cross-entropy (nats) on the evaluation rows
with the majority-class baseline. Optionally:

- ``mdl``: the online codelength of the training labels (`probe_mdl`), with the linear
  probe's chosen C (no search per block) or the MLP's settings;
- ``control_types``: the Hewitt & Liang control task: the same probe (same C) trained on the
  types' random classes; selectivity = accuracy − control accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lwa_cli.analysis.probe.linear import C_GRID, fit_linear, select_c
from lwa_cli.analysis.probe.mdl import Codelength, online_codelength
from lwa_cli.analysis.probe.metrics import (
    check_classes,
    check_probe_data,
    control_labels,
    majority_accuracy,
    probe_metrics,
    standardize,
)
from lwa_cli.analysis.probe.mlp import HIDDEN, fit_mlp
from lwa_cli.choices import PROBE_KINDS as PROBES
from lwa_cli.errors import LwaError


@dataclass(frozen=True)
class ProbeResult:
    """Measures of one layer's probe (see the module doc); None where not asked for."""

    probe: str
    accuracy: float
    macro_f1: float
    cross_entropy: float
    majority_accuracy: float
    n_train: int
    n_eval: int
    n_classes: int
    backend: str
    n_iter: int
    c: float | None = None
    c_grid: tuple[float, ...] | None = None
    c_held_out_cross_entropy: tuple[float, ...] | None = None
    control_accuracy: float | None = None
    selectivity: float | None = None
    mdl: Codelength | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        mdl = out.pop("mdl")
        if mdl is not None:
            out.update(mdl_bits=mdl["online_bits"], uniform_bits=mdl["uniform_bits"],
                       compression=mdl["compression"], mdl_block_ends=list(mdl["block_ends"]),
                       mdl_block_bits=list(mdl["block_bits"]))
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def probe_layer(train_x: np.ndarray, train_y: np.ndarray, eval_x: np.ndarray,
                eval_y: np.ndarray, class_names: Sequence[str], *, probe: str = "linear",
                c_grid: Sequence[float] = C_GRID, mdl: bool = False,
                control_types: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
                device: str = "cpu", backend: str | None = None,
                hidden: int = HIDDEN) -> ProbeResult:
    """Fit and score a probe of `class_names` (labels are indices into it); see module doc.

    `backend` (linear probe) defaults to scikit-learn on the CPU and torch elsewhere.
    `control_types` holds the type (e.g. the word) of each training and evaluation row.
    """
    if probe not in PROBES:
        raise LwaError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}")
    k = len(class_names)
    train_x, train_y = check_probe_data(train_x, train_y, max(k, 1), name="training data")
    eval_x, eval_y = check_probe_data(eval_x, eval_y, max(k, 1), name="evaluation data")
    if train_x.shape[1] != eval_x.shape[1]:
        raise LwaError(f"training rows have {train_x.shape[1]} dims, evaluation rows "
                       f"{eval_x.shape[1]}")
    check_classes(train_y, class_names)
    train_x, eval_x = standardize(train_x, eval_x)
    backend = backend or ("sklearn" if device == "cpu" else "torch")
    extra: dict[str, Any] = {}
    if probe == "linear":
        model, search = select_c(train_x, train_y, k, c_grid, seed=seed, backend=backend,
                                 device=device)
        extra = {"c": search.c, "c_grid": search.grid,
                 "c_held_out_cross_entropy": search.held_out_cross_entropy}
        n_iter = model.n_iter

        def fit(x: np.ndarray, y: np.ndarray, init=None):
            return fit_linear(x, y, k, search.c, backend=backend, device=device, init=init)

        last: list = [None]

        def fit_chain(x: np.ndarray, y: np.ndarray):
            # Each MDL prefix starts from the fit on the prefix before it (a subset of its
            # rows: nothing of the coded block leaks in); same optimum, fewer iterations.
            last[0] = fit(x, y, last[0])
            return last[0]
    else:
        model = fit_mlp(train_x, train_y, k, hidden=hidden, seed=seed, device=device)
        n_iter = model.n_epochs
        backend = "torch"

        def fit(x: np.ndarray, y: np.ndarray):
            return fit_mlp(x, y, k, hidden=hidden, seed=seed, device=device)

        fit_chain = fit

    scores = probe_metrics(eval_y, model.predict_proba(eval_x))
    if control_types is not None:
        extra.update(_control(train_x, eval_x, control_types, k, seed, fit,
                              scores["accuracy"]))
    if mdl:
        extra["mdl"] = online_codelength(train_x, train_y, k, fit_chain, seed=seed)
    return ProbeResult(probe=probe, **scores,
                       majority_accuracy=majority_accuracy(train_y, eval_y),
                       n_train=len(train_y), n_eval=len(eval_y), n_classes=k,
                       backend=backend, n_iter=int(n_iter), **extra)


def _control(train_x, eval_x, types, k, seed, fit, accuracy) -> dict[str, float]:
    train_types, eval_types = (np.asarray(t, dtype=str) for t in types)
    if len(train_types) != len(train_x) or len(eval_types) != len(eval_x):
        raise LwaError("control_types must give one type per training and evaluation row")
    labels = control_labels(np.concatenate([train_types, eval_types]), k, seed)
    train_c, eval_c = labels[:len(train_types)], labels[len(train_types):]
    if np.unique(train_c).size < 2:
        raise LwaError("the control task drew a single class for every training type")
    proba = fit(train_x, train_c).predict_proba(eval_x)
    control = probe_metrics(eval_c, proba)["accuracy"]
    return {"control_accuracy": control, "selectivity": accuracy - control}

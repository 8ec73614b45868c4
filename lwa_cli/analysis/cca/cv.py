"""Cross-validated CCA scores (SPEC §6.1–6.3): splits, trials, ε candidates, results.

One streaming pass (:mod:`lwa_cli.analysis.cca.stats`) gives per-split counts, means and
centred cross-products. Every training covariance is a combination of them, and every dev/test
score is computed from the split's own moments (:func:`~lwa_cli.analysis.cca.scores.score_moments`),
so the rows are read once. Only a candidate whose variates cancel numerically (the reference's
noise pair of a singular view, ``null_tol=None``) is scored on the split's rows, read again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lwa_cli.analysis.cca.cka import linear_cka_from_cov
from lwa_cli.analysis.cca.fit import CandidateFitError, CCAFit, CovarianceCCA
from lwa_cli.analysis.cca.inputs import (
    as_rows,
    check_eps,
    check_fraction,
    check_pair,
    context,
)
from lwa_cli.analysis.cca.scores import (
    METRICS,
    EvalData,
    EvalMoments,
    score_moments,
    score_rows,
)
from lwa_cli.analysis.cca.splits import (
    check_sizes,
    check_splits,
    check_trials,
    draw_trial_pairs,
    epsilon_candidates,
    make_splits,
)
from lwa_cli.analysis.cca.stats import (
    SplitStats,
    accumulate_split_stats,
    default_chunk_rows,
    take_rows,
)
from lwa_cli.errors import LwaError, LwaUsageError

#: SVCCA's default share of each view's variance kept (Raghu et al. 2017).
DEFAULT_SVD_KEEP = 0.99


@dataclass(frozen=True)
class CandidateResult:
    """One (ε_x, ε_y) candidate of a trial: its dev and test scores and kept dimensions.

    ``x_null_dims``/``y_null_dims`` count the eigen-directions dropped as null (``null_tol``);
    ``n_directions`` is the number of canonical directions scored.
    """

    eps_x: float
    eps_y: float
    dev_score: float
    test_score: float
    x_dims_kept: int
    y_dims_kept: int
    x_null_dims: int = 0
    y_null_dims: int = 0
    n_directions: int | None = None


@dataclass(frozen=True)
class TrialResult:
    """One cross-validation trial (train on the other splits, select on dev, score on test)."""

    dev_split: int
    test_split: int
    n_train: int
    n_dev: int
    n_test: int
    candidates: list[CandidateResult]
    chosen_index: int | None
    chosen_eps: tuple[float, float] | None
    dev_score: float
    test_score: float
    x_dims_kept: int
    y_dims_kept: int
    x_null_dims: int = 0
    y_null_dims: int = 0
    n_directions: int | None = None


@dataclass(frozen=True)
class SkippedTrial:
    """A (dev, test) pair whose candidates all failed, with the last failure's reason."""

    dev_split: int
    test_split: int
    reason: str


@dataclass(frozen=True)
class CVResult:
    """Result of :func:`cross_validated_pwcca`.

    ``score`` is the mean of the trials' test scores (training order). ``dims_kept`` lists
    (kx, ky) of each trial's chosen candidate; ``n`` counts the points in the splits.
    ``null_tol`` and ``svd_keep`` are the settings used (None: not used); ``null_dims_dropped``
    lists (x, y) null directions dropped by each trial's chosen candidate and ``n_directions``
    its number of canonical directions.
    """

    score: float
    metric: str
    mean_score: bool
    n: int
    dx: int
    dy: int
    trials: list[TrialResult]
    skipped: list[SkippedTrial] = field(default_factory=list)
    null_tol: float | None = None
    svd_keep: float | None = None

    @property
    def trial_scores(self) -> list[float]:
        """Test score of each trial, in training order."""
        return [t.test_score for t in self.trials]

    @property
    def dims_kept(self) -> list[tuple[int, int]]:
        """(kx, ky) of each trial's chosen candidate."""
        return [(t.x_dims_kept, t.y_dims_kept) for t in self.trials]

    @property
    def null_dims_dropped(self) -> list[tuple[int, int]]:
        """(x, y) eigen-directions dropped as null by each trial's chosen candidate."""
        return [(t.x_null_dims, t.y_null_dims) for t in self.trials]

    @property
    def n_directions(self) -> list[int | None]:
        """Canonical directions scored by each trial's chosen candidate (None for CKA)."""
        return [t.n_directions for t in self.trials]

    @property
    def chosen_eps(self) -> list[tuple[float, float] | None]:
        """(ε_x, ε_y) chosen in each trial (None for CKA)."""
        return [t.chosen_eps for t in self.trials]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        out = asdict(self)
        out["dims_kept"] = self.dims_kept
        out["null_dims_dropped"] = self.null_dims_dropped
        out["n_directions"] = self.n_directions
        return out


def cross_validated_pwcca(
    x: Any,
    y: Any,
    labels: Sequence[Any] | np.ndarray | None = None,
    *,
    splits: Sequence[np.ndarray] | None = None,
    trials: Sequence[tuple[int, int]] | None = None,
    eps_candidates: Sequence[Sequence[tuple[float, float]]] | None = None,
    n_splits: int = 10,
    n_trials: int = 3,
    n_candidates: int = 6,
    seed: int = 0,
    metric: str = "pwcca",
    mean_score: bool = False,
    svd_keep: float = DEFAULT_SVD_KEEP,
    null_tol: float | None = None,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
    rows_progress: Callable[[int], None] | None = None,
    name: str | None = None,
    chunk_rows: int | None = None,
) -> CVResult:
    """Cross-validated PWCCA (or another metric) of views x (n, dx) and y (n, dy).

    Parameters
    ----------
    x, y : numpy arrays or row-sliceable array-likes (h5py datasets); read in row chunks.
    labels : one label per point; splits are stratified by label when given.
    splits : index arrays of the splits (overrides ``labels``/``n_splits``).
    trials : (dev, test) split pairs tried in order; by default disjoint random pairs.
    eps_candidates : per trial attempt, the ordered (ε_x, ε_y) pairs to try; by default
        :func:`epsilon_candidates`.
    n_trials : trials that must succeed; a pair whose candidates all fail is skipped and the
        next pair is tried.
    n_candidates : candidates kept per trial: the first ones that fit.
    seed : seeds ``np.random.default_rng`` for splits, pairs and ε orders (independent streams).
    metric : "pwcca", "pwcca-morcos", "svcca", "mean-cca" or "cka" (see
        :mod:`lwa_cli.analysis.cca.scores`). For "cka" each trial's score is the linear CKA of
        its test split (dev score: of its dev split); nothing is fit.
    mean_score : average the x- and y-side weighted scores (pwcca metrics).
    svd_keep : share of each view's training variance kept by SVCCA's SVD step (used only by
        metric "svcca"; recorded as None otherwise).
    null_tol : drop eigen-directions of each view below ``null_tol`` × the largest eigenvalue
        of its scaled training covariance before whitening (stable CCA for singular views such
        as one-hot or sum-to-one targets; 1e-12 is a safe value). None: the reference.
    device : "cpu" or a torch device ("cuda") for the streaming statistics.
    progress : called with 1 each time a candidate (or, for CKA, a trial) finishes;
        n_trials × n_candidates calls in a run without failures.
    rows_progress : called with the number of rows read after each chunk of the streaming
        pass (the calls add up to n), for a progress bar over the one pass over the data.
    name : context for error messages (e.g. "layer T3").
    chunk_rows : rows per streaming chunk (default: ~96 MiB of float64 rows).

    Returns
    -------
    CVResult with the mean test score and every trial's candidates. When failed pairs leave
    fewer than ``n_trials`` usable pairs, the score is the mean over the trials that succeeded
    (``CVResult.trials`` is shorter and ``CVResult.skipped`` says why).

    Raises
    ------
    LwaUsageError
        Invalid arguments (metric, counts, splits, trials, ε, svd_keep, null_tol).
    LwaError
        Too few points, NaN/inf inputs, a view constant in every dimension, or every trial
        failing.
    """
    if metric not in METRICS:
        raise LwaUsageError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    for label, value, low in (("n_trials", n_trials, 1), ("n_candidates", n_candidates, 1),
                              ("n_splits", n_splits, 3)):
        if not isinstance(value, int | np.integer) or value < low:
            raise LwaUsageError(f"{label} must be an integer ≥ {low}, not {value!r}")
    check_fraction("svd_keep", svd_keep, upper_open=False)
    check_fraction("null_tol", null_tol, upper_open=True)
    used_svd_keep = float(svd_keep) if metric == "svcca" else None
    used_null_tol = None if null_tol is None or metric == "cka" else float(null_tol)
    x, y = as_rows(x, "x", name), as_rows(y, "y", name)
    n, dx, dy = check_pair(x, y, name)

    split_rng, pair_rng, eps_rng = np.random.default_rng(seed).spawn(3)
    if splits is None:
        splits = make_splits(n, labels, n_splits, split_rng)
    else:
        splits = check_splits(splits, n)
    n_splits = len(splits)
    sizes = np.array([s.size for s in splits])
    if trials is None:
        attempts = draw_trial_pairs(n_splits, pair_rng)
    else:
        attempts = check_trials(trials, n_splits)
    if eps_candidates is None:
        eps_lists = [epsilon_candidates(eps_rng) for _ in attempts]
    else:
        eps_lists = [list(c) for c in eps_candidates]
        if len(eps_lists) < min(len(attempts), n_trials):
            raise LwaUsageError(
                f"eps_candidates holds {len(eps_lists)} lists but {min(len(attempts), n_trials)} "
                "trials need one each"
            )
        for pairs in eps_lists:
            for pair in pairs:
                check_eps(*pair)
        attempts = attempts[: len(eps_lists)]  # an attempt needs its own ε list
    if metric != "cka":
        for dev, test in attempts[:n_trials]:
            check_sizes(sizes, dev, test, dx, dy, name)

    split_of_row = np.full(n, -1, dtype=np.int64)
    for s, idx in enumerate(splits):
        split_of_row[idx] = s
    rows = chunk_rows or default_chunk_rows(dx + dy)
    stats, _ = accumulate_split_stats(x, y, split_of_row, n_splits, chunk_rows=rows,
                                      device=device, name=name, on_chunk=rows_progress)
    _check_not_constant(stats, name)

    def eval_rows(s: int) -> EvalData:
        """The rows of split s, read again: only for candidates the moments cannot score."""
        return EvalData.from_rows(take_rows(x, splits[s], rows), take_rows(y, splits[s], rows))

    done: list[TrialResult] = []
    skipped: list[SkippedTrial] = []
    for t, (dev, test) in enumerate(attempts):
        if len(done) == n_trials:
            break
        if metric == "cka":
            done.append(_cka_trial(stats, dev, test))
            if progress is not None:
                progress(1)
            continue
        check_sizes(sizes, dev, test, dx, dy, name)
        train = [s for s in range(n_splits) if s not in (dev, test)]
        model = CovarianceCCA(*stats.covariance(train), name=name, null_tol=used_null_tol,
                              svd_keep=used_svd_keep)
        scorers = (_Scorer(stats, dev, eval_rows), _Scorer(stats, test, eval_rows))
        trial = _run_trial(model, scorers, eps_lists[t], n_candidates, metric, mean_score,
                           progress)
        if isinstance(trial, str):
            skipped.append(SkippedTrial(dev, test, trial))
            continue
        candidates, chosen = trial
        best = candidates[chosen]
        done.append(TrialResult(
            dev_split=dev, test_split=test, n_train=int(sizes[train].sum()),
            n_dev=int(sizes[dev]), n_test=int(sizes[test]), candidates=candidates,
            chosen_index=chosen, chosen_eps=(best.eps_x, best.eps_y), dev_score=best.dev_score,
            test_score=best.test_score, x_dims_kept=best.x_dims_kept,
            y_dims_kept=best.y_dims_kept, x_null_dims=best.x_null_dims,
            y_null_dims=best.y_null_dims, n_directions=best.n_directions,
        ))
    if not done:
        reasons = "; ".join(f"dev {s.dev_split}/test {s.test_split}: {s.reason}" for s in skipped)
        raise LwaError(f"every CCA trial failed{context(name)}: {reasons}")
    return CVResult(
        score=float(np.mean([t.test_score for t in done])), metric=metric, mean_score=mean_score,
        n=int(sizes.sum()), dx=dx, dy=dy, trials=done, skipped=skipped,
        null_tol=used_null_tol, svd_keep=used_svd_keep,
    )


class _Scorer:
    """Scores fits on one evaluation split: from its moments, or from its rows (read once,
    on the first candidate that needs them)."""

    def __init__(self, stats: SplitStats, split: int,
                 read_rows: Callable[[int], EvalData]) -> None:
        self.moments = EvalMoments.from_stats(stats, split)
        self.split = split
        self.read_rows = read_rows
        self.rows: EvalData | None = None

    def __call__(self, fit: CCAFit, metric: str, mean_score: bool) -> float:
        score = score_moments(fit, self.moments, metric, mean_score)
        if score is not None:
            return score
        if self.rows is None:
            self.rows = self.read_rows(self.split)
        return score_rows(fit, self.rows, metric, mean_score)


def _run_trial(
    model: CovarianceCCA,
    scorers: tuple[_Scorer, _Scorer],
    eps_list: Sequence[tuple[float, float]],
    n_candidates: int,
    metric: str,
    mean_score: bool,
    progress: Callable[[int], None] | None,
) -> tuple[list[CandidateResult], int] | str:
    """Fit candidates in order until ``n_candidates`` succeed; return them and the index of
    the best dev score, or the last failure's reason when none succeeds."""
    candidates: list[CandidateResult] = []
    reason = "no ε candidates were given"
    dev, test = scorers
    for eps_x, eps_y in eps_list:
        try:
            fit = model.fit(eps_x, eps_y)
        except CandidateFitError as err:
            reason = str(err)
            continue
        dev_score = dev(fit, metric, mean_score)
        test_score = test(fit, metric, mean_score)
        if not (math.isfinite(dev_score) and math.isfinite(test_score)):
            reason = (f"a canonical variate of ε = ({eps_x:g}, {eps_y:g}) is constant on the "
                      "dev or test split")
            continue
        candidates.append(CandidateResult(float(eps_x), float(eps_y), dev_score, test_score,
                                          fit.kx, fit.ky, fit.x_null_dims, fit.y_null_dims,
                                          fit.k))
        if progress is not None:
            progress(1)
        if len(candidates) == n_candidates:
            break
    if not candidates:
        return reason
    return candidates, int(np.argmax([c.dev_score for c in candidates]))


def _cka_trial(stats: SplitStats, dev: int, test: int) -> TrialResult:
    """A CKA 'trial': the linear CKA of the test split (and of the dev split)."""
    scores = [linear_cka_from_cov(*stats.covariance([s])) for s in (dev, test)]
    train = int(stats.counts.sum() - stats.counts[dev] - stats.counts[test])
    dx = stats.dx
    dy = stats.means.shape[1] - dx
    return TrialResult(dev, test, train, int(stats.counts[dev]), int(stats.counts[test]), [],
                       None, None, scores[0], scores[1], dx, dy)


def _check_not_constant(stats: SplitStats, name: str | None) -> None:
    """A view with zero variance in every dimension cannot be analysed at all."""
    variances = np.einsum("sii->si", stats.cross)
    spread = (stats.means - stats.means[:1]) ** 2
    varying = (variances > 0).any(axis=0) | (spread > 0).any(axis=0)
    for view, part in (("x", varying[: stats.dx]), ("y", varying[stats.dx :])):
        if not np.any(part):
            raise LwaError(
                f"every dimension of view {view}{context(name)} is constant, so CCA would "
                "prune them all; check the features"
            )

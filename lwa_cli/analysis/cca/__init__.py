"""Cross-validated CCA scores (PWCCA, SVCCA, ...): the numerical core of ``lwa cca``.

Pure functions over arrays of shape (n_samples, n_features) (the scikit-learn layout; the
reference and the golden files use features × samples). Nothing here reads or writes files.
This module is the public entry point; the work is done by modules that can be read one at a
time:

* :mod:`lwa_cli.analysis.cca.stats`: one streaming pass → per-split counts, means and centred
  cross-products (numpy or torch).
* :mod:`lwa_cli.analysis.cca.fit`: a CCA fit from covariance blocks (scaling, ε-pruning,
  whitening, SVD, sign convention), with the optional null-direction drop (``null_tol``) and
  SVCCA's SVD step (``svd_keep``).
* :mod:`lwa_cli.analysis.cca.scores`: per-direction correlations and the metrics (pwcca,
  pwcca-morcos, svcca, mean-cca), from rows or from a split's moments; which view each metric
  weights.
* :mod:`lwa_cli.analysis.cca.splits`: splits, trial pairs and ε candidates (SPEC §6.1–6.3).
* :mod:`lwa_cli.analysis.cca.cv`: the cross-validation and its result records.
"""

from __future__ import annotations

from lwa_cli.analysis.cca.cv import (
    DEFAULT_SVD_KEEP,
    CandidateResult,
    CVResult,
    SkippedTrial,
    TrialResult,
    cross_validated_pwcca,
)
from lwa_cli.analysis.cca.fit import (
    CandidateFitError,
    CCAFit,
    CovarianceCCA,
    align_signs,
    fit_cca,
    fit_cca_from_cov,
)
from lwa_cli.analysis.cca.scores import (
    METRICS,
    EvalData,
    EvalMoments,
    projected_correlations,
    pwcca_score,
    score_moments,
    score_rows,
)
from lwa_cli.analysis.cca.splits import (
    LARGE_EPSILONS,
    SMALL_EPSILONS,
    draw_trial_pairs,
    epsilon_candidates,
    make_splits,
)

__all__ = [
    "DEFAULT_SVD_KEEP",
    "LARGE_EPSILONS",
    "METRICS",
    "SMALL_EPSILONS",
    "CCAFit",
    "CVResult",
    "CandidateFitError",
    "CandidateResult",
    "CovarianceCCA",
    "EvalData",
    "EvalMoments",
    "SkippedTrial",
    "TrialResult",
    "align_signs",
    "cross_validated_pwcca",
    "draw_trial_pairs",
    "epsilon_candidates",
    "fit_cca",
    "fit_cca_from_cov",
    "make_splits",
    "projected_correlations",
    "pwcca_score",
    "score_moments",
    "score_rows",
]

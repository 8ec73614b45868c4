"""Similarity indices other than PWCCA that lwa offers as ``--metric`` alternatives.

Linear CKA (Kornblith et al., 2019) is computed in feature space from covariance blocks,
CKA = ‖Σxy‖²_F / (‖Σxx‖_F ‖Σyy‖_F), which equals the n × n kernel formula
tr(K H L H) / sqrt(tr(K H K H) tr(L H L H)) with K = X Xᵀ, L = Y Yᵀ and H the centring
matrix, without ever forming an n × n matrix. The normalisation of the covariances (1/n or
1/(n−1)) cancels.

SVCCA and the textbook projection-weighted CCA (Morcos et al., 2018) need fitted canonical
directions and live with the rest of the CCA scoring in :mod:`lwa_cli.analysis.cca`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lwa_cli.analysis.cca.stats import accumulate_split_stats
from lwa_cli.errors import LwaError


def linear_cka_from_cov(sxx: np.ndarray, sxy: np.ndarray, syy: np.ndarray) -> float:
    """Linear CKA from the covariance blocks of two views.

    Parameters
    ----------
    sxx, sxy, syy : (dx, dx), (dx, dy) and (dy, dy) covariance (or centred cross-product)
        blocks, all with the same normalisation.

    Returns
    -------
    float in [0, 1]: ‖Σxy‖²_F / (‖Σxx‖_F ‖Σyy‖_F).

    Raises
    ------
    LwaError
        If a view has zero variance in every dimension (CKA is undefined).
    """
    norm_x = float(np.linalg.norm(sxx))
    norm_y = float(np.linalg.norm(syy))
    if norm_x == 0.0 or norm_y == 0.0:
        view = "x" if norm_x == 0.0 else "y"
        raise LwaError(
            f"linear CKA is undefined: view {view} is constant in every dimension; "
            "check the features"
        )
    return float(np.sum(sxy * sxy) / (norm_x * norm_y))


def linear_cka(x: Any, y: Any, *, name: str | None = None, device: str = "cpu") -> float:
    """Linear CKA of two views (n, dx) and (n, dy), streamed over row chunks.

    Parameters
    ----------
    x, y : numpy arrays or row-sliceable array-likes (h5py datasets) with the same rows.
    name : context for error messages.
    device : "cpu" or a torch device for the cross-products.
    """
    n = int(x.shape[0])
    if n < 2:
        raise LwaError("linear CKA needs at least 2 points")
    stats, _ = accumulate_split_stats(
        x, y, np.zeros(n, dtype=np.int64), 1, name=name, device=device
    )
    return linear_cka_from_cov(*stats.covariance([0]))

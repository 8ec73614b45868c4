"""Layer × layer similarity maps between two models (or a model and itself).

`similarity_map` scores every (layer of A, layer of B) pair with the requested measures
(see `lwa_cli.analysis.similarity.measures` for the definitions), sharing all per-layer work:

- ``cka``, ``cka-debiased``, ``procrustes``: exact over all rows, from the centred Gram block
  of each layer (once per layer) and the centred cross block of each pair (one GEMM per
  chunk of rows, all three measures read the same block), streamed in float64;
- ``rsa``, ``mknn``: on one seeded subsample of rows (``rsa_rows``, ``knn_rows``; the
  smaller is a prefix of the larger), whose RDM ranks / neighbour sets are built once per
  layer;
- ``pwcca``: the cross-validated PWCCA of `lwa_cli.analysis.cca` (its own splits and fits),
  one call per pair; nothing is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lwa_cli.analysis.similarity import measures as lm
from lwa_cli.analysis.similarity.stats import stream_stats
from lwa_cli.errors import LwaError, LwaUsageError, param_error

FEATURE_MEASURES = ("cka", "cka-debiased", "procrustes")
SUBSAMPLE_MEASURES = ("rsa", "mknn")
MEASURES = ("pwcca", *FEATURE_MEASURES, *SUBSAMPLE_MEASURES)
"""Every measure `similarity_map` computes, in the order results are listed."""

HIGHER_IS_CLOSER = {"pwcca": True, "cka": True, "cka-debiased": True, "procrustes": False,
                    "rsa": True, "mknn": True}
"""Whether a larger value means more similar (procrustes is a distance)."""


def check_options(measures: Sequence[str], *, rsa_rows: int, knn_rows: int, k: int,
                  alpha: float) -> list[str]:
    """The measures in canonical order, after validating them and their options."""
    if not measures:
        raise LwaUsageError("`measures`: give at least one of " + ", ".join(MEASURES),
                            params=("measures",))
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise param_error("measures", ",".join(unknown), f"unknown; one of {', '.join(MEASURES)}")
    if "rsa" in measures and rsa_rows < 3:
        raise param_error("rsa_rows", rsa_rows, "must be at least 3")
    if "mknn" in measures and (k < 1 or knn_rows <= k):
        raise param_error("k", k, f"must be at least 1 and below knn_rows={knn_rows}",
                          also=("knn_rows",))
    if not 0.0 <= alpha <= 1.0:
        raise param_error("alpha", alpha, "must be in [0, 1]")
    return [m for m in MEASURES if m in measures]


def subsample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A seeded random order of min(size, n) row indices (the RSA/k-NN subsample)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(n)[: min(size, n)]


def similarity_map(xs: Sequence[Any], ys: Sequence[Any] | None, measures: Sequence[str], *,
                   rsa_rows: int = 2000, knn_rows: int = 2000, k: int = 10,
                   alpha: float = 1.0, seed: int = 0, memory_bytes: int = 512 * 2**20,
                   pwcca: Callable[[int, int], float] | None = None,
                   on_chunk: Callable[[int], None] | None = None
                   ) -> dict[str, np.ndarray]:
    """Every requested measure for every (layer of A, layer of B) pair.

    Parameters
    ----------
    xs, ys : the layers of A and B, each (n, d) and row-sliceable (numpy arrays, h5py
        datasets, row views), all with the same n rows in the same order; `ys` None for the
        map of A against itself.
    measures : names from `MEASURES`.
    rsa_rows, knn_rows : subsample sizes of ``rsa`` and ``mknn`` (capped at n).
    k : neighbours of ``mknn``.
    alpha : whitening of ``procrustes`` (1 none, 0 full; Williams et al. 2021).
    seed : seed of the subsample.
    memory_bytes : budget of the cross-block accumulators (more layers per pass over B).
    pwcca : ``pwcca(i, j)`` scores pair (i, j) for ``pwcca`` (the caller owns its views).
    on_chunk : progress callback (rows done in the statistics pass).

    Returns
    -------
    measure → (len(xs), len(ys or xs)) float64 array; ``procrustes`` in radians.

    Raises
    ------
    LwaUsageError : unknown measure or option out of range.
    LwaError : too few rows, unequal row counts, NaN/infinite features, or a layer for which
        a measure is undefined (constant layer), with the reason.
    """
    measures = check_options(measures, rsa_rows=rsa_rows, knn_rows=knn_rows, k=k, alpha=alpha)
    n = int(xs[0].shape[0]) if xs else 0
    if n < 2:
        raise LwaError(f"a similarity map needs at least 2 shared rows, got {n}")
    ny = len(xs) if ys is None else len(ys)
    out: dict[str, np.ndarray] = {}
    feature = [m for m in measures if m in FEATURE_MEASURES]
    sub_sizes = [s for m, s in (("rsa", rsa_rows), ("mknn", knn_rows)) if m in measures]
    if feature or sub_sizes:
        perm = subsample_rows(n, max(sub_sizes), seed) if sub_sizes else None
        sub = None if perm is None else np.sort(perm)
        order = None if perm is None else np.argsort(np.argsort(perm))
        sx, sy, cross = stream_stats(xs, ys, gram=bool(feature),
                                     row_sq="cka-debiased" in feature, subsample=sub,
                                     cross=bool(feature), memory_bytes=memory_bytes,
                                     on_chunk=on_chunk)
        if sub is not None:  # back to the seeded order, so that a smaller size is a prefix
            for s in {id(s): s for s in (*sx, *sy)}.values():
                s.sub = s.sub[order]
        for name in measures:
            if name == "pwcca":
                continue
            values = np.empty((len(xs), ny))
            for i in range(len(xs)):
                for j in range(ny):
                    values[i, j] = _one(name, sx[i], sy[j], None if cross is None
                                        else cross[i, j], n=n, rsa_rows=rsa_rows,
                                        knn_rows=knn_rows, k=k, alpha=alpha)
            out[name] = values
    if "pwcca" in measures:
        if pwcca is None:
            raise LwaUsageError("pwcca needs a scoring function for the pair's views")
        out["pwcca"] = np.array([[pwcca(i, j) for j in range(ny)] for i in range(len(xs))],
                                dtype=np.float64)
    return {m: out[m] for m in measures}


def _one(name: str, sx, sy, cross, *, n: int, rsa_rows: int, knn_rows: int, k: int,
         alpha: float) -> float:
    if name == "cka":
        return lm.cka(sx, sy, cross)
    if name == "cka-debiased":
        return lm.cka_debiased(sx, sy, cross)
    if name == "procrustes":
        return lm.procrustes(sx, sy, cross, alpha)
    if name == "rsa":
        return lm.rsa(sx, sy, min(rsa_rows, n))
    m = min(knn_rows, n)
    if k >= m:
        raise LwaError(f"mknn: k={k} needs more than {k} rows, the sample has {m}",
                       params=("k",))
    return lm.mknn(sx, sy, m, k)


def best_match(values: np.ndarray, measure: str) -> np.ndarray:
    """Per row (layer of A), the column (layer of B) that is most similar to it."""
    return (np.argmax(values, axis=1) if HIGHER_IS_CLOSER[measure]
            else np.argmin(values, axis=1))

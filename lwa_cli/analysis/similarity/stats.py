"""Statistics that a layer × layer similarity map shares between its pairs.

Every feature-space measure of `lwa_cli.analysis.similarity` is a function of

- per layer (computed once, whatever the number of pairs): the column means, the centred
  Gram block XcᵀXc (dx × dx), the row squared norms ‖xᵢ − μ‖² (an n-vector), and the rows of
  a seeded subsample (for the measures that need n × n matrices: RSA, mutual k-NN);
- per pair: the centred cross block XcᵀYc (dx × dy).

`stream_stats` computes all of them in two passes over the rows, chunk by chunk: pass 1 the
means, pass 2 (centred chunks) everything else, in float64. The cross blocks of a group of
layers of A against every layer of B are accumulated together, so that each chunk of B is
read once per group; groups are sized to `memory_bytes`. Row order within a chunk is fixed
and chunks are added in order, so results do not depend on the BLAS thread count beyond
the rounding of one GEMM (~1e-15 relative).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lwa_cli.errors import LwaError

CHUNK_BYTES = 64 * 2**20
"""Target size of one chunk of rows of all layers read together (float64)."""


@dataclass
class LayerStats:
    """What one layer contributes to every pair it is in.

    Attributes
    ----------
    mean : (d,) column means.
    gram : (d, d) centred cross-product XcᵀXc (None when no measure needs it).
    row_sq : (n,) squared norms of the centred rows (None when no measure needs them).
    sub : (m, d) the subsampled rows (None when no measure subsamples).
    """

    mean: np.ndarray
    gram: np.ndarray | None = None
    row_sq: np.ndarray | None = None
    sub: np.ndarray | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # per-layer products of the measures


def _check(views: Sequence[Any], what: str) -> tuple[int, list[int]]:
    if not views:
        raise LwaError(f"similarity map: no layers of {what} given")
    ns = {int(v.shape[0]) for v in views}
    if len(ns) != 1:
        raise LwaError(f"similarity map: the layers of {what} have different row counts "
                       f"{sorted(ns)}; pair them on the same sample")
    for v in views:
        if len(v.shape) != 2 or int(v.shape[1]) < 1:
            raise LwaError(f"similarity map: each layer of {what} must be (rows, dims), "
                           f"got shape {tuple(v.shape)}")
    return ns.pop(), [int(v.shape[1]) for v in views]


def _chunk_rows(dims: Sequence[int], n: int) -> int:
    return int(max(64, min(n, CHUNK_BYTES // (8 * max(1, sum(dims))))))


def _read(view: Any, start: int, stop: int) -> np.ndarray:
    return np.asarray(view[start:stop], dtype=np.float64)


def _means(views: Sequence[Any], n: int, chunk: int, name: str) -> list[np.ndarray]:
    sums = [np.zeros(int(v.shape[1])) for v in views]
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        for i, v in enumerate(views):
            block = _read(v, start, stop)
            if not np.isfinite(block).all():
                raise LwaError(f"similarity map: layer {i} of {name} has NaN or infinite "
                               f"values in rows {start}–{stop - 1}; check the features")
            sums[i] += block.sum(axis=0)
    return [s / n for s in sums]


def stream_stats(xs: Sequence[Any], ys: Sequence[Any] | None, *, gram: bool, row_sq: bool,
                 subsample: np.ndarray | None, cross: bool,
                 memory_bytes: int = 512 * 2**20,
                 on_chunk: Callable[[int], None] | None = None
                 ) -> tuple[list[LayerStats], list[LayerStats], np.ndarray | None]:
    """Per-layer statistics of `xs` and `ys` and the centred cross blocks of every pair.

    Parameters
    ----------
    xs, ys : layers of model A and B, row-sliceable (numpy arrays, h5py datasets, row views)
        with the same rows; `ys` None means the map of `xs` against itself (statistics are
        then computed once and shared).
    gram, row_sq, cross : whether to compute the Gram blocks, row norms and cross blocks.
    subsample : sorted row indices to keep (RSA, mutual k-NN), or None.
    memory_bytes : budget of the cross-block accumulators of one pass over B.
    on_chunk : called with the number of rows done after each chunk of pass 2.

    Returns
    -------
    (stats of xs, stats of ys, cross) where ``cross[i, j]`` is XᵢcᵀYⱼc as an object array of
    (dxᵢ, dyⱼ) float64 blocks (None when `cross` is False).
    """
    same = ys is None
    n, dx = _check(xs, "model A")
    if same:
        ys, dy = xs, dx
    else:
        ny, dy = _check(ys, "model B")
        if ny != n:
            raise LwaError(f"similarity map: model A has {n} rows, model B {ny}; pair them "
                           "on the same sample")
    dims = dx if same else dx + dy
    chunk = _chunk_rows(dims, n)
    mx = _means(xs, n, chunk, "model A")
    my = mx if same else _means(ys, n, chunk, "model B")
    sx = [LayerStats(mean=m) for m in mx]
    sy = sx if same else [LayerStats(mean=m) for m in my]
    for stats, d in ((sx, dx), (sy, dy)):
        for s, di in zip(stats, d, strict=True):
            if gram:
                s.gram = np.zeros((di, di))
            if row_sq:
                s.row_sq = np.zeros(n)
            if subsample is not None:
                s.sub = np.zeros((len(subsample), di))
    blocks = None
    if cross:
        blocks = np.empty((len(xs), len(ys)), dtype=object)
        per_x = [8 * d * sum(dy) for d in dx]
        groups, current, used = [], [], 0
        for i, size in enumerate(per_x):
            if current and used + size > memory_bytes:
                groups.append(current)
                current, used = [], 0
            current.append(i)
            used += size
        groups.append(current)
    else:
        groups = [[]]
    for g, group in enumerate(groups):
        first = g == 0
        acc = {(i, j): np.zeros((dx[i], dy[j])) for i in group for j in range(len(ys))}
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            cy = [_read(v, start, stop) - s.mean for v, s in zip(ys, sy, strict=True)]
            cx = cy if same else {i: _read(xs[i], start, stop) - sx[i].mean
                                  for i in (range(len(xs)) if first else group)}
            if first:
                _layer_pass(sy, cy, start, stop, subsample)
                if not same:
                    _layer_pass(sx, [cx[i] for i in range(len(xs))], start, stop, subsample)
            for i, j in acc:
                acc[(i, j)] += cx[i].T @ cy[j]
            if on_chunk is not None and first:
                on_chunk(stop)
        for key, block in acc.items():
            blocks[key] = block
    return sx, sy, blocks


def _layer_pass(stats: list[LayerStats], chunks: list[np.ndarray], start: int, stop: int,
                subsample: np.ndarray | None) -> None:
    for s, c in zip(stats, chunks, strict=True):
        if s.gram is not None:
            s.gram += c.T @ c
        if s.row_sq is not None:
            s.row_sq[start:stop] = np.einsum("ij,ij->i", c, c)
        if s.sub is not None:
            lo, hi = np.searchsorted(subsample, [start, stop])
            s.sub[lo:hi] = c[subsample[lo:hi] - start] + s.mean

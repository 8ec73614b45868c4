"""Streaming per-split sufficient statistics for CCA.

One pass over row chunks of two views X (n, dx) and Y (n, dy) gives, for every split s of the
rows, the count n_s, the mean μ_s of the stacked row z = [x, y] and the centred cross-product
C_s = Σ (z − μ_s)(z − μ_s)ᵀ, all in float64. Chunks are centred by their own means and merged
with the parallel (Chan et al.) update, so a constant dimension gets exactly zero variance, just
as with ``np.cov``; any union of splits (a training set) is combined the same way. The stacked
(dx+dy) × n matrix is never materialised: only one chunk of rows at a time.

The arithmetic runs on numpy (``device="cpu"``) or on torch for any other device (``"cuda"``,
``"cuda:1"``, …); both use the same code, only the array backend differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lwa_cli.errors import LwaError, LwaUsageError

#: Target size in bytes of one float64 chunk of stacked rows. Larger chunks mean fewer,
#: larger per-split cross-products (BLAS runs closer to its peak) and fewer merges: at
#: N = 100,000 × 848 dims, 256 MiB chunks cost 1.9-2.1× one Gram pass in CPU time at 643 MiB
#: peak RSS, 96 MiB chunks 2.4× at 330 MiB (benchmarks/cca.py).
CHUNK_BYTES = 256 * 2**20


def _context(name: str | None) -> str:
    """Return `` (name)`` for error messages, or an empty string."""
    return f" ({name})" if name else ""


@dataclass(frozen=True)
class SplitStats:
    """Sufficient statistics of the stacked rows z = [x, y] for each split.

    Attributes
    ----------
    counts : (S,) int64 number of rows per split.
    means : (S, D) float64 mean of z per split (D = dx + dy).
    cross : (S, D, D) float64 centred cross-product sums Σ (z − μ_s)(z − μ_s)ᵀ.
    dx : number of x dimensions (the first dx entries of z).
    """

    counts: np.ndarray
    means: np.ndarray
    cross: np.ndarray
    dx: int

    @property
    def n_splits(self) -> int:
        """Number of splits."""
        return int(self.counts.shape[0])

    def pooled(self, splits: Sequence[int]) -> tuple[int, np.ndarray, np.ndarray]:
        """Combine splits into one set: (count, mean, centred cross-product).

        Uses the exact pairwise-free form of Chan's formula,
        C = Σ_s C_s + Σ_s n_s (μ_s − μ)(μ_s − μ)ᵀ, with μ computed as an offset from the first
        split's mean so that dimensions constant across splits keep exactly zero deviation.
        """
        idx = np.asarray(list(splits), dtype=np.int64)
        counts = self.counts[idx].astype(np.float64)
        n = int(self.counts[idx].sum())
        if n == 0:
            raise LwaError("cannot pool empty splits: they hold no rows")
        ref = self.means[idx[0]]
        mean = ref + (counts[:, None] * (self.means[idx] - ref)).sum(axis=0) / n
        delta = self.means[idx] - mean
        cross = self.cross[idx].sum(axis=0) + (delta * counts[:, None]).T @ delta
        return n, mean, cross

    def covariance(self, splits: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unbiased covariance blocks (Σxx, Σxy, Σyy) of the union of ``splits``, like np.cov."""
        n, _, cross = self.pooled(splits)
        if n < 2:
            raise LwaError("a covariance needs at least 2 rows; the pooled splits hold fewer")
        cov = cross / (n - 1)
        dx = self.dx
        return cov[:dx, :dx], cov[:dx, dx:], cov[dx:, dx:]


class _NumpyBackend:
    """Array operations on the CPU with numpy (BLAS syrk for Bᵀ B)."""

    def asarray(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float64)

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape, dtype=np.float64)

    def to_numpy(self, a: np.ndarray) -> np.ndarray:
        return a


class _TorchBackend:
    """The same operations with torch float64 tensors on ``device`` (e.g. a GPU)."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise LwaUsageError(
                f"device {device!r} was requested but torch sees no CUDA GPU; use device 'cpu'"
            )

    def asarray(self, a: np.ndarray) -> Any:
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(
            device=self.device, dtype=self.torch.float64
        )

    def zeros(self, shape: tuple[int, ...]) -> Any:
        return self.torch.zeros(shape, dtype=self.torch.float64, device=self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        return a.detach().cpu().numpy()


def get_backend(device: str) -> _NumpyBackend | _TorchBackend:
    """Return the array backend for ``device``: numpy for "cpu", torch for anything else."""
    if not isinstance(device, str) or not device:
        raise LwaUsageError(f"device must be a name such as 'cpu' or 'cuda', not {device!r}")
    return _NumpyBackend() if device == "cpu" else _TorchBackend(device)


def default_chunk_rows(n_features: int) -> int:
    """Rows per chunk so that one float64 chunk of ``n_features`` columns is ~CHUNK_BYTES."""
    return max(256, CHUNK_BYTES // (8 * max(1, n_features)))


def read_rows(view: Any, start: int, stop: int) -> np.ndarray:
    """Read rows [start, stop) of an array-like (numpy array, h5py dataset, …) as numpy."""
    return np.asarray(view[start:stop])


def check_finite(block: np.ndarray, first_row: int, view_name: str, name: str | None) -> None:
    """Raise LwaError naming the first row/column of ``block`` that is NaN or infinite."""
    if block.dtype.kind not in "fc":
        return
    # Fast path without a temporary: a float64 sum of finite float32/float64 values is
    # finite unless it overflows, and any NaN or inf makes it non-finite.
    if np.isfinite(np.add.reduce(block, axis=None, dtype=np.float64)):
        return
    finite = np.isfinite(block)
    if finite.all():
        return
    row, col = np.argwhere(~finite)[0]
    raise LwaError(
        f"view {view_name}{_context(name)} has a NaN or infinite value at row "
        f"{first_row + int(row)}, dimension {int(col)}; clean or drop such rows and re-run"
    )


def take_rows(view: Any, idx: np.ndarray, chunk_rows: int) -> np.ndarray:
    """Return ``view[idx]`` (rows in the order of ``idx``), reading contiguous row chunks.

    numpy arrays are indexed directly; other array-likes (h5py datasets) are read chunk by
    chunk, skipping chunks that hold none of the requested rows.
    """
    idx = np.asarray(idx, dtype=np.int64)
    if isinstance(view, np.ndarray):
        return view[idx]
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    out = np.empty((idx.size, view.shape[1]), dtype=_storage_dtype(view))
    pos = 0
    while pos < sorted_idx.size:
        start = int(sorted_idx[pos])
        stop = min(start + chunk_rows, int(view.shape[0]))
        end = int(np.searchsorted(sorted_idx, stop, side="left"))
        block = read_rows(view, start, stop)
        out[order[pos:end]] = block[sorted_idx[pos:end] - start]
        pos = end
    return out


def _storage_dtype(view: Any) -> np.dtype:
    """Keep float32/float64 inputs as they are (a lossless copy); anything else as float64."""
    dtype = np.dtype(getattr(view, "dtype", np.float64))
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


def accumulate_split_stats(
    x: Any,
    y: Any,
    split_of_row: np.ndarray,
    n_splits: int,
    *,
    chunk_rows: int | None = None,
    device: str = "cpu",
    name: str | None = None,
    collect: Sequence[np.ndarray] = (),
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[SplitStats, list[tuple[np.ndarray, np.ndarray]]]:
    """Compute per-split statistics of the stacked rows [x, y] in one pass over row chunks.

    Parameters
    ----------
    x, y : array-likes of shape (n, dx) and (n, dy) supporting row slicing (numpy arrays,
        h5py datasets, memmaps). Read ``chunk_rows`` rows at a time.
    split_of_row : (n,) int split number of each row, or -1 for rows that belong to no split.
    n_splits : number of splits S.
    chunk_rows : rows per chunk; by default about 96 MiB of float64 stacked rows.
    device : "cpu" (numpy) or a torch device such as "cuda" for the cross-products.
    name : context for error messages (e.g. the layer name).
    collect : index arrays of rows to gather during the same pass (e.g. the dev/test splits
        of an HDF5 input); returned in that order, in the inputs' float dtype.
    on_chunk : called with the number of rows after each chunk (progress).

    Returns
    -------
    (stats, collected) where collected[j] = (x[collect[j]], y[collect[j]]).

    Raises
    ------
    LwaError
        If the views disagree in length or hold a NaN/infinite value.
    """
    n, dx = int(x.shape[0]), int(x.shape[1])
    dy = int(y.shape[1])
    if int(y.shape[0]) != n:
        raise LwaError(
            f"views x and y{_context(name)} have {n} and {y.shape[0]} rows; they must match"
        )
    split_of_row = np.asarray(split_of_row, dtype=np.int64)
    if split_of_row.shape != (n,):
        raise LwaError(f"split_of_row has shape {split_of_row.shape}, expected ({n},)")
    dim = dx + dy
    rows_per_chunk = chunk_rows or default_chunk_rows(dim)
    backend = get_backend(device)

    counts = np.zeros(n_splits, dtype=np.int64)
    means = backend.zeros((n_splits, dim))
    cross = backend.zeros((n_splits, dim, dim))

    collect_of_row = np.full(n, -1, dtype=np.int64)
    pos_of_row = np.zeros(n, dtype=np.int64)
    collected = []
    for j, idx in enumerate(collect):
        idx = np.asarray(idx, dtype=np.int64)
        collect_of_row[idx] = j
        pos_of_row[idx] = np.arange(idx.size)
        collected.append(
            (
                np.empty((idx.size, dx), dtype=_storage_dtype(x)),
                np.empty((idx.size, dy), dtype=_storage_dtype(y)),
            )
        )

    buf = np.empty((min(rows_per_chunk, max(n, 1)), dim), dtype=np.float64)
    for start in range(0, n, rows_per_chunk):
        stop = min(start + rows_per_chunk, n)
        xs = read_rows(x, start, stop)
        ys = read_rows(y, start, stop)
        check_finite(xs, start, "x", name)
        check_finite(ys, start, "y", name)
        _collect_chunk(xs, ys, collect_of_row[start:stop], pos_of_row[start:stop], collected)

        labels = split_of_row[start:stop]
        order = np.argsort(labels, kind="stable")
        first = int(np.searchsorted(labels[order], 0, side="left"))
        order = order[first:]
        m = order.size
        if m:
            # Rows grouped by split: each split's rows are one contiguous block.
            buf[:m, :dx] = xs[order]
            buf[:m, dx:] = ys[order]
            block_counts = np.bincount(labels[order], minlength=n_splits)
            z = backend.asarray(buf[:m])
            offset = 0
            for s in np.flatnonzero(block_counts):
                c = int(block_counts[s])
                _merge(counts, means, cross, int(s), z[offset : offset + c], c)
                offset += c
        if on_chunk is not None:
            on_chunk(stop - start)

    stats = SplitStats(
        counts=counts, means=backend.to_numpy(means), cross=backend.to_numpy(cross), dx=dx
    )
    return stats, collected


def _collect_chunk(
    xs: np.ndarray,
    ys: np.ndarray,
    collect_of_row: np.ndarray,
    pos_of_row: np.ndarray,
    collected: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    """Copy the rows of this chunk that belong to collected index sets into their outputs."""
    for j, (out_x, out_y) in enumerate(collected):
        rows = np.flatnonzero(collect_of_row == j)
        if rows.size:
            out_x[pos_of_row[rows]] = xs[rows]
            out_y[pos_of_row[rows]] = ys[rows]


def _merge(counts: np.ndarray, means: Any, cross: Any, s: int, block: Any, c: int) -> None:
    """Merge a block of c rows into split s's running (count, mean, cross-product), in place.

    The block is centred in place by its own mean (so constant columns give exact zeros) and
    merged with Chan's update: C = C_a + C_b + (n_a n_b / n) δ δᵀ with δ = μ_b − μ_a.
    """
    block_mean = block.sum(0) / c
    block -= block_mean  # in place: the block is a slice of the chunk buffer, used only here
    block_cross = block.T @ block  # numpy calls BLAS syrk for a matrix times its transpose
    n_a = int(counts[s])
    if n_a == 0:
        means[s] = block_mean
        cross[s] = block_cross
    else:
        total = n_a + c
        delta = block_mean - means[s]
        means[s] += delta * (c / total)
        cross[s] += block_cross
        cross[s] += (delta[:, None] * delta[None, :]) * (n_a * c / total)
    counts[s] = n_a + c

"""Paired views for CCA, built lazily from feature files (rows are streamed, not loaded)."""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from lwa_cli.errors import LwaError
from lwa_cli.workspace.features import FeatureFile


@dataclass(frozen=True)
class RowSubset:
    """Rows `index` (increasing) of a 2-D dataset, sliceable like an array.

    A slice reads the contiguous stretch of the dataset that covers it and selects in
    memory: the index is nearly contiguous (a few frames trimmed per utterance), so this is
    one fast HDF5 read per chunk instead of a slow point selection.
    """

    data: h5py.Dataset | np.ndarray
    index: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), int(self.data.shape[1]))

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key):
        if isinstance(key, slice):
            rows = self.index[key]
        else:
            rows = self.index[np.asarray(key)]
        if len(rows) == 0:
            return np.empty((0, self.shape[1]), dtype=self.dtype)
        lo, hi = int(rows.min()), int(rows.max()) + 1
        return np.asarray(self.data[lo:hi])[rows - lo]

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def _unit_lengths(f: FeatureFile, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Utterance ids and the rows each one has in `dataset`, in file order."""
    names, rows = f.unit_rows()
    if dataset not in names:
        raise LwaError(f"{f.path} has no dataset {dataset}")
    return f.units(), rows[:, names.index(dataset)]


def aligned_frames(fx: FeatureFile, dx: str, fy: FeatureFile,
                   dy: str) -> tuple[RowSubset, RowSubset]:
    """Pair the frames of two frame-level datasets utterance by utterance.

    Both files must hold the same utterances; each utterance is cut to the shorter of its
    two frame counts (e.g. T layers vs mel frames subsampled by 2, or two models).
    """
    ux, nx = _unit_lengths(fx, dx)
    uy, ny = _unit_lengths(fy, dy)
    if sorted(ux.tolist()) != sorted(uy.tolist()):
        raise LwaError(f"{fx.path.name} and {fy.path.name} hold different utterances; "
                       "extract both from the same sample")
    pos_y = {int(u): i for i, u in enumerate(uy)}
    order_y = np.array([pos_y[int(u)] for u in ux], dtype=np.int64)
    start_x = np.concatenate([[0], np.cumsum(nx)[:-1]])
    start_y = np.concatenate([[0], np.cumsum(ny)[:-1]])[order_y]
    common = np.minimum(nx, ny[order_y])
    idx_x = np.concatenate([np.arange(s, s + c) for s, c in zip(start_x, common, strict=True)])
    idx_y = np.concatenate([np.arange(s, s + c) for s, c in zip(start_y, common, strict=True)])
    return RowSubset(fx.dataset(dx), idx_x), RowSubset(fy.dataset(dy), idx_y)

"""Storage of extracted features: append-only writers that resume, and readers.

A feature file holds, per layer, one ``(N, D)`` dataset ``features/<layer>`` (plus
``mel/<layer>`` for the local representation), and row bookkeeping under ``rows/``:
frame spans store per-utterance ``rows/utt_index`` and ``rows/length_<layer>``; token
spans store ``rows/token_index`` and ``rows/label`` per row. Rows are in canonical order:
work units (utterances) in sample order.

While a command runs it writes ``<name>.h5.partial``; each finished work unit is recorded
under ``units/``, so a killed run resumes from the last finished unit, and only a complete
file is renamed to ``<name>.h5``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from h5py import h5s

from lwa_cli.errors import LwaError
from lwa_cli.workspace.core import StorageError, json_attr, open_h5, stamp_h5, storage_error
from lwa_cli.workspace.provenance import features_fingerprint
from lwa_cli.workspace.tables import STR

KIND = "features"
PARTIAL_SUFFIX = ".partial"
# No chunk cache for the writer: the datasets are unfiltered, so HDF5 writes each appended
# block straight into its chunk on disk (no read-modify-write), and the data is in the file
# as soon as the unit is marked. A 4 MiB cache made appends 2-3x slower (9 vs 3.5 ms for an
# utterance of 13 layers x 100 frames x 768 dims), each flush rewriting partly filled chunks;
# `_write_rows` brings that to ~3.3 ms (a raw pwrite of the same 4 MB: ~1.3 ms).
_CACHE = {"rdcc_nbytes": 0}
# Room kept free on the device besides a unit's rows: a fresh ~1 MiB chunk per dataset and
# HDF5's metadata. Checked before each unit, so a full disk stops the run with the partial
# file intact, before HDF5 itself fails (after which it cannot even close the file).
_CHUNK_RESERVE = 2**20
_META_RESERVE = 2 * 2**20


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


class FeatureWriter:
    """Append the rows of one work unit at a time; resumable; atomic on `finish`.

    `meta` identifies what is being extracted (model fingerprint, sample, layers, dtype...).
    An existing partial file is resumed only when its `meta` is identical; otherwise (or
    when it cannot be read, e.g. after a kill during a write) it is started afresh.
    """

    def __init__(self, path: Path, meta: dict[str, Any], dtype: str = "float32") -> None:
        self.path = path
        self.tmp = partial_path(path)
        self.dtype = np.dtype(dtype)
        self.meta = meta
        self.resumed = False
        self.discarded = False  # a partial file of another extraction was thrown away
        self.last_rows = 0  # rows the last appended unit wrote to the first dataset
        self._broken = False  # an HDF5 write failed: the file must not be touched again
        self._names: list[str] | None = None  # dataset names, once the first unit made them
        self._datasets: list[h5py.Dataset] | None = None
        self._units: tuple[h5py.Dataset, h5py.Dataset] | None = None
        self._filled: list[int] | None = None  # rows written per dataset (extents run ahead)
        self._file = self._guard(self._open)

    def _guard(self, step, *args):
        """Run an HDF5 step; a disk-full or permission failure becomes a StorageError."""
        try:
            return step(*args)
        except (OSError, RuntimeError) as exc:
            err = storage_error(exc, self.tmp)
            if err is None:
                raise
            self._broken = err.hdf5_broken
            raise err from None

    def _open(self) -> h5py.File:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            try:
                f = h5py.File(self.tmp, "r+", **_CACHE)
                if json_attr(f, "meta") == json.loads(json.dumps(self.meta)):
                    self.resumed = True
                    self._truncate_to_finished(f)
                    return f
                f.close()
            except (OSError, KeyError, ValueError):
                pass  # unreadable after a kill mid-write: start afresh
            # Safe: the caller holds this artefact's write lock, so no live writer owns it.
            self.tmp.unlink()
            self.discarded = True
        f = h5py.File(self.tmp, "w", **_CACHE)
        stamp_h5(f, KIND, meta=self.meta, complete=False)
        units = f.create_group("units")
        units.create_dataset("index", shape=(0,), maxshape=(None,), dtype=np.int64)
        return f

    @staticmethod
    def _truncate_to_finished(f: h5py.File) -> None:
        """Drop rows written by a unit that did not finish before a kill."""
        names = json_attr(f, "datasets", [])
        if not names:
            return
        counts = f["units/rows"][...].sum(axis=0) if "rows" in f["units"] else np.zeros(len(names))
        for name, n in zip(names, counts, strict=True):
            f[name].resize(int(n), axis=0)

    @property
    def done_units(self) -> set[int]:
        return set(self._file["units/index"][...].tolist())

    def append(self, unit: int, rows: dict[str, np.ndarray]) -> None:
        """Write all rows of work unit `unit` (arrays keyed by dataset name), then mark it.

        Raises StorageError, before writing anything, when the device lacks room for them.
        """
        need = sum(np.asarray(a).nbytes + _CHUNK_RESERVE for a in rows.values()) + _META_RESERVE
        free = shutil.disk_usage(self.tmp.parent).free
        if free < need:
            raise StorageError(
                f"no space left on the device holding {self.tmp} ({free / 2**20:.1f} MiB free, "
                f"{need / 2**20:.1f} MiB needed for the next utterance); free some space and "
                "rerun: the finished utterances are kept and the run resumes after them")
        self._guard(self._append, unit, rows)

    def _append(self, unit: int, rows: dict[str, np.ndarray]) -> None:
        f = self._file
        names = self._names if self._names is not None else json_attr(f, "datasets")
        if names is None:
            names = sorted(rows)
            for name in names:
                arr = np.asarray(rows[name])
                if arr.dtype.kind in "US":
                    f.create_dataset(name, shape=(0,), maxshape=(None,), dtype=STR, chunks=True)
                else:
                    dt = self.dtype if arr.dtype.kind == "f" else arr.dtype
                    # ~1 MiB chunks: large enough for fast reads of many rows, small
                    # enough that a file of few rows is not padded much.
                    row_size = max(1, int(np.prod(arr.shape[1:]))) * np.dtype(dt).itemsize
                    f.create_dataset(name, shape=(0, *arr.shape[1:]),
                                     maxshape=(None, *arr.shape[1:]), dtype=dt,
                                     chunks=(max(1, min(4096, 2**20 // row_size)),
                                             *arr.shape[1:]))
            f.attrs["datasets"] = json.dumps(names)
            f["units"].create_dataset("rows", shape=(0, len(names)),
                                      maxshape=(None, len(names)), dtype=np.int64)
        self._names = names
        if sorted(rows) != names:
            raise LwaError(f"internal: unit {unit} has datasets {sorted(rows)}, expected {names}")
        if self._datasets is None:  # looked up once: h5py name lookups cost ~0.1 ms each
            self._datasets = [f[name] for name in names]
            self._units = (f["units/index"], f["units/rows"])
        if self._filled is None:
            self._filled = [ds.shape[0] for ds in self._datasets]
        counts = []
        for i, (name, ds) in enumerate(zip(names, self._datasets, strict=True)):
            arr = np.asarray(rows[name])
            self._filled[i] = _write_rows(ds, self._filled[i], arr)
            counts.append(len(arr))
        self.last_rows = counts[0]
        for ds, value in zip(self._units, (unit, counts), strict=True):
            ds.resize(ds.shape[0] + 1, axis=0)
            ds[-1] = value
        f.flush()

    def finish(self, summary: dict[str, Any]) -> Path:
        """Record a summary (counts, timings), mark complete and move into place atomically."""
        def step() -> None:
            f = self._file
            for ds, n in zip(self._datasets or (), self._filled or (), strict=True):
                ds.resize(n, axis=0)  # drop the extent grown ahead of the rows
            f.attrs["summary"] = json.dumps(summary)
            f.attrs["complete"] = True
            f.close()
            os.replace(self.tmp, self.path)

        self._guard(step)
        return self.path

    def close(self) -> None:
        """Close without finishing (the partial file stays for a later resume)."""
        if not self._broken and self._file.id.valid:
            self._guard(self._file.close)


def _write_rows(ds: h5py.Dataset, filled: int, arr: np.ndarray) -> int:
    """Write `arr` as rows ``filled:filled+len(arr)`` of `ds`; the new row count.

    The extent grows a chunk ahead (a resize per chunk rather than per utterance; `finish`
    and a resume cut it back to the rows written), and numeric rows go through h5py's
    low-level write: together a third less time per utterance than ``ds[n:] = arr``,
    which matters when the forward pass of a short utterance takes ~100 ms.
    """
    end = filled + len(arr)
    if end > ds.shape[0]:
        ds.resize(max(end, filled + ds.chunks[0]), axis=0)
    if len(arr) == 0:
        return end
    if arr.dtype.kind in "US":
        ds[filled:end] = arr.astype(object)
        return end
    space = ds.id.get_space()
    space.select_hyperslab((filled,) + (0,) * (arr.ndim - 1), arr.shape)
    ds.id.write(h5s.create_simple(arr.shape), space, np.ascontiguousarray(arr))
    return end


class FeatureFile:
    """Read access to a complete feature file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open_h5(path, KIND)
        if not bool(self._file.attrs.get("complete", False)):
            self._file.close()
            raise LwaError(f"{path} is incomplete; rerun the `lwa extract` that makes it")
        self.meta: dict[str, Any] = json_attr(self._file, "meta")

    def __enter__(self) -> FeatureFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()

    @property
    def layers(self) -> list[str]:
        return list(self.meta["layers"])

    @property
    def fingerprint(self) -> str:
        """What the stored numbers depend on (see provenance.features_fingerprint)."""
        return features_fingerprint(self.meta)

    @property
    def summary(self) -> dict[str, Any]:
        return json_attr(self._file, "summary", {})

    def features(self, layer: str) -> h5py.Dataset:
        """The ``(N, D)`` dataset of a layer (read lazily; slice rows to stream)."""
        name = f"features/{layer}"
        if name not in self._file:
            raise LwaError(f"{self.path} has no layer {layer} (it has {', '.join(self.layers)})")
        return self._file[name]

    def mel(self, layer: str) -> h5py.Dataset:
        name = f"mel/{layer}"
        if name not in self._file:
            raise LwaError(f"{self.path} has no aligned mel for {layer}")
        return self._file[name]

    def rows(self, key: str) -> np.ndarray:
        ds = self._file[f"rows/{key}"]
        if h5py.check_string_dtype(ds.dtype) is not None:
            return np.asarray(ds.asstr()[...], dtype=str)
        return ds[...]

    def units(self) -> np.ndarray:
        return self._file["units/index"][...]

    def unit_rows(self) -> tuple[list[str], np.ndarray]:
        """Dataset names and the rows each finished unit wrote to each."""
        return json_attr(self._file, "datasets"), self._file["units/rows"][...]

    def datasets(self) -> Iterator[str]:
        yield from json_attr(self._file, "datasets")

    def dataset(self, name: str) -> h5py.Dataset:
        return self._file[name]

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of any dataset (strings come back as numpy unicode)."""
        ds = self._file[name]
        if h5py.check_string_dtype(ds.dtype) is not None:
            return np.asarray(ds.asstr()[start:stop], dtype=str)
        return ds[start:stop]


def find_parts(directory: Path, stem: str) -> list[Path]:
    """Complete part files (shards/subsets) of a feature file."""
    return sorted(p for p in directory.glob(f"{stem}.part-*.h5"))


def find_partials(directory: Path, stem: str) -> list[Path]:
    return sorted(directory.glob(f"{stem}*.h5{PARTIAL_SUFFIX}"))


__all__: Sequence[str] = ["FeatureFile", "FeatureWriter", "find_parts", "find_partials",
                          "partial_path"]

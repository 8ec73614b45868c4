"""Reading and writing typed columns (numbers and strings) in HDF5 groups."""

from __future__ import annotations

import h5py
import numpy as np

STR = h5py.string_dtype("utf-8")


def write_column(group: h5py.Group, name: str, values: np.ndarray) -> None:
    """Store a 1-D column; unicode arrays become UTF-8 variable-length strings."""
    values = np.asarray(values)
    if values.dtype.kind in "US":
        group.create_dataset(name, data=values.astype(object), dtype=STR)
    else:
        group.create_dataset(name, data=values)


def read_column(group: h5py.Group, name: str) -> np.ndarray:
    """Load a column written by `write_column` (strings come back as numpy unicode)."""
    ds = group[name]
    if h5py.check_string_dtype(ds.dtype) is not None:
        return np.asarray(ds.asstr()[...], dtype=str)
    return ds[...]


def write_columns(parent: h5py.Group, name: str, columns: dict[str, np.ndarray]) -> None:
    group = parent.create_group(name)
    for key, values in columns.items():
        write_column(group, key, values)


def read_columns(parent: h5py.Group, name: str) -> dict[str, np.ndarray]:
    group = parent[name]
    return {key: read_column(group, key) for key in group}

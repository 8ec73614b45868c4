"""Workspace root, paths, format versioning and atomic writes."""

from __future__ import annotations

import errno
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py

from lwa_cli import __version__
from lwa_cli.errors import LwaError

FORMAT_VERSION = 2
"""2: every artefact records the fingerprints of its inputs (see provenance.py)."""
MARKER = "lwa-workspace.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_name(value: str, what: str) -> str:
    """Validate a user-given name that becomes part of a path (model, sample, split...)."""
    if not _NAME_RE.match(value):
        raise LwaError(
            f"invalid {what} {value!r}: use letters, digits and . _ + - only "
            "(it names files in the workspace)"
        )
    return value


class StorageError(LwaError):
    """The workspace cannot be written: permission denied, read-only, or no space left.

    `hdf5_broken` marks a failure inside an HDF5 write: the library's state is then beyond
    repair, and the CLI ends the process at once (with this message and exit code 1) rather
    than let HDF5 crash at interpreter exit.
    """

    def __init__(self, message: str, *, hdf5_broken: bool = False) -> None:
        super().__init__(message)
        self.hdf5_broken = hdf5_broken


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def storage_error(exc: BaseException, path: Path | str) -> StorageError | None:
    """A clear StorageError for an OS or HDF5 write failure, or None for any other error.

    HDF5 reports the OS error inside its message (``errno = 28``) rather than as `errno`.
    """
    code = getattr(exc, "errno", None)
    text = str(exc)
    hdf5 = "errno = " in text
    if hdf5:
        match = re.search(r"errno = (\d+)", text)
        code = int(match.group(1)) if match else code
    if code in _DISK_FULL:
        return StorageError(
            f"no space left on the device holding {path}; free some space and rerun (finished "
            "work is kept: an extraction resumes where it stopped)", hdf5_broken=hdf5)
    if code in _DENIED:
        why = "read-only file system" if code == errno.EROFS else "permission denied"
        return StorageError(f"cannot write to the workspace ({Path(path).parent}): {why}",
                            hdf5_broken=hdf5)
    return None


@contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    The temporary name is unique per writer, so concurrent commands never collide, and a
    crash leaves at most a stray ``.tmp`` file that no reader ever opens.
    """
    # A fresh unique name (not mkstemp, whose 0600 mode would ignore the user's umask).
    tmp_path = path.parent / f".{path.name}.{uuid.uuid4().hex}{suffix}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        err = storage_error(exc, path)
        if err is None:
            raise
        raise err from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_h5(path: Path, kind: str, **attrs: Any) -> Iterator[h5py.File]:
    """Write an HDF5 file atomically, stamped with the format version and its kind."""
    with atomic_path(path, ".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            stamp_h5(f, kind, **attrs)
            yield f


def stamp_h5(f: h5py.File, kind: str, **attrs: Any) -> None:
    """Write the attributes that mark an HDF5 file as an lwa file of a given kind."""
    f.attrs["lwa_format_version"] = FORMAT_VERSION
    f.attrs["lwa_kind"] = kind
    f.attrs["lwa_version"] = __version__
    for key, value in attrs.items():
        f.attrs[key] = json.dumps(value) if isinstance(value, dict | list | tuple) else value


def open_h5(path: Path, kind: str, mode: str = "r") -> h5py.File:
    """Open an lwa HDF5 file, refusing foreign or incompatible files with a clear error."""
    if not path.is_file():
        raise LwaError(f"missing workspace file {path}")
    try:
        f = h5py.File(path, mode)
    except OSError as exc:
        raise LwaError(f"{path} is not a readable HDF5 file ({exc}); remove it and rerun") from exc
    version = f.attrs.get("lwa_format_version")
    found = f.attrs.get("lwa_kind")
    if version is None or found is None:
        f.close()
        raise LwaError(f"{path} is not an lwa file (no format version attribute)")
    if int(version) != FORMAT_VERSION:
        f.close()
        raise LwaError(
            f"{path} has workspace format {int(version)}, this lwa reads format "
            f"{FORMAT_VERSION}; use a matching lwa version or a new workspace"
        )
    if found != kind:
        f.close()
        raise LwaError(f"{path} holds {found!r} data, expected {kind!r}")
    return f


def json_attr(f: h5py.File | h5py.Group, key: str, default: Any = None) -> Any:
    """Read an attribute that was stored as JSON by `stamp_h5`."""
    value = f.attrs.get(key)
    return default if value is None else json.loads(value)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write a small JSON document atomically."""
    with atomic_path(path, ".json") as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


class Workspace:
    """A workspace directory: creates it on first write, checks its format on open."""

    def __init__(self, root: Path | str, *, wait: bool = False) -> None:
        self.root = Path(root).expanduser().resolve()
        self.wait = wait  # block on another process's lock instead of failing at once

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # -- creation and checks -------------------------------------------------------------
    def ensure(self) -> Workspace:
        """Create the workspace if needed and check its format version; return self."""
        marker = self.root / MARKER
        if marker.is_file():
            self.check()
            return self
        if self.root.exists() and any(self.root.iterdir()):
            raise LwaError(
                f"{self.root} is not empty and is not an lwa workspace; choose another "
                "--workspace directory"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise (storage_error(exc, self.root / MARKER) or exc) from None
        write_json_atomic(marker, {"format": "lwa-workspace", "format_version": FORMAT_VERSION,
                                   "created_by": __version__})
        return self

    def check(self) -> Workspace:
        """Raise a clear error unless this is an existing workspace of our format."""
        marker = self.root / MARKER
        if not marker.is_file():
            raise LwaError(
                f"no lwa workspace at {self.root}; run `lwa prepare-alignments` first or "
                "pass --workspace"
            )
        try:
            meta = json.loads(marker.read_text())
            version = int(meta["format_version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LwaError(f"{marker} is corrupt ({exc})") from exc
        if version != FORMAT_VERSION:
            raise LwaError(
                f"workspace {self.root} has format {version}; this lwa reads format "
                f"{FORMAT_VERSION}"
            )
        return self

    # -- layout --------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """A workspace path as it is recorded in provenance (relative to the root)."""
        return str(Path(path).relative_to(self.root))

    def alignments_path(self, split: str) -> Path:
        return self.root / "alignments" / f"{check_name(split, 'split')}.h5"

    def sample_path(self, split: str, kind: str, sample: str) -> Path:
        return (self.root / "samples" / check_name(split, "split")
                / f"{kind}-{check_name(sample, 'sample name')}.h5")

    def features_dir(self, model: str, split: str, sample: str) -> Path:
        return (self.root / "features" / check_name(model, "model name")
                / check_name(split, "split") / f"sample-{check_name(sample, 'sample name')}")

    def features_path(self, model: str, split: str, sample: str, stem: str,
                      part: str | None = None) -> Path:
        """`stem` is e.g. ``frame``, ``frame-local``, ``phone``; `part` names a shard/subset."""
        name = stem if part is None else f"{stem}.{part}"
        return self.features_dir(model, split, sample) / f"{name}.h5"

    def embeddings_path(self, name: str) -> Path:
        return self.root / "embeddings" / f"{check_name(name, 'embedding name')}.h5"

    def results_dir(self) -> Path:
        return self.root / "results"

    def result_path(self, analysis: str, model: str, split: str, sample: str, layer: str,
                    tag: str | None = None) -> Path:
        """One JSON file per result, so concurrent runs (``make -j``) never collide."""
        leaf = layer if tag is None else f"{layer}.{tag}"
        return (self.results_dir() / check_name(analysis, "analysis") / check_name(model, "model")
                / check_name(split, "split") / f"sample-{check_name(sample, 'sample name')}"
                / f"{check_name(leaf, 'layer')}.json")

"""`lwa embeddings semantic|syntactic`: store a QVEC attribute oracle as an embedding map.

The map holds every word of the oracle file (no restriction to the corpus: the all-words
sample intersects it with a split, and oracles are small), its float64 rows exactly as parsed
(:func:`lwa_cli.analysis.oracles.read_oracle`) and the tag of each column (attribute ``tags``).
Like GloVe/AGWE maps it records the source file's fingerprint, so storing the same file again
is a no-op.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lwa_cli.analysis.oracles import Oracle, read_oracle
from lwa_cli.choices import ATTRIBUTE_MAPS
from lwa_cli.errors import LwaError, LwaUsageError
from lwa_cli.pipeline.embeddings import EmbeddingsSummary, refuse_replacing
from lwa_cli.progress import SILENT, Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.core import open_h5
from lwa_cli.workspace.embeddings import (
    KIND,
    embeddings_origin,
    load_embeddings,
    save_embeddings,
)
from lwa_cli.workspace.provenance import file_digest

#: Build options of an attribute map (what `embeddings_origin` compares on a rerun).
OPTIONS = {"format": "qvec-oracle", "dtype": "float64"}


def _check_name(name: str) -> None:
    if name not in ATTRIBUTE_MAPS:
        raise LwaUsageError(f"unknown attribute map {name!r}; one of {', '.join(ATTRIBUTE_MAPS)}")


def store_oracle(ws: Workspace, name: str, path: Path, *, force: bool = False,
                 reporter: Reporter = SILENT) -> EmbeddingsSummary:
    """Read an oracle file and store it as the embedding map `name` (semantic / syntactic).

    A map already stored from the same file (same bytes) is kept unless `force`; another
    stored map is replaced only with `force`.

    Raises
    ------
    LwaError
        A missing or malformed file (``file:line``, see `read_oracle`).
    """
    _check_name(name)
    ws.check()
    path = Path(path)
    if not path.is_file():
        raise LwaError(f"--path {path}: no such file")
    source_fp = file_digest(path)
    if not force and embeddings_origin(ws, name) == (source_fp, OPTIONS):
        words, matrix = load_embeddings(ws, name)
        reporter.info(f"{name}: stored from the same file (--force reads it again)")
        return EmbeddingsSummary(name, str(ws.embeddings_path(name)), len(words),
                                 int(matrix.shape[1]), str(path), status="exists")
    oracle = read_oracle(path)  # a malformed file is reported first
    refuse_replacing(ws, name, force, f"read from {path}")
    stored = save_embeddings(ws, name, oracle.words, oracle.matrix, source=str(path.resolve()),
                             options=OPTIONS, source_fingerprint=source_fp,
                             dtype=np.float64, tags=list(oracle.tags))
    reporter.info(f"{name}: {len(oracle.words)} words × {len(oracle.tags)} attributes")
    return EmbeddingsSummary(name, stored, len(oracle.words), len(oracle.tags), str(path))


def load_oracle_map(ws: Workspace, name: str) -> Oracle:
    """The stored attribute map `name` as an `Oracle` (words, tags, float64 matrix)."""
    _check_name(name)
    words, matrix = load_embeddings(ws, name)  # says which command makes a missing map
    with open_h5(ws.embeddings_path(name), KIND) as f:
        raw = f.attrs.get("tags")
    if raw is None or matrix.dtype != np.float64:
        raise LwaError(f"{ws.embeddings_path(name)} is not an attribute map; store it again "
                       f"with `lwa embeddings {name} --path FILE --force`")
    return Oracle(words=[str(w) for w in words], tags=json.loads(raw), matrix=matrix)

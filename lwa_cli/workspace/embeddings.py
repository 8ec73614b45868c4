"""Storage of word/phone embedding maps (GloVe, AGWE, one-hot) with their vocabulary.

Each map records a content `fingerprint` (what results computed from it record) and the
`source_fingerprint` of the file it was read from, so a rerun over the same file is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lwa_cli.errors import LwaError
from lwa_cli.workspace.core import Workspace, atomic_h5, json_attr, open_h5
from lwa_cli.workspace.locks import write_lock
from lwa_cli.workspace.provenance import array_digest
from lwa_cli.workspace.tables import read_column, write_column

KIND = "embeddings"


def save_embeddings(ws: Workspace, name: str, words: Sequence[str], matrix: np.ndarray, *,
                    source: str, options: dict[str, Any] | None = None,
                    source_fingerprint: str | None = None, dtype: type = np.float32,
                    **attrs) -> str:
    """Store a map; `options` (how it was built from its source) decide later reuse.

    Vectors are stored as float32 unless `dtype` says otherwise (attribute maps keep float64:
    their values are the oracle file's, exactly)."""
    path = ws.ensure().embeddings_path(name)
    words_arr = np.asarray(words, dtype=str)
    vectors = np.asarray(matrix, dtype=dtype)
    with write_lock(path, wait=ws.wait, what="embedding map"), \
            atomic_h5(path, KIND, name=name, source=source, options=options or {},
                      source_fingerprint=source_fingerprint or "",
                      fingerprint=array_digest(words_arr, vectors), **attrs) as f:
        write_column(f, "words", words_arr)
        f.create_dataset("vectors", data=vectors)
    return str(path)


def has_embeddings(ws: Workspace, name: str) -> bool:
    return ws.embeddings_path(name).is_file()


def _missing(ws: Workspace, name: str) -> LwaError:
    command = name.split("-")[0] if name.startswith("one-hot") else name
    return LwaError(f"no {name} embeddings in {ws.root}; run `lwa embeddings {command} ...` "
                    "first")


def embeddings_fingerprint(ws: Workspace, name: str) -> str:
    """The content fingerprint of a stored map."""
    path = ws.embeddings_path(name)
    if not path.is_file():
        raise _missing(ws, name)
    with open_h5(path, KIND) as f:
        return str(f.attrs["fingerprint"])


def embeddings_origin(ws: Workspace, name: str) -> tuple[str, dict[str, Any]] | None:
    """(source fingerprint, build options) of a stored map, or None when there is none."""
    path = ws.embeddings_path(name)
    if not path.is_file():
        return None
    with open_h5(path, KIND) as f:
        return str(f.attrs.get("source_fingerprint", "")), json_attr(f, "options", {})


def load_embeddings(ws: Workspace, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(words, vectors) of a stored map."""
    path = ws.embeddings_path(name)
    if not path.is_file():
        raise _missing(ws, name)
    with open_h5(path, KIND) as f:
        return read_column(f, "words"), f["vectors"][...]

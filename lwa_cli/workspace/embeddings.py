"""Storage of word/phone embedding maps (GloVe, AGWE, one-hot) with their vocabulary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lwa_cli.errors import LwaError
from lwa_cli.workspace.core import Workspace, atomic_h5, open_h5
from lwa_cli.workspace.tables import read_column, write_column

KIND = "embeddings"


def save_embeddings(ws: Workspace, name: str, words: Sequence[str], matrix: np.ndarray, *,
                    source: str, **attrs) -> str:
    path = ws.ensure().embeddings_path(name)
    with atomic_h5(path, KIND, name=name, source=source, **attrs) as f:
        write_column(f, "words", np.asarray(words, dtype=str))
        f.create_dataset("vectors", data=np.asarray(matrix, dtype=np.float32))
    return str(path)


def has_embeddings(ws: Workspace, name: str) -> bool:
    return ws.embeddings_path(name).is_file()


def load_embeddings(ws: Workspace, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(words, vectors) of a stored map."""
    path = ws.embeddings_path(name)
    if not path.is_file():
        raise LwaError(f"no {name} embeddings in {ws.root}; run `lwa embeddings "
                       f"{name.split('-')[0] if name.startswith('one-hot') else name} ...` first")
    with open_h5(path, KIND) as f:
        return read_column(f, "words"), f["vectors"][...]

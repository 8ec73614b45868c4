"""Embedding maps for CCA and word similarity: word-vector files and one-hot codes (SPEC §5).

`load_word_vectors` reads GloVe/AGWE-style text (``word v1 ... vD`` per line), word2vec text
with its ``V D`` header line, either of them gzip-compressed (``.gz``), and binary word2vec,
through gensim's ``KeyedVectors.load_word2vec_format``. Whether a header is present, and
whether the body is binary, is read from the file itself, not guessed from its name.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lwa_cli.errors import LwaError

# Enough of the body to tell binary word2vec from text: a few hundred float32 values.
_SNIFF_BYTES = 65536


def _open_binary(path: Path):
    """Open ``path`` for reading bytes, decompressing ``.gz``/``.bz2`` like gensim does."""
    from gensim import utils  # imported here: gensim is slow to import

    return utils.open(str(path), "rb")


def _sniff(path: Path) -> tuple[bool, bool]:
    """Return ``(has_header, is_binary)`` from the file's first line and the bytes after it."""
    with _open_binary(path) as handle:
        first = handle.readline()
        body = handle.read(_SNIFF_BYTES)
    if not first.strip():
        raise LwaError(f"word-vector file {path} is empty or starts with a blank line.")
    tokens = first.split()
    has_header = len(tokens) == 2 and all(token.isdigit() for token in tokens)
    if not has_header:
        return False, False
    try:
        # final=False tolerates a multi-byte character cut at the end of the sniffed block.
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
        is_binary = b"\x00" in body
    except UnicodeDecodeError:
        is_binary = True
    return True, is_binary


def load_word_vectors(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Load a word-vector file into a vocabulary and a float32 matrix.

    Parameters
    ----------
    path : str or Path
        GloVe-style text without header, word2vec text with a ``V D`` header, either
        optionally gzip-compressed, or binary word2vec (with its header).

    Returns
    -------
    words : list of str
        Vocabulary in file order (gensim keeps the first of duplicated words).
    matrix : ndarray of float32, shape (V, D)

    Raises
    ------
    LwaError
        Missing, empty, truncated or malformed file, or non-finite vector values.
    """
    path = Path(path)
    if not path.is_file():
        raise LwaError(f"word-vector file {path} does not exist; check the path.")
    from gensim.models import KeyedVectors

    try:
        has_header, binary = _sniff(path)
        vectors = KeyedVectors.load_word2vec_format(
            str(path), binary=binary, no_header=not has_header
        )
    except LwaError:
        raise
    except (ValueError, EOFError, OSError, IndexError) as exc:
        # gensim reports bad lines as ValueError/UnicodeDecodeError, a truncated binary file
        # as EOFError/ValueError, a broken gzip stream as OSError.
        raise LwaError(
            f"cannot read word vectors from {path} ({type(exc).__name__}: {exc}); expected "
            "'word v1 ... vD' lines (optional 'V D' header, .gz allowed) or binary word2vec."
        ) from None
    matrix = np.asarray(vectors.vectors, dtype=np.float32)
    if len(vectors.index_to_key) == 0:
        raise LwaError(f"word-vector file {path} holds no vectors.")
    if not np.isfinite(matrix).all():
        raise LwaError(f"word-vector file {path} contains NaN or infinite values.")
    return list(vectors.index_to_key), matrix


def one_hot(vocabulary: Sequence[str]) -> np.ndarray:
    """Return the (V, V) float32 one-hot code of ``vocabulary``: row i is word/phone i.

    Raises `LwaError` for an empty vocabulary or duplicated entries.
    """
    if len(vocabulary) == 0:
        raise LwaError("cannot build a one-hot map of an empty vocabulary.")
    if len(set(vocabulary)) != len(vocabulary):
        raise LwaError("the one-hot vocabulary has duplicated entries; each must be unique.")
    return np.eye(len(vocabulary), dtype=np.float32)


def lookup(
    words_needed: Sequence[str], words: Sequence[str], matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fetch the vectors of ``words_needed`` from an embedding map.

    Parameters
    ----------
    words_needed : sequence of str, length M
        Words (e.g. one per segment) to look up, exact match.
    words : sequence of str, length V
        The map's vocabulary; ``words[i]`` owns ``matrix[i]`` (the first of duplicates wins).
    matrix : ndarray, shape (V, D)

    Returns
    -------
    rows : ndarray, shape (K, D)
        Vectors of the found words, in the order of ``words_needed`` (K = ``found.sum()``).
    found : ndarray of bool, shape (M,)
        Which of ``words_needed`` have a vector, so callers can drop and count the others.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise LwaError(
            f"embedding map has {len(words)} words but a matrix of shape {matrix.shape}."
        )
    index: dict[str, int] = {}
    for i, word in enumerate(words):
        index.setdefault(word, i)
    positions = np.fromiter(
        (index.get(word, -1) for word in words_needed), dtype=np.intp, count=len(words_needed)
    )
    found = positions >= 0
    return matrix[positions[found]], found

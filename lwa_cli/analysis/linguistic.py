"""Views of the linguistic-attribute CCA (``lwa cca semantic|syntactic``), as pure functions.

X = the layer rows of the all-words sample's tokens, Y = each token's word's oracle row
(:mod:`lwa_cli.analysis.oracles`). Tokens whose word has no oracle row are dropped and counted
(the reference's ``filter_label_lst``); an optional per-word cap keeps at most k random tokens
of each word (its ``update_idx_lst``, there with Python's unseeded ``random``; here seeded).
Both return ascending token indices, so the kept rows stay in sample order. The CCA itself is
:func:`lwa_cli.analysis.cca.cross_validated_pwcca` with the labels of the kept tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lwa_cli.analysis.embeddings import lookup
from lwa_cli.analysis.oracles import Oracle
from lwa_cli.errors import LwaError, LwaUsageError


@dataclass(frozen=True)
class AttributeTargets:
    """The tokens that have an attribute vector and their Y rows.

    Attributes
    ----------
    indices : ndarray of int64, shape (K,)
        Ascending indices of the kept tokens.
    rows : ndarray of float64, shape (K, P)
        Oracle row of each kept token's word (all P columns).
    dropped : int
        Tokens dropped because their word is not in the oracle.
    dropped_words : list of str
        Those tokens' words, in order of first occurrence.
    """

    indices: np.ndarray
    rows: np.ndarray
    dropped: int
    dropped_words: list[str]


def attribute_targets(labels: Sequence[str] | np.ndarray, oracle: Oracle) -> AttributeTargets:
    """Look up each token's word in ``oracle``; drop and count the tokens without a row.

    Raises
    ------
    LwaError
        If no token has an attribute vector.
    """
    labels = [str(w) for w in np.asarray(labels, dtype=np.str_).reshape(-1)]
    rows, found = lookup(labels, oracle.words, oracle.matrix)
    if not found.any():
        raise LwaError(f"none of the {len(labels)} tokens' words is in the oracle; check that "
                       "the sample was drawn with this oracle's vocabulary")
    missing = [w for w, ok in zip(labels, found, strict=True) if not ok]
    return AttributeTargets(
        indices=np.flatnonzero(found).astype(np.int64),
        rows=np.asarray(rows, dtype=np.float64),
        dropped=len(missing),
        dropped_words=list(dict.fromkeys(missing)),
    )


def cap_instances(labels: Sequence[str] | np.ndarray, k: int, seed: int) -> np.ndarray:
    """Keep at most ``k`` random tokens of each word.

    Every token gets a uniform random key from ``np.random.default_rng(seed)`` (one draw for
    all tokens, in token order); within each word the ``k`` smallest keys are kept, i.e. a
    uniformly random k-subset. Words with ≤ k tokens keep all of them.

    Parameters
    ----------
    labels : sequence of str
        Word label of each token.
    k : int
        Cap per word (≥ 1).
    seed : int
        Seed of the draw.

    Returns
    -------
    np.ndarray
        Ascending int64 indices of the kept tokens.

    Raises
    ------
    LwaUsageError
        If ``k`` is not an integer ≥ 1.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise LwaUsageError(f"the instance cap must be an integer ≥ 1, not {k!r}")
    labels = np.asarray(labels, dtype=np.str_).reshape(-1)
    if labels.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(-1)
    keys = np.random.default_rng(seed).random(labels.size)
    order = np.lexsort((keys, inverse))  # by word, then by key
    group = inverse[order]
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.append(starts, order.size)))
    return np.sort(order[rank < k]).astype(np.int64)

"""Online codelength of a probe (minimum description length probing, Voita & Titov 2020).

The training rows are put in a seeded random order and cut at the fractions `BLOCKS` of their
number (0.1 %, 0.2 %, …, 50 %, 100 %). The first block is sent with the uniform code
(``log2 K`` bits per label); each later block is sent with the probabilities of a probe
trained on all rows before it: ``-Σ log2 p(y | x)`` bits. The sum is the online codelength;
the uniform codelength is ``N log2 K`` and the compression ratio their quotient (1 for a probe
that learns nothing, larger the easier the labels are to extract).

A probe gives probability 0 to classes it never saw (a small prefix lacks most classes), so
its probabilities are mixed with the uniform distribution, ``(1-ε) p + ε/K`` with
``ε = UNIFORM_MIX``: a label costs at most ``log2(K/ε)`` bits. A prefix holding a single
class trains no probe: its next block is sent with the uniform code too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lwa_cli.errors import LwaError

BLOCKS: tuple[float, ...] = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25,
                             0.5, 1.0)
"""Block ends as fractions of the training rows (Voita & Titov's timesteps)."""
UNIFORM_MIX = 1e-4


class Probabilistic(Protocol):
    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Codelength:
    """Online and uniform codelengths in bits, and the blocks they were computed on.

    Attributes
    ----------
    online_bits, uniform_bits : the online and uniform codelengths of all N labels.
    compression : uniform_bits / online_bits.
    block_ends : the row counts that end each block (the last is N).
    block_bits : bits spent on each block (the first is the uniform code of block 1).
    """

    online_bits: float
    uniform_bits: float
    compression: float
    block_ends: tuple[int, ...]
    block_bits: tuple[float, ...]


def block_ends(n: int, fractions: Sequence[float] = BLOCKS) -> tuple[int, ...]:
    """Distinct, increasing row counts ``max(1, floor(n · f))`` of the fractions (last: n)."""
    if n < 1:
        raise LwaError("MDL needs at least one training row")
    if not fractions or any(not 0 < f <= 1 for f in fractions) or fractions[-1] != 1:
        raise LwaError(f"MDL block fractions must lie in (0, 1] and end at 1, got {fractions}")
    ends = sorted({max(1, int(np.floor(n * f))) for f in fractions} | {n})
    return tuple(ends)


def online_codelength(x: np.ndarray, y: np.ndarray, n_classes: int,
                      fit: Callable[[np.ndarray, np.ndarray], Probabilistic], *,
                      seed: int = 0, fractions: Sequence[float] = BLOCKS,
                      mix: float = UNIFORM_MIX) -> Codelength:
    """The online codelength of labels `y` given rows `x` (see the module doc).

    `fit(x_prefix, y_prefix)` trains a probe on a prefix (labels ``0 … n_classes-1``) and
    returns an object whose ``predict_proba`` gives ``(n, n_classes)`` probabilities.
    """
    if n_classes < 2:
        raise LwaError(f"MDL needs at least two classes, got {n_classes}")
    if not 0 <= mix < 1:
        raise LwaError(f"the uniform mix must lie in [0, 1), got {mix}")
    y = np.asarray(y, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    xs, ys = x[order], y[order]
    ends = block_ends(len(y), fractions)
    uniform = float(np.log2(n_classes))
    bits = [ends[0] * uniform]
    for start, stop in zip(ends[:-1], ends[1:], strict=True):
        if np.unique(ys[:start]).size < 2:
            bits.append((stop - start) * uniform)
            continue
        proba = fit(xs[:start], ys[:start]).predict_proba(xs[start:stop])
        p = (1 - mix) * proba[np.arange(stop - start), ys[start:stop]] + mix / n_classes
        bits.append(float(-np.log2(p).sum()))
    online = float(sum(bits))
    total_uniform = len(y) * uniform
    return Codelength(online, total_uniform, total_uniform / online, ends, tuple(bits))

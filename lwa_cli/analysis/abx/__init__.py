"""Phone ABX error rate (ZeroSpeech / Libri-Light ``libri-light-abx2`` semantics) of one layer.

An ABX *cell* is a phone pair (A-phone a, B-phone b ≠ a) in one speaker s — and, for
``context="within"``, one context c (previous + next phone) — plus, for ``speaker="across"``,
one other speaker x who said phone a in that context. The tokens of A (phone a, speaker s),
B (phone b, speaker s) and X (phone a; speaker s, or x when across) give the cell's score

    θ = #{(x, a, b): d(x, a) < d(x, b)} + ½ #{(x, a, b): d(x, a) = d(x, b)}   (x ≠ a within)
        divided by the number of triples,

and its error 1 − θ. Within speaker, X is A itself (every a ≠ x); A needs two tokens.
Groups larger than ``max_size_group`` tokens are subsampled (redrawn for each cell), and at
most ``max_x_across`` other speakers are drawn per (s, c, a), with Python's
``random.Random(seed)`` called in exactly the reference's order, so the draws (not only their
distribution) are the reference's when the items come in the reference's order.

The error rate is the mean over phone pairs (a, b) of the mean over speakers s of the mean of
the cells of (s, a, b) — over contexts (within), over (context, other speaker) pairs (across
within context) or over other speakers (across, any context) — as in the reference. It is a
fraction; the pipeline reports it in percent.

Memory is bounded: cells are generated lazily and scored in chunks of about ``chunk_pairs``
token pairs, and DTW distances are only computed for pairs that some cell compares.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from lwa_cli.analysis.abx.dtw import (
    DISTANCES,
    cell_pair_distances,
    normalize_with_singularity,
    pair_distances,
)
from lwa_cli.errors import LwaError

SPEAKER_MODES = ("within", "across")
CONTEXT_MODES = ("within", "any")
POOLINGS = ("none", "mean")
CHUNK_PAIRS = 1 << 20
_CELL_GRAM = True  # angular frame distances from one Gram per cell (False: gathered per pair)


class AbxInputError(LwaError):
    """Items or features that cannot give an ABX score (with what is wrong)."""


@dataclass(frozen=True)
class AbxTokens:
    """Phone tokens as rows of a frame array, in the reference's dataset order.

    Attributes
    ----------
    start, length : np.ndarray
        int64 first row and number of rows (≥ 1) of each token in the frame array.
    phone, context, speaker : np.ndarray
        int64 codes; their numeric order is the reference's group order (its ids are given
        in order of first appearance in the item file).
    """

    start: np.ndarray
    length: np.ndarray
    phone: np.ndarray
    context: np.ndarray
    speaker: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])


@dataclass(frozen=True)
class AbxScore:
    """One condition's error rate (fraction) and how many cells / phone pairs it averages."""

    error_rate: float
    n_cells: int
    n_phone_pairs: int
    n_speakers: int


@dataclass(frozen=True)
class _Cell:
    x: np.ndarray  # token indices (dataset order)
    a: np.ndarray
    b: np.ndarray
    key: tuple[int, int, int]  # (speaker, phone a, phone b)
    symmetric: bool


def abx_score(frames: np.ndarray | torch.Tensor, tokens: AbxTokens, *, speaker: str = "within",
              context: str = "within", distance: str = "angular", pooling: str = "none",
              max_size_group: int = 10, max_x_across: int = 5, seed: int = 0,
              device: str = "cpu", chunk_pairs: int = CHUNK_PAIRS) -> AbxScore:
    """ABX error rate of frame features for one (speaker, context) condition.

    Parameters
    ----------
    frames : array (F, D)
        Frame features; token k is rows ``[start[k], start[k] + length[k])``.
    tokens : AbxTokens
        The items, in the order the reference would read them.
    speaker, context, distance, pooling : str
        Condition (`SPEAKER_MODES`, `CONTEXT_MODES`), frame distance (`DISTANCES`) and token
        pooling (`POOLINGS`; ``mean`` compares one mean-pooled normalised vector per token).
    max_size_group, max_x_across : int
        Subsampling bounds (reference defaults 10 and 5).
    seed : int
        Seed of the subsampling draws.
    device : str
        Torch device of the distance and DTW computations.

    Raises
    ------
    AbxInputError
        Non-finite features, bad token rows, or no ABX cell for the condition.
    """
    _check_options(speaker, context, distance, pooling, max_size_group, max_x_across)
    feats = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames)
    if feats.ndim != 2:
        raise AbxInputError(f"frames must be 2-D (frames × dims), got shape {tuple(feats.shape)}")
    _check_tokens(tokens, feats.shape[0])
    if not bool(torch.isfinite(feats).all()):
        bad = int((~torch.isfinite(feats)).any(dim=1).sum())
        raise AbxInputError(f"frames: {bad} frame(s) with NaN or infinite values")
    norm = normalize_with_singularity(feats.to(device))
    start, length = tokens.start.astype(np.int64), tokens.length.astype(np.int64)
    if pooling == "mean":
        norm = _mean_pool(norm, start, length)
        start, length = np.arange(len(tokens), dtype=np.int64), np.ones(len(tokens), np.int64)
    cells = iter_cells(tokens, speaker=speaker, context=context, max_size_group=max_size_group,
                       max_x_across=max_x_across, seed=seed)
    keys, errors = [], []
    for chunk in _chunks(cells, chunk_pairs):
        keys.extend(c.key for c in chunk)
        errors.append(_score_chunk(chunk, norm, start, length, distance))
    if not keys:
        raise AbxInputError(
            f"no ABX cell for speaker={speaker}, context={context}: it needs two phones from "
            "one speaker" + (" in one context" if context == "within" else "")
            + (", a within-speaker A group of ≥ 2 tokens" if speaker == "within"
               else ", and the A phone said by another speaker"
               + (" in that context" if context == "within" else ""))
            + f" ({len(tokens)} tokens given)")
    return aggregate(np.array(keys, dtype=np.int64), np.concatenate(errors))


def aggregate(keys: np.ndarray, errors: np.ndarray) -> AbxScore:
    """Mean over (a, b) of the mean over s of the mean of the cells of (s, a, b)."""
    sab, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    per_sab = np.bincount(inverse, weights=errors) / np.bincount(inverse)
    ab, inv_ab = np.unique(sab[:, 1:], axis=0, return_inverse=True)
    inv_ab = inv_ab.reshape(-1)
    per_ab = np.bincount(inv_ab, weights=per_sab) / np.bincount(inv_ab)
    return AbxScore(float(per_ab.mean()), int(len(keys)), int(len(ab)),
                    int(len(np.unique(sab[:, 0]))))


def iter_cells(tokens: AbxTokens, *, speaker: str, context: str, max_size_group: int,
               max_x_across: int, seed: int) -> Iterator[_Cell]:
    """The reference's cells in its order, with its random draws (``random.Random(seed)``)."""
    rng = random.Random(seed)
    order, blocks = _groups(tokens, context)

    def take(rng_range: tuple[int, int]) -> np.ndarray:
        lo, hi = rng_range
        if hi - lo > max_size_group:
            return order[np.array(rng.sample(range(lo, hi), k=max_size_group)) ]
        return order[lo:hi]

    if speaker == "within":
        for block in blocks:
            if len(block) == 1:
                continue
            for ia, (pa, ra) in enumerate(block):
                if ra[1] - ra[0] == 1:
                    continue
                for ib, (pb, rb) in enumerate(block):
                    if ib == ia:
                        continue
                    tb = take(rb)
                    ta = take(ra)
                    yield _Cell(ta, ta, tb, (_spk(tokens, order, ra), pa, pb), True)
        return
    others = _speakers_by_phone(tokens, order, blocks, context)
    for block in blocks:
        if len(block) == 1:
            continue
        for ia, (pa, ra) in enumerate(block):
            s = _spk(tokens, order, ra)
            ctx = int(tokens.context[order[ra[0]]]) if context == "within" else -1
            ref = [r for spk, r in others[(ctx, pa)].items() if spk != s]
            if len(ref) > max_x_across:
                ref = rng.sample(ref, k=max_x_across)
            for rx in ref:
                for ib, (pb, rb) in enumerate(block):
                    if ib == ia:
                        continue
                    ta, tb, tx = take(ra), take(rb), take(rx)
                    yield _Cell(tx, ta, tb, (s, pa, pb), False)


def _spk(tokens: AbxTokens, order: np.ndarray, rng_range: tuple[int, int]) -> int:
    return int(tokens.speaker[order[rng_range[0]]])


def _groups(tokens: AbxTokens, context: str):
    """Stable order by (context,) speaker, phone; blocks of (phone, (lo, hi)) ranges."""
    outer = (tokens.context, tokens.speaker) if context == "within" else (tokens.speaker,)
    order = np.lexsort((tokens.phone, *outer[::-1]))
    keys = np.stack([k[order] for k in (*outer, tokens.phone)], axis=1)
    change = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
    bounds = np.concatenate([[0], change, [len(order)]])
    blocks: list[list[tuple[int, tuple[int, int]]]] = []
    last = None
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        block_key = tuple(keys[lo, :-1])
        if block_key != last:
            blocks.append([])
            last = block_key
        blocks[-1].append((int(keys[lo, -1]), (int(lo), int(hi))))
    return order, blocks


def _speakers_by_phone(tokens: AbxTokens, order: np.ndarray, blocks, context: str) -> dict:
    """(context or -1, phone) → {speaker: range}, speakers in group order."""
    out: dict[tuple[int, int], dict[int, tuple[int, int]]] = {}
    for block in blocks:
        for phone, r in block:
            first = order[r[0]]
            ctx = int(tokens.context[first]) if context == "within" else -1
            out.setdefault((ctx, phone), {})[int(tokens.speaker[first])] = r
    return out


def _chunks(cells: Iterator[_Cell], chunk_pairs: int) -> Iterator[list[_Cell]]:
    chunk: list[_Cell] = []
    pairs = 0
    for cell in cells:
        chunk.append(cell)
        pairs += len(cell.x) * (len(cell.a) + len(cell.b))
        if pairs >= chunk_pairs:
            yield chunk
            chunk, pairs = [], 0
    if chunk:
        yield chunk


def _padded(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged index rows → (C, M) int64 array padded with 0, and its validity mask."""
    lens = np.fromiter((len(r) for r in rows), np.int64, len(rows))
    mask = np.arange(int(lens.max()))[None, :] < lens[:, None]
    out = np.zeros(mask.shape, np.int64)
    out[mask] = np.concatenate(rows)
    return out, mask


def _score_chunk(chunk: list[_Cell], frames: torch.Tensor, start: np.ndarray,
                 length: np.ndarray, distance: str) -> np.ndarray:
    """Errors 1 − θ of the cells of one chunk (distances of its distinct pairs computed once)."""
    n_tok = np.int64(len(start))
    sym = chunk[0].symmetric  # one condition per call: all cells alike
    xs, mx = _padded([c.x for c in chunk])
    a_s, ma = _padded([c.a for c in chunk])
    bs, mb = _padded([c.b for c in chunk])
    need_a = mx[:, :, None] & ma[:, None, :]
    valid_a = need_a.copy()
    if sym:
        # The reference computes DTW(x_i, a_j) for i <= j only and mirrors it.
        need_a &= np.triu(np.ones(need_a.shape[1:], bool))[None]
        valid_a &= ~np.eye(need_a.shape[1], dtype=bool)[None]
    need_b = mx[:, :, None] & mb[:, None, :]
    keys_a = (xs[:, :, None] * n_tok + a_s[:, None, :])[need_a]
    keys_b = (xs[:, :, None] * n_tok + bs[:, None, :])[need_b]
    keys = np.concatenate([keys_a, keys_b])
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if distance == "angular" and _CELL_GRAM:
        # One frame Gram per cell over its tokens [X (across only), A, B]; each distinct pair
        # is cut out of the Gram of the first cell that holds it.
        cells = np.arange(len(chunk))[:, None, None]
        grid_x = np.arange(xs.shape[1])[None, :, None]
        grid_a = np.arange(a_s.shape[1])[None, None, :]
        grid_b = np.arange(bs.shape[1])[None, None, :]
        cell_k = np.concatenate([np.broadcast_to(cells, need_a.shape)[need_a],
                                 np.broadcast_to(cells, need_b.shape)[need_b]])[first]
        tokens = [np.concatenate([c.a, c.b]) if sym else np.concatenate([c.x, c.a, c.b])
                  for c in chunk]
        n_x = np.zeros(len(chunk), np.int64) if sym else mx.sum(axis=1)
        n_a = ma.sum(axis=1)
        px = np.concatenate([np.broadcast_to(grid_x, need_a.shape)[need_a],
                             np.broadcast_to(grid_x, need_b.shape)[need_b]])
        py = np.concatenate([
            (np.broadcast_to(grid_a, need_a.shape) + n_x[:, None, None])[need_a],
            (np.broadcast_to(grid_b, need_b.shape) + (n_x + n_a)[:, None, None])[need_b]])
        dist = cell_pair_distances(frames, start, length, tokens, cell_k, px[first],
                                   py[first])
    else:
        dist = pair_distances(frames, start, length, uniq // n_tok, uniq % n_tok, distance)
    flat = dist[inverse.reshape(-1)]
    dxa = np.zeros(need_a.shape, np.float32)
    dxa[need_a] = flat[:len(keys_a)]
    if sym:
        lower = np.tril(np.ones(need_a.shape[1:], bool), -1)[None]
        dxa = np.where(lower, dxa.transpose(0, 2, 1), dxa)
    dxb = np.zeros(need_b.shape, np.float32)
    dxb[need_b] = flat[len(keys_a):]
    score = np.empty(len(chunk))
    per_cell = max(1, dxa.shape[1] * dxa.shape[2] * dxb.shape[2])
    step = max(1, (1 << 24) // per_cell)
    for s in range(0, len(chunk), step):
        sl = slice(s, s + step)
        da, db = dxa[sl, :, :, None], dxb[sl, :, None, :]
        valid = valid_a[sl, :, :, None] & mb[sl, None, None, :]
        lt = ((da < db) & valid).sum(axis=(1, 2, 3))
        eq = ((da == db) & valid).sum(axis=(1, 2, 3))
        score[sl] = lt + 0.5 * eq
    na, nb, nx = ma.sum(axis=1), mb.sum(axis=1), mx.sum(axis=1)
    n_pos = na * (na - 1) if sym else na * nx
    return 1.0 - score / (n_pos * nb)


def _mean_pool(frames: torch.Tensor, start: np.ndarray, length: np.ndarray) -> torch.Tensor:
    """One mean vector per token (of the already normalised frames, as the reference)."""
    dev = frames.device
    rows = torch.repeat_interleave(torch.arange(len(start), device=dev),
                                   torch.as_tensor(length, device=dev))
    idx = torch.as_tensor(np.concatenate([np.arange(s, s + n) for s, n in zip(start, length,
                                                                              strict=True)]),
                          device=dev)
    sums = torch.zeros(len(start), frames.shape[1], dtype=torch.float64, device=dev)
    sums.index_add_(0, rows, frames[idx].to(torch.float64))
    return (sums / torch.as_tensor(length, device=dev, dtype=torch.float64)[:, None]).to(
        torch.float32)


def _check_options(speaker: str, context: str, distance: str, pooling: str,
                   max_size_group: int, max_x_across: int) -> None:
    for name, value, allowed in (("speaker", speaker, SPEAKER_MODES),
                                 ("context", context, CONTEXT_MODES),
                                 ("distance", distance, DISTANCES),
                                 ("pooling", pooling, POOLINGS)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    for name, value in (("max_size_group", max_size_group), ("max_x_across", max_x_across)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def _check_tokens(tokens: AbxTokens, n_frames: int) -> None:
    n = len(tokens)
    for name in ("length", "phone", "context", "speaker"):
        if getattr(tokens, name).shape != (n,):
            raise AbxInputError(f"tokens.{name} must have one entry per token ({n})")
    if n and (tokens.length.min() < 1 or tokens.start.min() < 0
              or (tokens.start + tokens.length).max() > n_frames):
        raise AbxInputError(f"tokens: rows outside the {n_frames} frames or empty tokens")

"""Frame distances and DTW between phone tokens for ABX, batched with torch (CPU or GPU).

The semantics are those of the ZeroSpeech / Libri-Light reference (``zerospeech-libriabx2``):

- features are first normalised by `normalize_with_singularity` (unit L2 norm, plus one extra
  coordinate 1e-12 — or -2e12 for a null frame, which puts null frames at the largest angle from
  any other frame); the reference applies it for every distance, so it is done here too;
- frame distances in float32: ``angular`` = arccos(clamp(x·y, -1, 1)) / π, ``euclidean`` =
  ‖x − y‖₂, ``kl`` = Σ x · log((x + ε) / (y + ε)) with ε = 1e-6;
- DTW with steps (1,0), (0,1), (1,1), cost accumulated in float32 exactly like the reference's
  Cython loop (``cost[i,j] = d[i,j] + min(up, diag, left)``), normalised by the length of the
  path found by backtracking from the last cell (ties prefer the diagonal, then "left"), the
  division done in float64 and rounded to float32 as in the reference.

Pairs are batched by (length of x, length of y) bins, so padding stays small and a batch's memory
is bounded by ``max_elements``; the DTW loops over anti-diagonals, vectorised over the batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

DISTANCES = ("angular", "euclidean", "kl")
KL_EPSILON = 1e-6
#: Upper bound on the number of float32 elements of one batch's largest temporary.
MAX_ELEMENTS = 1 << 25


def normalize_with_singularity(frames: torch.Tensor) -> torch.Tensor:
    """Unit-norm rows plus the reference's extra coordinate (float32, one row per frame).

    A null frame becomes (1/√D, …, 1/√D, -2e12); any other frame (x/‖x‖, 1e-12).
    """
    x = frames.to(torch.float32).clone()
    n, dim = x.shape
    norm = (x**2).sum(dim=1, keepdim=True)
    x /= torch.sqrt(norm)
    zero = (norm == 0).view(n)
    x[zero] = 1 / math.sqrt(dim)
    border = torch.full((n, 1), 1e-12, dtype=x.dtype, device=x.device)
    border[zero] = -2 * 1e12
    return torch.cat([x, border], dim=1)


def _frame_distances(xs: torch.Tensor, ys: torch.Tensor, distance: str) -> torch.Tensor:
    """(P, N, D) × (P, M, D) → (P, N, M) float32 frame distances of each pair."""
    if distance == "angular":
        dots = torch.bmm(xs, ys.transpose(1, 2))
        return torch.clamp(dots, -1, 1).acos() / math.pi
    if distance == "euclidean":
        diff = xs[:, :, None, :] - ys[:, None, :, :]
        return torch.sqrt((diff**2).sum(dim=3))
    if distance == "kl":
        a, b = xs[:, :, None, :], ys[:, None, :, :]
        return (a * ((a + KL_EPSILON) / (b + KL_EPSILON)).log()).sum(dim=3)
    raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")


def dtw_normalized(dist: torch.Tensor, len_x: torch.Tensor, len_y: torch.Tensor) -> torch.Tensor:
    """Path-length-normalised DTW cost of each pair of a padded batch.

    Parameters
    ----------
    dist : torch.Tensor
        (P, N, M) float32 frame distances; only ``[:len_x[p], :len_y[p]]`` is read for pair p.
    len_x, len_y : torch.Tensor
        (P,) int64 lengths, each ≥ 1.

    Returns
    -------
    torch.Tensor
        (P,) float32: cost of the best path / number of cells on the backtracked path.
    """
    p, n, m = dist.shape
    dev = dist.device
    k_all = n + m - 1
    # Anti-diagonal (skewed) layout: diagonal k = i + j is one contiguous (P, N) slab, so each
    # step of the recurrence is a few elementwise ops on shifted slices (no gathers).
    i_idx = torch.arange(n, device=dev)[None, :]
    j_idx = torch.arange(k_all, device=dev)[:, None] - i_idx
    ok = (j_idx >= 0) & (j_idx < m)
    flat = (i_idx * m + j_idx.clamp(0, m - 1)).reshape(-1)
    skew = dist.reshape(p, n * m)[:, flat].reshape(p, k_all, n).permute(1, 0, 2)
    skew = torch.where(ok[:, None, :], skew, torch.tensor(float("inf"), device=dev))
    # cost[i, j] lives at acc[i + j, :, i + 1]; column 0 is an inf border.
    acc = torch.full((k_all, p, n + 1), float("inf"), dtype=dist.dtype, device=dev)
    acc[0, :, 1:] = skew[0]
    inf_row = torch.full((p, n), float("inf"), dtype=dist.dtype, device=dev)
    for k in range(1, k_all):
        up, left = acc[k - 1, :, :n], acc[k - 1, :, 1:]
        diag = acc[k - 2, :, :n] if k >= 2 else inf_row
        acc[k, :, 1:] = skew[k] + torch.minimum(torch.minimum(up, diag), left)
    flat_acc = acc.reshape(-1)
    rows = torch.arange(p, device=dev)

    def cost(i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return flat_acc[((i + j) * p + rows) * (n + 1) + i + 1]

    i, j = len_x - 1, len_y - 1
    final = cost(i, j)
    path = torch.ones(p, dtype=torch.int64, device=dev)
    for _ in range(n + m):
        active = (i > 0) & (j > 0)
        if not bool(active.any()):
            break
        ia, ja = i.clamp(min=1), j.clamp(min=1)
        up, left, diag = cost(ia - 1, ja), cost(ia, ja - 1), cost(ia - 1, ja - 1)
        take_diag = (diag <= left) & (diag <= up)
        take_left = ~take_diag & (left <= up)
        di = (take_diag | ~take_left).to(torch.int64) * active
        dj = (take_diag | take_left).to(torch.int64) * active
        i, j = i - di, j - dj
        path += active.to(torch.int64)
    path += torch.where(i == 0, j, 0) + torch.where(j == 0, i, 0)
    return (final.to(torch.float64) / path.to(torch.float64)).to(torch.float32)


def _bins(lengths: np.ndarray) -> np.ndarray:
    """Length bins: exact up to 4 frames, then powers of √2 (≤ ~41 % padding)."""
    edges = np.array([1, 2, 3, 4, 5, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256])
    return np.searchsorted(edges, lengths, side="right")


def pair_distances(frames: torch.Tensor, start: np.ndarray, length: np.ndarray,
                   x: np.ndarray, y: np.ndarray, distance: str,
                   max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """DTW distance between token ``x[k]`` (rows) and token ``y[k]`` (columns), for every k.

    Parameters
    ----------
    frames : torch.Tensor
        (F, D) float32 normalised frames of all tokens (on the computing device).
    start, length : np.ndarray
        int64 first frame and number of frames of each token.
    x, y : np.ndarray
        int64 token indices of the pairs.
    distance : str
        One of `DISTANCES`.

    Returns
    -------
    np.ndarray
        float32 distances, one per pair.
    """
    out = np.empty(len(x), dtype=np.float32)
    if len(x) == 0:
        return out
    dev = frames.device
    dim = frames.shape[1]
    lx, ly = length[x], length[y]
    key = _bins(lx) * 64 + _bins(ly)
    order = np.argsort(key, kind="stable")
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    for idx in np.split(order, cuts):
        n, m = int(lx[idx].max()), int(ly[idx].max())
        per_pair = n * m * (dim if distance != "angular" else 1) + (n + m) * dim
        step = max(1, max_elements // per_pair)
        for s in range(0, len(idx), step):
            sel = idx[s:s + step]
            xs = _gather(frames, start[x[sel]], lx[sel], n, dev)
            ys = _gather(frames, start[y[sel]], ly[sel], m, dev)
            dist = _frame_distances(xs, ys, distance)
            out[sel] = _pair_scores(dist, lx[sel], ly[sel], dev)
    return out


def _pair_scores(dist: torch.Tensor, len_x: np.ndarray, len_y: np.ndarray,
                 dev: torch.device | str) -> np.ndarray:
    """Normalised DTW of a batch of (n × m) distance blocks; the one distance when 1 × 1."""
    if dist.shape[1] == 1 and dist.shape[2] == 1:
        return dist[:, 0, 0].cpu().numpy()
    return dtw_normalized(dist, torch.as_tensor(len_x, device=dev),
                          torch.as_tensor(len_y, device=dev)).cpu().numpy()


def _gather(frames: torch.Tensor, start: np.ndarray, length: np.ndarray, width: int,
            dev: torch.device) -> torch.Tensor:
    """(P, width, D) frames of P tokens, padded by repeating each token's first frame."""
    offs = np.arange(width)[None, :]
    rows = start[:, None] + np.where(offs < length[:, None], offs, 0)
    return frames[torch.as_tensor(rows, device=dev)]


def cell_pair_distances(frames: torch.Tensor, start: np.ndarray, length: np.ndarray,
                        cell_tokens: list[np.ndarray], cell: np.ndarray, pos_x: np.ndarray,
                        pos_y: np.ndarray, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """Angular DTW distances of pairs of tokens of one cell, from one frame Gram per cell.

    Pair k is token ``cell_tokens[cell[k]][pos_x[k]]`` (rows) against
    ``cell_tokens[cell[k]][pos_y[k]]`` (columns). Each cell's frames are gathered once and
    multiplied with themselves (one batched GEMM), so a frame vector is read once per cell
    instead of once per pair; the pairs' frame distances are then cut out of the Gram.
    Same values as `pair_distances` with ``distance="angular"`` up to the GEMM's rounding.
    """
    out = np.empty(len(cell), dtype=np.float32)
    if len(cell) == 0:
        return out
    dev = frames.device
    dim = frames.shape[1]
    n_tok = np.fromiter((len(t) for t in cell_tokens), np.int64, len(cell_tokens))
    tok_base = np.concatenate([[0], np.cumsum(n_tok)[:-1]])
    flat_tok = np.concatenate(cell_tokens)
    flat_len = length[flat_tok]
    n_frames = np.add.reduceat(flat_len, tok_base) if len(flat_tok) else np.zeros(0, np.int64)
    # frame offset of each token inside its cell
    cum = np.cumsum(flat_len) - flat_len
    flat_off = cum - np.repeat(cum[tok_base], n_tok)
    kx, ky = tok_base[cell] + pos_x, tok_base[cell] + pos_y
    lx, ly = flat_len[kx], flat_len[ky]
    key = _bins(lx) * 64 + _bins(ly)
    pieces: dict[int, list[tuple[np.ndarray, torch.Tensor]]] = {}
    order = np.argsort(n_frames, kind="stable")
    pair_order = np.argsort(cell, kind="stable")
    pair_cells = cell[pair_order]
    s = 0
    while s < len(order):
        fmax = int(n_frames[order[min(len(order) - 1, s)]])
        e = s
        while e < len(order):
            f = int(n_frames[order[e]])
            if (e - s + 1) * f * max(f, dim) > max_elements and e > s:
                break
            fmax = max(fmax, f)
            e += 1
        batch = order[s:e]
        s = e
        # rows of each cell's frames, padded with the cell's first frame row
        first = start[flat_tok[tok_base[batch]]]
        rows = np.full((len(batch), fmax), 0, np.int64)
        for r, c in enumerate(batch):
            toks = flat_tok[tok_base[c]:tok_base[c] + n_tok[c]]
            fr = np.concatenate([np.arange(start[t], start[t] + length[t]) for t in toks])
            rows[r, :len(fr)] = fr
            rows[r, len(fr):] = first[r]
        x = frames[torch.as_tensor(rows, device=dev)]
        gram = torch.clamp(torch.bmm(x, x.transpose(1, 2)), -1, 1).acos() / math.pi
        del x
        slot = np.empty(len(cell_tokens), np.int64)
        slot[batch] = np.arange(len(batch))
        lo = np.searchsorted(pair_cells, batch, "left")
        hi = np.searchsorted(pair_cells, batch, "right")
        sel = pair_order[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])]
        if not len(sel):
            continue
        flat_gram = gram.reshape(-1)
        for b in np.unique(key[sel]):
            ps = sel[key[sel] == b]
            n, m = int(lx[ps].max()), int(ly[ps].max())
            u = np.arange(n)[None, :, None]
            v = np.arange(m)[None, None, :]
            uu = np.where(u < lx[ps, None, None], u, 0)
            vv = np.where(v < ly[ps, None, None], v, 0)
            idx = ((slot[cell[ps]][:, None, None] * fmax + flat_off[kx[ps]][:, None, None] + uu)
                   * fmax + flat_off[ky[ps]][:, None, None] + vv)
            sub = flat_gram[torch.as_tensor(idx, device=dev)]
            pieces.setdefault(int(b), []).append((ps, sub))
    for parts in pieces.values():
        n = max(p[1].shape[1] for p in parts)
        m = max(p[1].shape[2] for p in parts)
        ps = np.concatenate([p[0] for p in parts])
        dist = torch.cat([torch.nn.functional.pad(p[1], (0, m - p[1].shape[2],
                                                         0, n - p[1].shape[1]))
                          for p in parts])
        step = max(1, max_elements // (4 * n * m))
        for k in range(0, len(ps), step):
            part, d = ps[k:k + step], dist[k:k + step]
            out[part] = _pair_scores(d, lx[part], ly[part], dev)
    return out

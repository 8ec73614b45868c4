"""Benchmark the word-segmentation grid tune of one layer against a per-configuration loop.

Synthetic, seeded features like a frame sample: ``--utts`` utterances of ``--seconds`` s at
20 ms (300 frames), ``--dim`` float32 dimensions, piecewise constant per "word" (6–20 frames)
plus noise, with the word edges as reference boundaries. Both runs use the default grid of
15 prominences × 2 metrics × 6 windows = 180 configurations and reference matching.

* ``tune``: `lwa_cli.analysis.segmentation.tune_layer` (dissimilarities and smoothings once
  per metric and window, all prominences from one peak search).
* ``loop``: the straightforward way, per configuration: dissimilarity, moving mean,
  ``find_peaks(prominence=p)`` and scoring for every utterance (z-score computed once, not per
  configuration as the reference does). It is timed on ``--loop-configs`` configurations spread
  over the grid and extrapolated to the whole grid; their F must equal the tune's.

Each runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its own.

Usage: ``python benchmarks/segment.py [--utts 500 --seconds 6 --dim 768 --loop-configs 12]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data(n_utts: int, seconds: float, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = int(round(seconds / 0.02))
    feats = np.empty((n_utts * t, dim), dtype=np.float32)
    refs = []
    for u in range(n_utts):
        edges = np.cumsum(rng.integers(6, 21, size=t // 6))
        edges = edges[edges < t]
        means = rng.normal(size=(len(edges) + 1, dim)).astype(np.float32)
        word = np.searchsorted(edges, np.arange(t), side="right")
        feats[u * t : (u + 1) * t] = means[word]
        feats[u * t : (u + 1) * t] += rng.normal(scale=1.5, size=(t, dim)).astype(np.float32)
        refs.append(np.concatenate([[0.0], (edges - 1) * 0.02 + 0.01, [t * 0.02]]))
    return feats, np.full(n_utts, t), refs


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker(args: argparse.Namespace) -> None:
    from scipy.signal import find_peaks

    from lwa_cli.analysis.segmentation import (
        SegmentationGrid,
        _utterance_slices,
        dissimilarity,
        moving_mean,
        tune_layer,
        zscore_frames,
    )
    from lwa_cli.analysis.segmentation.boundaries import score_boundaries

    feats, lengths, refs = _data(args.utts, args.seconds, args.dim)
    grid = SegmentationGrid()
    rss_before = _rss_mb()
    out: dict = {"rss_before_mb": rss_before}
    start = time.perf_counter()
    if args.worker == "tune":
        result = tune_layer(feats, lengths, refs, grid)
        out["wall_s"] = time.perf_counter() - start
        out["configs_timed"] = int(np.prod(grid.shape))
        out["f1"] = result.f1.tolist()
        out["best"] = [result.best_config, result.scores_at(result.best)]
    else:
        all_configs = list(np.ndindex(grid.shape))
        step = max(1, len(all_configs) // args.loop_configs)
        chosen = all_configs[::step][: args.loop_configs]
        z = zscore_frames(feats)
        slices = _utterance_slices(lengths, z.shape[0])
        f1 = {}
        for i, j, k in chosen:
            p, metric, w = grid.prominences[i], grid.metrics[j], grid.windows[k]
            preds = []
            for rows in slices:
                s = moving_mean(dissimilarity(z[rows], metric), w)
                peaks, _ = find_peaks(s, prominence=p)
                preds.append(np.sort(peaks + w // 2) * 0.02)
            f1[(i, j, k)] = score_boundaries(preds, refs, 0.02, "reference").f1
        elapsed = time.perf_counter() - start
        out["wall_s_timed"] = elapsed
        out["configs_timed"] = len(chosen)
        out["wall_s"] = elapsed / len(chosen) * len(all_configs)
        out["f1"] = {json.dumps(key): value for key, value in f1.items()}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utts", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--loop-configs", type=int, default=12)
    parser.add_argument("--worker", choices=["tune", "loop"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    results = {}
    for worker in ("tune", "loop"):
        cmd = [sys.executable, __file__, "--worker", worker, "--utts", str(args.utts),
               "--seconds", str(args.seconds), "--dim", str(args.dim),
               "--loop-configs", str(args.loop_configs)]  # fmt: skip
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        results[worker] = json.loads(proc.stdout.strip().splitlines()[-1])
    tune, loop = results["tune"], results["loop"]
    for key, value in loop["f1"].items():
        i, j, k = json.loads(key)
        assert tune["f1"][i][j][k] == value, f"F differs at {key}: {tune['f1'][i][j][k]} {value}"
    frames = args.utts * int(round(args.seconds / 0.02))
    print(f"{args.utts} utterances x {args.seconds:g} s ({frames} frames) x {args.dim} dims, "
          f"180 configurations, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'method':<6} {'wall s':>8} {'peak RSS MB':>12} {'RSS before MB':>14}  note")
    print(f"{'tune':<6} {tune['wall_s']:>8.2f} {tune['peak_rss_mb']:>12.0f} "
          f"{tune['rss_before_mb']:>14.0f}  all 180 configurations")  # fmt: skip
    print(f"{'loop':<6} {loop['wall_s']:>8.2f} {loop['peak_rss_mb']:>12.0f} "
          f"{loop['rss_before_mb']:>14.0f}  {loop['configs_timed']} configurations timed "
          f"({loop['wall_s_timed']:.2f} s), extrapolated to 180")  # fmt: skip
    print(f"speed-up {loop['wall_s'] / tune['wall_s']:.1f}x; F equal on the "
          f"{loop['configs_timed']} looped configurations; best {tune['best']}")  # fmt: skip


if __name__ == "__main__":
    main()

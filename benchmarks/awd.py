"""Benchmark same-different AWD: wall time and peak RSS of `awd_score` against plain pdist.

Each configuration runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own. The
worker draws seeded synthetic token embeddings (float32, 768 dims): word types with Zipfian
frequencies (p(rank r) ~ 1/r over a 20,000-word vocabulary, as in running text, so the top
words have thousands of tokens and the same pairs number millions), each token its type's mean
plus unit noise. Methods:

* ``lwa``: `lwa_cli.analysis.awd.awd_score` (blockwise float64, exact grouped AP + PRB).
* ``pdist``: the plain route of samediff: ``scipy.spatial.distance.pdist(X, "cosine")`` in
  float64, the match vector, one ``argsort`` of all pairs, AP and PRB from cumulative sums.
  It holds all N(N-1)/2 distances, their order and the cumulative arrays at once.

Usage (from the repository root)::

    python benchmarks/awd.py                 # N = 10,000 (both) and 30,000 (lwa only)
    python benchmarks/awd.py --baseline-30k  # also pdist at 30,000 (needs ~25 GB)
    python benchmarks/awd.py --sizes 3000 --json out.json
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
DIMS = 768
VOCAB = 20000


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float32 token vectors with Zipfian word labels (seeded)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, VOCAB + 1)
    labels = rng.choice(VOCAB, size=n, p=p / p.sum())
    types, codes = np.unique(labels, return_inverse=True)
    means = rng.standard_normal((types.size, DIMS), dtype=np.float32) * np.float32(0.2)
    x = rng.standard_normal((n, DIMS), dtype=np.float32)
    x += means[codes]
    return x, labels


def plain_pdist(x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """samediff's route: all distances, one argsort, AP and PRB (ties in argsort order)."""
    from scipy.spatial.distance import pdist

    d = pdist(x.astype(np.float64), "cosine")
    i, j = np.triu_indices(len(labels), 1)
    matches = labels[i] == labels[j]
    del i, j
    m = matches[np.argsort(d)]
    del d
    hits = np.cumsum(m)
    n_pos = int(hits[-1])
    precision = hits / np.arange(1, m.size + 1)
    ap = float(np.sum(precision * m) / n_pos)
    recall = hits / n_pos
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    k = int(np.argmin(np.abs(recall - precision)))
    return ap, float((recall[k] + precision[k]) / 2)


def worker(method: str, n: int) -> dict:
    """Run one configuration in this process and return its figures."""
    x, labels = synthetic(n)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "lwa":
        from lwa_cli.analysis.awd import awd_score

        r = awd_score(x, labels)
        ap, prb, n_same = r.ap, r.prb, r.n_same_pairs
    else:
        ap, prb = plain_pdist(x, labels)
        _, counts = np.unique(labels, return_counts=True)
        n_same = int((counts * (counts - 1) // 2).sum())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "method": method,
        "n": n,
        "pairs": n * (n - 1) // 2,
        "same_pairs": n_same,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "rss_before_mb": round(rss_before),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "ap": ap,
        "prb": prb,
        "load_avg": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 30000])
    parser.add_argument("--baseline-30k", action="store_true", help="run pdist above 10,000 too")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    rows = []
    for n in args.sizes:
        methods = ["lwa", "pdist"] if n <= 10000 or args.baseline_30k else ["lwa"]
        for method in methods:
            cmd = [sys.executable, __file__, "--worker", method, str(n)]
            env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True,
                                     timeout=args.timeout)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            except subprocess.TimeoutExpired:
                rows.append({"method": method, "n": n, "error": f"over {args.timeout:.0f} s"})
            except subprocess.CalledProcessError as exc:
                rows.append({"method": method, "n": n, "error": exc.stderr.strip()[-200:]})
            print(rows[-1], file=sys.stderr)
    head = f"{'method':<7}{'N':>7}{'pairs':>12}{'same':>10}{'wall s':>9}{'cpu s':>9}"
    print(head + f"{'peak MB':>9}{'AP':>10}{'PRB':>10}{'load':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['method']:<7}{r['n']:>7}  {r['error']}")
            continue
        print(f"{r['method']:<7}{r['n']:>7}{r['pairs']:>12}{r['same_pairs']:>10}"
              f"{r['wall_s']:>9}{r['cpu_s']:>9}{r['peak_rss_mb']:>9}{r['ap']:>10.6f}"
              f"{r['prb']:>10.6f}{r['load_avg']:>6}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

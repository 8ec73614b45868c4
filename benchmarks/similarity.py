"""Benchmark layer × layer similarity maps: shared per-layer statistics vs each pair from
scratch vs a public library, wall time and peak RSS.

The worker draws seeded synthetic layers (float32): model A has ``--layers-a`` layers of
``--dim-a`` dims, model B ``--layers-b`` of ``--dim-b`` (the issue's size: 13 × 25 layers,
768/1024 dims, 50,000 rows), each layer a random linear map of a shared latent plus noise.
The feature-space measures (cka, cka-debiased, procrustes) are timed by method, each in its
own subprocess so that its peak RSS (``ru_maxrss``) is its own:

* ``shared``: one `similarity_map` call for the whole map and all three measures (per-layer
  Gram blocks once, one cross block per pair read by all three measures).
* ``scratch``: `similarity_map` on one pair and one measure at a time (what a per-pair
  loop over a library's function does: each call recomputes both layers' statistics).
* ``repsim``: ``repsim.cka([x, y], "linear", "gretton")`` per pair (linear CKA only, n × n
  Gram matrices; its debiased "song" estimator gives other numbers than the textbook
  unbiased HSIC, see tests/test_layer_similarity.py).

``scratch`` and ``repsim`` run on the first ``--pairs`` / ``--library-pairs`` pairs only and
are extrapolated to the whole map (time × pairs in the map / pairs run; every pair costs the
same); the report says so. Peak RSS is not extrapolated (it does not grow with the pairs).

Usage (from the repository root)::

    python benchmarks/similarity.py                       # reduced size (see --help)
    python benchmarks/similarity.py --rows 50000 --dim-a 768 --dim-b 1024   # full size
    python benchmarks/similarity.py --json out.json --threads 16
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
FEATURE = ("cka", "cka-debiased", "procrustes")


def synthetic(n_layers: int, n: int, d: int, seed: int, latent: np.ndarray) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_layers):
        w = rng.standard_normal((latent.shape[1], d), dtype=np.float32)
        x = latent @ w
        x += rng.standard_normal((n, d), dtype=np.float32) * np.float32(4.0)
        out.append(x)
    return out


def _layers(args) -> tuple[list, list]:
    latent = np.random.default_rng(0).standard_normal((args.rows, 32), dtype=np.float32)
    return (synthetic(args.layers_a, args.rows, args.dim_a, 1, latent),
            synthetic(args.layers_b, args.rows, args.dim_b, 2, latent))


def worker(args) -> dict:
    sys.path.insert(0, str(REPO_ROOT))
    from lwa_cli.analysis.similarity import similarity_map

    xs, ys = _layers(args)
    pairs = [(i, j) for i in range(len(xs)) for j in range(len(ys))]
    t0 = time.perf_counter()
    values: dict = {}
    if args.method == "shared":
        values = {m: v.tolist() for m, v in similarity_map(xs, ys, FEATURE).items()}
        run = len(pairs)
    elif args.method == "scratch":
        run = min(args.pairs, len(pairs))
        for i, j in pairs[:run]:
            for m in FEATURE:
                values.setdefault(m, []).append(
                    float(similarity_map([xs[i]], [ys[j]], [m])[m][0, 0]))
    else:
        import repsim

        run = min(args.library_pairs, len(pairs))
        values["cka"] = [float(repsim.cka([xs[i], ys[j]], "linear", "gretton")[0, 1])
                         for i, j in pairs[:run]]
    seconds = time.perf_counter() - t0
    return {"method": args.method, "seconds_run": seconds, "pairs_run": run,
            "pairs_in_map": len(pairs), "seconds_map": seconds * len(pairs) / run,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "first_values": {m: (v[0][:3] if isinstance(v[0], list) else v[:3])
                             for m, v in values.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--layers-a", type=int, default=13)
    p.add_argument("--layers-b", type=int, default=25)
    p.add_argument("--dim-a", type=int, default=192)
    p.add_argument("--dim-b", type=int, default=256)
    p.add_argument("--pairs", type=int, default=25,
                   help="pairs the scratch method runs (then extrapolated)")
    p.add_argument("--library-pairs", type=int, default=1,
                   help="pairs the library method runs (then extrapolated)")
    p.add_argument("--methods", default="shared,scratch,repsim")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP threads of every method (same for all, for a fair "
                        "comparison)")
    p.add_argument("--json", type=Path)
    p.add_argument("--method", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.method:
        print(json.dumps(worker(args)))
        return
    results = []
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--method", method, "--rows", str(args.rows),
               "--layers-a", str(args.layers_a), "--layers-b", str(args.layers_b),
               "--dim-a", str(args.dim_a), "--dim-b", str(args.dim_b),
               "--pairs", str(args.pairs), "--library-pairs", str(args.library_pairs)]
        env = os.environ | {v: str(args.threads) for v in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode:
            print(f"{method}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"{method:8s} {res['seconds_map']:9.1f} s for the {res['pairs_in_map']}-pair map"
              f" ({res['pairs_run']} pairs run), peak RSS {res['peak_rss_mib']:8.0f} MiB",
              flush=True)
    base = {r["method"]: r for r in results}
    if "shared" in base:
        for r in results:
            if r["method"] != "shared":
                print(f"shared is {r['seconds_map'] / base['shared']['seconds_map']:.1f}x "
                      f"faster than {r['method']}")
    if args.json:
        args.json.write_text(json.dumps({"config": vars(args) | {"json": str(args.json)},
                                         "results": results}, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark the linear probe: C search (+ refit) and MDL on a frame-level phone-sized problem.

A seeded synthetic problem the size of `lwa probe phone`'s default: ``--frames`` training rows
(default 100,000) of ``--dims`` (768) float32 features in ``--classes`` (40) classes (Zipfian
class frequencies, as phones have; each row its class mean plus unit noise), and 10,000
evaluation rows. Per configuration, in its own subprocess (so its peak RSS is its own):

* ``probe``: `lwa_cli.analysis.probe.probe_layer` with the linear probe (standardise, C
  search over the default grid on a held-out tenth, refit on all rows, score);
* ``probe+mdl``: the same plus the online codelength (11 blocks).

Reports wall time, CPU time (all threads: on a shared machine the wall time says more about
the other processes than about this one), solver iterations and peak RSS; ``--layers N``
runs N layers in one process one after another (memory must stay flat: one layer's rows at
a time).

Usage (from the repository root)::

    python benchmarks/probe.py                       # 100,000 x 768 x 40, with and without MDL
    python benchmarks/probe.py --frames 20000 --json out.json
    python benchmarks/probe.py --device cuda         # the torch L-BFGS path on a GPU
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


def synthetic(n: int, dims: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float32 rows: class mean (scale 0.15) + unit noise; Zipfian class frequencies."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, classes + 1)
    y = rng.choice(classes, size=n, p=p / p.sum())
    means = rng.standard_normal((classes, dims), dtype=np.float32) * np.float32(0.15)
    x = rng.standard_normal((n, dims), dtype=np.float32)
    x += means[y]
    return x, y


def worker(frames: int, dims: int, classes: int, mdl: bool, layers: int, device: str) -> dict:
    from lwa_cli.analysis.probe import probe_layer

    names = [f"c{i}" for i in range(classes)]
    times, cpu, out = [], [], {}
    for layer in range(layers):
        x, y = synthetic(frames + 10_000, dims, classes, seed=layer)
        t0, c0 = time.perf_counter(), time.process_time()
        res = probe_layer(x[:frames], y[:frames], x[frames:], y[frames:], names, mdl=mdl,
                          device=device)
        times.append(round(time.perf_counter() - t0, 1))
        cpu.append(round(time.process_time() - c0, 1))
        out = res.to_dict()
        del x, y
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds_per_layer": times, "cpu_seconds_per_layer": cpu,
            "load_average": os.getloadavg()[0], "peak_rss_mib": round(peak, 1),
            "accuracy": out["accuracy"], "majority": out["majority_accuracy"], "c": out["c"],
            "n_iter": out["n_iter"], "compression": out.get("compression"),
            "mdl_bits": out.get("mdl_bits")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=768)
    ap.add_argument("--classes", type=int, default=40)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--modes", default="probe,probe+mdl")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        frames, dims, classes, mdl, layers, device = args.worker
        print(json.dumps(worker(int(frames), int(dims), int(classes), mdl == "1",
                                int(layers), device)))
        return
    results = []
    for mode in args.modes.split(","):
        cmd = [sys.executable, __file__, "--worker", str(args.frames), str(args.dims),
               str(args.classes), "1" if mode == "probe+mdl" else "0", str(args.layers),
               args.device]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        row = {"mode": mode, "frames": args.frames, "dims": args.dims,
               "classes": args.classes, "layers": args.layers, "device": args.device,
               "cores": os.cpu_count(), "process_seconds": round(time.perf_counter() - t0, 1),
               **json.loads(done.stdout.strip().splitlines()[-1])}
        print(json.dumps(row), flush=True)
        results.append(row)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

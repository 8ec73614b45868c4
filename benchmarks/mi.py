"""Benchmark the MI k-means step at realistic sizes: wall time and peak memory per setting.

Each configuration runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own:
the worker draws seeded synthetic segment features (float32, a strongly overlapping Gaussian
mixture with one component per label, like phone or word segments), then times
`lwa_cli.analysis.mi.mi_score` on the dev path (fit on train, predict an eval split, score).
Reported per configuration: data size, RSS before the fit, peak RSS, fit+score wall time and
CPU time, the load average around the run (the machine may be shared), the MI score (a sanity
value only: the synthetic classes are not real phones or words).

``--dtype float64`` hands k-means float64 features instead: scikit-learn's k-means++
initialisation upcasts float32 distances to float64 block by block, which makes it several
times slower than on float64 input when there are thousands of clusters.

Usage (from the repository root)::

    python benchmarks/mi.py                 # full sizes: phone 100000 x 768 x 500 clusters
                                            # (minibatch and full k-means), word 30000 x 768
                                            # x 5000 clusters (minibatch)
    python benchmarks/mi.py --quick         # smaller N and capped full k-means iterations
    python benchmarks/mi.py --only phone-minibatch --json out.json

A configuration that exceeds ``--timeout`` seconds is killed and reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Config:
    """One benchmark setting."""

    name: str
    n_train: int
    n_eval: int
    dims: int
    n_labels: int
    n_clusters: int
    kmeans: str
    batch_size: int
    max_iter: int
    dtype: str = "float32"


def configs(quick: bool) -> list[Config]:
    """The settings to run; ``quick`` shrinks N and caps full k-means at 20 iterations."""
    phone_n, word_n = (20000, 10000) if quick else (100000, 30000)
    return [
        # 39 phones, dev sample min(count, 200) per phone -> 7800 eval segments.
        Config("phone-minibatch", phone_n, 7800, 768, 39, 500, "minibatch", 1500, 500),
        Config("phone-full", phone_n, 7800, 768, 39, 500, "full", 1500, 20 if quick else 500),
        # 500 words, dev sample min(count, 15) per word -> 7500 eval segments.
        Config("word-minibatch", word_n, 7500, 768, 500, 5000, "minibatch", 4000, 500),
    ]


def _synthetic(n: int, centres: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """``n`` float32 rows drawn around ``centres`` (unit noise), built in blocks to keep the
    peak at the float32 array itself."""
    labels = rng.integers(0, centres.shape[0], size=n)
    x = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 10000):
        stop = min(start + 10000, n)
        x[start:stop] = rng.standard_normal((stop - start, centres.shape[1]), dtype=np.float32)
        x[start:stop] += centres[labels[start:stop]]
    return x, labels.astype(str)


def _rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(config: Config, seed: int) -> dict:
    """Generate the data, time one `mi_score` call, and return the measurements."""
    sys.path.insert(0, str(REPO_ROOT))
    from lwa_cli.analysis.mi import mi_score

    rng = np.random.default_rng(seed)
    # Centres 0.05 * N(0, I) under unit noise: classes overlap, as real segment features do.
    centres = (rng.standard_normal((config.n_labels, config.dims)) * 0.05).astype(np.float32)
    train_x, train_y = _synthetic(config.n_train, centres, rng)
    eval_x, eval_y = _synthetic(config.n_eval, centres, rng)
    if config.dtype != "float32":
        # Cast up front (not timed): this measures what a float64 feature file would cost.
        train_x, eval_x = train_x.astype(config.dtype), eval_x.astype(config.dtype)
    rss_before = _rss_mib()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    cpu_start = time.process_time()
    result = mi_score(
        train_x, train_y, eval_x, eval_y, n_clusters=config.n_clusters, kmeans=config.kmeans,
        batch_size=config.batch_size, max_iter=config.max_iter, seed=seed,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        **asdict(config),
        "data_mib": (train_x.nbytes + eval_x.nbytes) / 2**20,
        "rss_before_fit_mib": rss_before,
        "peak_rss_mib": peak,
        "wall_s": wall,
        "cpu_s": cpu,
        # The 1-minute load average around the run: other work on the machine skews wall_s.
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg()[0],
        "mi_score": result.score,
        "status": "ok",
    }


def run_isolated(config: Config, seed: int, timeout: float) -> dict:
    """Run `worker` for ``config`` in a fresh interpreter and return its measurements."""
    command = [sys.executable, __file__, "--worker", json.dumps(asdict(config)),
               "--seed", str(seed)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return {**asdict(config), "status": f"timeout after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {**asdict(config), "status": f"failed: {tail[0]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(rows: list[dict]) -> None:
    header = (f"{'config':<16}{'N x D':>13}{'k':>6}{'dtype':>8}{'data MiB':>10}{'RSS0 MiB':>10}"
              f"{'peak MiB':>10}{'wall s':>9}{'cpu s':>9}{'load':>11}{'MI':>8}  status")
    print(header)
    for row in rows:
        size = f"{row['n_train']}x{row['dims']}"
        if row["status"] == "ok":
            print(f"{row['name']:<16}{size:>13}{row['n_clusters']:>6}{row['dtype']:>8}"
                  f"{row['data_mib']:>10.0f}"
                  f"{row['rss_before_fit_mib']:>10.0f}{row['peak_rss_mib']:>10.0f}"
                  f"{row['wall_s']:>9.1f}{row['cpu_s']:>9.1f}"
                  f"{row['load_avg_before']:>5.1f}->{row['load_avg_after']:<4.1f}"
                  f"{row['mi_score']:>8.3f}  ok")
        else:
            print(f"{row['name']:<16}{size:>13}{row['n_clusters']:>6}{row['dtype']:>8}{'':>67}"
                  f"  {row['status']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N, capped full k-means")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this configuration (repeatable)")
    parser.add_argument("--n-train", type=int, help="override the training size of every run")
    parser.add_argument("--full-max-iter", type=int, help="override max_iter of full k-means")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="feature dtype given to k-means (features are stored as float32)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(Config(**json.loads(args.worker)), args.seed)))
        return 0

    selected = [c for c in configs(args.quick) if not args.only or c.name in args.only]
    if not selected:
        parser.error(f"no configuration named {args.only}")
    rows = []
    for config in selected:
        changes: dict[str, object] = {"dtype": args.dtype}
        if args.n_train:
            changes["n_train"] = args.n_train
        if args.full_max_iter and config.kmeans == "full":
            changes["max_iter"] = args.full_max_iter
        config = Config(**{**asdict(config), **changes})
        print(f"running {config.name} ...", file=sys.stderr, flush=True)
        rows.append(run_isolated(config, args.seed, args.timeout))
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}")
    _print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

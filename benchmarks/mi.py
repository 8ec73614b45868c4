"""Benchmark the MI k-means backends side by side, and two concurrent MI runs with and
without a one-thread cap.

Two cases, seeded synthetic float32 segment features (a strongly overlapping Gaussian mixture,
one component per label, like real phone or word segments):

* ``word``: 20,000 × 768 training rows, 500 labels, 5,000 clusters (batch 4,000), 7,500 eval
  rows;
* ``phone``: 30,000 × 768 training rows, 39 labels, 500 clusters (batch 1,500), 7,800 eval
  rows.

On each, `lwa_cli.analysis.mi.mi_score` (fit on train, assign the eval rows, score) runs with
``minibatch`` fitted on float32 (the reference's arithmetic) and on float64 (lwa's default),
``lloyd`` (scikit-learn Lloyd from a random start, converged) and ``faiss`` (20 iterations;
skipped when faiss is not installed); ``--with-full`` adds scikit-learn ``full`` (k-means++
start, slow at 5,000 clusters). Each run is its own subprocess, so its peak RSS
(``ru_maxrss``, data generation included) is its own. Reported: wall and CPU seconds of the
``mi_score`` call, RSS before the fit and at peak, k-means iterations, inertia (mean squared
distance to the centroid), the MI and the 1-minute load average around the run (the machine
may be shared).

Then two ``phone`` ``minibatch`` runs start at the same moment, first with default threads,
then each capped with ``lwa_cli.threads.limit_threads(1)``: what ``make -j2`` over layers
costs with and without ``lwa --threads 1``.

``--spread S`` instead fits ``minibatch`` on float32 and on float64 with seeds 0..S-1 on one
case and prints, per dtype, the MI's mean, standard deviation and range over the seeds and
the mean same-seed float32/float64 difference: whether lwa's float64 fit stays inside the seed
spread of the reference's float32 one.

Usage (from the repository root)::

    .venv/bin/python benchmarks/mi.py               # full sizes (several minutes)
    .venv/bin/python benchmarks/mi.py --quick       # N and clusters / 4, for development
    .venv/bin/python benchmarks/mi.py --quick --only word --spread 5
    .venv/bin/python benchmarks/mi.py --only word --no-concurrent --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Config:
    """One benchmark run."""

    case: str
    method: str
    n_train: int
    n_eval: int
    dims: int
    n_labels: int
    n_clusters: int
    kmeans: str
    batch_size: int
    fit_dtype: str = "float64"
    max_iter: int = 500
    threads: int | None = None


#: The two cases at full size: (n_train, n_eval, labels, clusters, batch size).
CASES = {
    "word": (20000, 7500, 500, 5000, 4000),
    "phone": (30000, 7800, 39, 500, 1500),
}
#: (method name, backend, fit dtype) in table order.
METHODS = [
    ("minibatch-f32", "minibatch", "float32"),
    ("minibatch-f64", "minibatch", "float64"),
    ("lloyd", "lloyd", "float64"),
    ("faiss", "faiss", "float32"),
]


def configs(cases: list[str], quick: bool, with_full: bool) -> list[Config]:
    """Every (case, method) run; ``quick`` divides N and the cluster counts by 4."""
    methods = METHODS + ([("full", "full", "float64")] if with_full else [])
    out = []
    for case in cases:
        n_train, n_eval, n_labels, n_clusters, batch = CASES[case]
        if quick:
            n_train, n_eval, n_clusters = n_train // 4, n_eval // 4, n_clusters // 4
        out += [Config(case, name, n_train, n_eval, 768, n_labels, n_clusters, kmeans, batch,
                       fit_dtype) for name, kmeans, fit_dtype in methods]
    return out


def _synthetic(n: int, centres: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """``n`` float32 rows around ``centres`` (unit noise), built in blocks so the peak stays at
    the float32 array itself."""
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
    from lwa_cli.threads import limit_threads

    limit_threads(config.threads)
    if config.kmeans == "faiss":
        try:
            import faiss  # noqa: F401
        except ImportError:
            return {**asdict(config), "status": "skipped: faiss not installed"}
    from lwa_cli.analysis.mi import mi_score

    rng = np.random.default_rng(seed)
    # Centres 0.05 * N(0, I) under unit noise: classes overlap, as real segment features do.
    centres = (rng.standard_normal((config.n_labels, config.dims)) * 0.05).astype(np.float32)
    train_x, train_y = _synthetic(config.n_train, centres, rng)
    eval_x, eval_y = _synthetic(config.n_eval, centres, rng)
    rss_before = _rss_mib()
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    result = mi_score(
        train_x, train_y, eval_x, eval_y, n_clusters=config.n_clusters, kmeans=config.kmeans,
        batch_size=config.batch_size, max_iter=config.max_iter, seed=seed,
        fit_dtype=config.fit_dtype,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        **asdict(config),
        "rss_before_fit_mib": rss_before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB
        "wall_s": wall,
        "cpu_s": cpu,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg()[0],
        "n_iter": result.n_iter,
        "inertia": result.inertia,
        "mi_score": result.score,
        "status": "ok",
    }


def _command(config: Config, seed: int) -> list[str]:
    return [sys.executable, __file__, "--worker", json.dumps(asdict(config)), "--seed",
            str(seed)]


def _result(config: Config, returncode: int, stdout: str, stderr: str) -> dict:
    if returncode != 0:
        tail = stderr.strip().splitlines()[-1:] or ["no output"]
        return {**asdict(config), "status": f"failed: {tail[0]}"}
    return json.loads(stdout.strip().splitlines()[-1])


def run_isolated(config: Config, seed: int, timeout: float) -> dict:
    """Run `worker` for ``config`` in a fresh interpreter and return its measurements."""
    try:
        done = subprocess.run(_command(config, seed), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**asdict(config), "status": f"timeout after {timeout:.0f} s"}
    return _result(config, done.returncode, done.stdout, done.stderr)


def run_concurrent(config: Config, seed: int, copies: int, timeout: float) -> tuple[float,
                                                                                     list[dict]]:
    """Start ``copies`` workers at once; return the wall time until the last one ends."""
    start = time.perf_counter()
    procs = [subprocess.Popen(_command(config, seed + i), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(copies)]
    rows = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
            rows.append(_result(config, proc.returncode, out, err))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            rows.append({**asdict(config), "status": f"timeout after {timeout:.0f} s"})
    return time.perf_counter() - start, rows


def _print_table(rows: list[dict]) -> None:
    print(f"{'case':<6}{'method':<15}{'N x D':>11}{'k':>6}{'wall s':>9}{'cpu s':>9}"
          f"{'RSS0 MiB':>10}{'peak MiB':>10}{'iters':>7}{'inertia':>9}{'MI':>8}{'load':>11}")
    for row in rows:
        size = f"{row['n_train']}x{row['dims']}"
        head = f"{row['case']:<6}{row['method']:<15}{size:>11}{row['n_clusters']:>6}"
        if row["status"] != "ok":
            print(f"{head}  {row['status']}")
            continue
        print(f"{head}{row['wall_s']:>9.1f}{row['cpu_s']:>9.1f}{row['rss_before_fit_mib']:>10.0f}"
              f"{row['peak_rss_mib']:>10.0f}{row['n_iter']:>7}{row['inertia']:>9.1f}"
              f"{row['mi_score']:>8.3f}"
              f"{row['load_avg_before']:>6.1f}->{row['load_avg_after']:<4.1f}")


def _print_speedups(rows: list[dict]) -> None:
    ok = {(r["case"], r["method"]): r["wall_s"] for r in rows if r["status"] == "ok"}
    for case in dict.fromkeys(r["case"] for r in rows):
        for fast in ("faiss", "lloyd", "minibatch-f64"):
            for slow in ("minibatch-f32", "minibatch-f64"):
                if fast != slow and (case, fast) in ok and (case, slow) in ok:
                    print(f"{case}: {fast} is {ok[case, slow] / ok[case, fast]:.1f}x faster "
                          f"than {slow} (wall)")


def _print_concurrent(results: list[tuple[str, float, list[dict]]]) -> None:
    print(f"{'threads':<10}{'pair wall s':>12}  per run: wall s / cpu s / MI")
    for label, pair_wall, rows in results:
        runs = "  ".join(f"{r['wall_s']:.1f} / {r['cpu_s']:.1f} / {r['mi_score']:.3f}"
                         if r["status"] == "ok" else r["status"] for r in rows)
        print(f"{label:<10}{pair_wall:>12.1f}  {runs}")


def run_spread(case: str, quick: bool, seeds: int, timeout: float) -> None:
    """Seed spread of minibatch MI on float32 vs float64 fits (see the module docstring)."""
    base = {c.method: c for c in configs([case], quick, False)}
    got: dict[str, list[dict]] = {}
    for method in ("minibatch-f32", "minibatch-f64"):
        for seed in range(seeds):
            print(f"running {case} {method} seed {seed} ...", file=sys.stderr, flush=True)
            got.setdefault(method, []).append(run_isolated(base[method], seed, timeout))
    print(f"{case}: minibatch MI over seeds 0..{seeds - 1}")
    print(f"{'fit':<15}{'mean':>8}{'sd':>8}{'min':>8}{'max':>8}{'mean wall s':>13}")
    for method, rows in got.items():
        mi = np.array([r["mi_score"] for r in rows if r["status"] == "ok"])
        wall = np.mean([r["wall_s"] for r in rows if r["status"] == "ok"])
        print(f"{method:<15}{mi.mean():>8.4f}{mi.std(ddof=1):>8.4f}{mi.min():>8.4f}"
              f"{mi.max():>8.4f}{wall:>13.1f}")
    pairs = [abs(a["mi_score"] - b["mi_score"]) for a, b in
             zip(got["minibatch-f32"], got["minibatch-f64"], strict=True)
             if a["status"] == b["status"] == "ok"]
    print(f"mean |MI(float32) - MI(float64)| at the same seed: {np.mean(pairs):.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N and clusters divided by 4")
    parser.add_argument("--only", choices=sorted(CASES), action="append",
                        help="run only this case (repeatable)")
    parser.add_argument("--with-full", action="store_true",
                        help="also time scikit-learn KMeans with a k-means++ start")
    parser.add_argument("--no-concurrent", action="store_true",
                        help="skip the two concurrent runs")
    parser.add_argument("--spread", type=int, metavar="S",
                        help="only the float32/float64 minibatch seed spread over S seeds")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(Config(**json.loads(args.worker)), args.seed)))
        return 0

    cases = args.only or list(CASES)
    if args.spread:
        for case in cases:
            run_spread(case, args.quick, args.spread, args.timeout)
        return 0
    rows = []
    for config in configs(cases, args.quick, args.with_full):
        print(f"running {config.case} {config.method} ...", file=sys.stderr, flush=True)
        rows.append(run_isolated(config, args.seed, args.timeout))
    concurrent = []
    if not args.no_concurrent:
        base = next(c for c in configs(["phone"], args.quick, False)
                    if c.method == "minibatch-f64")
        for label, threads in (("default", None), ("1 each", 1)):
            print(f"running 2 concurrent phone minibatch, threads {label} ...",
                  file=sys.stderr, flush=True)
            wall, pair = run_concurrent(replace(base, threads=threads), args.seed, 2,
                                        args.timeout)
            concurrent.append((label, wall, pair))
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}")
    _print_table(rows)
    _print_speedups(rows)
    if concurrent:
        print("\ntwo concurrent phone minibatch-f64 runs (separate processes):")
        _print_concurrent(concurrent)
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "concurrent": [
            {"threads": label, "pair_wall_s": wall, "runs": pair}
            for label, wall, pair in concurrent]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

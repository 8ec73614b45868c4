"""Benchmark cross-validated PWCCA: lwa's streaming statistics against one bare float64 Gram
pass and a np.cov-per-candidate baseline: CPU time, wall time and peak memory of each.

The parent process writes seeded synthetic float32 views (N × 768 and N × 80 by default, a
shared 24-dimensional latent plus noise and non-zero means) to an HDF5 file in a temporary
directory. Each implementation then runs in its own fresh interpreter, so its peak RSS
(``ru_maxrss``) is its own:

* ``lwa``: `lwa_cli.analysis.cca.cross_validated_pwcca` reading the HDF5 datasets in row
  chunks (one streaming pass for per-split statistics, O(d³) per candidate).
* ``gram``: the floor: the same rows loaded as one float64 (N, dx + dy) matrix (not timed),
  then one ``X.T @ X`` (BLAS syrk) timed. lwa's target is ≤ 2× its CPU time.
* ``baseline``: what the reference does: load both views as float64 (dims × N); for every
  trial slice out the 8 training splits, and for every ε candidate recompute ``np.cov`` of the
  stacked training views, scale, prune, ``pinv``, eigendecomposition square root and full SVD,
  score the dev split, then score the chosen candidate on the test split. It uses the same
  splits, trial pairs, ε order and sign convention as lwa, so both scores must agree.

``--concurrent`` then starts two ``lwa`` runs at the same moment, first with default threads,
then each capped at one thread (`lwa_cli.threads.limit_threads`, what ``lwa --threads 1``
does): what ``make -j2`` over layers costs with and without the cap.

lwa and the baseline run 3 trials × 6 candidates. ``--baseline-candidates 1`` times the
baseline for one candidate per trial only and extrapolates ×6 (the output says so);
``--no-baseline`` skips it. CPU time is user + system time of the timed section
(``time.process_time``, all threads).

Usage (from the repository root)::

    .venv/bin/python benchmarks/cca.py              # N = 100000, 768 vs 80 dims
    .venv/bin/python benchmarks/cca.py --n 20000 --json out.json
    .venv/bin/python benchmarks/cca.py --no-baseline
    .venv/bin/python benchmarks/cca.py --n 50000 --no-baseline --concurrent
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
N_TRIALS = 3
N_CANDIDATES = 6


def write_views(path: Path, n: int, dx: int, dy: int, seed: int) -> None:
    """Write seeded synthetic float32 views ``x`` (n, dx) and ``y`` (n, dy) to HDF5."""
    import h5py

    rng = np.random.default_rng(seed)
    latent_dims = 24
    mix_x = rng.standard_normal((latent_dims, dx)) / np.sqrt(latent_dims)
    mix_y = rng.standard_normal((latent_dims, dy)) / np.sqrt(latent_dims)
    mean_x, mean_y = rng.normal(0.5, 1.0, dx), rng.normal(-0.3, 1.0, dy)
    scale_x, scale_y = rng.uniform(0.5, 2.0, dx), rng.uniform(0.5, 2.0, dy)
    with h5py.File(path, "w") as handle:
        xs = handle.create_dataset("x", (n, dx), dtype=np.float32)
        ys = handle.create_dataset("y", (n, dy), dtype=np.float32)
        for start in range(0, n, 10000):
            stop = min(start + 10000, n)
            z = rng.standard_normal((stop - start, latent_dims))
            xs[start:stop] = (z @ mix_x + rng.standard_normal((stop - start, dx)) * scale_x
                              + mean_x).astype(np.float32)
            ys[start:stop] = (z @ mix_y + 1.5 * rng.standard_normal((stop - start, dy)) * scale_y
                              + mean_y).astype(np.float32)


def _blas() -> list[dict]:
    """The BLAS/OpenMP libraries loaded in this process, from threadpoolctl."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "num_threads", "architecture", "prefix")
    return [{k: info.get(k) for k in keys} for info in threadpool_info()]


def _protocol(n: int, seed: int) -> tuple[list[np.ndarray], list[tuple[int, int]], list[list]]:
    """lwa's default splits, trial pairs and ε orders for ``seed`` (same as the lwa run)."""
    from lwa_cli.analysis.cca import draw_trial_pairs, epsilon_candidates, make_splits

    split_rng, pair_rng, eps_rng = np.random.default_rng(seed).spawn(3)
    splits = make_splits(n, None, 10, split_rng)
    pairs = draw_trial_pairs(10, pair_rng)
    eps = [epsilon_candidates(eps_rng) for _ in pairs]
    return splits, pairs[:N_TRIALS], eps[:N_TRIALS]


def run_lwa(path: Path, seed: int) -> dict:
    """Time lwa's cross-validated PWCCA on the HDF5 views."""
    import h5py

    from lwa_cli.analysis.cca import cross_validated_pwcca

    with h5py.File(path, "r") as handle:
        cpu, start = time.process_time(), time.perf_counter()
        result = cross_validated_pwcca(handle["x"], handle["y"], seed=seed,
                                       n_trials=N_TRIALS, n_candidates=N_CANDIDATES)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "score": result.score,
            "trial_scores": result.trial_scores, "chosen_eps": result.chosen_eps,
            "extrapolated": False}


def run_gram(path: Path) -> dict:
    """Time one float64 Gram matrix X.T @ X of the stacked rows (the floor of any CCA)."""
    import h5py

    with h5py.File(path, "r") as handle:
        n, dx, dy = handle["x"].shape[0], handle["x"].shape[1], handle["y"].shape[1]
        stacked = np.empty((n, dx + dy), dtype=np.float64)
        stacked[:, :dx] = handle["x"][:]
        stacked[:, dx:] = handle["y"][:]
    cpu, start = time.process_time(), time.perf_counter()
    gram = stacked.T @ stacked
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "score": float("nan"), "trace": float(np.trace(gram)),
            "extrapolated": False}


def _reference_fit(view1: np.ndarray, view2: np.ndarray, eps_x: float, eps_y: float):
    """One candidate as the reference fits it: np.cov of the stacked views, pinv, sqrtm, SVD."""
    from lwa_cli.analysis.cca import CCAFit, align_signs

    numx = view1.shape[0]
    cov = np.cov(view1, view2)
    sxx, sxy, syy = cov[:numx, :numx], cov[:numx, numx:], cov[numx:, numx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx, syy, sxy = sxx / xmax, syy / ymax, sxy / np.sqrt(xmax * ymax)
    x_keep = np.abs(np.diagonal(sxx)) >= eps_x
    y_keep = np.abs(np.diagonal(syy)) >= eps_y
    sxx = sxx[np.ix_(x_keep, x_keep)] + eps_x * np.eye(x_keep.sum())
    syy = syy[np.ix_(y_keep, y_keep)] + eps_y * np.eye(y_keep.sum())
    sxy = sxy[np.ix_(x_keep, y_keep)]

    def sqrtm(a: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(a)
        return v @ np.diag(np.sqrt(w)) @ v.T

    wx, wy = sqrtm(np.linalg.pinv(sxx)), sqrtm(np.linalg.pinv(syy))
    u, _, vt = np.linalg.svd(wx @ sxy @ wy)
    proj_x, proj_y = align_signs(u.T @ wx, vt @ wy)
    return CCAFit(proj_x, proj_y, x_keep, y_keep)


def _reference_score(fit, view1: np.ndarray, view2: np.ndarray) -> float:
    """The reference's PWCCA of a fit on one evaluation split (views dims × n)."""
    k = fit.k
    mean1, mean2 = view1.mean(axis=1, keepdims=True), view2.mean(axis=1, keepdims=True)
    p1 = fit.proj_x[:k] @ (view1[fit.x_keep] - mean1[fit.x_keep])
    p2 = fit.proj_y[:k] @ (view2[fit.y_keep] - mean2[fit.y_keep])
    rho = np.einsum("ij,ij->i", p1, p2) / np.sqrt(
        np.einsum("ij,ij->i", p1, p1) * np.einsum("ij,ij->i", p2, p2))
    if fit.kx < fit.ky:
        acts, means, dirns = view1[fit.x_keep][:k], mean1[fit.x_keep][:k], p1
    else:
        acts, means, dirns = view2[fit.y_keep][:k], mean2[fit.y_keep][:k], p2
    q, _ = np.linalg.qr((dirns + means).T)
    weights = np.abs(q.T @ acts.T).sum(axis=1)
    return float(np.sum(weights / weights.sum() * rho))


def run_baseline(path: Path, seed: int, candidates: int) -> dict:
    """Time the np.cov-per-candidate implementation on the same data and protocol."""
    import h5py

    with h5py.File(path, "r") as handle:
        n = handle["x"].shape[0]
        cpu, start = time.process_time(), time.perf_counter()
        view1 = handle["x"][:].astype(np.float64).T
        view2 = handle["y"][:].astype(np.float64).T
    splits, pairs, eps_lists = _protocol(n, seed)
    scores, chosen = [], []
    for (dev, test), eps_list in zip(pairs, eps_lists, strict=True):
        train = np.concatenate([splits[s] for s in range(10) if s not in (dev, test)])
        train1, train2 = view1.T[train].T, view2.T[train].T
        dev1, dev2 = view1.T[splits[dev]].T, view2.T[splits[dev]].T
        fits, dev_scores = [], []
        for eps_x, eps_y in eps_list[:candidates]:
            fit = _reference_fit(train1, train2, eps_x, eps_y)
            fits.append(fit)
            dev_scores.append(_reference_score(fit, dev1, dev2))
        best = int(np.argmax(dev_scores))
        chosen.append(eps_list[best])
        scores.append(_reference_score(fits[best], view1.T[splits[test]].T,
                                       view2.T[splits[test]].T))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    extrapolated = candidates < N_CANDIDATES
    if extrapolated:
        wall *= N_CANDIDATES / candidates
        cpu *= N_CANDIDATES / candidates
    return {"wall_s": wall, "cpu_s": cpu, "score": float(np.mean(scores)), "trial_scores": scores,
            "chosen_eps": chosen, "extrapolated": extrapolated}


def worker(kind: str, path: Path, seed: int, candidates: int, threads: int | None = None) -> dict:
    """Run one implementation and add its peak RSS and BLAS."""
    sys.path.insert(0, str(REPO_ROOT))
    if threads:
        from lwa_cli.threads import limit_threads

        limit_threads(threads)
    if kind == "lwa":
        out = run_lwa(path, seed)
    elif kind == "gram":
        out = run_gram(path)
    else:
        out = run_baseline(path, seed, candidates)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["blas"] = _blas()
    out["kind"] = kind
    return out


def _worker_command(kind: str, path: Path, seed: int, candidates: int,
                    threads: int | None = None) -> list[str]:
    command = [sys.executable, __file__, "--worker", kind, "--data", str(path),
               "--seed", str(seed), "--baseline-candidates", str(candidates)]
    return command + (["--threads", str(threads)] if threads else [])


def _parse(kind: str, returncode: int, stdout: str, stderr: str) -> dict:
    if returncode != 0:
        tail = stderr.strip().splitlines()[-1:] or ["no output"]
        return {"kind": kind, "status": f"failed: {tail[0]}"}
    return {**json.loads(stdout.strip().splitlines()[-1]), "status": "ok"}


def run_isolated(kind: str, path: Path, seed: int, candidates: int, timeout: float) -> dict:
    """Run `worker` in a fresh interpreter and return its measurements."""
    try:
        done = subprocess.run(_worker_command(kind, path, seed, candidates), capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "status": f"timeout after {timeout:.0f} s"}
    return _parse(kind, done.returncode, done.stdout, done.stderr)


def run_concurrent(path: Path, seed: int, threads: int | None, timeout: float,
                   copies: int = 2) -> tuple[float, list[dict]]:
    """Start `copies` lwa runs at once; (wall seconds until all ended, their measurements)."""
    start = time.perf_counter()
    procs = [subprocess.Popen(_worker_command("lwa", path, seed, N_CANDIDATES, threads),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(copies)]
    rows = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
            rows.append(_parse("lwa", proc.returncode, out, err))
        except subprocess.TimeoutExpired:
            proc.kill()
            rows.append({"kind": "lwa", "status": f"timeout after {timeout:.0f} s"})
    return time.perf_counter() - start, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100000, help="number of points")
    parser.add_argument("--dx", type=int, default=768, help="dimensions of view x")
    parser.add_argument("--dy", type=int, default=80, help="dimensions of view y")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-candidates", type=int, default=N_CANDIDATES,
                        choices=range(1, N_CANDIDATES + 1), metavar="1..6",
                        help="candidates per trial the baseline really runs (rest extrapolated)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the np.cov baseline")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--concurrent", action="store_true",
                        help="also time two concurrent lwa runs, with and without 1 thread each")
    parser.add_argument("--worker", choices=("lwa", "gram", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.seed, args.baseline_candidates,
                                args.threads)))
        return 0

    with tempfile.TemporaryDirectory(prefix="lwa-cca-bench-") as tmp:
        path = Path(tmp) / "views.h5"
        print(f"writing {args.n} x ({args.dx} + {args.dy}) float32 views ...", file=sys.stderr,
              flush=True)
        write_views(path, args.n, args.dx, args.dy, args.seed)
        rows = []
        print(f"load average before the runs: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        kinds = ("gram", "lwa") if args.no_baseline else ("gram", "lwa", "baseline")
        for kind in kinds:
            print(f"running {kind} ...", file=sys.stderr, flush=True)
            rows.append(run_isolated(kind, path, args.seed, args.baseline_candidates,
                                     args.timeout))
        concurrent = []
        if args.concurrent:
            for threads in (None, 1):
                print(f"running 2 concurrent lwa runs, threads {threads or 'default'} ...",
                      file=sys.stderr, flush=True)
                concurrent.append((threads, *run_concurrent(path, args.seed, threads,
                                                            args.timeout)))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"cpus: {os.cpu_count()} (load average after the runs: {load}), python "
          f"{sys.version.split()[0]}, N = {args.n}, dims {args.dx} vs {args.dy}, "
          f"{N_TRIALS} trials x {N_CANDIDATES} candidates")
    for row in rows:
        if row["status"] != "ok":
            print(f"{row['kind']:<9} {row['status']}")
            continue
        note = (f"  (timed {args.baseline_candidates} candidate(s)/trial, extrapolated "
                f"x{N_CANDIDATES / args.baseline_candidates:g})" if row["extrapolated"] else "")
        score = "" if row["kind"] == "gram" else f"   score {row['score']:.10f}"
        print(f"{row['kind']:<9} cpu {row['cpu_s']:8.2f} s   wall {row['wall_s']:8.2f} s   "
              f"peak RSS {row['peak_rss_mib']:7.0f} MiB{score}{note}")
    done = {r["kind"]: r for r in rows if r["status"] == "ok"}
    if "gram" in done and "lwa" in done:
        print(f"lwa / Gram pass: cpu {done['lwa']['cpu_s'] / done['gram']['cpu_s']:.2f}x, "
              f"wall {done['lwa']['wall_s'] / done['gram']['wall_s']:.2f}x (target: cpu <= 2x, "
              "peak RSS <= 1.2 GB)")
    if "baseline" in done and "lwa" in done:
        lwa, base = done["lwa"], done["baseline"]
        print(f"speed-up over the baseline {base['wall_s'] / lwa['wall_s']:.1f}x wall, "
              f"{base['cpu_s'] / lwa['cpu_s']:.1f}x cpu; "
              f"|score difference| {abs(base['score'] - lwa['score']):.2e}")
    for threads, wall, runs in concurrent:
        each = ", ".join(f"{r['wall_s']:.1f}" if r["status"] == "ok" else r["status"]
                         for r in runs)
        print(f"2 concurrent lwa runs, threads {threads or 'default'}: {wall:.1f} s until both "
              f"ended (each {each} s)")
    if "lwa" in done:
        for lib in done["lwa"]["blas"]:
            print(f"blas: {lib}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

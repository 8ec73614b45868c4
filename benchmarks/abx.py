"""Benchmark `lwa abx` numerics against the ZeroSpeech reference (zerospeech-libriabx2).

Synthetic dev-clean-sized data (seeded): ``--files`` utterances (dev-clean: 2,703) of 40
speakers, ~37 phone tokens each (dev-clean: ~100k tokens), the 39 phones drawn with Zipfian
frequencies, 1–8 frames of 20 ms each, 768-dim float32 frames (phone prototype + speaker shift +
noise). Conditions: within and across speaker, within context, angular distance, DTW over
frames (no pooling), the reference's defaults (max_size_group 10, max_x_across 5, seed 0).

Each method runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own:

* ``oracle``: `zrc_abx2.eval_ABX` on ``.npy`` files + ``.item`` file (CPU; its Cython DTW);
* ``lwa``: `lwa_cli.analysis.abx.abx_score` on the same frames, items in the reference's
  order (so the same subsampling draws and the same numbers), ``--device cpu`` or ``cuda``.

Usage (from the repository root)::

    python benchmarks/abx.py                    # full size, lwa and oracle (oracle: hours)
    python benchmarks/abx.py --files 200        # reduced
    python benchmarks/abx.py --files 2703 --methods lwa --device cuda
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

DIMS = 768
SPEAKERS = 40
TOKENS_PER_FILE = 37
FP = 0.02
CONDITIONS = ("within", "across")


def make_data(root: Path, n_files: int, seed: int = 0) -> None:
    """Write ``root/feats/<utt>.npy`` and ``root/items.item`` (seeded)."""
    from lwa_cli.data.abx_items import AbxItems
    from tests.abx_oracle import write_inputs

    rng = np.random.default_rng(seed)
    n_phones = 39
    freq = 1 / np.arange(1, n_phones + 1)
    freq /= freq.sum()
    protos = rng.normal(size=(n_phones, DIMS)).astype(np.float32)
    shift = (rng.normal(size=(SPEAKERS, DIMS)) * 0.5).astype(np.float32)
    feats, cols = {}, [[] for _ in range(7)]
    for f in range(n_files):
        s = f % SPEAKERS
        name = f"{s}-{f // SPEAKERS}-{f:04d}"
        seq = rng.choice(n_phones, TOKENS_PER_FILE, p=freq)
        durs = rng.integers(1, 9, TOKENS_PER_FILE)
        n_frames = int(durs.sum()) + 4
        x = rng.normal(size=(n_frames, DIMS)).astype(np.float32) * 2 + shift[s]
        t = 2
        for k in range(TOKENS_PER_FILE):
            x[t:t + durs[k]] += 0.25 * protos[seq[k]]
            values = (name, t * FP, (t + durs[k]) * FP + FP / 2, f"p{seq[k]}",
                      f"p{seq[k - 1]}" if k else "SIL",
                      f"p{seq[k + 1]}" if k + 1 < TOKENS_PER_FILE else "SIL", str(s))
            for col, v in zip(cols, values, strict=True):
                col.append(v)
            t += durs[k]
        feats[name] = x
    items = AbxItems(np.array(cols[0]), np.array(cols[1]), np.array(cols[2]),
                     *(np.array(c) for c in cols[3:]))
    write_inputs(root, feats, items)


def worker(method: str, root: Path, device: str) -> dict:
    """Time one method on the data under root (run in a subprocess)."""
    import torch

    from tests.abx_oracle import import_oracle, lwa_score, oracle_scores

    import_oracle()
    kw = dict(context="within", distance="angular", pooling="none", frame_period=FP,
              max_size_group=10, max_x_across=5, seed=0)
    feats = {p.stem: np.load(p) for p in sorted((root / "feats").glob("*.npy"))}
    scores, seconds = {}, {}
    for speaker in CONDITIONS:
        t0 = time.perf_counter()
        if method == "oracle":
            scores[speaker] = oracle_scores(root, speaker=speaker, **kw)[f"{speaker}-within"]
        else:
            scores[speaker] = lwa_score(root, feats, None, speaker=speaker, device=device,
                                        **kw)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        seconds[speaker] = time.perf_counter() - t0
    return {"method": method, "device": device if method == "lwa" else "cpu",
            "scores": scores, "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2703)
    parser.add_argument("--methods", default="lwa,oracle")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, root, device = args.worker
        print(json.dumps(worker(method, Path(root), device)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_data(root, args.files)
        n_tokens = sum(1 for _ in open(root / "items.item")) - 1
        print(f"{args.files} files, {n_tokens} phone tokens, {DIMS} dims", flush=True)
        results = []
        for method in args.methods.split(","):
            out = subprocess.run([sys.executable, __file__, "--worker", method, str(root),
                                  args.device], check=True, capture_output=True, text=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            res.update(files=args.files, tokens=n_tokens)
            results.append(res)
            print(json.dumps(res), flush=True)
        if len(results) == 2:
            a, b = results
            for c in CONDITIONS:
                print(f"{c}: |Δ| = {abs(a['scores'][c] - b['scores'][c]):.2e}, "
                      f"speed-up {b['seconds'][c] / a['seconds'][c]:.1f}x")
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark: `lwa extract` against a bare transformers loop (not a test).

Random-weight models of base (768 × 12, group-norm conv) or large (1024 × 24, layer-norm
conv) size run on the CPU over demo utterances, extracting every T layer of the
contextualized frame span. With ``--seconds S`` every utterance is cut or tiled to S seconds
(short 2 s, long 15 s). Variants, each in its own subprocess (its peak RSS is its own; the
model load is outside the timed part):

* ``bare``: ``model(wave, output_hidden_states=True)`` over preloaded waves, outputs dropped;
* ``bare-retain``: the same loop after `retain_freed_memory` (glibc keeps freed memory for
  the next forward pass), the like-for-like baseline of the ``lwa*`` variants;
* ``lwa``: what ``lwa extract`` runs: `retain_freed_memory`, then `extract_features` with its
  defaults (overlap where `overlap_pays`: on a GPU or
  with spare cores; inline on a CPU whose cores torch's threads take);
* ``lwa-overlap``: ``overlap=True`` (audio read ahead, rows written behind in two threads:
  pipeline/extract_io.py);
* ``lwa-inline``: ``overlap=False`` (everything in series);
* ``lwa-batch``: ``batch_seconds=B`` (certified models only; base models are refused and
  fall back to one at a time, which the table then shows);
* ``lwa-plain``: `extract_features` without `retain_freed_memory` (the library called from a
  process that did not opt in).

Every ``lwa*`` variant but ``lwa-plain`` retains freed memory, as the command does.

    .venv/bin/python benchmarks/extract.py [--model base|large] [--seconds 2] \
        [--utterances 12] [--repeat 2] [--variants bare,lwa,lwa-overlap,lwa-inline,lwa-batch]

Prints wall times and every ratio to the bare loop. On a shared machine, time A/B pairs
from outside, alternating the two child commands that ``--prepare DIR`` sets up, with a
whole-process timer (``hyperfine``, or ``/usr/bin/time -v`` in a loop) and quote medians:

    .venv/bin/python benchmarks/extract.py --prepare /tmp/b --model base --seconds 2
    .venv/bin/python benchmarks/extract.py --child lwa /tmp/b     # A
    .venv/bin/python benchmarks/extract.py --child bare /tmp/b    # B
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

MODELS = {"base": "wav2vec_base_random", "large": "wav2vec_large_random"}
VARIANTS = ("bare", "bare-retain", "lwa", "lwa-overlap", "lwa-inline", "lwa-batch",
            "lwa-plain")


def _setup(root: Path, utterances: int, model: str = "base",
           seconds: float | None = None, batch_seconds: float = 30.0) -> Path:
    import numpy as np
    import soundfile as sf

    from lwa_cli.data.audio import load_audio
    from lwa_cli.demo.corpus import write_demo_corpus
    from lwa_cli.pipeline.prepare import prepare_alignments
    from lwa_cli.pipeline.sample import sample_frames
    from lwa_cli.workspace import Workspace
    from lwa_cli.workspace.samples import load_sample

    corpus = write_demo_corpus(root / "corpus")
    ws = Workspace(root / f"ws{utterances}")
    prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
    smp = sample_frames(ws, "dev-clean", "1", utterances=utterances, seed=0)
    if seconds is not None:  # every utterance cut or tiled to `seconds`
        n = int(seconds * 16000)
        for path in load_sample(ws, "dev-clean", "frame", "1").audio_paths:
            wave = load_audio(path)
            sf.write(path, np.resize(wave, n), 16000)
    (ws.root / "bench.json").write_text(json.dumps(
        {"model": MODELS[model], "batch_seconds": batch_seconds,
         "utterances": len(smp.utt_ids)}))
    return ws.root


def _steady(done_at: list[float]) -> float:
    """Seconds per utterance after the first: the throughput once one-time costs (first
    forward pass, lazy imports, opening the file) are paid."""
    return (done_at[-1] - done_at[0]) / max(1, len(done_at) - 1)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_lwa(ws_root: str, overlap: bool | None = None, batch: bool = False) -> dict:
    from contextlib import contextmanager

    import psutil

    from lwa_cli.models.loading import load_model
    from lwa_cli.pipeline.extract import extract_features
    from lwa_cli.progress import Reporter
    from lwa_cli.workspace import Workspace

    process = psutil.Process()
    rss_after_each: list[float] = []
    done_at: list[float] = []  # when each utterance's forward pass was done

    class RssProbe(Reporter):
        """Records the resident memory after every utterance."""

        @contextmanager
        def task(self, description, total, unit=""):
            def advance(n=1, seconds=0.0):
                done_at.append(time.perf_counter())
                rss_after_each.append(process.memory_info().rss / 2**20)

            yield advance

    ws = Workspace(ws_root)
    cfg = json.loads((ws.root / "bench.json").read_text())
    model = cfg["model"]
    lm = load_model(model, None, device="cpu", seed=0)
    if batch:  # certify outside the timed part (stored in the workspace, reused after)
        from lwa_cli.data.audio import load_audio
        from lwa_cli.pipeline.extract_batch import CERTIFY_UTTERANCES, batch_plan
        from lwa_cli.workspace.samples import load_sample

        paths = load_sample(ws, "dev-clean", "frame", "1").audio_paths[:CERTIFY_UTTERANCES]
        batch_plan(ws, lm, cfg["batch_seconds"], lambda: [load_audio(p) for p in paths],
                   Reporter())
    t0 = time.perf_counter()
    summary = extract_features(ws, model=model, checkpoint=None, split="dev-clean", sample="1",
                               span="frame", loaded=lm, force=True, reporter=RssProbe(),
                               overlap=overlap,
                               batch_seconds=cfg["batch_seconds"] if batch else 0)
    # Batched utterances finish together: no per-utterance clock after the first.
    return {"wall": time.perf_counter() - t0, "steady": None if batch else _steady(done_at),
            "audio_seconds": summary.audio_seconds,
            "layers": len(summary.layers), "rss_mb": _peak_rss_mb(),
            "rss_first_mb": rss_after_each[0], "rss_last_mb": rss_after_each[-1],
            "rss_max_mb": max(rss_after_each)}


def run_bare(ws_root: str) -> dict:
    import torch

    from lwa_cli.data.audio import load_audio
    from lwa_cli.models.loading import load_model
    from lwa_cli.workspace import Workspace
    from lwa_cli.workspace.samples import load_sample

    smp = load_sample(Workspace(ws_root), "dev-clean", "frame", "1")
    waves = [torch.from_numpy(load_audio(p))[None] for p in smp.audio_paths]
    cfg = json.loads((Path(ws_root) / "bench.json").read_text())
    model = load_model(cfg["model"], None, device="cpu", seed=0).module
    done_at = []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for wave in waves:
            model(wave, output_hidden_states=True)
            done_at.append(time.perf_counter())
    return {"wall": time.perf_counter() - t0, "steady": _steady(done_at),
            "audio_seconds": sum(w.shape[1] for w in waves) / 16000, "rss_mb": _peak_rss_mb()}


def run_variant(kind: str, ws_root: str) -> dict:
    from lwa_cli.pipeline.extract_io import retain_freed_memory

    if kind not in ("bare", "lwa-plain"):  # as the `lwa extract` command does
        retain_freed_memory()
    if kind.startswith("bare"):
        return run_bare(ws_root)
    overlap = {"lwa-overlap": True, "lwa-inline": False}.get(kind)
    return run_lwa(ws_root, overlap=overlap, batch=kind == "lwa-batch")


def _walls(runs: list[dict]) -> str:
    return " ".join(f"{r['wall']:.2f}" for r in runs)


def _ratios(runs: list[dict], refs: list[dict], ref: str) -> str:
    """Best to best, the median of the ratios of the runs of the same round, and the same
    median after the first utterance."""
    best = min(r["wall"] for r in runs) / min(r["wall"] for r in refs)
    paired = sorted(a["wall"] / b["wall"] for a, b in zip(runs, refs, strict=True))
    steady = sorted(a["steady"] / b["steady"] for a, b in zip(runs, refs, strict=True)
                    if a["steady"] is not None)
    after = f"{steady[len(steady) // 2]:.3f}" if steady else "n/a, batched"
    return (f"ratio to {ref} {best:.3f} (median of rounds {paired[len(paired) // 2]:.3f}; "
            f"after the first utterance {after})")


def _child(kind: str, ws_root: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(ws_root)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="base")
    parser.add_argument("--seconds", type=float, default=None,
                        help="cut or tile every utterance to this length (default: as is)")
    parser.add_argument("--utterances", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--batch-seconds", type=float, default=30.0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--prepare", metavar="DIR", help="only set up a workspace in DIR")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, ws_root = args.child
        print(json.dumps(run_variant(kind, ws_root)))
        return
    if args.prepare:
        print(_setup(Path(args.prepare), args.utterances, args.model, args.seconds,
                     args.batch_seconds))
        return
    import threadpoolctl
    import torch

    variants = args.variants.split(",")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"BLAS {[i['internal_api'] for i in threadpoolctl.threadpool_info()]}")
    with tempfile.TemporaryDirectory() as tmp:
        ws = _setup(Path(tmp), args.utterances, args.model, args.seconds, args.batch_seconds)
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        for _ in range(args.repeat):  # interleaved, best of N: robust to machine noise
            for v in variants:
                runs[v].append(_child(v, ws))
    best = {v: min(r, key=lambda x: x["wall"]) for v, r in runs.items()}
    audio = next(iter(best.values()))["audio_seconds"]
    print(f"{MODELS[args.model]}: {audio:.1f} s of audio in {args.utterances} utterances"
          + (f" of {args.seconds:g} s" if args.seconds else ""))
    for v, r in best.items():
        print(f"{v:<11}: {r['wall']:7.2f} s  RTF {r['wall'] / audio:.3f}  peak RSS "
              f"{r['rss_mb']:6.0f} MB  (every round: {_walls(runs[v])} s)")
        for ref in ("bare", "bare-retain"):
            if ref in best and v != ref and not (ref == "bare-retain" and v == "bare"):
                print(f"{'':13}{_ratios(runs[v], runs[ref], ref)}")
    if "lwa-overlap" in best and "lwa-inline" in best:
        print("overlap on / off: "
              f"{best['lwa-overlap']['wall'] / best['lwa-inline']['wall']:.3f}")
    if "lwa" in best and "lwa-batch" in best:
        print(f"batched / single: {best['lwa-batch']['wall'] / best['lwa']['wall']:.3f}")
    if "lwa" in best:
        m = best["lwa"]
        print(f"lwa RSS after the first utterance {m['rss_first_mb']:.0f} MB, after the last "
              f"{m['rss_last_mb']:.0f} MB, max between {m['rss_max_mb']:.0f} MB")


if __name__ == "__main__":
    main()

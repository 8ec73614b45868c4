"""Benchmark: `lwa extract` against a bare transformers loop (not a test).

A wav2vec2-base-size model with random weights (768 hidden, 12 layers) runs on the CPU over
demo utterances (≥ 60 s of audio), extracting every T layer of the contextualized frame
span. The same utterances go through a bare loop of ``model(wave, output_hidden_states=True)``
(waves preloaded, outputs dropped). Each variant runs in its own subprocess so that its
peak RSS is its own; the model load is outside the timed part of both.

    .venv/bin/python benchmarks/extract.py [--utterances 20] [--repeat 2]

Prints wall times, the ratio lwa/bare (target ≤ 1.15) and peak RSS for two sample sizes
(memory must not grow with the number of utterances).
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

MODEL = "wav2vec_base_random"


def _setup(root: Path, utterances: int) -> Path:
    from lwa_cli.demo.corpus import write_demo_corpus
    from lwa_cli.pipeline.prepare import prepare_alignments
    from lwa_cli.pipeline.sample import sample_frames
    from lwa_cli.workspace import Workspace

    corpus = write_demo_corpus(root / "corpus")
    ws = Workspace(root / f"ws{utterances}")
    prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
    sample_frames(ws, "dev-clean", "1", utterances=utterances, seed=0)
    return ws.root


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_lwa(ws_root: str) -> dict:
    from contextlib import contextmanager

    import psutil

    from lwa_cli.models.loading import load_model
    from lwa_cli.pipeline.extract import extract_features
    from lwa_cli.progress import Reporter
    from lwa_cli.workspace import Workspace

    process = psutil.Process()
    rss_after_each: list[float] = []

    class RssProbe(Reporter):
        """Records the resident memory after every utterance."""

        @contextmanager
        def task(self, description, total, unit=""):
            yield lambda n=1, seconds=0.0: rss_after_each.append(
                process.memory_info().rss / 2**20)

    ws = Workspace(ws_root)
    lm = load_model(MODEL, None, device="cpu", seed=0)
    t0 = time.perf_counter()
    summary = extract_features(ws, model=MODEL, checkpoint=None, split="dev-clean", sample="1",
                               span="frame", loaded=lm, force=True, reporter=RssProbe())
    return {"wall": time.perf_counter() - t0, "audio_seconds": summary.audio_seconds,
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
    model = load_model(MODEL, None, device="cpu", seed=0).module
    t0 = time.perf_counter()
    with torch.inference_mode():
        for wave in waves:
            model(wave, output_hidden_states=True)
    return {"wall": time.perf_counter() - t0,
            "audio_seconds": sum(w.shape[1] for w in waves) / 16000, "rss_mb": _peak_rss_mb()}


def _child(kind: str, ws_root: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(ws_root)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, ws_root = args.child
        print(json.dumps((run_lwa if kind == "lwa" else run_bare)(ws_root)))
        return
    import threadpoolctl
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"BLAS {[i['internal_api'] for i in threadpoolctl.threadpool_info()]}")
    with tempfile.TemporaryDirectory() as tmp:
        small = _setup(Path(tmp), args.utterances // 2)
        big = _setup(Path(tmp), args.utterances)
        bare, lwa = [], []
        for _ in range(args.repeat):  # interleaved, best of N: robust to machine noise
            bare.append(_child("bare", big))
            lwa.append(_child("lwa", big))
        b = min(bare, key=lambda r: r["wall"])
        m = min(lwa, key=lambda r: r["wall"])
        half = _child("lwa", small)
    print(f"audio: {b['audio_seconds']:.1f} s in {args.utterances} utterances, "
          f"{m['layers']} layers")
    print(f"bare transformers loop : {b['wall']:7.2f} s  peak RSS {b['rss_mb']:7.0f} MB")
    print(f"lwa extract            : {m['wall']:7.2f} s  peak RSS {m['rss_mb']:7.0f} MB")
    print(f"ratio lwa / bare       : {m['wall'] / b['wall']:.3f}  (target <= 1.15)")
    print(f"lwa peak RSS with {args.utterances // 2} vs {args.utterances} utterances: "
          f"{half['rss_mb']:.0f} MB vs {m['rss_mb']:.0f} MB (peaks follow the longest utterance)")
    print(f"lwa RSS after the first utterance {m['rss_first_mb']:.0f} MB, after the last "
          f"{m['rss_last_mb']:.0f} MB, max between {m['rss_max_mb']:.0f} MB")


if __name__ == "__main__":
    main()

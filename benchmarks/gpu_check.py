"""GPU check (run by benchmarks/gpu_check.sh): extraction throughput and device numerics.

For the base and large random-weight models (``--tiny``: the demo models, for a quick CPU
run of the same code):

* the device's single-utterance layers against the CPU's (max |Δ| relative to max |x|);
* reduced-precision compute on the device (float16 and bfloat16; bfloat16 only on the CPU):
  the worst layer's RMS(Δ)/RMS from float32 and whether extraction would use it (shown, not
  judged: it is not a device-vs-CPU difference);
* the batching certificate on the device (passed/refused, max |Δ|, reason);
* extraction throughput one utterance at a time and batched (utterances/s, real-time
  factor), and the batched file against the single one (≤ the certificate tolerance);

then the CCA statistics pass (float64 cross-products) and faiss k-means on the device
against the CPU. Prints one table; exits 1 when a device result differs from the CPU's
beyond its tolerance (2 on a setup error).

    .venv/bin/python benchmarks/gpu_check.py --device cuda [--utterances 24]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REL_TOL_LAYERS = 2e-3  # device vs CPU frames, relative to max |x| (TF32/cuDNN differences)
REL_TOL_CCA = 1e-9  # float64 statistics
REL_TOL_KMEANS = 0.02  # k-means inertia (other implementation, same seed)
MODELS = {"base": "wav2vec_base_random", "large": "wav2vec_large_random"}
TINY = {"tiny-gn": "demo_wav2vec2", "tiny-ln": "demo_wavlm"}


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []
        self.failed = False

    def add(self, check: str, value: str, ok: bool | None = None, note: str = "") -> None:
        verdict = "" if ok is None else ("ok" if ok else "FAIL")
        self.failed |= ok is False
        self.rows.append((check, value, verdict, note))

    def print(self) -> None:
        widths = [max(len(r[i]) for r in [("check", "value", "", "")] + self.rows)
                  for i in range(3)]
        print(f"{'check':<{widths[0]}}  {'value':<{widths[1]}}  {'':<{widths[2]}}  note")
        for check, value, verdict, note in self.rows:
            print(f"{check:<{widths[0]}}  {value:<{widths[1]}}  {verdict:<{widths[2]}}  {note}")
        print("RESULT:", "FAIL" if self.failed else "PASS")


def _rel_delta(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(a).max()), 1e-12)
    return float(np.abs(a.astype(np.float64) - b).max()) / scale


def check_model(table: Table, label: str, model: str, ckpt: Path | None, device: str,
                ws_root: Path, batch_seconds: float) -> None:
    import h5py

    from lwa_cli.data.audio import load_audio
    from lwa_cli.models.capture import extract_layers
    from lwa_cli.models.loading import load_model
    from lwa_cli.models.precision import deviation, precision_record
    from lwa_cli.pipeline.extract import extract_features
    from lwa_cli.pipeline.extract_batch import CERTIFY_UTTERANCES, batch_plan
    from lwa_cli.progress import Reporter
    from lwa_cli.workspace import Workspace
    from lwa_cli.workspace.samples import load_sample

    ws = Workspace(ws_root)
    paths = load_sample(ws, "dev-clean", "frame", "1").audio_paths
    waves = [load_audio(p) for p in paths[:CERTIFY_UTTERANCES]]
    lm = load_model(model, ckpt, device=device, seed=0)
    layers = ["T0", f"T{lm.n_layers // 2}", f"T{lm.n_layers}"]
    if device != "cpu":
        cpu = load_model(model, ckpt, device="cpu", seed=0)
        worst = 0.0
        for wave in waves[:2]:
            a, b = extract_layers(cpu, wave, layers), extract_layers(lm, wave, layers)
            worst = max(worst, *(_rel_delta(a[n], b[n]) for n in layers))
        del cpu
        table.add(f"{label} {device} vs cpu frames", f"rel {worst:.1e}",
                  worst <= REL_TOL_LAYERS, f"≤ {REL_TOL_LAYERS:g} on {','.join(layers)}")
    for dtype in ("float16", "bfloat16") if device != "cpu" else ("bfloat16",):
        record = precision_record(dtype, *deviation(lm, waves, dtype))
        worst = record["worst_layer"]
        table.add(f"{label} {dtype} compute", f"rel {record['relative'][worst]:.1e} at {worst}",
                  None, f"RMS(Δ)/RMS vs float32; used: {record['used']} (limit "
                        f"{record['limit']:g})")
    t0 = time.perf_counter()
    max_samples, cert = batch_plan(ws, lm, batch_seconds, lambda: waves, Reporter())
    took = time.perf_counter() - t0
    if cert is not None:
        delta = max(cert["max_delta"].values()) if cert["max_delta"] else float("nan")
        table.add(f"{label} certificate", "passed" if cert["ok"] else "refused", None,
                  f"max |Δ| {delta:.1e} in {took:.1f} s"
                  + ("" if cert["ok"] else f"; {cert['reason'][:70]}"))
    files = {}
    for mode, seconds in (("single", 0.0), ("batched", batch_seconds)):
        if mode == "batched" and max_samples is None:
            continue
        summary = extract_features(ws, model=model, checkpoint=ckpt, split="dev-clean",
                                   sample="1", span="frame", layers=layers, loaded=lm,
                                   force=True, batch_seconds=seconds)
        dest = ws_root / f"{label}-{mode}.h5"
        shutil.copy(summary.path, dest)
        files[mode] = dest
        rate = summary.units_run / summary.wall_seconds
        rtf = summary.wall_seconds / summary.audio_seconds
        table.add(f"{label} extract {mode}", f"{rate:.1f} utt/s", None,
                  f"RTF {rtf:.4f}, {summary.units_run} utt, {summary.audio_seconds:.0f} s audio")
    if len(files) == 2:
        with h5py.File(files["single"]) as a, h5py.File(files["batched"]) as b:
            worst = max(float(np.abs(a[f"features/{n}"][...].astype(np.float64)
                                     - b[f"features/{n}"][...]).max()) for n in layers)
        table.add(f"{label} batched vs single file", f"{worst:.1e}", worst <= 1e-4,
                  "≤ 1e-4 (certificate tolerance)")


def check_cca(table: Table, device: str, rows: int, dims: int) -> None:
    from lwa_cli.analysis.cca.stats import accumulate_split_stats

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, dims)).astype(np.float32)
    y = (x[:, ::-1] * 0.5 + rng.standard_normal((rows, dims))).astype(np.float32)
    split = rng.integers(0, 3, rows)
    got = {}
    for dev in dict.fromkeys(("cpu", device)):
        t0 = time.perf_counter()
        got[dev] = accumulate_split_stats(x, y, split, 3, device=dev)[0]
        got[dev + "_s"] = time.perf_counter() - t0
    a, b = got["cpu"], got[device]
    worst = max(_rel_delta(a.cross, b.cross), _rel_delta(a.means, b.means))
    table.add(f"cca stats {device} vs cpu", f"rel {worst:.1e}", worst <= REL_TOL_CCA,
              f"{rows}×{2 * dims}: {got[device + '_s']:.2f} s on {device}, "
              f"{got['cpu_s']:.2f} s on cpu")


def check_kmeans(table: Table, device: str, rows: int) -> None:
    from lwa_cli.analysis.mi.kmeans import fit_assign

    try:
        import faiss  # noqa: F401
    except ImportError:
        table.add("faiss k-means", "not installed", None, "pip install faiss-cpu/faiss-gpu")
        return
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((50, 64)) * 4
    x = (centres[rng.integers(0, 50, rows)] + rng.standard_normal((rows, 64))).astype(
        np.float32)
    out = {}
    for dev in dict.fromkeys(("cpu", device)):
        t0 = time.perf_counter()
        out[dev] = fit_assign(x, None, n_clusters=50, kmeans="faiss", seed=0, device=dev)
        out[dev + "_s"] = time.perf_counter() - t0
    a, b = out["cpu"], out[device]
    rel = abs(a.inertia - b.inertia) / a.inertia
    table.add(f"faiss k-means {b.device} vs cpu", f"inertia rel {rel:.1e}",
              rel <= REL_TOL_KMEANS, f"{rows}×64, k=50: {out[device + '_s']:.2f} s on "
              f"{b.device}, {out['cpu_s']:.2f} s on cpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--utterances", type=int, default=24)
    parser.add_argument("--batch-seconds", type=float, default=120.0)
    parser.add_argument("--tiny", action="store_true",
                        help="the demo models and small sizes (a quick CPU run of the code)")
    args = parser.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"device {args.device!r} asked for, but torch {torch.__version__} sees no GPU",
              file=sys.stderr)
        return 2
    from lwa_cli.demo.corpus import write_demo_corpus
    from lwa_cli.demo.models import write_demo_models
    from lwa_cli.pipeline.prepare import prepare_alignments
    from lwa_cli.pipeline.sample import sample_frames
    from lwa_cli.workspace import Workspace

    table = Table()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"lwa GPU check on {name}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = write_demo_corpus(root / "c")
        ws = Workspace(root / "ws")
        prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
        sample_frames(ws, "dev-clean", "1", utterances=args.utterances, seed=0)
        if args.tiny:
            ckpts = write_demo_models(root / "m")
            models = [(label, m, ckpts[m]) for label, m in TINY.items()]
        else:
            models = [(label, m, None) for label, m in MODELS.items()]
        for label, model, ckpt in models:
            check_model(table, label, model, ckpt, args.device, ws.root, args.batch_seconds)
        check_cca(table, args.device, 5000 if args.tiny else 200_000, 16 if args.tiny else 768)
        check_kmeans(table, args.device, 5000 if args.tiny else 200_000)
    table.print()
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())

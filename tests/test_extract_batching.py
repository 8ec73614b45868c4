"""Exact batching (models/batching.py, pipeline/extract_batch.py): certified per model.

A layer-norm conv encoder (the large-style configuration) gives the same frames batched as
alone on every layer; a group-norm one (wav2vec 2.0 base style) is refused with the reason
and extracted one utterance at a time; the certificate lives in the workspace under the
weights' fingerprint, so other weights are certified again; a batched extraction killed in
the middle resumes to the same file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from lwa_cli.data.audio import load_audio
from lwa_cli.demo.corpus import write_demo_corpus
from lwa_cli.demo.models import build_model, tiny_spec, write_demo_models
from lwa_cli.errors import LwaUsageError
from lwa_cli.models.batching import buckets, certify, extract_batch, frame_counts
from lwa_cli.models.capture import extract_layers
from lwa_cli.models.loading import LoadedModel, load_model
from lwa_cli.pipeline import extract as extract_mod
from lwa_cli.pipeline import extract_batch as batch_mod
from lwa_cli.pipeline.extract import extract_features
from lwa_cli.pipeline.prepare import prepare_alignments
from lwa_cli.pipeline.sample import sample_frames
from lwa_cli.progress import Reporter
from lwa_cli.workspace import Workspace
from lwa_cli.workspace.certificates import certificate_path
from lwa_cli.workspace.features import partial_path
from lwa_cli.workspace.samples import load_sample


class Recorder(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("warning: " + message)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batching")
    corpus = write_demo_corpus(root / "c")
    write_demo_models(root / "m")
    write_demo_models(root / "m_other", seed=5)  # same architectures, other weights
    ws = Workspace(root / "ws")
    prepare_alignments(ws, corpus.corpus_root, corpus.alignments_root, ["dev-clean"])
    sample_frames(ws, "dev-clean", "1", utterances=6, seed=0)
    return root


@pytest.fixture()
def ws(base, tmp_path) -> Workspace:
    shutil.copytree(base / "ws", tmp_path / "ws")
    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="module")
def waves(base) -> list[np.ndarray]:
    smp = load_sample(Workspace(base / "ws"), "dev-clean", "frame", "1")
    out = [load_audio(p) for p in smp.audio_paths[:4]]
    assert len({len(w) for w in out}) == 4  # different lengths: real padding
    return out


def large_style_wav2vec2(seed: int = 0) -> LoadedModel:
    """A tiny wav2vec 2.0 with the large configuration: layer-norm conv, pre-LN, input
    standardisation."""
    spec = tiny_spec("tiny_w2v_large", "wav2vec2", n_layers=3, pre_ln=True, conv_norm="layer",
                     normalize=True)
    model = build_model(spec, seed)
    import torch

    return LoadedModel(name=spec.name, spec=spec, module=model, normalize_input=True,
                       fingerprint=f"{seed:064x}", checkpoint=f"random:{seed}", n_conv=7,
                       n_layers=3, device=torch.device("cpu"), source="random", seed=seed)


@pytest.mark.parametrize("which", ["wav2vec2_large_style", "demo_wavlm"])
def test_layer_norm_conv_models_give_the_same_frames_batched_on_every_layer(base, waves,
                                                                            which):
    lm = (large_style_wav2vec2() if which == "wav2vec2_large_style"
          else load_model("demo_wavlm", base / "m" / "demo_wavlm.pt", device="cpu"))
    names = ["all"]
    batched = extract_batch(lm, waves, names)
    for wave, got in zip(waves, batched, strict=True):
        alone = extract_layers(lm, wave, names)
        assert list(got) == list(alone) and len(alone) == lm.n_conv + lm.n_layers + 1
        for name in alone:
            assert got[name].shape == alone[name].shape, name
            assert got[name].shape[0] == frame_counts(lm, len(wave))[
                name if name.startswith("C") else "T"]
            np.testing.assert_allclose(got[name], alone[name], rtol=0, atol=1e-4,
                                       err_msg=name)
    cert = certify(lm, waves[:3])
    assert cert.ok and cert.reason == "" and set(cert.max_delta) == set(batched[0])
    assert max(cert.max_delta.values()) <= 1e-4


@pytest.mark.parametrize("equal_lengths", [False, True])
def test_a_group_norm_model_is_refused_with_the_reason(base, waves, equal_lengths):
    lm = load_model("demo_wav2vec2", base / "m" / "demo_wav2vec2", device="cpu")
    # Utterances of one length would need no padding: certify cuts them to other lengths.
    use = [waves[0][:32000]] * 3 if equal_lengths else waves[:3]
    cert = certify(lm, use)
    assert not cert.ok
    assert "group norm normalises over time" in cert.reason and "at C1" in cert.reason
    assert cert.max_delta["C1"] > 1e-2  # padding really changes the first conv block


def test_refused_model_runs_one_at_a_time_and_says_why(ws, base):
    ckpt = base / "m" / "demo_wav2vec2"
    rec = Recorder()
    got = extract_features(ws, model="demo_wav2vec2", checkpoint=ckpt, split="dev-clean",
                           sample="1", span="frame", layers=["T0-T3"], device="cpu",
                           batch_seconds=20, reporter=rec)
    assert any("batching off for demo_wav2vec2" in line and "group norm" in line
               for line in rec.lines), rec.lines
    ref_ws = Workspace(shutil.copytree(base / "ws", Path(ws.root).with_name("ref")))
    ref = extract_features(ref_ws, model="demo_wav2vec2", checkpoint=ckpt, split="dev-clean",
                           sample="1", span="frame", layers=["T0-T3"], device="cpu",
                           batch_seconds=0)
    with h5py.File(got.path) as a, h5py.File(ref.path) as b:
        for layer in ("T0", "T3"):  # one at a time: bit-identical
            np.testing.assert_array_equal(a[f"features/{layer}"][...],
                                          b[f"features/{layer}"][...])
        summary = json.loads(a.attrs["summary"])
        assert summary["batching"]["max_seconds"] == 0
        assert summary["batching"]["certificate"]["ok"] is False


def test_whisper_is_refused_before_any_padded_batch_and_extracts_alone(ws, base, waves):
    """Whisper pads each 30 s window itself: `--batch-seconds` (the GPU default) must fall
    back to one utterance at a time, not reach the padded-batch code."""
    ckpt = base / "m" / "demo_whisper"
    cert = certify(load_model("demo_whisper", ckpt, device="cpu"), waves[:3])
    assert not cert.ok and cert.reason == ("demo_whisper encodes its own 30 s windows, one "
                                           "utterance at a time")
    rec = Recorder()
    got = extract_features(ws, model="demo_whisper", checkpoint=ckpt, split="dev-clean",
                           sample="1", span="frame", device="cpu", batch_seconds=20,
                           reporter=rec)
    assert any("batching off for demo_whisper" in line for line in rec.lines), rec.lines
    with h5py.File(got.path) as f:
        assert json.loads(f.attrs["summary"])["batching"]["max_seconds"] == 0
        assert f["features/T2"].shape[0] > 0


def test_certificate_is_stored_reused_and_recomputed_for_other_weights(ws, base,
                                                                      monkeypatch):
    calls: list[str] = []
    real = batch_mod.certify

    def counting(lm, waves, tolerance):
        calls.append(lm.fingerprint)
        return real(lm, waves, tolerance)

    monkeypatch.setattr(batch_mod, "certify", counting)

    def run(models: str, force: bool = False):
        ckpt = base / models / "demo_wavlm.pt"
        return extract_features(ws, model="demo_wavlm", checkpoint=ckpt, split="dev-clean",
                                sample="1", span="frame", layers=["T1"], device="cpu",
                                batch_seconds=30, force=force)

    first = run("m")
    assert len(calls) == 1
    stored = certificate_path(ws, calls[0], "cpu")
    cert = json.loads(stored.read_text())
    assert cert["ok"] is True and cert["fingerprint"] == calls[0]
    assert max(cert["max_delta"].values()) <= 1e-4 and cert["tolerance"] == 1e-4
    with h5py.File(first.path) as f:
        assert json.loads(f.attrs["summary"])["batching"]["max_seconds"] == 30
    run("m", force=True)
    assert len(calls) == 1  # same weights: the stored certificate is reused
    run("m_other", force=True)
    assert len(calls) == 2 and calls[1] != calls[0]  # changed checkpoint: certified again
    assert certificate_path(ws, calls[1], "cpu").exists() and stored.exists()


def test_a_killed_batched_extraction_resumes_to_the_same_file(ws, base, monkeypatch):
    ckpt = base / "m" / "demo_wavlm.pt"
    kwargs = dict(model="demo_wavlm", checkpoint=ckpt, split="dev-clean", sample="1",
                  span="frame", layers=["C7", "T0-T2"], device="cpu")
    ref_ws = Workspace(shutil.copytree(base / "ws", Path(ws.root).with_name("ref")))
    ref = extract_features(ref_ws, batch_seconds=0, **kwargs)
    real = extract_mod.forward_window
    seen: list[int] = []

    def dying(lm, waves, names, max_samples):
        seen.append(len(waves))
        if len(seen) == 2:
            raise KeyboardInterrupt  # a kill during the second window
        return real(lm, waves, names, max_samples)

    monkeypatch.setattr(extract_mod, "forward_window", dying)
    with pytest.raises(KeyboardInterrupt):
        extract_features(ws, batch_seconds=3, **kwargs)
    target = ws.features_path("demo_wavlm", "dev-clean", "1", "frame")
    assert seen[0] >= 2  # the first window really was a batch
    with h5py.File(partial_path(target)) as f:
        assert f["units/index"].shape == (seen[0],)
    monkeypatch.setattr(extract_mod, "forward_window", real)
    summary = extract_features(ws, batch_seconds=3, **kwargs)
    assert summary.status == "resumed" and summary.units_run == summary.units - seen[0]
    with h5py.File(summary.path) as a, h5py.File(ref.path) as b:
        assert a["units/index"][...].tolist() == b["units/index"][...].tolist()
        np.testing.assert_array_equal(a["units/rows"][...], b["units/rows"][...])
        for layer in ("C7", "T0", "T2"):
            np.testing.assert_allclose(a[f"features/{layer}"][...],
                                       b[f"features/{layer}"][...], rtol=0, atol=1e-4)


def test_buckets_sort_by_length_and_bound_the_padded_size():
    lengths = [50, 10, 40, 12, 11, 100]
    got = buckets(lengths, max_samples=40)
    assert got == [[1, 3, 4], [2], [0], [5]]  # 3×12 ≤ 40; 40 alone; 100 alone (too long)
    assert sorted(i for b in got for i in b) == list(range(len(lengths)))
    for b in got:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 40
    with pytest.raises(ValueError, match="max_samples"):
        buckets(lengths, 0)


def test_bad_batch_seconds_is_a_usage_error(ws, base):
    with pytest.raises(LwaUsageError, match="batch_seconds"):
        extract_features(ws, model="demo_wavlm", checkpoint=base / "m" / "demo_wavlm.pt",
                         split="dev-clean", sample="1", span="frame", batch_seconds=-1.0)

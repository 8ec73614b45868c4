"""`lwa awd`, `lwa prepare-sts`, `lwa extract --span utt` and `lwa sts` through the CLI.

Most of the chain runs with a stand-in for the model's forward pass (band log-magnitudes of
20 ms frames, a different affine map per layer), so a word sample of the demo corpus
extracts in a second; the parquet chain runs the real demo model on short waves.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from lwa_cli.analysis.awd import awd_score, select_awd_tokens
from lwa_cli.analysis.sts import sts_score
from lwa_cli.data.audio import load_audio
from lwa_cli.demo.sts import SCORE_NOTE
from tests.cli_runner import lwa, lwa_json

M = "demo_wav2vec2"


def fake_layers(lm, wave, names):
    """Deterministic 'layers' of one waveform: 32 band log-magnitudes per 20 ms frame."""
    n = len(wave) // 320
    spec = np.log1p(np.abs(np.fft.rfft(wave[: n * 320].reshape(n, 320), axis=1))[:, :32])
    return {name: (spec * (i + 1) + i).astype(np.float32) for i, name in enumerate(names)}


@pytest.fixture(scope="module")
def ws(tmp_path_factory, demo_corpus, demo_models):
    root = tmp_path_factory.mktemp("awdsts")
    ws = root / "ws"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("lwa_cli.pipeline.extract.extract_layers", fake_layers)
        (root / "c").symlink_to(demo_corpus.root)
        (root / "m").symlink_to(demo_models[M].parent)
        lwa(ws, "prepare-alignments", "--corpus", str(root / "c" / "LibriSpeech"),
            "--alignments", str(root / "c" / "alignments"), "--split", "dev-clean")
        lwa(ws, "sample", "word", "--split", "dev-clean", "--words", "8")
        lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
            "dev-clean", "--span", "word", "--layer", "T1-T2")
    return ws, root


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr("lwa_cli.pipeline.extract.extract_layers", fake_layers)


def _word_features(ws: Path, layer: str):
    path = ws / "features" / M / "dev-clean" / "sample-1" / "word.h5"
    with h5py.File(path) as f:
        x = f[f"features/{layer}"][...]
        labels = f["rows/label"].asstr()[...]
        token = f["rows/token_index"][...]
    with h5py.File(ws / "samples" / "dev-clean" / "word-1.h5") as f:
        dur = (f["tokens/end"][...] - f["tokens/start"][...])[token]
    return x, np.asarray(labels, dtype=str), dur


def test_awd_scores_each_layer_and_reuses_them(ws):
    ws, _ = ws
    records = lwa_json(ws, "awd", "--model", M)
    assert [r["layer"] for r in records] == ["T1", "T2"]
    for r in records:
        x, labels, _ = _word_features(ws, r["layer"])
        want = awd_score(x, labels)
        assert r["score"] == r["ap"] == want.ap and r["prb"] == want.prb
        assert r["ap_ties_min"] <= r["ap"] <= r["ap_ties_max"]
        assert r["n"] == len(labels) and r["pairs"] == len(labels) * (len(labels) - 1) // 2
        assert r["same_pairs"] == want.n_same_pairs and r["types"] == 8
        assert r["token_filter"] == "all" and r["distance"] == "cosine" and not r["cached"]
        # Band spectra of the same word are closer than those of other words.
        assert r["ap"] > 2 * r["same_pairs"] / r["pairs"]
    stored = ws / "results" / "awd" / M / "dev-clean" / "sample-1" / "T1.json"
    assert json.loads(stored.read_text())["ap"] == records[0]["ap"]
    rerun = lwa_json(ws, "awd", "--model", M)
    assert all(r["cached"] for r in rerun)
    assert [r["ap"] for r in rerun] == [r["ap"] for r in records]
    table = lwa(ws, "awd", "--model", M, "--layer", "T2").stdout
    assert "AP ties max" in table and "reused" in table


def test_awd_filters_and_distance_are_their_own_results(ws):
    ws, _ = ws
    args = ["--min-chars", "3", "--min-seconds", "0.1", "--max-per-word", "4", "--seed", "2",
            "--distance", "euclidean", "--mvn", "--layer", "T2"]
    (rec,) = lwa_json(ws, "awd", "--model", M, *args)
    x, labels, dur = _word_features(ws, "T2")
    keep = select_awd_tokens(labels, dur, min_chars=3, min_seconds=0.1, max_per_word=4, seed=2)
    want = awd_score(x[keep], labels[keep], distance="euclidean", mvn=True)
    assert rec["ap"] == want.ap and rec["n"] == keep.size < len(labels)
    assert rec["filters"] == {"min_chars": 3, "min_seconds": 0.1, "max_per_word": 4, "seed": 2}
    tagged = ws / "results" / "awd" / M / "dev-clean" / "sample-1" / \
        "T2.euclidean-mvn-c3-s0.1-k4-seed2.json"
    assert tagged.is_file()
    (default,) = lwa_json(ws, "awd", "--model", M, "--layer", "T2")
    assert default["cached"] and default["ap"] != rec["ap"]  # the default is untouched
    out = lwa(ws, "awd", "--model", M, "--min-chars", "40", code=1).output
    assert "no same pair" in out and "chars>=40" in out
    lwa(ws, "awd", "--model", M, "--distance", "manhattan", code=2)


def _demo_sts(ws: Path, root: Path, name: str, pairs: int = 3) -> Path:
    out = lwa(ws, "demo", "sts", str(root / name), "--corpus",
              str(root / "c" / "LibriSpeech"), "--max-pairs-per-speaker", str(pairs))
    assert "computed" in out.output and "not human" in out.output
    return root / name / "sts.tsv"


def _utt_rows(ws: Path, name: str, layer: str, stem: str = "utt"):
    path = ws / "features" / M / "sts" / f"sample-{name}" / f"{stem}.h5"
    with h5py.File(path) as f:
        return f[f"features/{layer}"][...], f["rows/utt_index"][...]


def test_sts_from_a_tsv_manifest(ws, fake):
    ws, root = ws
    manifest = _demo_sts(ws, root, "demo-sts")
    info = lwa_json(ws, "prepare-sts", "--from", str(manifest), "--name", "demo",
                    "--score-note", SCORE_NOTE)
    assert info["status"] == "prepared" and info["rows"] == 9 and info["speakers"] == 3
    assert info["source_kind"] == "tsv" and info["scores"] == SCORE_NOTE
    again = lwa_json(ws, "prepare-sts", "--from", str(manifest), "--name", "demo",
                     "--score-note", SCORE_NOTE)
    assert again["status"] == "exists" and again["fingerprint"] == info["fingerprint"]
    ext = ["extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split", "sts",
           "--sample", "demo", "--span", "utt", "--layer", "T1"]
    lwa(ws, *ext)
    emb, utt_index = _utt_rows(ws, "demo", "T1")
    assert emb.shape[0] == info["utterances"] and sorted(utt_index) == list(range(len(emb)))
    with h5py.File(ws / "sts" / "demo" / "pairs.h5") as f:
        paths = f["utterances/audio_path"].asstr()[...]
        pid = f["pairs/pair_id"].asstr()[...]
        spk = f["pairs/speaker"].asstr()[...]
        ia, ib, sc = (f[f"pairs/{k}"][...] for k in ("utt_a", "utt_b", "score"))
    u = int(utt_index[0])
    frames = fake_layers(None, load_audio(paths[u]), ["T1"])["T1"]
    np.testing.assert_allclose(emb[0], frames.mean(axis=0), rtol=1e-6)
    (rec,) = lwa_json(ws, "sts", "--model", M, "--pairs", "demo")
    full = np.empty_like(emb, dtype=np.float64)
    full[utt_index] = emb
    want = sts_score(full, pid, spk, ia, ib, sc)
    assert rec["score"] == rec["rho"] == want.rho and rec["pairs"] == 9
    assert rec["mode"] == "mean" and rec["speakers_per_pair"] == {"1": 9}
    assert rec["scores"] == SCORE_NOTE and rec["inputs"]["pairs"]["kind"] == "sts"
    assert lwa_json(ws, "sts", "--model", M, "--pairs", "demo")[0]["cached"]
    (every,) = lwa_json(ws, "sts", "--model", M, "--pairs", "demo", "--no-mean")
    assert every["mode"] == "all" and not every["cached"]
    assert (ws / "results" / "sts" / M / "sts" / "sample-demo" / "T1.all.json").is_file()
    shown = lwa(ws, "sts", "--model", M, "--pairs", "demo", quiet=False)
    assert "word-overlap" in shown.output and "ρ" in shown.output
    out = lwa(ws, "sts", "--model", M, "--pairs", "demo", "--exclude-same-speaker",
              code=1).output
    assert "one speaker only" in out


def test_utt_extraction_shards_and_combines(ws, fake):
    ws, root = ws
    manifest = _demo_sts(ws, root, "shard-sts", pairs=2)
    lwa(ws, "prepare-sts", "--from", str(manifest), "--name", "shards")
    ext = ["extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split", "sts",
           "--sample", "shards", "--span", "utt", "--layer", "T0-T1"]
    for i in (1, 0):
        lwa(ws, *ext, "--shard", f"{i}/2")
    lwa(ws, "combine", "--model", M, "--split", "sts", "--sample", "shards", "--span", "utt")
    combined, idx = _utt_rows(ws, "shards", "T1")
    assert list(idx) == sorted(idx)  # combined in sample order
    (ws / "features" / M / "sts" / "sample-shards" / "utt.h5").rename(
        ws / "features" / M / "sts" / "sample-shards" / "sharded.h5")
    lwa(ws, *ext)
    whole, idx_whole = _utt_rows(ws, "shards", "T1")
    np.testing.assert_array_equal(idx, idx_whole)
    np.testing.assert_array_equal(combined, whole)


def test_sts_errors(ws, tmp_path):
    ws, root = ws
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(1600, np.float32) + 0.1, 16000)
    bad = tmp_path / "bad.tsv"
    bad.write_text("pair_id\tspeaker_id\taudio_a\taudio_b\tsimilarity\n"
                   "p1\tA\ta.wav\ta.wav\t4\np1\tB\ta.wav\ta.wav\t2\n")
    out = lwa(ws, "prepare-sts", "--from", str(bad), "--name", "bad", code=1).output
    assert "pair 'p1' has similarity 2 but 4" in out
    missing = tmp_path / "missing.tsv"
    missing.write_text("pair_id\tspeaker_id\taudio_a\taudio_b\tsimilarity\n"
                       "p1\tA\ta.wav\tgone.wav\t4\n")
    out = lwa(ws, "prepare-sts", "--from", str(missing), "--name", "bad", code=1).output
    assert "missing.tsv:2: audio file not found" in out and "gone.wav" in out
    assert not (ws / "sts" / "bad" / "pairs.h5").exists()
    out = lwa(ws, "sts", "--model", M, "--pairs", "dem", code=1).output
    assert "no STS set 'dem'" in out and "did you mean demo" in out and "prepare-sts" in out
    out = lwa(ws, "prepare-sts", "--from", str(tmp_path / "nope.tsv"), "--name", "x",
              code=1).output
    assert "does not exist" in out
    out = lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split",
              "dev-clean", "--span", "utt", code=1).output
    assert "prepare-sts" in out


def test_prepare_sts_replaces_a_set_only_with_force(ws, fake):
    ws, root = ws
    first = _demo_sts(ws, root, "v1", pairs=2)
    second = _demo_sts(ws, root, "v2", pairs=3)
    lwa(ws, "prepare-sts", "--from", str(first), "--name", "swap")
    lwa(ws, "extract", "--model", M, "--checkpoint", str(root / "m" / M), "--split", "sts",
        "--sample", "swap", "--span", "utt", "--layer", "T1")
    feats = ws / "features" / M / "sts" / "sample-swap" / "utt.h5"
    assert feats.is_file()
    out = lwa(ws, "prepare-sts", "--from", str(second), "--name", "swap", code=1).output
    assert "--force" in out
    info = lwa_json(ws, "prepare-sts", "--from", str(second), "--name", "swap", "--force")
    assert info["status"] == "replaced" and info["rows"] == 9 and not feats.exists()
    out = lwa(ws, "sts", "--model", M, "--pairs", "swap", code=1).output
    assert "no utt features" in out and "--span utt" in out


# ------------------------------------------------------------------ parquet, real model


def _wav_bytes(wave: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _write_parquet(path: Path, scores: list[float]) -> None:
    """Three pairs read by two speakers, in the juice500/spoken_sts schema."""
    audio = pa.struct([("bytes", pa.binary()), ("array", pa.list_(pa.float32())),
                       ("sampling_rate", pa.int64())])
    rng = np.random.default_rng(5)
    rows = []
    for k, (pair, spk) in enumerate([(p, s) for p in (1, 2, 3) for s in ("m1", "f2")]):
        wa = rng.uniform(-0.5, 0.5, 3200 + 320 * k).astype(np.float32)
        wb = rng.uniform(-0.5, 0.5, 2400).astype(np.float32)  # 8 kHz: 0.3 s
        rows.append({"task": "sts12", "subtask": "news", "pair_id": pair, "speaker_id": spk,
                     "similarity": scores[k],
                     "audio_a": {"bytes": _wav_bytes(wa, 16000), "array": None,
                                 "sampling_rate": 16000},
                     "audio_b": {"bytes": None, "array": wb.tolist(), "sampling_rate": 8000}})
    schema = pa.schema([("task", pa.string()), ("subtask", pa.string()),
                        ("pair_id", pa.int64()), ("speaker_id", pa.string()),
                        ("similarity", pa.float64()), ("audio_a", audio), ("audio_b", audio)])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=2)


def test_sts_from_parquet_with_the_real_model(ws, tmp_path):
    ws, root = ws
    from lwa_cli.models.capture import extract_layers
    from lwa_cli.models.loading import load_model

    _write_parquet(tmp_path / "hf" / "data" / "test-00000-of-00001.parquet",
                   [4.0, 4.0, 1.0, 1.0, 2.5, 2.5])
    info = lwa_json(ws, "prepare-sts", "--from", str(tmp_path / "hf"), "--name", "pq")
    assert info["source_kind"] == "parquet" and info["utterances"] == 12
    assert info["sentence_pairs"] == 3 and info["speakers_per_pair"] == {"2": 3}
    audio = sorted((ws / "sts" / "pq" / "audio").glob("*.wav"))
    assert len(audio) == 12 and all(sf.info(p).samplerate == 16000 for p in audio)
    assert sf.info(ws / "sts" / "pq" / "audio" / "sts12_news_1_f2_b.wav").frames == 4800
    ckpt = root / "m" / M
    lwa(ws, "extract", "--model", M, "--checkpoint", str(ckpt), "--split", "sts", "--sample",
        "pq", "--span", "utt", "--layer", "all")
    records = lwa_json(ws, "sts", "--model", M, "--pairs", "pq", "--exclude-same-speaker")
    assert [r["layer"] for r in records][:2] == ["C1", "C2"] and len(records) == 11
    assert all(-1 <= r["rho"] <= 1 and r["combinations"] == 6 for r in records)
    emb, idx = _utt_rows(ws, "pq", "C1")
    lm = load_model(M, ckpt, device="cpu")
    with h5py.File(ws / "sts" / "pq" / "pairs.h5") as f:
        first = f["utterances/audio_path"].asstr()[int(idx[0])]
    frames = extract_layers(lm, load_audio(first), ["C1", "T3"])
    np.testing.assert_allclose(emb[0], frames["C1"].mean(axis=0), rtol=1e-5, atol=1e-6)
    t3, _ = _utt_rows(ws, "pq", "T3")
    np.testing.assert_allclose(t3[0], frames["T3"].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert lwa_json(ws, "prepare-sts", "--from", str(tmp_path / "hf"), "--name",
                    "pq")["status"] == "exists"
    _write_parquet(tmp_path / "disagree" / "x.parquet", [4.0, 3.0, 1.0, 1.0, 2.5, 2.5])
    out = lwa(ws, "prepare-sts", "--from", str(tmp_path / "disagree"), "--name", "dis",
              code=1).output
    assert "pair 'sts12_news_1' has similarity 3 but 4" in out
    assert not (ws / "sts" / "dis" / "pairs.h5").exists()

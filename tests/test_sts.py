"""Spoken STS: scoring with known rho, parquet and TSV readers, the demo set."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from scipy.spatial.distance import cosine
from scipy.stats import rankdata, spearmanr

from lwa_cli.analysis.sts import sts_score
from lwa_cli.data.sts import read_sts, read_sts_manifest, read_sts_parquet
from lwa_cli.demo.corpus import bundled_corpus_path
from lwa_cli.demo.sts import build_demo_sts_pairs, jaccard_score, write_demo_sts_manifest
from lwa_cli.errors import LwaError, LwaUsageError

SPEAKERS = ["s1", "s2", "s3", "s4"]


def _designed(cos_values: np.ndarray, human: np.ndarray):
    """Every speaker reads a as e1 and b at the designed cosine: all 16 combinations equal."""
    emb, pids, spk, ia, ib, sc = [], [], [], [], [], []
    for p, (c, h) in enumerate(zip(cos_values, human, strict=True)):
        for s in SPEAKERS:
            ia.append(len(emb))
            emb.append([1.0, 0.0, 0.0])
            ib.append(len(emb))
            emb.append([c, np.sqrt(1 - c * c), 0.0])
            pids.append(f"p{p}")
            spk.append(s)
            sc.append(h)
    return np.array(emb), pids, spk, np.array(ia), np.array(ib), np.array(sc)


def test_known_rho_mean_and_all() -> None:
    c = np.linspace(0.1, 0.9, 8)
    human = np.array([1, 2, 3, 5, 4, 6, 8, 7], dtype=float)  # two adjacent swaps
    args = _designed(c, human)
    r = sts_score(*args)
    assert r.rho == pytest.approx(1 - 6 * 4 / (8 * 63), abs=1e-12)
    assert (r.n_pairs, r.n_values, r.n_combinations) == (8, 8, 128)
    assert r.speakers_per_pair == {4: 8} and r.mode == "mean"
    every = sts_score(*args, mean=False)
    expected = np.corrcoef(rankdata(np.repeat(c, 16)), rankdata(np.repeat(human, 16)))[0, 1]
    assert every.rho == pytest.approx(expected, abs=1e-12) and every.n_values == 128
    assert sts_score(*args[:5], -args[5]).rho == pytest.approx(-r.rho, abs=1e-12)


@pytest.mark.parametrize("exclude", [False, True])
@pytest.mark.parametrize("mean", [True, False])
def test_matches_brute_force(mean: bool, exclude: bool) -> None:
    rng = np.random.default_rng(4)
    n_pairs, rows = 9, []
    for p in range(n_pairs):
        for s in SPEAKERS[: 2 + p % 3]:  # 2, 3 or 4 speakers
            rows.append((f"pair{p}", s, p))
    human_of = rng.permutation(n_pairs) + rng.uniform(0, 0.5, n_pairs)
    emb = rng.standard_normal((2 * len(rows), 6))
    pids = [r[0] for r in rows]
    spk = [r[1] for r in rows]
    ia, ib = np.arange(0, 2 * len(rows), 2), np.arange(1, 2 * len(rows), 2)
    sc = np.array([human_of[r[2]] for r in rows])
    got = sts_score(emb, pids, spk, ia, ib, sc, mean=mean, exclude_same_speaker=exclude)
    vals, target = [], []
    for p in range(n_pairs):
        idx = [i for i, r in enumerate(rows) if r[2] == p]
        combo = [1 - cosine(emb[ia[i]], emb[ib[j]]) for i in idx for j in idx
                 if not (exclude and i == j)]
        if mean:
            vals.append(np.mean(combo))
            target.append(human_of[p])
        else:
            vals += combo
            target += [human_of[p]] * len(combo)
    assert got.rho == pytest.approx(spearmanr(vals, target).statistic, abs=1e-12)
    assert got.n_combinations == sum(k * (k - int(exclude)) for k in [2 + p % 3 for p in range(9)])
    assert got.speakers_per_pair == {2: 3, 3: 3, 4: 3}


def test_score_errors() -> None:
    emb, pids, spk, ia, ib, sc = _designed(np.linspace(0.1, 0.9, 4), np.arange(4.0))
    bad = sc.copy()
    bad[5] = 9.0  # second row of pair p1
    with pytest.raises(LwaError, match="'p1' has different human scores"):
        sts_score(emb, pids, spk, ia, ib, bad)
    with pytest.raises(LwaError, match="undefined"):
        sts_score(emb, pids, spk, ia, ib, np.ones_like(sc))
    with pytest.raises(LwaError, match="indexes past"):
        sts_score(emb[:-1], pids, spk, ia, ib, sc)
    with pytest.raises(LwaError, match="speaker twice"):
        sts_score(emb, pids, ["s1"] * len(spk), ia, ib, sc)
    one = [0, 4, 8, 12]  # one speaker per pair
    sub = (emb, [pids[i] for i in one], [spk[i] for i in one], ia[one], ib[one], sc[one])
    assert sts_score(*sub).n_combinations == 4
    with pytest.raises(LwaError, match="one speaker only"):
        sts_score(*sub, exclude_same_speaker=True)
    zero = emb.copy()
    zero[ib[3]] = 0.0
    with pytest.raises(LwaError, match="all-zero"):
        sts_score(zero, pids, spk, ia, ib, sc)


# ------------------------------------------------------------------------- readers


def _wav_bytes(wave: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


AUDIO = pa.struct([("bytes", pa.binary()), ("array", pa.list_(pa.float32())),
                   ("sampling_rate", pa.int64())])


def _parquet(path: Path, similarity: list[float] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    waves, rows = {}, []
    for k, (pair, spk) in enumerate([(7, "m1"), (7, "f2"), (9, "m1"), (9, "f2")]):
        wa = rng.uniform(-0.5, 0.5, 1600 + 160 * k).astype(np.float32)
        sr_b = 8000 if k == 1 else 16000
        wb = rng.uniform(-0.5, 0.5, sr_b // 5).astype(np.float32)
        waves[f"{pair}{spk}"] = (wa, wb)
        rows.append({
            "task": "sts", "subtask": "news", "pair_id": pair, "speaker_id": spk,
            "similarity": (similarity or [3.25, 3.25, 1.5, 1.5])[k],
            "audio_a": {"bytes": _wav_bytes(wa, 16000), "array": None, "sampling_rate": 16000},
            "audio_b": {"bytes": None, "array": wb.tolist(), "sampling_rate": sr_b},
        })
    schema = pa.schema([("task", pa.string()), ("subtask", pa.string()),
                        ("pair_id", pa.int64()), ("speaker_id", pa.string()),
                        ("similarity", pa.float64()), ("audio_a", AUDIO), ("audio_b", AUDIO)])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=3)
    return waves


def test_parquet_bytes_and_arrays(tmp_path: Path) -> None:
    waves = _parquet(tmp_path / "test-00000.parquet")
    data = read_sts(tmp_path)
    assert [p.pair_id for p in data.pairs] == ["sts_news_7"] * 2 + ["sts_news_9"] * 2
    assert [p.score for p in data.pairs] == [3.25, 3.25, 1.5, 1.5]
    assert data.pairs[1].utt_a == "sts_news_7_f2_a" and data.pairs[1].utt_b == "sts_news_7_f2_b"
    assert len(data.utterances) == 8
    utt = {u.utt_id: u for u in data.utterances}
    np.testing.assert_array_equal(utt["sts_news_9_m1_a"].waveform, waves["9m1"][0])
    np.testing.assert_array_equal(utt["sts_news_7_m1_b"].waveform, waves["7m1"][1])
    up = utt["sts_news_7_f2_b"].waveform  # 8 kHz array -> 16 kHz
    assert up.dtype == np.float32 and up.size == 2 * waves["7f2"][1].size
    pid, spk, ia, ib, sc = data.index_arrays()
    assert list(ia) == [0, 2, 4, 6] and list(ib) == [1, 3, 5, 7] and spk[:2] == ["m1", "f2"]
    on_disk = read_sts_parquet(tmp_path / "test-00000.parquet", audio_dir=tmp_path / "wav")
    first = on_disk.utterances[0]
    assert first.waveform is None and first.path == tmp_path / "wav" / "sts_news_7_m1_a.wav"
    wave, sr = sf.read(first.path, dtype="float32")
    assert sr == 16000
    np.testing.assert_array_equal(wave, waves["7m1"][0])


def test_parquet_errors(tmp_path: Path) -> None:
    _parquet(tmp_path / "a.parquet", similarity=[3.25, 3.0, 1.5, 1.5])
    with pytest.raises(LwaError, match=r"pair 'sts_news_7' has similarity 3 but 3.25"):
        read_sts_parquet(tmp_path / "a.parquet")
    pq.write_table(pa.table({"pair_id": [1]}), tmp_path / "b.parquet")
    with pytest.raises(LwaError, match="lacks the spoken STS column"):
        read_sts_parquet(tmp_path / "b.parquet")
    with pytest.raises(LwaError, match="not found"):
        read_sts_parquet([tmp_path / "missing.parquet"])


def _manifest(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "sts.tsv"
    path.write_text("\n".join(["pair_id\tspeaker_id\taudio_a\taudio_b\tsimilarity", *lines]))
    return path


def test_manifest(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    rng = np.random.default_rng(1)
    for name, sr in [("x", 16000), ("y", 22050), ("z", 16000)]:
        sf.write(tmp_path / "audio" / f"{name}.wav", rng.uniform(-0.3, 0.3, sr // 4), sr)
    path = _manifest(tmp_path, ["p1\tA\taudio/x.wav\taudio/y.wav\t4.0",
                                "p2\tA\taudio/x.wav\taudio/z.wav\t1.0"])
    data = read_sts_manifest(path)
    assert [u.utt_id for u in data.utterances] == ["p1_A_a", "p1_A_b", "p2_A_b"]
    assert data.pairs[1].utt_a == "p1_A_a" and data.utterances[0].waveform is None
    loaded = read_sts(path)
    assert loaded.utterances[1].waveform.size == 4000  # 22.05 kHz -> 16 kHz
    with pytest.raises(LwaError, match=r"sts.tsv:3: audio file not found: .*nope.wav"):
        read_sts_manifest(_manifest(tmp_path, ["p1\tA\taudio/x.wav\taudio/y.wav\t4",
                                               "p2\tA\taudio/nope.wav\taudio/z.wav\t1"]))
    with pytest.raises(LwaError, match=r"sts.tsv:2: similarity 'high' is not a number"):
        read_sts_manifest(_manifest(tmp_path, ["p1\tA\taudio/x.wav\taudio/y.wav\thigh"]))
    with pytest.raises(LwaError, match=r"pair 'p1' has similarity 2 but 4 at .*sts.tsv:2"):
        read_sts_manifest(_manifest(tmp_path, ["p1\tA\taudio/x.wav\taudio/y.wav\t4",
                                               "p1\tB\taudio/z.wav\taudio/y.wav\t2"]))
    with pytest.raises(LwaError, match="appears twice"):
        read_sts_manifest(_manifest(tmp_path, ["p1\tA\taudio/x.wav\taudio/y.wav\t4"] * 2))
    (tmp_path / "bad.tsv").write_text("pair_id\taudio_a\n")
    with pytest.raises(LwaError, match="bad.tsv:1: header lacks column"):
        read_sts_manifest(tmp_path / "bad.tsv")


# ------------------------------------------------------------------------- demo


def test_jaccard_and_pairs() -> None:
    assert jaccard_score("The cat sat", "the dog sat") == pytest.approx(5 * 2 / 4)
    utts = [("u1", "A", "a b c"), ("u2", "A", "a b d"), ("u3", "A", "x"), ("v1", "B", "q")]
    pairs = build_demo_sts_pairs(utts)
    assert [(p.utt_a, p.utt_b, p.score) for p in pairs] == [
        ("u1", "u2", 2.5), ("u1", "u3", 0.0), ("u2", "u3", 0.0)]
    assert pairs[0].pair_id == "u1+u2" and pairs[0].speaker == "A"
    capped = build_demo_sts_pairs(utts, max_pairs_per_speaker=2, seed=3)
    assert len(capped) == 2 and capped == build_demo_sts_pairs(utts, max_pairs_per_speaker=2,
                                                                seed=3)
    with pytest.raises(LwaUsageError):
        build_demo_sts_pairs(utts, max_pairs_per_speaker=0)


def test_demo_manifest_reads_back(tmp_path: Path) -> None:
    corpus = bundled_corpus_path() / "LibriSpeech"
    rows = write_demo_sts_manifest(corpus, tmp_path / "demo" / "sts.tsv", max_pairs_per_speaker=5)
    assert len(rows) == 15 and {p.speaker for p in rows} == {"101", "102", "103"}
    assert all(0 <= p.score <= 5 for p in rows)
    data = read_sts_manifest(tmp_path / "demo" / "sts.tsv")
    assert [(p.pair_id, p.score) for p in data.pairs] == [(p.pair_id, p.score) for p in rows]
    assert all(u.path.is_file() for u in data.utterances)
    emb = np.random.default_rng(0).standard_normal((len(data.utterances), 4))
    r = sts_score(emb, *data.index_arrays())
    assert r.speakers_per_pair == {1: 15} and r.n_combinations == 15 and -1 <= r.rho <= 1

"""Word similarity: golden reference scores, gensim parity, benchmark files, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

import lwa_cli.analysis.wordsim as wordsim
from lwa_cli.analysis.wordsim import (
    builtin_benchmark,
    evaluate_wordsim,
    read_benchmark,
    static_embeddings,
)
from lwa_cli.errors import LwaError, LwaUsageError


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> tuple[dict, list[str], np.ndarray]:
    spec = json.loads((golden_dir / "wordsim.json").read_text())
    with np.load(golden_dir / "wordsim_embeddings.npz") as data:
        words = [str(w) for w in data["words"]]
        embeddings = data["embeddings"]
    return spec, words, embeddings


def _tasks(spec: dict) -> dict[str, list[tuple[str, str, float]]]:
    return {name: [(a, b, float(s)) for a, b, s in pairs] for name, pairs in spec["tasks"].items()}


def test_golden_scores_every_layer(golden: tuple[dict, list[str], np.ndarray]) -> None:
    spec, words, embeddings = golden
    tasks = _tasks(spec)
    expected = spec["evaluate_wordsim_result"]
    assert embeddings.shape[0] == spec["n_layers"] == 9
    for layer in range(spec["n_layers"]):
        result = evaluate_wordsim(words, embeddings[layer], tasks)
        key = str(layer)
        for name, pairs in tasks.items():
            score = result.scores[name]
            assert score.rho == pytest.approx(expected[name][key], abs=1e-12, rel=0)
            assert score.n_pairs_kept == score.n_pairs_total == len(pairs)
        assert result.micro == pytest.approx(expected["micro average"][key], abs=1e-12, rel=0)
        assert result.macro == pytest.approx(expected["macro average"][key], abs=1e-12, rel=0)
        assert result.skipped == {}
    layer0 = evaluate_wordsim(words, embeddings[0], tasks)
    for name, rho in spec["layer0_get_similarity_score"].items():
        assert layer0.scores[name].rho == pytest.approx(rho, abs=1e-12, rel=0)


def test_spearman_matches_gensim_evaluate_word_pairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    vocab = [f"word{i}" for i in range(30)]
    vectors = rng.normal(size=(30, 12)).astype(np.float32)
    kv = KeyedVectors(12)
    kv.add_vectors(vocab, vectors)
    pairs_idx = rng.choice(30, size=(40, 2))
    lines = ["# a comment gensim skips too"]
    lines += [f"{vocab[i]}\t{vocab[j]}\t{rng.uniform(0, 10):.2f}" for i, j in pairs_idx]
    lines += ["word1\tunknownword\t5.0", "nothere\tword2\t3.0"]  # two out-of-vocabulary pairs
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n")

    _, spearman, oov_percent = kv.evaluate_word_pairs(str(path))
    result = evaluate_wordsim(vocab, vectors.astype(np.float64), {"t": read_benchmark(path)})
    score = result.scores["t"]
    assert score.rho == pytest.approx(float(spearman[0]), abs=1e-12)
    assert (score.n_pairs_kept, score.n_pairs_total) == (40, 42)
    assert 100.0 * (1 - score.n_pairs_kept / score.n_pairs_total) == pytest.approx(oov_percent)
    assert result.micro == result.macro == score.rho


def test_static_embeddings_are_per_word_means(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    labels = np.array(["cat", "dog", "cat", "a", "dog", "cat", "zebra"])
    features = rng.normal(size=(7, 4)).astype(np.float32)
    # A tiny block size makes the summation cross block boundaries.
    monkeypatch.setattr(wordsim, "_CHUNK_ROWS", 3)
    words, E = static_embeddings(features, labels)
    assert words == ["a", "cat", "dog", "zebra"]
    assert E.dtype == np.float64 and E.shape == (4, 4)
    for word, row in zip(words, E, strict=True):
        expected = features[labels == word].astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-15)


def test_static_embeddings_then_wordsim(tmp_path: Path) -> None:
    # Two instances per word; "car"/"auto" share a direction, "tree" is orthogonal.
    labels = ["car", "auto", "tree", "car", "auto", "tree", "bus"]
    features = np.array([[1, 0, 0], [1, 0.1, 0], [0, 0, 1], [3, 0, 0], [2, 0.3, 0], [0, 0, 2],
                         [1, 1, 0]], dtype=np.float32)
    words, E = static_embeddings(features, labels)
    pairs = [("car", "auto", 9.0), ("car", "tree", 1.0), ("bus", "car", 5.0), ("car", "ufo", 2.0)]
    result = evaluate_wordsim(words, E, {"mini": pairs})
    assert result.scores["mini"].rho == pytest.approx(1.0)
    assert (result.scores["mini"].n_pairs_kept, result.scores["mini"].n_pairs_total) == (3, 4)


def test_static_embeddings_bad_inputs() -> None:
    x = np.ones((3, 2))
    with pytest.raises(LwaError, match="3 feature rows but labels of shape"):
        static_embeddings(x, ["a", "b"])
    with pytest.raises(LwaError, match="2-D"):
        static_embeddings(np.ones(3), ["a", "b", "c"])
    with pytest.raises(LwaError, match="no word instances"):
        static_embeddings(np.ones((0, 2)), np.array([], dtype=str))
    bad = x.copy()
    bad[1, 0] = np.nan
    with pytest.raises(LwaError, match="NaN or infinite features for word"):
        static_embeddings(bad, ["a", "b", "c"])


def test_read_benchmark_formats(tmp_path: Path) -> None:
    csv = tmp_path / "b.csv"
    csv.write_text("Word 1,Word 2,Human (mean)\nTiger, Cat ,7.35\nbook,paper,7.46\n\n")
    tsv = tmp_path / "b.tsv"
    tsv.write_text("# comment\n# Word 1\tWord 2\tscore\nTiger\tCat\t7.35\nbook\tpaper\t7.46\n")
    txt = tmp_path / "b.txt"
    txt.write_text("word1 word2 score\n  Tiger   Cat 7.35\nbook paper 7.46e0\n")
    expected = [("tiger", "cat", 7.35), ("book", "paper", 7.46)]
    for path in (csv, tsv, txt):
        assert read_benchmark(path) == expected
    assert read_benchmark(csv, lowercase=False)[0] == ("Tiger", "Cat", 7.35)


def test_read_benchmark_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("# c\nw1\tw2\tscore\na\tb\t1.0\n\nc\td\tlots\n")
    with pytest.raises(LwaError, match=rf"{path}:5: expected 'word1 word2 score'"):
        read_benchmark(path)
    path.write_text("a\tb\t1.0\nc\td\n")
    with pytest.raises(LwaError, match=rf"{path}:2:"):
        read_benchmark(path)
    path.write_text("a\tb\t1.0\nc\td\tnan\n")
    with pytest.raises(LwaError, match=rf"{path}:2:"):
        read_benchmark(path)
    path.write_text("# only comments\nword1 word2 score\n")
    with pytest.raises(LwaError, match="holds no word pairs"):
        read_benchmark(path)
    with pytest.raises(LwaError, match="does not exist"):
        read_benchmark(tmp_path / "missing.tsv")
    path.write_bytes(b"a\tb\t1.0\n\xff\xfe\t1\t2\n")
    with pytest.raises(LwaError, match="UTF-8"):
        read_benchmark(path)


def test_builtin_benchmarks_load() -> None:
    ws = builtin_benchmark("wordsim353")
    sl = builtin_benchmark("simlex999")
    assert len(ws) == 353 and len(sl) == 999
    assert ws[0] == ("love", "sex", 6.77)
    assert sl[0] == ("old", "new", 1.58)
    assert ("jerusalem", "israel", 8.46) in ws  # lower-cased from "Jerusalem  Israel"
    assert all(w1 == w1.lower() and w2 == w2.lower() for w1, w2, _ in ws + sl)
    assert builtin_benchmark("WordSim-353") == ws
    with pytest.raises(LwaUsageError, match="unknown word-similarity benchmark 'men'"):
        builtin_benchmark("men")


def test_uncovered_benchmark_is_skipped_and_reported() -> None:
    words = ["a", "b", "c", "d"]
    E = np.array([[1.0, 0], [1, 0.2], [0, 1], [1, 1]])
    covered = [("a", "b", 8.0), ("a", "c", 1.0), ("b", "d", 5.0), ("a", "x", 3.0)]
    other = [("a", "d", 2.0), ("b", "c", 4.0)]
    none = [("x", "y", 1.0), ("a", "z", 2.0)]
    result = evaluate_wordsim(words, E, {"cov": covered, "other": other, "none": none})
    assert set(result.scores) == {"cov", "other"}
    assert result.skipped == {
        "none": "none of its pairs has both words embedded (0 of 2 pairs kept)"
    }
    rho_cov, rho_other = result.scores["cov"].rho, result.scores["other"].rho
    assert rho_cov == pytest.approx(1.0) and rho_other == pytest.approx(-1.0)
    assert result.micro == pytest.approx((3 * rho_cov + 2 * rho_other) / 5, abs=1e-15)
    assert result.macro == pytest.approx((rho_cov + rho_other) / 2, abs=1e-15)
    with pytest.raises(LwaError, match="no benchmark has a defined Spearman rho .none: none of"):
        evaluate_wordsim(words, E, {"none": none})


def test_benchmarks_with_undefined_rho_are_skipped() -> None:
    words = ["a", "b", "c"]
    E = np.array([[1.0, 0], [1, 1], [0, 1]])
    pairs = [("a", "b", 1.0), ("b", "c", 2.0), ("a", "c", 0.5)]
    tasks = {
        "good": pairs,
        "one": [("a", "b", 3.0), ("a", "q", 1.0)],
        "flat": [(a, b, 1.0) for a, b, _ in pairs],
    }
    result = evaluate_wordsim(words, E, tasks)
    assert list(result.scores) == ["good"]
    # Similarities (0.707, 0.707, 0) tie: average ranks (2.5, 2.5, 1) vs (2, 3, 1).
    assert result.scores["good"].rho == pytest.approx(1.5 / np.sqrt(3), abs=1e-15)
    assert result.skipped == {
        "one": "only 1 pair has both words embedded (rho needs 2) (1 of 2 pairs kept)",
        "flat": "all 3 kept pairs have the same human score (3 of 3 pairs kept)",
    }
    assert result.micro == result.macro == result.scores["good"].rho
    with pytest.raises(LwaError, match="same cosine similarity .degenerate"):
        evaluate_wordsim(words, np.ones((3, 2)), {"t": pairs})


def test_evaluate_wordsim_bad_inputs() -> None:
    words = ["a", "b", "c"]
    E = np.array([[1.0, 0], [1, 1], [0, 1]])
    pairs = [("a", "b", 1.0), ("b", "c", 2.0), ("a", "c", 0.5)]
    with pytest.raises(LwaError, match="3 words but an embedding matrix of shape"):
        evaluate_wordsim(words, E[:2], {"t": pairs})
    with pytest.raises(LwaError, match="duplicates"):
        evaluate_wordsim(["a", "a", "c"], E, {"t": pairs})
    with pytest.raises(LwaError, match="NaN"):
        evaluate_wordsim(words, np.array([[np.nan, 0], [1, 1], [0, 1]]), {"t": pairs})
    with pytest.raises(LwaError, match="embedding of 'a' is all zeros"):
        evaluate_wordsim(words, np.array([[0.0, 0], [1, 1], [0, 1]]), {"t": pairs})
    with pytest.raises(LwaError, match="no word-similarity benchmark"):
        evaluate_wordsim(words, E, {})

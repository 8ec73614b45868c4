"""Linguistic-attribute CCA (cca semantic|syntactic): oracle parsing, token filter, instance cap
and the cross-validated PWCCA against golden/README.md §10 (linguistic.npz / linguistic.json).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.analysis.cca import CCAFit, cross_validated_pwcca, fit_cca, pwcca_score
from lwa_cli.analysis.cca import projected_correlations as rho_on
from lwa_cli.analysis.linguistic import attribute_targets, cap_instances
from lwa_cli.analysis.oracles import Oracle, format_oracle, parse_oracle, read_oracle
from lwa_cli.demo.corpus import bundled_corpus_path
from lwa_cli.errors import LwaError, LwaUsageError

ORACLES = Path(__file__).resolve().parents[1] / "lwa_cli" / "demo" / "oracles"
# README §10 tolerances. Main case (singular attribute view): evaluation path 3e-2 off numpy
# 1.23.5, refits and final score 5e-2. Companion: evaluation path 1e-12, lwa-sign candidates
# 1e-9, final score 1e-8.
MAIN_EVAL_TOL, MAIN_REFIT_TOL = 3e-2, 5e-2
FULL_EVAL_TOL, FULL_CAND_TOL, FULL_FINAL_TOL = 1e-12, 1e-9, 1e-8


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> tuple[dict, dict]:
    return (dict(np.load(golden_dir / "linguistic.npz")),
            json.loads((golden_dir / "linguistic.json").read_text()))


@pytest.fixture(scope="module")
def oracle(golden: tuple[dict, dict], tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    path = tmp_path_factory.mktemp("oracle") / "semcor_synthetic.en"
    path.write_text(golden[1]["oracle"]["text"], encoding="utf-8", newline="\n")
    return read_oracle(path)


# Oracle parsing


def test_oracle_parse_matches_the_reference_exactly(golden: tuple[dict, dict],
                                                    oracle: Oracle) -> None:
    arrays, record = golden
    assert oracle.words == arrays["oracle_words"].tolist()
    assert oracle.tags == arrays["oracle_columns"].tolist() == record["oracle_columns"]
    assert oracle.matrix.dtype == np.float64
    np.testing.assert_array_equal(oracle.matrix, arrays["oracle_matrix"])


def test_gzipped_oracle_reads_the_same(golden: tuple[dict, dict], oracle: Oracle,
                                       tmp_path: Path) -> None:
    path = tmp_path / "oracle.en.gz"
    path.write_bytes(gzip.compress(golden[1]["oracle"]["text"].encode()))
    again = read_oracle(path)
    assert again.words == oracle.words and again.tags == oracle.tags
    np.testing.assert_array_equal(again.matrix, oracle.matrix)


def test_format_round_trips_exactly() -> None:
    rows = [{"ptb.nn": 1 / 3, "ptb.vb": 2 / 3}, {"ptb.vb": 5e-05, "ptb.dt": 0.99995}]
    text = format_oracle(["b", "a"], rows)
    assert text == 'b\t{"ptb.nn": 0.3333333333333333, "ptb.vb": 0.6666666666666666}\n' \
                   'a\t{"ptb.vb": 5e-05, "ptb.dt": 0.99995}\n'
    parsed = parse_oracle(text.splitlines(keepends=True))
    assert parsed.words == ["b", "a"] and parsed.tags == ["ptb.nn", "ptb.vb", "ptb.dt"]
    np.testing.assert_array_equal(parsed.matrix, [[1 / 3, 2 / 3, 0], [0, 5e-05, 0.99995]])


def test_crlf_and_surrounding_spaces_are_tolerated() -> None:
    parsed = parse_oracle(['x \t {"t": 1.0} \r\n', 'y\t{"t": 0.5, "u": 0.5}\r\n'])
    assert parsed.words == ["x", "y"] and parsed.tags == ["t", "u"]


GOOD = 'ok\t{"a": 1.0}\n'
BAD_LINES = {
    "no tab": ('word {"a": 1.0}\n', "one tab"),
    "two tabs": ('word\t{"a": 1.0}\textra\n', "one tab"),
    "blank line": ("\n", "one tab"),
    "empty word": ('\t{"a": 1.0}\n', "word before the tab is empty"),
    "bad json": ('word\t{"a": 1.0\n', "not valid JSON"),
    "not an object": ("word\t[1.0]\n", "JSON object"),
    "duplicate tag": ('word\t{"a": 0.5, "a": 0.5}\n', "appears twice"),
    "no tags": ("word\t{}\n", "no tags"),
    "string value": ('word\t{"a": "1.0"}\n', "not a number"),
    "bool value": ('word\t{"a": true}\n', "not a number"),
    "nan": ('word\t{"a": NaN}\n', "finite"),
    "infinity": ('word\t{"a": Infinity}\n', "finite"),
    "negative": ('word\t{"a": -0.25, "b": 1.25}\n', "≥ 0"),
    "duplicate word": ('ok\t{"b": 1.0}\n', "already given on line 1"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_oracle_line_names_file_and_line(tmp_path: Path, case: str) -> None:
    line, message = BAD_LINES[case]
    path = tmp_path / "bad.oracle"
    path.write_text(GOOD + line, encoding="utf-8")
    with pytest.raises(LwaError, match=re.escape(f"{path}:2: ") + ".*" + re.escape(message)):
        read_oracle(path)


def test_missing_and_empty_oracle_files(tmp_path: Path) -> None:
    with pytest.raises(LwaError, match="does not exist"):
        read_oracle(tmp_path / "nope")
    (tmp_path / "empty").write_text("")
    with pytest.raises(LwaError, match="no lines"):
        read_oracle(tmp_path / "empty")
    (tmp_path / "latin1").write_bytes(b"caf\xe9\t{\"a\": 1.0}\n")
    with pytest.raises(LwaError, match="not UTF-8"):
        read_oracle(tmp_path / "latin1")


# Token filter and views


def test_filter_drops_and_counts_tokens_without_attributes(golden: tuple[dict, dict],
                                                           oracle: Oracle) -> None:
    arrays, record = golden
    targets = attribute_targets(arrays["all_labels"], oracle)
    np.testing.assert_array_equal(targets.indices, arrays["valid_indices"])
    assert targets.dropped == record["filter"]["n_tokens_before"] - record["filter"][
        "n_tokens_after"] == 11
    assert targets.dropped_words == record["filter"]["dropped_words"]
    # Views exactly as the reference built them (README §10 tolerance 1: exact).
    np.testing.assert_array_equal(arrays["all_rep"][targets.indices].T, arrays["view1"])
    np.testing.assert_array_equal(targets.rows, arrays["view2"].astype(np.float64).T)
    np.testing.assert_array_equal(arrays["all_labels"][targets.indices], arrays["labels"])


def test_filter_refuses_a_sample_without_any_attribute_word(oracle: Oracle) -> None:
    with pytest.raises(LwaError, match="none of the 2 tokens"):
        attribute_targets(["zzz", "yyy"], oracle)


def test_instance_cap_keeps_min_count_k_per_word_seeded(golden: tuple[dict, dict]) -> None:
    arrays, record = golden
    labels = arrays["all_labels"][arrays["valid_indices"]]  # the reference caps after the filter
    kept = cap_instances(labels, 20, seed=0)
    # The reference's capped list (Python random) has the same size: Σ min(count, 20).
    dropped = record["filter"]["dropped_words"]
    assert kept.size == arrays["capped_indices_cap20_seed0"].size == sum(
        min(c, 20) for w, c in record["token_counts"].items() if w not in dropped)
    assert np.all(np.diff(kept) > 0) and kept.dtype == np.int64
    words, counts = np.unique(labels[kept], return_counts=True)
    full = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    assert {w: int(c) for w, c in zip(words, counts, strict=True)} == {
        w: min(int(c), 20) for w, c in full.items()}
    np.testing.assert_array_equal(cap_instances(labels, 20, seed=0), kept)
    assert not np.array_equal(cap_instances(labels, 20, seed=1), kept)
    np.testing.assert_array_equal(cap_instances(labels, 45, seed=3), np.arange(labels.size))
    with pytest.raises(LwaUsageError, match="instance cap"):
        cap_instances(labels, 0, seed=0)


def test_instance_cap_draws_uniformly_within_a_word() -> None:
    labels = np.array(["a"] * 10 + ["b"] * 2)
    hits = np.zeros(10)
    for seed in range(2000):
        kept = cap_instances(labels, 3, seed)
        assert set(kept[kept >= 10].tolist()) == {10, 11}
        hits[kept[kept < 10]] += 1
    # Each of the 10 tokens is kept with probability 3/10: 600 ± 4.3σ (σ ≈ 20.5).
    assert np.all(np.abs(hits - 600) < 90)


# Cross-validated PWCCA under the golden protocol


def _cv(golden: tuple[dict, dict], companion: bool):
    arrays, record = golden
    rec = record["fullrank_companion"] if companion else record
    x = arrays["view1"].astype(np.float64).T
    y = arrays["view2"].astype(np.float64).T
    if companion:
        y = np.delete(y, rec["dropped_view2_row"], axis=1)
    splits = [arrays[f"split{i}"] for i in range(10)]
    trials = rec["trials_in_training_order"]
    result = cross_validated_pwcca(
        x, y, splits=splits, trials=[(t["dev_split"], t["test_split"]) for t in trials],
        eps_candidates=[[tuple(p) for p in t["epsilon_pairs_shuffled_order"]] for t in trials])
    return x, y, splits, rec, result


def _stored(arrays: dict, prefix: str) -> CCAFit:
    return CCAFit(arrays[prefix + "proj_mat_x"], arrays[prefix + "proj_mat_y"],
                  arrays[prefix + "x_idxs"], arrays[prefix + "y_idxs"])


@pytest.mark.parametrize("companion", [False, True], ids=["main", "fullrank"])
def test_evaluation_path_with_stored_projections(golden: tuple[dict, dict],
                                                 companion: bool) -> None:
    arrays, record = golden
    rec = record["fullrank_companion"] if companion else record
    x = arrays["view1"].astype(np.float64).T
    y = arrays["view2"].astype(np.float64).T
    if companion:
        y = np.delete(y, rec["dropped_view2_row"], axis=1)
    splits = [arrays[f"split{i}"] for i in range(10)]
    tol = FULL_EVAL_TOL if companion else MAIN_EVAL_TOL
    prefix = "fullrank_" if companion else ""
    for t, trial in enumerate(rec["trials_in_training_order"]):
        for c, cand in enumerate(trial["candidates_in_training_order"]):
            fit = _stored(arrays, f"{prefix}trial{t}_cand{c}_")
            assert (fit.kx, fit.ky) == (cand["x_dims_kept"], cand["y_dims_kept"])
            for split, key in ((trial["dev_split"], "dev_score"),
                               (trial["test_split"], "test_score_if_chosen")):
                idx = splits[split]
                assert pwcca_score(fit, x[idx], y[idx]) == pytest.approx(cand[key], abs=tol,
                                                                         rel=0)


def test_fullrank_companion_matches_lwa_signs_tightly(golden: tuple[dict, dict]) -> None:
    _, _, _, rec, result = _cv(golden, companion=True)
    want = rec["lwa_sign_convention"]
    assert result.score == pytest.approx(want["final_score"], abs=FULL_FINAL_TOL, rel=0)
    assert [(t.dev_split, t.test_split) for t in result.trials] == [
        (t["dev_split"], t["test_split"]) for t in want["trials"]]
    for trial, expect in zip(result.trials, want["trials"], strict=True):
        assert trial.n_train == 801
        for got, cand in zip(trial.candidates, expect["candidates"], strict=True):
            assert (got.eps_x, got.eps_y) == (cand["eps_x"], cand["eps_y"])
            assert (got.x_dims_kept, got.y_dims_kept) == (20, 10)
            assert got.dev_score == pytest.approx(cand["dev_score"], abs=FULL_CAND_TOL, rel=0)
            assert got.test_score == pytest.approx(cand["test_score"], abs=FULL_CAND_TOL, rel=0)
    # README: the companion's candidates of one trial differ by ≤ 2.6e-9 in test score, so
    # the ε choice may differ; the trial score may not move by more than that.
    for trial, expect in zip(result.trials, want["trials"], strict=True):
        assert trial.test_score == pytest.approx(expect["test_score"], abs=1e-8, rel=0)


def test_main_case_within_the_reference_noise_band(golden: tuple[dict, dict]) -> None:
    _, _, _, rec, result = _cv(golden, companion=False)
    want = rec["lwa_sign_convention"]
    assert result.score == pytest.approx(want["final_score"], abs=MAIN_REFIT_TOL, rel=0)
    assert result.score == pytest.approx(rec["final_score"], abs=MAIN_REFIT_TOL, rel=0)
    for trial, expect in zip(result.trials, want["trials"], strict=True):
        assert (trial.dev_split, trial.test_split) == (expect["dev_split"],
                                                       expect["test_split"])
        for got, cand in zip(trial.candidates, expect["candidates"], strict=True):
            # y keeps 11 of 13 columns: the two tags of token-less words are pruned.
            assert (got.x_dims_kept, got.y_dims_kept) == (20, 11)
            assert got.dev_score == pytest.approx(cand["dev_score"], abs=MAIN_REFIT_TOL, rel=0)
            assert got.test_score == pytest.approx(cand["test_score"], abs=MAIN_REFIT_TOL,
                                                   rel=0)


def test_main_case_defined_directions_match_and_the_null_one_is_null(
        golden: tuple[dict, dict]) -> None:
    """The first 10 canonical pairs are well defined and reproduce tightly; the 11th belongs to
    the exact null direction (rows sum to 1) and is rounding noise in the reference too."""
    arrays, record = golden
    x = arrays["view1"].astype(np.float64).T
    y = arrays["view2"].astype(np.float64).T
    splits = [arrays[f"split{i}"] for i in range(10)]
    absent = record["absent_column_indices"]
    for t, trial in enumerate(record["trials_in_training_order"]):
        dev, test = trial["dev_split"], trial["test_split"]
        train = np.concatenate([splits[s] for s in range(10) if s not in (dev, test)])
        for c, cand in enumerate(trial["candidates_in_training_order"]):
            ref = _stored(arrays, f"trial{t}_cand{c}_")
            mine = fit_cca(x[train], y[train], cand["eps_x"], cand["eps_y"])
            np.testing.assert_array_equal(mine.y_keep, ref.y_keep)
            assert not mine.y_keep[absent].any()
            assert mine.canonical_corrs[10] < 1e-6 < mine.canonical_corrs[9]
            for rows, tol in ((train, 1e-7), (splits[dev], 1e-3)):
                got = np.abs(rho_on(mine, x[rows], y[rows]))[:10]
                want = np.abs(rho_on(ref, x[rows], y[rows]))[:10]
                np.testing.assert_allclose(got, want, atol=tol, rtol=0)


# Demo oracles (lwa_cli/demo/oracles, made by scripts/make_demo_oracles.py)


def _demo_vocabulary() -> set[str]:
    words: set[str] = set()
    for path in (bundled_corpus_path() / "LibriSpeech").glob("*/*/*/*.trans.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words.update(line.lower().split()[1:])
    return words


@pytest.mark.parametrize("name", ["syntactic.txt", "semantic.txt"])
def test_demo_oracles_are_canonical_distributions_over_demo_words(name: str) -> None:
    path = ORACLES / name
    parsed = read_oracle(path)
    vocabulary = _demo_vocabulary()
    assert set(parsed.words) <= vocabulary
    assert parsed.words == sorted(parsed.words)
    np.testing.assert_allclose(parsed.matrix.sum(axis=1), 1.0, atol=1e-12, rtol=0)
    prefix = "ptb." if name.startswith("syntactic") else "semcor."
    assert all(t.startswith(prefix) for t in parsed.tags)
    # Rewriting the parsed rows (tags sorted within a line) gives the committed bytes back.
    rows = [{t: float(v) for t, v in sorted(zip(parsed.tags, row, strict=True)) if v}
            for row in parsed.matrix]
    assert format_oracle(parsed.words, rows) == path.read_text(encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"`{name}` {digest}" in (ORACLES / "README.md").read_text(encoding="utf-8")
    if name.startswith("syntactic"):  # every demo word was tagged
        assert set(parsed.words) == vocabulary
    else:
        assert all(t.split(".")[1] in ("noun", "verb") for t in parsed.tags)

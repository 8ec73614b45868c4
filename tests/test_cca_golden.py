"""CCA parity with the reference implementation's golden vectors (golden/README.md §1, 2, 8).

Views are stored as float32 [dims x N]; the reference was given them cast to float64, so they
are loaded the same way and transposed to lwa's (N, dims) layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lwa_cli.analysis.cca import CCAFit, cross_validated_pwcca, fit_cca, pwcca_score
from lwa_cli.analysis.cca import projected_correlations as rho_on

CASES = ("a", "b", "c")
# README §1 "Training path" tolerances after sign alignment (dev and test of a and c; b test).
REFIT_TOL = {"a": 1e-9, "b": 1e-5, "c": 1e-5}
# README §8: compare a and c to 1e-5 (candidates and final), b to 2e-3.
SIGNS_TOL = {"a": 1e-5, "b": 2e-3, "c": 1e-5}
# Case b, trial 2 trains without class 39, so y keeps 29 one-hot dimensions that sum to 1: an
# exact null direction. The last canonical pair is then defined only by rounding noise, and the
# dev split (which holds the class-39 point) gives it a nonzero variate. Reordering the training
# rows alone moves these dev scores by up to 3.6e-3 (the README saw 1.9e-3 across BLAS builds),
# so they are checked loosely. Its test split and the other trials are checked tightly.
B_UNDEFINED_DEV_TOL = 1e-2


class Case:
    """One golden CV case: float64 (N, d) views, splits and the reference's records."""

    def __init__(self, golden_dir: Path, name: str) -> None:
        arrays = np.load(golden_dir / f"cca_case_{name}.npz")
        self.name = name
        self.arrays = arrays
        self.x = arrays["view1"].astype(np.float64).T
        self.y = arrays["view2"].astype(np.float64).T
        self.splits = [arrays[f"split{i}"] for i in range(10)]
        self.record = json.loads((golden_dir / f"cca_case_{name}.json").read_text())
        self.trials = self.record["trials_in_training_order"]

    def rows(self, split: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.splits[split]
        return self.x[idx], self.y[idx]

    def train_rows(self, dev: int, test: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.concatenate([self.splits[s] for s in range(10) if s not in (dev, test)])
        return self.x[idx], self.y[idx]

    def stored_fit(self, trial: int, cand: int) -> CCAFit:
        prefix = f"trial{trial}_cand{cand}_"
        a = self.arrays
        return CCAFit(a[prefix + "proj_mat_x"], a[prefix + "proj_mat_y"],
                      a[prefix + "x_idxs"], a[prefix + "y_idxs"])


@pytest.fixture(scope="module")
def cases(golden_dir: Path) -> dict[str, Case]:
    return {name: Case(golden_dir, name) for name in CASES}


@pytest.fixture(scope="module")
def lwa_signs(golden_dir: Path) -> dict:
    return json.loads((golden_dir / "cca_lwa_signs.json").read_text())["cases"]


def _aligned(mine: CCAFit, ref: CCAFit) -> CCAFit:
    """Flip each of my canonical pairs to agree with the reference's x direction (README §1)."""
    k = mine.k
    sign = np.sign(np.einsum("ij,ij->i", mine.proj_x[:k], ref.proj_x[:k]))
    return CCAFit(mine.proj_x * sign[:, None], mine.proj_y * sign[:, None], mine.x_keep,
                  mine.y_keep)


@pytest.mark.parametrize("name", CASES)
def test_evaluation_path_reproduces_every_stored_candidate(cases: dict[str, Case],
                                                           name: str) -> None:
    case = cases[name]
    checked = 0
    for t, trial in enumerate(case.trials):
        dev, test = case.rows(trial["dev_split"]), case.rows(trial["test_split"])
        for c, cand in enumerate(trial["candidates_in_training_order"]):
            fit = case.stored_fit(t, c)
            assert (fit.kx, fit.ky) == (cand["x_dims_kept"], cand["y_dims_kept"])
            assert pwcca_score(fit, *dev) == pytest.approx(cand["dev_score"], abs=1e-12, rel=0)
            assert pwcca_score(fit, *test) == pytest.approx(cand["test_score_if_chosen"],
                                                            abs=1e-12, rel=0)
            checked += 1
    assert checked == 18


@pytest.mark.parametrize("name", CASES)
def test_refit_matches_after_sign_alignment(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    tol = REFIT_TOL[name]
    for t, trial in enumerate(case.trials):
        dev_split, test_split = trial["dev_split"], trial["test_split"]
        train = case.train_rows(dev_split, test_split)
        assert train[0].shape[0] == trial["n_train"]
        dev_tol = tol
        if name == "b":
            dev_tol = B_UNDEFINED_DEV_TOL if t == 2 else 1e-4
        for c, cand in enumerate(trial["candidates_in_training_order"]):
            ref = case.stored_fit(t, c)
            mine = fit_cca(*train, cand["eps_x"], cand["eps_y"])
            np.testing.assert_array_equal(mine.x_keep, ref.x_keep)
            np.testing.assert_array_equal(mine.y_keep, ref.y_keep)
            fit = _aligned(mine, ref)
            assert pwcca_score(fit, *case.rows(test_split)) == pytest.approx(
                cand["test_score_if_chosen"], abs=tol, rel=0)
            assert pwcca_score(fit, *case.rows(dev_split)) == pytest.approx(
                cand["dev_score"], abs=dev_tol, rel=0)


def test_case_c_prunes_constant_and_tiny_variance_dimensions(cases: dict[str, Case]) -> None:
    case = cases["c"]
    train = case.train_rows(case.trials[0]["dev_split"], case.trials[0]["test_split"])
    constant = case.arrays["constant_dims"]
    tiny = int(case.arrays["tiny_var_dim"])
    for eps_x, kept in ((1e-9, 91), (1e-10, 92), (1e-11, 92)):
        fit = fit_cca(*train, eps_x, 1e-10)
        assert fit.kx == kept
        assert not fit.x_keep[constant].any()
        assert fit.x_keep[tiny] == (eps_x < 1e-9)


@pytest.fixture(scope="module")
def single(golden_dir: Path) -> tuple[dict, dict]:
    """golden/README.md §2: one fit on case a's views and a held-out set."""
    arrays = dict(np.load(golden_dir / "cca_single_fit.npz"))
    record = json.loads((golden_dir / "cca_single_fit.json").read_text())
    return arrays, record


class TestSingleFit:
    """golden/README.md §2: one fit on case a's views and a held-out set."""

    @staticmethod
    def _views(arrays: dict, prefix: str = "") -> tuple[np.ndarray, np.ndarray]:
        return (arrays[f"{prefix}view1"].astype(np.float64).T,
                arrays[f"{prefix}view2"].astype(np.float64).T)

    def test_stored_projections_reproduce_every_score(self, single: tuple[dict, dict]) -> None:
        arrays, record = single
        ref = CCAFit(arrays["proj_mat_x"], arrays["proj_mat_y"], arrays["x_idxs"],
                     arrays["y_idxs"])
        train, held = self._views(arrays), self._views(arrays, "heldout_")
        assert pwcca_score(ref, *train) == pytest.approx(record["score_train"], abs=1e-12)
        assert pwcca_score(ref, *train, mean_score=True) == pytest.approx(
            record["score_train_mean_score"], abs=1e-12)
        assert pwcca_score(ref, *held) == pytest.approx(record["score_heldout"], abs=1e-12)
        assert pwcca_score(ref, *held, mean_score=True) == pytest.approx(
            record["score_heldout_mean_score"], abs=1e-12)
        np.testing.assert_allclose(rho_on(ref, *train), arrays["corr_scores_train"], atol=1e-12)
        np.testing.assert_allclose(rho_on(ref, *held), arrays["corr_scores_heldout"], atol=1e-12)

    def test_score_depends_on_direction_signs(self, single: tuple[dict, dict]) -> None:
        arrays, record = single
        negated = CCAFit(-arrays["proj_mat_x"], -arrays["proj_mat_y"], arrays["x_idxs"],
                         arrays["y_idxs"])
        sens = record["sign_sensitivity"]
        assert pwcca_score(negated, *self._views(arrays)) == pytest.approx(
            sens["score_train_all_directions_negated"], abs=1e-12)
        assert pwcca_score(negated, *self._views(arrays, "heldout_")) == pytest.approx(
            sens["score_heldout_all_directions_negated"], abs=1e-12)

    def test_refit_matches_after_sign_alignment(self, single: tuple[dict, dict]) -> None:
        arrays, record = single
        train, held = self._views(arrays), self._views(arrays, "heldout_")
        mine = fit_cca(*train, record["epsilon_x"], record["epsilon_y"])
        assert (mine.kx, mine.ky) == (record["x_dims_kept"], record["y_dims_kept"])
        assert mine.k == record["num_directions"]
        np.testing.assert_allclose(mine.canonical_corrs, arrays["svd_canonical_corrs"],
                                   atol=1e-10, rtol=0)
        ref = CCAFit(arrays["proj_mat_x"], arrays["proj_mat_y"], arrays["x_idxs"],
                     arrays["y_idxs"])
        fit = _aligned(mine, ref)
        assert pwcca_score(fit, *train) == pytest.approx(record["score_train"], abs=1e-9)
        assert pwcca_score(fit, *train, mean_score=True) == pytest.approx(
            record["score_train_mean_score"], abs=1e-9)
        assert pwcca_score(fit, *held) == pytest.approx(record["score_heldout"], abs=1e-9)
        assert pwcca_score(fit, *held, mean_score=True) == pytest.approx(
            record["score_heldout_mean_score"], abs=1e-9)


def _golden_protocol(case: Case) -> dict:
    return {
        "splits": case.splits,
        "trials": [(t["dev_split"], t["test_split"]) for t in case.trials],
        "eps_candidates": [[tuple(p) for p in t["epsilon_pairs_shuffled_order"]]
                           for t in case.trials],
    }


@pytest.mark.parametrize("name", CASES)
def test_cross_validation_end_to_end_with_lwa_signs(cases: dict[str, Case], lwa_signs: dict,
                                                    name: str) -> None:
    case, expected = cases[name], lwa_signs[name]
    tol = SIGNS_TOL[name]
    result = cross_validated_pwcca(case.x, case.y, **_golden_protocol(case))
    assert result.score == pytest.approx(expected["final_score"], abs=tol, rel=0)
    assert result.n == case.x.shape[0]
    assert not result.skipped
    assert len(result.trials) == 3
    for t, (trial, want, record) in enumerate(zip(result.trials, expected["trials"],
                                                  case.trials, strict=True)):
        assert (trial.dev_split, trial.test_split) == (want["dev_split"], want["test_split"])
        assert (trial.n_train, trial.n_dev, trial.n_test) == (
            record["n_train"], record["n_dev"], record["n_test"])
        assert len(trial.candidates) == 6
        dev_tol = B_UNDEFINED_DEV_TOL if (name, t) == ("b", 2) else tol
        for got, cand, ref in zip(trial.candidates, want["candidates"],
                                  record["candidates_in_training_order"], strict=True):
            assert (got.eps_x, got.eps_y) == (cand["eps_x"], cand["eps_y"])
            assert (got.x_dims_kept, got.y_dims_kept) == (ref["x_dims_kept"],
                                                          ref["y_dims_kept"])
            assert got.dev_score == pytest.approx(cand["dev_score"], abs=dev_tol, rel=0)
            assert got.test_score == pytest.approx(cand["test_score"], abs=tol, rel=0)
        assert trial.chosen_index == int(np.argmax([c.dev_score for c in trial.candidates]))
        assert trial.test_score == trial.candidates[trial.chosen_index].test_score
        if name == "a":  # a's dev scores are far apart compared with rounding
            assert trial.chosen_index == want["chosen_candidate_index"]
            assert trial.test_score == pytest.approx(want["test_score"], abs=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_cross_validation_mean_score_test_scores(cases: dict[str, Case], lwa_signs: dict,
                                                 name: str) -> None:
    case = cases[name]
    # With mean_score the x side of case b enters too: the x direction paired with y's exact
    # null direction belongs to a zero singular value, so it is any vector orthogonal to the
    # others and only rounding picks it (measured spread ~2.5e-3). a and c stay at 1e-5.
    tol = B_UNDEFINED_DEV_TOL if name == "b" else SIGNS_TOL[name]
    result = cross_validated_pwcca(case.x, case.y, mean_score=True, **_golden_protocol(case))
    for trial, want in zip(result.trials, lwa_signs[name]["trials"], strict=True):
        for got, cand in zip(trial.candidates, want["candidates"], strict=True):
            assert got.test_score == pytest.approx(cand["test_score_mean_score"], abs=tol,
                                                   rel=0)
